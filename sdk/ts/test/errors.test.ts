// Error codes: the server's for bad input (and a failed call changes
// nothing), the SDK's own for what no reply can report (timeout, connection
// lost, login ended, destroyed), and the core's delivery rules against a
// scripted server where a real one cannot be made to misbehave on demand.
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import {
  ZIM,
  ZIMClientErrorCode,
  ZIMConnectionEvent,
  ZIMConnectionState,
  ZIMError,
  zimClientErrorCodes,
  type ZIMMessage,
} from '../src/node.js';
import { backoff } from '../src/zim/connection.js';
import { FakeServer } from './fakeserver.js';
import { startServer, type HeraldServer } from './harness.js';
import { Recorder, loggedIn, newClient, rejection, text, uniq, type Client } from './helpers.js';

let srv: HeraldServer;
const clients: Client[] = [];
const zims: ZIM[] = [];
beforeAll(async () => {
  srv = await startServer({ emulate: false });
});
afterAll(async () => {
  await srv?.dispose();
});
afterEach(() => {
  for (const c of clients.splice(0)) c.zim.destroy();
  for (const z of zims.splice(0)) z.destroy();
});
async function user(name: string): Promise<Client> {
  const c = await loggedIn(srv, uniq(name));
  clients.push(c);
  return c;
}

describe('bad input gets the server\'s code and changes nothing', () => {
  test('sendMessage', async () => {
    const alice = await user('alice');
    const bob = await user('bob');
    const big = 'x'.repeat(32 * 1024 + 1);
    const cases: Array<{ name: string; msg: ZIMMessage; to?: string; type?: number; config?: object; code: number }> = [
      { name: 'invalid user ID', msg: text('hi'), to: 'bad id!', code: 40004 },
      { name: 'a conversation with oneself', msg: text('hi'), to: alice.userID, code: 40005 },
      { name: 'unknown conversation type', msg: text('hi'), type: 1, code: 40005 },
      { name: 'unknown message type', msg: { type: 5, message: 'x' } as unknown as ZIMMessage, code: 40006 },
      { name: 'text over 32 KiB', msg: text(big), code: 40007 },
      { name: 'empty text', msg: text(''), code: 40008 },
      { name: 'empty command', msg: { type: 2, message: new Uint8Array(0) }, code: 40008 },
      { name: 'priority out of range', msg: text('hi'), config: { priority: 7 }, code: 40010 },
      { name: 'push title over 256 bytes', msg: text('hi'), config: { pushConfig: { title: 't'.repeat(257) } }, code: 40011 },
      { name: 'push config on a command', msg: { type: 2, message: 'cmd' }, config: { pushConfig: { title: 't' } }, code: 40011 },
      { name: 'localMessageID with a space', msg: { type: 1, message: 'hi', localMessageID: 'a b' }, code: 40003 },
      { name: 'group that does not exist', msg: text('hi'), to: uniq('nogroup'), type: 2, code: 40402 },
    ];
    for (const c of cases) {
      const err = await rejection(alice.zim.sendMessage(c.msg, c.to ?? bob.userID, c.type ?? 0, c.config ?? {}));
      expect(err, c.name).toBeInstanceOf(ZIMError);
      expect(err.code, `${c.name}: ${err.message}`).toBe(c.code);
      expect(err.message, c.name).not.toBe('');
    }
    // Nothing was stored: no history, no conversation, nothing delivered.
    expect((await alice.zim.queryHistoryMessage(bob.userID, 0, { count: 10 })).messageList).toEqual([]);
    expect((await alice.zim.queryConversationList({ count: 10 })).conversationList).toEqual([]);
    await alice.zim.sendMessage(text('marker'), bob.userID, 0);
    await bob.rec.until('marker', () => bob.rec.texts().includes('marker'));
    expect(bob.rec.texts()).toEqual(['marker']);
  });

  test('history, conversation list and markRead', async () => {
    const alice = await user('alice');
    const cases: Array<{ name: string; call: () => Promise<unknown>; code: number }> = [
      { name: 'history of a group that does not exist', call: () => alice.zim.queryHistoryMessage(uniq('nog'), 2, { count: 5 }), code: 40402 },
      { name: 'history with a bad peer ID', call: () => alice.zim.queryHistoryMessage('bad id!', 0, { count: 5 }), code: 40004 },
      { name: 'history with a negative count', call: () => alice.zim.queryHistoryMessage(uniq('p'), 0, { count: -1 }), code: 40003 },
      { name: 'conversation list with a negative count', call: () => alice.zim.queryConversationList({ count: -1 }), code: 40003 },
      { name: 'clear unread with a bad peer ID', call: () => alice.zim.clearConversationUnreadMessageCount('bad id!', 0), code: 40004 },
      { name: 'clear unread of an unknown conversation type', call: () => alice.zim.clearConversationUnreadMessageCount(uniq('p'), 9), code: 40005 },
    ];
    for (const c of cases) {
      const err = await rejection(c.call());
      expect(err.code, `${c.name}: ${err.message}`).toBe(c.code);
    }
  });

  test('a reused localMessageID: the same content is stored once, other content is local_id_conflict', async () => {
    const alice = await user('alice');
    const bobID = uniq('bob');
    const first = await alice.zim.sendMessage({ type: 1, message: 'a', localMessageID: 'fixed-1' }, bobID, 0);
    const again = await alice.zim.sendMessage({ type: 1, message: 'a', localMessageID: 'fixed-1' }, bobID, 0);
    expect(again.message.messageID).toBe(first.message.messageID);
    expect(again.message.conversationSeq).toBe(first.message.conversationSeq);
    const err = await rejection(alice.zim.sendMessage({ type: 1, message: 'b', localMessageID: 'fixed-1' }, bobID, 0));
    expect(err.code).toBe(40009);
    const h = await alice.zim.queryHistoryMessage(bobID, 0, { count: 10 });
    expect(h.messageList.map((m) => m.message)).toEqual(['a']);
  });

  test('login: bad token, expired token, unknown app, bad user ID; the state goes back to Disconnected', async () => {
    const u = uniq('login');
    const cases = [
      { name: 'malformed token', app: srv.app.appID, user: u, token: 'not-a-token', code: 40101, event: ZIMConnectionEvent.LoginInterrupted },
      { name: 'token of another user', app: srv.app.appID, user: u, token: srv.token(uniq('other')), code: 40101, event: ZIMConnectionEvent.LoginInterrupted },
      { name: 'expired token', app: srv.app.appID, user: u, token: srv.token(u, -120), code: 40102, event: ZIMConnectionEvent.TokenExpired },
      { name: 'unknown app', app: 'no-such-app', user: u, token: srv.token(u), code: 40103, event: ZIMConnectionEvent.LoginInterrupted },
      { name: 'invalid user ID', app: srv.app.appID, user: 'bad id!', token: srv.token('bad id!'), code: 40004, event: ZIMConnectionEvent.LoginInterrupted },
    ];
    for (const c of cases) {
      const zim = ZIM.create({ appID: c.app, server: srv.url, platform: 'linux' });
      zims.push(zim);
      const rec = new Recorder(zim);
      const err = await rejection(zim.login(c.user, { token: c.token }));
      expect(err.code, `${c.name}: ${err.message}`).toBe(c.code);
      const states = rec.of('connectionStateChanged');
      expect(states.map((d) => d.state), c.name).toEqual([ZIMConnectionState.Connecting, ZIMConnectionState.Disconnected]);
      expect(states[1].event, c.name).toBe(c.event);
      expect(states[1].extendedData.code, c.name).toBe(c.code);
      expect(zim.getConnectionState()).toBe(ZIMConnectionState.Disconnected);
      expect((await rejection(zim.queryConversationList())).code, c.name).toBe(40100);
    }
  });

  test('calls out of turn: before login 40100, login twice 40104 (the session carries on), after destroy 60004', async () => {
    const zim = ZIM.create({ appID: srv.app.appID, server: srv.url, platform: 'linux' });
    zims.push(zim);
    expect((await rejection(zim.sendMessage(text('x'), 'bob', 0))).code).toBe(40100);
    expect((await rejection(zim.renewToken('x'))).code).toBe(40100);
    await zim.logout(); // nothing to log out of: no error
    const u = uniq('twice');
    await zim.login(u, { token: srv.token(u) });
    expect((await rejection(zim.login(u, { token: srv.token(u) }))).code).toBe(40104);
    expect(zim.getConnectionState()).toBe(ZIMConnectionState.Connected);
    await zim.sendMessage(text('still fine'), uniq('peer'), 0);
    expect((await rejection(zim.renewToken('garbage'))).code).toBe(40101); // the old token stays
    await zim.sendMessage(text('still fine'), uniq('peer'), 0);
    zim.destroy();
    expect((await rejection(zim.sendMessage(text('x'), 'bob', 0))).code).toBe(ZIMClientErrorCode.Destroyed);
  });

  test('ZIM.create refuses what it cannot dial, with ZIMClientErrorCode.InvalidArgument', () => {
    for (const server of ['', 'localhost:8080', 'ftp://x', undefined as unknown as string]) {
      let err: unknown;
      try {
        ZIM.create({ appID: 'a', server });
      } catch (e) {
        err = e;
      }
      expect(err, String(server)).toBeInstanceOf(ZIMError);
      expect((err as ZIMError).code).toBe(ZIMClientErrorCode.InvalidArgument);
    }
  });
});

describe('the SDK\'s own error codes', () => {
  test('the exported list matches ZIMClientErrorCode, in a range the server does not use', () => {
    const codes = Object.values(ZIMClientErrorCode).sort();
    expect(zimClientErrorCodes.map((c) => c.code).sort()).toEqual(codes);
    for (const c of codes) expect(c >= 60000 && c < 61000).toBe(true);
    expect(new Set(zimClientErrorCodes.map((c) => c.name)).size).toBe(codes.length);
  });
});

describe('against a scripted server', () => {
  let fake: FakeServer;
  afterEach(async () => {
    await fake?.close();
  });
  async function fakeLogin(cfg: object = {}) {
    fake = await FakeServer.start();
    const zim = ZIM.create({ appID: 'fake', server: fake.url, platform: 'linux', deviceID: 'dev1', ...cfg });
    zims.push(zim);
    const rec = new Recorder(zim);
    const done = zim.login('u', { token: 't' });
    const c0 = await fake.conn(0);
    const login = await c0.next('login');
    expect(login.data).toMatchObject({ appID: 'fake', userID: 'u', token: 't', platform: 'linux', deviceID: 'dev1' });
    expect(login.data.sdkVersion).toMatch(/^herald-ts\//);
    c0.loginReply(login.id);
    await done;
    return { zim, rec, c0 };
  }

  test('a reply that never comes: Timeout', async () => {
    const { zim, c0 } = await fakeLogin({ requestTimeout: 300 });
    const p = zim.queryConversationList({ count: 5 });
    await c0.next('conversationList');
    const err = await rejection(p);
    expect(err.code).toBe(ZIMClientErrorCode.Timeout);
  });

  test('a login reply that never comes: Timeout and Disconnected/LoginTimeout', async () => {
    fake = await FakeServer.start();
    const zim = ZIM.create({ appID: 'fake', server: fake.url, platform: 'linux', loginTimeout: 300 });
    zims.push(zim);
    const rec = new Recorder(zim);
    const err = await rejection(zim.login('u', { token: 't' }));
    expect(err.code).toBe(ZIMClientErrorCode.Timeout);
    expect(rec.of('connectionStateChanged').at(-1)).toMatchObject({ state: 0, event: ZIMConnectionEvent.LoginTimeout });
  });

  test('no server: NetworkError', async () => {
    fake = await FakeServer.start();
    const url = fake.url;
    await fake.close();
    const zim = ZIM.create({ appID: 'fake', server: url, platform: 'linux' });
    zims.push(zim);
    expect((await rejection(zim.login('u', { token: 't' }))).code).toBe(ZIMClientErrorCode.NetworkError);
  });

  test('connection lost: a request the SDK may not repeat fails with ConnectionLost; reads and sends are sent again', async () => {
    const { zim, rec, c0 } = await fakeLogin();
    const core = (zim as unknown as { core: { request: (t: string, d: unknown) => Promise<unknown> } }).core;
    const create = core.request('groupCreate', { groupID: 'g' });
    const list = zim.queryConversationList({ count: 5 });
    const send = zim.sendMessage(text('in flight'), 'bob', 0);
    const sendFrame = await c0.next('send');
    const cmd = zim.sendMessage({ type: 2, message: 'typing' }, 'bob', 0); // never stored: not repeated
    await c0.next('send', (f) => f.data.type === 2);
    await c0.next('groupCreate');
    await c0.next('conversationList');
    c0.close(1012, 'restart');
    expect((await rejection(create)).code).toBe(ZIMClientErrorCode.ConnectionLost);
    expect((await rejection(cmd)).code).toBe(ZIMClientErrorCode.ConnectionLost);
    await rec.state(ZIMConnectionState.Reconnecting);

    const c1 = await fake.conn(1);
    const login = await c1.next('login');
    c1.loginReply(login.id);
    const l2 = await c1.next('conversationList');
    c1.reply(l2.id, { conversations: [] });
    expect(await list).toEqual({ conversationList: [] });
    const s2 = await c1.next('send');
    expect(s2.data.localMessageID).toBe(sendFrame.data.localMessageID);
    expect(s2.data.text).toBe('in flight');
    c1.reply(s2.id, { messageID: '9007199254740993', conversationSeq: 4, timestamp: 1, duplicate: true });
    const r = await send;
    expect(r.message).toMatchObject({ messageID: '9007199254740993', conversationSeq: 4, localMessageID: sendFrame.data.localMessageID });
    expect(c1.frames.filter((f) => f.type === 'groupCreate')).toEqual([]); // not repeated
    expect(c1.frames.filter((f) => f.type === 'send')).toHaveLength(1);
  });

  test('unavailable: a send is sent again after a backoff and resolves', async () => {
    const { zim, c0 } = await fakeLogin();
    const send = zim.sendMessage(text('busy'), 'bob', 0);
    const f1 = await c0.next('send');
    c0.replyError(f1.id, 50300, 'server unavailable, retry later');
    const f2 = await c0.next('send', (f) => f.id !== f1.id);
    expect(f2.data.localMessageID).toBe(f1.data.localMessageID);
    c0.reply(f2.id, { messageID: '1', conversationSeq: 1, timestamp: 1 });
    expect((await send).message.conversationSeq).toBe(1);
  });

  test('dedupe and acks: messages delivered again after a reconnect are raised once; acks are cumulative and follow the handler', async () => {
    const { rec, c0 } = await fakeLogin();
    let handled = 0;
    const acksAtHandling: number[] = [];
    rec.zim.on('peerMessageReceived', (_z, d) => {
      handled += d.messageList.length;
      acksAtHandling.push(c0.frames.filter((f) => f.type === 'ack').length);
    });
    c0.message({ messageID: '1', conversationID: 'bob', conversationSeq: 1, senderUserID: 'bob', text: 'one' });
    c0.message({ messageID: '2', conversationID: 'bob', conversationSeq: 2, senderUserID: 'bob', text: 'two' });
    const ack = await c0.next('ack');
    expect(ack.id).toBeUndefined();
    expect(ack.data).toEqual({ acks: [{ conversationID: 'bob', conversationType: 0, seq: 2 }] });
    expect(acksAtHandling[0]).toBe(0); // no ack before the handler ran
    c0.close(1011, 'boom');

    const c1 = await fake.conn(1);
    const login = await c1.next('login');
    c1.loginReply(login.id);
    // The position handled so far is acknowledged again on the new connection.
    const ack1 = await c1.next('ack');
    expect(ack1.data.acks).toEqual([{ conversationID: 'bob', conversationType: 0, seq: 2 }]);
    for (const [seq, t] of [[1, 'one'], [2, 'two'], [3, 'three']] as const) {
      c1.message({ messageID: String(seq), conversationID: 'bob', conversationSeq: seq, senderUserID: 'bob', text: t, offline: true });
    }
    c1.send({ type: 'syncDone', data: { count: 3 } });
    expect(await rec.syncFinished(rec.events.length - 1)).toBe(3);
    expect(rec.texts()).toEqual(['one', 'two', 'three']);
    expect(handled).toBe(3);
    const ack2 = await c1.next('ack', (f) => f.data.acks[0].seq === 3);
    expect(ack2.data.acks).toEqual([{ conversationID: 'bob', conversationType: 0, seq: 3 }]);
    const last = rec.of('peerMessageReceived').at(-1);
    expect(last.info.isOfflineMessage).toBe(true);
    expect(last.messageList.map((m: ZIMMessage) => m.conversationSeq)).toEqual([3]);
  });

  test('this device\'s own send, stored before its reply was lost, comes back in the sync: not raised, the retry resolves', async () => {
    const { zim, rec, c0 } = await fakeLogin();
    const send = zim.sendMessage(text('mine'), 'bob', 0);
    const f1 = await c0.next('send');
    c0.close(1012);
    const c1 = await fake.conn(1);
    const login = await c1.next('login');
    c1.loginReply(login.id);
    c1.message({ messageID: '77', localMessageID: f1.data.localMessageID, conversationID: 'bob', conversationSeq: 1, senderUserID: 'u', text: 'mine', offline: true });
    c1.send({ type: 'syncDone', data: { count: 1 } });
    const f2 = await c1.next('send');
    expect(f2.data.localMessageID).toBe(f1.data.localMessageID);
    c1.reply(f2.id, { messageID: '77', conversationSeq: 1, timestamp: 5, duplicate: true });
    expect((await send).message).toMatchObject({ messageID: '77', conversationSeq: 1 });
    await rec.syncFinished();
    const ack = await c1.next('ack');
    expect(ack.data.acks).toEqual([{ conversationID: 'bob', conversationType: 0, seq: 1 }]);
    expect(rec.messages()).toEqual([]);
  });

  test('a refused re-login ends the login: Disconnected with the code, waiting requests fail with LoginEnded, no more attempts', async () => {
    const { zim, rec, c0 } = await fakeLogin();
    c0.close(1012);
    const c1 = await fake.conn(1);
    const login = await c1.next('login');
    const waiting = zim.queryConversationList();
    c1.replyError(login.id, 40101, 'token revoked');
    const end = await rec.state(ZIMConnectionState.Disconnected);
    expect(end).toMatchObject({ event: ZIMConnectionEvent.LoginInterrupted, extendedData: { code: 40101 } });
    expect((await rejection(waiting)).code).toBe(ZIMClientErrorCode.LoginEnded);
    expect(fake.conns).toHaveLength(2);
  });

  test('conversation order keys beyond 2^53 page exactly', async () => {
    const { zim, c0 } = await fakeLogin();
    const page1 = zim.queryConversationList({ count: 1 });
    const f1 = await c0.next('conversationList');
    expect(c0.raw.at(-1)).toContain('"before":0');
    c0.sendRaw(
      `{"type":"reply","id":"${f1.id}","data":{"conversations":[{"conversationID":"bob","conversationType":0,"unreadMessageCount":2,"orderKey":386804379019116545}],"hasMore":true}}`,
    );
    const { conversationList } = await page1;
    expect(conversationList[0]).toMatchObject({ conversationID: 'bob', unreadMessageCount: 2 });
    const page2 = zim.queryConversationList({ count: 1, nextConversation: conversationList[0] });
    const f2 = await c0.next('conversationList', (f) => f.id !== f1.id);
    expect(c0.raw.at(-1)).toContain('"before":386804379019116545');
    c0.reply(f2.id, { conversations: [] });
    await page2;
    // A copy of the conversation (no exact key kept) pages by its number's exact value.
    const page3 = zim.queryConversationList({ count: 1, nextConversation: { ...conversationList[0]! } });
    await c0.next('conversationList', (f) => f.id !== f1.id && f.id !== f2.id);
    expect(c0.raw.at(-1)).toContain(`"before":${BigInt(386804379019116545)}`);
    void page3.catch(() => {});
  });

  test('4004 (token expired) and 4000 (logged out) do not reconnect', async () => {
    for (const [code, event] of [
      [4004, ZIMConnectionEvent.TokenExpired],
      [4000, ZIMConnectionEvent.Success],
    ] as const) {
      const { rec, c0 } = await fakeLogin();
      c0.close(code);
      const end = await rec.state(ZIMConnectionState.Disconnected);
      expect(end).toMatchObject({ event, extendedData: { closeCode: code } });
      expect(rec.of('connectionStateChanged').map((d) => d.state)).toEqual([1, 2, 0]);
      await fake.close();
    }
  });
});

test('backoff: the ceiling doubles from 0.5 s to 30 s and the wait is in its upper half', () => {
  const cases = [
    { n: 0, ceil: 500 },
    { n: 1, ceil: 1000 },
    { n: 2, ceil: 2000 },
    { n: 5, ceil: 16_000 },
    { n: 6, ceil: 30_000 },
    { n: 40, ceil: 30_000 },
  ];
  for (const c of cases) {
    expect(backoff(c.n, 500, 30_000, 0)).toBe(c.ceil / 2);
    expect(backoff(c.n, 500, 30_000, 0.999999)).toBeCloseTo(c.ceil, -1);
  }
});
