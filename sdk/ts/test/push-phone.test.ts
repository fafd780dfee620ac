// EmulatedPhone against the real phones API of `herald serve --emulate`:
// what it reports of itself, app states, clicks, bad options, dispose;
// pushes come from the admin API's push/send to a device bound by a bare
// login (the ZIM client's flows are in push.test.ts).
import { afterAll, beforeAll, expect, test } from 'vitest';
import WebSocket from 'ws';
import { EmulatedPhone, PhoneError, type PhoneEvent } from '../src/index.js';
import { startServer, type HeraldServer } from './harness.js';

let srv: HeraldServer;
let phonesURL: string;
beforeAll(async () => {
  srv = await startServer();
  phonesURL = srv.manifest.phones.url;
});
afterAll(async () => {
  await srv?.dispose();
});

// bind logs userID in with the phone's registration and drops the
// connection without logout: the device stays bound, the user offline.
async function bind(userID: string, phone: EmulatedPhone): Promise<string> {
  const ws = new WebSocket(`${srv.url}/v1/ws`);
  await new Promise((r, j) => ws.once('open', r).once('error', j));
  ws.send(
    JSON.stringify({
      type: 'login',
      id: '1',
      data: {
        appID: srv.app.appID,
        userID,
        token: srv.token(userID),
        platform: phone.platform,
        deviceID: `dev-${phone.phoneID}`,
        push: { vendor: phone.vendor, token: phone.token, environment: phone.environment, bundleID: phone.bundleID },
      },
    }),
  );
  const reply = await new Promise<any>((r) => ws.once('message', (d) => r(JSON.parse(String(d)))));
  expect(reply.error).toBeUndefined();
  const closed = new Promise((r) => ws.once('close', r));
  ws.close();
  await closed;
  return reply.data.pushID;
}

async function pushTo(userID: string, body: Record<string, unknown>): Promise<void> {
  const resp = await fetch(`${srv.httpURL}/v1/apps/${srv.app.appID}/push/send`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${srv.app.adminKey}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ userIDs: [userID], ...body }),
  });
  expect(resp.status, await resp.clone().text()).toBe(200);
}

test('a phone tells its vendor, platform, tokens, bundle and environment', async () => {
  const ios = await EmulatedPhone.create(phonesURL, { vendor: 'apns', debug: true, voip: true });
  const android = await EmulatedPhone.create(phonesURL, { vendor: 'xiaomi' });
  try {
    expect(ios).toMatchObject({ vendor: 'apns', platform: 'ios', environment: 'development', bundleID: srv.manifest.apns.bundleID, state: 'background' });
    expect(ios.vendors).toEqual(['apns']);
    expect(ios.token).not.toBe('');
    expect(ios.voipToken).toBeTruthy();
    expect(ios.apnsEnvironment()).toBe('development');
    await expect(ios.getToken({ vendor: 'apns', voip: true })).resolves.toEqual({ token: ios.token, voipToken: ios.voipToken });
    await expect(ios.getToken({ vendor: 'apns', voip: false })).resolves.toEqual({ token: ios.token });
    expect(android).toMatchObject({ vendor: 'xiaomi', platform: 'android', environment: 'production', voipToken: undefined });
    expect(android.apnsEnvironment()).toBeUndefined();
    await expect(android.getToken({ vendor: 'fcm', voip: false })).rejects.toThrow(/xiaomi phone/);
  } finally {
    await ios.dispose();
    await android.dispose();
  }
});

test('bad options are refused by the phones API with its reason', async () => {
  await expect(EmulatedPhone.create(phonesURL, { vendor: 'nokia' as never })).rejects.toMatchObject({ status: 400, message: expect.stringContaining('vendor') });
  await expect(EmulatedPhone.create(phonesURL, { vendor: 'fcm', voip: true })).rejects.toMatchObject({ status: 400, message: expect.stringContaining('APNs only') });
  const phone = await EmulatedPhone.create(phonesURL, { vendor: 'vivo' });
  try {
    await expect(phone.setState('asleep' as never)).rejects.toBeInstanceOf(PhoneError);
    expect(phone.state).toBe('background');
    await expect(phone.click(99)).rejects.toMatchObject({ status: 404 });
  } finally {
    await phone.dispose();
  }
});

test('pushes reach the phone per its app state; a tap is notificationClicked; dispose ends the watch', async () => {
  const phone = await EmulatedPhone.create(phonesURL, { vendor: 'xiaomi', state: 'killed' });
  const heard: Array<[string, string]> = [];
  phone.subscribe({ notification: (ev, m) => heard.push([ev, m.payload ?? '']), tokenRefreshed: () => {} });
  await bind('phone-user', phone);
  await pushTo('phone-user', { title: 'T1', content: 'C1', payload: 'killed' });
  const shown = await phone.waitForEvent((e) => e.event === 'notificationDisplayed' && e.payload === 'killed');
  expect(shown).toMatchObject({ vendor: 'xiaomi', title: 'T1', content: 'C1', kind: 'notification' });

  await phone.setState('foreground');
  await pushTo('phone-user', { title: 'T2', content: 'C2', payload: 'foreground' });
  await phone.waitForEvent((e) => e.event === 'notificationArrived' && e.payload === 'foreground');
  await phone.click(shown.seq);
  await phone.waitForEvent((e) => e.event === 'notificationClicked');
  // The ZPNs callbacks of the phone, in order (notificationDisplayed is the system's, not one).
  expect(heard).toEqual([
    ['notificationArrived', 'foreground'],
    ['notificationClicked', 'killed'],
  ]);
  expect(phone.events.map((e: PhoneEvent) => [e.event, e.seq])).toEqual([
    ['notificationDisplayed', shown.seq],
    ['notificationDisplayed', shown.seq + 1],
    ['notificationArrived', shown.seq + 1],
    ['notificationClicked', shown.seq],
  ]);

  const never = expect(phone.waitForEvent((e) => e.payload === 'never', 60_000)).rejects.toThrow(/disposed/);
  await phone.dispose();
  await never;
  await phone.dispose(); // idempotent
  const gone = await fetch(`${phonesURL}/phones/${phone.phoneID}`);
  expect(gone.status).toBe(404);
});
