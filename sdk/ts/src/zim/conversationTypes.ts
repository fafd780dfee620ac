// Conversation notification status (ZIM setConversationNotificationStatus,
// conversationChanged); docs/protocol.md, "Conversation notification
// status, mentions and badge".
import type { ZIM } from './zim.js';
import type { ZIMConversation, ZIMConversationType } from './types.js';

/** A user's notification setting of one conversation (ZIMConversationNotificationStatus). */
export enum ZIMConversationNotificationStatus {
  /** Every message with a push config is pushed (a conversation never set). */
  Notify = 1,
  /** Only messages mentioning this user or @all are pushed; unread still counts, but not in the badge. */
  DoNotDisturb = 2,
  /** Herald's, groups only: only messages mentioning this user or @all are pushed. */
  MentionsOnly = 3,
}

/** How a conversation changed (ZIMConversationEvent). */
export enum ZIMConversationEvent {
  Added = 0,
  Updated = 1,
}

export interface ZIMConversationNotificationStatusSetResult {
  conversationID: string;
  conversationType: ZIMConversationType;
}

export interface ZIMConversationChangeInfo {
  event: ZIMConversationEvent;
  conversation: ZIMConversation;
}

export interface ZIMEventOfConversationChangedResult {
  infoList: ZIMConversationChangeInfo[];
}

export interface ConversationEventHandler {
  /** Conversations of this user changed, e.g. a notification status set on another device (or this one). */
  conversationChanged: (zim: ZIM, data: ZIMEventOfConversationChangedResult) => void;
}
