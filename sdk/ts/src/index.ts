export { ZIM } from './zim/zim.js';
export type { ZIMEventHandler, ZIMEventName } from './zim/events.js';
export * from './zim/types.js';
export * from './zim/groupTypes.js';
export * from './zim/callTypes.js';
export type { ZIMMessageRevokeConfig, ZIMMessageRevokedResult, ZIMEventOfMessageRevokeReceivedResult } from './zim/revoke.js';
export * from './zim/conversationTypes.js';
export { ZIMPlatformType } from './zim/pushRules.js';
export type {
  ZIMUserOfflinePushRule,
  ZIMUserRule,
  ZIMUserOfflinePushRuleUpdatedResult,
  ZIMSelfUserInfo,
  ZIMSelfUserInfoQueriedResult,
  ZIMEventOfUserRuleUpdatedResult,
} from './zim/pushRules.js';
export { ZPNs } from './zpns/zpns.js';
export * from './zpns/types.js';
export * from './zpns/source.js';
export { pushJobIDKey, ZPNsReceiptErrorCode, type ZPNsReceiptConfig, type ZPNsReceiptKind, type ZPNsReceiptResult } from './zpns/receipts.js';
export * from './zpns/emulatedPhone.js';
export * from './zpns/adapters/firebase.js';
export * from './zpns/adapters/voip.js';
export * from './zpns/webpush.js';
export { installHeraldServiceWorker } from './zpns/serviceWorker.js';
export type { WebPushMessage, WorkerScopeLike, WorkerClientLike } from './zpns/serviceWorker.js';
export { ZIMError, ZIMClientErrorCode, zimClientErrorCodes } from './errors.js';
export type { PushRegistration } from './internal/pushlink.js';
export { setWebSocketImplementation } from './transport.js';
export type { WebSocketLike, WebSocketConstructor } from './transport.js';
