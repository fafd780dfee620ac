/**
 * ZIMError is how every failed call rejects: the server's error code and
 * message from its catalogue (docs/protocol.md, "Error codes"), or one of
 * the SDK's own codes (ZIMClientErrorCode, 60000–60999: the server never
 * uses that range).
 */
export class ZIMError extends Error {
  /** The numeric code (e.g. 40004). */
  readonly code: number;
  /**
   * How long the server asked to wait before trying again, in
   * milliseconds, when it said: on 42900 rate_limited (a send passes after
   * it) and on the connection caps 42901–42904 (the refused handshake's
   * Retry-After, where the runtime shows it: see the README, "Limits").
   * The SDK waits it by itself before resending or reconnecting; the app
   * sees it on the error the SDK gives up with.
   */
  readonly retryAfterMs?: number;
  constructor(code: number, message: string, retryAfterMs?: number) {
    super(message);
    this.name = 'ZIMError';
    this.code = code;
    if (retryAfterMs !== undefined && retryAfterMs > 0) this.retryAfterMs = retryAfterMs;
  }
}

/**
 * The SDK's own error codes: failures the server cannot report because no
 * reply came. They are in 60000–60999, a range the server's catalogue does
 * not use. Where the server has a code of the same meaning the SDK uses the
 * server's (a call before login rejects with 40100 not_logged_in, a login
 * while logged in with 40104 already_logged_in).
 */
export const ZIMClientErrorCode = {
  /**
   * No reply within the request timeout (`requestTimeout` of ZIM.create,
   * 10 s by default; `loginTimeout` for login). The request may or may not
   * have been applied; a send retried with the same localMessageID is
   * stored once.
   */
  Timeout: 60001,
  /**
   * The connection was lost after the request was written and before its
   * reply, and the request is not one the SDK retries by itself (it may or
   * may not have been applied). Sends and reads are retried after the
   * reconnect login and never get this code.
   */
  ConnectionLost: 60002,
  /**
   * The login ended while the request waited: logout, destroy, a kick, an
   * expired token or a refused reconnect login.
   */
  LoginEnded: 60003,
  /** The ZIM instance was destroyed. */
  Destroyed: 60004,
  /**
   * The server could not be reached (dial failed, or the connection closed
   * before the login reply).
   */
  NetworkError: 60005,
  /**
   * An argument the SDK cannot put on the wire (e.g. a command message
   * whose `message` is neither a Uint8Array nor a string). Everything the
   * server can judge is left to the server and gets the server's code.
   */
  InvalidArgument: 60006,
} as const;

/** One of the SDK's own error codes. */
export type ZIMClientErrorCode = (typeof ZIMClientErrorCode)[keyof typeof ZIMClientErrorCode];

/** The SDK's own error codes with their names and meaning (for docs and tooling). */
export const zimClientErrorCodes: ReadonlyArray<{ code: number; name: string; description: string }> = [
  { code: 60001, name: 'timeout', description: 'no reply within the request (or login) timeout; the request may have been applied' },
  {
    code: 60002,
    name: 'connection_lost',
    description: 'the connection was lost before the reply of a request the SDK does not retry; it may have been applied',
  },
  { code: 60003, name: 'login_ended', description: 'logout, destroy, a kick, token expiry or a refused re-login ended the login while the request waited' },
  { code: 60004, name: 'destroyed', description: 'the ZIM instance was destroyed' },
  { code: 60005, name: 'network_error', description: 'the server could not be reached, or closed the connection before the login reply' },
  { code: 60006, name: 'invalid_argument', description: 'an argument the SDK cannot encode (the server judges everything else)' },
];

/** Server codes the SDK itself also uses (from the server's catalogue). */
export const ZIMServerErrorCode = {
  InvalidArgument: 40003,
  NotLoggedIn: 40100,
  TokenInvalid: 40101,
  TokenExpired: 40102,
  AlreadyLoggedIn: 40104,
  InvalidPushDevice: 40012,
  DeviceInUse: 40906,
  RateLimited: 42900,
  /** The connection caps: the handshake was refused with HTTP 503 and a Retry-After. */
  TooManyConnections: 42901,
  TooManyConnectionsFromIP: 42902,
  TooManyUnauthenticated: 42903,
  TooManyUnauthenticatedFromIP: 42904,
  /** login: the user has as many sessions on the server as it allows; the login ends (no retry). */
  TooManySessions: 42905,
  Unavailable: 50300,
  TokenRevoked: 40108,
  AppDisabled: 40106,
} as const;
