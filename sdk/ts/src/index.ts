export { ZIM } from './zim/zim.js';
export type { ZIMEventHandler, ZIMEventName } from './zim/events.js';
export * from './zim/types.js';
export * from './zim/groupTypes.js';
export * from './zim/callTypes.js';
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
export * from './zpns/emulatedPhone.js';
export * from './zpns/adapters/firebase.js';
export * from './zpns/adapters/voip.js';
export { ZIMError, ZIMClientErrorCode, zimClientErrorCodes } from './errors.js';
export type { PushRegistration } from './internal/pushlink.js';
export { setWebSocketImplementation } from './transport.js';
export type { WebSocketLike, WebSocketConstructor } from './transport.js';
