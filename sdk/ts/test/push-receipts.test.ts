// Push receipts from ZPNs against a real `herald serve --emulate`: with
// ZPNs.enablePushReceipts, the notificationArrived and notificationClicked
// callbacks an emulated phone raises are reported to the server by
// themselves — before login with the login token over HTTP, or, without
// credentials, at the next login — and the admin API's statistics and
// Prometheus count each once; ZIM.reportPushReceipt reports by hand, and a
// repeat is a duplicate.
import { afterAll, afterEach, beforeAll, expect, test } from 'vitest';
import { EmulatedPhone, ZPNs, ZPNsIOSEnvironment, ZPNsReceiptErrorCode, pushJobIDKey, type ZPNsReceiptResult } from '../src/node.js';
import { startServer, type HeraldServer } from './harness.js';
import { allVendors, destroyAll, login, send, settled, uniq, ZPNsRecorder } from './push-helpers.js';

let srv: HeraldServer;
beforeAll(async () => {
  srv = await startServer();
});
afterAll(async () => {
  await srv?.dispose();
});
afterEach(() => {
  ZPNs.enablePushReceipts(undefined);
  destroyAll();
});

const zpns = ZPNs.getInstance();
const rec = new ZPNsRecorder(zpns);

interface Counts {
  planned: number;
  sent: number;
  accepted: number;
  failed: number;
  failedByReason: Record<string, number>;
  arrived: number;
  clicked: number;
}

async function totals(vendor: string): Promise<Partial<Counts>> {
  const resp = await fetch(`${srv.httpURL}/v1/apps/${srv.app.appID}/push/stats?bucket=day&vendor=${vendor}`, {
    headers: { Authorization: `Bearer ${srv.app.adminKey}` },
  });
  expect(resp.status).toBe(200);
  const body = (await resp.json()) as { totals: Array<{ vendor: string } & Counts> };
  const { vendor: _v, ...c } = body.totals[0] ?? { vendor };
  return c;
}

async function metric(name: string): Promise<number> {
  const text = await (await fetch(`${srv.httpURL}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(name + ' '));
  return line ? Number(line.slice(name.length + 1)) : 0;
}

// bindAndLeave registers the phone, logs userID in (binding it) and drops
// the app without logout; it returns a logged-in sender.
async function bindAndLeave(phone: EmulatedPhone, userID: string) {
  ZPNs.setPushConfig(allVendors);
  ZPNs.enableDebug(false);
  ZPNs.setPushTokenSource(phone);
  const from = rec.mark();
  await zpns.registerPush({ iOSEnvironment: ZPNsIOSEnvironment.Automatic });
  const receiver = await login(srv, userID);
  expect((await rec.nextRegistered(from)).errorCode).toBe(0);
  const sender = await login(srv, uniq('alice'));
  receiver.destroy();
  await settled(srv, 1);
  return sender;
}

test('apns: arrival and tap reported by ZPNs before login with the token, counted once', async () => {
  const user = uniq('bob-apns');
  const results: ZPNsReceiptResult[] = [];
  ZPNs.enablePushReceipts({ server: srv.httpURL, credentials: () => ({ userID: user, token: srv.token(user) }), onReported: (r) => results.push(r) });
  const phone = await EmulatedPhone.create(srv.manifest.phones.url, { vendor: 'apns' });
  try {
    const sender = await bindAndLeave(phone, user);
    await send(sender, user, 'r1');
    const arrived = await phone.waitForEvent((e) => e.event === 'notificationArrived' && e.payload === 'r1');
    const pushJobID = arrived.extras?.[pushJobIDKey];
    expect(pushJobID).toMatch(/^00000000-0000-4000-8000-[0-9a-f]{12}$/);
    await expect.poll(() => results.length).toBe(1);
    await phone.click(arrived.seq);
    await expect.poll(() => results.length).toBe(2);
    expect(results).toEqual([
      { kind: 'notificationArrived', pushJobID, via: 'http', duplicate: false },
      { kind: 'notificationClicked', pushJobID, via: 'http', duplicate: false },
    ]);
    await expect.poll(() => totals('apns')).toMatchObject({ planned: 1, sent: 1, accepted: 1, arrived: 1, clicked: 1 });

    // The app logs in: reporting the tap again by hand is a duplicate; a
    // bad ID is refused; the counts stay.
    const again = await login(srv, user);
    expect(await again.reportPushReceipt('notificationClicked', pushJobID!)).toEqual({ duplicate: true });
    await expect(again.reportPushReceipt('notificationClicked', 'nope')).rejects.toMatchObject({ code: ZPNsReceiptErrorCode.InvalidReceipt });
    expect(await totals('apns')).toMatchObject({ arrived: 1, clicked: 1 });
    expect(await metric('herald_push_receipts_total{kind="arrived",vendor="apns"}')).toBe(1);
    expect(await metric('herald_push_receipts_total{kind="clicked",vendor="apns"}')).toBe(1);
    expect(await metric('herald_push_accepted_total{vendor="apns"}')).toBe(1);
  } finally {
    await phone.dispose();
  }
});

test('xiaomi: without credentials the arrival waits for the next login; Huawei refuses arrivals', async () => {
  const user = uniq('bob-xiaomi');
  const results: ZPNsReceiptResult[] = [];
  ZPNs.enablePushReceipts({ onReported: (r) => results.push(r) });
  const phone = await EmulatedPhone.create(srv.manifest.phones.url, { vendor: 'xiaomi' });
  try {
    const sender = await bindAndLeave(phone, user);
    await send(sender, user, 'x1');
    const arrived = await phone.waitForEvent((e) => e.event === 'notificationArrived' && e.payload === 'x1');
    const pushJobID = arrived.extras?.[pushJobIDKey];
    await expect.poll(() => results.length).toBe(1);
    expect(results[0]).toEqual({ kind: 'notificationArrived', pushJobID, via: 'queued' });
    await expect.poll(() => totals('xiaomi')).toMatchObject({ planned: 1, accepted: 1 });
    expect(await totals('xiaomi')).toMatchObject({ arrived: 0 });

    await login(srv, user); // carries the registration: bound, then the queue goes
    await expect.poll(() => results.length).toBe(2);
    expect(results[1]).toEqual({ kind: 'notificationArrived', pushJobID, via: 'connection', duplicate: false });
    await expect.poll(() => totals('xiaomi')).toMatchObject({ planned: 1, sent: 1, accepted: 1, arrived: 1, clicked: 0 });
  } finally {
    await phone.dispose();
  }

  // A Huawei phone raises no notificationArrived; reporting one by hand is
  // refused with 40046 and counts nothing.
  destroyAll();
  await settled(srv, 0);
  const huser = uniq('bob-huawei');
  const hphone = await EmulatedPhone.create(srv.manifest.phones.url, { vendor: 'huawei' });
  try {
    const sender = await bindAndLeave(hphone, huser);
    await send(sender, huser, 'h1');
    const shown = await hphone.waitForEvent((e) => e.event === 'notificationDisplayed' && e.payload === 'h1');
    const app = await login(srv, huser);
    await expect(app.reportPushReceipt('notificationArrived', shown.extras![pushJobIDKey]!)).rejects.toMatchObject({
      code: ZPNsReceiptErrorCode.ReceiptUnsupported,
    });
    expect(await totals('huawei')).toMatchObject({ arrived: 0, clicked: 0 });
  } finally {
    await hphone.dispose();
  }
});
