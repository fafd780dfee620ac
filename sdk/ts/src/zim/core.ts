// Core is what the ZIM class's feature modules (groups.ts, calls.ts) use of
// the connection: requests, server events and the app's event handlers.
// connection.ts implements it.
import type { ZIMEventHandler } from './events.js';
import type { ZIM } from './zim.js';

/** Options of Core.request. */
export interface RequestOptions {
  /**
   * retry: the request is safe to send again (a read, or a write the
   * server deduplicates). When the connection is lost after it was written
   * and before its reply, it is sent again after the reconnect login;
   * without retry it rejects with ZIMClientErrorCode.ConnectionLost, as it
   * may have been applied. Default false.
   */
  retry?: boolean;
}

export interface Core {
  /** The ZIM instance, passed as the first argument of every event handler. */
  readonly zim: ZIM;
  /** The logged-in user's ID; '' when not logged in. */
  readonly userID: string;
  /**
   * request sends a request frame and resolves with the reply's data. It
   * rejects with a ZIMError: the server's {code, message}, or one of the
   * SDK's own codes (ZIMClientErrorCode: timeout, connection lost before the
   * reply, login ended); before login with 40100 not_logged_in. While the
   * login is in progress or the SDK reconnects it waits for the login,
   * bounded by the request timeout.
   */
  request<T = unknown>(type: string, data?: unknown, options?: RequestOptions): Promise<T>;
  /**
   * onServerEvent subscribes to a server event frame by type (every type
   * but `message`, `syncDone`, `kicked` and `tokenWillExpire`, which the
   * connection handles). Handlers run when the frame arrives, in the order
   * the frames arrived; what they emit is raised in that order too, after
   * the messages that arrived before.
   */
  onServerEvent(type: string, handler: (data: unknown) => void): void;
  /**
   * onLoggedIn runs after each successful login or reconnect login, before
   * the frames that follow its reply; reconnect tells the SDK's own
   * reconnect logins from the app's login calls.
   */
  onLoggedIn(handler: (info: { reconnect: boolean }) => void): void;
  /** emit calls the app's handlers for event with (zim, data), in order with the other events. */
  emit<K extends keyof ZIMEventHandler>(event: K, data: Parameters<ZIMEventHandler[K]>[1]): void;
}
