// The seed's TypeScript samples (seed/offline-push-react-native.zh.md),
// transcribed nearly verbatim and run against a real `herald serve
// --emulate`, in the seed's three scenarios: a 1:1 message, a group
// message and a call invitation, each with a push config, to a user whose
// app was killed. The push reaches the user's emulated phone; when the
// app comes back and logs in, the message (or the still ringing
// invitation) arrives.
//
// What differs from the seed's text, and why:
// - The package is '@heraldim/herald' (the seed imports ZPNs from
//   'zego-zpns-react-native'); ZPNs.setPushTokenSource(phone) comes first,
//   where a React Native app plugs in its vendor modules (sdk/ts/README.md).
// - `title = "...";` inside the ZIMPushConfig literal is not TypeScript;
//   it is `title: "...",` here.
// - The placeholders are filled in: `toUserID = ''`, `toGroupID = ''` and
//   `invitees = ['xxxx']` name the test's users; `resourcesID = "资源 ID，非必填"`
//   ("resource ID, optional") is not a valid resource ID (the server
//   takes 1–64 characters of the user ID alphabet) and is refused as it
//   stands (tested below), so the samples pass "im".
// - `console.log` in the ZPNs samples writes to the app's log, which the
//   tests read.
// - Each app is its own copy of the SDK (seedKit.device), as on its own
//   phone; a killed app's copy is dropped and a new one starts, with
//   nothing in memory.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type {
  EmulatedPhone,
  ZIM,
  ZIMCallInvitationSentResult,
  ZIMCallInviteConfig,
  ZIMError,
  ZIMEventOfCallInvitationReceivedResult,
  ZIMEventOfReceiveConversationMessageResult,
  ZIMMessage,
  ZIMMessageSendConfig,
  ZIMMessageSentResult,
  ZIMPushConfig,
  ZPNsMessage,
  ZPNsRegisterMessage,
} from '../src/index.js';
import { startServer, type HeraldServer } from './harness.js';
import { device, expectCode, Recorder, waitSessions, type SDK } from './seedKit.js';

let srv: HeraldServer;
let phonesURL: string;
let senderSDK: SDK;
/** The sender's ZIM, logged in as alice: the seed's `zim`. */
let zim: ZIM;
const phones: EmulatedPhone[] = [];

beforeAll(async () => {
  srv = await startServer();
  phonesURL = srv.manifest.phones.url;
  senderSDK = await device();
  zim = senderSDK.ZIM.create({ appID: srv.app.appID, server: srv.url });
  await zim.login('alice', { token: srv.token('alice') });
});

afterAll(async () => {
  await zim?.logout().catch(() => {});
  for (const p of phones) await p.dispose().catch(() => {});
  await srv?.dispose();
});

/** An app on a phone: its SDK copy, ZIM, recorded events and log. */
interface App {
  sdk: SDK;
  zim: ZIM;
  userID: string;
  /** What the ZIM event handlers got, by event name. */
  events: Recorder<any>;
  /** What the ZPNs event handlers got, by event name. */
  push: Recorder<any>;
  /** The ZPNs samples' console.log lines. */
  log: string[];
}

/**
 * newPhone makes an emulated phone with the app installed: a debug build
 * (the seed's enableDebug(true)) unless release.
 */
async function newPhone(vendor: 'apns' | 'fcm' | 'huawei' | 'xiaomi' | 'oppo' | 'vivo', release = false): Promise<EmulatedPhone> {
  const p = await senderSDK.EmulatedPhone.create(phonesURL, {
    vendor,
    debug: !release,
    voip: vendor === 'apns',
    state: 'foreground',
  });
  phones.push(p);
  return p;
}

/**
 * launch starts the app on phone: the seed's ZPNs samples (handlers,
 * setPushConfig, enableDebug, registerPush), then a ZIM login as userID,
 * which binds the device to the user. It resolves once `registered`
 * reported the PushID.
 */
async function launch(phone: EmulatedPhone, userID: string, debugBuild = true): Promise<App> {
  const sdk = await device();
  const { ZPNs, ZPNsIOSEnvironment } = sdk;
  const log: string[] = [];
  const console = {
    log: (...args: unknown[]) => log.push(args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' ')),
  };
  const push = new Recorder<any>();
  for (const name of ['registered', 'notificationArrived', 'throughMessageReceived', 'notificationClicked'] as const) {
    ZPNs.getInstance().on(name, push.handler(name));
  }
  ZPNs.setPushTokenSource(phone);

  // --- the seed: 设置权限 (iOS)
  if (phone.platform === 'ios') {
    ZPNs.getInstance().applyNotificationPermission();
  }

  // --- the seed: 使用 ZPNsEventHandler 注册回调示例
  ZPNs.getInstance().on('registered', (message) => {
        console.log('[ZPNs] registered. pushID: ' + message.pushID + ', error: ' + message.errorCode)
  });

  ZPNs.getInstance().on('notificationArrived', (message) => {
        console.log('[ZPNs] notificationArrived', message)
  });

  ZPNs.getInstance().on('throughMessageReceived', (message) => {
        console.log('[ZPNs] throughMessageReceived', message)
  });

  // --- the seed: 配置安卓第三方推送通道
  ZPNs.setPushConfig({"enableFCMPush": true, "enableHWPush": true, "enableMiPush": true, "enableOppoPush": true, "enableVivoPush": true});

  // --- the seed: enableDebug — ZPNs.enableDebug(true) in a debug build
  // (development PushIDs); a release build passes false.
  ZPNs.enableDebug(debugBuild);

  // --- the seed: registerPush
  // 在 iOS 调用 registerPush 接口时，iOSNotificationArrivedConfig 参数可以用来设置普通弹窗推送在前台到达时，是否展示弹窗、角标、声音，若希望不展示可不填。
  // enableIOSVoIP 接口用于标记是否使用 iOS VoIP 推送类型。
  ZPNs.getInstance().registerPush({enableIOSVoIP:true, iOSEnvironment:ZPNsIOSEnvironment.Automatic,iOSNotificationArrivedConfig:{isPresentAlert:true,isPresentSound:true,isPresentBadge:true}});
  // ---

  const events = new Recorder<any>();
  const appZIM = sdk.ZIM.create({ appID: srv.app.appID, server: srv.url });
  for (const name of [
    'connectionStateChanged',
    'peerMessageReceived',
    'groupMessageReceived',
    'groupStateChanged',
    'callInvitationReceived',
    'callInvitationCancelled',
    'callInvitationTimeout',
  ] as const) {
    appZIM.on(name, events.handler(name));
  }
  await appZIM.login(userID, { token: srv.token(userID) });
  const reg: ZPNsRegisterMessage = await push.next('registered');
  expect(reg.errorCode, reg.errorMessage).toBe(0);
  return { sdk, zim: appZIM, userID, events, push, log };
}

/**
 * kill kills the app: the phone's app state becomes killed and its
 * connection closes (without logout: the push binding stays). It
 * resolves once the server no longer counts the session, so that the
 * user is offline for the next send.
 */
async function kill(app: App, phone: EmulatedPhone, sessionsLeft = 1): Promise<void> {
  await phone.setState('killed');
  app.zim.destroy();
  await waitSessions(srv, sessionsLeft);
}

/** pushJobs returns the push jobs the server wrote for a message (admin API). */
async function pushJobs(messageID: string): Promise<unknown[]> {
  const res = await fetch(`${srv.httpURL}/v1/apps/${srv.app.appID}/push/trace?messageID=${messageID}`, {
    headers: { authorization: `Bearer ${srv.app.adminKey}` },
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { jobs: unknown[] }).jobs;
}

describe('ZPNs samples', () => {
  test('registered reports a development PushID; a push to the app in the background raises notificationArrived (APNs); unregisterPush stops pushes', async () => {
    const phone = await newPhone('apns');
    const app = await launch(phone, 'erin');
    expect(app.log[0]).toMatch(/^\[ZPNs\] registered\. pushID: D\S+, error: 0$/);

    // The app goes to the background and its connection times out.
    await phone.setState('background');
    app.zim.destroy();
    await waitSessions(srv, 1);
    await zim.sendMessage({ type: 1, message: 'while in the background' }, 'erin', 0, {
      priority: 2,
      pushConfig: { title: 'Alice', content: 'hi erin', payload: '{"chat":"alice"}' },
    });
    await phone.waitForEvent((e) => e.event === 'notificationDisplayed' && e.content === 'hi erin');
    const arrived: ZPNsMessage = await app.push.next('notificationArrived');
    expect(arrived).toMatchObject({ title: 'Alice', content: 'hi erin', payload: '{"chat":"alice"}' });
    expect(app.log).toContainEqual(expect.stringMatching(/^\[ZPNs\] notificationArrived \{.*"content":"hi erin"/));

    // Back in the foreground: the app logs in again, then unregisters.
    await phone.setState('foreground');
    const again = app.sdk.ZIM.create({ appID: srv.app.appID, server: srv.url });
    await again.login('erin', { token: srv.token('erin') });

    // --- the seed: 注销离线推送 (awaited here, to send only once it is done)
    const { ZPNs } = app.sdk;
    await ZPNs.getInstance().unregisterPush();
    // ---
    again.destroy();
    await waitSessions(srv, 1);
    const res = await zim.sendMessage({ type: 1, message: 'after unregisterPush' }, 'erin', 0, {
      pushConfig: { title: 'Alice', content: 'not pushed' },
    });
    // The push jobs are written in the message's transaction: none now.
    expect(await pushJobs(res.message.messageID!)).toEqual([]);
  });

  test('throughMessageReceived: FCM hands the app in the background every message (debug and release builds alike)', async () => {
    // The seed's enableDebug(true): a development PushID, which FCM (one
    // environment) serves as it serves a release build's.
    const phone = await newPhone('fcm');
    const app = await launch(phone, 'frank');
    expect(app.log[0]).toMatch(/^\[ZPNs\] registered\. pushID: D\S+, error: 0$/);
    await phone.setState('background');
    app.zim.destroy();
    await waitSessions(srv, 1);
    await zim.sendMessage({ type: 1, message: 'through' }, 'frank', 0, {
      pushConfig: { title: 'Alice', content: 'hi frank' },
    });
    const through: ZPNsMessage = await app.push.next('throughMessageReceived');
    expect(through).toMatchObject({ title: 'Alice', content: 'hi frank' });
    expect(app.log).toContainEqual(expect.stringMatching(/^\[ZPNs\] throughMessageReceived /));
    // FCM raises no notificationArrived (the seed's table).
    expect(app.push.all('notificationArrived')).toEqual([]);
    await app.sdk.ZPNs.getInstance().unregisterPush();
  });
});

describe('scenario 1: a 1:1 message with a push config to a user whose app was killed', () => {
  test('the push reaches the phone; at login the message arrives', async () => {
    const phone = await newPhone('apns');
    const bob = await launch(phone, 'bob');
    await kill(bob, phone);

    // --- the seed, scenario 1, steps 1-3
    const pushConfig: ZIMPushConfig = {
        title: "离线推送标题",
        content: "离线推送内容",
        // extendedData = "自定义透传字段,非必填"; // ZIM 版本 < 2.5.0 时使用该字段
        // payload = "自定义透传字段,非必填";  // ZIM 版本 >= 2.5.0 时使用该字段
        resourcesID: "im",
    }

    const sendConfig: ZIMMessageSendConfig = {
        priority: 2,
        pushConfig: pushConfig
    };

    let sent: ZIMMessageSentResult | undefined;
    let failed: ZIMError | undefined;
    const toUserID = 'bob';
    const messageTextObj: ZIMMessage = { type: 1, message: '文本消息内容' };
    await zim.sendMessage(messageTextObj, toUserID, 0, sendConfig)
        .then((res: ZIMMessageSentResult) => {
            // 发送成功
            sent = res;
        })
        .catch((err: ZIMError) => {
            // 发送失败
            failed = err;
        });
    // ---
    expect(failed).toBeUndefined();
    expect(sent?.message).toMatchObject({ type: 1, message: '文本消息内容', conversationID: 'bob' });

    // The killed app's phone shows the notification.
    const shown = await phone.waitForEvent((e) => e.event === 'notificationDisplayed' && e.content === '离线推送内容');
    expect(shown).toMatchObject({ vendor: 'apns', title: '离线推送标题', kind: 'alert' });

    // --- step 4: the user opens the app, which logs in: the message arrives.
    await phone.setState('foreground');
    const back = await launch(phone, 'bob');
    const got: ZIMEventOfReceiveConversationMessageResult = await back.events.next('peerMessageReceived', (d) =>
      d.messageList.some((m: ZIMMessage) => m.message === '文本消息内容'),
    );
    expect(got.fromConversationID).toBe('alice');
    expect(got.info.isOfflineMessage).toBe(true);
    expect(got.messageList.find((m) => m.message === '文本消息内容')).toMatchObject({
      type: 1,
      senderUserID: 'alice',
      messageID: sent!.message.messageID,
    });
    await back.zim.logout();
    await back.sdk.ZPNs.getInstance().unregisterPush();
  });

  test("the seed's placeholder resourcesID, as it stands, is refused with the server's code and nothing is sent", async () => {
    const pushConfig: ZIMPushConfig = {
        title: "离线推送标题",
        content: "离线推送内容",
        resourcesID: "资源 ID，非必填",
    }
    const sendConfig: ZIMMessageSendConfig = { priority: 2, pushConfig: pushConfig };
    await expectCode(zim.sendMessage({ type: 1, message: '文本消息内容' }, 'bob', 0, sendConfig), 40011);
  });
});

describe('scenario 2: a group message with a push config to a member whose app was killed', () => {
  test('the push reaches the phone; at login the group message arrives', async () => {
    const phone = await newPhone('huawei');
    const carol = await launch(phone, 'carol');
    const toGroupID = 'seed-team';
    await zim.createGroup({ groupID: toGroupID, groupName: 'Seed team' }, ['carol']);
    await carol.events.next('groupStateChanged');
    await kill(carol, phone);

    // --- the seed, scenario 2, steps 1-3
    const pushConfig: ZIMPushConfig = {
        title: "离线推送标题",
        content: "离线推送内容",
        // extendedData = "自定义透传字段,非必填"; // ZIM 版本 < 2.5.0 时使用该字段
        // payload = "自定义透传字段,非必填";  // ZIM 版本 >= 2.5.0 时使用该字段
        resourcesID: "im",
    }

    const sendConfig: ZIMMessageSendConfig = {
        priority: 2,
        pushConfig: pushConfig
    };

    let sent: ZIMMessageSentResult | undefined;
    let failed: ZIMError | undefined;
    const messageTextObj: ZIMMessage = { type: 1, message: '文本消息内容' };
    await zim.sendMessage(messageTextObj, toGroupID, 2, sendConfig)
        .then((res: ZIMMessageSentResult) => {
            // 发送成功
            sent = res;
        })
        .catch((err: ZIMError) => {
            // 发送失败
            failed = err;
        });
    // ---
    expect(failed).toBeUndefined();
    expect(sent?.message).toMatchObject({ conversationID: toGroupID, conversationType: 2 });

    const shown = await phone.waitForEvent((e) => e.event === 'notificationDisplayed' && e.content === '离线推送内容');
    expect(shown).toMatchObject({ vendor: 'huawei', title: '离线推送标题' });

    // --- step 4: the member comes back: the group message arrives.
    await phone.setState('foreground');
    const back = await launch(phone, 'carol');
    const got: ZIMEventOfReceiveConversationMessageResult = await back.events.next('groupMessageReceived', (d) =>
      d.messageList.some((m: ZIMMessage) => m.messageID === sent!.message.messageID),
    );
    expect(got.fromConversationID).toBe(toGroupID);
    expect(got.info.isOfflineMessage).toBe(true);
    expect(got.messageList.find((m) => m.messageID === sent!.message.messageID)).toMatchObject({
      type: 1,
      message: '文本消息内容',
      senderUserID: 'alice',
      conversationType: 2,
    });
    await back.zim.logout();
    await back.sdk.ZPNs.getInstance().unregisterPush();
  });
});

describe('scenario 3: a call invitation with a push config to a user whose app was killed', () => {
  // The ring is what the vendor offers for a call: on Xiaomi a
  // notification on the IM channel; on iOS, as the seed's registerPush
  // asks for VoIP (enableIOSVoIP), a PushKit push, which iOS hands the app
  // (for CallKit) outside the ZPNs callbacks.
  test.each([
    { vendor: 'xiaomi' as const, user: 'dave', ring: 'notificationDisplayed' },
    { vendor: 'apns' as const, user: 'gina', ring: 'voipPushReceived' },
  ])('$vendor: the ring push reaches the phone ($ring); at login before the timeout callInvitationReceived fires', async ({ vendor, user, ring: ringEvent }) => {
    const phone = await newPhone(vendor);
    const invitee = await launch(phone, user);
    await kill(invitee, phone);

    // --- the seed, scenario 3, steps 1-3
    const pushConfig: ZIMPushConfig = {
        title: "离线推送标题",
        content: "离线推送内容",
        // extendedData = "自定义透传字段,非必填"; // ZIM 版本 < 2.5.0 时使用该字段
        // payload = "自定义透传字段,非必填";  // ZIM 版本 >= 2.5.0 时使用该字段
        resourcesID: "im",
    }

    const callInviteConfig: ZIMCallInviteConfig = {
        mode: 0,
        timeout: 90,
        extendedData: '',
        pushConfig: pushConfig
    }

    let invited: ZIMCallInvitationSentResult | undefined;
    let failed: ZIMError | undefined;
    const invitees = [user];  // 被邀请人ID列表
    await zim.callInvite(invitees, callInviteConfig)
        .then((res: ZIMCallInvitationSentResult) => {
            const callID = res.callID;
            // 操作成功
            // 此处的 callID 是用户发起呼叫后，SDK 内部生成的 ID，用于唯一标识一次呼叫邀请；之后发起人取消呼叫、被邀请人接受/拒绝呼叫，都会使用此 callID
            expect(callID).not.toBe('');
            invited = res;
        })
        .catch((err: ZIMError) => {
            // 操作失败
            failed = err;
        })
    // ---
    expect(failed).toBeUndefined();
    expect(invited?.errorInvitees).toEqual([]);
    const callID = invited!.callID;

    const ring = await phone.waitForEvent((e) => e.event === ringEvent && e.callID === callID);
    expect(ring).toMatchObject({ vendor, title: '离线推送标题', content: '离线推送内容' });

    // --- step 4: the invitee logs in before the timeout: callInvitationReceived.
    await phone.setState('foreground');
    const back = await launch(phone, user);
    const inv: ZIMEventOfCallInvitationReceivedResult = await back.events.next(
      'callInvitationReceived',
      (d) => d.callID === callID,
    );
    expect(inv).toMatchObject({ callID, inviter: 'alice', mode: 0, extendedData: '' });
    expect(inv.timeout).toBeGreaterThan(0);
    expect(inv.timeout).toBeLessThanOrEqual(90);

    await zim.callCancel([], callID);
    await back.events.next('callInvitationCancelled', (d) => d.callID === callID);
    await back.zim.logout();
    await back.sdk.ZPNs.getInstance().unregisterPush();
  });
});
