// The server's limits against a real server started with small ones: a
// send over the message rate (42900 with retryAfterMs) is sent again after
// that time, stored once and in order; a handshake refused by a connection
// cap (HTTP 503, Retry-After) delays the next reconnect by that long;
// 42905 too_many_sessions ends the login.
import WebSocket from 'ws';
import { afterEach, describe, expect, test } from 'vitest';
import { ZIMConnectionEvent, ZIMConnectionState, ZIMError, type ZIMLogger } from '../src/node.js';
import { setWebSocketImplementation, type WebSocketConstructor } from '../src/transport.js';
import { hintedWait, refusalError } from '../src/zim/connection.js';
import { startServer, type HeraldServer } from './harness.js';
import { loggedIn, newClient, rejection, text, uniq, type Client } from './helpers.js';

let srv: HeraldServer | undefined;
const clients: Client[] = [];
afterEach(async () => {
  setWebSocketImplementation(WebSocket as unknown as WebSocketConstructor); // as the node entry does
  for (const c of clients.splice(0)) c.zim.destroy();
  await srv?.dispose();
  srv = undefined;
});

/** A logger that keeps every line with the time it was logged. */
class TimedLogger implements ZIMLogger {
  lines: Array<{ at: number; msg: string }> = [];
  private waiters: Array<() => void> = [];
  debug = (msg: string) => this.add(msg);
  info = (msg: string) => this.add(msg);
  warn = (msg: string) => this.add(msg);
  error = (msg: string) => this.add(msg);
  private add(msg: string) {
    this.lines.push({ at: Date.now(), msg });
    for (const w of this.waiters.slice()) w();
  }
  /** waitFor resolves with the first line matching re. */
  waitFor(re: RegExp): Promise<{ at: number; msg: string }> {
    return new Promise((resolve) => {
      const check = () => {
        const l = this.lines.find((x) => re.test(x.msg));
        if (l) {
          this.waiters = this.waiters.filter((w) => w !== check);
          resolve(l);
        }
      };
      this.waiters.push(check);
      check();
    });
  }
}

/** Dials with ws and keeps every socket with the time it was made, so that a test can cut them. */
function trackSockets(): Array<{ ws: WebSocket; at: number }> {
  const made: Array<{ ws: WebSocket; at: number }> = [];
  class Tracked extends WebSocket {
    constructor(url: string) {
      super(url);
      made.push({ ws: this, at: Date.now() });
    }
  }
  setWebSocketImplementation(Tracked as unknown as WebSocketConstructor);
  return made;
}

/** until polls cond (every 10 ms, at most ms) and fails with what when it never holds. */
async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('send rate', () => {
  test('a burst over the rate is sent again after retryAfterMs, every message stored once and in order', async () => {
    srv = await startServer({ emulate: false, args: ['--user-message-rate', '2', '--user-message-burst', '1'] });
    const log = new TimedLogger();
    const alice = await loggedIn(srv, uniq('alice'), { logger: log, requestTimeout: 20_000 });
    clients.push(alice);
    const bob = uniq('bob');

    const texts = ['m1', 'm2', 'm3', 'm4', 'm5'];
    const sent = await Promise.all(texts.map((t) => alice.zim.sendMessage(text(t), bob, 0)));
    const seqs = sent.map((r) => r.message.conversationSeq ?? 0);
    for (let i = 1; i < seqs.length; i++) expect(seqs[i], `seqs ${seqs}`).toBe(seqs[i - 1]! + 1);

    const hist = await alice.zim.queryHistoryMessage(bob, 0, { count: 100, reverse: true });
    expect(hist.messageList.map((m) => m.message)).toEqual(texts);

    // Every resend came at least its refusal's retryAfterMs after it.
    const refusals = log.lines.flatMap((l, i) => {
      const m = /^herald: send (\w+) over the rate limit; sending again in (\d+) ms$/.exec(l.msg);
      return m ? [{ i, at: l.at, id: m[1], after: Number(m[2]) }] : [];
    });
    expect(refusals.length).toBeGreaterThanOrEqual(4); // one token, five sends
    for (const r of refusals) {
      expect(r.after).toBeGreaterThan(0);
      const again = log.lines.slice(r.i + 1).find((l) => l.msg === `herald: send ${r.id} sent again after the rate limit`);
      expect(again, `resend of ${r.id}`).toBeDefined();
      expect(again!.at - r.at).toBeGreaterThanOrEqual(r.after);
    }
  });

  test('a send whose retryAfterMs ends past its deadline rejects at once with the hint', async () => {
    srv = await startServer({ emulate: false, args: ['--user-message-rate', '1', '--user-message-burst', '1'] });
    const alice = await loggedIn(srv, uniq('alice'), { requestTimeout: 500 });
    clients.push(alice);
    const bob = uniq('bob');
    await alice.zim.sendMessage(text('first'), bob, 0);
    const err = (await rejection(alice.zim.sendMessage(text('second'), bob, 0))) as ZIMError;
    expect(err).toBeInstanceOf(ZIMError);
    expect(err.code).toBe(42900);
    expect(err.retryAfterMs).toBeGreaterThan(500);
    const hist = await alice.zim.queryHistoryMessage(bob, 0, { count: 100, reverse: true });
    expect(hist.messageList.map((m) => m.message)).toEqual(['first']);
  });
});

describe('connection caps', () => {
  test('a refused handshake rejects the login with the hint, and delays the next reconnect by Retry-After', async () => {
    srv = await startServer({ emulate: false, args: ['--max-unauthenticated', '1', '--login-timeout', '3s'] });
    const made = trackSockets();
    const log = new TimedLogger();
    const alice = await loggedIn(srv, uniq('alice'), { logger: log });
    clients.push(alice);

    // A connection that does not log in takes the one place for those.
    const idle = new WebSocket(`${srv.url}/v1/ws`);
    await new Promise<void>((resolve, reject) => {
      idle.once('open', () => resolve());
      idle.once('error', reject);
    });
    try {
      const other = newClient(srv, uniq('bob'));
      clients.push(other);
      const err = (await rejection(other.zim.login(other.userID, { token: srv.token(other.userID) }))) as ZIMError;
      expect(err.code).toBe(42903);
      expect(err.retryAfterMs).toBe(3000); // the login timeout

      // Alice's connection is lost; her reconnect is refused; the next
      // attempt waits the server's Retry-After, not the 0.5 s backoff.
      const from = alice.rec.events.length;
      const before = made.length;
      const lost = made[0]!.ws;
      lost.terminate();
      const failed = await log.waitFor(/^herald: reconnect attempt \d+ failed: 42903 /);
      const waiting = await log.waitFor(/^herald: server refused the connection; waiting \d+ ms as it asked \(retry after 3000 ms\)$/);
      expect(waiting.at).toBeGreaterThanOrEqual(failed.at);
      idle.terminate();
      await alice.rec.state(ZIMConnectionState.Connected, from);
      const attempts = made.slice(before).filter((m) => m.ws !== lost);
      const next = attempts.find((m) => m.at >= failed.at);
      expect(next, 'an attempt after the refusal').toBeDefined();
      expect(next!.at - failed.at).toBeGreaterThanOrEqual(3000);
      await alice.zim.sendMessage(text('back'), uniq('bob'), 0);
    } finally {
      idle.terminate();
    }
  });
});

describe('sessions per user', () => {
  test('42905 too_many_sessions ends the login, at login and at a reconnect, with no retry loop', async () => {
    srv = await startServer({ emulate: false, args: ['--max-sessions-per-user', '1'] });
    const made = trackSockets();
    const user = uniq('alice');
    const log = new TimedLogger();
    const a = await loggedIn(srv, user, { platform: 'server', logger: log });
    const aSocket = made[0]!.ws;
    const b = newClient(srv, user, { platform: 'server' });
    clients.push(a, b);

    const err = await rejection(b.zim.login(user, { token: srv.token(user) }));
    expect(err.code).toBe(42905);
    const st = await b.rec.state(ZIMConnectionState.Disconnected);
    expect(st.extendedData.code).toBe(42905);

    // a's connection is lost; b takes the place while a waits its backoff
    // (at least 250 ms); a's reconnect is refused and the login ends.
    const from = a.rec.events.length;
    aSocket.terminate();
    await a.rec.state(ZIMConnectionState.Reconnecting, from);
    await until('b logged in', async () => {
      try {
        await b.zim.login(user, { token: srv!.token(user) });
        return true;
      } catch {
        return false;
      }
    });
    const end = await a.rec.state(ZIMConnectionState.Disconnected, from);
    expect(end.event).toBe(ZIMConnectionEvent.LoginInterrupted);
    expect(end.extendedData.code).toBe(42905);
    expect(a.zim.getConnectionState()).toBe(ZIMConnectionState.Disconnected);
    // One refused attempt, none after it.
    const attempts = log.lines.filter((l) => /^herald: reconnect attempt \d+ failed/.test(l.msg)).map((l) => l.msg);
    expect(attempts).toHaveLength(1);
    expect(attempts[0]).toMatch(/^herald: reconnect attempt 1 failed: 42905 /);
  });
});

describe('retry hints', () => {
  test('hintedWait waits at least the hint plus jitter of up to a quarter (at most max), never less than the backoff', () => {
    expect(hintedWait(1000, 20, 30_000, 0)).toBe(1000);
    expect(hintedWait(1000, 20, 30_000, 0.5)).toBe(1125);
    expect(hintedWait(40_000, 1000, 2000, 0.5)).toBe(41_000);
    expect(hintedWait(1000, 5000, 30_000, 0.9)).toBe(5000);
  });

  test('refusalError reads the server body and the Retry-After header', () => {
    const e = refusalError(503, '10', '{"code":42903,"message":"too many","retryAfterMs":10000}');
    expect([e.code, e.message, e.retryAfterMs]).toEqual([42903, 'too many', 10_000]);
    expect(refusalError(503, '30', '{"code":42901,"message":"m","retryAfterMs":1000}').retryAfterMs).toBe(30_000);
    const proxy = refusalError(503, ['5'], '<html>busy</html>');
    expect([proxy.code, proxy.retryAfterMs]).toEqual([50300, 5000]);
    expect(refusalError(502, undefined, '').retryAfterMs).toBeUndefined();
    expect(refusalError(503, '86400', '').retryAfterMs).toBe(300_000);
  });
});
