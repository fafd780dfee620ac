// ZPNs and EmulatedPhone in a real browser (headless Chromium, the Debian
// package): the browser bundle (window.Herald) on a page of another
// origin makes a phone over fetch, registers it, logs in over the
// browser's WebSocket, and gets its push's callbacks; dispose stops the
// long-poll. Skipped where no Chromium is installed.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { build } from 'tsup';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startServer, type HeraldServer } from './harness.js';
import { login, send, settled } from './push-helpers.js';

const chromiumPath = process.env.CHROMIUM ?? '/usr/bin/chromium';
const haveChromium = existsSync(chromiumPath);

let srv: HeraldServer;
let web: Server;
let origin = '';
let browser: Browser;
let page: Page;

beforeAll(async () => {
  if (!haveChromium) return;
  srv = await startServer({ args: ['--allowed-origins', '127.0.0.1:*'] });
  // The browser bundle as tsup.config.ts makes it, into a directory of
  // the test's own.
  const outDir = mkdtempSync(join(tmpdir(), 'herald-bundle-'));
  await build({
    config: false,
    entry: { herald: fileURLToPath(new URL('../src/index.ts', import.meta.url)) },
    format: ['iife'],
    globalName: 'Herald',
    outExtension: () => ({ js: '.global.js' }),
    platform: 'browser',
    target: 'es2020',
    outDir,
    silent: true,
  });
  const bundle = readFileSync(join(outDir, 'herald.global.js'), 'utf8');
  rmSync(outDir, { recursive: true, force: true });
  web = createServer((req, res) => {
    if (req.url === '/herald.js') {
      res.writeHead(200, { 'Content-Type': 'text/javascript' }).end(bundle);
      return;
    }
    res.writeHead(200, { 'Content-Type': 'text/html' }).end('<!doctype html><script src="/herald.js"></script>');
  });
  await new Promise<void>((r) => web.listen(0, '127.0.0.1', r));
  origin = `http://127.0.0.1:${(web.address() as AddressInfo).port}`;
  browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox'] });
  page = await browser.newPage();
  await page.goto(origin);
});

afterAll(async () => {
  await browser?.close();
  await new Promise((r) => (web ? web.close(r) : r(undefined)));
  await srv?.dispose();
});

test.skipIf(!haveChromium)('a page registers an emulated FCM phone, gets throughMessageReceived and notificationClicked, and disposes it', async () => {
  const user = 'browser-bob';
  const { pushID, phoneID } = await page.evaluate(
    async ({ phonesURL, appID, server, token, user }) => {
      const H = (window as any).Herald;
      const w = window as any;
      const phone = await H.EmulatedPhone.create(phonesURL, { vendor: 'fcm', state: 'background' });
      w.phone = phone;
      w.got = [];
      const zpns = H.ZPNs.getInstance();
      for (const ev of ['registered', 'notificationArrived', 'throughMessageReceived', 'notificationClicked']) {
        zpns.on(ev, (m: unknown) => w.got.push([ev, m]));
      }
      const registered = new Promise<any>((r) => zpns.on('registered', r));
      H.ZPNs.setPushConfig({ enableFCMPush: true });
      H.ZPNs.setPushTokenSource(phone);
      await zpns.registerPush();
      w.zim = H.ZIM.create({ appID, server });
      await w.zim.login(user, { token });
      const reg = await registered;
      return { pushID: reg?.pushID as string, phoneID: phone.phoneID as string };
    },
    { phonesURL: srv.manifest.phones.url, appID: srv.app.appID, server: srv.url, token: srv.token(user), user },
  );
  expect(pushID).toMatch(/^P/);

  const sender = await login(srv, 'browser-alice');
  try {
    await page.evaluate(() => (window as any).zim.destroy());
    await settled(srv, 1);
    await send(sender, user, 'in-browser');
    await page.waitForFunction(() => (window as any).got.some((e: any) => e[0] === 'throughMessageReceived'));
    const seq = await page.evaluate(async () => {
      const w = window as any;
      const shown = await w.phone.waitForEvent((e: any) => e.event === 'notificationDisplayed');
      await w.phone.click(shown.seq);
      return shown.seq as number;
    });
    expect(seq).toBeGreaterThan(0);
    await page.waitForFunction(() => (window as any).got.some((e: any) => e[0] === 'notificationClicked'));
    const got = await page.evaluate(() => (window as any).got.filter((e: any) => e[0] !== 'registered'));
    const message = { title: 'T in-browser', content: 'C in-browser', payload: 'in-browser', extras: expect.objectContaining({ payload: 'in-browser' }), pushSourceType: 5 };
    expect(got).toEqual([
      ['throughMessageReceived', message],
      ['notificationClicked', message],
    ]);
  } finally {
    sender.destroy();
  }

  await page.evaluate(() => (window as any).phone.dispose());
  expect((await fetch(`${srv.manifest.phones.url}/phones/${phoneID}`)).status).toBe(404);
});
