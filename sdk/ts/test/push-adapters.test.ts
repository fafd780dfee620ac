// The React Native adapters against fakes shaped like the real libraries
// (@react-native-firebase/messaging's messaging(), and
// react-native-voip-push-notification's default export), driven through
// ZPNs.
import { afterEach, expect, test } from 'vitest';
import {
  ZPNs,
  ZPNsErrorCode,
  ZPNsPushSourceType,
  fromFirebaseMessaging,
  fromVoipPushNotification,
  type FirebaseRemoteMessage,
  type ZPNsMessage,
  type ZPNsRegisterMessage,
} from '../src/index.js';
import { getPushSide } from '../src/internal/pushlink.js';

type Listener<T> = (v: T) => unknown;

// FakeMessaging behaves as messaging() does: listeners return their
// unsubscribe, one background handler, the initial notification once.
class FakeMessaging {
  token = 'fcm-token-1';
  apnsToken: string | null = 'apns-token-1';
  initial: FirebaseRemoteMessage | null = null;
  background: ((m: FirebaseRemoteMessage) => Promise<unknown>) | undefined;
  permissionAsked = 0;
  private readonly lists = { message: new Set<Listener<FirebaseRemoteMessage>>(), opened: new Set<Listener<FirebaseRemoteMessage>>(), token: new Set<Listener<string>>() };
  async getToken() {
    return this.token;
  }
  async getAPNSToken() {
    return this.apnsToken;
  }
  onTokenRefresh(l: Listener<string>) {
    this.lists.token.add(l);
    return () => void this.lists.token.delete(l);
  }
  onMessage(l: Listener<FirebaseRemoteMessage>) {
    this.lists.message.add(l);
    return () => void this.lists.message.delete(l);
  }
  onNotificationOpenedApp(l: Listener<FirebaseRemoteMessage>) {
    this.lists.opened.add(l);
    return () => void this.lists.opened.delete(l);
  }
  setBackgroundMessageHandler(h: (m: FirebaseRemoteMessage) => Promise<unknown>) {
    this.background = h;
  }
  async getInitialNotification() {
    const m = this.initial;
    this.initial = null;
    return m;
  }
  async requestPermission() {
    this.permissionAsked++;
    return 1; // AuthorizationStatus.AUTHORIZED
  }
  // The native side:
  deliver(m: FirebaseRemoteMessage) {
    for (const l of this.lists.message) l(m);
  }
  open(m: FirebaseRemoteMessage) {
    for (const l of this.lists.opened) l(m);
  }
  refresh(t: string) {
    this.token = t;
    for (const l of this.lists.token) l(t);
  }
  listenerCount() {
    return this.lists.message.size + this.lists.opened.size + this.lists.token.size;
  }
}

// FakeVoip behaves as RNVoipPushNotification: addEventListener by type,
// registerVoipToken makes PushKit answer (later) with `register`.
class FakeVoip {
  handlers = new Map<string, Array<(arg: any) => void>>();
  registerCalls = 0;
  pending: string | undefined = 'voip-token-1';
  addEventListener(type: 'register' | 'notification' | 'didLoadWithEvents', h: (arg: any) => void) {
    this.handlers.set(type, [...(this.handlers.get(type) ?? []), h]);
  }
  removeEventListener(type: string) {
    this.handlers.delete(type);
  }
  registerVoipToken() {
    this.registerCalls++;
    const t = this.pending;
    if (t) setTimeout(() => this.fire('register', t), 1);
  }
  onVoipNotificationCompleted(_uuid: string) {}
  fire(type: string, arg: unknown) {
    for (const h of this.handlers.get(type) ?? []) h(arg);
  }
}

const zpns = ZPNs.getInstance();
const got: Array<[string, ZPNsMessage | ZPNsRegisterMessage]> = [];
for (const ev of ['registered', 'notificationArrived', 'throughMessageReceived', 'notificationClicked'] as const) {
  zpns.on(ev, (m: any) => got.push([ev, m]));
}

afterEach(async () => {
  await zpns.unregisterPush();
  ZPNs.setPushTokenSource(undefined);
  ZPNs.setPushConfig({});
  got.length = 0;
});

test('Android FCM: token, foreground and background messages, taps, token refresh, unsubscribe', async () => {
  const m = new FakeMessaging();
  m.initial = { messageId: 'm0', data: { payload: 'opened-app' }, notification: { title: 'T0', body: 'C0' } };
  const src = fromFirebaseMessaging(m, { platform: 'android', bundleID: 'im.herald.dev' });
  expect(m.background).toBeTypeOf('function');
  ZPNs.setPushTokenSource(src);
  ZPNs.setPushConfig({ enableFCMPush: true });
  await zpns.applyNotificationPermission();
  expect(m.permissionAsked).toBe(1);
  await zpns.registerPush();
  expect(getPushSide()!.registration()).toMatchObject({ vendor: 'fcm', token: 'fcm-token-1', bundleID: 'im.herald.dev' });

  m.deliver({ messageId: 'm1', data: { payload: 'p1', n: { deep: 1 } as unknown as string }, notification: { title: 'T1', body: 'C1' } });
  await m.background!({ messageId: 'm2', data: { payload: 'p2', title: 'T2', content: 'C2' } });
  m.open({ messageId: 'm3', data: { payload: 'p3' }, notification: { title: 'T3', body: 'C3' } });
  await expect.poll(() => got.length).toBe(4);
  const fcm = ZPNsPushSourceType.FCM;
  expect(got).toEqual([
    ['notificationClicked', { title: 'T0', content: 'C0', payload: 'opened-app', extras: { payload: 'opened-app' }, pushSourceType: fcm }],
    ['throughMessageReceived', { title: 'T1', content: 'C1', payload: 'p1', extras: { payload: 'p1', n: '{"deep":1}' }, pushSourceType: fcm }],
    ['throughMessageReceived', { title: 'T2', content: 'C2', payload: 'p2', extras: { payload: 'p2', title: 'T2', content: 'C2' }, pushSourceType: fcm }],
    ['notificationClicked', { title: 'T3', content: 'C3', payload: 'p3', extras: { payload: 'p3' }, pushSourceType: fcm }],
  ]);

  m.refresh('fcm-token-2');
  expect(getPushSide()!.registration()?.token).toBe('fcm-token-2');

  await zpns.unregisterPush();
  expect(m.listenerCount()).toBe(0);
  m.deliver({ messageId: 'm4', data: {} });
  await m.background!({ messageId: 'm5', data: {} });
  expect(got).toHaveLength(4);
});

test('iOS: the APNs token and the PushKit token of react-native-voip-push-notification', async () => {
  const m = new FakeMessaging();
  const voip = new FakeVoip();
  const src = fromFirebaseMessaging(m, {
    platform: 'ios',
    bundleID: 'im.herald.dev',
    apnsEnvironment: () => 'development',
    voip: fromVoipPushNotification(voip),
  });
  expect(m.background).toBeUndefined();
  ZPNs.setPushTokenSource(src);
  await zpns.registerPush({ enableIOSVoIP: true });
  expect(voip.registerCalls).toBe(1);
  expect(getPushSide()!.registration()).toEqual({
    vendor: 'apns',
    token: 'apns-token-1',
    voipToken: 'voip-token-1',
    environment: 'development',
    bundleID: 'im.herald.dev',
  });
  m.deliver({ messageId: 'm1', data: { payload: 'p' }, notification: { title: 'T', body: 'C' } });
  expect(got).toEqual([['notificationArrived', { title: 'T', content: 'C', payload: 'p', extras: { payload: 'p' }, pushSourceType: ZPNsPushSourceType.APNs }]]);

  // PushKit renews its token: ZPNs registers it.
  voip.fire('register', 'voip-token-2');
  expect(getPushSide()!.registration()?.voipToken).toBe('voip-token-2');
});

test('PushKit token given before JavaScript ran (didLoadWithEvents); none at all is VoIPTokenUnavailable', async () => {
  const early = new FakeVoip();
  early.pending = undefined;
  const provider = fromVoipPushNotification(early, 50);
  const p = provider.getToken();
  early.fire('didLoadWithEvents', [{ name: 'RNVoipPushRemoteNotificationsRegisteredEvent', data: 'voip-early' }]);
  await expect(p).resolves.toBe('voip-early');

  const never = new FakeVoip();
  never.pending = undefined;
  ZPNs.setPushTokenSource(fromFirebaseMessaging(new FakeMessaging(), { platform: 'ios', bundleID: 'im.herald.dev', voip: fromVoipPushNotification(never, 50) }));
  await zpns.registerPush({ enableIOSVoIP: true });
  expect(got).toEqual([['registered', expect.objectContaining({ errorCode: ZPNsErrorCode.TokenUnavailable })]]);
  expect(getPushSide()!.registration()).toBeUndefined();
});

test('no APNs token yet: TokenUnavailable; the app may install its own background handler', async () => {
  const m = new FakeMessaging();
  m.apnsToken = null;
  ZPNs.setPushTokenSource(fromFirebaseMessaging(m, { platform: 'ios', bundleID: 'im.herald.dev' }));
  await zpns.registerPush();
  expect(got).toEqual([['registered', expect.objectContaining({ errorCode: ZPNsErrorCode.TokenUnavailable, pushSourceType: ZPNsPushSourceType.APNs })]]);

  const own = new FakeMessaging();
  const src = fromFirebaseMessaging(own, { platform: 'android', bundleID: 'im.herald.dev', backgroundHandler: false });
  expect(own.background).toBeUndefined();
  ZPNs.setPushTokenSource(src);
  ZPNs.setPushConfig({ enableFCMPush: true });
  await zpns.registerPush();
  got.length = 0;
  src.backgroundMessage({ data: { payload: 'mine' } });
  expect(got).toEqual([['throughMessageReceived', expect.objectContaining({ payload: 'mine' })]]);
});
