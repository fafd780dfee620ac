// Group requests and events of the ZIM class: the seed's ZIM names over the
// wire of docs/protocol.md ("Groups"), mapped as the Go SDK's groups.go
// does. Rules live on the server; this file only translates.
import { ZIMClientErrorCode, ZIMError } from '../errors.js';
import { ZIMConversations } from './conversations.js';
import {
  ZIMGroupApplicationListChangeAction,
  ZIMGroupApplicationState,
  ZIMGroupApplicationType,
  ZIMGroupEvent,
  ZIMGroupJoinMode,
  ZIMGroupMemberEvent,
  ZIMGroupMemberRole,
  ZIMGroupMemberState,
  ZIMGroupState,
  type ZIMErrorUserInfo,
  type ZIMGroupAdvancedConfig,
  type ZIMGroupApplicationInfo,
  type ZIMGroupApplicationListQueriedResult,
  type ZIMGroupApplicationListQueryConfig,
  type ZIMGroupJoinApplicationAcceptedResult,
  type ZIMGroupJoinApplicationRejectedResult,
  type ZIMGroupJoinApplicationSendConfig,
  type ZIMGroupJoinApplicationSentResult,
  type ZIMGroupJoinModeUpdatedResult,
  type ZIMGroupCreatedResult,
  type ZIMGroupDismissedResult,
  type ZIMGroupFullInfo,
  type ZIMGroupInfo,
  type ZIMGroupInfoQueriedResult,
  type ZIMGroupJoinedResult,
  type ZIMGroupLeftResult,
  type ZIMGroupListQueriedResult,
  type ZIMGroupMemberInfo,
  type ZIMGroupMemberKickedResult,
  type ZIMGroupMemberListQueriedResult,
  type ZIMGroupMemberQueryConfig,
  type ZIMGroupMemberRoleUpdatedResult,
  type ZIMGroupOwnerTransferredResult,
  type ZIMGroupUsersInvitedResult,
} from './groupTypes.js';

// The wire (internal/protocol/group.go).
interface WireGroup {
  groupID?: string;
  name?: string;
  extendedData?: string;
  ownerUserID?: string;
  memberCount?: number;
  createdAt?: number;
  myRole?: number;
  joinMode?: number;
}
interface WireMember {
  userID: string;
  role: number;
  joinedAt?: number;
}
interface WireErrorUser {
  userID: string;
  code: number;
  message: string;
}
interface WireApplication {
  groupID: string;
  userID: string;
  message?: string;
  state: string;
  createdAt?: number;
  updatedAt?: number;
}
interface WireGroupReply {
  group: WireGroup;
  errorUserList?: WireErrorUser[] | null;
  pending?: boolean;
  application?: WireApplication;
}
interface WireGroupUsersReply {
  userIDs?: string[] | null;
  memberCount: number;
  errorUserList?: WireErrorUser[] | null;
}
interface WireGroupStateChanged {
  groupID: string;
  state: string;
  event: string;
  operatedBy: string;
  group?: WireGroup;
}
interface WireGroupMemberStateChanged {
  groupID: string;
  state: string;
  event: string;
  userIDs?: string[] | null;
  operatedBy: string;
  memberCount: number;
}
interface WireGroupMemberInfoUpdated {
  groupID: string;
  members?: WireMember[] | null;
  operatedBy: string;
}

/** The error codes the group results name (docs/protocol.md). */
const codeNotGroupMember = 40300;
const codeAlreadyGroupMember = 40902;

/** The server's page size limit (protocol.MaxPageCount). */
const maxPageCount = 100;

const groupEvents: Record<string, ZIMGroupEvent> = {
  created: ZIMGroupEvent.Created,
  dismissed: ZIMGroupEvent.Dismissed,
  joined: ZIMGroupEvent.Joined,
  invited: ZIMGroupEvent.Invited,
  left: ZIMGroupEvent.Left,
  kickedOut: ZIMGroupEvent.KickedOut,
};

const memberEvents: Record<string, ZIMGroupMemberEvent> = {
  joined: ZIMGroupMemberEvent.Joined,
  invited: ZIMGroupMemberEvent.Invited,
  left: ZIMGroupMemberEvent.Left,
  kickedOut: ZIMGroupMemberEvent.KickedOut,
};

function groupFromWire(g: WireGroup | undefined, groupID = ''): ZIMGroupFullInfo {
  const w = g ?? {};
  return {
    baseInfo: {
      groupID: w.groupID || groupID,
      groupName: w.name ?? '',
      groupAvatarUrl: '',
      extendedData: w.extendedData ?? '',
    },
    ownerUserID: w.ownerUserID ?? '',
    memberCount: w.memberCount ?? 0,
    createTime: w.createdAt ?? 0,
    myRole: (w.myRole ?? 0) as ZIMGroupMemberRole | 0,
    joinMode: (w.joinMode ?? ZIMGroupJoinMode.Any) as ZIMGroupJoinMode,
  };
}

const applicationStates: Record<string, ZIMGroupApplicationState> = {
  pending: ZIMGroupApplicationState.Waiting,
  accepted: ZIMGroupApplicationState.Accepted,
  rejected: ZIMGroupApplicationState.Rejected,
};

function applicationFromWire(a: WireApplication): ZIMGroupApplicationInfo {
  return {
    type: ZIMGroupApplicationType.Join,
    state: applicationStates[a.state] ?? ZIMGroupApplicationState.Waiting,
    applyUser: { userID: a.userID },
    wording: a.message ?? '',
    groupInfo: { groupID: a.groupID },
    createTime: a.createdAt ?? 0,
    updateTime: a.updatedAt ?? 0,
  };
}

function errorsFromWire(es: WireErrorUser[] | null | undefined): ZIMErrorUserInfo[] | undefined {
  return es?.map((e) => ({ userID: e.userID, reason: e.code, message: e.message }));
}

function memberFromWire(m: WireMember): ZIMGroupMemberInfo {
  const out: ZIMGroupMemberInfo = { userID: m.userID, memberRole: m.role as ZIMGroupMemberRole };
  if (m.joinedAt) out.joinTime = m.joinedAt;
  return out;
}

/** unique returns ids in order with duplicates (and skip) left out. */
function unique(ids: readonly string[], skip = ''): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const id of ids) {
    if (id === skip || seen.has(id)) continue;
    seen.add(id);
    out.push(id);
  }
  return out;
}

/** errorUsers lists the users of asked missing from done, with code. */
function errorUsers(asked: readonly string[], done: readonly string[], code: number, message: string): ZIMErrorUserInfo[] {
  const ok = new Set(done);
  return unique(asked)
    .filter((u) => !ok.has(u))
    .map((userID) => ({ userID, reason: code, message }));
}

/** Group requests and events of the ZIM class. */
export abstract class ZIMGroups extends ZIMConversations {
  protected override attach(): void {
    super.attach();
    this.core.onServerEvent('groupStateChanged', (d) => this.onGroupStateChanged(d as WireGroupStateChanged));
    this.core.onServerEvent('groupMemberStateChanged', (d) =>
      this.onGroupMemberStateChanged(d as WireGroupMemberStateChanged),
    );
    this.core.onServerEvent('groupMemberInfoUpdated', (d) =>
      this.onGroupMemberInfoUpdated(d as WireGroupMemberInfoUpdated),
    );
    this.core.onServerEvent('groupApplicationListChanged', (d) => {
      const w = d as { action: string; application: WireApplication };
      this.core.emit('groupApplicationListChanged', {
        applicationList: [applicationFromWire(w.application)],
        action: ZIMGroupApplicationListChangeAction.Added,
      });
    });
    this.core.onServerEvent('groupApplicationUpdated', (d) => {
      const w = d as { application: WireApplication; operatedBy?: string };
      this.core.emit('groupApplicationUpdated', {
        applicationList: [applicationFromWire(w.application)],
        operatedInfo: { userID: w.operatedBy ?? '' },
      });
    });
    this.core.onServerEvent('groupJoinModeUpdated', (d) => {
      const w = d as { groupID: string; joinMode: number; operatedBy?: string };
      this.core.emit('groupVerifyInfoUpdated', {
        groupID: w.groupID,
        verifyInfo: { joinMode: w.joinMode as ZIMGroupJoinMode },
        operatedInfo: { userID: w.operatedBy ?? '' },
      });
    });
  }

  /**
   * createGroup creates a group with this user as its owner and userIDs as
   * plain members, in config.joinMode (default: the server's, Auth). Users
   * that cannot be added (invalid IDs, 40401 never logged in to the app)
   * are in errorUserList and the group is made with the others; a groupID
   * in use is 40901 group_exists. Every member, the owner included, gets
   * groupStateChanged with ZIMGroupEvent.Created.
   */
  async createGroup(
    groupInfo: ZIMGroupInfo,
    userIDs: string[],
    config?: ZIMGroupAdvancedConfig,
  ): Promise<ZIMGroupCreatedResult> {
    if (groupInfo?.groupAvatarUrl) {
      throw new ZIMError(
        ZIMClientErrorCode.InvalidArgument,
        'groupAvatarUrl: Herald keeps no group avatar (keep it in extendedData)',
      );
    }
    if (config?.groupNotice || (config?.groupAttributes && Object.keys(config.groupAttributes).length > 0)) {
      throw new ZIMError(ZIMClientErrorCode.InvalidArgument, 'groupNotice and groupAttributes: Herald keeps neither');
    }
    const r = await this.core.request<WireGroupReply>('groupCreate', {
      groupID: groupInfo?.groupID || undefined,
      name: groupInfo?.groupName ?? '',
      extendedData: groupInfo?.extendedData || undefined,
      members: userIDs,
      joinMode: config?.joinMode,
    });
    const info = groupFromWire(r.group);
    const errorUserList = errorsFromWire(r.errorUserList) ?? [];
    const failed = new Set(errorUserList.map((e) => e.userID));
    const members = unique(userIDs ?? [], this.core.userID).filter((u) => !failed.has(u));
    const userList = members.map((userID): ZIMGroupMemberInfo => {
      const m: ZIMGroupMemberInfo = { userID, memberRole: ZIMGroupMemberRole.Member };
      if (info.createTime) m.joinTime = info.createTime;
      return m;
    });
    return { groupInfo: info, userList, errorUserList };
  }

  /**
   * joinGroup makes this user a member of a group of join mode Any. A
   * group of mode Auth files a join request instead: the result says
   * pending, and groupApplicationUpdated tells the outcome; one of mode
   * Forbid refuses with 40303 group_invite_only.
   */
  async joinGroup(groupID: string): Promise<ZIMGroupJoinedResult> {
    const r = await this.core.request<WireGroupReply>('groupJoin', { groupID });
    const out: ZIMGroupJoinedResult = { groupInfo: groupFromWire(r.group, groupID) };
    if (r.pending) out.pending = true;
    return out;
  }

  /**
   * sendGroupJoinApplication asks to join a group with a wording (at most
   * 256 bytes): the owner and the admins get groupApplicationListChanged.
   * A request already waiting is 40907 join_request_pending; a group of
   * mode Forbid 40303; one of mode Any makes the user a member at once
   * (the application's state is Accepted).
   */
  async sendGroupJoinApplication(
    groupID: string,
    config?: ZIMGroupJoinApplicationSendConfig,
  ): Promise<ZIMGroupJoinApplicationSentResult> {
    const r = await this.core.request<WireGroupReply>('groupJoin', { groupID, message: config?.wording || undefined });
    const application = r.application
      ? applicationFromWire(r.application)
      : applicationFromWire({ groupID, userID: this.core.userID, message: config?.wording, state: 'accepted' });
    return { groupID, application };
  }

  /**
   * acceptGroupJoinApplication makes userID, whose request waits, a member
   * (owner and admins); it sees what is sent from then on. No waiting
   * request is 40908 no_join_request.
   */
  async acceptGroupJoinApplication(userID: string, groupID: string): Promise<ZIMGroupJoinApplicationAcceptedResult> {
    const a = await this.core.request<WireApplication>('groupAcceptApplication', { groupID, userID });
    return { groupID, userID, application: applicationFromWire(a) };
  }

  /** rejectGroupJoinApplication rejects userID's waiting request (owner and admins); it may ask again. */
  async rejectGroupJoinApplication(userID: string, groupID: string): Promise<ZIMGroupJoinApplicationRejectedResult> {
    const a = await this.core.request<WireApplication>('groupRejectApplication', { groupID, userID });
    return { groupID, userID, application: applicationFromWire(a) };
  }

  /** updateGroupJoinMode changes a group's join mode (owner and admins); members get groupVerifyInfoUpdated. */
  async updateGroupJoinMode(mode: ZIMGroupJoinMode, groupID: string): Promise<ZIMGroupJoinModeUpdatedResult> {
    await this.core.request('groupSetJoinMode', { groupID, joinMode: mode });
    return { groupID, mode };
  }

  /**
   * queryGroupApplicationList returns a page of one group's join requests
   * (config.groupID; owner and admins), each user's latest, in user ID
   * order; nextFlag is '' after the last page.
   */
  async queryGroupApplicationList(
    config: ZIMGroupApplicationListQueryConfig,
  ): Promise<ZIMGroupApplicationListQueriedResult> {
    const flag = config?.nextFlag;
    const r = await this.core.request<{ applications?: WireApplication[] | null; next?: string }>(
      'groupApplicationList',
      {
        groupID: config?.groupID,
        count: config?.count || undefined,
        next: flag === undefined || flag === 0 || flag === '' ? undefined : String(flag),
      },
      { retry: true },
    );
    return { applicationList: (r.applications ?? []).map(applicationFromWire), nextFlag: r.next ?? '' };
  }

  /**
   * leaveGroup removes this user from a group. The owner cannot leave
   * (40905 owner_cannot_leave): it transfers ownership or dismisses.
   */
  async leaveGroup(groupID: string): Promise<ZIMGroupLeftResult> {
    await this.core.request('groupLeave', { groupID });
    return { groupID };
  }

  /**
   * dismissGroup ends a group (owner only): every member gets
   * groupStateChanged with ZIMGroupEvent.Dismissed, and every later request
   * on it fails with 41000 group_dismissed.
   */
  async dismissGroup(groupID: string): Promise<ZIMGroupDismissedResult> {
    await this.core.request('groupDismiss', { groupID });
    return { groupID };
  }

  /**
   * inviteUsersIntoGroup adds users to a group; any member may invite.
   * Users it cannot add (members already, never logged in, invalid IDs) go
   * to errorUserList with the server's code; when none can be added the
   * request fails with the first one's code.
   */
  async inviteUsersIntoGroup(userIDs: string[], groupID: string): Promise<ZIMGroupUsersInvitedResult> {
    const r = await this.core.request<WireGroupUsersReply>('groupInvite', { groupID, userIDs });
    const added = r.userIDs ?? [];
    return {
      groupID,
      userList: added.map((userID) => ({ userID, memberRole: ZIMGroupMemberRole.Member })),
      errorUserList:
        errorsFromWire(r.errorUserList) ?? errorUsers(userIDs, added, codeAlreadyGroupMember, 'already a member of the group'),
      memberCount: r.memberCount,
    };
  }

  /**
   * kickGroupMembers removes members (the owner anyone else, an admin
   * plain members only; 40301 permission_denied otherwise). Users named
   * who are not members go to errorUserList; when none is, the request
   * fails with 40300 not_group_member.
   */
  async kickGroupMembers(userIDs: string[], groupID: string): Promise<ZIMGroupMemberKickedResult> {
    const r = await this.core.request<WireGroupUsersReply>('groupKick', { groupID, userIDs });
    const kicked = r.userIDs ?? [];
    return {
      groupID,
      kickedUserIDList: kicked,
      errorUserList: errorsFromWire(r.errorUserList) ?? errorUsers(userIDs, kicked, codeNotGroupMember, 'not a member of the group'),
      memberCount: r.memberCount,
    };
  }

  /**
   * transferGroupOwner makes toUserID, a member, the owner (owner only);
   * this user becomes a plain member. Members get groupMemberInfoUpdated.
   */
  async transferGroupOwner(toUserID: string, groupID: string): Promise<ZIMGroupOwnerTransferredResult> {
    await this.core.request('groupTransfer', { groupID, toUserID });
    return { groupID, toUserID };
  }

  /**
   * setGroupMemberRole makes forUserID an admin or a plain member (owner
   * only; transferGroupOwner hands over the owner's role). Members get
   * groupMemberInfoUpdated.
   */
  async setGroupMemberRole(
    role: ZIMGroupMemberRole,
    forUserID: string,
    groupID: string,
  ): Promise<ZIMGroupMemberRoleUpdatedResult> {
    await this.core.request('groupSetRole', { groupID, userID: forUserID, role });
    return { groupID, forUserID, role };
  }

  /** queryGroupInfo returns a group as this user sees it (members only). */
  async queryGroupInfo(groupID: string): Promise<ZIMGroupInfoQueriedResult> {
    const r = await this.core.request<WireGroupReply>('groupInfo', { groupID }, { retry: true });
    return { groupInfo: groupFromWire(r.group, groupID) };
  }

  /**
   * queryGroupMemberList returns a page of a group's members in user ID
   * order (members only); nextFlag is '' after the last page.
   */
  async queryGroupMemberList(
    groupID: string,
    config?: ZIMGroupMemberQueryConfig,
  ): Promise<ZIMGroupMemberListQueriedResult> {
    const flag = config?.nextFlag;
    const r = await this.core.request<{ members?: WireMember[] | null; next?: string }>('groupMembers', {
      groupID,
      count: config?.count || undefined,
      next: flag === undefined || flag === 0 || flag === '' ? undefined : String(flag),
    }, { retry: true });
    return { groupID, userList: (r.members ?? []).map(memberFromWire), nextFlag: r.next ?? '' };
  }

  /** queryGroupList returns every group this user is a member of, in group ID order. */
  async queryGroupList(): Promise<ZIMGroupListQueriedResult> {
    const groupList: ZIMGroupFullInfo[] = [];
    let next = '';
    for (;;) {
      const r = await this.core.request<{ groups?: WireGroup[] | null; next?: string }>('groupList', {
        count: maxPageCount,
        next: next || undefined,
      }, { retry: true });
      const groups = r.groups ?? [];
      for (const g of groups) groupList.push(groupFromWire(g));
      if (!r.next || r.next === next || groups.length === 0) return { groupList };
      next = r.next;
    }
  }

  private onGroupStateChanged(d: WireGroupStateChanged): void {
    this.core.emit('groupStateChanged', {
      state: d.state === 'enter' ? ZIMGroupState.Enter : ZIMGroupState.Quit,
      event: groupEvents[d.event] ?? ZIMGroupEvent.None,
      operatedInfo: { userID: d.operatedBy ?? '' },
      groupInfo: groupFromWire(d.group, d.groupID),
    });
  }

  private onGroupMemberStateChanged(d: WireGroupMemberStateChanged): void {
    const enter = d.state === 'enter';
    const event = memberEvents[d.event];
    if (event === undefined) return; // a newer server's event this SDK cannot name
    this.core.emit('groupMemberStateChanged', {
      state: enter ? ZIMGroupMemberState.Enter : ZIMGroupMemberState.Quit,
      event,
      userList: (d.userIDs ?? []).map((userID): ZIMGroupMemberInfo =>
        enter ? { userID, memberRole: ZIMGroupMemberRole.Member } : { userID },
      ),
      operatedInfo: { userID: d.operatedBy ?? '' },
      groupID: d.groupID,
      memberCount: d.memberCount ?? 0,
    });
  }

  private onGroupMemberInfoUpdated(d: WireGroupMemberInfoUpdated): void {
    this.core.emit('groupMemberInfoUpdated', {
      userList: (d.members ?? []).map(memberFromWire),
      operatedInfo: { userID: d.operatedBy ?? '' },
      groupID: d.groupID,
    });
  }
}
