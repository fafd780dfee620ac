// ZPNs' registration lifecycle against a fake ZIM side and a fake token
// source: vendor choice, environments, binding at login or at once,
// refresh, unregister, switches, and bad input. The real server and phones
// are in push.test.ts.
import { afterEach, describe, expect, test } from 'vitest';
import {
  ZIMError,
  ZPNs,
  ZPNsErrorCode,
  ZPNsIOSEnvironment,
  ZPNsPushSourceType,
  type PushRegistration,
  type PushSourceListener,
  type PushTokenRequest,
  type PushTokenSource,
  type PushVendor,
  type ZPNsMessage,
  type ZPNsRegisterMessage,
} from '../src/index.js';
import { getPushSide, setZIMSide, type ZIMSide } from '../src/internal/pushlink.js';

class FakeSource implements PushTokenSource {
  asked: PushTokenRequest[] = [];
  listeners = new Set<PushSourceListener>();
  fail: Error | undefined;
  voipToken: string | undefined = 'voip-1';
  env: 'development' | 'production' | undefined;
  apnsEnvironment?: () => 'development' | 'production' | undefined;
  constructor(
    readonly platform: 'ios' | 'android',
    readonly vendors: PushVendor[],
    readonly bundleID = 'im.herald.test',
    public token = 'tok-1',
  ) {
    if (platform === 'ios') this.apnsEnvironment = () => this.env;
  }
  async getToken(req: PushTokenRequest) {
    this.asked.push(req);
    if (this.fail) throw this.fail;
    return req.voip && this.voipToken ? { token: this.token, voipToken: this.voipToken } : { token: this.token };
  }
  subscribe(l: PushSourceListener) {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }
  refresh(token: string) {
    this.token = token;
    for (const l of this.listeners) l.tokenRefreshed({ token });
  }
}

// FakeZIM plays ZIM's half of the link: logins carry the registration
// and report the server's answer; registerPush / unregisterPush while
// logged in are recorded.
class FakeZIM implements ZIMSide {
  online = false;
  registered: PushRegistration[] = [];
  unregistered: string[] = [];
  logins: Array<PushRegistration | undefined> = [];
  refuse: ZIMError | undefined;
  loggedIn() {
    return this.online;
  }
  async registerPush(reg: PushRegistration) {
    this.registered.push(reg);
    if (this.refuse) throw this.refuse;
    return pushIDOf(reg);
  }
  failUnregister = false;
  async unregisterPush(pushID: string) {
    this.unregistered.push(pushID);
    if (this.failUnregister) throw new ZIMError(60001, 'timeout');
  }
  login() {
    const reg = getPushSide()?.registration();
    this.logins.push(reg);
    this.online = true;
    if (reg) getPushSide()!.bound(this.refuse ? { error: this.refuse } : { pushID: pushIDOf(reg) });
  }
  logout() {
    this.online = false;
    getPushSide()?.unbound();
  }
  drop() {
    this.online = false;
  }
  receipts: Array<[string, string]> = [];
  async reportPushReceipt(kind: 'notificationArrived' | 'notificationClicked', pushJobID: string) {
    this.receipts.push([kind, pushJobID]);
    return false;
  }
}

function pushIDOf(reg: PushRegistration): string {
  return `${reg.environment === 'development' ? 'D' : 'P'}-${reg.vendor}-${reg.token}`;
}

const zim = new FakeZIM();
setZIMSide(zim);
const zpns = ZPNs.getInstance();
const registered: ZPNsRegisterMessage[] = [];
zpns.on('registered', (m) => registered.push(m));

afterEach(async () => {
  zim.online = false;
  await zpns.unregisterPush();
  zim.logout();
  ZPNs.setPushTokenSource(undefined);
  ZPNs.setPushConfig({});
  ZPNs.enableDebug(false);
  Object.assign(zim, { registered: [], unregistered: [], logins: [], refuse: undefined, failUnregister: false });
  registered.length = 0;
});

describe('bad input throws a documented error and changes nothing', () => {
  test('registerPush before a token source', () => {
    expect(() => zpns.registerPush()).toThrow(expect.objectContaining({ code: ZPNsErrorCode.NoTokenSource }));
    expect(getPushSide()!.registration()).toBeUndefined();
    expect(registered).toEqual([]);
  });

  test('a token source with an unknown vendor, a vendor of the other platform, no bundle ID', () => {
    const good = new FakeSource('android', ['fcm']);
    ZPNs.setPushTokenSource(good);
    for (const bad of [
      new FakeSource('android', ['nokia' as PushVendor]),
      new FakeSource('android', ['apns']),
      new FakeSource('ios', ['fcm']),
      new FakeSource('android', []),
      new FakeSource('android', ['fcm'], ''),
      { ...good, platform: 'windows' } as unknown as PushTokenSource,
    ]) {
      expect(() => ZPNs.setPushTokenSource(bad)).toThrow(expect.objectContaining({ code: ZPNsErrorCode.InvalidArgument }));
    }
    ZPNs.setPushConfig({ enableFCMPush: true });
    return zpns.registerPush().then(() => {
      expect(good.asked).toEqual([{ vendor: 'fcm', voip: false }]); // the good source is still the one
    });
  });

  test('bad options of registerPush, setPushConfig, enableDebug, on', () => {
    ZPNs.setPushTokenSource(new FakeSource('ios', ['apns']));
    ZPNs.setPushConfig({ enableHWPush: true });
    const code = { code: ZPNsErrorCode.InvalidArgument };
    expect(() => zpns.registerPush({ iOSEnvironment: 7 as ZPNsIOSEnvironment })).toThrow(expect.objectContaining(code));
    expect(() => zpns.registerPush({ enableIOSVoIP: 'yes' as unknown as boolean })).toThrow(expect.objectContaining(code));
    expect(() => zpns.registerPush({ voip: true } as never)).toThrow(expect.objectContaining(code));
    expect(() => zpns.registerPush({ iOSNotificationArrivedConfig: { isPresentAlert: 1 } } as never)).toThrow(expect.objectContaining(code));
    expect(() => ZPNs.setPushConfig({ enableHuaweiPush: true } as never)).toThrow(expect.objectContaining(code));
    expect(() => ZPNs.setPushConfig(null as never)).toThrow(expect.objectContaining(code));
    expect(() => ZPNs.enableDebug('true' as never)).toThrow(expect.objectContaining(code));
    expect(() => zpns.on('arrived' as never, (() => {}) as never)).toThrow(expect.objectContaining(code));
    expect(getPushSide()!.registration()).toBeUndefined();
    // setPushConfig's bad call kept the config it had.
    ZPNs.setPushTokenSource(new FakeSource('android', ['huawei']));
    return zpns.registerPush().then(() => expect(getPushSide()!.registration()?.vendor).toBe('huawei'));
  });
});

describe('vendor choice', () => {
  test('the first vendor of the device that setPushConfig enabled; a vendor off is never asked', async () => {
    const src = new FakeSource('android', ['xiaomi', 'fcm']);
    ZPNs.setPushTokenSource(src);
    ZPNs.setPushConfig({ enableFCMPush: true, enableOppoPush: true });
    await zpns.registerPush();
    expect(src.asked).toEqual([{ vendor: 'fcm', voip: false }]);
    expect(getPushSide()!.registration()).toMatchObject({ vendor: 'fcm', environment: 'production' });
  });

  test('every vendor of the device off: registered with NoVendorEnabled, nothing registered', async () => {
    const src = new FakeSource('android', ['huawei']);
    ZPNs.setPushTokenSource(src);
    ZPNs.setPushConfig({ enableFCMPush: true });
    await zpns.registerPush();
    expect(src.asked).toEqual([]);
    expect(registered).toEqual([expect.objectContaining({ errorCode: ZPNsErrorCode.NoVendorEnabled, pushID: '', pushSourceType: ZPNsPushSourceType.HuaWei })]);
    expect(getPushSide()!.registration()).toBeUndefined();
  });

  test('APNs needs no switch; VoIP only on iOS', async () => {
    const ios = new FakeSource('ios', ['apns']);
    ZPNs.setPushTokenSource(ios);
    await zpns.registerPush({ enableIOSVoIP: true, iOSEnvironment: ZPNsIOSEnvironment.Production });
    expect(getPushSide()!.registration()).toEqual({ vendor: 'apns', token: 'tok-1', voipToken: 'voip-1', environment: 'production', bundleID: 'im.herald.test' });
    const android = new FakeSource('android', ['fcm']);
    ZPNs.setPushTokenSource(android);
    ZPNs.setPushConfig({ enableFCMPush: true });
    await zpns.registerPush({ enableIOSVoIP: true });
    expect(android.asked).toEqual([{ vendor: 'fcm', voip: false }]);
    expect(getPushSide()!.registration()?.voipToken).toBeUndefined();
  });
});

describe('environment', () => {
  const cases: Array<{ name: string; env: ZPNsIOSEnvironment | undefined; told: 'development' | 'production' | undefined; debug: boolean; want: string }> = [
    { name: 'Automatic takes the source: development build, enableDebug(false)', env: ZPNsIOSEnvironment.Automatic, told: 'development', debug: false, want: 'development' },
    { name: 'Automatic takes the source: production build, enableDebug(true)', env: ZPNsIOSEnvironment.Automatic, told: 'production', debug: true, want: 'production' },
    { name: 'Automatic, source cannot tell: enableDebug(true)', env: ZPNsIOSEnvironment.Automatic, told: undefined, debug: true, want: 'development' },
    { name: 'Automatic, source cannot tell: enableDebug(false)', env: ZPNsIOSEnvironment.Automatic, told: undefined, debug: false, want: 'production' },
    { name: 'no iOSEnvironment is Automatic', env: undefined, told: 'development', debug: false, want: 'development' },
    { name: 'Development as given', env: ZPNsIOSEnvironment.Development, told: 'production', debug: false, want: 'development' },
    { name: 'Production as given', env: ZPNsIOSEnvironment.Production, told: 'development', debug: true, want: 'production' },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const src = new FakeSource('ios', ['apns']);
      src.env = c.told;
      ZPNs.setPushTokenSource(src);
      ZPNs.enableDebug(c.debug);
      await zpns.registerPush(c.env === undefined ? {} : { iOSEnvironment: c.env });
      expect(getPushSide()!.registration()?.environment).toBe(c.want);
    });
  }

  test('a source without apnsEnvironment, and Android: enableDebug', async () => {
    const src = new FakeSource('ios', ['apns']);
    delete src.apnsEnvironment;
    ZPNs.setPushTokenSource(src);
    ZPNs.enableDebug(true);
    await zpns.registerPush({ iOSEnvironment: ZPNsIOSEnvironment.Automatic });
    expect(getPushSide()!.registration()?.environment).toBe('development');
    ZPNs.setPushTokenSource(new FakeSource('android', ['vivo']));
    ZPNs.setPushConfig({ enableVivoPush: true });
    await zpns.registerPush({ iOSEnvironment: ZPNsIOSEnvironment.Production });
    expect(getPushSide()!.registration()?.environment).toBe('development');
  });
});

describe('binding', () => {
  test('registered before login: bound at the login, reported once across reconnects', async () => {
    ZPNs.setPushTokenSource(new FakeSource('ios', ['apns']));
    await zpns.registerPush({ iOSNotificationArrivedConfig: { isPresentAlert: true } });
    expect(registered).toEqual([]);
    expect(zim.registered).toEqual([]);
    zim.login();
    expect(zim.logins[0]).toMatchObject({ vendor: 'apns', foreground: { alert: true, sound: false, badge: false } });
    expect(registered).toEqual([
      { pushID: 'P-apns-tok-1', errorCode: 0, errorMessage: '', pushSourceType: ZPNsPushSourceType.APNs, commandResult: 'tok-1' },
    ]);
    zim.drop();
    zim.login(); // a reconnect login: the same binding
    expect(registered).toHaveLength(1);
    zim.logout();
    zim.login(); // a new login after logout binds again
    expect(registered).toHaveLength(2);
  });

  test('registered while logged in: sent at once', async () => {
    zim.login();
    ZPNs.setPushTokenSource(new FakeSource('android', ['oppo']));
    ZPNs.setPushConfig({ enableOppoPush: true });
    await zpns.registerPush();
    expect(zim.registered).toEqual([expect.objectContaining({ vendor: 'oppo', token: 'tok-1' })]);
    expect(registered).toEqual([expect.objectContaining({ pushID: 'P-oppo-tok-1', errorCode: 0, pushSourceType: ZPNsPushSourceType.Oppo })]);
  });

  test('the server refuses: registered carries its code', async () => {
    zim.login();
    zim.refuse = new ZIMError(40906, 'device_in_use');
    ZPNs.setPushTokenSource(new FakeSource('android', ['huawei']));
    ZPNs.setPushConfig({ enableHWPush: true });
    await zpns.registerPush();
    expect(registered).toEqual([expect.objectContaining({ pushID: '', errorCode: 40906, errorMessage: 'device_in_use' })]);
  });

  test('the source gives no token, or no PushKit token', async () => {
    const src = new FakeSource('ios', ['apns']);
    ZPNs.setPushTokenSource(src);
    src.fail = new Error('not allowed');
    await zpns.registerPush();
    src.fail = undefined;
    src.voipToken = undefined;
    await zpns.registerPush({ enableIOSVoIP: true });
    expect(registered.map((r) => r.errorCode)).toEqual([ZPNsErrorCode.TokenUnavailable, ZPNsErrorCode.VoIPTokenUnavailable]);
    expect(registered[0]!.errorMessage).toContain('not allowed');
    expect(getPushSide()!.registration()).toBeUndefined();
  });

  test('a token refresh registers the new token and unregisters the old PushID', async () => {
    const src = new FakeSource('android', ['fcm']);
    ZPNs.setPushTokenSource(src);
    ZPNs.setPushConfig({ enableFCMPush: true });
    zim.login();
    await zpns.registerPush();
    src.refresh('tok-2');
    await expect.poll(() => registered.map((r) => r.pushID)).toEqual(['P-fcm-tok-1', 'P-fcm-tok-2']);
    expect(zim.unregistered).toEqual(['P-fcm-tok-1']);
    expect(getPushSide()!.registration()?.token).toBe('tok-2');
  });

  test('a registerPush made offline replaces the bound device: the old PushID is unregistered once the new one is bound', async () => {
    ZPNs.setPushTokenSource(new FakeSource('android', ['fcm'], 'im.herald.test', 'tok-a'));
    ZPNs.setPushConfig({ enableFCMPush: true });
    await zpns.registerPush();
    zim.login();
    zim.drop();
    ZPNs.setPushTokenSource(new FakeSource('android', ['fcm'], 'im.herald.test', 'tok-b'));
    await zpns.registerPush();
    expect(zim.unregistered).toEqual([]);
    zim.login();
    await expect.poll(() => zim.unregistered).toEqual(['P-fcm-tok-a']);
    expect(registered.map((r) => r.pushID)).toEqual(['P-fcm-tok-a', 'P-fcm-tok-b']);
  });

  test('setPushConfig switching the registered vendor off disables it; on again enables it', async () => {
    ZPNs.setPushTokenSource(new FakeSource('android', ['xiaomi']));
    ZPNs.setPushConfig({ enableMiPush: true });
    zim.login();
    await zpns.registerPush();
    ZPNs.setPushConfig({ enableMiPush: false });
    await expect.poll(() => zim.registered.length).toBe(2);
    expect(zim.registered[1]).toMatchObject({ vendor: 'xiaomi', disabled: true });
    ZPNs.setPushConfig({ enableMiPush: true });
    await expect.poll(() => zim.registered.length).toBe(3);
    expect(zim.registered[2]!.disabled).toBeUndefined();
  });
});

describe('unregisterPush', () => {
  test('logged in: unregistered on the server, no registration in later logins', async () => {
    ZPNs.setPushTokenSource(new FakeSource('android', ['vivo']));
    ZPNs.setPushConfig({ enableVivoPush: true });
    zim.login();
    await zpns.registerPush();
    await zpns.unregisterPush();
    expect(zim.unregistered).toEqual(['P-vivo-tok-1']);
    zim.logout();
    zim.login();
    expect(zim.logins.at(-1)).toBeUndefined();
  });

  test('bound and offline (connection dropped): the next login disables it and unregisters it', async () => {
    ZPNs.setPushTokenSource(new FakeSource('ios', ['apns']));
    await zpns.registerPush();
    zim.login();
    zim.drop();
    await zpns.unregisterPush();
    zim.login();
    expect(zim.logins.at(-1)).toMatchObject({ vendor: 'apns', disabled: true });
    await expect.poll(() => zim.unregistered).toEqual(['P-apns-tok-1']);
    zim.logout();
    zim.login();
    expect(zim.logins.at(-1)).toBeUndefined();
  });

  test('the server could not be told: unregisterPush resolves, and the next login disables and unregisters the device', async () => {
    ZPNs.setPushTokenSource(new FakeSource('android', ['fcm']));
    ZPNs.setPushConfig({ enableFCMPush: true });
    await zpns.registerPush();
    zim.login();
    zim.failUnregister = true;
    await expect(zpns.unregisterPush()).resolves.toBeUndefined();
    zim.failUnregister = false;
    zim.drop();
    zim.login();
    expect(zim.logins.at(-1)).toMatchObject({ vendor: 'fcm', disabled: true });
    await expect.poll(() => zim.unregistered).toEqual(['P-fcm-tok-1', 'P-fcm-tok-1']);
  });

  test('a login in flight at unregisterPush: its binding is undone when it answers', async () => {
    ZPNs.setPushTokenSource(new FakeSource('android', ['fcm']));
    ZPNs.setPushConfig({ enableFCMPush: true });
    await zpns.registerPush();
    const carried = getPushSide()!.registration()!; // the login is sent
    await zpns.unregisterPush();
    zim.online = true;
    getPushSide()!.bound({ pushID: pushIDOf(carried) }); // its reply
    await expect.poll(() => zim.unregistered).toEqual(['P-fcm-tok-1']);
    expect(registered).toEqual([]);
  });

  test('a new registration takes a tombstone\'s place and unregisters its PushID once bound', async () => {
    ZPNs.setPushTokenSource(new FakeSource('android', ['fcm'], 'im.herald.test', 'tok-old'));
    ZPNs.setPushConfig({ enableFCMPush: true });
    await zpns.registerPush();
    zim.login();
    zim.drop();
    await zpns.unregisterPush(); // offline: a tombstone
    ZPNs.setPushTokenSource(new FakeSource('android', ['fcm'], 'im.herald.test', 'tok-new'));
    await zpns.registerPush();
    zim.login();
    expect(zim.logins.at(-1)).toMatchObject({ token: 'tok-new' });
    expect(zim.logins.at(-1)?.disabled).toBeUndefined();
    await expect.poll(() => zim.unregistered).toEqual(['P-fcm-tok-old']);
  });

  test('a refused tombstone is dropped, so later logins do not fail on it', async () => {
    ZPNs.setPushTokenSource(new FakeSource('ios', ['apns']));
    await zpns.registerPush();
    zim.login();
    zim.drop();
    await zpns.unregisterPush();
    zim.refuse = new ZIMError(40906, 'device_in_use');
    zim.login();
    expect(zim.logins.at(-1)).toMatchObject({ disabled: true });
    zim.refuse = undefined;
    zim.drop();
    zim.login();
    expect(zim.logins.at(-1)).toBeUndefined();
    expect(registered).toHaveLength(1); // the first binding only
  });

  test('an unregisterPush during registerPush wins', async () => {
    ZPNs.setPushTokenSource(new FakeSource('ios', ['apns']));
    const p = zpns.registerPush();
    await zpns.unregisterPush();
    await p;
    expect(getPushSide()!.registration()).toBeUndefined();
  });
});

test('the source notifications become ZPNs events with the vendor; none after unregisterPush', async () => {
  const src = new FakeSource('android', ['huawei']);
  ZPNs.setPushTokenSource(src);
  ZPNs.setPushConfig({ enableHWPush: true });
  const got: Array<[string, ZPNsMessage]> = [];
  const on = (name: 'notificationArrived' | 'throughMessageReceived' | 'notificationClicked') => (m: ZPNsMessage) => got.push([name, m]);
  const handlers = {
    notificationArrived: on('notificationArrived'),
    throughMessageReceived: on('throughMessageReceived'),
    notificationClicked: on('notificationClicked'),
  };
  zpns.on('notificationArrived', handlers.notificationArrived);
  zpns.on('throughMessageReceived', handlers.throughMessageReceived);
  zpns.on('notificationClicked', handlers.notificationClicked);
  try {
    await zpns.registerPush();
    const [l] = src.listeners;
    l!.notification('throughMessageReceived', { title: 't', content: 'c', extras: { payload: 'p', n: '1' } });
    l!.notification('notificationClicked', { title: 't', content: 'c', payload: 'p' });
    expect(got).toEqual([
      ['throughMessageReceived', { title: 't', content: 'c', payload: 'p', extras: { payload: 'p', n: '1' }, pushSourceType: ZPNsPushSourceType.HuaWei }],
      ['notificationClicked', { title: 't', content: 'c', payload: 'p', extras: {}, pushSourceType: ZPNsPushSourceType.HuaWei }],
    ]);
    await zpns.unregisterPush();
    expect(src.listeners.size).toBe(0);
    l!.notification('notificationArrived', { title: 'late' });
    expect(got).toHaveLength(2);
  } finally {
    zpns.off('notificationArrived');
    zpns.off('throughMessageReceived', handlers.throughMessageReceived);
    zpns.off('notificationClicked', handlers.notificationClicked);
  }
});
