// Call invitations through the ZIM class against a real server: invite,
// accept, reject, cancel, timeout, the advanced mode, an invitee logging
// in before the deadline, one callInvitationReceived per ringing
// invitation, and the error codes of bad input (a refused request changes
// nothing).
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ZIMCallInvitationMode, ZIMCallUserState, ZIMConnectionState, type ZIMCallUserInfo } from '../src/node.js';
import { login, offline, rejection, type Client } from './gcclient.js';
import { startServer, type HeraldServer } from './harness.js';

let srv: HeraldServer;
const clients: Client[] = [];
let alice: Client, bob: Client, carol: Client, dave: Client;

async function user(id: string): Promise<Client> {
  const c = await login(srv, id);
  clients.push(c);
  return c;
}

beforeAll(async () => {
  srv = await startServer({ emulate: false });
  [alice, bob, carol, dave] = (await Promise.all(['alice', 'bob', 'carol', 'dave'].map(user))) as [Client, Client, Client, Client];
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await srv?.dispose();
});

function states(list: ZIMCallUserInfo[]): Record<string, ZIMCallUserState> {
  return Object.fromEntries(list.map((u) => [u.userID, u.state]));
}

async function callStates(c: Client, callID: string): Promise<Record<string, ZIMCallUserState>> {
  return states((await c.zim.queryCallInfo(callID)).callInfo.callUserList);
}

describe('general mode', () => {
  test('callInvite rings the live invitees and lists the unknown ones', async () => {
    const [ma, mb, mc] = [alice.ev.mark(), bob.ev.mark(), carol.ev.mark()];
    const before = Date.now();
    const r = await alice.zim.callInvite(['bob', 'carol', 'ghost', 'bob'], {
      mode: ZIMCallInvitationMode.General,
      timeout: 30,
      extendedData: 'video',
      pushConfig: { title: 'Alice', content: 'Incoming call', payload: '{"k":1}', resourcesID: 'call' },
    });
    expect(r.callID).not.toBe('');
    expect(r.timeout).toBe(30);
    expect(r.deadline).toBeGreaterThanOrEqual(before + 29_000);
    expect(r.errorUserList).toEqual([{ userID: 'ghost', reason: 40401, message: expect.any(String) }]);
    expect(r.errorInvitees).toEqual(r.errorUserList);

    for (const [c, m] of [
      [bob, mb],
      [carol, mc],
    ] as const) {
      const ev = await c.ev.wait('callInvitationReceived', (d) => d.callID === r.callID, m);
      expect(ev).toMatchObject({ inviter: 'alice', mode: ZIMCallInvitationMode.General, extendedData: 'video', deadline: r.deadline });
      expect(ev.timeout).toBeGreaterThan(0);
      expect(ev.timeout).toBeLessThanOrEqual(30);
      expect(ev.createTime).toBeGreaterThanOrEqual(before - 1000);
      expect(states(ev.callUserList)).toEqual({
        alice: ZIMCallUserState.Accepted,
        bob: ZIMCallUserState.Received,
        carol: ZIMCallUserState.Received,
      });
    }
    const sc = await alice.ev.wait('callUserStateChanged', (d) => d.callID === r.callID, ma);
    expect(states(sc.callUserList)).toEqual({
      alice: ZIMCallUserState.Accepted,
      bob: ZIMCallUserState.Received,
      carol: ZIMCallUserState.Received,
    });
    const info = (await bob.zim.queryCallInfo(r.callID)).callInfo;
    expect(info).toMatchObject({ callID: r.callID, caller: 'alice', inviter: 'alice', mode: 0, extendedData: 'video', ended: false });
  });

  test('accept and reject: everyone in the call is told; the call closes when nobody rings', async () => {
    const { callID } = await alice.zim.callInvite(['bob', 'carol'], { timeout: 30 });
    await bob.ev.wait('callInvitationReceived', (d) => d.callID === callID);
    const [ma, mc] = [alice.ev.mark(), carol.ev.mark()];
    expect(await bob.zim.callAccept(callID, { extendedData: 'hi' })).toEqual({ callID });
    for (const [c, m] of [
      [alice, ma],
      [carol, mc],
    ] as const) {
      const ev = await c.ev.wait('callUserStateChanged', (d) => d.callID === callID && d.callUserList.some((u) => u.userID === 'bob'), m);
      expect(ev.callUserList).toEqual([
        { userID: 'bob', state: ZIMCallUserState.Accepted, extendedData: 'hi', updateTime: expect.any(Number) },
      ]);
    }
    expect((await rejection(bob.zim.callAccept(callID, {}))).code).toBe(40904);
    expect((await rejection(bob.zim.callReject(callID, {}))).code).toBe(40904);
    expect((await rejection(alice.zim.callAccept(callID, {}))).code).toBe(40302);
    expect((await rejection(dave.zim.callAccept(callID, {}))).code).toBe(40302);
    expect(await callStates(alice, callID)).toEqual({ alice: 1, bob: 1, carol: 5 });

    const ma2 = alice.ev.mark();
    expect(await carol.zim.callReject(callID, { extendedData: 'busy' })).toEqual({ callID });
    const ev = await alice.ev.wait('callUserStateChanged', (d) => d.callID === callID && d.callUserList.some((u) => u.userID === 'carol'), ma2);
    expect(ev.callUserList[0]).toMatchObject({ state: ZIMCallUserState.Rejected, extendedData: 'busy' });
    const info = (await alice.zim.queryCallInfo(callID)).callInfo;
    expect(info.ended).toBe(true);
    expect(states(info.callUserList)).toEqual({ alice: 1, bob: 1, carol: 2 });
  });

  test('callCancel: the named invitations; the others keep ringing; inviter only', async () => {
    const { callID } = await alice.zim.callInvite(['bob', 'carol'], { timeout: 30 });
    await carol.ev.wait('callInvitationReceived', (d) => d.callID === callID);
    expect((await rejection(bob.zim.callCancel(['carol'], callID, {}))).code).toBe(40301);
    expect(await callStates(alice, callID)).toEqual({ alice: 1, bob: 5, carol: 5 });

    const [mb, mc] = [bob.ev.mark(), carol.ev.mark()];
    const r = await alice.zim.callCancel(['bob', 'dave'], callID, { extendedData: 'sorry' });
    expect(r).toEqual({
      callID,
      errorInvitees: ['dave'],
      errorUserList: [{ userID: 'dave', reason: 40302, message: expect.any(String) }],
    });
    const ev = await bob.ev.wait('callInvitationCancelled', (d) => d.callID === callID, mb);
    expect(ev).toEqual({ callID, inviter: 'alice', mode: ZIMCallInvitationMode.General, extendedData: 'sorry' });
    const sc = await carol.ev.wait('callUserStateChanged', (d) => d.callID === callID, mc);
    expect(sc.callUserList.map((u) => [u.userID, u.state])).toEqual([['bob', ZIMCallUserState.Cancelled]]);
    expect(carol.ev.all('callInvitationCancelled', (d) => d.callID === callID)).toEqual([]);
    expect((await rejection(bob.zim.callAccept(callID, {}))).code).toBe(41001);
    expect(await callStates(alice, callID)).toEqual({ alice: 1, bob: 3, carol: 5 });

    // An empty list cancels every invitation still ringing; then nothing is left.
    await alice.zim.callCancel([], callID, {});
    await carol.ev.wait('callInvitationCancelled', (d) => d.callID === callID, mc);
    expect((await rejection(alice.zim.callCancel([], callID, {}))).code).toBe(41001);
    expect((await alice.zim.queryCallInfo(callID)).callInfo.ended).toBe(true);
  });

  test('an invitation not answered in time times out (1 s)', async () => {
    const [ma, mb] = [alice.ev.mark(), bob.ev.mark()];
    const { callID, timeout } = await alice.zim.callInvite(['bob'], { timeout: 1 });
    expect(timeout).toBe(1);
    await bob.ev.wait('callInvitationReceived', (d) => d.callID === callID, mb);
    const ev = await bob.ev.wait('callInvitationTimeout', (d) => d.callID === callID, mb);
    expect(ev).toEqual({ callID, mode: ZIMCallInvitationMode.General });
    const sc = await alice.ev.wait(
      'callUserStateChanged',
      (d) => d.callID === callID && d.callUserList.some((u) => u.state === ZIMCallUserState.Timeout),
      ma,
    );
    expect(sc.callUserList.map((u) => u.userID)).toEqual(['bob']);
    expect((await rejection(bob.zim.callAccept(callID, {}))).code).toBe(41001);
    expect((await alice.zim.queryCallInfo(callID)).callInfo.ended).toBe(true);
  });

  test('fractions of a second round up', async () => {
    const r = await alice.zim.callInvite(['bob'], { timeout: 1.2 });
    expect(r.timeout).toBe(2);
    await alice.zim.callCancel([], r.callID, {});
  });
});

describe('an invitee who was offline', () => {
  test('logging in before the deadline it gets callInvitationReceived, and the inviter sees it received', async () => {
    const erin = await user('erin');
    await erin.logout(); // offline from the logout's reply on
    const { callID } = await alice.zim.callInvite(['erin'], { timeout: 30, extendedData: 'later' });
    expect((await callStates(alice, callID)).erin).toBe(ZIMCallUserState.Inviting);
    expect(erin.ev.all('callInvitationReceived')).toEqual([]);
    const ma = alice.ev.mark();
    await erin.login();
    const ev = await erin.ev.wait('callInvitationReceived', (d) => d.callID === callID);
    expect(ev).toMatchObject({ inviter: 'alice', extendedData: 'later', mode: ZIMCallInvitationMode.General });
    expect(ev.timeout).toBeGreaterThan(0);
    expect(ev.timeout).toBeLessThanOrEqual(30);
    const sc = await alice.ev.wait('callUserStateChanged', (d) => d.callID === callID, ma);
    expect(sc.callUserList.map((u) => [u.userID, u.state])).toEqual([['erin', ZIMCallUserState.Received]]);
    expect((await erin.zim.callAccept(callID, {})).callID).toBe(callID);
  });
});

describe('one callInvitationReceived per ringing invitation', () => {
  test('a reconnect login, which the server answers with the ringing invitations again, does not ring twice', async () => {
    const f = await user('frank');
    const { callID } = await alice.zim.callInvite(['frank'], { timeout: 30 });
    await f.ev.wait('callInvitationReceived', (d) => d.callID === callID);
    const m = f.ev.mark();
    f.drop();
    await f.ev.wait('connectionStateChanged', (d) => d.state === ZIMConnectionState.Reconnecting, m);
    await f.ev.wait('connectionStateChanged', (d) => d.state === ZIMConnectionState.Connected, m);
    // A later invitation shows that everything sent before it arrived.
    const second = await alice.zim.callInvite(['frank'], { timeout: 30 });
    await f.ev.wait('callInvitationReceived', (d) => d.callID === second.callID, m);
    // The server did send it again; the app heard of it once.
    expect(f.frames().filter((e) => e.type === 'callInvitationReceived' && e.data.callID === callID)).toHaveLength(2);
    expect(f.ev.all('callInvitationReceived', (d) => d.callID === callID)).toHaveLength(1);
    expect(await callStates(f, callID)).toMatchObject({ frank: ZIMCallUserState.Received });

    // The app's own logout and login start afresh: it rings again.
    await f.logout();
    const m2 = f.ev.mark();
    await f.login();
    await f.ev.wait('callInvitationReceived', (d) => d.callID === callID, m2);
    await f.ev.wait('callInvitationReceived', (d) => d.callID === second.callID, m2);
    expect(f.ev.all('callInvitationReceived', (d) => d.callID === callID)).toHaveLength(2);
    await alice.zim.callCancel([], callID, {});
    await alice.zim.callCancel([], second.callID, {});
  });

  test('what happened to a ringing invitation while the connection was down is raised after the reconnect', async () => {
    const g = await user('gina');
    const cancelled = await alice.zim.callInvite(['gina'], { timeout: 30 });
    const timedOut = await alice.zim.callInvite(['gina'], { timeout: 1 });
    const answered = await alice.zim.callInvite(['gina'], { timeout: 30 });
    const still = await alice.zim.callInvite(['gina'], { timeout: 30 });
    for (const r of [cancelled, timedOut, answered, still]) await g.ev.wait('callInvitationReceived', (d) => d.callID === r.callID);
    const m = g.ev.mark();
    const ma = alice.ev.mark();
    g.block(true);
    try {
      g.drop();
      await g.ev.wait('connectionStateChanged', (d) => d.state === ZIMConnectionState.Reconnecting, m);
      await alice.zim.callCancel(['gina'], cancelled.callID, { extendedData: 'gone' });
      await alice.ev.wait(
        'callUserStateChanged',
        (d) => d.callID === timedOut.callID && d.callUserList.some((u) => u.state === ZIMCallUserState.Timeout),
        ma,
      );
      // gina answers on another device.
      const other = await user('gina');
      await other.ev.wait('callInvitationReceived', (d) => d.callID === answered.callID);
      await other.zim.callAccept(answered.callID, { extendedData: 'phone' });
    } finally {
      g.block(false);
    }
    await g.ev.wait('connectionStateChanged', (d) => d.state === ZIMConnectionState.Connected, m);
    expect(await g.ev.wait('callInvitationCancelled', (d) => d.callID === cancelled.callID, m)).toEqual({
      callID: cancelled.callID,
      inviter: 'alice',
      mode: ZIMCallInvitationMode.General,
      extendedData: 'gone',
    });
    expect(await g.ev.wait('callInvitationTimeout', (d) => d.callID === timedOut.callID, m)).toEqual({
      callID: timedOut.callID,
      mode: ZIMCallInvitationMode.General,
    });
    const acc = await g.ev.wait('callUserStateChanged', (d) => d.callID === answered.callID, m);
    expect(acc.callUserList).toEqual([
      { userID: 'gina', state: ZIMCallUserState.Accepted, extendedData: 'phone', updateTime: expect.any(Number) },
    ]);
    // The one still ringing was sent again and not raised again; nothing more came.
    const later = await alice.zim.callInvite(['gina'], { timeout: 30 });
    await g.ev.wait('callInvitationReceived', (d) => d.callID === later.callID, m);
    expect(g.ev.all('callInvitationReceived', (d) => d.callID === still.callID)).toHaveLength(1);
    expect(g.ev.all('callInvitationCancelled', (d) => d.callID === cancelled.callID)).toHaveLength(1);
    expect(g.ev.all('callInvitationTimeout', (d) => d.callID === timedOut.callID)).toHaveLength(1);
    for (const r of [still, later]) await alice.zim.callCancel([], r.callID, {});
  });

  test('the same invitation twice reaches the app once; once it stopped ringing a new one rings again', () => {
    const c = offline('bob');
    c.loggedIn(false);
    const ring = {
      callID: 'c1',
      inviter: 'alice',
      mode: 1,
      timeout: 30,
      deadline: Date.now() + 30_000,
      createdAt: Date.now(),
      callUserList: [{ userID: 'bob', state: 5, updatedAt: 1 }],
    };
    const rings = () => c.ev.all('callInvitationReceived').length;
    c.inject('callInvitationReceived', ring);
    c.inject('callInvitationReceived', ring);
    expect(rings()).toBe(1);
    c.loggedIn(true); // a reconnect keeps it
    c.inject('callInvitationReceived', ring);
    expect(rings()).toBe(1);
    // Someone else's state change keeps it ringing; bob's own answer ends it.
    c.inject('callUserStateChanged', { callID: 'c1', callUserList: [{ userID: 'carol', state: 1 }] });
    c.inject('callUserStateChanged', { callID: 'c1', callUserList: [{ userID: 'bob', state: 5 }] });
    c.inject('callInvitationReceived', ring);
    expect(rings()).toBe(1);
    c.inject('callUserStateChanged', { callID: 'c1', callUserList: [{ userID: 'bob', state: 7 }] });
    c.inject('callInvitationReceived', ring); // invited again (callingInvite)
    expect(rings()).toBe(2);
    for (const t of ['callInvitationCancelled', 'callInvitationTimeout', 'callInvitationEnded']) {
      c.inject(t, { callID: 'c1', inviter: 'alice', mode: 1, operatedBy: 'alice', endedAt: 1 });
      c.inject('callInvitationReceived', ring);
    }
    expect(rings()).toBe(5);
    c.loggedIn(false); // the app's own login: afresh
    c.inject('callInvitationReceived', ring);
    expect(rings()).toBe(6);
    // Another call is another invitation; a ring past its time is forgotten.
    c.inject('callInvitationReceived', { ...ring, callID: 'c2', timeout: 0 });
    expect(c.ev.all('callInvitationReceived').map((d) => d.callID)).toEqual(['c1', 'c1', 'c1', 'c1', 'c1', 'c1', 'c2']);
  });
});

describe('advanced mode', () => {
  test('callingInvite, callJoin, callQuit and callEnd', async () => {
    const { callID } = await alice.zim.callInvite(['bob'], { mode: ZIMCallInvitationMode.Advanced, timeout: 30, extendedData: 'meet' });
    await bob.ev.wait('callInvitationReceived', (d) => d.callID === callID);
    await bob.zim.callAccept(callID, {});

    // A participant invites more users; one already ringing is refused.
    const mc = carol.ev.mark();
    const inv = await bob.zim.callingInvite(['carol', 'ghost'], callID, { timeout: 30 });
    expect(inv).toMatchObject({ callID, timeout: 30 });
    expect(inv.errorUserList).toEqual([{ userID: 'ghost', reason: 40401, message: expect.any(String) }]);
    const ring = await carol.ev.wait('callInvitationReceived', (d) => d.callID === callID, mc);
    expect(ring).toMatchObject({ inviter: 'bob', mode: ZIMCallInvitationMode.Advanced, extendedData: 'meet' });
    expect((await rejection(alice.zim.callingInvite(['carol'], callID, {}))).code).toBe(40016);
    expect((await rejection(dave.zim.callingInvite(['carol'], callID, {}))).code).toBe(40302);

    // An invitee joins: it becomes accepted.
    const j = await carol.zim.callJoin(callID, { extendedData: 'in' });
    expect(j.callID).toBe(callID);
    expect(j.extendedData).toBe('meet');
    expect(j.joinTime).toBeGreaterThan(0);
    expect(states(j.callUserList)).toEqual({ alice: 1, bob: 1, carol: 1 });
    expect((await carol.zim.callJoin(callID, {})).callID).toBe(callID); // joining twice is harmless

    // A participant quits; the others are told; it may join again.
    const ma = alice.ev.mark();
    expect(await bob.zim.callQuit(callID, { extendedData: 'brb' })).toEqual({ callID });
    const q = await alice.ev.wait('callUserStateChanged', (d) => d.callID === callID && d.callUserList.some((u) => u.userID === 'bob'), ma);
    expect(q.callUserList).toEqual([{ userID: 'bob', state: ZIMCallUserState.Quit, extendedData: 'brb', updateTime: expect.any(Number) }]);
    expect((await rejection(bob.zim.callQuit(callID, {}))).code).toBe(40302);
    await bob.zim.callJoin(callID, {});
    expect(await callStates(alice, callID)).toEqual({ alice: 1, bob: 1, carol: 1 });

    // dave rings when the call ends: everyone in or ringing is told.
    const md = dave.ev.mark();
    await alice.zim.callingInvite(['dave'], callID, {});
    await dave.ev.wait('callInvitationReceived', (d) => d.callID === callID, md);
    const marks = [alice, bob, carol, dave].map((c) => c.ev.mark());
    expect(await carol.zim.callEnd(callID, { extendedData: 'bye' })).toEqual({ callID });
    for (const [i, c] of [alice, bob, carol, dave].entries()) {
      const ev = await c.ev.wait('callInvitationEnded', (d) => d.callID === callID, marks[i]);
      expect(ev).toMatchObject({ callID, mode: ZIMCallInvitationMode.Advanced, operatedUserID: 'carol', extendedData: 'bye' });
      expect(ev.endTime).toBeGreaterThan(0);
    }
    const info = (await dave.zim.queryCallInfo(callID)).callInfo;
    expect(info.ended).toBe(true);
    expect(states(info.callUserList)).toEqual({ alice: 8, bob: 8, carol: 8, dave: 8 });
    expect((await rejection(dave.zim.callJoin(callID, {}))).code).toBe(41001);
    expect((await rejection(alice.zim.callEnd(callID, {}))).code).toBe(41001);
  });

  test('the last participant to quit ends the call', async () => {
    const { callID } = await alice.zim.callInvite(['bob'], { mode: ZIMCallInvitationMode.Advanced, timeout: 30 });
    await bob.ev.wait('callInvitationReceived', (d) => d.callID === callID);
    await bob.zim.callReject(callID, {});
    const ma = alice.ev.mark();
    await alice.zim.callQuit(callID, {});
    const ev = await alice.ev.wait('callInvitationEnded', (d) => d.callID === callID, ma);
    expect(ev.operatedUserID).toBe('alice');
    expect((await alice.zim.queryCallInfo(callID)).callInfo.ended).toBe(true);
  });

  test('advanced requests on a general call are invalid_argument', async () => {
    const { callID } = await alice.zim.callInvite(['bob'], { timeout: 30 });
    expect((await rejection(alice.zim.callingInvite(['carol'], callID, {}))).code).toBe(40003);
    expect((await rejection(bob.zim.callJoin(callID, {}))).code).toBe(40003);
    expect((await rejection(alice.zim.callQuit(callID, {}))).code).toBe(40003);
    expect((await rejection(alice.zim.callEnd(callID, {}))).code).toBe(40003);
    expect(await callStates(alice, callID)).toEqual({ alice: 1, bob: 5 });
    await alice.zim.callCancel([], callID, {});
  });
});

describe('bad input', () => {
  test('each is refused with its code and rings nobody', async () => {
    const mb = bob.ev.mark();
    const cases: [Promise<unknown>, number][] = [
      [alice.zim.callInvite([], { timeout: 30 }), 40016],
      [alice.zim.callInvite(['alice'], { timeout: 30 }), 40016],
      [alice.zim.callInvite(['bob', 'alice'], { timeout: 30 }), 40016],
      [alice.zim.callInvite(Array.from({ length: 33 }, (_, i) => `u${i}`), { timeout: 30 }), 40016],
      [alice.zim.callInvite(['bob'], { timeout: 601 }), 40017],
      [alice.zim.callInvite(['bob'], { timeout: -5 }), 40017],
      [alice.zim.callInvite(['bob'], { timeout: Number.NaN }), 40017],
      [alice.zim.callInvite(['bob'], { timeout: 30, mode: 2 as ZIMCallInvitationMode }), 40003],
      [alice.zim.callInvite(['bob'], { timeout: 30, extendedData: 'x'.repeat(1025) }), 40003],
      [alice.zim.callInvite(['bob'], { timeout: 30, pushConfig: { title: 't'.repeat(257) } }), 40011],
      [alice.zim.callInvite(['bad user'], { timeout: 30 }), 40004],
      [alice.zim.callInvite(['ghost', 'nobody'], { timeout: 30 }), 40401],
      [alice.zim.callAccept('nope', {}), 40403],
      [alice.zim.callReject('nope', {}), 40403],
      [alice.zim.callCancel([], 'nope', {}), 40403],
      [alice.zim.callJoin('nope', {}), 40403],
      [alice.zim.callQuit('nope', {}), 40403],
      [alice.zim.callEnd('nope', {}), 40403],
      [alice.zim.callingInvite(['bob'], 'nope', {}), 40403],
      [alice.zim.queryCallInfo('nope'), 40403],
      [alice.zim.callAccept('', {}), 40003],
    ];
    for (const [p, code] of cases) expect((await rejection(p)).code).toBe(code);
    // Nothing rang: the next invitation is the first bob hears of.
    const ok = await alice.zim.callInvite(['bob'], { timeout: 30 });
    const first = await bob.ev.wait('callInvitationReceived', () => true, mb);
    expect(first.callID).toBe(ok.callID);
    expect(bob.ev.all('callInvitationReceived').slice(-1)[0]?.callID).toBe(ok.callID);
    expect((await rejection(carol.zim.queryCallInfo(ok.callID))).code).toBe(40302);
    await alice.zim.callCancel([], ok.callID, {});
  });
});

describe('across a server restart', () => {
  let srv2: HeraldServer;
  const mine: Client[] = [];
  beforeAll(async () => {
    srv2 = await startServer({ emulate: false });
  });
  afterAll(async () => {
    await Promise.all(mine.map((c) => c.close()));
    await srv2?.dispose();
  });

  test.each([
    ['graceful', false],
    ['crash', true],
  ])('%s: a ringing invitation still rings once and times out at its deadline', async (_, crash) => {
    const a = await login(srv2, `ra${crash ? 'c' : 'g'}`);
    const b = await login(srv2, `rb${crash ? 'c' : 'g'}`);
    mine.push(a, b);
    const long = await a.zim.callInvite([b.user], { timeout: 60 });
    const short = await a.zim.callInvite([b.user], { timeout: 2 });
    for (const r of [long, short]) await b.ev.wait('callInvitationReceived', (d) => d.callID === r.callID);
    const m = b.ev.mark();
    await srv2.restart(crash);
    await b.ev.wait('connectionStateChanged', (d) => d.state === ZIMConnectionState.Connected, m);
    expect(await b.ev.wait('callInvitationTimeout', (d) => d.callID === short.callID, m)).toEqual({
      callID: short.callID,
      mode: ZIMCallInvitationMode.General,
    });
    expect((await rejection(b.zim.callAccept(short.callID, {}))).code).toBe(41001);
    // The long one was sent again after the reconnect and rang once; it is still there to answer.
    const later = await a.zim.callInvite([b.user], { timeout: 60 });
    await b.ev.wait('callInvitationReceived', (d) => d.callID === later.callID, m);
    expect(b.frames().filter((f) => f.type === 'callInvitationReceived' && f.data.callID === long.callID)).toHaveLength(2);
    expect(b.ev.all('callInvitationReceived', (d) => d.callID === long.callID)).toHaveLength(1);
    expect(b.ev.all('callInvitationTimeout', (d) => d.callID === short.callID)).toHaveLength(1);
    expect(await b.zim.callAccept(long.callID, {})).toEqual({ callID: long.callID });
  });
});
