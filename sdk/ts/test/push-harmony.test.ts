// HarmonyOS NEXT devices with ZPNs against a real `herald serve --emulate`:
// an emulated HarmonyOS phone is a harmonyos token source of the harmony
// vendor, registers without a setPushConfig switch (one channel per
// device), binds at login with its push source type, and a token source
// that mixes platforms is refused (the full per-state flow is push.test.ts).
import { afterAll, afterEach, beforeAll, expect, test } from 'vitest';
import { EmulatedPhone, ZIMError, ZPNs, ZPNsErrorCode, ZPNsPushSourceType, type PushTokenSource } from '../src/node.js';
import { startServer, type HeraldServer } from './harness.js';
import { destroyAll, login, send, settled, uniq, ZPNsRecorder } from './push-helpers.js';

let srv: HeraldServer;
beforeAll(async () => {
  srv = await startServer();
});
afterAll(async () => {
  await srv?.dispose();
});

const zpns = ZPNs.getInstance();
const rec = new ZPNsRecorder(zpns);

afterEach(async () => {
  destroyAll();
  await zpns.unregisterPush();
  ZPNs.setPushTokenSource(undefined);
  ZPNs.setPushConfig({});
  rec.log.length = 0;
  await settled(srv, 0);
});

test('a HarmonyOS phone registers with no vendor switch, binds at login and shows an offline push', async () => {
  const phone = await EmulatedPhone.create(srv.manifest.phones.url, { vendor: 'harmony' });
  try {
    expect(phone).toMatchObject({ vendor: 'harmony', platform: 'harmonyos', environment: 'production' });
    expect(phone.vendors).toEqual(['harmony']);
    expect(phone.apnsEnvironment()).toBeUndefined();
    ZPNs.setPushConfig({}); // no Android switch applies to HarmonyOS
    ZPNs.setPushTokenSource(phone);
    await zpns.registerPush();
    const user = uniq('bob-harmony');
    const receiver = await login(srv, user);
    expect(await rec.nextRegistered(0)).toEqual({
      pushID: expect.stringMatching(/^P/),
      errorCode: 0,
      errorMessage: '',
      pushSourceType: ZPNsPushSourceType.HarmonyOS,
      commandResult: phone.token,
    });
    const sender = await login(srv, uniq('alice'));
    receiver.destroy();
    await settled(srv, 1);
    await send(sender, user, 'harmony-offline');
    const shown = await phone.waitForEvent((e) => e.event === 'notificationDisplayed' && e.payload === 'harmony-offline');
    expect(shown).toMatchObject({ vendor: 'harmony', kind: 'notification', title: 'T harmony-offline', content: 'C harmony-offline' });
    sender.destroy();
  } finally {
    await phone.dispose();
  }
});

test('a token source mixing HarmonyOS with another platform is refused and nothing changes', async () => {
  const phone = await EmulatedPhone.create(srv.manifest.phones.url, { vendor: 'harmony' });
  try {
    const mixed = [
      { platform: 'android', vendors: ['harmony'] },
      { platform: 'harmonyos', vendors: ['fcm'] },
      { platform: 'symbian', vendors: ['harmony'] },
    ];
    for (const m of mixed) {
      const src = { ...m, bundleID: phone.bundleID, getToken: phone.getToken.bind(phone) } as unknown as PushTokenSource;
      let thrown: unknown;
      try {
        ZPNs.setPushTokenSource(src);
      } catch (e) {
        thrown = e;
      }
      expect(thrown, JSON.stringify(m)).toBeInstanceOf(ZIMError);
      expect(thrown).toMatchObject({ code: ZPNsErrorCode.InvalidArgument });
    }
  } finally {
    await phone.dispose();
  }
});
