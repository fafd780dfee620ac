// Groups through the ZIM class against a real server: every request, every
// group event, the role rules (a refused request changes nothing).
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  ZIMClientErrorCode,
  ZIMGroupApplicationState,
  ZIMGroupEvent,
  ZIMGroupJoinMode,
  ZIMGroupMemberEvent,
  ZIMGroupMemberRole,
  ZIMGroupMemberState,
  ZIMGroupState,
} from '../src/node.js';
import { login, rejection, type Client } from './gcclient.js';
import { startServer, type HeraldServer } from './harness.js';

let srv: HeraldServer;
const clients: Client[] = [];
let alice: Client, bob: Client, carol: Client, dave: Client, erin: Client;

async function user(id: string): Promise<Client> {
  const c = await login(srv, id);
  clients.push(c);
  return c;
}

beforeAll(async () => {
  srv = await startServer({ emulate: false });
  [alice, bob, carol, dave, erin] = (await Promise.all(['alice', 'bob', 'carol', 'dave', 'erin'].map(user))) as [
    Client,
    Client,
    Client,
    Client,
    Client,
  ];
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await srv?.dispose();
});

async function members(c: Client, groupID: string): Promise<Record<string, ZIMGroupMemberRole | undefined>> {
  const r = await c.zim.queryGroupMemberList(groupID, { count: 100, nextFlag: '' });
  return Object.fromEntries(r.userList.map((m) => [m.userID, m.memberRole]));
}

describe('createGroup', () => {
  test('makes the caller owner, the users members, and tells each of them', async () => {
    const marks = [alice, bob, carol].map((c) => c.ev.mark());
    const r = await alice.zim.createGroup({ groupID: 'team', groupName: 'Team', extendedData: 'x' }, ['bob', 'carol', 'bob']);
    expect(r.groupInfo).toMatchObject({
      baseInfo: { groupID: 'team', groupName: 'Team', groupAvatarUrl: '', extendedData: 'x' },
      ownerUserID: 'alice',
      memberCount: 3,
      myRole: ZIMGroupMemberRole.Owner,
    });
    expect(r.groupInfo.createTime).toBeGreaterThan(Date.now() - 60_000);
    expect(r.userList).toEqual([
      { userID: 'bob', memberRole: ZIMGroupMemberRole.Member, joinTime: r.groupInfo.createTime },
      { userID: 'carol', memberRole: ZIMGroupMemberRole.Member, joinTime: r.groupInfo.createTime },
    ]);
    expect(r.errorUserList).toEqual([]);

    for (const [i, c] of [alice, bob, carol].entries()) {
      const ev = await c.ev.wait('groupStateChanged', (d) => d.groupInfo.baseInfo.groupID === 'team', marks[i]);
      expect(ev.state).toBe(ZIMGroupState.Enter);
      expect(ev.event).toBe(ZIMGroupEvent.Created);
      expect(ev.operatedInfo).toEqual({ userID: 'alice' });
      expect(ev.groupInfo.memberCount).toBe(3);
      expect(ev.groupInfo.myRole).toBe(c === alice ? ZIMGroupMemberRole.Owner : ZIMGroupMemberRole.Member);
    }
    expect(await members(bob, 'team')).toEqual({
      alice: ZIMGroupMemberRole.Owner,
      bob: ZIMGroupMemberRole.Member,
      carol: ZIMGroupMemberRole.Member,
    });
  });

  test('without a groupID the server makes one', async () => {
    const r = await alice.zim.createGroup({ groupID: '', groupName: 'Anon' }, []);
    expect(r.groupInfo.baseInfo.groupID).toMatch(/^g[a-z2-7]+$/);
    expect(r.groupInfo.memberCount).toBe(1);
    expect(r.userList).toEqual([]);
  });

  test('users that cannot be added are in errorUserList; the group is made with the others', async () => {
    const r = await alice.zim.createGroup({ groupID: 'ghosts', groupName: 'G' }, ['bob', 'ghost', 'no spaces']);
    expect(r.groupInfo.memberCount).toBe(2);
    expect(r.groupInfo.joinMode).toBe(ZIMGroupJoinMode.Auth);
    expect(r.userList.map((m) => m.userID)).toEqual(['bob']);
    expect(r.errorUserList).toEqual([
      { userID: 'no spaces', reason: 40004, message: expect.any(String) },
      { userID: 'ghost', reason: 40401, message: expect.any(String) },
    ]);
    expect(Object.keys(await members(alice, 'ghosts'))).toEqual(['alice', 'bob']);
  });

  test('a groupID in use: group_exists, the group unchanged', async () => {
    await alice.zim.createGroup({ groupID: 'taken', groupName: 'First' }, []);
    const e = await rejection(bob.zim.createGroup({ groupID: 'taken', groupName: 'Second' }, ['carol']));
    expect(e.code).toBe(40901);
    const g = await alice.zim.queryGroupInfo('taken');
    expect(g.groupInfo).toMatchObject({ baseInfo: { groupName: 'First' }, ownerUserID: 'alice', memberCount: 1 });
  });

  test('bad input is refused with its code and creates nothing', async () => {
    expect((await rejection(alice.zim.createGroup({ groupID: 'bad id', groupName: 'x' }, []))).code).toBe(40003);
    expect((await rejection(alice.zim.createGroup({ groupID: 'badu', groupName: 'x' }, [], { joinMode: 3 as ZIMGroupJoinMode }))).code).toBe(
      40003,
    );
    expect((await rejection(alice.zim.createGroup({ groupID: 'badn', groupName: 'n'.repeat(257) }, []))).code).toBe(
      40003,
    );
    // Herald keeps no avatar, notice or attributes: refused before sending.
    const av = await rejection(alice.zim.createGroup({ groupID: 'bada', groupName: 'x', groupAvatarUrl: 'http://a/b.png' }, []));
    expect(av.code).toBe(ZIMClientErrorCode.InvalidArgument);
    expect(av.message).toMatch(/groupAvatarUrl/);
    expect(
      (await rejection(alice.zim.createGroup({ groupID: 'bada', groupName: 'x' }, [], { groupNotice: 'hi' }))).code,
    ).toBe(ZIMClientErrorCode.InvalidArgument);
    for (const id of ['badu', 'badn', 'bada']) {
      expect((await rejection(alice.zim.queryGroupInfo(id))).code).toBe(40402);
    }
  });
});

describe('membership', () => {
  const g = 'club';
  beforeAll(async () => {
    await alice.zim.createGroup({ groupID: g, groupName: 'Club' }, ['bob', 'carol'], { joinMode: ZIMGroupJoinMode.Any });
  });

  test('joinGroup: the joiner enters, the members are told', async () => {
    const [ma, md] = [alice.ev.mark(), dave.ev.mark()];
    const r = await dave.zim.joinGroup(g);
    expect(r.groupInfo).toMatchObject({ baseInfo: { groupID: g }, memberCount: 4, myRole: ZIMGroupMemberRole.Member });
    const self = await dave.ev.wait('groupStateChanged', (d) => d.groupInfo.baseInfo.groupID === g, md);
    expect(self).toMatchObject({ state: ZIMGroupState.Enter, event: ZIMGroupEvent.Joined, operatedInfo: { userID: 'dave' } });
    const ev = await alice.ev.wait('groupMemberStateChanged', (d) => d.groupID === g, ma);
    expect(ev).toEqual({
      state: ZIMGroupMemberState.Enter,
      event: ZIMGroupMemberEvent.Joined,
      userList: [{ userID: 'dave', memberRole: ZIMGroupMemberRole.Member }],
      operatedInfo: { userID: 'dave' },
      groupID: g,
      memberCount: 4,
    });
    expect((await rejection(dave.zim.joinGroup(g))).code).toBe(40902);
    expect((await dave.zim.queryGroupInfo(g)).groupInfo.memberCount).toBe(4);
  });

  test('inviteUsersIntoGroup: any member invites; members already in are listed as errors', async () => {
    const [mb, me] = [bob.ev.mark(), erin.ev.mark()];
    const r = await bob.zim.inviteUsersIntoGroup(['erin', 'carol'], g);
    expect(r).toEqual({
      groupID: g,
      userList: [{ userID: 'erin', memberRole: ZIMGroupMemberRole.Member }],
      errorUserList: [{ userID: 'carol', reason: 40902, message: expect.any(String) }],
      memberCount: 5,
    });
    const self = await erin.ev.wait('groupStateChanged', (d) => d.groupInfo.baseInfo.groupID === g, me);
    expect(self).toMatchObject({
      state: ZIMGroupState.Enter,
      event: ZIMGroupEvent.Invited,
      operatedInfo: { userID: 'bob' },
      groupInfo: { myRole: ZIMGroupMemberRole.Member, memberCount: 5 },
    });
    const ev = await bob.ev.wait('groupMemberStateChanged', (d) => d.groupID === g, mb);
    expect(ev).toMatchObject({ state: ZIMGroupMemberState.Enter, event: ZIMGroupMemberEvent.Invited, memberCount: 5 });
    expect(ev.userList).toEqual([{ userID: 'erin', memberRole: ZIMGroupMemberRole.Member }]);

    // All of them members already; a user who never logged in; a non-member inviting.
    expect((await rejection(bob.zim.inviteUsersIntoGroup(['carol', 'erin'], g))).code).toBe(40902);
    expect((await rejection(bob.zim.inviteUsersIntoGroup(['ghost'], g))).code).toBe(40401);
    await alice.zim.createGroup({ groupID: 'closed', groupName: 'C' }, []);
    expect((await rejection(bob.zim.inviteUsersIntoGroup(['carol'], 'closed'))).code).toBe(40300);
    expect(Object.keys(await members(alice, 'closed'))).toEqual(['alice']);
    expect((await rejection(bob.zim.inviteUsersIntoGroup([], g))).code).toBe(40003);
    expect((await rejection(bob.zim.inviteUsersIntoGroup(['bad user'], g))).code).toBe(40004);
    expect(Object.keys(await members(alice, g))).toEqual(['alice', 'bob', 'carol', 'dave', 'erin']);
  });

  test('roles: only the owner sets them; members are told of each change', async () => {
    const before = await members(alice, g);
    expect((await rejection(bob.zim.setGroupMemberRole(ZIMGroupMemberRole.Admin, 'carol', g))).code).toBe(40301);
    expect(await members(alice, g)).toEqual(before);

    const mc = carol.ev.mark();
    const r = await alice.zim.setGroupMemberRole(ZIMGroupMemberRole.Admin, 'bob', g);
    expect(r).toEqual({ groupID: g, forUserID: 'bob', role: ZIMGroupMemberRole.Admin });
    const ev = await carol.ev.wait('groupMemberInfoUpdated', (d) => d.groupID === g, mc);
    expect(ev.operatedInfo).toEqual({ userID: 'alice' });
    expect(ev.userList).toEqual([{ userID: 'bob', memberRole: ZIMGroupMemberRole.Admin, joinTime: expect.any(Number) }]);
    expect((await members(carol, g)).bob).toBe(ZIMGroupMemberRole.Admin);
  });

  test('kickGroupMembers: owner and admins only, an admin plain members only', async () => {
    // bob is an admin now (previous test), carol and dave plain members.
    const before = await members(alice, g);
    expect((await rejection(carol.zim.kickGroupMembers(['dave'], g))).code).toBe(40301);
    expect((await rejection(bob.zim.kickGroupMembers(['alice'], g))).code).toBe(40301);
    await alice.zim.setGroupMemberRole(ZIMGroupMemberRole.Admin, 'carol', g);
    expect((await rejection(bob.zim.kickGroupMembers(['carol', 'dave'], g))).code).toBe(40301);
    await alice.zim.setGroupMemberRole(ZIMGroupMemberRole.Member, 'carol', g);
    expect((await rejection(bob.zim.kickGroupMembers(['bob'], g))).code).toBe(40003);
    expect((await rejection(bob.zim.kickGroupMembers(['zed'], g))).code).toBe(40300);
    expect(await members(alice, g)).toEqual(before);

    const [mb, me] = [bob.ev.mark(), erin.ev.mark()];
    const r = await bob.zim.kickGroupMembers(['erin', 'zed'], g);
    expect(r).toEqual({
      groupID: g,
      kickedUserIDList: ['erin'],
      errorUserList: [{ userID: 'zed', reason: 40300, message: expect.any(String) }],
      memberCount: 4,
    });
    const self = await erin.ev.wait('groupStateChanged', (d) => d.groupInfo.baseInfo.groupID === g, me);
    expect(self).toMatchObject({
      state: ZIMGroupState.Quit,
      event: ZIMGroupEvent.KickedOut,
      operatedInfo: { userID: 'bob' },
      groupInfo: { myRole: 0 },
    });
    // The kicked user hears of it as a member event too, as the members do.
    for (const [c, m] of [
      [erin, me],
      [bob, mb],
    ] as const) {
      const ev = await c.ev.wait('groupMemberStateChanged', (d) => d.groupID === g && d.event === ZIMGroupMemberEvent.KickedOut, m);
      expect(ev).toEqual({
        state: ZIMGroupMemberState.Quit,
        event: ZIMGroupMemberEvent.KickedOut,
        userList: [{ userID: 'erin' }],
        operatedInfo: { userID: 'bob' },
        groupID: g,
        memberCount: 4,
      });
    }
    expect((await rejection(erin.zim.queryGroupInfo(g))).code).toBe(40300);
  });

  test('leaveGroup: the owner cannot; a member leaves and the rest are told', async () => {
    expect((await rejection(alice.zim.leaveGroup(g))).code).toBe(40905);
    expect((await alice.zim.queryGroupInfo(g)).groupInfo).toMatchObject({ ownerUserID: 'alice', myRole: ZIMGroupMemberRole.Owner });

    const [ma, md] = [alice.ev.mark(), dave.ev.mark()];
    expect(await dave.zim.leaveGroup(g)).toEqual({ groupID: g });
    const self = await dave.ev.wait('groupStateChanged', (d) => d.groupInfo.baseInfo.groupID === g, md);
    expect(self).toMatchObject({ state: ZIMGroupState.Quit, event: ZIMGroupEvent.Left, operatedInfo: { userID: 'dave' } });
    const ev = await alice.ev.wait('groupMemberStateChanged', (d) => d.groupID === g, ma);
    expect(ev).toMatchObject({ state: ZIMGroupMemberState.Quit, event: ZIMGroupMemberEvent.Left, userList: [{ userID: 'dave' }], memberCount: 3 });
    expect((await rejection(dave.zim.leaveGroup(g))).code).toBe(40300);
    expect((await rejection(dave.zim.queryGroupMemberList(g, { count: 10, nextFlag: '' }))).code).toBe(40300);
  });

  test('transferGroupOwner: owner only; the new owner and the old one are told', async () => {
    expect((await rejection(bob.zim.transferGroupOwner('carol', g))).code).toBe(40301);
    expect((await rejection(alice.zim.transferGroupOwner('dave', g))).code).toBe(40300);
    expect((await rejection(alice.zim.transferGroupOwner('alice', g))).code).toBe(40003);
    expect((await alice.zim.queryGroupInfo(g)).groupInfo.ownerUserID).toBe('alice');

    const mc = carol.ev.mark();
    expect(await alice.zim.transferGroupOwner('carol', g)).toEqual({ groupID: g, toUserID: 'carol' });
    const ev = await carol.ev.wait('groupMemberInfoUpdated', (d) => d.groupID === g, mc);
    expect(ev.userList.map((m) => [m.userID, m.memberRole])).toEqual([
      ['alice', ZIMGroupMemberRole.Member],
      ['carol', ZIMGroupMemberRole.Owner],
    ]);
    expect(ev.operatedInfo.userID).toBe('alice');
    const info = await alice.zim.queryGroupInfo(g);
    expect(info.groupInfo).toMatchObject({ ownerUserID: 'carol', myRole: ZIMGroupMemberRole.Member });
    // alice may leave now; carol may not.
    expect((await rejection(carol.zim.leaveGroup(g))).code).toBe(40905);
    await alice.zim.leaveGroup(g);
    expect(await members(carol, g)).toEqual({ bob: ZIMGroupMemberRole.Admin, carol: ZIMGroupMemberRole.Owner });
  });

  test('dismissGroup: owner only; everyone leaves and later requests get group_dismissed', async () => {
    const d = 'doomed';
    await alice.zim.createGroup({ groupID: d, groupName: 'D' }, ['bob', 'carol']);
    expect((await rejection(bob.zim.dismissGroup(d))).code).toBe(40301);
    expect((await bob.zim.queryGroupInfo(d)).groupInfo.memberCount).toBe(3);

    const marks = [alice, bob, carol].map((c) => c.ev.mark());
    expect(await alice.zim.dismissGroup(d)).toEqual({ groupID: d });
    for (const [i, c] of [alice, bob, carol].entries()) {
      const ev = await c.ev.wait('groupStateChanged', (x) => x.groupInfo.baseInfo.groupID === d, marks[i]);
      expect(ev).toMatchObject({ state: ZIMGroupState.Quit, event: ZIMGroupEvent.Dismissed, operatedInfo: { userID: 'alice' } });
    }
    expect((await rejection(bob.zim.queryGroupInfo(d))).code).toBe(41000);
    expect((await rejection(dave.zim.joinGroup(d))).code).toBe(41000);
    expect((await rejection(alice.zim.dismissGroup(d))).code).toBe(41000);
    expect((await rejection(alice.zim.createGroup({ groupID: d, groupName: 'again' }, []))).code).toBe(40901);
    expect((await bob.zim.queryGroupList()).groupList.map((x) => x.baseInfo.groupID)).not.toContain(d);
  });

  test('an unknown group: group_not_found for every request', async () => {
    const calls: Promise<unknown>[] = [
      alice.zim.joinGroup('nope'),
      alice.zim.leaveGroup('nope'),
      alice.zim.dismissGroup('nope'),
      alice.zim.inviteUsersIntoGroup(['bob'], 'nope'),
      alice.zim.kickGroupMembers(['bob'], 'nope'),
      alice.zim.transferGroupOwner('bob', 'nope'),
      alice.zim.setGroupMemberRole(ZIMGroupMemberRole.Admin, 'bob', 'nope'),
      alice.zim.queryGroupInfo('nope'),
      alice.zim.queryGroupMemberList('nope', { count: 10, nextFlag: '' }),
    ];
    for (const p of calls) expect((await rejection(p)).code).toBe(40402);
  });
});

describe('queries', () => {
  test('queryGroupMemberList pages in user ID order; nextFlag is "" after the last page', async () => {
    const g = 'paged';
    await erin.zim.createGroup({ groupID: g, groupName: 'P' }, ['dave', 'alice', 'carol', 'bob']);
    const seen: string[] = [];
    let flag: string | number = 0;
    let pages = 0;
    do {
      const r = await bob.zim.queryGroupMemberList(g, { count: 2, nextFlag: flag });
      expect(r.groupID).toBe(g);
      expect(r.userList.length).toBeLessThanOrEqual(2);
      seen.push(...r.userList.map((m) => m.userID));
      for (const m of r.userList) {
        expect(m.memberRole).toBe(m.userID === 'erin' ? ZIMGroupMemberRole.Owner : ZIMGroupMemberRole.Member);
        expect(m.joinTime).toBeGreaterThan(0);
      }
      flag = r.nextFlag;
      pages++;
    } while ((flag as unknown) != 0 && pages < 10); // a ZIM app's loop: '' == 0
    expect(seen).toEqual(['alice', 'bob', 'carol', 'dave', 'erin']);
    expect(pages).toBe(3);
  });

  test('queryGroupList returns every group of the user across server pages', async () => {
    const p = await user('pager');
    const ids = Array.from({ length: 105 }, (_, i) => `pg-${String(i).padStart(3, '0')}`);
    await Promise.all(ids.map((id) => p.zim.createGroup({ groupID: id, groupName: id }, [])));
    const r = await p.zim.queryGroupList();
    expect(r.groupList.map((x) => x.baseInfo.groupID)).toEqual(ids);
    expect(r.groupList[0]).toMatchObject({ ownerUserID: 'pager', memberCount: 1, myRole: ZIMGroupMemberRole.Owner });
  });
});

describe('group messages', () => {
  const texts = (c: Client, g: string) =>
    c.ev
      .all('groupMessageReceived', (d) => d.fromConversationID === g)
      .flatMap((d) => d.messageList.map((m) => [String(m.message), m.senderUserID, d.info.isOfflineMessage]));

  test('members get them live, a member logged out gets them at its next login, a later member only what follows', async () => {
    const g = 'chat';
    await alice.zim.createGroup({ groupID: g, groupName: 'Chat' }, ['bob', 'carol'], { joinMode: ZIMGroupJoinMode.Any });
    await carol.logout();
    const one = await alice.zim.sendMessage({ type: 1, message: 'one' }, g, 2, { priority: 2 });
    expect(one.message).toMatchObject({ conversationID: g, conversationType: 2, conversationSeq: 1, senderUserID: 'alice' });
    await bob.zim.sendMessage({ type: 1, message: 'two' }, g, 2, {
      priority: 3,
      pushConfig: { title: 'bob', content: 'two', payload: '{"g":"chat"}' },
    });
    await bob.ev.wait('groupMessageReceived', (d) => d.fromConversationID === g);
    await alice.ev.wait('groupMessageReceived', (d) => d.fromConversationID === g);
    expect(texts(bob, g)).toEqual([['one', 'alice', false]]);
    expect(texts(alice, g)).toEqual([['two', 'bob', false]]);

    // Not a member: refused, nothing stored.
    expect((await rejection(dave.zim.sendMessage({ type: 1, message: 'spam' }, g, 2, {}))).code).toBe(40300);

    const mc = carol.ev.mark();
    await carol.login();
    const off = await carol.ev.wait('groupMessageReceived', (d) => d.fromConversationID === g, mc);
    expect(off.info.isOfflineMessage).toBe(true);
    await carol.ev.wait('groupMessageReceived', (d) => d.messageList.some((m) => m.message === 'two'), mc);
    expect(texts(carol, g)).toEqual([
      ['one', 'alice', true],
      ['two', 'bob', true],
    ]);
    expect(carol.ev.all('groupMessageReceived', (d) => d.fromConversationID === g).flatMap((d) => d.messageList.map((m) => m.conversationSeq))).toEqual([1, 2]);

    // dave joins: he gets what follows, not what came before.
    await dave.zim.joinGroup(g);
    await alice.zim.sendMessage({ type: 1, message: 'three' }, g, 2, {});
    await dave.ev.wait('groupMessageReceived', (d) => d.fromConversationID === g);
    expect(texts(dave, g)).toEqual([['three', 'alice', false]]);
    await carol.ev.wait('groupMessageReceived', (d) => d.messageList.some((m) => m.message === 'three'), mc);
    expect(texts(carol, g).map((t) => t[0])).toEqual(['one', 'two', 'three']);
  });
});

describe('join policy', () => {
  test('Auth: a join request reaches the owner; accepted, the applicant is a member and told', async () => {
    const g = 'asking';
    await alice.zim.createGroup({ groupID: g, groupName: 'Asking' }, ['bob']);
    const [ma, md] = [alice.ev.mark(), dave.ev.mark()];
    const j = await dave.zim.joinGroup(g);
    expect(j.pending).toBe(true);
    expect(j.groupInfo).toMatchObject({ baseInfo: { groupID: g }, myRole: 0, joinMode: ZIMGroupJoinMode.Auth });
    const ev = await alice.ev.wait('groupApplicationListChanged', (d) => d.applicationList[0]?.groupInfo.groupID === g, ma);
    expect(ev.applicationList[0]).toMatchObject({ applyUser: { userID: 'dave' }, state: ZIMGroupApplicationState.Waiting });
    expect((await rejection(dave.zim.sendGroupJoinApplication(g, { wording: 'again' }))).code).toBe(40907);
    expect((await rejection(bob.zim.acceptGroupJoinApplication('dave', g))).code).toBe(40301);
    expect((await rejection(dave.zim.queryGroupInfo(g))).code).toBe(40300);
    const list = await alice.zim.queryGroupApplicationList({ groupID: g, count: 10, nextFlag: '' });
    expect(list.applicationList.map((a) => a.applyUser.userID)).toEqual(['dave']);
    expect(list.nextFlag).toBe('');

    const acc = await alice.zim.acceptGroupJoinApplication('dave', g);
    expect(acc.application.state).toBe(ZIMGroupApplicationState.Accepted);
    const self = await dave.ev.wait('groupStateChanged', (d) => d.groupInfo.baseInfo.groupID === g, md);
    expect(self).toMatchObject({ state: ZIMGroupState.Enter, event: ZIMGroupEvent.Joined, operatedInfo: { userID: 'alice' } });
    const upd = await dave.ev.wait('groupApplicationUpdated', (d) => d.applicationList[0]?.groupInfo.groupID === g, md);
    expect(upd.applicationList[0]?.state).toBe(ZIMGroupApplicationState.Accepted);
    expect((await dave.zim.queryGroupInfo(g)).groupInfo.myRole).toBe(ZIMGroupMemberRole.Member);
    expect((await rejection(alice.zim.acceptGroupJoinApplication('dave', g))).code).toBe(40908);
  });

  test('Auth: rejected, the applicant is told and is no member', async () => {
    const g = 'picky';
    await alice.zim.createGroup({ groupID: g, groupName: 'Picky' }, []);
    const me = erin.ev.mark();
    const s = await erin.zim.sendGroupJoinApplication(g, { wording: 'please' });
    expect(s.application).toMatchObject({ state: ZIMGroupApplicationState.Waiting, wording: 'please' });
    const r = await alice.zim.rejectGroupJoinApplication('erin', g);
    expect(r.application.state).toBe(ZIMGroupApplicationState.Rejected);
    const upd = await erin.ev.wait('groupApplicationUpdated', (d) => d.applicationList[0]?.groupInfo.groupID === g, me);
    expect(upd).toMatchObject({ operatedInfo: { userID: 'alice' } });
    expect(upd.applicationList[0]?.state).toBe(ZIMGroupApplicationState.Rejected);
    expect((await rejection(erin.zim.queryGroupInfo(g))).code).toBe(40300);
  });

  test('Forbid refuses joins; updateGroupJoinMode by the owner, members told; bad modes change nothing', async () => {
    const g = 'fort';
    await alice.zim.createGroup({ groupID: g, groupName: 'Fort' }, ['bob'], { joinMode: ZIMGroupJoinMode.Forbid });
    expect((await rejection(carol.zim.joinGroup(g))).code).toBe(40303);
    expect((await rejection(bob.zim.updateGroupJoinMode(ZIMGroupJoinMode.Any, g))).code).toBe(40301);
    expect((await rejection(alice.zim.updateGroupJoinMode(7 as ZIMGroupJoinMode, g))).code).toBe(40003);
    expect((await alice.zim.queryGroupInfo(g)).groupInfo.joinMode).toBe(ZIMGroupJoinMode.Forbid);
    const mb = bob.ev.mark();
    expect(await alice.zim.updateGroupJoinMode(ZIMGroupJoinMode.Any, g)).toEqual({ groupID: g, mode: ZIMGroupJoinMode.Any });
    const ev = await bob.ev.wait('groupVerifyInfoUpdated', (d) => d.groupID === g, mb);
    expect(ev).toEqual({ groupID: g, verifyInfo: { joinMode: ZIMGroupJoinMode.Any }, operatedInfo: { userID: 'alice' } });
    const j = await carol.zim.joinGroup(g);
    expect(j.pending).toBeUndefined();
    expect(j.groupInfo.myRole).toBe(ZIMGroupMemberRole.Member);
  });
});
