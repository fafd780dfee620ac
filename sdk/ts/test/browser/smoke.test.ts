// Browser smoke test: headless Chromium loads the browser bundle
// (dist/herald.global.js, window.Herald) from a page served by a local
// HTTP server on another origin than the Herald server's, logs in with a
// token the test minted (as an app's backend does) and receives a message
// sent from Node. The server allows that page's origin with
// --allowed-origins; a page of an origin it does not allow cannot open
// the WebSocket at all.
import { createServer, type Server } from 'node:http';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { ZIM, ZIMClientErrorCode } from '../../src/node.js';
import { startServer, type HeraldServer } from '../harness.js';

const pkgRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const chromiumPath = process.env.CHROMIUM ?? '/usr/bin/chromium';
const chromiumFlags = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** A page server: `/` is an empty page that loads the bundle, `/herald.global.js` the bundle. */
async function servePage(): Promise<{ server: Server; origin: string; host: string }> {
  const bundle = readFileSync(join(pkgRoot, 'dist/herald.global.js'));
  const page = '<!doctype html><meta charset="utf-8"><title>herald smoke</title><script src="/herald.global.js"></script>';
  const server = createServer((req, res) => {
    if (req.url === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page);
    } else if (req.url === '/herald.global.js') {
      res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' }).end(bundle);
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { server, origin: `http://${host}`, host };
}

let srv: HeraldServer;
let allowed: Awaited<ReturnType<typeof servePage>>;
let refused: Awaited<ReturnType<typeof servePage>>;
let profile: string;
let browser: BrowserContext;
const nodeClients: ZIM[] = [];

beforeAll(async () => {
  allowed = await servePage();
  refused = await servePage();
  srv = await startServer({ args: ['--allowed-origins', allowed.host] });
  profile = mkdtempSync(join(tmpdir(), 'herald-chromium-'));
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    headless: true,
    args: chromiumFlags,
  });
});

afterAll(async () => {
  for (const z of nodeClients) await z.logout().catch(() => {});
  await browser?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
  allowed?.server.close();
  refused?.server.close();
  await srv?.dispose();
});

async function openPage(origin: string): Promise<Page> {
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${origin}/`);
  expect(errors).toEqual([]);
  expect(await page.evaluate(() => typeof (window as any).Herald?.ZIM)).toBe('function');
  return page;
}

test('a page of an allowed origin logs in with the browser bundle and receives a message sent from Node', async () => {
  const page = await openPage(allowed.origin);
  const login = await page.evaluate(
    async ({ appID, server, token }) => {
      const { ZIM } = (window as any).Herald;
      const w = window as any;
      w.received = new Promise((resolve) => {
        const zim = ZIM.create({ appID, server });
        w.zim = zim;
        zim.on('peerMessageReceived', (_zim: unknown, data: any) => {
          resolve({
            fromConversationID: data.fromConversationID,
            messages: data.messageList.map((m: any) => ({ type: m.type, message: m.message, senderUserID: m.senderUserID })),
          });
        });
      });
      try {
        await w.zim.login('bob', { token });
        return { ok: true };
      } catch (e: any) {
        return { ok: false, code: e?.code, message: String(e?.message ?? e) };
      }
    },
    { appID: srv.app.appID, server: srv.url, token: srv.token('bob') },
  );
  expect(login, srv.log()).toEqual({ ok: true });

  const alice = ZIM.create({ appID: srv.app.appID, server: srv.url });
  nodeClients.push(alice);
  await alice.login('alice', { token: srv.token('alice') });
  await alice.sendMessage({ type: 1, message: 'hello from node' }, 'bob', 0, { priority: 1 });

  const got = await page.evaluate(() => (window as any).received);
  expect(got).toEqual({
    fromConversationID: 'alice',
    messages: [{ type: 1, message: 'hello from node', senderUserID: 'alice' }],
  });
  await page.evaluate(() => (window as any).zim.logout());
  await page.close();
});

test('a page of an origin the server does not allow cannot open the WebSocket', async () => {
  const page = await openPage(refused.origin);
  const res = await page.evaluate(
    async ({ appID, server, token }) => {
      // The raw WebSocket: the handshake is refused (403), so it never opens.
      const raw = await new Promise<string>((resolve) => {
        const ws = new WebSocket(`${server}/v1/ws`);
        ws.onopen = () => {
          ws.close();
          resolve('open');
        };
        ws.onclose = (ev) => resolve(`closed ${ev.code}`);
      });
      // The SDK: login fails instead of logging in.
      const { ZIM } = (window as any).Herald;
      const zim = ZIM.create({ appID, server });
      const login = await Promise.race([
        zim.login('carol', { token }).then(
          () => 'logged in',
          (e: any) => `refused ${e?.code}`,
        ),
        new Promise<string>((r) => setTimeout(() => r('no answer in 20 s'), 20_000)),
      ]);
      return { raw, login };
    },
    { appID: srv.app.appID, server: srv.url, token: srv.token('carol') },
  );
  expect(res).toEqual({ raw: 'closed 1006', login: `refused ${ZIMClientErrorCode.NetworkError}` });
  await page.close();
});
