// The link between the IM client (ZIM) and the push client (ZPNs). The
// seed's API makes both singletons (ZIM.getInstance, ZPNs.getInstance) and
// lets the app call registerPush before or after login, so each side
// registers its half here and the other finds it:
//
//   - ZPNs.registerPush gets the vendor token from its PushTokenSource and
//     calls setPushSide. ZIM sends the registration in every login (and
//     reconnect login) from then on and reports the server's answer with
//     PushSide.bound; when ZIM is logged in already, ZPNs calls
//     ZIMSide.registerPush, which sends the `registerPush` request.
//   - ZIM.logout unbinds the device on the server (the server does it when
//     it gets `logout`) and calls PushSide.unbound.
//   - ZPNs.unregisterPush calls ZIMSide.unregisterPush when logged in, and
//     clears the registration so that later logins carry none.
import type { ZIMError } from '../errors.js';

/** A device's push channel as the server's `login.push` takes it. */
export interface PushRegistration {
  vendor: 'apns' | 'fcm' | 'huawei' | 'xiaomi' | 'oppo' | 'vivo' | 'harmony' | 'honor' | 'webpush';
  token: string;
  voipToken?: string;
  environment: 'development' | 'production';
  bundleID: string;
  disabled?: boolean;
  foreground?: { alert: boolean; sound: boolean; badge: boolean };
}

/** What ZPNs offers ZIM. */
export interface PushSide {
  /** The registration to send with the next login; undefined for none. */
  registration(): PushRegistration | undefined;
  /** The server bound the device (login or registerPush reply), or refused it. */
  bound(result: { pushID: string } | { error: ZIMError }): void;
  /** The device was unbound (logout). */
  unbound(): void;
}

/** What ZIM offers ZPNs. */
export interface ZIMSide {
  /** True while a user is logged in (connected or reconnecting). */
  loggedIn(): boolean;
  /** Sends `registerPush`; resolves with the PushID. Logged in only. */
  registerPush(reg: PushRegistration): Promise<string>;
  /** Sends `unregisterPush`. Logged in only. */
  unregisterPush(pushID: string): Promise<void>;
  /** Sends `pushReceipt`; resolves with duplicate. Logged in only. */
  reportPushReceipt(kind: 'notificationArrived' | 'notificationClicked', pushJobID: string): Promise<boolean>;
}

let pushSide: PushSide | undefined;
let zimSide: ZIMSide | undefined;

export function setPushSide(p: PushSide | undefined): void {
  pushSide = p;
}
export function getPushSide(): PushSide | undefined {
  return pushSide;
}
export function setZIMSide(z: ZIMSide | undefined): void {
  zimSide = z;
}
export function getZIMSide(): ZIMSide | undefined {
  return zimSide;
}
