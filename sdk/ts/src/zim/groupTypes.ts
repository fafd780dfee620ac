// Group types and events, named and numbered as in the seed's SDK (ZIM for
// React Native). Where Herald keeps less than ZIM (no avatars, nicknames,
// notices or attributes) the field is left out rather than faked; where it
// keeps more (extendedData, ownerUserID, memberCount, myRole) the field is
// added. docs/protocol.md ("Groups") is the wire these map.
import type { ZIM } from './zim.js';

/** A member's role. */
export enum ZIMGroupMemberRole {
  /** One per group; may do everything, and cannot leave (transfer or dismiss instead). */
  Owner = 1,
  /** May kick plain members. */
  Admin = 2,
  /** A plain member. */
  Member = 3,
}

/** Whether this user is in a group after groupStateChanged. */
export enum ZIMGroupState {
  Quit = 0,
  Enter = 1,
}

/** What changed this user's membership (groupStateChanged). */
export enum ZIMGroupEvent {
  None = 0,
  Created = 1,
  Dismissed = 2,
  Joined = 3,
  Invited = 4,
  Left = 5,
  KickedOut = 6,
}

/** Whether the users of groupMemberStateChanged entered or left. */
export enum ZIMGroupMemberState {
  Quit = 0,
  Enter = 1,
}

/**
 * What changed other users' membership (groupMemberStateChanged). ZIM
 * numbers these apart from ZIMGroupEvent; so does this SDK (the Go SDK
 * reuses its GroupEvent numbers).
 */
export enum ZIMGroupMemberEvent {
  Joined = 1,
  Left = 2,
  KickedOut = 4,
  Invited = 5,
}

/** Names a group: what createGroup takes, and baseInfo of ZIMGroupFullInfo. */
export interface ZIMGroupInfo {
  /**
   * 1 to 64 characters of A-Z a-z 0-9 and `_-.@+=`; '' lets the server make
   * one.
   */
  groupID: string;
  /** The display name, at most 256 bytes of UTF-8. */
  groupName: string;
  /**
   * Herald keeps no group avatar: createGroup refuses a non-empty one with
   * ZIMClientErrorCode.InvalidArgument (60006, before sending anything);
   * results carry ''.
   * Keep the URL in extendedData if the app needs it.
   */
  groupAvatarUrl?: string;
  /** Opaque app data kept with the group, at most 1 KiB (Herald's addition). */
  extendedData?: string;
}

/** How a user who is not invited becomes a member (ZIM's numbering). */
export enum ZIMGroupJoinMode {
  /** joinGroup makes the user a member. */
  Any = 0,
  /**
   * joinGroup (or sendGroupJoinApplication) files a join request that the
   * owner or an admin accepts or rejects. Herald's default for new groups.
   */
  Auth = 1,
  /** Only invitations add members (joinGroup: 40303 group_invite_only). */
  Forbid = 2,
}

/** A join request's state (ZIM's numbering). */
export enum ZIMGroupApplicationState {
  Waiting = 1,
  Accepted = 2,
  Rejected = 3,
}

/** A join request's kind: Herald files join requests only. */
export enum ZIMGroupApplicationType {
  Join = 1,
}

/** How the list of join requests changed (groupApplicationListChanged). */
export enum ZIMGroupApplicationListChangeAction {
  Added = 0,
}

/**
 * createGroup's optional config. Herald has no group notice or attributes:
 * a config that sets one of these ZIM fields is refused with
 * ZIMClientErrorCode.InvalidArgument (60006, before sending anything), so
 * nothing is dropped silently.
 */
export interface ZIMGroupAdvancedConfig {
  /** Not supported by Herald: must be absent or ''. */
  groupNotice?: string;
  /** Not supported by Herald: must be absent or empty. */
  groupAttributes?: Record<string, string>;
  /** The group's join mode; absent: the server's default (Auth). */
  joinMode?: ZIMGroupJoinMode;
}

/** A group as this client's user sees it. */
export interface ZIMGroupFullInfo {
  baseInfo: ZIMGroupInfo & { groupAvatarUrl: string; extendedData: string };
  /** The group's owner ('' in groupStateChanged of a dismissed group). */
  ownerUserID: string;
  /** Members, the owner included. */
  memberCount: number;
  /** When the group was created (Unix ms; 0 where the server did not say). */
  createTime: number;
  /**
   * This user's role; 0 when it is not a member (after it left or the group
   * was dismissed).
   */
  myRole: ZIMGroupMemberRole | 0;
  /** How users who are not invited join (Herald sends it with every group). */
  joinMode: ZIMGroupJoinMode;
}

/** One member of a group. */
export interface ZIMGroupMemberInfo {
  userID: string;
  /**
   * The member's role. Absent in groupMemberStateChanged for users who left
   * (the server does not say which role they had); users who enter are
   * always plain members.
   */
  memberRole?: ZIMGroupMemberRole;
  /** When the user entered the group (Unix ms); absent where the server did not say. */
  joinTime?: number;
}

/** Names a user a request did not apply to, and why. */
export interface ZIMErrorUserInfo {
  userID: string;
  /** The error code (docs/protocol.md, "Error codes"). */
  reason: number;
  /** The reason in words. */
  message: string;
}

/** Who caused a group event. */
export interface ZIMGroupOperatedInfo {
  /** The user who caused the change (the user itself for create, join and leave). */
  userID: string;
}

/** queryGroupMemberList's paging. */
export interface ZIMGroupMemberQueryConfig {
  /** The page size; 0 lets the server choose (20), at most 100. */
  count: number;
  /**
   * The previous page's nextFlag; '' (or 0, as ZIM apps pass) for the first
   * page.
   */
  nextFlag: string | number;
}

export interface ZIMGroupCreatedResult {
  groupInfo: ZIMGroupFullInfo;
  /** The users made members, the owner not included, in the order named (duplicates once). */
  userList: ZIMGroupMemberInfo[];
  /**
   * The users that could not be added, with the server's code (40004
   * invalid_user_id, 40401 user_not_found: never logged in to the app); the
   * group was created with the others.
   */
  errorUserList: ZIMErrorUserInfo[];
}

export interface ZIMGroupJoinedResult {
  /** The group; while pending only its ID and join mode. */
  groupInfo: ZIMGroupFullInfo;
  /**
   * True when the group asks for approval: a join request was filed and
   * groupApplicationUpdated will tell its outcome (Herald's addition).
   */
  pending?: boolean;
}

/** A user's request to join a group. */
export interface ZIMGroupApplicationInfo {
  type: ZIMGroupApplicationType;
  state: ZIMGroupApplicationState;
  /** The applicant. */
  applyUser: { userID: string };
  /** The applicant's words, at most 256 bytes. */
  wording: string;
  /** The group (its ID only). */
  groupInfo: { groupID: string };
  createTime: number;
  updateTime: number;
}

/** sendGroupJoinApplication's config. */
export interface ZIMGroupJoinApplicationSendConfig {
  wording?: string;
}

export interface ZIMGroupJoinApplicationSentResult {
  groupID: string;
  /**
   * The request as filed: Waiting; Accepted when the group lets anyone in
   * (the user is a member at once) (Herald's addition).
   */
  application: ZIMGroupApplicationInfo;
}

export interface ZIMGroupJoinApplicationAcceptedResult {
  groupID: string;
  userID: string;
  application: ZIMGroupApplicationInfo;
}

export interface ZIMGroupJoinApplicationRejectedResult {
  groupID: string;
  userID: string;
  application: ZIMGroupApplicationInfo;
}

export interface ZIMGroupJoinModeUpdatedResult {
  groupID: string;
  mode: ZIMGroupJoinMode;
}

/** queryGroupApplicationList's paging; groupID is Herald's addition (one group's requests). */
export interface ZIMGroupApplicationListQueryConfig {
  groupID: string;
  count?: number;
  nextFlag?: string | number;
}

export interface ZIMGroupApplicationListQueriedResult {
  /** Each user's latest request, waiting or answered, in user ID order. */
  applicationList: ZIMGroupApplicationInfo[];
  /** '' after the last page. */
  nextFlag: string;
}

/** groupApplicationListChanged: a user asks to join (to the owner and the admins). */
export interface ZIMEventOfGroupApplicationListChangedResult {
  applicationList: ZIMGroupApplicationInfo[];
  action: ZIMGroupApplicationListChangeAction;
}

/** groupApplicationUpdated: a join request was accepted or rejected. */
export interface ZIMEventOfGroupApplicationUpdatedResult {
  applicationList: ZIMGroupApplicationInfo[];
  /** Who answered ('' for the app's server) (Herald's addition). */
  operatedInfo: ZIMGroupOperatedInfo;
}

/** groupVerifyInfoUpdated: a group's join mode changed. */
export interface ZIMEventOfGroupVerifyInfoUpdatedResult {
  groupID: string;
  verifyInfo: { joinMode: ZIMGroupJoinMode };
  operatedInfo: ZIMGroupOperatedInfo;
}

export interface ZIMGroupLeftResult {
  groupID: string;
}

export interface ZIMGroupDismissedResult {
  groupID: string;
}

export interface ZIMGroupUsersInvitedResult {
  groupID: string;
  /** The users added (plain members). */
  userList: ZIMGroupMemberInfo[];
  /**
   * The users not added, with the server's code: 40902 (a member already),
   * 40401 (never logged in), 40004 (an invalid ID).
   */
  errorUserList: ZIMErrorUserInfo[];
  /** The group's member count afterwards (Herald's addition). */
  memberCount: number;
}

export interface ZIMGroupMemberKickedResult {
  groupID: string;
  /** The users removed. */
  kickedUserIDList: string[];
  /** The users named who were not members (reason 40300 not_group_member). */
  errorUserList: ZIMErrorUserInfo[];
  /** The group's member count afterwards (Herald's addition). */
  memberCount: number;
}

export interface ZIMGroupOwnerTransferredResult {
  groupID: string;
  toUserID: string;
}

export interface ZIMGroupMemberRoleUpdatedResult {
  groupID: string;
  forUserID: string;
  role: ZIMGroupMemberRole;
}

export interface ZIMGroupInfoQueriedResult {
  groupInfo: ZIMGroupFullInfo;
}

export interface ZIMGroupMemberListQueriedResult {
  groupID: string;
  /** A page of members in user ID order. */
  userList: ZIMGroupMemberInfo[];
  /**
   * Pass it as the next page's nextFlag; '' after the last page (so a ZIM
   * loop `while (res.nextFlag != 0)` ends: '' == 0 in JavaScript).
   */
  nextFlag: string;
}

export interface ZIMGroupListQueriedResult {
  /** Every group this user is a member of, in group ID order. */
  groupList: ZIMGroupFullInfo[];
}

/** groupStateChanged: this user entered or left a group. */
export interface ZIMEventOfGroupStateChangedResult {
  state: ZIMGroupState;
  event: ZIMGroupEvent;
  operatedInfo: ZIMGroupOperatedInfo;
  /** The group after the change (for a dismissed group only its ID). */
  groupInfo: ZIMGroupFullInfo;
}

/** groupMemberStateChanged: other users entered or left a group this user is (or was) in. */
export interface ZIMEventOfGroupMemberStateChangedResult {
  state: ZIMGroupMemberState;
  event: ZIMGroupMemberEvent;
  userList: ZIMGroupMemberInfo[];
  operatedInfo: ZIMGroupOperatedInfo;
  groupID: string;
  /** The group's member count after the change (Herald's addition). */
  memberCount: number;
}

/** groupMemberInfoUpdated: members' roles changed (setGroupMemberRole, transferGroupOwner). */
export interface ZIMEventOfGroupMemberInfoUpdatedResult {
  /** The members whose role changed, with their new role. */
  userList: ZIMGroupMemberInfo[];
  operatedInfo: ZIMGroupOperatedInfo;
  groupID: string;
}

export interface GroupEventHandler {
  /** This user entered a group (created, joined, invited) or left one (left, kicked out, dismissed). */
  groupStateChanged: (zim: ZIM, data: ZIMEventOfGroupStateChangedResult) => void;
  /** Other users entered or left a group this user is in (or just left). */
  groupMemberStateChanged: (zim: ZIM, data: ZIMEventOfGroupMemberStateChangedResult) => void;
  /** Members' roles changed. */
  groupMemberInfoUpdated: (zim: ZIM, data: ZIMEventOfGroupMemberInfoUpdatedResult) => void;
  /** A user asks to join a group this user owns or administers. */
  groupApplicationListChanged: (zim: ZIM, data: ZIMEventOfGroupApplicationListChangedResult) => void;
  /** A join request (this user's, or one of a group it manages) was answered. */
  groupApplicationUpdated: (zim: ZIM, data: ZIMEventOfGroupApplicationUpdatedResult) => void;
  /** A group's join mode changed. */
  groupVerifyInfoUpdated: (zim: ZIM, data: ZIMEventOfGroupVerifyInfoUpdatedResult) => void;
}
