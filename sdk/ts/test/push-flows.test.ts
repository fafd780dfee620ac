// ZPNs flows with the ZIM client against a real `herald serve --emulate`:
// registerPush while logged in, Automatic resolving the APNs environment
// from the phone, a VoIP ring for a call invitation, unregisterPush,
// logout, setPushConfig switches, the server refusing a registration, and
// bad input.
import { afterAll, afterEach, beforeAll, expect, test } from 'vitest';
import {
  EmulatedPhone,
  ZIM,
  ZIMError,
  ZPNs,
  ZPNsErrorCode,
  ZPNsIOSEnvironment,
  ZPNsPushSourceType,
  type PushTokenSource,
} from '../src/node.js';
import WebSocket from 'ws';
import { setWebSocketImplementation, type WebSocketConstructor } from '../src/node.js';
import { startServer, type HeraldServer } from './harness.js';
import { allVendors, destroyAll, jobs, login, send, settled, track, uniq, ZPNsRecorder } from './push-helpers.js';

let srv: HeraldServer;
let phonesURL: string;
const phones: EmulatedPhone[] = [];
beforeAll(async () => {
  srv = await startServer();
  phonesURL = srv.manifest.phones.url;
});
afterAll(async () => {
  await srv?.dispose();
});

const zpns = ZPNs.getInstance();
const rec = new ZPNsRecorder(zpns);

afterEach(async () => {
  destroyAll();
  await zpns.unregisterPush();
  ZPNs.setPushTokenSource(undefined);
  ZPNs.setPushConfig({});
  ZPNs.enableDebug(false);
  rec.log.length = 0;
  for (const p of phones.splice(0)) await p.dispose();
  await settled(srv, 0);
});

async function phone(options: Parameters<typeof EmulatedPhone.create>[1]): Promise<EmulatedPhone> {
  const p = await EmulatedPhone.create(phonesURL, options);
  phones.push(p);
  return p;
}

// offline logs a sender in, then drops the receiver's ZIM (destroy: no
// logout), and waits until the server counts the sender's session only.
async function offline(receiver: ZIM): Promise<ZIM> {
  const sender = await login(srv, uniq('alice'));
  receiver.destroy();
  await settled(srv, 1);
  return sender;
}

test('Automatic: a development build registers a development PushID with enableDebug(false) and gets its push through the sandbox', async () => {
  const dev = await phone({ vendor: 'apns', debug: true, state: 'killed' });
  ZPNs.enableDebug(false);
  ZPNs.setPushTokenSource(dev);
  const user = uniq('bob');
  // Logged in first: registerPush binds at once (ZIMSide.registerPush).
  const receiver = await login(srv, user);
  await zpns.registerPush({
    iOSEnvironment: ZPNsIOSEnvironment.Automatic,
    iOSNotificationArrivedConfig: { isPresentAlert: true, isPresentSound: true, isPresentBadge: true },
  });
  const reg = rec.registered();
  expect(reg).toEqual([expect.objectContaining({ pushID: expect.stringMatching(/^D/), errorCode: 0, pushSourceType: ZPNsPushSourceType.APNs })]);
  const sender = await offline(receiver);
  const id = await send(sender, user, 'sandbox');
  await rec.until('notificationArrived', (r) => r.event === 'notificationArrived');
  expect(rec.about('sandbox')).toEqual([
    // A message's push carries its messageID (the key its revoke's withdraw shares).
    ['notificationArrived', { title: 'T sandbox', content: 'C sandbox', payload: 'sandbox', extras: { payload: 'sandbox', messageID: id, push_id: expect.stringMatching(/^00000000-0000-4000-8000-[0-9a-f]{12}$/) }, pushSourceType: ZPNsPushSourceType.APNs }],
  ]);
  expect((await jobs(srv, id)).map((j) => [j.pushID, j.status])).toEqual([[reg[0]!.pushID, 'delivered']]);
});

test('registerPush and login at once (the token comes while the login is in flight): bound all the same', async () => {
  const android = await phone({ vendor: 'huawei', state: 'killed' });
  let release!: () => void;
  const tokenLate = new Promise<void>((r) => (release = r));
  const slow: PushTokenSource = {
    platform: android.platform,
    vendors: android.vendors,
    bundleID: android.bundleID,
    getToken: async (req) => {
      await tokenLate;
      return android.getToken(req);
    },
    subscribe: (l) => android.subscribe(l),
  };
  ZPNs.setPushConfig(allVendors);
  ZPNs.setPushTokenSource(slow);
  // The token comes once the login request is on the wire: the login
  // carries no registration, ZPNs sends it after the login's reply.
  let loginFrame: any;
  class Spy extends WebSocket {
    override send(data: any): void {
      super.send(data);
      const f = JSON.parse(String(data));
      if (f.type === 'login') {
        loginFrame = f;
        release();
      }
    }
  }
  setWebSocketImplementation(Spy as unknown as WebSocketConstructor);
  try {
    const registering = zpns.registerPush();
    const user0 = uniq('bob');
    const receiver0 = track(ZIM.create({ appID: srv.app.appID, server: srv.url }));
    await Promise.all([registering, receiver0.login(user0, { token: srv.token(user0) })]);
    var user = user0;
    var receiver = receiver0;
  } finally {
    setWebSocketImplementation(WebSocket as unknown as WebSocketConstructor);
  }
  // (A previous test's unregistered device may ride along, disabled.)
  expect(loginFrame.data.push?.token).not.toBe(android.token);
  const reg = await rec.nextRegistered(0);
  expect(reg).toMatchObject({ errorCode: 0, pushID: expect.stringMatching(/^P/), pushSourceType: ZPNsPushSourceType.HuaWei });
  const sender = await offline(receiver);
  const id = await send(sender, user, 'raced');
  await android.waitForEvent((e) => e.payload === 'raced');
  expect((await jobs(srv, id)).map((j) => j.pushID)).toEqual([reg.pushID]);
});

test('Production given for a development build: a production PushID, which the APNs production endpoint refuses', async () => {
  const dev = await phone({ vendor: 'apns', debug: true, state: 'killed' });
  ZPNs.setPushTokenSource(dev);
  await zpns.registerPush({ iOSEnvironment: ZPNsIOSEnvironment.Production });
  const user = uniq('bob');
  const receiver = await login(srv, user);
  const reg = await rec.nextRegistered(0);
  expect(reg.pushID).toMatch(/^P/);
  const sender = await offline(receiver);
  const id = await send(sender, user, 'wrong-environment');
  // APNs production does not know a sandbox token: the device is dropped.
  await expect.poll(async () => (await jobs(srv, id)).map((j) => [j.status, j.reason]), { timeout: 10_000 }).toEqual([['dropped', 'BadDeviceToken']]);
  expect(dev.events).toEqual([]);
});

test('VoIP: the PushKit token rings a killed iOS app for a call invitation, outside the ZPNs callbacks', async () => {
  const ios = await phone({ vendor: 'apns', voip: true, state: 'killed' });
  ZPNs.setPushTokenSource(ios);
  await zpns.registerPush({ enableIOSVoIP: true, iOSEnvironment: ZPNsIOSEnvironment.Automatic });
  const user = uniq('bob');
  const receiver = await login(srv, user);
  await rec.nextRegistered(0);
  const sender = await offline(receiver);
  const call = await sender.callInvite([user], { mode: 0, timeout: 60, extendedData: '', pushConfig: { title: 'Alice', content: 'is calling', payload: 'call' } });
  expect(call.errorInvitees).toEqual([]);
  const ring = await ios.waitForEvent((e) => e.event === 'voipPushReceived');
  expect(ring).toMatchObject({ vendor: 'apns', kind: 'voip', callID: call.callID });
  // The ring is PushKit's (CallKit), not one of ZPNs' callbacks.
  expect(rec.log.filter((r) => r.event !== 'registered')).toEqual([]);
});

test('Huawei pass-through (a data push of the admin API): throughMessageReceived with the high-priority permission, nothing without', async () => {
  const user = uniq('bob');
  const admin = { Authorization: `Bearer ${srv.app.adminKey}`, 'Content-Type': 'application/json' };
  // push sends with the admin API's push/send and waits until the vendor took it.
  const push = async (body: Record<string, string>) => {
    const resp = await fetch(`${srv.httpURL}/v1/apps/${srv.app.appID}/push/send`, { method: 'POST', headers: admin, body: JSON.stringify({ userIDs: [user], ...body }) });
    expect(resp.status).toBe(200);
    const { jobIDs } = (await resp.json()) as { jobIDs: string[] };
    expect(jobIDs).toHaveLength(1);
    await expect
      .poll(async () => {
        const t = (await (await fetch(`${srv.httpURL}/v1/apps/${srv.app.appID}/push/trace?userID=${user}`, { headers: admin })).json()) as { jobs: any[] };
        return t.jobs.find((j) => j.id === jobIDs[0])?.status; // job IDs are decimal strings
      })
      .toBe('delivered');
  };
  const bindDropped = async (p: EmulatedPhone) => {
    ZPNs.setPushTokenSource(p);
    const mark = rec.mark();
    await zpns.registerPush();
    const receiver = await login(srv, user);
    await rec.nextRegistered(mark);
    receiver.destroy();
    await settled(srv, 0);
  };
  ZPNs.setPushConfig(allVendors);

  const granted = await phone({ vendor: 'huawei', permissions: ['huawei-high-priority-pass-through'] });
  await bindDropped(granted);
  await push({ payload: 'data-1' });
  await rec.until('throughMessageReceived', (r) => r.event === 'throughMessageReceived');
  expect(rec.about('data-1')).toEqual([
    ['throughMessageReceived', expect.objectContaining({ payload: 'data-1', pushSourceType: ZPNsPushSourceType.HuaWei })],
  ]);
  expect(granted.events.map((e) => e.event)).toEqual(['throughMessageReceived']); // a data message shows nothing

  // An app without the permission: the data message reaches nothing. A
  // notification sent once the vendor took it tells when the phone is done with it.
  const plain = await phone({ vendor: 'huawei' });
  await bindDropped(plain);
  await push({ payload: 'data-2' });
  await push({ title: 'T', content: 'C', payload: 'after' });
  await plain.waitForEvent((e) => e.payload === 'after');
  expect(plain.events.filter((e) => e.payload === 'data-2')).toEqual([]);
  expect(rec.about('data-2')).toEqual([]);
});

test('unregisterPush while logged in: no push from then on, and later logins carry no registration', async () => {
  const android = await phone({ vendor: 'oppo' });
  ZPNs.setPushConfig(allVendors);
  ZPNs.setPushTokenSource(android);
  await zpns.registerPush();
  const user = uniq('bob');
  const receiver = await login(srv, user);
  const { pushID } = await rec.nextRegistered(0);
  await zpns.unregisterPush();
  const sender = await offline(receiver);
  expect(await jobs(srv, await send(sender, user, 'after-unregister'))).toEqual([]);

  // The app logs in again (a new primary ZIM: sender first out of the way).
  sender.destroy();
  const again = await login(srv, user);
  const sender2 = await offline(again);
  expect(await jobs(srv, await send(sender2, user, 'after-relogin'))).toEqual([]);
  const trace = await (
    await fetch(`${srv.httpURL}/v1/apps/${srv.app.appID}/push/trace?pushID=${pushID}`, { headers: { Authorization: `Bearer ${srv.app.adminKey}` } })
  ).json();
  expect(trace.deviceEvents.map((e: { kind: string }) => e.kind)).not.toContain('rebound');
  expect(rec.registered()).toHaveLength(1);
});

test('logout: the device gets none of the user’s pushes', async () => {
  const android = await phone({ vendor: 'vivo' });
  ZPNs.setPushConfig(allVendors);
  ZPNs.setPushTokenSource(android);
  await zpns.registerPush();
  const user = uniq('bob');
  const receiver = await login(srv, user);
  await rec.nextRegistered(0);
  await receiver.logout();
  const sender = await login(srv, uniq('alice'));
  receiver.destroy();
  await settled(srv, 1);
  expect(await jobs(srv, await send(sender, user, 'after-logout'))).toEqual([]);
});

test('setPushConfig: a device whose vendors are all off registers nothing; switching the bound vendor off stops its pushes', async () => {
  const xiaomi = await phone({ vendor: 'xiaomi' });
  ZPNs.setPushConfig({ enableFCMPush: true, enableHWPush: true });
  ZPNs.setPushTokenSource(xiaomi);
  await zpns.registerPush();
  expect(rec.registered()).toEqual([expect.objectContaining({ errorCode: ZPNsErrorCode.NoVendorEnabled, pushID: '', pushSourceType: ZPNsPushSourceType.XiaoMi })]);
  const user = uniq('bob');
  const receiver = await login(srv, user);
  let sender = await offline(receiver);
  expect(await jobs(srv, await send(sender, user, 'never-registered'))).toEqual([]);
  sender.destroy();

  // Switched on: registered at the next login; then off while logged in.
  ZPNs.setPushConfig({ enableMiPush: true });
  const mark = rec.mark();
  await zpns.registerPush();
  const again = await login(srv, user);
  const reg = await rec.nextRegistered(mark);
  expect(reg).toMatchObject({ errorCode: 0, pushID: expect.stringMatching(/^P/) });
  ZPNs.setPushConfig({ enableMiPush: false });
  // The server is told at once (registerPush with disabled): a push
  // config's message then finds no enabled device.
  sender = await login(srv, uniq('alice'));
  await expect
    .poll(async () => {
      const probe = await send(sender, user, 'probe');
      return (await jobs(srv, probe)).length;
    })
    .toBe(0);
  again.destroy();
  await settled(srv, 1);
  expect(await jobs(srv, await send(sender, user, 'switched-off'))).toEqual([]);
});

test('the server refuses a registration: registered carries its code and the login stays', async () => {
  const good = await phone({ vendor: 'fcm' });
  const bad: PushTokenSource = {
    platform: 'android',
    vendors: ['fcm'],
    bundleID: good.bundleID,
    getToken: async () => ({ token: 'x'.repeat(600) }), // over the 512 characters the server takes
  };
  ZPNs.setPushConfig(allVendors);
  ZPNs.setPushTokenSource(bad);
  const user = uniq('bob');
  const receiver = await login(srv, user);
  await zpns.registerPush();
  expect(rec.registered()).toEqual([expect.objectContaining({ errorCode: 40012, pushID: '', pushSourceType: ZPNsPushSourceType.FCM })]);
  // Still logged in: a good source registers at once.
  ZPNs.setPushTokenSource(good);
  await zpns.registerPush();
  expect(rec.registered()[1]).toMatchObject({ errorCode: 0, pushID: expect.stringMatching(/^P/) });
  await expect(receiver.sendMessage({ type: 1, message: 'still logged in' }, uniq('carol'), 0)).resolves.toBeDefined();
});

test('bad input: registerPush before a token source, a source with an unknown vendor — a documented error, nothing changes', async () => {
  const user = uniq('bob');
  expect(() => zpns.registerPush()).toThrow(expect.objectContaining({ code: ZPNsErrorCode.NoTokenSource }));
  const android = await phone({ vendor: 'huawei' });
  ZPNs.setPushConfig(allVendors);
  ZPNs.setPushTokenSource(android);
  const unknown = { ...android, platform: 'android', vendors: ['nokia'], bundleID: android.bundleID, getToken: android.getToken.bind(android) };
  let thrown: unknown;
  try {
    ZPNs.setPushTokenSource(unknown as unknown as PushTokenSource);
  } catch (e) {
    thrown = e;
  }
  expect(thrown).toBeInstanceOf(ZIMError);
  expect(thrown).toMatchObject({ code: ZPNsErrorCode.InvalidArgument, message: expect.stringContaining('nokia') });
  // The phone is still the source: registerPush binds it at the login.
  await zpns.registerPush();
  await login(srv, user);
  expect(await rec.nextRegistered(0)).toMatchObject({ errorCode: 0, pushSourceType: ZPNsPushSourceType.HuaWei });
  await expect(EmulatedPhone.create(phonesURL, { vendor: 'nokia' as never })).rejects.toMatchObject({ status: 400 });
});
