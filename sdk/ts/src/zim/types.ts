// Connection, message and conversation types (the seed's ZIM names).
import type { ZIM } from './zim.js';

export interface ConnectionEventHandler {
  connectionStateChanged: (zim: ZIM, data: unknown) => void;
  tokenWillExpire: (zim: ZIM, data: { second: number }) => void;
}

export interface MessageEventHandler {
  peerMessageReceived: (zim: ZIM, data: unknown) => void;
  groupMessageReceived: (zim: ZIM, data: unknown) => void;
}
