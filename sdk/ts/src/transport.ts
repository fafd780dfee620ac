// The WebSocket the SDK dials with. Browsers and React Native have a global
// WebSocket; Node 20 does not, and the "node" entry point installs `ws`.
// Tests may install their own.

/** The part of the WHATWG WebSocket the SDK uses. */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
}

/** A WebSocket constructor: `new (url) => WebSocketLike`. */
export type WebSocketConstructor = new (url: string) => WebSocketLike;

let implementation: WebSocketConstructor | undefined;

/**
 * setWebSocketImplementation sets the WebSocket class the SDK dials with.
 * The "node" entry point calls it with `ws`; elsewhere the global
 * WebSocket is used.
 */
export function setWebSocketImplementation(ctor: WebSocketConstructor | undefined): void {
  implementation = ctor;
}

/** webSocketImplementation returns the WebSocket class to dial with. */
export function webSocketImplementation(): WebSocketConstructor {
  if (implementation) return implementation;
  const g = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (!g) {
    throw new Error(
      'herald: no WebSocket in this environment; on Node import the "node" entry (installs the ws package) or call setWebSocketImplementation',
    );
  }
  return g;
}
