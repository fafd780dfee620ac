// A PushKit (VoIP) token from react-native-voip-push-notification, typed
// against the library's shape so that this package does not depend on it.

/** The part of react-native-voip-push-notification's default export used here. */
export interface VoipPushNotificationLike {
  addEventListener(type: 'register' | 'notification' | 'didLoadWithEvents', handler: (arg: any) => void): void;
  registerVoipToken(): void;
}

/** Where an adapter gets the PushKit token (fromFirebaseMessaging's `voip`). */
export interface VoIPTokenProvider {
  /** The PushKit token; rejects when PushKit gave none in time. */
  getToken(): Promise<string>;
  /** Calls listener with each new PushKit token; returns the unsubscribe. */
  onTokenRefresh(listener: (token: string) => void): () => void;
}

// The library's native event name of a PushKit token, as replayed by
// didLoadWithEvents (events that fired before the JS bridge was up).
const registeredEvent = 'RNVoipPushRemoteNotificationsRegisteredEvent';

/**
 * fromVoipPushNotification turns react-native-voip-push-notification into
 * a VoIPTokenProvider: it listens to `register` (and to `didLoadWithEvents`
 * for a token PushKit gave before JavaScript ran) and calls
 * registerVoipToken at the first getToken. getToken rejects after
 * timeoutMs (default 10 s) without a token. The VoIP pushes themselves
 * (`notification`) go to the app's CallKit code, not to ZPNs: the seed's
 * callbacks do not cover them.
 */
export function fromVoipPushNotification(voip: VoipPushNotificationLike, timeoutMs = 10_000): VoIPTokenProvider {
  let token: string | undefined;
  let started = false;
  const waiting = new Set<(t: string) => void>();
  const refresh = new Set<(t: string) => void>();
  const got = (t: unknown) => {
    if (typeof t !== 'string' || t === '' || t === token) return;
    const renewed = token !== undefined;
    token = t;
    for (const w of [...waiting]) w(t);
    waiting.clear();
    if (renewed) for (const l of [...refresh]) l(t);
  };
  const start = () => {
    if (started) return;
    started = true;
    voip.addEventListener('register', got);
    voip.addEventListener('didLoadWithEvents', (events: unknown) => {
      if (!Array.isArray(events)) return;
      for (const e of events) {
        if (e && typeof e === 'object' && (e as { name?: unknown }).name === registeredEvent) got((e as { data?: unknown }).data);
      }
    });
    voip.registerVoipToken();
  };
  return {
    getToken() {
      start();
      if (token) return Promise.resolve(token);
      return new Promise((resolve, reject) => {
        const w = (t: string) => {
          clearTimeout(timer);
          resolve(t);
        };
        const timer = setTimeout(() => {
          waiting.delete(w);
          reject(new Error(`react-native-voip-push-notification gave no PushKit token within ${timeoutMs} ms`));
        }, timeoutMs);
        waiting.add(w);
      });
    },
    onTokenRefresh(listener) {
      start();
      refresh.add(listener);
      return () => {
        refresh.delete(listener);
      };
    },
  };
}
