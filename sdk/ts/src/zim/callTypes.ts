// Call invitation types and events, named and numbered as in the seed's SDK
// (ZIM for React Native). docs/protocol.md ("Calls") is the wire these map;
// times are Unix milliseconds, timeouts seconds, as in ZIM.
import type { ZIM } from './zim.js';
import type { ZIMErrorUserInfo } from './groupTypes.js';
import type { ZIMPushConfig } from './types.js';

/** A call's mode. */
export enum ZIMCallInvitationMode {
  /** One round of invitations: the call closes when nobody is left ringing. */
  General = 0,
  /**
   * A call that lives on: participants invite more users (callingInvite),
   * users join (callJoin) and quit (callQuit), and it lasts until callEnd or
   * the last participant quits.
   */
  Advanced = 1,
}

/** A user's state in a call, numbered as docs/protocol.md (and ZIM). */
export enum ZIMCallUserState {
  /** Invited, not reached yet (offline: a push may ring its devices). */
  Inviting = 0,
  /** In the call; the inviter starts here. */
  Accepted = 1,
  Rejected = 2,
  /** The inviter cancelled this invitation. */
  Cancelled = 3,
  /** Ringing on a live session. */
  Received = 5,
  /** Did not answer before the deadline. */
  Timeout = 6,
  /** Left an advanced-mode call. */
  Quit = 7,
  /** The advanced-mode call ended. */
  Ended = 8,
}

/** One user of a call and its state. */
export interface ZIMCallUserInfo {
  userID: string;
  state: ZIMCallUserState;
  /** What the user passed with its last answer. */
  extendedData: string;
  /** When the state last changed. */
  updateTime: number;
}

export interface ZIMCallInviteConfig {
  /** The call's mode; absent is General. */
  mode?: ZIMCallInvitationMode;
  /** Seconds the invitations ring, 1 to 600 (fractions round up); 0 or absent: 90. */
  timeout?: number;
  /** Opaque app data delivered with the invitation, at most 1 KiB. */
  extendedData?: string;
  /**
   * When set, invitees without a live session get a ring push (a VoIP push
   * on iOS when the device registered a VoIP token); it expires at the
   * deadline.
   */
  pushConfig?: ZIMPushConfig;
}

export interface ZIMCallInvitationSentResult {
  /** Identifies the call in every later request and event. */
  callID: string;
  /** Seconds the invitations ring. */
  timeout: number;
  /** When unanswered invitations time out (Herald's addition). */
  deadline: number;
  /** The invitees that could not be invited (40401 user_not_found: never logged in to the app). */
  errorUserList: ZIMErrorUserInfo[];
  /** The same list as errorUserList (ZIM's older name). */
  errorInvitees: ZIMErrorUserInfo[];
}

export interface ZIMCallingInviteConfig {
  /** As in ZIMCallInviteConfig: these invitations' own ringing time. */
  timeout?: number;
  pushConfig?: ZIMPushConfig;
}

export interface ZIMCallingInvitationSentResult {
  callID: string;
  timeout: number;
  deadline: number;
  /** Invitees not invited: unknown users, and users already ringing or in the call (40016 invalid_invitees). */
  errorUserList: ZIMErrorUserInfo[];
}

export interface ZIMCallAcceptConfig {
  extendedData?: string;
}
export interface ZIMCallRejectConfig {
  extendedData?: string;
}
export interface ZIMCallJoinConfig {
  extendedData?: string;
}
export interface ZIMCallQuitConfig {
  extendedData?: string;
}
export interface ZIMCallEndConfig {
  extendedData?: string;
}

export interface ZIMCallCancelConfig {
  /** Delivered with callInvitationCancelled. */
  extendedData?: string;
  /**
   * When set, the cancelled invitees without a live session get this push,
   * which replaces the ring in their tray.
   */
  pushConfig?: ZIMPushConfig;
}

export interface ZIMCallAcceptanceSentResult {
  callID: string;
}
export interface ZIMCallRejectionSentResult {
  callID: string;
}

export interface ZIMCallCancelSentResult {
  callID: string;
  /** The invitees named that could not be cancelled (answered, timed out, not invited). */
  errorInvitees: string[];
  /** The same users with the reason (docs/protocol.md error codes). */
  errorUserList: ZIMErrorUserInfo[];
}

export interface ZIMCallJoinSentResult {
  callID: string;
  createTime: number;
  /** When this user joined. */
  joinTime: number;
  /** The call's extendedData (from callInvite). */
  extendedData: string;
  callUserList: ZIMCallUserInfo[];
}

export interface ZIMCallQuitSentResult {
  callID: string;
}
export interface ZIMCallEndSentResult {
  callID: string;
}

/** A call as queryCallInfo returns it. */
export interface ZIMCallInfo {
  callID: string;
  /** The user who started the call. */
  caller: string;
  /** The same as caller (the wire's name). */
  inviter: string;
  mode: ZIMCallInvitationMode;
  extendedData: string;
  createTime: number;
  /** When the first round of invitations times out. */
  deadline: number;
  /** True once the call closed (ended, all answered, cancelled or timed out). */
  ended: boolean;
  callUserList: ZIMCallUserInfo[];
}

export interface ZIMCallInfoQueriedResult {
  callInfo: ZIMCallInfo;
}

/** callInvitationReceived: this user is being rung. */
export interface ZIMEventOfCallInvitationReceivedResult {
  callID: string;
  /** Who invited this user (in advanced mode, maybe not who started the call). */
  inviter: string;
  mode: ZIMCallInvitationMode;
  /** Seconds left to answer, rounded up. */
  timeout: number;
  /** When this invitation times out (Herald's addition). */
  deadline: number;
  extendedData: string;
  createTime: number;
  callUserList: ZIMCallUserInfo[];
}

/** callInvitationCancelled: the inviter cancelled this user's invitation. */
export interface ZIMEventOfCallInvitationCancelledResult {
  callID: string;
  inviter: string;
  mode: ZIMCallInvitationMode;
  extendedData: string;
}

/** callInvitationTimeout: this user did not answer in time. */
export interface ZIMEventOfCallInvitationTimeoutResult {
  callID: string;
  mode: ZIMCallInvitationMode;
}

/** callInvitationEnded: an advanced-mode call this user is in (or ringing for) ended. */
export interface ZIMEventOfCallInvitationEndedResult {
  callID: string;
  mode: ZIMCallInvitationMode;
  /** Who ended it (callEnd, or the last participant's callQuit). */
  operatedUserID: string;
  extendedData: string;
  endTime: number;
}

/** callUserStateChanged: users of a call changed state. */
export interface ZIMEventOfCallUserStateChangedResult {
  callID: string;
  /** The users whose state changed. */
  callUserList: ZIMCallUserInfo[];
}

export interface CallEventHandler {
  /**
   * This user is rung: at the invitation, or at a login before the
   * invitation's deadline. Each invitation reaches the app once while it
   * rings, even when the server sends it again (login race, reconnect).
   */
  callInvitationReceived: (zim: ZIM, data: ZIMEventOfCallInvitationReceivedResult) => void;
  callInvitationCancelled: (zim: ZIM, data: ZIMEventOfCallInvitationCancelledResult) => void;
  callInvitationTimeout: (zim: ZIM, data: ZIMEventOfCallInvitationTimeoutResult) => void;
  callInvitationEnded: (zim: ZIM, data: ZIMEventOfCallInvitationEndedResult) => void;
  callUserStateChanged: (zim: ZIM, data: ZIMEventOfCallUserStateChangedResult) => void;
}
