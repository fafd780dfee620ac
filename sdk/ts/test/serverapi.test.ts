// What the app's server and the operator do to a logged-in client, seen
// through the SDK against a real server: a kick, a token revocation and a
// disabled app each end the login for good (no reconnect), with the event
// and code the app needs to tell them apart; a system message is marked.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ZIMConnectionEvent, ZIMConnectionState } from '../src/node.js';
import { startServer, type HeraldServer } from './harness.js';
import { loggedIn, uniq, type Client } from './helpers.js';

const operatorKey = 'operator-key-for-the-sdk-tests-0123456789';
let srv: HeraldServer;
const clients: Client[] = [];
beforeAll(async () => {
  srv = await startServer({ emulate: false, args: ['--operator-key', operatorKey] });
});
afterAll(async () => {
  for (const c of clients) c.zim.destroy();
  await srv?.dispose();
});

async function user(name: string): Promise<Client> {
  const c = await loggedIn(srv, uniq(name));
  clients.push(c);
  return c;
}

/** rest calls the server API with the app's admin key (or the operator key). */
async function rest(method: string, path: string, body?: unknown, key = srv.app.adminKey): Promise<any> {
  const res = await fetch(srv.httpURL + path, {
    method,
    headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : {};
}

/** ended waits for the login to end (state Disconnected) and returns the change. */
function ended(c: Client): Promise<{ state: number; event: number; extendedData: Record<string, unknown> }> {
  return c.rec.until('disconnected', () =>
    c.rec.of('connectionStateChanged').find((d) => d.state === ZIMConnectionState.Disconnected),
  );
}

/** neverReconnects checks that no reconnect began after the end. */
function neverReconnects(c: Client): void {
  expect(c.rec.of('connectionStateChanged').filter((d) => d.state === ZIMConnectionState.Reconnecting)).toEqual([]);
}

describe('server API and operator actions on a live login', () => {
  test('a kick by the app server is KickedOut (close 4008), not a reconnect', async () => {
    const c = await user('kicked');
    const r = await rest('POST', `/v1/apps/${srv.app.appID}/users/${c.userID}/kick`);
    expect(r.sessions).toBe(1); // its one live session
    const d = await ended(c);
    expect(d.event).toBe(ZIMConnectionEvent.KickedOut);
    expect(d.extendedData.closeCode).toBe(4008);
    neverReconnects(c);
  });

  test('revoked tokens end the login as TokenExpired (close 4007); a new token logs in', async () => {
    const c = await user('revoked');
    await rest('POST', `/v1/apps/${srv.app.appID}/users/${c.userID}/revoke-tokens`, {});
    const d = await ended(c);
    expect(d.event).toBe(ZIMConnectionEvent.TokenExpired);
    expect(d.extendedData.closeCode).toBe(4007);
    neverReconnects(c);
    // Tokens carry whole seconds: one minted in the revocation's second
    // is refused too, so the new one is issued a second later.
    await new Promise((r) => setTimeout(r, 1100));
    await c.zim.login(c.userID, { token: srv.token(c.userID) });
  });

  test('a system message from the server API is marked isSystem', async () => {
    const c = await user('sys');
    const from = c.rec.messages().length;
    await rest('POST', `/v1/apps/${srv.app.appID}/messages`, {
      system: true,
      conversationID: c.userID,
      conversationType: 0,
      localMessageID: uniq('sys'),
      type: 1,
      text: 'maintenance at noon',
    });
    const m = await c.rec.until('system message', () => c.rec.messages().slice(from).find((x) => x.message === 'maintenance at noon'));
    expect(m.isSystem).toBe(true);
    expect(m.senderUserID).toBe('@system');
  });

  // Last: the app stays disabled for the rest of this file's server.
  test('a disabled app ends the login with 40106 (close 4006) and no reconnect', async () => {
    const c = await user('disabled');
    await rest('POST', `/v1/admin/apps/${srv.app.appID}/disable`, undefined, operatorKey);
    const d = await ended(c);
    expect(d.event).toBe(ZIMConnectionEvent.LoginInterrupted);
    expect(d.extendedData.closeCode).toBe(4006);
    expect(d.extendedData.code).toBe(40106);
    neverReconnects(c);
    const err = await c.zim.login(c.userID, { token: srv.token(c.userID) }).then(
      () => undefined,
      (e: { code: number }) => e,
    );
    expect(err?.code).toBe(40106);
  });
});
