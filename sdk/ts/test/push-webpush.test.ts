// Web Push in ZPNs (vendor webpush) against a real `herald serve
// --emulate`: webPushSource registers the service worker and subscribes
// with the login's VAPID key (ZIM.getWebPushKey) through a browser played
// here — its pushManager.subscribe makes a real subscription at the Web
// Push emulator with keys of its own — so that an offline user's push
// goes from Herald through the emulator, is decrypted here as a browser
// does (RFC 8291), and runs Herald's service worker
// (installHeraldServiceWorker), which shows it and tells the page:
// ZPNs raises notificationArrived, then notificationClicked on a click.
// Headless Chromium cannot subscribe without its maker's push service, so
// the browser's side is played in Node here (push-webpush-browser.test.ts
// runs the service worker in Chromium).
import { createDecipheriv, createECDH, createHmac, randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, expect, test } from 'vitest';
import {
  ZPNs,
  ZPNsErrorCode,
  ZPNsPushSourceType,
  installHeraldServiceWorker,
  webPushSource,
  type WebPushRegistrationLike,
  type WebPushServiceWorkerContainerLike,
  type WorkerScopeLike,
} from '../src/node.js';
import { startServer, type HeraldServer } from './harness.js';
import { destroyAll, login, send, settled, uniq, ZPNsRecorder } from './push-helpers.js';

let srv: HeraldServer;
beforeAll(async () => {
  srv = await startServer();
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
});

const b64u = (b: Buffer) => b.toString('base64url');
const hmac = (key: Buffer, data: Buffer) => createHmac('sha256', key).update(data).digest();
const expand = (prk: Buffer, info: string, n: number) => hmac(prk, Buffer.concat([Buffer.from(info, 'binary'), Buffer.from([1])])).subarray(0, n);

/** A browser's push side: its subscription keys, its service worker scope and its page's serviceWorker container. */
class PlayedBrowser {
  readonly ecdh = createECDH('prime256v1');
  readonly auth = randomBytes(16);
  subscribeCalls: Array<{ userVisibleOnly: boolean; applicationServerKey: Uint8Array }> = [];
  registered: string[] = [];
  subscriptionID = '';
  shown: Array<{ title: string; body?: string; tag?: string; data?: unknown }> = [];
  private pageListeners: Array<(e: { data: unknown }) => void> = [];
  private pushHandler: ((e: any) => void) | undefined;
  private clickHandler: ((e: any) => void) | undefined;

  constructor(private readonly controlURL: string) {
    this.ecdh.generateKeys();
  }

  /** The page's navigator.serviceWorker. */
  container(): WebPushServiceWorkerContainerLike {
    const reg: WebPushRegistrationLike = {
      pushManager: {
        getSubscription: async () => null,
        subscribe: async (o) => {
          this.subscribeCalls.push(o);
          const r = await fetch(`${this.controlURL}/subscriptions`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ applicationServerKey: b64u(Buffer.from(o.applicationServerKey)) }),
          });
          if (r.status !== 201) throw new Error(`subscribe: ${r.status} ${await r.text()}`);
          const s = (await r.json()) as { id: string; endpoint: string };
          this.subscriptionID = s.id;
          const json = { endpoint: s.endpoint, expirationTime: null, keys: { p256dh: b64u(this.ecdh.getPublicKey()), auth: b64u(this.auth) } };
          return { toJSON: () => json };
        },
      },
    };
    return {
      register: async (url) => {
        this.registered.push(url);
        installHeraldServiceWorker(this.scope());
        return reg;
      },
      ready: Promise.resolve(reg),
      addEventListener: (_t, l) => void this.pageListeners.push(l),
      removeEventListener: (_t, l) => void (this.pageListeners = this.pageListeners.filter((x) => x !== l)),
    };
  }

  /** The numbers the service worker set the app badge to (navigator.setAppBadge). */
  badges: Array<number | undefined> = [];
  /** The service worker's global scope; pageOpen false plays a browser with no page of the site open. */
  pageOpen = true;
  private scope(): WorkerScopeLike {
    const client = { postMessage: (m: unknown) => this.pageListeners.forEach((l) => l({ data: m })), focus: async () => {} };
    return {
      addEventListener: ((type: string, l: (e: any) => void) => {
        if (type === 'push') this.pushHandler = l;
        if (type === 'notificationclick') this.clickHandler = l;
      }) as WorkerScopeLike['addEventListener'],
      registration: { showNotification: async (title, options) => void this.shown.push({ title, ...options }) },
      navigator: { setAppBadge: async (n?: number) => void this.badges.push(n) },
      clients: { matchAll: async () => (this.pageOpen ? [client] : []) },
    };
  }

  /** receive connects to the push service, decrypts the next push and dispatches it to the service worker. */
  async receive(after: number): Promise<void> {
    const r = await fetch(`${this.controlURL}/subscriptions/${this.subscriptionID}/deliveries?after=${after}&wait=10s`);
    const page = (await r.json()) as { deliveries: Array<{ body: string }> };
    expect(page.deliveries.length).toBeGreaterThan(0);
    const plain = this.decrypt(Buffer.from(page.deliveries[0]!.body, 'base64url'));
    const waits: Promise<unknown>[] = [];
    this.pushHandler!({ data: { json: () => JSON.parse(plain.toString('utf8')) }, waitUntil: (p: Promise<unknown>) => waits.push(p) });
    await Promise.all(waits);
  }

  /** click taps the last notification shown. */
  async click(): Promise<void> {
    const n = this.shown[this.shown.length - 1]!;
    const waits: Promise<unknown>[] = [];
    this.clickHandler!({ notification: { data: n.data, close: () => {} }, waitUntil: (p: Promise<unknown>) => waits.push(p) });
    await Promise.all(waits);
  }

  // RFC 8291 §3.4 and RFC 8188 §2, the browser's side.
  private decrypt(body: Buffer): Buffer {
    const salt = body.subarray(0, 16);
    const idlen = body[20]!;
    const asPublic = body.subarray(21, 21 + idlen);
    const record = body.subarray(21 + idlen);
    const secret = this.ecdh.computeSecret(asPublic);
    const prkKey = hmac(this.auth, secret);
    const ikm = expand(prkKey, 'WebPush: info\0' + Buffer.concat([this.ecdh.getPublicKey(), asPublic]).toString('binary'), 32);
    const prk = hmac(salt, ikm);
    const cek = expand(prk, 'Content-Encoding: aes128gcm\0', 16);
    const nonce = expand(prk, 'Content-Encoding: nonce\0', 12);
    const d = createDecipheriv('aes-128-gcm', cek, nonce);
    d.setAuthTag(record.subarray(record.length - 16));
    const plain = Buffer.concat([d.update(record.subarray(0, record.length - 16)), d.final()]);
    let end = plain.length - 1;
    while (end >= 0 && plain[end] === 0) end--;
    expect(plain[end]).toBe(2);
    return plain.subarray(0, end);
  }
}

test('a page registers with Web Push; an offline push is shown by the service worker and raised to the page', async () => {
  const bob = uniq('bob');
  const zim = await login(srv, bob);
  const key = zim.getWebPushKey();
  expect(key).toBe(srv.manifest.webpush.publicKey);

  const browser = new PlayedBrowser(srv.manifest.webpush.controlURL);
  ZPNs.setPushTokenSource(
    webPushSource({ applicationServerKey: () => zim.getWebPushKey(), serviceWorker: browser.container(), bundleID: 'http://127.0.0.1:8080' }),
  );
  const from = rec.mark();
  zpns.registerPush();
  const reg = await rec.nextRegistered(from);
  expect(reg.errorCode).toBe(0);
  expect(reg.pushSourceType).toBe(ZPNsPushSourceType.WebPush);
  expect(reg.pushID).toMatch(/^P/);
  expect(browser.registered).toEqual(['/herald-sw.js']);
  expect(browser.subscribeCalls).toHaveLength(1);
  expect(browser.subscribeCalls[0]!.userVisibleOnly).toBe(true);
  expect(Buffer.from(browser.subscribeCalls[0]!.applicationServerKey).toString('base64url')).toBe(key);

  // The sender logs in while bob's ZIM is the primary instance (the one
  // whose logins carry the device); then bob's tab is in the background:
  // the connection goes, the binding stays.
  const alice = await login(srv, uniq('alice'));
  zim.destroy();
  await settled(srv, 1);
  const payload = uniq('p');
  const messageID = await send(alice, bob, payload, 'Alice', 'hi from alice');
  const at = rec.mark();
  await browser.receive(0);
  expect(browser.shown).toHaveLength(1);
  expect(browser.shown[0]).toMatchObject({ title: 'Alice', body: 'hi from alice' });
  const arrived = await rec.until('notificationArrived', (r) => r.event === 'notificationArrived', at);
  expect(arrived.data).toMatchObject({ title: 'Alice', content: 'hi from alice', payload });
  // The custom data holds the push's ID (receipts name it) and the message's.
  const extras = (arrived.data as { extras: Record<string, string> }).extras;
  expect(extras.push_id).toMatch(/^00000000-0000-4000-8000-[0-9a-f]{12}$/);
  expect(extras.messageID).toBe(messageID);
  expect(browser.badges).toEqual([]);

  await browser.click();
  const clicked = await rec.until('notificationClicked', (r) => r.event === 'notificationClicked', at);
  expect(clicked.data).toMatchObject({ title: 'Alice', payload });
});

test('the service worker shows a push with no page open and raises nothing', async () => {
  const browser = new PlayedBrowser('http://127.0.0.1:1');
  browser.pageOpen = false;
  const c = browser.container();
  await c.register('/sw.js');
  const seen: unknown[] = [];
  c.addEventListener('message', (e) => seen.push(e.data));
  const waits: Promise<unknown>[] = [];
  (browser as any).pushHandler({ data: { json: () => ({ title: 'T', content: 'C', tag: 'call-1' }) }, waitUntil: (p: Promise<unknown>) => waits.push(p) });
  await Promise.all(waits);
  expect(browser.shown).toEqual([{ title: 'T', body: 'C', tag: 'call-1', data: { title: 'T', content: 'C', tag: 'call-1' } }]);
  expect(seen).toEqual([]);
});

test("the service worker sets the app badge to a push's badge", async () => {
  const browser = new PlayedBrowser('http://127.0.0.1:1');
  const c = browser.container();
  await c.register('/sw.js');
  for (const m of [{ title: 'T', content: 'one', badge: 3 }, { title: 'T', content: 'two' }, { title: 'T', content: 'read', badge: 0 }]) {
    const waits: Promise<unknown>[] = [];
    (browser as any).pushHandler({ data: { json: () => m }, waitUntil: (p: Promise<unknown>) => waits.push(p) });
    await Promise.all(waits);
  }
  expect(browser.shown.map((n) => n.body)).toEqual(['one', 'two', 'read']);
  expect(browser.badges).toEqual([3, 0]);
});

test('webPushSource without a key reports TokenUnavailable; a web source must use vendor webpush', async () => {
  const browser = new PlayedBrowser('http://127.0.0.1:1');
  ZPNs.setPushTokenSource(webPushSource({ applicationServerKey: '', serviceWorker: browser.container(), bundleID: 'https://chat.example.com' }));
  const from = rec.mark();
  zpns.registerPush();
  const reg = await rec.nextRegistered(from);
  expect(reg.errorCode).toBe(ZPNsErrorCode.TokenUnavailable);
  expect(browser.subscribeCalls).toHaveLength(0);
  expect(() => ZPNs.setPushTokenSource({ platform: 'web', vendors: ['fcm'], bundleID: 'x', getToken: async () => ({ token: 't' }) })).toThrow();
  expect(() => ZPNs.setPushTokenSource({ platform: 'android', vendors: ['webpush'], bundleID: 'x', getToken: async () => ({ token: 't' }) })).toThrow();
});
