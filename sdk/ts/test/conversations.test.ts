// Conversation notification status, mentions and the push config's badge
// through the ZIM class against a real server (docs/protocol.md,
// "Conversation notification status, mentions and badge").
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  ZIM,
  ZIMConversationEvent,
  ZIMConversationNotificationStatus,
  ZIMConversationType,
  type ZIMEventOfConversationChangedResult,
} from '../src/node.js';
import { login, rejection, type Client } from './gcclient.js';
import { startServer, type HeraldServer } from './harness.js';

let srv: HeraldServer;
let alice: Client, bob: Client;
let desktop: ZIM;
const desktopChanges: ZIMEventOfConversationChangedResult[] = [];

beforeAll(async () => {
  srv = await startServer({ emulate: false });
  [alice, bob] = await Promise.all([login(srv, 'alice'), login(srv, 'bob')]);
  // Alice's second device, on another platform (the kick policy keeps one
  // session per platform).
  desktop = ZIM.create({ appID: srv.app.appID, server: srv.url, deviceID: `desktop-${process.pid}`, platform: 'macos' });
  desktop.on('conversationChanged', (_z, d) => desktopChanges.push(d));
  await desktop.login('alice', { token: srv.token('alice') });
});
afterAll(async () => {
  desktop?.destroy();
  await Promise.all([alice, bob].map((c) => c?.close()));
  await srv?.dispose();
});

describe('setConversationNotificationStatus', () => {
  test('reaches every device of the user and the conversation list', async () => {
    await bob.zim.sendMessage({ type: 1, message: 'hi' }, 'alice', ZIMConversationType.Peer);
    await alice.ev.wait('peerMessageReceived');
    const mark = alice.ev.mark();
    const r = await alice.zim.setConversationNotificationStatus(
      ZIMConversationNotificationStatus.DoNotDisturb,
      'bob',
      ZIMConversationType.Peer,
    );
    expect(r).toEqual({ conversationID: 'bob', conversationType: ZIMConversationType.Peer });
    const own = await alice.ev.wait('conversationChanged', () => true, mark);
    expect(own.infoList[0]).toMatchObject({
      event: ZIMConversationEvent.Updated,
      conversation: { conversationID: 'bob', notificationStatus: ZIMConversationNotificationStatus.DoNotDisturb, unreadMessageCount: 1 },
    });
    await expect.poll(() => desktopChanges.length).toBe(1);
    expect(desktopChanges[0]!.infoList[0]!.conversation.notificationStatus).toBe(ZIMConversationNotificationStatus.DoNotDisturb);
    const list = await desktop.queryConversationList({ count: 10 });
    expect(list.conversationList.find((c) => c.conversationID === 'bob')?.notificationStatus).toBe(
      ZIMConversationNotificationStatus.DoNotDisturb,
    );
    const other = await bob.zim.queryConversationList({ count: 10 });
    expect(other.conversationList[0]?.notificationStatus).toBe(ZIMConversationNotificationStatus.Notify);
  });

  test('mentionsOnly is for groups only', async () => {
    const e = await rejection(
      alice.zim.setConversationNotificationStatus(ZIMConversationNotificationStatus.MentionsOnly, 'bob', ZIMConversationType.Peer),
    );
    expect(e.code).toBe(40031);
  });
});

describe('mentions', () => {
  test('a group message carries its mention list; a peer message may not', async () => {
    await alice.zim.createGroup({ groupID: 'team', groupName: 'Team' }, ['bob']);
    const mark = bob.ev.mark();
    await alice.zim.sendMessage(
      { type: 1, message: '@bob look', mentionedUserIDs: ['bob'], isMentionAll: true },
      'team',
      ZIMConversationType.Group,
      { pushConfig: { title: 'Team', content: 'look', enableBadge: true, badgeIncrement: 1 } },
    );
    const got = await bob.ev.wait('groupMessageReceived', (d) => d.fromConversationID === 'team', mark);
    expect(got.messageList[0]).toMatchObject({ message: '@bob look', mentionedUserIDs: ['bob'], isMentionAll: true });
    const h = await bob.zim.queryHistoryMessage('team', ZIMConversationType.Group, { count: 10 });
    expect(h.messageList.at(-1)).toMatchObject({ mentionedUserIDs: ['bob'], isMentionAll: true });
    const e = await rejection(
      alice.zim.sendMessage({ type: 1, message: 'x', mentionedUserIDs: ['bob'] }, 'bob', ZIMConversationType.Peer),
    );
    expect(e.code).toBe(40030);
  });
});
