// Call invitation types and events (the seed's ZIM names).
import type { ZIM } from './zim.js';

export interface CallEventHandler {
  callInvitationReceived: (zim: ZIM, data: unknown) => void;
}
