// Node entry point: the browser/React Native API, dialing with the `ws`
// package where the runtime has no global WebSocket (Node 20).
import WebSocket from 'ws';
import { setWebSocketImplementation, type WebSocketConstructor } from './transport.js';

if (!(globalThis as { WebSocket?: unknown }).WebSocket) {
  setWebSocketImplementation(WebSocket as unknown as WebSocketConstructor);
}

export * from './index.js';
