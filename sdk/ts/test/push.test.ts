// ZPNs with the ZIM client against a real `herald serve --emulate` and its
// emulated phones, one vendor at a time: registerPush, login binds the
// device, the app is dropped (destroy: the connection closes without
// logout) in each app state, another user sends with a push config, and
// the phone raises the callbacks of the seed's table for that vendor and
// state (decided by the Go side; this file only states what the seed
// says), a tap raises notificationClicked, and the next login gets the
// messages.
import { afterAll, beforeAll, expect, test } from 'vitest';
import {
  EmulatedPhone,
  ZPNs,
  ZPNsIOSEnvironment,
  ZPNsPushSourceType,
  type PhoneAppState,
  type PushVendor,
  type ZIMMessage,
} from '../src/node.js';
import { startServer, type HeraldServer } from './harness.js';
import { allVendors, destroyAll, jobs, login, send, settled, uniq, ZPNsRecorder } from './push-helpers.js';

let srv: HeraldServer;
beforeAll(async () => {
  srv = await startServer();
});
afterAll(async () => {
  await srv?.dispose();
});

const zpns = ZPNs.getInstance();
const rec = new ZPNsRecorder(zpns);

type Callback = 'notificationArrived' | 'throughMessageReceived';
const arrived: Callback[] = ['notificationArrived'];
const through: Callback[] = ['throughMessageReceived'];

// The seed's table (各移动设备厂商对 ZPNsEventHandler 类的回调支持情况) for a
// notification push: notificationArrived for Apple always and Xiaomi in
// the foreground or background; throughMessageReceived for Google in the
// foreground or background (Huawei raises it for pass-through messages
// only, which a message's push is not); nothing else.
const table: Record<PushVendor, Record<PhoneAppState, Callback[]>> = {
  apns: { foreground: arrived, background: arrived, killed: arrived },
  fcm: { foreground: through, background: through, killed: [] },
  huawei: { foreground: [], background: [], killed: [] },
  xiaomi: { foreground: arrived, background: arrived, killed: [] },
  oppo: { foreground: [], background: [], killed: [] },
  vivo: { foreground: [], background: [], killed: [] },
  // HarmonyOS NEXT (not in the seed): Push Kit shows notifications and
  // raises no arrival callback; background messages are not a message's push.
  harmony: { foreground: [], background: [], killed: [] },
  // Honor is not in the seed's table: no notificationArrived, and a
  // notification push is no pass-through message.
  honor: { foreground: [], background: [], killed: [] },
  // Not in the seed: a browser's service worker tells the open pages.
  webpush: { foreground: arrived, background: arrived, killed: [] },
};

const sourceType: Record<PushVendor, ZPNsPushSourceType> = {
  apns: ZPNsPushSourceType.APNs,
  fcm: ZPNsPushSourceType.FCM,
  huawei: ZPNsPushSourceType.HuaWei,
  xiaomi: ZPNsPushSourceType.XiaoMi,
  oppo: ZPNsPushSourceType.Oppo,
  vivo: ZPNsPushSourceType.Vivo,
  harmony: ZPNsPushSourceType.HarmonyOS,
  honor: ZPNsPushSourceType.Honor,
  webpush: ZPNsPushSourceType.WebPush,
};

const states: PhoneAppState[] = ['foreground', 'background', 'killed'];

for (const vendor of Object.keys(table) as PushVendor[]) {
  test(`${vendor}: bound at login; per app state the seed's callbacks; a tap; the messages at the next login`, async () => {
    const user = uniq(`bob-${vendor}`);
    const phone = await EmulatedPhone.create(srv.manifest.phones.url, {
      vendor,
      // Huawei's permission for pass-through messages: a notification push
      // still raises no throughMessageReceived.
      permissions: vendor === 'huawei' ? ['huawei-high-priority-pass-through'] : [],
    });
    try {
      ZPNs.setPushConfig(allVendors);
      ZPNs.enableDebug(false);
      ZPNs.setPushTokenSource(phone);
      const from = rec.mark();
      await zpns.registerPush({ enableIOSVoIP: false, iOSEnvironment: ZPNsIOSEnvironment.Automatic });
      expect(rec.registered().slice(from)).toEqual([]); // not bound before a login

      const receiver = await login(srv, user);
      const reg = await rec.nextRegistered(from);
      expect(reg).toEqual({
        pushID: expect.stringMatching(/^P/),
        errorCode: 0,
        errorMessage: '',
        pushSourceType: sourceType[vendor],
        commandResult: phone.token,
      });
      // The sender logs in while the receiver's ZIM is the primary
      // instance (the one whose logins carry the device), then the app is
      // gone: destroy closes its connection without logout.
      const sender = await login(srv, uniq('alice'));
      receiver.destroy();
      await settled(srv, 1);
      try {
        const shown = new Map<PhoneAppState, number>();
        for (const state of states) {
          await phone.setState(state);
          const payload = `${vendor}-${state}`;
          const first = await send(sender, user, payload);
          // Every push yields at least one phone event (the system shows
          // it, or a callback). Once the phone reported the first, a
          // second push is sent: the phone handles its pushes in the order
          // the vendor delivered them, so when it reported the second,
          // every callback of the first was raised.
          await phone.waitForEvent((e) => e.payload === payload);
          await send(sender, user, `${payload}-next`);
          await phone.waitForEvent((e) => e.payload === `${payload}-next`);
          const want = table[vendor][state].map((event) => [
            event,
            { title: `T ${payload}`, content: `C ${payload}`, payload, extras: expect.objectContaining({ payload }), pushSourceType: sourceType[vendor] },
          ]);
          expect(rec.about(payload), `${vendor} ${state}: phone events ${JSON.stringify(phone.events)}; jobs ${JSON.stringify(await jobs(srv, first))}`).toEqual(want);
          const d = phone.events.find((e) => e.event === 'notificationDisplayed' && e.payload === payload);
          if (d) shown.set(state, d.seq);
        }

        // The user taps the notification the system showed in the background.
        const seq = shown.get('background');
        expect(seq, 'every vendor shows a notification to an app in the background').toBeDefined();
        await phone.click(seq!);
        const clicked = await rec.until('notificationClicked', (r) => r.event === 'notificationClicked');
        expect(clicked.data).toEqual({
          title: `T ${vendor}-background`,
          content: `C ${vendor}-background`,
          payload: `${vendor}-background`,
          extras: expect.objectContaining({ payload: `${vendor}-background` }),
          pushSourceType: sourceType[vendor],
        });
      } finally {
        sender.destroy();
      }

      // The app starts again and logs in: the messages it missed arrive;
      // the same device is bound again (no second registered).
      const marked = rec.mark();
      const got: ZIMMessage[] = [];
      const again = await login(srv, user, (z) => z.on('peerMessageReceived', (_z, data) => got.push(...data.messageList)));
      await expect.poll(() => got.length).toBe(2 * states.length);
      expect(got.map((m) => m.message)).toEqual(states.flatMap((s) => [`text ${vendor}-${s}`, `text ${vendor}-${s}-next`]));
      expect(rec.registered().slice(marked)).toEqual([]);
      await again.logout();
    } finally {
      destroyAll();
      await zpns.unregisterPush();
      rec.log.length = 0;
      await phone.dispose();
    }
  });
}
