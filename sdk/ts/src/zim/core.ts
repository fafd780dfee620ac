// Core is what the ZIM class's feature modules (groups.ts, calls.ts) use of
// the connection: requests, server events and the app's event handlers.
// connection.ts implements it.
import type { ZIMEventHandler } from './events.js';
import type { ZIM } from './zim.js';

export interface Core {
  /** The ZIM instance, passed as the first argument of every event handler. */
  readonly zim: ZIM;
  /** The logged-in user's ID; '' when not logged in. */
  readonly userID: string;
  /**
   * request sends a request frame and resolves with the reply's data. It
   * rejects with a ZIMError: the server's {code, message}, or one of the
   * SDK's own codes (not logged in, connection lost before the reply,
   * timeout). While reconnecting it waits for the next login.
   */
  request<T = unknown>(type: string, data?: unknown): Promise<T>;
  /**
   * onServerEvent subscribes to a server event frame by type (every type
   * but `message`, `syncDone`, `kicked` and `tokenWillExpire`, which the
   * connection handles). Handlers run in the order the frames arrived.
   */
  onServerEvent(type: string, handler: (data: unknown) => void): void;
  /** onLoggedIn runs after each successful login or reconnect login. */
  onLoggedIn(handler: () => void): void;
  /** emit calls the app's handlers for event with (zim, data). */
  emit<K extends keyof ZIMEventHandler>(event: K, data: Parameters<ZIMEventHandler[K]>[1]): void;
}
