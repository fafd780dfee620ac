// A PushTokenSource from @react-native-firebase/messaging, typed against
// the library's shape (local structural interfaces) so that this package
// does not depend on it.
import type { APNsEnvironment, PushSourceListener, PushSourceMessage, PushTokenRequest, PushTokens, PushTokenSource } from '../source.js';
import type { VoIPTokenProvider } from './voip.js';

/** The part of a RemoteMessage used here. */
export interface FirebaseRemoteMessage {
  messageId?: string;
  data?: { [key: string]: string | object };
  notification?: { title?: string; body?: string };
}

/** The part of @react-native-firebase/messaging's messaging() used here. */
export interface FirebaseMessagingLike {
  getToken(): Promise<string>;
  getAPNSToken(): Promise<string | null>;
  onTokenRefresh(listener: (token: string) => unknown): () => void;
  onMessage(listener: (message: FirebaseRemoteMessage) => unknown): () => void;
  setBackgroundMessageHandler(handler: (message: FirebaseRemoteMessage) => Promise<unknown>): void;
  onNotificationOpenedApp(listener: (message: FirebaseRemoteMessage) => unknown): () => void;
  getInitialNotification(): Promise<FirebaseRemoteMessage | null>;
  requestPermission(): Promise<unknown>;
}

/** fromFirebaseMessaging's options. */
export interface FirebaseSourceOptions {
  /** Platform.OS: 'ios' registers the APNs token (getAPNSToken), 'android' the FCM token. */
  platform: 'ios' | 'android';
  /** The iOS bundle ID or Android package name (e.g. from react-native-device-info's getBundleId). */
  bundleID: string;
  /** iOS: the build's aps-environment, when a native module can read it (see PushTokenSource.apnsEnvironment). */
  apnsEnvironment?: () => APNsEnvironment | undefined | Promise<APNsEnvironment | undefined>;
  /** iOS: where the PushKit token comes from (fromVoipPushNotification), for enableIOSVoIP. */
  voip?: VoIPTokenProvider;
  /**
   * Android: install the library's background message handler (default
   * true). Set false when the app installs its own (the library keeps only
   * one) and calls the returned source's `backgroundMessage` from it.
   */
  backgroundHandler?: boolean;
}

/** The source fromFirebaseMessaging returns. */
export interface FirebaseTokenSource extends PushTokenSource {
  /** Hand a message from the app's own background handler to ZPNs (throughMessageReceived). */
  backgroundMessage(message: FirebaseRemoteMessage): void;
}

function toMessage(m: FirebaseRemoteMessage): PushSourceMessage {
  const extras: Record<string, string> = {};
  for (const [k, v] of Object.entries(m.data ?? {})) extras[k] = typeof v === 'string' ? v : JSON.stringify(v);
  return {
    title: m.notification?.title ?? extras.title ?? '',
    content: m.notification?.body ?? extras.content ?? '',
    payload: extras.payload ?? '',
    extras,
  };
}

/**
 * fromFirebaseMessaging makes a PushTokenSource of
 * @react-native-firebase/messaging: `fromFirebaseMessaging(messaging(),
 * {platform: Platform.OS, bundleID})`.
 *
 * - Android: vendor fcm, the token of getToken; onTokenRefresh
 *   re-registers. onMessage (app in the foreground) and the background
 *   message handler are the FCM SDK's onMessageReceived:
 *   throughMessageReceived. onNotificationOpenedApp and
 *   getInitialNotification (the app opened by a tap):
 *   notificationClicked.
 * - iOS: vendor apns, the token of getAPNSToken (the PushKit token from
 *   `voip` with enableIOSVoIP). The library reports only messages that
 *   came through FCM (they carry gcm.message_id); Herald sends to APNs
 *   directly, so on iOS this source gives the token, and the arrival and
 *   click callbacks need a notification module that reports every APNs
 *   notification (write a PushTokenSource around it, or wrap this one).
 *   Where the library does report one: onMessage is notificationArrived,
 *   a tap notificationClicked.
 *
 * Which of these the vendor really raises in which app state is the
 * vendor's (the seed's table); the adapter passes on what the library
 * reports.
 */
export function fromFirebaseMessaging(messaging: FirebaseMessagingLike, options: FirebaseSourceOptions): FirebaseTokenSource {
  const ios = options.platform === 'ios';
  const listeners = new Set<PushSourceListener>();
  let initialAsked = false;
  const each = (f: (l: PushSourceListener) => void) => {
    for (const l of [...listeners]) f(l);
  };
  const background = (m: FirebaseRemoteMessage) => each((l) => l.notification('throughMessageReceived', toMessage(m)));
  if (!ios && options.backgroundHandler !== false) {
    messaging.setBackgroundMessageHandler(async (m) => background(m));
  }
  const source: FirebaseTokenSource = {
    platform: options.platform,
    vendors: ios ? ['apns'] : ['fcm'],
    bundleID: options.bundleID,
    async getToken(req: PushTokenRequest): Promise<PushTokens> {
      const token = ios ? await messaging.getAPNSToken() : await messaging.getToken();
      if (!token) throw new Error(ios ? 'getAPNSToken gave no APNs token (not registered for remote notifications yet?)' : 'getToken gave no FCM token');
      const out: PushTokens = { token };
      if (req.voip && options.voip) out.voipToken = await options.voip.getToken();
      return out;
    },
    subscribe(listener: PushSourceListener): () => void {
      listeners.add(listener);
      const offs: Array<() => void> = [];
      // The first subscriber hears the tap that opened the app, once.
      if (!initialAsked) {
        initialAsked = true;
        messaging.getInitialNotification().then(
          (m) => {
            if (m && listeners.has(listener)) listener.notification('notificationClicked', toMessage(m));
          },
          () => {},
        );
      }
      offs.push(messaging.onMessage((m) => listener.notification(ios ? 'notificationArrived' : 'throughMessageReceived', toMessage(m))));
      offs.push(messaging.onNotificationOpenedApp((m) => listener.notification('notificationClicked', toMessage(m))));
      if (!ios) offs.push(messaging.onTokenRefresh((token) => listener.tokenRefreshed({ token })));
      if (ios && options.voip) offs.push(options.voip.onTokenRefresh((voipToken) => listener.tokenRefreshed({ voipToken })));
      return () => {
        listeners.delete(listener);
        for (const off of offs) off();
      };
    },
    async requestPermission() {
      return messaging.requestPermission();
    },
    backgroundMessage: background,
  };
  if (ios && options.apnsEnvironment) source.apnsEnvironment = options.apnsEnvironment;
  return source;
}
