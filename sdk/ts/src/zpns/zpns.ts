// The push client (the seed's ZPNs): it gets the device's vendor token from
// a PushTokenSource, hands the registration to ZIM (src/internal/pushlink.ts)
// and raises the seed's ZPNsEventHandler events.
import { ZIMClientErrorCode, ZIMError, ZIMServerErrorCode } from '../errors.js';
import { getZIMSide, setPushSide, type PushRegistration, type PushSide, type ZIMSide } from '../internal/pushlink.js';
import {
  platformOfVendor,
  pushVendors,
  type APNsEnvironment,
  type PushSourceEvent,
  type PushSourceMessage,
  type PushTokens,
  type PushTokenSource,
  type PushVendor,
} from './source.js';
import {
  ZPNsErrorCode,
  ZPNsIOSEnvironment,
  ZPNsPushSourceType,
  type ZPNsConfig,
  type ZPNsEventHandler,
  type ZPNsEventName,
  type ZPNsMessage,
  type ZPNsRegisterConfig,
  type ZPNsRegisterMessage,
} from './types.js';
import { Receipts, type ZPNsReceiptConfig } from './receipts.js';

/** The vendor's ZPNsPushSourceType. */
export function pushSourceTypeOf(vendor: PushVendor): ZPNsPushSourceType {
  switch (vendor) {
    case 'apns':
      return ZPNsPushSourceType.APNs;
    case 'fcm':
      return ZPNsPushSourceType.FCM;
    case 'huawei':
      return ZPNsPushSourceType.HuaWei;
    case 'xiaomi':
      return ZPNsPushSourceType.XiaoMi;
    case 'oppo':
      return ZPNsPushSourceType.Oppo;
    case 'vivo':
      return ZPNsPushSourceType.Vivo;
    case 'harmony':
      return ZPNsPushSourceType.HarmonyOS;
    case 'honor':
      return ZPNsPushSourceType.Honor;
    case 'webpush':
      return ZPNsPushSourceType.WebPush;
  }
}

// The setPushConfig switch of each Android vendor; APNs, HarmonyOS and
// Web Push (one channel per device, nothing to choose) have none.
type SwitchedVendor = Exclude<PushVendor, 'apns' | 'harmony' | 'webpush'>;
const switchOf: Record<SwitchedVendor, keyof ZPNsConfig> = {
  fcm: 'enableFCMPush',
  huawei: 'enableHWPush',
  xiaomi: 'enableMiPush',
  oppo: 'enableOppoPush',
  vivo: 'enableVivoPush',
  honor: 'enableHonorPush',
};
const configKeys = Object.values(switchOf);
// ZIM's codes for a request that found no login.
const notBoundNow: readonly number[] = [ZIMServerErrorCode.NotLoggedIn, ZIMClientErrorCode.LoginEnded, ZIMClientErrorCode.Destroyed];
const notificationEvents: readonly PushSourceEvent[] = ['notificationArrived', 'throughMessageReceived', 'notificationClicked'];
const eventNames: readonly ZPNsEventName[] = [
  'registered',
  'notificationArrived',
  'throughMessageReceived',
  'notificationClicked',
];

function invalid(message: string): ZIMError {
  return new ZIMError(ZPNsErrorCode.InvalidArgument, `zpns: ${message}`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// checkBooleans throws unless every key of obj is one of keys with a
// boolean (or undefined) value.
function checkBooleans(what: string, obj: unknown, keys: readonly string[]): void {
  if (!isObject(obj)) throw invalid(`${what} must be an object`);
  for (const [k, v] of Object.entries(obj)) {
    if (!keys.includes(k)) throw invalid(`${what}: unknown field ${JSON.stringify(k)} (want ${keys.join(', ')})`);
    if (v !== undefined && typeof v !== 'boolean') throw invalid(`${what}.${k} must be a boolean`);
  }
}

function checkSource(source: PushTokenSource): void {
  if (!isObject(source)) throw invalid('the token source must be an object');
  if (source.platform !== 'ios' && source.platform !== 'android' && source.platform !== 'harmonyos' && source.platform !== 'web') {
    throw invalid(`token source platform ${JSON.stringify(source.platform)}: want "ios", "android", "harmonyos" or "web"`);
  }
  if (!Array.isArray(source.vendors) || source.vendors.length === 0) {
    throw invalid('token source vendors must be a non-empty array');
  }
  for (const v of source.vendors) {
    if (!pushVendors.includes(v)) {
      throw invalid(`token source vendor ${JSON.stringify(v)}: want one of ${pushVendors.join(', ')}`);
    }
    if (platformOfVendor(v) !== source.platform) {
      throw invalid(`token source vendor ${v} is not a vendor of ${source.platform}`);
    }
  }
  if (typeof source.bundleID !== 'string' || source.bundleID === '') {
    throw invalid('token source bundleID must be a non-empty string');
  }
  if (typeof source.getToken !== 'function') throw invalid('token source getToken must be a function');
  for (const k of ['apnsEnvironment', 'subscribe', 'requestPermission'] as const) {
    if (source[k] !== undefined && typeof source[k] !== 'function') {
      throw invalid(`token source ${k} must be a function when set`);
    }
  }
}

// sameDevice: a and b give the same PushID (vendor, environment, token).
function sameDevice(a: PushRegistration, b: PushRegistration): boolean {
  return a.vendor === b.vendor && a.environment === b.environment && a.token === b.token;
}

function toZIMError(e: unknown): ZIMError {
  if (e instanceof ZIMError) return e;
  const code = isObject(e) && typeof e.code === 'number' ? e.code : ZPNsErrorCode.TokenUnavailable;
  const message = e instanceof Error ? e.message : isObject(e) && typeof e.message === 'string' ? e.message : String(e);
  return new ZIMError(code, message);
}

// A registration ZPNs holds: what goes into every login, and what the
// server said of it.
interface Current {
  registration: PushRegistration;
  vendor: PushVendor;
  /** The server's PushID once bound (it stays across logout: it is the token's). */
  pushID: string | undefined;
  /** The PushID of the registration this one replaced, unregistered once this one is bound. */
  replaces: string | undefined;
  /** `registered` was raised for the present binding; cleared at unbound and on a new token. */
  reported: boolean;
  unsubscribe: (() => void) | undefined;
}

/**
 * The push client (the seed's ZPNs). One per app: ZPNs.getInstance().
 *
 * registerPush gets the token from the PushTokenSource set with
 * ZPNs.setPushTokenSource and hands the registration to ZIM: every ZIM
 * login carries it from then on (binding the device to the user), and when
 * ZIM is logged in already it is sent at once. `registered` fires with the
 * server's PushID once bound, or with a non-zero errorCode.
 */
export class ZPNs {
  private static instance: ZPNs | undefined;
  private static config: ZPNsConfig = {};
  private static debug = false;
  private static source: PushTokenSource | undefined;
  private static receipts: Receipts | undefined;

  /**
   * enablePushReceipts makes ZPNs report its notificationArrived and
   * notificationClicked callbacks to the server (the push statistics of
   * the admin API): over ZIM's connection while logged in; before login
   * with config.credentials' login token over HTTP (config.server), or,
   * without credentials, at ZIM's next login. undefined switches it off.
   * Only pushes carrying a push ID (extras.push_id: Herald's) are
   * reported. A bad config throws InvalidArgument and changes nothing.
   */
  static enablePushReceipts(config: ZPNsReceiptConfig | undefined = {}): void {
    if (config === undefined) {
      ZPNs.receipts = undefined;
      return;
    }
    if (!isObject(config)) throw invalid('enablePushReceipts takes an object');
    for (const [k, v] of Object.entries(config)) {
      if (k === 'server') {
        if (v !== undefined && typeof v !== 'string') throw invalid('enablePushReceipts: server must be a URL string');
      } else if (k === 'credentials' || k === 'onReported') {
        if (v !== undefined && typeof v !== 'function') throw invalid(`enablePushReceipts: ${k} must be a function`);
      } else {
        throw invalid(`enablePushReceipts: unknown option ${JSON.stringify(k)} (want server, credentials, onReported)`);
      }
    }
    if (config.credentials && !config.server) throw invalid('enablePushReceipts: credentials need the server URL');
    ZPNs.receipts = new Receipts({ ...config }, getZIMSide);
  }

  /** The SDK's version. */
  static getVersion(): string {
    return '0.1.0';
  }

  /** The app's ZPNs (created at the first call). */
  static getInstance(): ZPNs {
    ZPNs.instance ??= new ZPNs();
    return ZPNs.instance;
  }

  /**
   * setPushConfig says which Android vendors the app integrated; all are
   * off until it is called. registerPush registers the first of the token
   * source's vendors that is on; one that is off is never registered.
   * Switching off the vendor of the present registration stops its
   * pushes (the server is told `disabled`, at once when logged in, else at
   * the next login); switching it on again restarts them. It replaces the
   * whole config. Bad input throws ZIMError(ZPNsErrorCode.InvalidArgument)
   * and changes nothing.
   */
  static setPushConfig(config: ZPNsConfig): void {
    checkBooleans('setPushConfig', config, configKeys);
    ZPNs.config = { ...config };
    ZPNs.instance?.configChanged();
  }

  /**
   * enableDebug says whether this is a development build (default false):
   * the registration's environment (development PushIDs, the APNs
   * sandbox) on Android, and on iOS with ZPNsIOSEnvironment.Automatic when
   * the token source cannot tell. Set it before registerPush; it applies
   * from the next registerPush. A non-boolean throws InvalidArgument.
   */
  static enableDebug(debug: boolean): void {
    if (typeof debug !== 'boolean') throw invalid('enableDebug takes a boolean');
    ZPNs.debug = debug;
  }

  /**
   * setPushTokenSource sets where registerPush gets the device's token
   * (a React Native adapter, an EmulatedPhone, your own PushTokenSource);
   * undefined removes it. It applies from the next registerPush. A source
   * that breaks the PushTokenSource contract (unknown platform or vendor,
   * no bundle ID, ...) throws InvalidArgument and changes nothing.
   */
  static setPushTokenSource(source: PushTokenSource | undefined): void {
    if (source !== undefined) checkSource(source);
    ZPNs.source = source;
  }

  private readonly handlers: { [K in ZPNsEventName]: Set<ZPNsEventHandler[K]> } = {
    registered: new Set(),
    notificationArrived: new Set(),
    throughMessageReceived: new Set(),
    notificationClicked: new Set(),
  };
  private current: Current | undefined;
  // A registration unregistered while it was bound and the server could
  // not be told (ZIM's connection dropped without logout, or the request
  // failed): the next login carries it disabled and unregisters it. A new
  // registration takes its place (and unregisters its PushID once bound).
  private tombstone: PushRegistration | undefined;
  private tombstonePushID: string | undefined;
  // What the login being sent carries, and whose it is.
  private handed: { reg: PushRegistration; owner: Current | 'tombstone' } | undefined;
  // Bumped by every registerPush and unregisterPush: an older registerPush
  // still waiting for its token gives up.
  private generation = 0;

  private constructor() {
    const side: PushSide = {
      registration: () => this.handOut(),
      bound: (result) => this.loginBound(result),
      unbound: () => this.unbound(),
    };
    setPushSide(side);
  }

  /** on adds a handler for event. An unknown event throws InvalidArgument. */
  on<K extends ZPNsEventName>(event: K, handler: ZPNsEventHandler[K]): void {
    if (!eventNames.includes(event)) throw invalid(`unknown event ${JSON.stringify(event)} (want ${eventNames.join(', ')})`);
    if (typeof handler !== 'function') throw invalid('on takes a function');
    this.handlers[event].add(handler);
  }

  /** off removes handler from event, or every handler of event when none is given. */
  off<K extends ZPNsEventName>(event: K, handler?: ZPNsEventHandler[K]): void {
    if (!eventNames.includes(event)) throw invalid(`unknown event ${JSON.stringify(event)} (want ${eventNames.join(', ')})`);
    if (handler) this.handlers[event].delete(handler);
    else this.handlers[event].clear();
  }

  /**
   * applyNotificationPermission asks the user for notification permission
   * through the token source (iOS: the first call only shows the dialog).
   * Without a source, or one without requestPermission, it does nothing.
   */
  async applyNotificationPermission(): Promise<void> {
    const source = ZPNs.source;
    if (source?.requestPermission) await source.requestPermission();
  }

  /**
   * registerPush registers the device for offline pushes.
   *
   * 1. The vendor: the first of the token source's vendors that
   *    setPushConfig switched on (APNs needs no switch). None:
   *    `registered` with ZPNsErrorCode.NoVendorEnabled.
   * 2. The token (and the PushKit token with enableIOSVoIP on iOS) from
   *    the source. None: TokenUnavailable / VoIPTokenUnavailable.
   * 3. The environment. Android: enableDebug (true: development, false:
   *    production). iOS: iOSEnvironment Development or Production as
   *    given; Automatic (the default) takes the token source's
   *    apnsEnvironment() (the build's aps-environment entitlement) and,
   *    when the source cannot tell, enableDebug's choice.
   * 4. The registration goes to ZIM: sent at once when ZIM is logged in,
   *    else with the next login. `registered` fires with the server's
   *    PushID, or with the server's error code (40012 invalid_push_device,
   *    40906 device_in_use, ...).
   *
   * A registerPush that fails in steps 1–2 leaves the present registration
   * as it was. A new registerPush replaces the previous one: once the new
   * one is bound, the previous PushID, when it differs, is unregistered
   * (as after a token refresh). The returned promise
   * never rejects: it resolves when the attempt is over (bound, refused,
   * or waiting for the next login). Bad options, or no token source,
   * throw ZIMError (InvalidArgument / NoTokenSource) and change nothing.
   */
  registerPush(config: ZPNsRegisterConfig = {}): Promise<void> {
    if (!isObject(config)) throw invalid('registerPush takes an object');
    for (const [k, v] of Object.entries(config)) {
      if (k === 'enableIOSVoIP') {
        if (v !== undefined && typeof v !== 'boolean') throw invalid('registerPush: enableIOSVoIP must be a boolean');
      } else if (k === 'iOSEnvironment') {
        if (v !== undefined && v !== ZPNsIOSEnvironment.Development && v !== ZPNsIOSEnvironment.Production && v !== ZPNsIOSEnvironment.Automatic) {
          throw invalid('registerPush: iOSEnvironment must be a ZPNsIOSEnvironment (Development, Production or Automatic)');
        }
      } else if (k === 'iOSNotificationArrivedConfig') {
        if (v !== undefined) {
          checkBooleans('registerPush: iOSNotificationArrivedConfig', v, ['isPresentAlert', 'isPresentSound', 'isPresentBadge']);
        }
      } else {
        throw invalid(`registerPush: unknown option ${JSON.stringify(k)} (want enableIOSVoIP, iOSEnvironment, iOSNotificationArrivedConfig)`);
      }
    }
    const source = ZPNs.source;
    if (!source) {
      throw new ZIMError(ZPNsErrorCode.NoTokenSource, 'zpns: registerPush needs a token source: call ZPNs.setPushTokenSource first');
    }
    const generation = ++this.generation;
    return this.register(generation, source, { ...config }, ZPNs.debug);
  }

  /**
   * unregisterPush stops offline pushes to this device: the registration
   * is dropped (no later login carries it) and, when ZIM is logged in, the
   * server unregisters the device at once (its pending pushes are
   * dropped). When that request fails (or ZIM's connection dropped
   * without logout while the device was bound), the next login carries
   * the device disabled and unregisters it. The returned promise never
   * rejects, like registerPush's. Without a registration it does nothing.
   */
  async unregisterPush(): Promise<void> {
    this.generation++;
    const cur = this.current;
    if (!cur) return;
    this.current = undefined;
    cur.unsubscribe?.();
    const bound = cur.pushID !== undefined && cur.reported;
    const zim = getZIMSide();
    if (zim?.loggedIn()) {
      if (cur.pushID === undefined) return; // never bound: a bind in flight is undone when it answers
      try {
        await zim.unregisterPush(cur.pushID);
      } catch {
        if (!this.current) this.bury(cur);
      }
      return;
    }
    if (bound) this.bury(cur);
  }

  private bury(cur: Current): void {
    this.tombstone = { ...cur.registration, disabled: true };
    this.tombstonePushID = cur.pushID;
  }

  private async register(generation: number, source: PushTokenSource, cfg: ZPNsRegisterConfig, debug: boolean): Promise<void> {
    const enabled = source.vendors.filter((v) => this.enabled(v));
    const vendor = enabled[0];
    if (!vendor) {
      const off = source.vendors.map((v) => switchOf[v as SwitchedVendor]).join(', ');
      this.report(source.vendors[0]!, '', ZPNsErrorCode.NoVendorEnabled, `zpns: setPushConfig switched off every vendor of this device (${off})`);
      return;
    }
    const ios = source.platform === 'ios';
    const voip = ios && cfg.enableIOSVoIP === true;
    let tokens: PushTokens;
    try {
      tokens = await source.getToken({ vendor, voip });
    } catch (e) {
      if (generation === this.generation) {
        this.report(vendor, '', ZPNsErrorCode.TokenUnavailable, `zpns: the token source gave no ${vendor} token: ${toZIMError(e).message}`);
      }
      return;
    }
    if (generation !== this.generation) return;
    if (!isObject(tokens) || typeof tokens.token !== 'string' || tokens.token === '') {
      this.report(vendor, '', ZPNsErrorCode.TokenUnavailable, `zpns: the token source gave no ${vendor} token`);
      return;
    }
    if (voip && (typeof tokens.voipToken !== 'string' || tokens.voipToken === '')) {
      this.report(vendor, '', ZPNsErrorCode.VoIPTokenUnavailable, 'zpns: enableIOSVoIP, but the token source gave no PushKit token');
      return;
    }
    const environment = ios ? await this.iosEnvironment(source, cfg.iOSEnvironment, debug) : debug ? 'development' : 'production';
    if (generation !== this.generation) return;

    const registration: PushRegistration = { vendor, token: tokens.token, environment, bundleID: source.bundleID };
    if (voip) registration.voipToken = tokens.voipToken!;
    const fg = cfg.iOSNotificationArrivedConfig;
    if (ios && fg) {
      registration.foreground = { alert: fg.isPresentAlert === true, sound: fg.isPresentSound === true, badge: fg.isPresentBadge === true };
    }
    const prev = this.current;
    prev?.unsubscribe?.();
    const replaces = prev ? (prev.pushID ?? prev.replaces) : this.tombstone ? this.tombstonePushID : undefined;
    const cur: Current = { registration, vendor, pushID: undefined, replaces, reported: false, unsubscribe: undefined };
    this.current = cur;
    this.tombstone = undefined;
    cur.unsubscribe = source.subscribe?.({
      notification: (event, message) => this.notification(cur, event, message),
      tokenRefreshed: (update) => this.tokenRefreshed(cur, update),
    });
    const zim = getZIMSide();
    if (zim?.loggedIn()) {
      await this.bindNow(zim, cur);
    }
  }

  private async iosEnvironment(source: PushTokenSource, env: ZPNsIOSEnvironment | undefined, debug: boolean): Promise<APNsEnvironment> {
    if (env === ZPNsIOSEnvironment.Development) return 'development';
    if (env === ZPNsIOSEnvironment.Production) return 'production';
    let told: unknown;
    try {
      told = await source.apnsEnvironment?.();
    } catch {
      told = undefined;
    }
    if (told === 'development' || told === 'production') return told;
    return debug ? 'development' : 'production';
  }

  private enabled(vendor: PushVendor): boolean {
    return vendor === 'apns' || vendor === 'harmony' || vendor === 'webpush' || ZPNs.config[switchOf[vendor]] === true;
  }

  // bindNow sends cur's registration (logged in).
  private async bindNow(zim: ZIMSide, cur: Current): Promise<void> {
    let pushID: string;
    try {
      pushID = await zim.registerPush(cur.registration);
    } catch (e) {
      const err = toZIMError(e);
      // The login ended before the request went out (logout, destroy, a
      // failed login): not bound now, and the next login carries it.
      if (notBoundNow.includes(err.code)) return;
      if (this.current === cur) this.bound(cur, { error: err });
      return;
    }
    if (this.current !== cur) {
      // Unregistered (or replaced) while the bind was in flight.
      if (!this.current || this.current.pushID !== pushID) zim.unregisterPush(pushID).catch(() => {});
      return;
    }
    this.bound(cur, { pushID });
  }

  // handOut is PushSide.registration: what the login being sent carries.
  private handOut(): PushRegistration | undefined {
    const cur = this.current;
    this.handed = cur ? { reg: cur.registration, owner: cur } : this.tombstone ? { reg: this.tombstone, owner: 'tombstone' } : undefined;
    return this.handed?.reg;
  }

  // loginBound is PushSide.bound: the server's answer to the registration
  // the last login carried.
  private loginBound(result: { pushID: string } | { error: ZIMError }): void {
    const handed = this.handed;
    this.handed = undefined;
    if (!handed) return;
    const cur = this.current;
    if (cur && (handed.owner === cur || sameDevice(handed.reg, cur.registration))) {
      this.bound(cur, result);
      return;
    }
    if (handed.owner === 'tombstone' && this.tombstone === handed.reg) {
      // Done either way: unregistered below, or refused (then never again,
      // lest every login fail on it).
      this.tombstone = undefined;
    }
    // The login carried a registration ZPNs no longer holds (the
    // tombstone, or one unregistered or replaced while the login was in
    // flight): undo its binding.
    if ('pushID' in result) getZIMSide()?.unregisterPush(result.pushID).catch(() => {});
  }

  private bound(cur: Current, result: { pushID: string } | { error: ZIMError }): void {
    if ('error' in result) {
      cur.reported = false;
      this.report(cur.vendor, '', result.error.code, result.error.message);
      return;
    }
    const changed = cur.pushID !== result.pushID;
    cur.pushID = result.pushID;
    if (cur.replaces !== undefined) {
      // The device this registration replaced (an older token or
      // registerPush) gets no more pushes.
      if (cur.replaces !== result.pushID) getZIMSide()?.unregisterPush(cur.replaces).catch(() => {});
      cur.replaces = undefined;
    }
    // Logged in: the receipts that waited for a login go now.
    ZPNs.receipts?.flush();
    if (cur.reported && !changed) return;
    cur.reported = true;
    this.report(cur.vendor, result.pushID, 0, '', cur.registration.token);
  }

  private unbound(): void {
    this.tombstone = undefined; // logout unbound it on the server
    if (this.current) this.current.reported = false;
  }

  private configChanged(): void {
    const cur = this.current;
    if (!cur) return;
    const disabled = !this.enabled(cur.vendor);
    if (disabled === (cur.registration.disabled === true)) return;
    const registration = { ...cur.registration };
    if (disabled) registration.disabled = true;
    else delete registration.disabled;
    cur.registration = registration;
    const zim = getZIMSide();
    if (zim?.loggedIn()) void this.bindNow(zim, cur);
  }

  private tokenRefreshed(cur: Current, update: Partial<PushTokens>): void {
    if (this.current !== cur || !isObject(update)) return;
    const registration = { ...cur.registration };
    if (typeof update.token === 'string' && update.token !== '') registration.token = update.token;
    if (typeof update.voipToken === 'string' && update.voipToken !== '' && registration.voipToken !== undefined) {
      registration.voipToken = update.voipToken;
    }
    if (registration.token === cur.registration.token && registration.voipToken === cur.registration.voipToken) return;
    cur.registration = registration;
    cur.replaces ??= cur.pushID;
    cur.reported = false;
    const zim = getZIMSide();
    if (zim?.loggedIn()) void this.bindNow(zim, cur);
  }

  private notification(cur: Current, event: PushSourceEvent, m: PushSourceMessage): void {
    if (this.current !== cur || !notificationEvents.includes(event)) return;
    const extras: Record<string, string> = {};
    if (isObject(m?.extras)) {
      for (const [k, v] of Object.entries(m.extras)) extras[k] = typeof v === 'string' ? v : JSON.stringify(v);
    }
    const message: ZPNsMessage = {
      title: typeof m?.title === 'string' ? m.title : '',
      content: typeof m?.content === 'string' ? m.content : '',
      payload: typeof m?.payload === 'string' ? m.payload : (extras.payload ?? ''),
      extras,
      pushSourceType: pushSourceTypeOf(cur.vendor),
    };
    this.emit(event, message);
    if (event === 'notificationArrived' || event === 'notificationClicked') ZPNs.receipts?.report(event, extras);
  }

  private report(vendor: PushVendor, pushID: string, errorCode: number, errorMessage: string, commandResult = ''): void {
    const message: ZPNsRegisterMessage = { pushID, errorCode, errorMessage, pushSourceType: pushSourceTypeOf(vendor), commandResult };
    this.emit('registered', message);
  }

  private emit<K extends ZPNsEventName>(event: K, data: Parameters<ZPNsEventHandler[K]>[0]): void {
    for (const h of [...this.handlers[event]]) {
      try {
        (h as (d: typeof data) => void)(data);
      } catch (e) {
        // A failing handler must not stop the others or ZPNs: rethrown
        // where the runtime reports it.
        setTimeout(() => {
          throw e;
        }, 0);
      }
    }
  }
}
