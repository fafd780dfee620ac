/**
 * ZIMError is how every failed call rejects: the server's error code and
 * message from its catalogue (docs/protocol.md), or one of the SDK's own
 * codes (see ZIMClientErrorCode).
 */
export class ZIMError extends Error {
  /** The numeric code (e.g. 40004). */
  readonly code: number;
  constructor(code: number, message: string) {
    super(message);
    this.name = 'ZIMError';
    this.code = code;
  }
}
