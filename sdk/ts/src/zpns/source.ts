// PushTokenSource: where ZPNs gets the device's vendor token and hears the
// notifications the OS hands the app. A React Native app plugs in its
// native vendor modules (adapters/ has thin ones for the common
// libraries); tests and demos plug in an EmulatedPhone.

/** A vendor push channel, as the server's `login.push.vendor` names it. */
/** harmony is HarmonyOS NEXT (5 and later) Push Kit, whose tokens come from pushService.getToken(). */
export type PushVendor = 'apns' | 'fcm' | 'huawei' | 'xiaomi' | 'oppo' | 'vivo' | 'harmony' | 'honor' | 'webpush';

/** Every vendor, in a stable order. */
export const pushVendors: readonly PushVendor[] = ['apns', 'fcm', 'huawei', 'xiaomi', 'oppo', 'vivo', 'harmony', 'honor', 'webpush'];

/** The device's OS. */
export type PushPlatform = 'ios' | 'android' | 'harmonyos' | 'web';

/** The platform a vendor's devices run: apns iOS, webpush a browser, harmony HarmonyOS NEXT, the others Android. */
export function platformOfVendor(v: PushVendor): PushPlatform {
  return v === 'apns' ? 'ios' : v === 'webpush' ? 'web' : v === 'harmony' ? 'harmonyos' : 'android';
}

/** The APNs environment of a build. */
export type APNsEnvironment = 'development' | 'production';

/** What ZPNs asks the source for at registerPush. */
export interface PushTokenRequest {
  /** The vendor ZPNs picked (one of the source's vendors). */
  vendor: PushVendor;
  /** Also get a PushKit (VoIP) token: iOS with enableIOSVoIP only. */
  voip: boolean;
}

/** The source's answer. */
export interface PushTokens {
  /** The vendor's device token (1–512 characters). */
  token: string;
  /** The PushKit token, when asked for and the device has one. */
  voipToken?: string;
}

/** A notification or pass-through message as the source got it from the OS. */
export interface PushSourceMessage {
  title?: string;
  content?: string;
  payload?: string;
  extras?: Record<string, string>;
}

/** What the OS did with a push, as a ZPNs event. */
export type PushSourceEvent = 'notificationArrived' | 'throughMessageReceived' | 'notificationClicked';

/** What the source tells ZPNs after registerPush (subscribe). */
export interface PushSourceListener {
  /** The OS handed the app a push: ZPNs raises `event` with it. */
  notification(event: PushSourceEvent, message: PushSourceMessage): void;
  /** The vendor issued a new token (or PushKit token): ZPNs registers it again. */
  tokenRefreshed(tokens: Partial<PushTokens>): void;
}

/**
 * PushTokenSource is the device's side of the vendor channels. The
 * contract:
 *
 * - `platform`, `vendors` and `bundleID` are known when the source is
 *   given to ZPNs.setPushTokenSource (which checks them and throws
 *   ZPNsErrorCode.InvalidArgument when they break this contract).
 *   `vendors` lists the vendor channels this device can use, best first
 *   (an Android phone of Xiaomi with Google services: ['xiaomi', 'fcm'];
 *   iOS: ['apns']). ZPNs registers the first one that setPushConfig
 *   enabled (APNs needs no switch); a vendor switched off is never asked
 *   for a token.
 * - `getToken` returns the chosen vendor's token, and the PushKit token
 *   when `voip` is set. It may reject (no Google services, permission
 *   denied, ...): ZPNs reports ZPNsErrorCode.TokenUnavailable with the
 *   rejection's message in `registered`.
 * - `apnsEnvironment` (optional, iOS) tells the build's APNs environment,
 *   e.g. a native module reading the provisioning profile's
 *   aps-environment entitlement; undefined when it cannot tell. This is how
 *   ZPNsIOSEnvironment.Automatic resolves: the source's answer, else
 *   ZPNs.enableDebug's choice (true: development, false: production).
 * - `subscribe` (optional) delivers the notifications the OS hands the app
 *   and token refreshes, from registerPush until unregisterPush (ZPNs calls
 *   the returned function then). Without it ZPNs raises no
 *   notificationArrived / throughMessageReceived / notificationClicked.
 * - `requestPermission` (optional) asks the user for notification
 *   permission (applyNotificationPermission); a no-op without it.
 *
 * The source decides nothing about which callbacks a vendor raises: it
 * reports what the OS and the vendor's SDK did.
 */
export interface PushTokenSource {
  readonly platform: PushPlatform;
  readonly vendors: readonly PushVendor[];
  /** The iOS bundle ID or the Android package name (the push topic); a page's origin for web. */
  readonly bundleID: string;
  getToken(req: PushTokenRequest): Promise<PushTokens>;
  apnsEnvironment?(): APNsEnvironment | undefined | Promise<APNsEnvironment | undefined>;
  subscribe?(listener: PushSourceListener): () => void;
  requestPermission?(): Promise<unknown>;
}
