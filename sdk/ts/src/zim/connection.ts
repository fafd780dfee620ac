// Connection is one ZIM instance's link to the server (it implements Core):
// login, heartbeats, requests and their replies, reconnection with backoff,
// delivery bookkeeping (dedupe, cumulative acks after the app's handler
// returned) and the ordered queue of events for the app. It mirrors the Go
// SDK (sdk/go: client.go, session.go, events.go).
import { ZIMClientErrorCode, ZIMError, ZIMServerErrorCode } from '../errors.js';
import type { PushRegistration, PushSide } from '../internal/pushlink.js';
import { webSocketImplementation, type WebSocketLike } from '../transport.js';
import type { Core, RequestOptions } from './core.js';
import type { ZIMEventHandler } from './events.js';
import {
  ZIMConnectionEvent,
  ZIMConnectionState,
  ZIMConversationSyncState,
  type ZIMLogger,
  type ZIMMessage,
} from './types.js';
import { decodeFrame, encodeFrame, messageFromWire, type Frame, type WireLoginReply, type WireMessage } from './wire.js';
import type { ZIM } from './zim.js';

/** The SDK's version, sent at login. */
export const SDK_VERSION = '0.1.0';

/** Settings of a Connection (ZIM.create fills them in). */
export interface ConnectionConfig {
  appID: string;
  /** The WebSocket endpoint (…/v1/ws). */
  url: string;
  deviceID: string;
  /** Resolves the platform at each login (it may depend on the push registration). */
  platform: () => string;
  logger: ZIMLogger;
  requestTimeout: number;
  loginTimeout: number;
  /** Backoff between reconnect attempts: the ceiling doubles from min to max (ms). */
  reconnectMin: number;
  reconnectMax: number;
  /** Acks wait at most this long (ms), or until this many messages were handled. */
  ackInterval: number;
  ackBatch: number;
  /** The push side whose registration goes into every login (undefined: none). */
  pushSide: () => PushSide | undefined;
}

// A session that lived this long resets the backoff (as the Go SDK).
const STABLE_SESSION_MS = 30_000;
// The heartbeat when a login reply leaves it out.
const DEFAULT_HEARTBEAT_MS = 15_000;
// Most messages in one peerMessageReceived / groupMessageReceived call.
const MAX_BATCH = 100;
// Most positions per ack frame (the server's limit).
const MAX_ACKS_PER_FRAME = 1000;
// The longest server retry hint obeyed: a larger one (a proxy's
// Retry-After of a day) is cut to it, so that a client comes back within
// minutes of a server that recovered. As maxRetryHint in sdk/go.
const MAX_RETRY_HINT_MS = 5 * 60_000;

/**
 * hintedWait is the wait before a reconnect attempt that follows a refusal
 * with a retry hint: at least the hint, plus jitter of up to a quarter of it
 * (at most max), never less than the backoff d. As sdk/go/backoff.go.
 */
export function hintedWait(hint: number, d: number, max: number, r: number): number {
  return Math.max(d, hint + r * Math.min(hint / 4, max));
}

/** backoff returns the wait before reconnect attempt n: equal jitter, as sdk/go/backoff.go. */
export function backoff(n: number, min: number, max: number, r: number): number {
  let ceil = min;
  for (let i = 0; i < n && ceil < max; i++) ceil *= 2;
  if (ceil > max) ceil = max;
  const half = ceil / 2;
  return half + r * (ceil - half);
}

/** One WebSocket connection. */
class Socket {
  loggedIn = false;
  kicked: { reason: number; message: string } | undefined;
  lastHeard = Date.now();
  readonly started = Date.now();
  heartbeat = DEFAULT_HEARTBEAT_MS;
  offlineAfter = 2 * DEFAULT_HEARTBEAT_MS + 5000;
  timer: ReturnType<typeof setInterval> | undefined;
  /** Set while the login is in progress: called when the connection ends before the reply. */
  onLoginClose: ((code: number, reason: string) => void) | undefined;
  /** The server refused the handshake (HTTP 503 and its body), where the runtime shows it. */
  refused: ZIMError | undefined;
  closed = false;
  constructor(readonly ws: WebSocketLike) {}
}

/** A request waiting for its reply (or for a login to be written). */
interface Pending {
  id: string;
  type: string;
  data: unknown;
  retry: boolean;
  /** The socket it was written on; undefined while it waits for a login. */
  sock: Socket | undefined;
  /** Settled already (its caller gave up): kept only so that onReply sees a late reply. */
  settled: boolean;
  resolve: (v: unknown) => void;
  reject: (e: ZIMError) => void;
  timer: ReturnType<typeof setTimeout> | undefined;
  /** Runs when the reply arrives, before the next frame is handled. */
  onReply?: (f: Frame) => void;
  /** For sends: the localMessageID, to recognise this device's own message in a sync. */
  localMessageID?: string;
  /** How often the server answered unavailable, and its last such error (what a timeout then reports). */
  retries: number;
  lastError?: ZIMError;
  /** Date.now() at which the request times out (requestTimeout after the call). */
  deadline?: number;
}

/** Delivery bookkeeping of one conversation (see sdk/go/events.go). */
interface ConvPos {
  id: string;
  type: number;
  /** Highest seq queued for the app (or sent by it): at or below it is a duplicate. */
  received: number;
  /** Highest seq whose handler returned, in order: what may be acknowledged. */
  handled: number;
  /** Highest seq acknowledged on the current connection. */
  sent: number;
}

type QueuedEvent =
  | { kind: 'emit'; event: keyof ZIMEventHandler; data: unknown }
  | { kind: 'messages'; key: string; convID: string; convType: number; offline: boolean; msgs: ZIMMessage[]; epoch: number }
  | { kind: 'ownSent'; key: string; seq: number; epoch: number }
  | { kind: 'call'; fn: () => void };

type Listener = (zim: ZIM, data: never) => void;

const convKey = (id: string, type: number) => `${type}:${id}`;

// later runs fn after the current frame's handling (older React Native
// runtimes lack queueMicrotask).
const later: (fn: () => void) => void =
  typeof queueMicrotask === 'function' ? (fn) => queueMicrotask(fn) : (fn) => void Promise.resolve().then(fn);

/** Connection implements Core for one ZIM instance. */
export class Connection implements Core {
  readonly zim: ZIM;
  private readonly cfg: ConnectionConfig;
  private readonly log: ZIMLogger;

  private listeners = new Map<string, Set<Listener>>();
  private serverHandlers = new Map<string, Array<(data: unknown) => void>>();
  private loggedInHandlers: Array<(info: { reconnect: boolean }) => void> = [];

  private destroyed = false;
  private state: ZIMConnectionState = ZIMConnectionState.Disconnected;
  private user = '';
  private token = '';
  /** The login in force (connecting, connected or reconnecting); undefined when none. */
  private run: { cancelled: boolean; wake?: () => void } | undefined;
  private sock: Socket | undefined;
  /** Failed reconnect attempts since the last stable session (the backoff's exponent). */
  private attempt = 0;
  /** What the last login sent as push registration (for bound / unbound). */
  private pushSent: PushRegistration | undefined;
  /** The PushID the server gave pushSent (login or registerPush reply). */
  private pushBound = '';
  /** The app's VAPID public key from the last login ('' for none). */
  webPushKey = '';

  private nextID = 0;
  /** Every request not settled yet, in the order of the calls (a Set keeps insertion order). */
  private requests = new Set<Pending>();
  private byID = new Map<string, Pending>();

  private pos = new Map<string, ConvPos>();
  private epoch = 0;
  private unacked = 0;
  private ackTimer: ReturnType<typeof setTimeout> | undefined;

  private queue: QueuedEvent[] = [];
  private draining = false;

  /**
   * Set while sends wait for the server's rate limit (42900 with
   * retryAfterMs): no send is written until Date.now() >= until, when they
   * all are, in the order of the calls, so that a later send cannot pass
   * the limit before an earlier refused one.
   */
  private sendHold: { until: number; timer: ReturnType<typeof setTimeout> } | undefined;

  constructor(zim: ZIM, cfg: ConnectionConfig) {
    this.zim = zim;
    this.cfg = cfg;
    this.log = cfg.logger;
  }

  // ---- Core ----

  get userID(): string {
    return this.run ? this.user : '';
  }

  /** The connection state. */
  get connectionState(): ZIMConnectionState {
    return this.state;
  }

  /** True while a login is in force (connecting, connected or reconnecting). */
  get loggedIn(): boolean {
    return this.run !== undefined;
  }

  request<T = unknown>(type: string, data?: unknown, options?: RequestOptions): Promise<T> {
    return this.call<T>(type, data, { retry: options?.retry ?? false });
  }

  onServerEvent(type: string, handler: (data: unknown) => void): void {
    let hs = this.serverHandlers.get(type);
    if (!hs) this.serverHandlers.set(type, (hs = []));
    hs.push(handler);
  }

  onLoggedIn(handler: (info: { reconnect: boolean }) => void): void {
    this.loggedInHandlers.push(handler);
  }

  emit<K extends keyof ZIMEventHandler>(event: K, data: Parameters<ZIMEventHandler[K]>[1]): void {
    this.enqueue({ kind: 'emit', event, data });
  }

  // ---- the app's handlers ----

  on(event: string, fn: Listener): void {
    let s = this.listeners.get(event);
    if (!s) this.listeners.set(event, (s = new Set()));
    s.add(fn);
  }

  off(event: string, fn?: Listener): void {
    if (!fn) this.listeners.delete(event);
    else this.listeners.get(event)?.delete(fn);
  }

  // ---- requests ----

  /**
   * call sends a request; internal options add a reply hook (run in frame
   * order, also for a reply that comes after the caller gave up).
   */
  call<T>(
    type: string,
    data: unknown,
    opts: { retry: boolean; onReply?: (f: Frame) => void; localMessageID?: string },
  ): Promise<T> {
    if (this.destroyed) return Promise.reject(new ZIMError(ZIMClientErrorCode.Destroyed, 'the ZIM instance was destroyed'));
    if (!this.run) return Promise.reject(new ZIMError(ZIMServerErrorCode.NotLoggedIn, 'not logged in: call login first'));
    return new Promise<T>((resolve, reject) => {
      const p: Pending = {
        id: '',
        type,
        data: data ?? {},
        retry: opts.retry,
        sock: undefined,
        settled: false,
        resolve: resolve as (v: unknown) => void,
        reject,
        timer: undefined,
        onReply: opts.onReply,
        localMessageID: opts.localMessageID,
        retries: 0,
        deadline: Date.now() + this.cfg.requestTimeout,
      };
      p.timer = setTimeout(() => {
        this.settle(p, p.lastError ?? new ZIMError(ZIMClientErrorCode.Timeout, `${type}: no reply within ${this.cfg.requestTimeout} ms`));
      }, this.cfg.requestTimeout);
      this.requests.add(p);
      const s = this.sock;
      if (s && s.loggedIn && !this.held(p)) this.write(p, s);
    });
  }

  /** held reports whether p is a send that waits for the rate limit's hold. */
  private held(p: Pending): boolean {
    return p.type === 'send' && this.sendHold !== undefined;
  }

  /**
   * holdSends holds every send until ms from now (or a later hold's end),
   * then writes the waiting ones in the order of the calls.
   */
  private holdSends(ms: number): void {
    const until = Date.now() + ms;
    if (this.sendHold && this.sendHold.until >= until) return;
    if (this.sendHold) clearTimeout(this.sendHold.timer);
    const fire = () => {
      const h = this.sendHold;
      if (!h) return;
      const left = h.until - Date.now();
      if (left > 0) {
        h.timer = setTimeout(fire, left); // a timer may fire a little early
        return;
      }
      this.sendHold = undefined;
      const s = this.sock;
      if (!s || !s.loggedIn || s.closed) return; // the reconnect login writes them
      for (const p of this.requests) {
        if (p.type !== 'send' || p.sock || p.settled) continue;
        this.log.debug(`herald: send ${p.localMessageID ?? ''} sent again after the rate limit`);
        this.write(p, s);
      }
    };
    this.sendHold = { until, timer: setTimeout(fire, ms) };
  }

  private write(p: Pending, s: Socket): void {
    p.id = String(++this.nextID);
    p.sock = s;
    this.byID.set(p.id, p);
    this.sendFrame(s, { type: p.type, id: p.id, data: p.data });
  }

  /** settle ends a request with an error (timeout, connection lost, login ended). */
  private settle(p: Pending, err: ZIMError): void {
    if (p.settled) return;
    p.settled = true;
    if (p.timer) clearTimeout(p.timer);
    // A written request with a reply hook stays in byID until its reply or
    // the end of its connection, so that the hook sees a late reply.
    if (!(p.onReply && p.sock && !p.sock.closed)) this.forget(p);
    else this.requests.delete(p);
    p.reject(err);
  }

  private forget(p: Pending): void {
    this.requests.delete(p);
    if (p.id && this.byID.get(p.id) === p) this.byID.delete(p.id);
  }

  private onReplyFrame(f: Frame): void {
    const p = f.id ? this.byID.get(f.id) : undefined;
    if (!p) {
      if (f.error) this.log.warn(`herald: server error ${f.error.code}: ${f.error.message}`, f.id ?? '');
      return; // a ping's reply, or one whose connection was replaced
    }
    this.byID.delete(p.id);
    const after = f.error?.retryAfterMs ?? 0;
    if (f.error && f.error.code === ZIMServerErrorCode.RateLimited && p.type === 'send' && after > 0 && !p.settled) {
      // Over the message rate: nothing was stored. Send it again with the
      // same localMessageID once the server's retryAfterMs passed, unless
      // that is past the request's deadline: then reject now, with the hint.
      const err = new ZIMError(f.error.code, f.error.message, after);
      p.sock = undefined;
      p.id = '';
      if (Date.now() + after > (p.deadline ?? 0)) {
        this.log.info(`herald: send ${p.localMessageID ?? ''} over the rate limit; retryAfterMs ${after} is past its deadline, giving up`);
        this.requests.delete(p);
        this.settle(p, err);
        return;
      }
      p.lastError = err;
      p.retries++;
      this.log.info(`herald: send ${p.localMessageID ?? ''} over the rate limit; sending again in ${after} ms`);
      this.holdSends(after);
      return;
    }
    if (f.error && f.error.code === ZIMServerErrorCode.Unavailable && p.retry && !p.settled) {
      // The server is stopping or overloaded: send it again later (on this
      // connection, or after the reconnect login), within the deadline.
      p.lastError = new ZIMError(f.error.code, f.error.message);
      p.sock = undefined;
      p.id = '';
      const d = backoff(p.retries++, this.cfg.reconnectMin, this.cfg.reconnectMax, Math.random());
      setTimeout(() => {
        const s = this.sock;
        if (!p.settled && !p.sock && s?.loggedIn && !s.closed && !this.held(p)) this.write(p, s);
      }, d);
      return;
    }
    this.requests.delete(p);
    if (p.onReply) {
      try {
        p.onReply(f);
      } catch (e) {
        this.log.error('herald: reply hook failed', e);
      }
    }
    if (p.settled) return;
    p.settled = true;
    if (p.timer) clearTimeout(p.timer);
    if (f.error) p.reject(new ZIMError(f.error.code, f.error.message, f.error.retryAfterMs));
    else p.resolve(f.data ?? {});
  }

  /** The requests of a connection that ended: retried after the next login, or failed. */
  private connectionLost(s: Socket): void {
    for (const [id, p] of this.byID) {
      if (p.sock !== s) continue;
      this.byID.delete(id);
      if (p.settled) continue;
      if (p.retry) {
        p.sock = undefined; // written again after the reconnect login
        p.id = '';
        p.retries++;
      } else {
        this.settle(p, new ZIMError(ZIMClientErrorCode.ConnectionLost, `${p.type}: connection lost before the reply; it may have been applied`));
      }
    }
  }

  /** failAll ends every request: the login ended. */
  private failAll(code: number, message: string): void {
    if (this.sendHold) clearTimeout(this.sendHold.timer);
    this.sendHold = undefined;
    const all = Array.from(this.requests);
    for (const p of all) this.settle(p, new ZIMError(code, message));
    this.requests.clear();
    this.byID.clear();
  }

  /** pendingSend reports whether this device is sending localMessageID right now. */
  private pendingSend(localMessageID: string | undefined): boolean {
    if (!localMessageID) return false;
    for (const p of this.requests) if (p.localMessageID === localMessageID && !p.settled) return true;
    return false;
  }

  // ---- login, logout, reconnect ----

  /** login logs userID in with token and resolves once the server accepted it. */
  async login(userID: string, token: string): Promise<void> {
    if (this.destroyed) throw new ZIMError(ZIMClientErrorCode.Destroyed, 'the ZIM instance was destroyed');
    if (this.run) throw new ZIMError(ZIMServerErrorCode.AlreadyLoggedIn, `already logged in as ${this.user}: logout first`);
    const run = { cancelled: false } as { cancelled: boolean; wake?: () => void };
    this.run = run;
    if (userID !== this.user) this.resetPositions();
    this.user = userID;
    this.token = token;
    this.setState(ZIMConnectionState.Connecting, ZIMConnectionEvent.ActiveLogin, {});
    try {
      await this.connect(run);
    } catch (e) {
      const err = toZIMError(e);
      if (this.run === run) {
        this.run = undefined;
        const [ev, ext] = loginFailure(err);
        this.failAll(ZIMClientErrorCode.LoginEnded, 'the login failed');
        this.setState(ZIMConnectionState.Disconnected, ev, ext);
      }
      throw err;
    }
  }

  /**
   * connect dials and logs in. On success the socket is the current one,
   * the state is Connected and the waiting requests are written.
   */
  private connect(run: { cancelled: boolean }): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let ws: WebSocketLike;
      try {
        ws = new (webSocketImplementation())(this.cfg.url);
      } catch (e) {
        reject(new ZIMError(ZIMClientErrorCode.NetworkError, `cannot connect to ${this.cfg.url}: ${String(e)}`));
        return;
      }
      const s = new Socket(ws);
      this.watchRefusal(s);
      let done = false;
      const finish = (err?: ZIMError) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        s.onLoginClose = undefined;
        if (err) {
          this.dropSocket(s, 1000, 'login failed');
          reject(err);
        } else resolve();
      };
      const timer = setTimeout(() => {
        finish(new ZIMError(ZIMClientErrorCode.Timeout, `login: no reply within ${this.cfg.loginTimeout} ms`));
      }, this.cfg.loginTimeout);
      s.onLoginClose = (code, reason) =>
        finish(
          run.cancelled
            ? new ZIMError(ZIMClientErrorCode.LoginEnded, 'the login was cancelled')
            : (s.refused ??
                new ZIMError(ZIMClientErrorCode.NetworkError, `connection closed before the login reply (${code}${reason ? ' ' + reason : ''})`)),
        );
      ws.onerror = () => {
        /* onclose follows */
      };
      ws.onclose = (ev) => this.onSocketClose(s, ev?.code ?? 1006, ev?.reason ?? '');
      ws.onmessage = (ev) => this.onSocketMessage(s, ev.data);
      ws.onopen = () => {
        if (done) return;
        if (run.cancelled || this.run !== run) {
          finish(new ZIMError(ZIMClientErrorCode.LoginEnded, 'the login was cancelled'));
          return;
        }
        const push = this.cfg.pushSide()?.registration();
        this.pushSent = push;
        this.pushBound = '';
        const data: Record<string, unknown> = {
          appID: this.cfg.appID,
          userID: this.user,
          token: this.token,
          platform: this.cfg.platform(),
          deviceID: this.cfg.deviceID,
          sdkVersion: `herald-ts/${SDK_VERSION}`,
        };
        if (push) data.push = push;
        const id = String(++this.nextID);
        this.byID.set(id, {
          id,
          type: 'login',
          data,
          retry: false,
          sock: s,
          settled: true,
          resolve: () => {},
          reject: () => {},
          timer: undefined,
          retries: 0,
          onReply: (f) => {
            if (done || run.cancelled || this.run !== run) {
              finish(new ZIMError(ZIMClientErrorCode.LoginEnded, 'the login was cancelled'));
              return;
            }
            if (f.error) {
              const err = new ZIMError(f.error.code, f.error.message);
              if (push && (err.code === ZIMServerErrorCode.InvalidPushDevice || err.code === ZIMServerErrorCode.DeviceInUse)) {
                this.cfg.pushSide()?.bound({ error: err });
              }
              finish(err);
              return;
            }
            // Here, before the next frame: the Connected event precedes the
            // offline messages that follow the reply.
            this.loggedInOn(s, (f.data ?? {}) as WireLoginReply);
            finish();
          },
        });
        this.sendFrame(s, { type: 'login', id, data });
      };
      this.sock = s;
    });
  }

  /**
   * watchRefusal records why the server refused s's handshake, where the
   * WebSocket shows it: the Node `ws` package emits 'unexpected-response'
   * with the HTTP response (a connection cap's 503, its Retry-After header
   * and its JSON error body). A browser's WebSocket (and Node 22's global
   * one) shows nothing of it, the handshake just fails (close code 1006):
   * there the SDK reconnects on its own backoff.
   */
  private watchRefusal(s: Socket): void {
    const ws = s.ws as unknown as {
      on?: (event: string, fn: (req: unknown, res: HandshakeResponse) => void) => void;
      terminate?: () => void;
    };
    if (typeof ws.on !== 'function') return;
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      let done = false;
      const end = () => {
        if (done) return;
        done = true;
        s.refused = refusalError(res.statusCode ?? 0, res.headers?.['retry-after'], body);
        // With a listener, ws leaves aborting to it: it then closes (1006).
        if (typeof ws.terminate === 'function') ws.terminate();
        else s.ws.close();
      };
      res.on('data', (chunk: unknown) => {
        if (body.length < 4096) body += String(chunk);
      });
      res.on('end', end);
      res.on('error', end);
      res.on('aborted', end);
    });
  }

  /** loggedInOn makes s the logged-in connection. */
  private loggedInOn(s: Socket, r: WireLoginReply): void {
    const reconnect = this.state === ZIMConnectionState.Reconnecting;
    s.loggedIn = true;
    s.lastHeard = Date.now();
    s.heartbeat = r.heartbeatInterval > 0 ? r.heartbeatInterval : DEFAULT_HEARTBEAT_MS;
    s.offlineAfter = r.offlineAfter > s.heartbeat ? r.offlineAfter : 2 * s.heartbeat + 5000;
    s.timer = setInterval(() => this.tick(s), s.heartbeat);
    for (const p of this.pos.values()) p.sent = 0; // a new connection: acknowledge every position again
    this.setState(ZIMConnectionState.Connected, ZIMConnectionEvent.Success, {});
    this.enqueue({ kind: 'emit', event: 'conversationSyncStateChanged', data: { state: ZIMConversationSyncState.Started } });
    this.webPushKey = r.webPushKey ?? '';
    if (this.pushSent && r.pushID) {
      this.pushBound = r.pushID;
      const ps = this.cfg.pushSide();
      this.enqueue({ kind: 'call', fn: () => ps?.bound({ pushID: r.pushID! }) });
    }
    this.flushAcks(); // positions handled before this connection
    for (const p of this.requests) {
      if (p.sock || p.settled || this.held(p)) continue;
      if (p.retries > 0) this.log.debug(`herald: ${p.type} sent again after the reconnect login`, p.localMessageID ?? '');
      this.write(p, s);
    }
    for (const h of this.loggedInHandlers) {
      try {
        h({ reconnect });
      } catch (e) {
        this.log.error('herald: onLoggedIn handler failed', e);
      }
    }
  }

  /** tick pings and watches for silence. */
  private tick(s: Socket): void {
    if (s !== this.sock || s.closed) return;
    if (Date.now() - s.lastHeard >= s.offlineAfter) {
      this.log.info('herald: nothing heard from the server, reconnecting');
      this.dropSocket(s, 4002, 'heartbeat timeout');
      return;
    }
    this.sendFrame(s, { type: 'ping', id: String(++this.nextID) });
  }

  private onSocketMessage(s: Socket, raw: unknown): void {
    if (s.closed) return;
    s.lastHeard = Date.now();
    let f: Frame;
    try {
      f = decodeFrame(typeof raw === 'string' ? raw : String(raw));
    } catch {
      this.log.warn('herald: undecodable frame from the server');
      return;
    }
    switch (f.type) {
      case 'reply':
        this.onReplyFrame(f);
        return;
      case 'message':
        this.received(f.data as WireMessage);
        return;
      case 'syncDone': {
        const count = (f.data as { count?: number } | undefined)?.count ?? 0;
        this.enqueue({ kind: 'emit', event: 'conversationSyncStateChanged', data: { state: ZIMConversationSyncState.Finished, count } });
        return;
      }
      case 'tokenWillExpire': {
        const second = (f.data as { secondsLeft?: number } | undefined)?.secondsLeft ?? 0;
        this.enqueue({ kind: 'emit', event: 'tokenWillExpire', data: { second } });
        return;
      }
      case 'kicked': {
        const d = (f.data ?? {}) as { reason?: number; message?: string };
        s.kicked = { reason: d.reason ?? 0, message: d.message ?? '' };
        return;
      }
    }
    const hs = this.serverHandlers.get(f.type);
    if (!hs) {
      this.log.debug(`herald: unknown frame type ${f.type} ignored`);
      return;
    }
    for (const h of hs) {
      try {
        h(f.data ?? {});
      } catch (e) {
        this.log.error(`herald: ${f.type} handler failed`, e);
      }
    }
  }

  private onSocketClose(s: Socket, code: number, reason: string): void {
    if (s.closed) return;
    this.ended(s, code, reason);
  }

  /** ended handles the end of a connection: the login attempt's, or a logged-in one's (reconnect or finish). */
  private ended(s: Socket, code: number, reason: string): void {
    if (s.closed) return;
    s.closed = true;
    if (s.timer) clearInterval(s.timer);
    if (this.sock === s) this.sock = undefined;
    if (s.onLoginClose) {
      this.dropHooks(s);
      s.onLoginClose(code, reason);
      return;
    }
    this.dropHooks(s);
    if (!s.loggedIn) return;
    this.connectionLost(s);
    const run = this.run;
    if (!run || run.cancelled) return;
    this.log.info(`herald: connection closed (${code} ${reason})`);
    const ext: Record<string, unknown> = { closeCode: code };
    if (reason) ext.reason = reason;
    // 4001: another login took the session's place; 4008: the app's server kicked the user.
    if (s.kicked || code === 4001 || code === 4008) {
      if (s.kicked) Object.assign(ext, { reason: s.kicked.reason, message: s.kicked.message });
      this.finish(ZIMConnectionEvent.KickedOut, ext);
      return;
    }
    // 4004: the token expired; 4007: the app's server revoked it. Both need a new token.
    if (code === 4004 || code === 4007) {
      this.finish(ZIMConnectionEvent.TokenExpired, ext);
      return;
    }
    if (code === 4000) {
      this.finish(ZIMConnectionEvent.Success, ext);
      return;
    }
    // 4006: the operator disabled the app; every login is refused (40106) until it is enabled again.
    if (code === 4006) {
      this.finish(ZIMConnectionEvent.LoginInterrupted, { ...ext, code: ZIMServerErrorCode.AppDisabled, message: 'the app is disabled' });
      return;
    }
    this.setState(ZIMConnectionState.Reconnecting, ZIMConnectionEvent.LoginInterrupted, ext);
    void this.reconnect(run, Date.now() - s.started >= STABLE_SESSION_MS);
  }

  /** Pending hooks of a closed socket: the login entry and settled sends go. */
  private dropHooks(s: Socket): void {
    for (const [id, p] of this.byID) if (p.sock === s && p.settled) this.byID.delete(id);
  }

  /** reconnect tries to log in again until it succeeds, the login ends, or a re-login is refused for good. */
  private async reconnect(run: { cancelled: boolean; wake?: () => void }, stable: boolean): Promise<void> {
    if (stable) this.attempt = 0;
    let hint = 0; // the last refusal's Retry-After (ms)
    for (;;) {
      let d = backoff(this.attempt, this.cfg.reconnectMin, this.cfg.reconnectMax, Math.random());
      this.attempt++;
      if (hint > 0) {
        d = hintedWait(hint, d, this.cfg.reconnectMax, Math.random());
        this.log.info(`herald: server refused the connection; waiting ${Math.ceil(d)} ms as it asked (retry after ${hint} ms)`);
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, d);
        run.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      run.wake = undefined;
      if (run.cancelled || this.run !== run) return;
      try {
        await this.connect(run);
        return;
      } catch (e) {
        if (run.cancelled || this.run !== run) return;
        const err = toZIMError(e);
        this.log.info(`herald: reconnect attempt ${this.attempt} failed: ${err.code} ${err.message}`);
        hint = Math.min(err.retryAfterMs ?? 0, MAX_RETRY_HINT_MS);
        if (!retryable(err)) {
          const [ev, ext] = loginFailure(err);
          this.finish(ev, ext);
          return;
        }
      }
    }
  }

  /** finish ends a login that cannot continue (kick, expired token, refused re-login). */
  private finish(ev: ZIMConnectionEvent, ext: Record<string, unknown>): void {
    const run = this.run;
    if (run) {
      run.cancelled = true;
      run.wake?.();
    }
    this.run = undefined;
    this.attempt = 0;
    this.failAll(ZIMClientErrorCode.LoginEnded, 'the login ended');
    this.setState(ZIMConnectionState.Disconnected, ev, ext);
  }

  /**
   * registerPush registers and binds the device while logged in (ZPNs'
   * registerPush after login); logout then unbinds it. Safe to repeat: the
   * server updates the same device in place.
   */
  async registerPush(reg: PushRegistration): Promise<string> {
    const r = await this.call<{ pushID?: string }>('registerPush', reg, { retry: true });
    this.pushSent = reg;
    this.pushBound = r.pushID ?? '';
    return this.pushBound;
  }

  /** unregisterPush removes a device of this user (ZPNs' unregisterPush). */
  async unregisterPush(pushID: string): Promise<void> {
    await this.call('unregisterPush', { pushID }, { retry: true });
    // Only the session's own device stops being bound to it (an older
    // PushID being cleaned up leaves the current one to logout).
    if (pushID === this.pushBound) {
      this.pushSent = undefined;
      this.pushBound = '';
    }
  }

  /** renewToken replaces the login's token (while reconnecting: kept for the next attempt). */
  async renewToken(token: string): Promise<void> {
    if (this.destroyed) throw new ZIMError(ZIMClientErrorCode.Destroyed, 'the ZIM instance was destroyed');
    if (!this.run) throw new ZIMError(ZIMServerErrorCode.NotLoggedIn, 'not logged in: call login first');
    if (!this.sock?.loggedIn) {
      this.token = token;
      return;
    }
    await this.call('renewToken', { token }, { retry: true });
    this.token = token;
  }

  /**
   * logout sends the pending acks and `logout`, then closes. Queued
   * messages not yet handled are dropped (not acknowledged: they come
   * again at the next login of this device).
   */
  async logout(): Promise<void> {
    if (this.destroyed) throw new ZIMError(ZIMClientErrorCode.Destroyed, 'the ZIM instance was destroyed');
    const run = this.run;
    if (!run) return;
    const s = this.sock;
    if (s?.loggedIn) {
      this.flushAcks();
      try {
        await this.call('logout', {}, { retry: false });
      } catch (e) {
        this.log.info('herald: logout request failed', e);
      }
    }
    if (this.run === run) {
      run.cancelled = true;
      run.wake?.();
      this.run = undefined;
    }
    this.attempt = 0;
    this.failAll(ZIMClientErrorCode.LoginEnded, 'logged out');
    if (this.sock) this.dropSocket(this.sock, 1000, 'logout');
    this.dropQueued();
    this.setState(ZIMConnectionState.Disconnected, ZIMConnectionEvent.Success, {});
    if (this.pushSent) {
      this.pushSent = undefined;
      this.pushBound = '';
      const ps = this.cfg.pushSide();
      this.enqueue({ kind: 'call', fn: () => ps?.unbound() });
    }
  }

  /** destroy closes without logging out; every later call fails with Destroyed. */
  destroy(): void {
    if (this.destroyed) return;
    if (this.sock?.loggedIn) this.flushAcks();
    this.destroyed = true;
    const run = this.run;
    if (run) {
      run.cancelled = true;
      run.wake?.();
    }
    this.run = undefined;
    this.failAll(ZIMClientErrorCode.Destroyed, 'the ZIM instance was destroyed');
    if (this.sock) this.dropSocket(this.sock, 1000, 'destroyed');
    this.queue = [];
    if (this.ackTimer) clearTimeout(this.ackTimer);
    this.ackTimer = undefined;
    this.state = ZIMConnectionState.Disconnected;
  }

  /** dropSocket closes s at once and handles its end as if the server had closed it with code. */
  private dropSocket(s: Socket, code: number, reason: string): void {
    if (s.closed) return;
    this.closeSocket(s, reason);
    this.ended(s, code, reason);
  }

  /** closeSocket detaches s and closes it; ended does the bookkeeping. */
  private closeSocket(s: Socket, reason: string): void {
    const ws = s.ws;
    ws.onmessage = null;
    ws.onopen = null;
    ws.onclose = null;
    ws.onerror = () => {}; // ws (Node) throws on an error event nobody listens to
    try {
      ws.close(1000, reason);
    } catch {
      /* already closed */
    }
  }

  private sendFrame(s: Socket, f: Frame): void {
    try {
      s.ws.send(encodeFrame(f));
    } catch (e) {
      this.log.debug('herald: write failed', e);
    }
  }

  private setState(state: ZIMConnectionState, event: ZIMConnectionEvent, extendedData: Record<string, unknown>): void {
    if (state === this.state) return;
    this.state = state;
    this.log.debug(`herald: connection state ${state} (event ${event})`);
    this.enqueue({ kind: 'emit', event: 'connectionStateChanged', data: { state, event, extendedData } });
  }

  // ---- delivery bookkeeping ----

  private posOf(key: string, id: string, type: number): ConvPos {
    let p = this.pos.get(key);
    if (!p) this.pos.set(key, (p = { id, type, received: 0, handled: 0, sent: 0 }));
    return p;
  }

  /** received takes a delivered message: drops duplicates and queues the rest for the app. */
  private received(w: WireMessage): void {
    if (!w || typeof w !== 'object') return;
    const key = convKey(w.conversationID, w.conversationType);
    const seq = w.conversationSeq ?? 0;
    if (seq > 0) {
      const p = this.posOf(key, w.conversationID, w.conversationType);
      if (seq <= p.received) {
        this.log.debug(`herald: duplicate message dropped (${key} seq ${seq})`);
        return;
      }
      if (p.received > 0 && seq > p.received + 1) {
        this.log.warn(`herald: gap in conversation ${key} after ${p.received}: seq ${seq}`);
      }
      p.received = seq;
      if (w.senderUserID === this.user && this.pendingSend(w.localMessageID)) {
        // This device's own send, stored before its reply was lost: the
        // send's retry reports it; it counts as handled.
        this.enqueue({ kind: 'ownSent', key, seq, epoch: this.epoch });
        return;
      }
    }
    const m = messageFromWire(w, this.user);
    const offline = w.offline === true;
    const last = this.queue[this.queue.length - 1];
    if (last && last.kind === 'messages' && last.key === key && last.offline === offline && last.msgs.length < MAX_BATCH) {
      last.msgs.push(m);
      return;
    }
    this.enqueue({ kind: 'messages', key, convID: w.conversationID, convType: w.conversationType, offline, msgs: [m], epoch: this.epoch });
  }

  /** ownSent records the seq of a message this device sent (from the send's reply hook). */
  ownSent(conversationID: string, conversationType: number, seq: number): void {
    const key = convKey(conversationID, conversationType);
    const p = this.posOf(key, conversationID, conversationType);
    if (seq > p.received) p.received = seq;
    this.enqueue({ kind: 'ownSent', key, seq, epoch: this.epoch });
  }

  private handled(key: string, seq: number, n: number): void {
    const p = this.pos.get(key);
    if (!p || seq <= p.handled) return;
    p.handled = seq;
    if (seq > p.received) p.received = seq;
    this.unacked += n;
    if (this.unacked >= this.cfg.ackBatch) {
      this.flushAcks();
      return;
    }
    if (!this.ackTimer) {
      this.ackTimer = setTimeout(() => {
        this.ackTimer = undefined;
        this.flushAcks();
      }, this.cfg.ackInterval);
    }
  }

  /** flushAcks sends the positions handled beyond what this connection acknowledged. */
  private flushAcks(): void {
    const s = this.sock;
    if (!s || !s.loggedIn || s.closed) return; // sent after the next login
    if (this.ackTimer) {
      clearTimeout(this.ackTimer);
      this.ackTimer = undefined;
    }
    const due: Array<{ conversationID: string; conversationType: number; seq: number }> = [];
    for (const p of this.pos.values()) {
      if (p.handled > p.sent) due.push({ conversationID: p.id, conversationType: p.type, seq: p.handled });
    }
    for (let i = 0; i < due.length; i += MAX_ACKS_PER_FRAME) {
      this.sendFrame(s, { type: 'ack', data: { acks: due.slice(i, i + MAX_ACKS_PER_FRAME) } });
    }
    for (const a of due) {
      const p = this.pos.get(convKey(a.conversationID, a.conversationType));
      if (p) p.sent = Math.max(p.sent, a.seq);
    }
    if (due.length > 0) this.log.debug('herald: acks sent', due);
    this.unacked = 0;
  }

  /** resetPositions forgets the bookkeeping (another user logs in) and the queued messages. */
  private resetPositions(): void {
    this.pos = new Map();
    this.epoch++;
    this.unacked = 0;
    this.dropQueued();
  }

  /**
   * dropQueued drops queued messages (not handled, so not acknowledged:
   * the server delivers them again) and group or call events; state
   * changes stay. A queued own send still counts unless a dropped message
   * of its conversation precedes it.
   */
  private dropQueued(): void {
    const kept: QueuedEvent[] = [];
    const blocked = new Set<string>();
    for (const e of this.queue) {
      if (e.kind === 'emit' && e.event === 'connectionStateChanged') kept.push(e);
      else if (e.kind === 'messages' && e.epoch === this.epoch) blocked.add(e.key);
      else if (e.kind === 'ownSent' && e.epoch === this.epoch && !blocked.has(e.key)) this.handled(e.key, e.seq, 1);
    }
    this.queue = kept;
    for (const p of this.pos.values()) p.received = p.handled;
  }

  // ---- the event queue ----

  private enqueue(e: QueuedEvent): void {
    if (this.destroyed) return;
    this.queue.push(e);
    if (!this.draining) {
      this.draining = true;
      later(() => this.drain());
    }
  }

  /** drain raises queued events in order, one at a time. */
  private drain(): void {
    try {
      for (;;) {
        const e = this.queue.shift();
        if (!e) break;
        switch (e.kind) {
          case 'emit':
            this.raise(e.event, e.data);
            break;
          case 'call':
            try {
              e.fn();
            } catch (err) {
              this.log.error('herald: push link callback failed', err);
            }
            break;
          case 'ownSent':
            if (e.epoch === this.epoch) this.handled(e.key, e.seq, 1);
            break;
          case 'messages': {
            const data = {
              messageList: e.msgs,
              info: { isOfflineMessage: e.offline },
              fromConversationID: e.convID,
            };
            this.raise(e.convType === 2 ? 'groupMessageReceived' : 'peerMessageReceived', data);
            let top = 0;
            for (const m of e.msgs) top = Math.max(top, m.conversationSeq ?? 0);
            if (top > 0 && e.epoch === this.epoch) this.handled(e.key, top, e.msgs.length);
            break;
          }
        }
        if (this.destroyed) {
          this.queue = [];
          break;
        }
      }
    } finally {
      this.draining = false;
    }
  }

  private raise(event: string, data: unknown): void {
    const s = this.listeners.get(event);
    if (!s) return;
    for (const fn of Array.from(s)) {
      try {
        fn(this.zim, data as never);
      } catch (e) {
        this.log.error(`herald: ${event} handler threw`, e);
      }
    }
  }
}

function toZIMError(e: unknown): ZIMError {
  if (e instanceof ZIMError) return e;
  return new ZIMError(ZIMClientErrorCode.NetworkError, String(e));
}

/**
 * retryable: a re-login that failed with err may succeed with the same token
 * later: network faults, timeouts, rate limits, the connection caps
 * (42901–42904) and server faults. Not a refused token, app or argument,
 * nor 42905 too_many_sessions: retrying cannot help until the user's other
 * sessions end, so the login ends (Disconnected, LoginInterrupted).
 */
function retryable(err: ZIMError): boolean {
  if (err.code >= 60000 && err.code < 61000) return err.code !== ZIMClientErrorCode.Destroyed && err.code !== ZIMClientErrorCode.LoginEnded;
  if (err.code >= ZIMServerErrorCode.TooManyConnections && err.code <= ZIMServerErrorCode.TooManyUnauthenticatedFromIP) return true;
  return err.code === ZIMServerErrorCode.RateLimited || err.code >= 50000;
}

/** The part of Node's http.IncomingMessage watchRefusal reads. */
interface HandshakeResponse {
  statusCode?: number;
  headers?: Record<string, string | string[] | undefined>;
  on(event: string, fn: (chunk: unknown) => void): void;
}

/**
 * refusalError is the ZIMError of a refused handshake: the server's JSON
 * error body ({code, message, retryAfterMs}) when there is one, 50300
 * otherwise, with retryAfterMs the larger of the body's and the
 * Retry-After header's (seconds).
 */
export function refusalError(status: number, retryAfter: string | string[] | undefined, body: string): ZIMError {
  let code: number = ZIMServerErrorCode.Unavailable;
  let message = `handshake refused: HTTP ${status}`;
  let ms = 0;
  try {
    const j = JSON.parse(body) as { code?: unknown; message?: unknown; retryAfterMs?: unknown };
    if (typeof j.code === 'number' && j.code > 0) {
      code = j.code;
      if (typeof j.message === 'string') message = j.message;
      if (typeof j.retryAfterMs === 'number' && j.retryAfterMs > 0) ms = j.retryAfterMs;
    }
  } catch {
    /* not the server's body: a proxy's */
  }
  const secs = Number(Array.isArray(retryAfter) ? retryAfter[0] : retryAfter);
  if (Number.isFinite(secs) && secs > 0) ms = Math.max(ms, secs * 1000);
  return new ZIMError(code, message, ms > 0 ? Math.min(ms, MAX_RETRY_HINT_MS) : undefined);
}

/** loginFailure tells which connection event a failed login reports. */
function loginFailure(err: ZIMError): [ZIMConnectionEvent, Record<string, unknown>] {
  const ext = { code: err.code, message: err.message };
  if (err.code === ZIMServerErrorCode.TokenExpired || err.code === ZIMServerErrorCode.TokenRevoked) return [ZIMConnectionEvent.TokenExpired, ext];
  if (err.code === ZIMClientErrorCode.Timeout) return [ZIMConnectionEvent.LoginTimeout, ext];
  return [ZIMConnectionEvent.LoginInterrupted, ext];
}
