// The push client's public types, named and shaped as the real ZPNs React
// Native SDK's (the seed's ZPNsEventHandler, ZPNsMessage, ...).

/**
 * Which vendor channel a message or a registration came through. The
 * numbers are the native ZPNs SDK's (its Flutter and React Native bridges
 * carry them as these integers).
 */
export enum ZPNsPushSourceType {
  ZEGO = 0,
  Vivo = 1,
  XiaoMi = 2,
  HuaWei = 3,
  Oppo = 4,
  FCM = 5,
  /** Honor Push: Herald's number (the seed's SDK has no Honor channel). */
  Honor = 6,
  APNs = 10,
  /**
   * HarmonyOS NEXT Push Kit. Herald's number: the seed's SDK documents
   * none for HarmonyOS.
   */
  HarmonyOS = 11,
  /** Web Push (browsers): Herald's own, not in the seed. */
  WebPush = 12,
}

/**
 * The APNs environment of an iOS build: Development (a development
 * provisioning profile, APNs sandbox), Production (distribution), or
 * Automatic: ZPNs resolves it from the token source (see registerPush).
 * Numbered in the real SDK's declaration order.
 */
export enum ZPNsIOSEnvironment {
  Production = 0,
  Development = 1,
  Automatic = 2,
}

/** Which Android vendors the app integrated (ZPNs.setPushConfig). */
export interface ZPNsConfig {
  enableFCMPush?: boolean;
  enableHWPush?: boolean;
  enableMiPush?: boolean;
  enableOppoPush?: boolean;
  enableVivoPush?: boolean;
  /** Honor Push (Honor phones on Magic UI 6.0 and later). */
  enableHonorPush?: boolean;
}

/** How iOS presents an alert that arrives while the app is in the foreground. */
export interface ZPNsIOSNotificationArrivedConfig {
  isPresentAlert?: boolean;
  isPresentSound?: boolean;
  isPresentBadge?: boolean;
}

/** registerPush's options. */
export interface ZPNsRegisterConfig {
  /** Also register a PushKit (VoIP) token, for call invitations (iOS only; ignored on Android). */
  enableIOSVoIP?: boolean;
  /** The APNs environment; default Automatic. Ignored on Android. */
  iOSEnvironment?: ZPNsIOSEnvironment;
  /** Foreground presentation of alerts (iOS only); default: none shown. */
  iOSNotificationArrivedConfig?: ZPNsIOSNotificationArrivedConfig;
}

/** The `registered` event: the registration's outcome. */
export interface ZPNsRegisterMessage {
  /** The device's PushID from the server; '' when errorCode is not 0. */
  pushID: string;
  /** 0 on success; else the server's code (e.g. 40012, 40906) or a ZPNsErrorCode. */
  errorCode: number;
  /** Why it failed; '' on success. */
  errorMessage: string;
  /** The vendor channel registered. */
  pushSourceType: ZPNsPushSourceType;
  /** The vendor's answer to its register command: the device token the PushID was made from. */
  commandResult: string;
}

/** A notification or pass-through message the vendor handed the app. */
export interface ZPNsMessage {
  title: string;
  content: string;
  /** The sender's ZIMPushConfig.payload ('' when none). */
  payload: string;
  /**
   * The push's custom data as the vendor's SDK hands it (APNs: the
   * payload's top-level keys but aps; FCM and Huawei: the data; Xiaomi:
   * extra; OPPO: action_parameters; vivo: clientCustomMap). A call push
   * carries its call ID here.
   */
  extras: Record<string, string>;
  pushSourceType: ZPNsPushSourceType;
}

/** The ZPNs events: on(event, handler). */
export interface ZPNsEventHandler {
  registered: (message: ZPNsRegisterMessage) => void;
  notificationArrived: (message: ZPNsMessage) => void;
  throughMessageReceived: (message: ZPNsMessage) => void;
  notificationClicked: (message: ZPNsMessage) => void;
}

/** The name of a ZPNs event. */
export type ZPNsEventName = keyof ZPNsEventHandler;

/**
 * The push client's own error codes (the server's come from its catalogue,
 * docs/protocol.md). Thrown as ZIMError for bad calls, or carried by
 * `registered` for a registration that failed on the device.
 */
export enum ZPNsErrorCode {
  /** registerPush before ZPNs.setPushTokenSource (thrown; nothing changes). */
  NoTokenSource = 70001,
  /** A bad argument to a ZPNs call or a token source that breaks its contract (thrown; nothing changes). */
  InvalidArgument = 70002,
  /** setPushConfig switched off every vendor the device offers (registered; nothing registered). */
  NoVendorEnabled = 70003,
  /** The token source gave no vendor token (registered; nothing registered). */
  TokenUnavailable = 70004,
  /** enableIOSVoIP, and the token source gave no PushKit token (registered; nothing registered). */
  VoIPTokenUnavailable = 70005,
}
