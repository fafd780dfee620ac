// The user offline push rule through the ZIM class against a real server:
// updateUserOfflinePushRule, the userRuleUpdated event on the user's
// other device, querySelfUserInfo, and the codes of a refused rule.
import { afterAll, beforeAll, expect, test } from 'vitest';
import { ZIM, ZIMError, ZIMPlatformType, type ZIMEventOfUserRuleUpdatedResult } from '../src/node.js';
import { login, type Client } from './gcclient.js';
import { startServer, type HeraldServer } from './harness.js';

let srv: HeraldServer;
let desk: Client;
let phone: ZIM;
const phoneEvents: ZIMEventOfUserRuleUpdatedResult[] = [];

beforeAll(async () => {
  srv = await startServer({ emulate: false });
  desk = await login(srv, 'bob'); // platform linux
  phone = ZIM.create({ appID: srv.app.appID, server: srv.url, deviceID: `phone-${process.pid}`, platform: 'ios' });
  phone.on('userRuleUpdated', (_, data) => phoneEvents.push(data));
  await phone.login('bob', { token: srv.token('bob') });
});
afterAll(async () => {
  phone?.destroy();
  await desk?.close();
  await srv?.dispose();
});

test('a rule set on one device reaches the other and comes back from querySelfUserInfo', async () => {
  const before = await phone.querySelfUserInfo();
  expect(before.selfUserInfo.userRule.offlinePushRule).toEqual({ onlinePlatforms: [], notToReceiveOfflinePushPlatforms: [] });
  expect(before.selfUserInfo.userFullInfo.baseInfo.userID).toBe('bob');

  const mark = desk.ev.mark();
  const r = await desk.zim.updateUserOfflinePushRule({
    onlinePlatforms: [ZIMPlatformType.Linux, ZIMPlatformType.Win, ZIMPlatformType.Linux],
    notToReceiveOfflinePushPlatforms: [ZIMPlatformType.IPhoneOS],
  });
  const want = { onlinePlatforms: [ZIMPlatformType.Win, ZIMPlatformType.Linux], notToReceiveOfflinePushPlatforms: [ZIMPlatformType.IPhoneOS] };
  expect(r.offlinePushRule).toEqual(want);
  // The updating device hears of it too ("all ends", as in ZIM).
  const own = await desk.ev.wait('userRuleUpdated', () => true, mark);
  expect(own.userRule.offlinePushRule).toEqual(want);
  await expect.poll(() => phoneEvents.length).toBe(1);
  expect(phoneEvents[0]!.userRule.offlinePushRule).toEqual(want);

  const after = await phone.querySelfUserInfo();
  expect(after.selfUserInfo.userRule.offlinePushRule).toEqual(want);
});

test('a rule naming an unknown platform, or too many, is refused and changes nothing', async () => {
  const bad = async (rule: { onlinePlatforms: number[]; notToReceiveOfflinePushPlatforms: number[] }) => {
    try {
      await desk.zim.updateUserOfflinePushRule(rule as never);
    } catch (e) {
      return (e as ZIMError).code;
    }
    return 0;
  };
  expect(await bad({ onlinePlatforms: [8], notToReceiveOfflinePushPlatforms: [] })).toBe(40035);
  expect(await bad({ onlinePlatforms: [], notToReceiveOfflinePushPlatforms: Array(17).fill(1) })).toBe(40036);
  const r = await phone.querySelfUserInfo();
  expect(r.selfUserInfo.userRule.offlinePushRule.onlinePlatforms).toEqual([ZIMPlatformType.Win, ZIMPlatformType.Linux]);
});
