// Message revoke against a real server: revokeMessage, the revoked
// message in messageRevokeReceived and in history, and a forbidden revoke.
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { ZIMMessageRevokeStatus, ZIMMessageType, type ZIM, type ZIMEventOfMessageRevokeReceivedResult } from '../src/node.js';
import { startServer, type HeraldServer } from './harness.js';
import { loggedIn, rejection, text, uniq, type Client } from './helpers.js';

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
async function user(name: string): Promise<Client> {
  const c = await loggedIn(srv, uniq(name));
  clients.push(c);
  return c;
}

describe('revokeMessage', () => {
  test('the sender revokes: the peer gets messageRevokeReceived and history shows the revoked message', async () => {
    const alice = await user('alice');
    const bob = await user('bob');
    const revoked = new Promise<ZIMEventOfMessageRevokeReceivedResult>((resolve) => {
      bob.zim.on('messageRevokeReceived', (_: ZIM, data) => resolve(data));
    });
    const sent = await alice.zim.sendMessage(text('oops'), bob.userID, 0);
    await bob.rec.next('peerMessageReceived', () => true, 0);

    // The recipient may not revoke it; nothing changes.
    const asBob = { ...sent.message, conversationID: alice.userID };
    expect((await rejection(bob.zim.revokeMessage(asBob))).code).toBe(40340);

    const r = await alice.zim.revokeMessage(sent.message, { revokeExtendedData: 'typo' });
    expect(r.message).toMatchObject({
      type: ZIMMessageType.Revoke,
      messageID: sent.message.messageID,
      conversationSeq: sent.message.conversationSeq,
      revokeStatus: ZIMMessageRevokeStatus.SelfRevoke,
      operatedUserID: alice.userID,
      revokeExtendedData: 'typo',
      originalMessageType: ZIMMessageType.Text,
    });
    const ev = await revoked;
    expect(ev.messageList).toHaveLength(1);
    expect(ev.messageList[0]).toMatchObject({ type: 31, messageID: sent.message.messageID, conversationID: alice.userID });

    const h = await bob.zim.queryHistoryMessage(alice.userID, 0);
    expect(h.messageList).toHaveLength(1);
    expect(h.messageList[0]).toMatchObject({ type: 31, messageID: sent.message.messageID, revokeExtendedData: 'typo' });

    expect((await rejection(alice.zim.revokeMessage(sent.message))).code).toBe(40940);
  });
});
