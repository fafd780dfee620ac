// Connection, message and conversation types (the seed's ZIM names; the
// numbering of every enum is the server's and sdk/go/types.go's).
import type { ZIM } from './zim.js';

/** The state of the connection (connectionStateChanged). */
export enum ZIMConnectionState {
  /** Not logged in: before login, after logout, a kick, an expired token or a failed login. */
  Disconnected = 0,
  /** login is in progress. */
  Connecting = 1,
  /** Logged in; messages flow. */
  Connected = 2,
  /** The connection was lost; the SDK reconnects by itself. */
  Reconnecting = 3,
}

/** Why the connection state changed. */
export enum ZIMConnectionEvent {
  /** A login succeeded, or logout completed. */
  Success = 0,
  /** The app called login. */
  ActiveLogin = 1,
  /** A login did not complete in time. */
  LoginTimeout = 2,
  /**
   * The connection was lost (state Reconnecting; extendedData.closeCode) or
   * a login was refused (state Disconnected; extendedData.code and .message).
   */
  LoginInterrupted = 3,
  /** Another login of the same user took this session's place (extendedData.reason, .message). */
  KickedOut = 4,
  /** The token expired: log in again with a fresh one (or renew it on tokenWillExpire). */
  TokenExpired = 5,
}

/** Conversation types. */
export enum ZIMConversationType {
  Peer = 0,
  Group = 2,
}

/** Message types the server carries. */
export enum ZIMMessageType {
  Text = 1,
  /** Delivered only to sessions live at that moment: never stored, synced or pushed; no conversationSeq. */
  Command = 2,
  Custom = 200,
  /** A revoked message (ZIMRevokeMessage): its body is gone, it keeps its place. */
  Revoke = 31,
}

export enum ZIMMessagePriority {
  Low = 1,
  Medium = 2,
  High = 3,
}

export enum ZIMMessageDirection {
  Send = 0,
  Receive = 1,
}

export enum ZIMMessageSentStatus {
  Sending = 0,
  Success = 1,
  Failed = 2,
}

/** The state reported by conversationSyncStateChanged. */
export enum ZIMConversationSyncState {
  /** A login (or reconnect login) succeeded; the server is sending what this device missed. */
  Started = 0,
  /** Everything this device missed was delivered. */
  Finished = 1,
}

/**
 * The fields every message has once the server stored it. On a message to
 * send, only the body (type and message; subType and searchedContent for
 * custom messages) and optionally extendedData and localMessageID matter.
 */
export interface ZIMMessageBase {
  messageID?: string;
  /** The sender's ID of the message; the SDK generates one per send. */
  localMessageID?: string;
  senderUserID?: string;
  /** The conversation seen from this user: for a peer conversation, the other user's ID. */
  conversationID?: string;
  conversationType?: ZIMConversationType;
  /** 1, 2, ... per conversation without gaps; 0 for command messages. */
  conversationSeq?: number;
  /** Orders messages; the conversationSeq. */
  orderKey?: number;
  /** Unix milliseconds of the server's commit. */
  timestamp?: number;
  direction?: ZIMMessageDirection;
  sentStatus?: ZIMMessageSentStatus;
  priority?: ZIMMessagePriority;
  /** Opaque app data carried with the message (at most 1 KiB). */
  extendedData?: string;
  /**
   * True on a message the app's server sent as the system (senderUserID
   * "@system"; to a user, in the peer conversation "@system"); absent
   * otherwise.
   */
  isSystem?: boolean;
  /** The users this group message mentions (ZIM mentionedUserIDs; up to 50). Set before sendMessage. */
  mentionedUserIDs?: string[];
  /** The message mentions everyone (@all; ZIM isMentionAll). */
  isMentionAll?: boolean;
}

export interface ZIMTextMessage extends ZIMMessageBase {
  type: 1;
  message: string;
}

export interface ZIMCommandMessage extends ZIMMessageBase {
  type: 2;
  /** The bytes (a string is sent as its UTF-8 bytes); received as a Uint8Array. */
  message: Uint8Array | string;
}

export interface ZIMCustomMessage extends ZIMMessageBase {
  type: 200;
  /** The body, as a string (UTF-8 on the wire). */
  message: string;
  /** The app's own sub-type, 0 to 1048576. */
  subType: number;
  /** A short searchable summary, at most 64 bytes. */
  searchedContent?: string;
}

/** Who revoked a message (ZIMMessageRevokeStatus). */
export enum ZIMMessageRevokeStatus {
  Unknown = -1,
  SelfRevoke = 0,
  SystemRevoke = 1,
  ServiceAPIRevoke = 2,
  GroupAdminRevoke = 3,
  GroupOwnerRevoke = 4,
}

/** ZIMRevokeType: Herald's revokes are two-way (for everyone). */
export enum ZIMRevokeType {
  Unknown = -1,
  TwoWay = 0,
  OneWay = 1,
}

/** A revoked message, in the place of the message it was (docs/protocol.md, "Message revoke"). */
export interface ZIMRevokeMessage extends ZIMMessageBase {
  type: 31;
  /** Always '': the body is dropped (kept so that code reading message.message works on every message). */
  message: string;
  revokeType: ZIMRevokeType;
  revokeStatus: ZIMMessageRevokeStatus;
  /** Unix milliseconds of the revoke. */
  revokeTimestamp: number;
  /** The user who revoked ('' for the app's server without one). */
  operatedUserID: string;
  revokeExtendedData: string;
  originalMessageType: ZIMMessageType;
}

export type ZIMMessage = ZIMTextMessage | ZIMCommandMessage | ZIMCustomMessage | ZIMRevokeMessage;

/** The offline push of a message, for recipients without a live session. */
export interface ZIMPushConfig {
  title?: string;
  content?: string;
  /** Opaque string handed to the receiving app (at most 2 KiB). */
  payload?: string;
  /** Names the server's per-vendor delivery options (channel, sound, ...). */
  resourcesID?: string;
  /**
   * Sets the app icon's badge: the recipient's unread messages across its
   * conversations not in do-not-disturb, without this message, plus
   * badgeIncrement (0-99; usually 1).
   */
  enableBadge?: boolean;
  badgeIncrement?: number;
}

export interface ZIMMessageSendConfig {
  /** 1 low, 2 medium (default, also for 0), 3 high. */
  priority?: ZIMMessagePriority | number;
  /** When set, recipients without a live session get a push. */
  pushConfig?: ZIMPushConfig;
}

/** Optional fifth argument of sendMessage. */
export interface ZIMMessageSendNotification {
  /** Called with the message (and its localMessageID) before it is sent. */
  onMessageAttached?: (message: ZIMMessage) => void;
}

export interface ZIMMessageSentResult {
  message: ZIMMessage;
}

export interface ZIMMessageReceivedInfo {
  /** True for messages delivered by the sync after a login (sent while this device was away). */
  isOfflineMessage: boolean;
}

export interface ZIMEventOfReceiveConversationMessageResult {
  /** Messages of one conversation, in conversation order, each once. */
  messageList: ZIMMessage[];
  info: ZIMMessageReceivedInfo;
  /** The conversation: the other user (peer) or the group's ID. */
  fromConversationID: string;
}

export interface ZIMEventOfConnectionStateChangedResult {
  state: ZIMConnectionState;
  event: ZIMConnectionEvent;
  /**
   * Details: closeCode (and reason) when the connection closed — 4002 with
   * reason 'heartbeat timeout' also when the SDK itself heard nothing
   * within the server's offlineAfter; code and message when a login was
   * refused or failed (SDK codes included); the kick's reason (1 same
   * platform, 2 single login) and message.
   */
  extendedData: Record<string, unknown>;
}

export interface ZIMEventOfTokenWillExpireResult {
  /** Seconds left before the token expires. */
  second: number;
}

export interface ZIMEventOfConversationSyncStateChangedResult {
  state: ZIMConversationSyncState;
  /** Finished: how many messages the sync delivered (duplicates of ones already raised included). */
  count?: number;
}

export interface ZIMLoginConfig {
  /** The login token minted by the app's backend. */
  token: string;
  /** Accepted for compatibility; Herald keeps no user names. */
  userName?: string;
  /** Accepted for compatibility; ignored. */
  isOfflineLogin?: boolean;
}

/** The legacy first argument of login({userID, userName}, token). */
export interface ZIMUserInfo {
  userID: string;
  userName?: string;
}

export interface ZIMTokenRenewedResult {
  token: string;
}

export interface ZIMMessageQueryConfig {
  /** Page size; 0 or absent: 20, at most 100. */
  count?: number;
  /**
   * The anchor: the previous page's messageList[0] (its oldest) to page back;
   * with reverse, the previous page's last message (its newest) to page forward.
   */
  nextMessage?: ZIMMessage | null;
  /** false (default): from the newest back; true: from the oldest forward. */
  reverse?: boolean;
}

export interface ZIMMessageQueriedResult {
  conversationID: string;
  conversationType: ZIMConversationType;
  /** Oldest first (ascending conversationSeq). */
  messageList: ZIMMessage[];
}

export interface ZIMConversation {
  conversationID: string;
  /** The conversation type (the real ZIM's name). */
  type: ZIMConversationType;
  /** The same as type. */
  conversationType: ZIMConversationType;
  /** Messages not marked read (a user's own messages never count). */
  unreadMessageCount: number;
  lastMessage?: ZIMMessage;
  /** Orders the list, most recently active first; what nextConversation pages by. */
  orderKey: number;
  /** This user's ZIMConversationNotificationStatus of the conversation (1 notify, 2 doNotDisturb, 3 mentionsOnly). */
  notificationStatus: number;
}

export interface ZIMConversationQueryConfig {
  /** Page size; 0 or absent: 20, at most 100. */
  count?: number;
  /** The previous page's last conversation, for the next page. */
  nextConversation?: ZIMConversation | null;
}

export interface ZIMConversationListQueriedResult {
  conversationList: ZIMConversation[];
}

export interface ZIMConversationUnreadMessageCountClearedResult {
  conversationID: string;
  conversationType: ZIMConversationType;
}

/** What the SDK logs through; console fits. */
export interface ZIMLogger {
  debug(message: string, ...args: unknown[]): void;
  info(message: string, ...args: unknown[]): void;
  warn(message: string, ...args: unknown[]): void;
  error(message: string, ...args: unknown[]): void;
}

/** The platforms the server knows (login.platform). */
export type ZIMPlatform = 'ios' | 'android' | 'web' | 'windows' | 'macos' | 'linux' | 'ipados' | 'harmonyos' | 'server';

export interface ZIMAppConfig {
  /** The app's ID (`herald app create`, or the dev app of `herald serve`); a number is taken as its decimal string. */
  appID: string | number;
  /** The server's base URL, ws:// or wss:// (http(s):// is accepted too); the SDK dials `${server}/v1/ws`. */
  server: string;
  /**
   * Identifies this installation and must stay the same across app
   * restarts: the server keeps delivery positions per user and device.
   * Default: a random ID kept in memory only — an app should generate one
   * once and keep it (e.g. in AsyncStorage or localStorage) and pass it here.
   * 1–128 characters of A-Z a-z 0-9 _ - . @ + =.
   */
  deviceID?: string;
  /**
   * The platform logged in from (the server's kick policy is per platform).
   * Default: on React Native 'ios' or 'android' — pass Platform.OS from
   * 'react-native' here; without it the SDK guesses from the push vendor
   * ('apns': ios) else 'android'. In a browser 'web'; on Node
   * 'linux', 'macos' or 'windows'.
   */
  platform?: ZIMPlatform | string;
  /** Diagnostics. Default: errors (e.g. a throwing event handler) go to console.error; nothing else is logged. */
  logger?: ZIMLogger;
  /** Milliseconds a request waits for its reply, reconnects included. Default 10000. */
  requestTimeout?: number;
  /** Milliseconds a login (dial and login reply) may take. Default 10000. */
  loginTimeout?: number;
}

export interface ConnectionEventHandler {
  connectionStateChanged: (zim: ZIM, data: ZIMEventOfConnectionStateChangedResult) => void;
  tokenWillExpire: (zim: ZIM, data: ZIMEventOfTokenWillExpireResult) => void;
  conversationSyncStateChanged: (zim: ZIM, data: ZIMEventOfConversationSyncStateChangedResult) => void;
}

export interface MessageEventHandler {
  peerMessageReceived: (zim: ZIM, data: ZIMEventOfReceiveConversationMessageResult) => void;
  groupMessageReceived: (zim: ZIM, data: ZIMEventOfReceiveConversationMessageResult) => void;
}
