// The wire shapes of docs/protocol.md that the core uses, and their
// conversion to and from the ZIM types.
import { ZIMError, ZIMClientErrorCode } from '../errors.js';
import { base64Decode, base64Encode, utf8Decode, utf8Encode } from './codec.js';
import {
  ZIMMessageDirection,
  ZIMMessageSentStatus,
  type ZIMConversation,
  type ZIMConversationType,
  type ZIMMessage,
  type ZIMMessageRevokeStatus,
  type ZIMMessageType,
  type ZIMPushConfig,
  type ZIMRevokeType,
} from './types.js';

export interface Frame {
  type: string;
  id?: string;
  data?: unknown;
  error?: { code: number; message: string; retryAfterMs?: number };
}

/** A message as the server delivers it. */
export interface WireMessage {
  messageID: string;
  localMessageID?: string;
  conversationID: string;
  conversationType: number;
  conversationSeq?: number;
  senderUserID: string;
  type: number;
  text?: string;
  data?: string;
  subType?: number;
  searchedContent?: string;
  extendedData?: string;
  priority?: number;
  timestamp: number;
  offline?: boolean;
  /** Sent by the app's server as the system (senderUserID "@system"). */
  system?: boolean;
  /** The revoke fields of a revoked message (type 31). */
  revokeType?: number;
  revokeStatus?: number;
  revokeTimestamp?: number;
  operatedUserID?: string;
  revokeExtendedData?: string;
  originalMessageType?: number;
  mentionedUserIDs?: string[];
  isMentionAll?: boolean;
}

export interface WireSendRequest {
  conversationID: string;
  conversationType: number;
  localMessageID: string;
  type: number;
  text?: string;
  data?: string;
  subType?: number;
  searchedContent?: string;
  extendedData?: string;
  priority?: number;
  pushConfig?: ZIMPushConfig;
  mentionedUserIDs?: string[];
  isMentionAll?: boolean;
}

export interface WireSendReply {
  messageID: string;
  conversationSeq?: number;
  timestamp: number;
  duplicate?: boolean;
}

export interface WireConversation {
  conversationID: string;
  conversationType: number;
  unreadMessageCount: number;
  lastMessage?: WireMessage;
  /** A 64-bit integer as a decimal string (docs/protocol.md, conversationList). */
  orderKey: string;
  notificationStatus?: number;
}

// Conversations' order keys are 64-bit integers, beyond what a JavaScript
// number holds exactly (2^53): paging with a rounded key could repeat or
// skip a conversation. The server sends them as decimal strings; the exact
// key of each ZIMConversation the SDK returned is kept here and sent back
// as `before`.
const orderKeys = new WeakMap<object, string>();

/** encodeFrame writes a frame. */
export function encodeFrame(f: Frame): string {
  return JSON.stringify(f);
}

/** decodeFrame reads a frame. */
export function decodeFrame(raw: string): Frame {
  return JSON.parse(raw) as Frame;
}

/** orderKeyOf returns the exact order key of a conversation (one the SDK returned, or a copy) for `before`. */
export function orderKeyOf(c: { orderKey?: number | string } | null | undefined): string {
  if (!c) return '0';
  const exact = orderKeys.get(c);
  if (exact) return exact;
  const k = c.orderKey;
  if (typeof k === 'string' && /^\d+$/.test(k)) return k;
  if (typeof k === 'number' && Number.isFinite(k) && k > 0) return BigInt(Math.trunc(k)).toString();
  return '0';
}

export interface WireLoginReply {
  sessionID: string;
  userID: string;
  serverTime: number;
  heartbeatInterval: number;
  offlineAfter: number;
  tokenExpiresAt: number;
  pushID?: string;
  webPushKey?: string;
}

/**
 * pushConfigToWire keeps the fields of the wire's push config
 * (docs/protocol.md, `send`) that are set, for messages and calls alike:
 * extendedData is the payload's name before ZIM 2.5.
 */
export function pushConfigToWire(pc: (ZIMPushConfig & { extendedData?: string }) | undefined): ZIMPushConfig | undefined {
  if (!pc) return undefined;
  const out: ZIMPushConfig = {};
  if (pc.title !== undefined) out.title = pc.title;
  if (pc.content !== undefined) out.content = pc.content;
  const payload = pc.payload ?? pc.extendedData;
  if (payload !== undefined) out.payload = payload;
  if (pc.resourcesID !== undefined) out.resourcesID = pc.resourcesID;
  if (pc.enableBadge !== undefined) out.enableBadge = pc.enableBadge;
  if (pc.badgeIncrement !== undefined) out.badgeIncrement = pc.badgeIncrement;
  return out;
}

/** messageFromWire converts a delivered or queried message, seen by user me. */
export function messageFromWire(w: WireMessage, me: string): ZIMMessage {
  const base = {
    messageID: w.messageID,
    localMessageID: w.localMessageID ?? '',
    senderUserID: w.senderUserID,
    conversationID: w.conversationID,
    conversationType: w.conversationType as ZIMConversationType,
    conversationSeq: w.conversationSeq ?? 0,
    orderKey: w.conversationSeq ?? 0,
    timestamp: w.timestamp,
    direction: w.senderUserID === me ? ZIMMessageDirection.Send : ZIMMessageDirection.Receive,
    sentStatus: ZIMMessageSentStatus.Success,
    priority: w.priority,
    extendedData: w.extendedData ?? '',
    ...(w.system ? { isSystem: true } : {}),
    ...(w.mentionedUserIDs?.length ? { mentionedUserIDs: w.mentionedUserIDs } : {}),
    ...(w.isMentionAll ? { isMentionAll: true } : {}),
  };
  switch (w.type) {
    case 2:
      return { ...base, type: 2, message: base64Decode(w.data ?? '') };
    case 31:
      return {
        ...base,
        type: 31,
        message: '',
        revokeType: (w.revokeType ?? 0) as ZIMRevokeType,
        revokeStatus: (w.revokeStatus ?? -1) as ZIMMessageRevokeStatus,
        revokeTimestamp: w.revokeTimestamp ?? 0,
        operatedUserID: w.operatedUserID ?? '',
        revokeExtendedData: w.revokeExtendedData ?? '',
        originalMessageType: (w.originalMessageType ?? 0) as ZIMMessageType,
      };
    case 200:
      return {
        ...base,
        type: 200,
        message: utf8Decode(base64Decode(w.data ?? '')),
        subType: w.subType ?? 0,
        searchedContent: w.searchedContent ?? '',
      };
    default:
      // Text, and any type a newer server may add (shown as its text).
      return { ...base, type: w.type as 1, message: w.text ?? '' };
  }
}

/** conversationFromWire converts an entry of the conversation list. */
export function conversationFromWire(c: WireConversation, me: string): ZIMConversation {
  const out: ZIMConversation = {
    conversationID: c.conversationID,
    type: c.conversationType as ZIMConversationType,
    conversationType: c.conversationType as ZIMConversationType,
    unreadMessageCount: c.unreadMessageCount,
    orderKey: Number(c.orderKey),
    notificationStatus: c.notificationStatus ?? 1,
  };
  if (c.lastMessage) out.lastMessage = messageFromWire(c.lastMessage, me);
  orderKeys.set(out, String(c.orderKey));
  return out;
}

/**
 * sendBody puts a message's body on the wire: text for text messages, data
 * (base64) for command and custom ones. Everything the server checks (type,
 * sizes, emptiness) is left to it.
 */
export function sendBody(m: ZIMMessage): Pick<WireSendRequest, 'type' | 'text' | 'data' | 'subType' | 'searchedContent'> {
  if (m === null || typeof m !== 'object') {
    throw new ZIMError(ZIMClientErrorCode.InvalidArgument, 'message must be a ZIMMessage object');
  }
  const type = m.type;
  const body = (m as { message?: unknown }).message;
  if (type === 2 || type === 200) {
    let bytes: Uint8Array;
    if (body instanceof Uint8Array) bytes = body;
    else if (typeof body === 'string') bytes = utf8Encode(body);
    else if (body === undefined || body === null) bytes = new Uint8Array(0);
    else throw new ZIMError(ZIMClientErrorCode.InvalidArgument, 'message.message must be a string or a Uint8Array');
    const out: Pick<WireSendRequest, 'type' | 'data' | 'subType' | 'searchedContent'> = { type, data: base64Encode(bytes) };
    if (type === 200) {
      const c = m as { subType?: number; searchedContent?: string };
      if (c.subType !== undefined) out.subType = c.subType;
      if (c.searchedContent) out.searchedContent = c.searchedContent;
    }
    return out;
  }
  if (body !== undefined && body !== null && typeof body !== 'string') {
    throw new ZIMError(ZIMClientErrorCode.InvalidArgument, 'a text message\'s message must be a string');
  }
  return { type, text: (body as string | undefined) ?? '' };
}
