// EmulatedPhone: a PushTokenSource for tests and demos, played by Herald's
// phones API (`herald serve --emulate`, `herald emulate`; the manifest's
// phones.url). The phone registers with the vendor's emulator, and the Go
// side decodes each push the vendor's way and applies the seed's
// per-vendor callback table in the phone's app state; this class only
// carries the phone's events to ZPNs. It uses fetch alone, so it runs in
// Node 20, browsers and React Native.
import type { PushPlatform, PushSourceEvent, PushSourceListener, PushTokenRequest, PushTokens, PushTokenSource, PushVendor, APNsEnvironment } from './source.js';

/** The app's state on the phone: what the pushes it receives from then on meet. */
export type PhoneAppState = 'foreground' | 'background' | 'killed';

/** What a phone did with a push (the phones API's event). */
export interface PhoneEvent {
  /**
   * notificationDisplayed: the system shows the notification (no ZPNs
   * callback; it can be clicked). voipPushReceived: PushKit hands the app
   * a VoIP push (no ZPNs callback either: the app reports it to CallKit).
   * The others are the ZPNs callbacks the vendor raises in the app's
   * state.
   */
  event: 'notificationDisplayed' | 'notificationArrived' | 'throughMessageReceived' | 'notificationClicked' | 'voipPushReceived';
  vendor: PushVendor;
  title?: string;
  content?: string;
  payload?: string;
  /** APNs: alert, background, voip; FCM, Huawei, Honor: notification or data; Xiaomi: notification or passThrough; OPPO, vivo: notification; HarmonyOS: notification, data (background message) or call. */
  kind: string;
  /** The push's number at the vendor's emulator, per token (click takes it); the events of one push share it. */
  seq: number;
  /** The vendor's ID of the message (APNs apns-id, FCM message name, ...). */
  messageID?: string;
  /** A call push's call ID. */
  callID?: string;
  /** What the server cut to fit the vendor's limits ("title", "content", "payload", comma-separated). */
  heraldTruncated?: string;
  /** The push's custom data as the vendor's SDK hands it. */
  extras?: Record<string, string>;
}

interface Waiter {
  match: (e: PhoneEvent) => boolean;
  resolve: (e: PhoneEvent) => void;
  reject: (err: Error) => void;
}

/** EmulatedPhone.create's options. */
export interface EmulatedPhoneOptions {
  vendor: PushVendor;
  /** A development build: APNs sandbox (the phone's aps-environment), development environment. Default false. */
  debug?: boolean;
  /** Also a PushKit token (APNs only). Default false. */
  voip?: boolean;
  /** Vendor permissions the app holds, e.g. 'huawei-high-priority-pass-through'. */
  permissions?: string[];
  /** The app's state at start; default background. */
  state?: PhoneAppState;
  /** The fetch to use; default the global one. */
  fetch?: typeof fetch;
  /** How long one events long-poll waits (seconds, default 25). */
  pollSeconds?: number;
}

interface PhoneInfo {
  phoneID: string;
  vendor: PushVendor;
  token: string;
  voipToken?: string;
  bundleID: string;
  environment: APNsEnvironment;
  platform: PushPlatform;
  state: PhoneAppState;
}

/** A phones API call that failed: its HTTP status (0 for a network failure) and the API's error. */
export class PhoneError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.name = 'PhoneError';
    this.status = status;
  }
}

/**
 * EmulatedPhone is an emulated phone with the app installed: its vendor
 * token (and PushKit token), bundle ID and APNs environment, as a
 * PushTokenSource for ZPNs.setPushTokenSource. From creation until dispose
 * it long-polls the phone's events; the ZPNs callbacks among them go to
 * ZPNs (subscribe), and every event is kept in `events`.
 */
export class EmulatedPhone implements PushTokenSource {
  readonly phoneID: string;
  readonly vendor: PushVendor;
  readonly platform: PushPlatform;
  readonly bundleID: string;
  /** The vendor's device token. */
  readonly token: string;
  /** The PushKit token (APNs phones created with voip). */
  readonly voipToken: string | undefined;
  /** The build's APNs environment (development when created with debug). */
  readonly environment: APNsEnvironment;
  /** Every event the phone reported so far, in order. */
  readonly events: PhoneEvent[] = [];

  private appState: PhoneAppState;
  private readonly base: string;
  private readonly fetchFn: typeof fetch;
  private readonly pollSeconds: number;
  private readonly listeners = new Set<PushSourceListener>();
  private readonly observers = new Set<(e: PhoneEvent) => void>();
  private readonly waiters = new Set<Waiter>();
  private readonly abort = new AbortController();
  private disposed = false;
  private pollError: Error | undefined;
  private readonly polling: Promise<void>;

  /**
   * create makes a phone at the phones API (phonesURL, e.g. the manifest's
   * phones.url) and starts watching it. It rejects with PhoneError for a
   * bad option (unknown vendor, VoIP on Android, ...).
   */
  static async create(phonesURL: string, options: EmulatedPhoneOptions): Promise<EmulatedPhone> {
    const fetchFn = options.fetch ?? globalThis.fetch;
    if (typeof fetchFn !== 'function') throw new PhoneError(0, 'emulated phone: no fetch in this environment; pass options.fetch');
    const base = phonesURL.replace(/\/+$/, '');
    const body = {
      vendor: options.vendor,
      debug: options.debug ?? false,
      voip: options.voip ?? false,
      permissions: options.permissions ?? [],
      state: options.state ?? 'background',
    };
    const info = await call<PhoneInfo>(fetchFn, 'POST', `${base}/phones`, body, 201);
    return new EmulatedPhone(base, fetchFn, info, options.pollSeconds ?? 25);
  }

  private constructor(base: string, fetchFn: typeof fetch, info: PhoneInfo, pollSeconds: number) {
    this.base = base;
    this.fetchFn = fetchFn;
    this.pollSeconds = pollSeconds;
    this.phoneID = info.phoneID;
    this.vendor = info.vendor;
    this.platform = info.platform;
    this.bundleID = info.bundleID;
    this.token = info.token;
    this.voipToken = info.voipToken || undefined;
    this.environment = info.environment;
    this.appState = info.state;
    this.polling = this.poll();
  }

  /** The phone's vendor: the only one it offers. */
  get vendors(): readonly PushVendor[] {
    return [this.vendor];
  }

  /** The app's state as last set. */
  get state(): PhoneAppState {
    return this.appState;
  }

  /** PushTokenSource.getToken: the phone's tokens (no PushKit token unless created with voip). */
  async getToken(req: PushTokenRequest): Promise<PushTokens> {
    if (req.vendor !== this.vendor) throw new PhoneError(0, `emulated phone: this is a ${this.vendor} phone, not ${req.vendor}`);
    const out: PushTokens = { token: this.token };
    if (req.voip && this.voipToken) out.voipToken = this.voipToken;
    return out;
  }

  /** PushTokenSource.apnsEnvironment: the build's aps-environment (iOS phones). */
  apnsEnvironment(): APNsEnvironment | undefined {
    return this.platform === 'ios' ? this.environment : undefined;
  }

  /** PushTokenSource.requestPermission: an emulated user who always allows. */
  async requestPermission(): Promise<boolean> {
    return true;
  }

  /** PushTokenSource.subscribe: the phone's ZPNs callbacks, from now on. */
  subscribe(listener: PushSourceListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /**
   * onEvent calls observer with every event from now on (all of them, not
   * only the ZPNs callbacks: e.g. voipPushReceived for the app's CallKit
   * code); returns the unsubscribe.
   */
  onEvent(observer: (e: PhoneEvent) => void): () => void {
    this.observers.add(observer);
    return () => {
      this.observers.delete(observer);
    };
  }

  /** setState sets the app's state; the pushes received from then on meet it. */
  async setState(state: PhoneAppState): Promise<void> {
    await call(this.fetchFn, 'PUT', `${this.base}/phones/${enc(this.phoneID)}/state`, { state }, 200);
    this.appState = state;
  }

  /**
   * click taps the shown notification of the notificationDisplayed event
   * with seq; the phone then reports notificationClicked (which reaches
   * ZPNs like its other events). PhoneError 404 when no such notification
   * is shown (or it was tapped already).
   */
  async click(seq: number): Promise<PhoneEvent> {
    return call<PhoneEvent>(this.fetchFn, 'POST', `${this.base}/phones/${enc(this.phoneID)}/click`, { seq }, 200);
  }

  /**
   * waitForEvent resolves with the first event, already seen or to come,
   * that match accepts; it rejects after timeoutMs (default 10 s), or when
   * the phone is disposed or its watch failed.
   */
  waitForEvent(match: (e: PhoneEvent) => boolean, timeoutMs = 10_000): Promise<PhoneEvent> {
    const seen = this.events.find(match);
    if (seen) return Promise.resolve(seen);
    if (this.disposed || this.pollError) {
      return Promise.reject(this.pollError ?? new PhoneError(0, 'emulated phone: disposed'));
    }
    return new Promise((resolve, reject) => {
      const w: Waiter = {
        match,
        resolve: (e) => {
          clearTimeout(timer);
          this.waiters.delete(w);
          resolve(e);
        },
        reject: (err) => {
          clearTimeout(timer);
          this.waiters.delete(w);
          reject(err);
        },
      };
      const timer = setTimeout(
        () => w.reject(new PhoneError(0, `emulated phone ${this.phoneID}: no such event within ${timeoutMs} ms; events: ${JSON.stringify(this.events)}`)),
        timeoutMs,
      );
      this.waiters.add(w);
    });
  }

  /**
   * dispose stops watching and deletes the phone at the phones API (its
   * tokens stay registered at the vendor, as those of a phone switched
   * off). It is idempotent.
   */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.abort.abort();
    await this.polling;
    this.failWaiters(new PhoneError(0, 'emulated phone: disposed'));
    try {
      await call(this.fetchFn, 'DELETE', `${this.base}/phones/${enc(this.phoneID)}`, undefined, 204);
    } catch (e) {
      if (!(e instanceof PhoneError && e.status === 404)) throw e;
    }
  }

  private failWaiters(err: Error): void {
    for (const w of [...this.waiters]) w.reject(err);
  }

  // poll long-polls the events until dispose; a network failure is
  // retried after a second, a phone the API no longer knows ends it.
  private async poll(): Promise<void> {
    let after = 0;
    while (!this.disposed) {
      let page: { deliveries: PhoneEvent[] | null; next: number };
      try {
        page = await call(
          this.fetchFn,
          'GET',
          `${this.base}/phones/${enc(this.phoneID)}/events?after=${after}&wait=${this.pollSeconds}s`,
          undefined,
          200,
          this.abort.signal,
        );
      } catch (e) {
        if (this.disposed) return;
        if (e instanceof PhoneError && e.status === 404) {
          this.pollError = new PhoneError(404, `emulated phone ${this.phoneID}: the phones API no longer knows it`);
          this.failWaiters(this.pollError);
          return;
        }
        await new Promise<void>((r) => {
          const t = setTimeout(r, 1000);
          this.abort.signal.addEventListener('abort', () => {
            clearTimeout(t);
            r();
          });
        });
        continue;
      }
      for (const e of page.deliveries ?? []) this.dispatch(e);
      after = page.next;
    }
  }

  private dispatch(e: PhoneEvent): void {
    this.events.push(e);
    if (e.event === 'notificationArrived' || e.event === 'throughMessageReceived' || e.event === 'notificationClicked') {
      const message = { title: e.title ?? '', content: e.content ?? '', payload: e.payload ?? '', extras: e.extras ?? {} };
      for (const l of [...this.listeners]) guarded(() => l.notification(e.event as PushSourceEvent, message));
    }
    for (const o of [...this.observers]) guarded(() => o(e));
    for (const w of [...this.waiters]) if (w.match(e)) w.resolve(e);
  }
}

// guarded runs f; what it throws is rethrown where the runtime reports it,
// not into the poll loop.
function guarded(f: () => void): void {
  try {
    f();
  } catch (e) {
    setTimeout(() => {
      throw e;
    }, 0);
  }
}

function enc(s: string): string {
  return encodeURIComponent(s);
}

async function call<T>(
  fetchFn: typeof fetch,
  method: string,
  url: string,
  body: unknown,
  want: number,
  signal?: AbortSignal,
): Promise<T> {
  let resp: Response;
  try {
    const init: RequestInit = { method };
    if (body !== undefined) {
      init.body = JSON.stringify(body);
      init.headers = { 'Content-Type': 'application/json' };
    }
    if (signal) init.signal = signal;
    resp = await fetchFn(url, init);
  } catch (e) {
    throw new PhoneError(0, `phones API: ${method} ${url}: ${e instanceof Error ? e.message : String(e)}`);
  }
  const text = await resp.text();
  if (resp.status !== want) {
    let msg = text.trim();
    try {
      const j = JSON.parse(text) as { error?: string };
      if (j.error) msg = j.error;
    } catch {
      // not JSON: the text as it is
    }
    throw new PhoneError(resp.status, `phones API: ${method} ${url} answered ${resp.status}: ${msg}`);
  }
  return (text ? JSON.parse(text) : undefined) as T;
}
