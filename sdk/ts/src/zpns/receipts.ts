// Push receipts (the server's pushReceipt): ZPNs reports the
// notificationArrived and notificationClicked callbacks it raises to the
// server, for the app's push statistics, once the app enabled it with
// ZPNs.enablePushReceipts. Each push carries its ID in the extras
// (pushJobIDKey); a receipt names it, and the server counts one per push
// and kind.
import { ZIMClientErrorCode, ZIMError, ZIMServerErrorCode } from '../errors.js';
import type { ZIMSide } from '../internal/pushlink.js';

/** The custom-data key (in ZPNsMessage.extras) of a push's ID: a receipt's pushJobID. */
export const pushJobIDKey = 'push_id';

/** What a receipt reports: the push SDK's callback that fired. */
export type ZPNsReceiptKind = 'notificationArrived' | 'notificationClicked';

/** The server's codes of a refused receipt (nothing was counted). */
export const ZPNsReceiptErrorCode = {
  /** kind or pushJobID not valid. */
  InvalidReceipt: 40045,
  /** The push's vendor raises no such callback (notificationArrived from Huawei, OPPO, vivo, Google). */
  ReceiptUnsupported: 40046,
  /** No push of the app sent to this user has that ID. */
  PushNotFound: 40445,
} as const;

/** A receipt's outcome, told to ZPNsReceiptConfig.onReported. */
export interface ZPNsReceiptResult {
  kind: ZPNsReceiptKind;
  pushJobID: string;
  /** 'connection' (ZIM logged in), 'http' (before login, with credentials), or 'queued' (until the next login). */
  via: 'connection' | 'http' | 'queued';
  /** The server had this receipt already (nothing more was counted). */
  duplicate?: boolean;
  /** Why it failed (the server's code, or the SDK's). */
  error?: ZIMError;
}

/** ZPNs.enablePushReceipts's options. */
export interface ZPNsReceiptConfig {
  /**
   * The server's base URL (http(s):// host and port, or ZIM.create's
   * ws(s):// one), for receipts reported before login with credentials.
   */
  server?: string;
  /**
   * The user and login token to report with while ZIM is not logged in
   * (a tap that launched the app): POST /v1/push/receipts. Without it,
   * such receipts wait (at most 100) for ZIM's next login.
   */
  credentials?: () => { userID: string; token: string } | Promise<{ userID: string; token: string }>;
  /** Told of every receipt's outcome (logs, tests). */
  onReported?: (result: ZPNsReceiptResult) => void;
}

// The most receipts that wait for a login; older ones are dropped first.
const maxQueued = 100;
// ZIM's codes for a request that found no login: the receipt waits.
const noLogin: readonly number[] = [ZIMServerErrorCode.NotLoggedIn, ZIMClientErrorCode.LoginEnded, ZIMClientErrorCode.Destroyed];

/** receiptsURL is the receipts endpoint of a server base URL. */
export function receiptsURL(server: string): string {
  const u = new URL(server);
  if (u.protocol === 'ws:') u.protocol = 'http:';
  else if (u.protocol === 'wss:') u.protocol = 'https:';
  else if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`server ${server}: want an http(s) or ws(s) URL`);
  u.pathname = u.pathname.replace(/\/+$/, '').replace(/\/v1\/ws$/, '') + '/v1/push/receipts';
  u.search = '';
  return u.toString();
}

/** Receipts reports the receipts of one ZPNs. */
export class Receipts {
  private queue: Array<{ kind: ZPNsReceiptKind; pushJobID: string }> = [];

  constructor(
    private readonly config: ZPNsReceiptConfig,
    private readonly zim: () => ZIMSide | undefined,
  ) {}

  /** report sends (or queues) the receipt of kind for the push whose extras were extras. */
  report(kind: ZPNsReceiptKind, extras: Record<string, string>): void {
    const pushJobID = extras[pushJobIDKey];
    if (!pushJobID) return; // not a Herald push
    void this.send(kind, pushJobID);
  }

  /** flush sends the receipts that waited for a login (called once ZIM is logged in). */
  flush(): void {
    const q = this.queue;
    this.queue = [];
    for (const r of q) void this.send(r.kind, r.pushJobID);
  }

  private async send(kind: ZPNsReceiptKind, pushJobID: string): Promise<void> {
    const zim = this.zim();
    if (zim?.loggedIn()) {
      try {
        const duplicate = await zim.reportPushReceipt(kind, pushJobID);
        this.told({ kind, pushJobID, via: 'connection', duplicate });
      } catch (e) {
        const err = e instanceof ZIMError ? e : new ZIMError(ZIMClientErrorCode.InvalidArgument, String(e));
        if (noLogin.includes(err.code)) this.enqueue(kind, pushJobID);
        else this.told({ kind, pushJobID, via: 'connection', error: err });
      }
      return;
    }
    if (this.config.credentials && this.config.server) {
      try {
        const duplicate = await this.post(kind, pushJobID);
        this.told({ kind, pushJobID, via: 'http', duplicate });
      } catch (e) {
        this.told({ kind, pushJobID, via: 'http', error: e instanceof ZIMError ? e : new ZIMError(ZIMServerErrorCode.InvalidArgument, String(e)) });
      }
      return;
    }
    this.enqueue(kind, pushJobID);
  }

  private enqueue(kind: ZPNsReceiptKind, pushJobID: string): void {
    if (this.queue.length >= maxQueued) this.queue.shift();
    this.queue.push({ kind, pushJobID });
    this.told({ kind, pushJobID, via: 'queued' });
  }

  private async post(kind: ZPNsReceiptKind, pushJobID: string): Promise<boolean> {
    const { userID, token } = await this.config.credentials!();
    const resp = await fetch(receiptsURL(this.config.server!), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
      body: JSON.stringify({ userID, kind, pushJobID }),
    });
    const body = (await resp.json().catch(() => ({}))) as { duplicate?: boolean; code?: number; message?: string };
    if (resp.status !== 200) {
      throw new ZIMError(typeof body.code === 'number' ? body.code : 50300, body.message ?? `HTTP ${resp.status}`);
    }
    return body.duplicate === true;
  }

  private told(r: ZPNsReceiptResult): void {
    try {
      this.config.onReported?.(r);
    } catch (e) {
      setTimeout(() => {
        throw e;
      }, 0);
    }
  }
}
