// Web Push for browsers (vendor "webpush"): a PushTokenSource that
// registers Herald's service worker, subscribes with the app's VAPID
// public key (pushManager.subscribe, W3C Push API) and uses the
// subscription as the device token; and the service worker script, which
// shows each push and tells the site's open pages.
import type { PushSourceEvent, PushSourceListener, PushSourceMessage, PushTokens, PushTokenSource } from './source.js';

/** The parts of a PushSubscription the source uses. */
export interface WebPushSubscriptionLike {
  toJSON(): unknown;
}

/** The parts of a ServiceWorkerRegistration the source uses. */
export interface WebPushRegistrationLike {
  pushManager: {
    getSubscription(): Promise<WebPushSubscriptionLike | null>;
    subscribe(options: { userVisibleOnly: boolean; applicationServerKey: Uint8Array }): Promise<WebPushSubscriptionLike>;
  };
}

/** The parts of navigator.serviceWorker the source uses. */
export interface WebPushServiceWorkerContainerLike {
  register(url: string, options?: { scope?: string }): Promise<WebPushRegistrationLike>;
  ready: Promise<WebPushRegistrationLike>;
  addEventListener(type: 'message', listener: (e: { data: unknown }) => void): void;
  removeEventListener(type: 'message', listener: (e: { data: unknown }) => void): void;
}

/** Options of webPushSource. */
export interface WebPushSourceOptions {
  /**
   * The app's VAPID public key, base64url (the admin API's webpush
   * credential shows it as publicKey; ZIM.getWebPushKey() has it after a
   * login): a string, or a function asked at each registerPush (e.g.
   * `() => zim.getWebPushKey()`, with registerPush called after login).
   */
  applicationServerKey: string | (() => string | Promise<string>);
  /** The service worker script's URL. Default '/herald-sw.js' (dist/herald-sw.js). */
  serviceWorkerURL?: string;
  /** The service worker's scope. Default: the script's directory. */
  scope?: string;
  /** The bundle ID of the registration. Default: the page's origin. */
  bundleID?: string;
  /** navigator.serviceWorker (tests pass their own). Default: the page's. */
  serviceWorker?: WebPushServiceWorkerContainerLike;
  /** Notification.requestPermission (tests pass their own). Default: the page's. */
  requestPermission?: () => Promise<unknown>;
}

/** The message the service worker posts to the site's pages (postMessage). */
export interface WebPushWorkerMessage {
  herald: 'webpush';
  event: PushSourceEvent;
  message: PushSourceMessage;
}

/** base64url (with or without padding) to bytes, as applicationServerKey takes them. */
export function base64URLToBytes(s: string): Uint8Array {
  const b64 = s.replace(/-/g, '+').replace(/_/g, '/').replace(/=+$/, '');
  const bin = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function isWorkerMessage(d: unknown): d is WebPushWorkerMessage {
  if (typeof d !== 'object' || d === null) return false;
  const m = d as Record<string, unknown>;
  return m.herald === 'webpush' && (m.event === 'notificationArrived' || m.event === 'notificationClicked') &&
    typeof m.message === 'object' && m.message !== null;
}

/**
 * webPushSource is the PushTokenSource of a page: platform "web", vendor
 * "webpush", the page's origin as bundle ID. getToken registers the
 * service worker, waits until it is ready, and returns the present
 * subscription or subscribes ({userVisibleOnly: true,
 * applicationServerKey}); the token is the subscription's JSON
 * (PushSubscription.toJSON()). subscribe relays the service worker's
 * notificationArrived and notificationClicked to ZPNs.
 */
export function webPushSource(opts: WebPushSourceOptions): PushTokenSource {
  const g = globalThis as unknown as {
    navigator?: { serviceWorker?: WebPushServiceWorkerContainerLike };
    location?: { origin?: string };
    Notification?: { requestPermission(): Promise<unknown> };
  };
  const sw = () => {
    const c = opts.serviceWorker ?? g.navigator?.serviceWorker;
    if (!c) throw new Error('webpush: this browser has no service workers (navigator.serviceWorker)');
    return c;
  };
  const bundleID = opts.bundleID ?? g.location?.origin ?? '';
  return {
    platform: 'web',
    vendors: ['webpush'],
    bundleID,
    async getToken(): Promise<PushTokens> {
      const key = typeof opts.applicationServerKey === 'function' ? await opts.applicationServerKey() : opts.applicationServerKey;
      if (typeof key !== 'string' || key === '') {
        throw new Error('webpush: no applicationServerKey (the app has no Web Push credential, or the login has not happened yet)');
      }
      const c = sw();
      await c.register(opts.serviceWorkerURL ?? '/herald-sw.js', opts.scope === undefined ? undefined : { scope: opts.scope });
      const reg = await c.ready;
      const sub = (await reg.pushManager.getSubscription()) ??
        (await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: base64URLToBytes(key) }));
      return { token: JSON.stringify(sub.toJSON()) };
    },
    subscribe(listener: PushSourceListener): () => void {
      const c = opts.serviceWorker ?? g.navigator?.serviceWorker;
      if (!c) return () => {};
      const onMessage = (e: { data: unknown }) => {
        if (isWorkerMessage(e.data)) listener.notification(e.data.event, e.data.message);
      };
      c.addEventListener('message', onMessage);
      return () => c.removeEventListener('message', onMessage);
    },
    async requestPermission(): Promise<unknown> {
      const ask = opts.requestPermission ?? (g.Notification ? () => g.Notification!.requestPermission() : undefined);
      return ask?.();
    },
  };
}
