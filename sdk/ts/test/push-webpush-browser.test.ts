// Web Push in a real browser (headless Chromium, the Debian package): a
// page of another origin loads the browser bundle, registers Herald's
// service worker (dist/herald-sw.js, built here) through webPushSource,
// and registers its subscription with the server after a ZIM login with
// the login's VAPID key. Chromium cannot subscribe without its maker's
// push service, so the page's pushManager is the one thing replaced: it
// returns a subscription whose keys the page made with WebCrypto. The
// push event itself comes through the DevTools protocol
// (ServiceWorker.deliverPushMessage) into the real service worker, which
// shows the notification and posts it to the page: ZPNs raises
// notificationArrived there. Skipped where no Chromium is installed.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { build } from 'tsup';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startServer, type HeraldServer } from './harness.js';

const chromiumPath = process.env.CHROMIUM ?? '/usr/bin/chromium';
const haveChromium = existsSync(chromiumPath);

let srv: HeraldServer;
let web: Server;
let origin = '';
let browser: Browser;
let context: BrowserContext;
let page: Page;

async function bundle(entry: string, name: string, globalName?: string): Promise<string> {
  const outDir = mkdtempSync(join(tmpdir(), 'herald-bundle-'));
  await build({
    config: false,
    entry: { [name]: fileURLToPath(new URL(entry, import.meta.url)) },
    format: ['iife'],
    ...(globalName ? { globalName } : {}),
    outExtension: () => ({ js: '.js' }),
    platform: 'browser',
    target: 'es2020',
    outDir,
    silent: true,
  });
  const js = readFileSync(join(outDir, `${name}.js`), 'utf8');
  rmSync(outDir, { recursive: true, force: true });
  return js;
}

beforeAll(async () => {
  if (!haveChromium) return;
  srv = await startServer({ args: ['--allowed-origins', '127.0.0.1:*'] });
  const herald = await bundle('../src/index.ts', 'herald', 'Herald');
  const sw = await bundle('../src/sw/herald-sw.ts', 'herald-sw');
  web = createServer((req, res) => {
    if (req.url === '/herald.js') return void res.writeHead(200, { 'Content-Type': 'text/javascript' }).end(herald);
    if (req.url === '/herald-sw.js') return void res.writeHead(200, { 'Content-Type': 'text/javascript' }).end(sw);
    res.writeHead(200, { 'Content-Type': 'text/html' }).end('<!doctype html><script src="/herald.js"></script>');
  });
  await new Promise<void>((r) => web.listen(0, '127.0.0.1', r));
  origin = `http://127.0.0.1:${(web.address() as AddressInfo).port}`;
  browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox'] });
  context = await browser.newContext();
  await context.grantPermissions(['notifications'], { origin });
  page = await context.newPage();
  await page.goto(origin);
});

afterAll(async () => {
  await browser?.close();
  await new Promise((r) => (web ? web.close(r) : r(undefined)));
  await srv?.dispose();
});

test.skipIf(!haveChromium)('a page registers the service worker and its subscription; a push shown by the worker raises notificationArrived', async () => {
  const cdp = await context.newCDPSession(page);
  const registrations: Array<{ registrationId: string; scopeURL: string; isDeleted: boolean }> = [];
  cdp.on('ServiceWorker.workerRegistrationUpdated', (e: any) => registrations.push(...e.registrations));
  await cdp.send('ServiceWorker.enable');

  const user = 'web-bob';
  const reg = await page.evaluate(
    async ({ appID, server, token, user }) => {
      const H = (window as any).Herald;
      const w = window as any;
      w.got = [];
      const zpns = H.ZPNs.getInstance();
      for (const ev of ['notificationArrived', 'notificationClicked']) zpns.on(ev, (m: unknown) => w.got.push([ev, m]));
      const registered = new Promise<any>((r) => zpns.on('registered', r));
      w.zim = H.ZIM.create({ appID, server });
      await w.zim.login(user, { token });
      // The browser's own serviceWorker, but a pushManager that answers
      // with a subscription of keys made here (no push service to ask).
      const keys = await crypto.subtle.generateKey({ name: 'ECDH', namedCurve: 'P-256' }, true, ['deriveBits']);
      const raw = new Uint8Array(await crypto.subtle.exportKey('raw', keys.publicKey));
      const b64u = (b: Uint8Array) => btoa(String.fromCharCode(...b)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
      const auth = crypto.getRandomValues(new Uint8Array(16));
      let asked: any;
      const real = navigator.serviceWorker;
      const container = {
        register: async (url: string) => {
          await real.register(url);
          return { pushManager: fakePush };
        },
        get ready() {
          return real.ready.then(() => ({ pushManager: fakePush }));
        },
        addEventListener: real.addEventListener.bind(real),
        removeEventListener: real.removeEventListener.bind(real),
      };
      const fakePush = {
        getSubscription: async () => null,
        subscribe: async (o: any) => {
          asked = { userVisibleOnly: o.userVisibleOnly, key: b64u(o.applicationServerKey) };
          const json = { endpoint: 'https://push.example.com/wpush/web-bob', expirationTime: null, keys: { p256dh: b64u(raw), auth: b64u(auth) } };
          return { toJSON: () => json };
        },
      };
      H.ZPNs.setPushTokenSource(H.webPushSource({ applicationServerKey: () => w.zim.getWebPushKey(), serviceWorker: container }));
      await zpns.registerPush();
      const r = await registered;
      const sw = await real.getRegistration();
      return { registered: r, asked, key: w.zim.getWebPushKey(), scope: sw?.scope, script: sw?.active?.scriptURL ?? sw?.installing?.scriptURL ?? sw?.waiting?.scriptURL };
    },
    { appID: srv.app.appID, server: srv.url, token: srv.token(user), user },
  );
  expect(reg.registered).toMatchObject({ errorCode: 0, pushID: expect.stringMatching(/^P/), pushSourceType: 12 });
  expect(reg.key).toBe(srv.manifest.webpush.publicKey);
  expect(reg.asked).toEqual({ userVisibleOnly: true, key: reg.key });
  expect(reg.scope).toBe(`${origin}/`);
  expect(reg.script).toBe(`${origin}/herald-sw.js`);

  // The service worker is active: a push to it is shown and told to the page.
  await page.waitForFunction(() => navigator.serviceWorker.ready.then(() => true));
  const sw = registrations.find((r) => r.scopeURL === `${origin}/` && !r.isDeleted);
  expect(sw, JSON.stringify(registrations)).toBeDefined();
  await cdp.send('ServiceWorker.deliverPushMessage', {
    origin,
    registrationId: sw!.registrationId,
    data: JSON.stringify({ id: 'j1', title: 'Alice', content: 'hi from alice', payload: 'p1', tag: 'chat-alice', extras: { payload: 'p1' } }),
  });
  await page.waitForFunction(() => (window as any).got.length > 0);
  const got = await page.evaluate(() => (window as any).got);
  expect(got).toEqual([['notificationArrived', { title: 'Alice', content: 'hi from alice', payload: 'p1', extras: { payload: 'p1' }, pushSourceType: 12 }]]);
  const shown = await page.evaluate(async () => {
    const r = await navigator.serviceWorker.getRegistration();
    return (await r!.getNotifications()).map((n) => ({ title: n.title, body: n.body, tag: n.tag }));
  });
  expect(shown).toEqual([{ title: 'Alice', body: 'hi from alice', tag: 'chat-alice' }]);
});
