// Group types and events (the seed's ZIM names).
import type { ZIM } from './zim.js';

export interface GroupEventHandler {
  groupStateChanged: (zim: ZIM, data: unknown) => void;
}
