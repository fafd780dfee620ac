// The IM core against a real server: 1:1 live and offline, the events,
// acknowledgements, kicks, token expiry, history and conversations.
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import {
  ZIM,
  ZIMConnectionEvent,
  ZIMConnectionState,
  ZIMConversationSyncState,
  ZIMMessageDirection,
  ZIMMessageSentStatus,
  type ZIMMessage,
} from '../src/node.js';
import { getZIMSide, setPushSide, type PushRegistration, type PushSide } from '../src/internal/pushlink.js';
import { startServer, type HeraldServer } from './harness.js';
import { loggedIn, newClient, rejection, text, uniq, type Client } from './helpers.js';

let srv: HeraldServer;
const clients: Client[] = [];
beforeAll(async () => {
  srv = await startServer({ emulate: false });
});
afterAll(async () => {
  await srv?.dispose();
});
afterEach(() => {
  for (const c of clients.splice(0)) c.zim.destroy();
});
async function user(name: string, cfg = {}): Promise<Client> {
  const c = await loggedIn(srv, uniq(name), cfg);
  clients.push(c);
  return c;
}

describe('one-to-one messages', () => {
  test('live: text, command and custom messages reach the peer once, with the sender\'s result', async () => {
    const alice = await user('alice');
    const bob = await user('bob');
    const sent = await alice.zim.sendMessage(text('hello bob'), bob.userID, 0, {
      priority: 2,
      pushConfig: { title: 'Alice', content: 'hello bob', payload: '{"chat":1}', resourcesID: 'im' },
    });
    expect(sent.message).toMatchObject({
      type: 1,
      message: 'hello bob',
      conversationID: bob.userID,
      conversationType: 0,
      conversationSeq: 1,
      senderUserID: alice.userID,
      direction: ZIMMessageDirection.Send,
      sentStatus: ZIMMessageSentStatus.Success,
      priority: 2,
    });
    expect(sent.message.messageID).toMatch(/^\d+$/);
    expect(sent.message.localMessageID).toMatch(/^[0-9a-f]{32}$/);
    expect(sent.message.timestamp).toBeGreaterThan(Date.now() - 60_000);

    const got = await bob.rec.next('peerMessageReceived', () => true, 0);
    expect(got.fromConversationID).toBe(alice.userID);
    expect(got.info).toEqual({ isOfflineMessage: false });
    expect(got.messageList).toHaveLength(1);
    expect(got.messageList[0]).toMatchObject({
      type: 1,
      message: 'hello bob',
      messageID: sent.message.messageID,
      localMessageID: sent.message.localMessageID,
      conversationID: alice.userID,
      conversationType: 0,
      conversationSeq: 1,
      senderUserID: alice.userID,
      direction: ZIMMessageDirection.Receive,
    });

    // Command: bytes (not valid UTF-8 included) survive; no sequence number.
    const bytes = new Uint8Array([0, 1, 2, 250, 255, 0x80, 0x41]);
    const cmd = await alice.zim.sendMessage({ type: 2, message: bytes }, bob.userID, 0, {});
    expect(cmd.message.conversationSeq).toBe(0);
    // Custom: a string body with a sub-type.
    await alice.zim.sendMessage(
      { type: 200, message: 'héllo 🌍 custom', subType: 7, searchedContent: 'greeting' },
      bob.userID,
      0,
      { priority: 3 },
    );
    const msgs = await bob.rec.messagesAtLeast(3);
    expect(msgs).toHaveLength(3);
    expect(msgs[1]!.type).toBe(2);
    expect(Array.from(msgs[1]!.message as Uint8Array)).toEqual(Array.from(bytes));
    expect(msgs[2]).toMatchObject({ type: 200, message: 'héllo 🌍 custom', subType: 7, searchedContent: 'greeting', conversationSeq: 2, priority: 3 });
  });

  test('offline: a later login gets the messages in order, once, flagged offline, between the sync events', async () => {
    const alice = await user('alice');
    const carolID = uniq('carol');
    const sentSeqs: number[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await alice.zim.sendMessage(text(`m${i}`), carolID, 0, { pushConfig: { title: 't', content: `m${i}` } });
      sentSeqs.push(r.message.conversationSeq!);
    }
    expect(sentSeqs).toEqual([1, 2, 3, 4, 5]);

    const carol = newClient(srv, carolID);
    clients.push(carol);
    await carol.zim.login(carolID, { token: srv.token(carolID) });
    const count = await carol.rec.syncFinished();
    expect(count).toBe(5);
    // A live message after the sync: everything before it came once.
    await alice.zim.sendMessage(text('live'), carolID, 0);
    await carol.rec.until('live', () => carol.rec.texts().includes('live'));
    expect(carol.rec.texts()).toEqual(['m0', 'm1', 'm2', 'm3', 'm4', 'live']);
    const batches = carol.rec.of('peerMessageReceived');
    for (const b of batches.slice(0, -1)) expect(b.info.isOfflineMessage).toBe(true);
    expect(batches.at(-1).info.isOfflineMessage).toBe(false);
    expect(carol.rec.messages().map((m) => m.conversationSeq)).toEqual([1, 2, 3, 4, 5, 6]);

    // The order of events: connecting, connected, sync started, messages, sync finished.
    const order = carol.rec.events.map((e) =>
      e.event === 'connectionStateChanged'
        ? `state${e.data.state}/${e.data.event}`
        : e.event === 'conversationSyncStateChanged'
          ? `sync${e.data.state}`
          : e.event,
    );
    const firstMsg = order.indexOf('peerMessageReceived');
    expect(order.slice(0, 3)).toEqual([
      `state${ZIMConnectionState.Connecting}/${ZIMConnectionEvent.ActiveLogin}`,
      `state${ZIMConnectionState.Connected}/${ZIMConnectionEvent.Success}`,
      `sync${ZIMConversationSyncState.Started}`,
    ]);
    expect(firstMsg).toBe(3);
    expect(order.indexOf(`sync${ZIMConversationSyncState.Finished}`)).toBeGreaterThan(firstMsg);
  });

  test('acks: handled messages are not delivered again to the device at its next login', async () => {
    const alice = await user('alice');
    const daveID = uniq('dave');
    const deviceID = uniq('davedev');
    for (let i = 0; i < 3; i++) await alice.zim.sendMessage(text(`a${i}`), daveID, 0);

    const dave1 = newClient(srv, daveID, { deviceID });
    await dave1.zim.login(daveID, { token: srv.token(daveID) });
    expect(await dave1.rec.syncFinished()).toBe(3);
    await dave1.zim.logout(); // flushes the acks before it logs out
    expect(dave1.rec.of('connectionStateChanged').at(-1)).toMatchObject({ state: 0, event: ZIMConnectionEvent.Success });
    dave1.zim.destroy();

    await alice.zim.sendMessage(text('a3'), daveID, 0);
    // A fresh instance (no memory of what was delivered) on the same device.
    const dave2 = newClient(srv, daveID, { deviceID });
    clients.push(dave2);
    await dave2.zim.login(daveID, { token: srv.token(daveID) });
    expect(await dave2.rec.syncFinished()).toBe(1);
    expect(dave2.rec.texts()).toEqual(['a3']);

    // Another device of the same user gets everything.
    const dave3 = newClient(srv, daveID, { platform: 'web' });
    clients.push(dave3);
    await dave3.zim.login(daveID, { token: srv.token(daveID) });
    expect(await dave3.rec.syncFinished()).toBe(4);
    expect(dave3.rec.texts()).toEqual(['a0', 'a1', 'a2', 'a3']);
  });

  test('a message sent by this user from another device arrives with direction Send', async () => {
    const alice = await user('alice');
    const bob = await user('bob');
    const alice2 = newClient(srv, alice.userID, { platform: 'web' });
    clients.push(alice2);
    await alice2.zim.login(alice.userID, { token: srv.token(alice.userID) });
    await alice.zim.sendMessage(text('from phone'), bob.userID, 0);
    const [m] = await alice2.rec.messagesAtLeast(1);
    expect(m).toMatchObject({ message: 'from phone', conversationID: bob.userID, senderUserID: alice.userID, direction: ZIMMessageDirection.Send });
    // The sending device itself raises nothing for its own send.
    await bob.rec.messagesAtLeast(1);
    expect(alice.rec.messages()).toHaveLength(0);
  });
});

describe('group messages', () => {
  test('groupMessageReceived live and at a later login; never as peer messages', async () => {
    const alice = await user('alice');
    const bob = await user('bob');
    const carol = await user('carol');
    await carol.zim.logout();
    const groupID = uniq('team');
    // Groups are the groups layer's; the wire request is enough here.
    const core = (alice.zim as unknown as { core: { request: (t: string, d: unknown) => Promise<unknown> } }).core;
    await core.request('groupCreate', { groupID, name: 'Team', members: [bob.userID, carol.userID] });

    const sent = await alice.zim.sendMessage(text('hi team'), groupID, 2, { pushConfig: { title: 'Team', content: 'hi team' } });
    expect(sent.message).toMatchObject({ conversationID: groupID, conversationType: 2, conversationSeq: 1 });
    const live = await bob.rec.next('groupMessageReceived', () => true, 0);
    expect(live.fromConversationID).toBe(groupID);
    expect(live.info.isOfflineMessage).toBe(false);
    expect(live.messageList[0]).toMatchObject({ message: 'hi team', conversationID: groupID, conversationType: 2, senderUserID: alice.userID });

    await carol.zim.login(carol.userID, { token: srv.token(carol.userID) });
    const off = await carol.rec.next('groupMessageReceived', () => true, 0);
    expect(off.info.isOfflineMessage).toBe(true);
    expect(off.messageList.map((m: ZIMMessage) => m.message)).toEqual(['hi team']);
    for (const c of [bob, carol]) expect(c.rec.of('peerMessageReceived')).toEqual([]);
  });
});

describe('connection events', () => {
  test('kicked: a second login on the same platform ends the first with KickedOut, which does not reconnect', async () => {
    const bob1 = await user('bob');
    const bob2 = newClient(srv, bob1.userID); // same platform (linux), another device
    clients.push(bob2);
    await bob2.zim.login(bob1.userID, { token: srv.token(bob1.userID) });
    const kicked = await bob1.rec.state(ZIMConnectionState.Disconnected);
    expect(kicked.event).toBe(ZIMConnectionEvent.KickedOut);
    expect(kicked.extendedData).toMatchObject({ closeCode: 4001, reason: 1 });
    expect(typeof kicked.extendedData.message).toBe('string');
    // No reconnect: requests fail at once, and the new session keeps working.
    expect((await rejection(bob1.zim.queryConversationList({ count: 10 }))).code).toBe(40100);
    const alice = await user('alice');
    await alice.zim.sendMessage(text('to the new session'), bob1.userID, 0);
    await bob2.rec.messagesAtLeast(1);
    expect(bob1.rec.of('connectionStateChanged').map((d) => d.state)).toEqual([1, 2, 0]);
    expect(bob2.rec.of('connectionStateChanged').at(-1).state).toBe(ZIMConnectionState.Connected);
  });

  test('logout reports Disconnected/Success; login again works, also with the legacy login({userID}, token)', async () => {
    const eve = await user('eve');
    await eve.zim.logout();
    expect(eve.rec.of('connectionStateChanged').at(-1)).toMatchObject({ state: 0, event: 0 });
    expect((await rejection(eve.zim.sendMessage(text('x'), 'someone', 0))).code).toBe(40100);
    await eve.zim.login({ userID: eve.userID, userName: 'Eve' }, srv.token(eve.userID));
    expect(eve.rec.of('connectionStateChanged').at(-1)).toMatchObject({ state: 2, event: 0 });
  });

  test('getInstance returns the primary instance; once it is destroyed no other instance takes its place', async () => {
    const cfg = { appID: srv.app.appID, server: srv.url };
    ZIM.getInstance()?.destroy();
    const a = ZIM.create(cfg);
    const b = ZIM.create(cfg);
    expect(ZIM.getInstance()).toBe(a);
    a.destroy();
    // b is another user's client: it must never carry the device's push registration.
    expect(ZIM.getInstance()).toBeUndefined();
    const c = ZIM.create(cfg);
    expect(ZIM.getInstance()).toBe(c);
    expect((await rejection(a.login('x', { token: 't' }))).code).toBe(60004);
    b.destroy();
    c.destroy();
  });

  test('off removes one handler, or all of an event', async () => {
    const alice = await user('alice');
    const bob = await user('bob');
    const seen: string[] = [];
    const h1 = (_: ZIM, d: { messageList: ZIMMessage[] }) => seen.push(`h1:${d.messageList[0]!.message}`);
    const h2 = (_: ZIM, d: { messageList: ZIMMessage[] }) => seen.push(`h2:${d.messageList[0]!.message}`);
    bob.zim.on('peerMessageReceived', h1);
    bob.zim.on('peerMessageReceived', h2);
    await alice.zim.sendMessage(text('a'), bob.userID, 0);
    await bob.rec.messagesAtLeast(1);
    bob.zim.off('peerMessageReceived', h1);
    await alice.zim.sendMessage(text('b'), bob.userID, 0);
    await bob.rec.messagesAtLeast(2);
    expect(seen).toEqual(['h1:a', 'h2:a', 'h2:b']);
    bob.zim.off('peerMessageReceived');
    bob.zim.on('connectionStateChanged', () => seen.push('state'));
    await bob.zim.logout();
    expect(seen).toEqual(['h1:a', 'h2:a', 'h2:b', 'state']);
  });

  test('a handler that throws is logged and does not stop the handlers after it', async () => {
    const errors: unknown[] = [];
    const alice = await user('alice');
    const bob = await user('bob', { logger: { debug() {}, info() {}, warn() {}, error: (_m: string, e: unknown) => errors.push(e) } });
    const after: string[] = [];
    bob.zim.on('peerMessageReceived', () => {
      throw new Error('app bug');
    });
    bob.zim.on('peerMessageReceived', (_z, d) => after.push(...d.messageList.map((m) => String(m.message))));
    await alice.zim.sendMessage(text('x'), bob.userID, 0);
    await bob.rec.messagesAtLeast(1);
    expect(after).toEqual(['x']);
    expect(errors.map(String)).toEqual(['Error: app bug']);
  });

  test('defaults: a generated deviceID per instance and the platform of the runtime', async () => {
    const z1 = ZIM.create({ appID: srv.app.appID, server: `${srv.url}/` });
    const z2 = ZIM.create({ appID: srv.app.appID, server: srv.url.replace('ws://', 'http://') });
    try {
      expect(z1.deviceID).toMatch(/^herald-[0-9a-f]{24}$/);
      expect(z2.deviceID).not.toBe(z1.deviceID);
      const u = uniq('plat');
      await z1.login(u, { token: srv.token(u) }); // the platform from process.platform, the URL with its slash
      const w = uniq('web');
      await z2.login(w, { token: srv.token(w) }); // http:// dials ws://
    } finally {
      z1.destroy();
      z2.destroy();
    }
  });
});

describe('the push link', () => {
  afterEach(() => setPushSide(undefined));
  function fakePush(reg: PushRegistration | undefined) {
    const calls: Array<[string, unknown]> = [];
    const side: PushSide = {
      registration: () => reg,
      bound: (r) => calls.push(['bound', r]),
      unbound: () => calls.push(['unbound', undefined]),
    };
    setPushSide(side);
    return calls;
  }
  const reg = (token: string): PushRegistration => ({ vendor: 'fcm', token, environment: 'development', bundleID: 'com.example.chat' });

  test('the primary instance\'s logins carry the registration; bound, registerPush while logged in, unbound at logout', async () => {
    expect(ZIM.getInstance()).toBeUndefined();
    const calls = fakePush(reg(uniq('tok')));
    const alice = await user('alice');
    expect(ZIM.getInstance()).toBe(alice.zim);
    await alice.rec.syncFinished();
    expect(calls).toHaveLength(1);
    expect(calls[0]![0]).toBe('bound');
    const pushID = (calls[0]![1] as { pushID: string }).pushID;
    expect(pushID).toMatch(/^D/);

    const side = getZIMSide()!;
    expect(side.loggedIn()).toBe(true);
    const again = await side.registerPush(reg(uniq('tok2')));
    expect(again).toMatch(/^D/);
    expect(again).not.toBe(pushID);

    await alice.zim.logout();
    await alice.rec.until('unbound', () => calls.some((c) => c[0] === 'unbound'));
    expect(side.loggedIn()).toBe(false);
    expect((await rejection(side.registerPush(reg(uniq('tok3'))))).code).toBe(40100);
  });

  test('a refused registration fails the login with the server\'s code and is reported to the push side', async () => {
    const calls = fakePush({ vendor: 'nokia' as 'fcm', token: 'x', environment: 'development', bundleID: 'b' });
    const c = newClient(srv, uniq('pushbad'));
    clients.push(c);
    const err = await rejection(c.zim.login(c.userID, { token: srv.token(c.userID) }));
    expect(err.code).toBe(40012);
    expect(calls).toEqual([['bound', { error: err }]]);
  });
});

describe('token expiry', () => {
  let tsrv: HeraldServer;
  beforeAll(async () => {
    tsrv = await startServer({ emulate: false, args: ['--token-warn-before', '3s', '--token-leeway', '0s'] });
  });
  afterAll(async () => {
    await tsrv?.dispose();
  });

  test('tokenWillExpire warns; renewToken keeps the session, without it the session ends with TokenExpired', async () => {
    const renewedID = uniq('ren');
    const lapsedID = uniq('lap');
    const renewed = newClient(tsrv, renewedID);
    const lapsed = newClient(tsrv, lapsedID);
    clients.push(renewed, lapsed);
    renewed.zim.on('tokenWillExpire', (zim, { second }) => {
      expect(second).toBeLessThanOrEqual(3);
      void zim.renewToken(tsrv.token(renewedID, 3600));
    });
    await renewed.zim.login(renewedID, { token: tsrv.token(renewedID, 5) });
    await lapsed.zim.login(lapsedID, { token: tsrv.token(lapsedID, 5) });

    const warn = await lapsed.rec.next('tokenWillExpire', () => true, 0);
    expect(warn.second).toBeGreaterThanOrEqual(0);
    expect(warn.second).toBeLessThanOrEqual(3);
    const ended = await lapsed.rec.state(ZIMConnectionState.Disconnected, 0, 20_000);
    expect(ended.event).toBe(ZIMConnectionEvent.TokenExpired);
    expect(ended.extendedData.closeCode).toBe(4004);
    await renewed.rec.next('tokenWillExpire', () => true, 0);
    // Both tokens had the same lifetime: the renewed session is still up.
    expect(renewed.zim.getConnectionState()).toBe(ZIMConnectionState.Connected);
    const r = await renewed.zim.sendMessage(text('still here'), lapsedID, 0);
    expect(r.message.conversationSeq).toBe(1);
    expect(renewed.rec.of('connectionStateChanged').map((d) => d.state)).toEqual([1, 2]);
    expect((await rejection(lapsed.zim.renewToken('x'))).code).toBe(40100);
  });
});

describe('history and conversations', () => {
  test('queryHistoryMessage pages back from the newest and forward with reverse', async () => {
    const alice = await user('alice');
    const bobID = uniq('bob');
    for (let i = 1; i <= 25; i++) await alice.zim.sendMessage(text(`h${i}`), bobID, 0);
    const seqs = (l: ZIMMessage[]) => l.map((m) => m.conversationSeq);
    const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);

    const p1 = await alice.zim.queryHistoryMessage(bobID, 0, { count: 10 });
    expect(p1.conversationID).toBe(bobID);
    expect(p1.conversationType).toBe(0);
    expect(seqs(p1.messageList)).toEqual(range(16, 25));
    expect(p1.messageList[0]).toMatchObject({ message: 'h16', direction: ZIMMessageDirection.Send, senderUserID: alice.userID });
    const p2 = await alice.zim.queryHistoryMessage(bobID, 0, { count: 10, nextMessage: p1.messageList[0] });
    expect(seqs(p2.messageList)).toEqual(range(6, 15));
    const p3 = await alice.zim.queryHistoryMessage(bobID, 0, { count: 10, nextMessage: p2.messageList[0] });
    expect(seqs(p3.messageList)).toEqual(range(1, 5));
    const p4 = await alice.zim.queryHistoryMessage(bobID, 0, { count: 10, nextMessage: p3.messageList[0] });
    expect(p4.messageList).toEqual([]);

    const r1 = await alice.zim.queryHistoryMessage(bobID, 0, { count: 10, reverse: true });
    expect(seqs(r1.messageList)).toEqual(range(1, 10));
    const r2 = await alice.zim.queryHistoryMessage(bobID, 0, { count: 10, reverse: true, nextMessage: r1.messageList.at(-1) });
    expect(seqs(r2.messageList)).toEqual(range(11, 20));
    const r3 = await alice.zim.queryHistoryMessage(bobID, 0, { count: 10, reverse: true, nextMessage: r2.messageList.at(-1) });
    expect(seqs(r3.messageList)).toEqual(range(21, 25));
    const r4 = await alice.zim.queryHistoryMessage(bobID, 0, { count: 10, reverse: true, nextMessage: r3.messageList.at(-1) });
    expect(r4.messageList).toEqual([]);

    // The receiver sees the same history, as received messages.
    const bob = newClient(srv, bobID);
    clients.push(bob);
    await bob.zim.login(bobID, { token: srv.token(bobID) });
    const b = await bob.zim.queryHistoryMessage(alice.userID, 0, { count: 3 });
    expect(b.messageList.map((m) => m.message)).toEqual(['h23', 'h24', 'h25']);
    expect(b.messageList[0]!.direction).toBe(ZIMMessageDirection.Receive);
  });

  test('queryHistoryMessage with reverse pages forward from the join of a group member that joined late', async () => {
    const alice = await user('alice');
    const dave = await user('dave');
    const groupID = uniq('g');
    await alice.zim.createGroup({ groupID, groupName: 'Late' }, [], { joinMode: 0 });
    for (let i = 1; i <= 3; i++) await alice.zim.sendMessage(text(`before ${i}`), groupID, 2);
    await dave.zim.joinGroup(groupID);
    for (let i = 1; i <= 5; i++) await alice.zim.sendMessage(text(`after ${i}`), groupID, 2);
    const texts = (l: ZIMMessage[]) => l.map((m) => m.message);

    // Forward from the start: dave's first page is his first messages, not empty.
    const r1 = await dave.zim.queryHistoryMessage(groupID, 2, { count: 2, reverse: true });
    expect(r1).toMatchObject({ conversationID: groupID, conversationType: 2 });
    expect(texts(r1.messageList)).toEqual(['after 1', 'after 2']);
    expect(r1.messageList.map((m) => m.conversationSeq)).toEqual([4, 5]);
    const r2 = await dave.zim.queryHistoryMessage(groupID, 2, { count: 2, reverse: true, nextMessage: r1.messageList.at(-1) });
    expect(texts(r2.messageList)).toEqual(['after 3', 'after 4']);
    const r3 = await dave.zim.queryHistoryMessage(groupID, 2, { count: 2, reverse: true, nextMessage: r2.messageList.at(-1) });
    expect(texts(r3.messageList)).toEqual(['after 5']);
    const r4 = await dave.zim.queryHistoryMessage(groupID, 2, { count: 2, reverse: true, nextMessage: r3.messageList.at(-1) });
    expect(r4.messageList).toEqual([]);
    // A page size above the message count, and the default page size.
    expect(texts((await dave.zim.queryHistoryMessage(groupID, 2, { count: 50, reverse: true })).messageList)).toHaveLength(5);
    expect(texts((await dave.zim.queryHistoryMessage(groupID, 2, { reverse: true })).messageList)).toHaveLength(5);

    // Backward, the same messages and no more.
    const b1 = await dave.zim.queryHistoryMessage(groupID, 2, { count: 3 });
    expect(texts(b1.messageList)).toEqual(['after 3', 'after 4', 'after 5']);
    const b2 = await dave.zim.queryHistoryMessage(groupID, 2, { count: 3, nextMessage: b1.messageList[0] });
    expect(texts(b2.messageList)).toEqual(['after 1', 'after 2']);
    const b3 = await dave.zim.queryHistoryMessage(groupID, 2, { count: 3, nextMessage: b2.messageList[0] });
    expect(b3.messageList).toEqual([]);

    // The owner sees all of it, forward from the first message.
    const a = await alice.zim.queryHistoryMessage(groupID, 2, { count: 4, reverse: true });
    expect(texts(a.messageList)).toEqual(['before 1', 'before 2', 'before 3', 'after 1']);

    // Once he left he reads nothing, either way.
    await dave.zim.leaveGroup(groupID);
    expect((await rejection(dave.zim.queryHistoryMessage(groupID, 2, { reverse: true }))).code).toBe(40300);
    expect((await rejection(dave.zim.queryHistoryMessage(groupID, 2, {}))).code).toBe(40300);
  });

  test('queryConversationList has unread counts and last messages; clearing the unread count sticks', async () => {
    const bob = await user('bob');
    const alice = await user('alice');
    const eve = await user('eve');
    for (let i = 0; i < 3; i++) await alice.zim.sendMessage(text(`from alice ${i}`), bob.userID, 0);
    for (let i = 0; i < 2; i++) await eve.zim.sendMessage(text(`from eve ${i}`), bob.userID, 0);
    await bob.zim.sendMessage(text('bob to alice'), alice.userID, 0); // own messages are never unread
    await bob.rec.messagesAtLeast(5);

    const { conversationList } = await bob.zim.queryConversationList({ count: 10 });
    expect(conversationList.map((c) => [c.conversationID, c.unreadMessageCount])).toEqual([
      [alice.userID, 3],
      [eve.userID, 2],
    ]);
    expect(conversationList[0]).toMatchObject({ type: 0, conversationType: 0 });
    expect(conversationList[0]!.lastMessage).toMatchObject({ message: 'bob to alice', direction: ZIMMessageDirection.Send });
    expect(conversationList[1]!.lastMessage).toMatchObject({ message: 'from eve 1', senderUserID: eve.userID });

    // Paging, one at a time.
    const page1 = await bob.zim.queryConversationList({ count: 1 });
    expect(page1.conversationList.map((c) => c.conversationID)).toEqual([alice.userID]);
    const page2 = await bob.zim.queryConversationList({ count: 1, nextConversation: page1.conversationList[0] });
    expect(page2.conversationList.map((c) => c.conversationID)).toEqual([eve.userID]);

    const cleared = await bob.zim.clearConversationUnreadMessageCount(eve.userID, 0);
    expect(cleared).toEqual({ conversationID: eve.userID, conversationType: 0 });
    const after = await bob.zim.queryConversationList({ count: 10 });
    expect(after.conversationList.map((c) => [c.conversationID, c.unreadMessageCount])).toEqual([
      [alice.userID, 3],
      [eve.userID, 0],
    ]);
  });

  test('order keys are exact strings; a message text that looks like one is never altered', async () => {
    const bob = await user('bob');
    const alice = await user('alice');
    const tricky = 'see {"orderKey":304753038213173249} and "orderKey":1';
    await alice.zim.sendMessage(text(tricky), bob.userID, 0);
    const got = await bob.rec.next('peerMessageReceived', () => true, 0);
    expect(got.messageList[0]!.message).toBe(tricky);
    const { conversationList } = await bob.zim.queryConversationList({ count: 10 });
    expect(conversationList[0]!.lastMessage!.message).toBe(tricky);
    const page2 = await bob.zim.queryConversationList({ count: 10, nextConversation: conversationList[0] });
    expect(page2.conversationList).toEqual([]);
  });
});

describe('server API messages', () => {
  test('a message the app server sends as the system arrives with isSystem; one sent as a user does not', async () => {
    const bob = await user('bob');
    const admin = { Authorization: `Bearer ${srv.app.adminKey}`, 'Content-Type': 'application/json' };
    const send = async (body: object) => {
      const resp = await fetch(`${srv.httpURL}/v1/apps/${srv.app.appID}/messages`, { method: 'POST', headers: admin, body: JSON.stringify(body) });
      expect(resp.status).toBe(200);
      return (await resp.json()) as { messageID: string };
    };
    const sys = await send({ system: true, conversationID: bob.userID, conversationType: 0, localMessageID: uniq('s'), type: 1, text: 'notice' });
    const got = await bob.rec.next('peerMessageReceived', () => true, 0);
    expect(got.fromConversationID).toBe('@system');
    expect(got.messageList[0]).toMatchObject({ messageID: sys.messageID, senderUserID: '@system', isSystem: true, message: 'notice' });

    const asUser = await send({ fromUserID: uniq('backend'), conversationID: bob.userID, conversationType: 0, localMessageID: uniq('u'), type: 1, text: 'hi' });
    const got2 = await bob.rec.next('peerMessageReceived', (e) => e.messageList[0]?.messageID === asUser.messageID, 0);
    expect(got2.messageList[0]?.isSystem).toBeUndefined();
  });
});
