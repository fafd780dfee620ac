package protocol

import "unicode/utf8"

// Group request types (client to server).
const (
	TypeGroupCreate   = "groupCreate"
	TypeGroupJoin     = "groupJoin"
	TypeGroupLeave    = "groupLeave"
	TypeGroupInvite   = "groupInvite"
	TypeGroupKick     = "groupKick"
	TypeGroupDismiss  = "groupDismiss"
	TypeGroupTransfer = "groupTransfer"
	TypeGroupSetRole  = "groupSetRole"
	TypeGroupInfo     = "groupInfo"
	TypeGroupMembers  = "groupMembers"
	TypeGroupList     = "groupList"

	TypeGroupSetJoinMode       = "groupSetJoinMode"
	TypeGroupAcceptApplication = "groupAcceptApplication"
	TypeGroupRejectApplication = "groupRejectApplication"
	TypeGroupApplicationList   = "groupApplicationList"
)

// Group events (server to client).
const (
	// EventGroupStateChanged tells a user that it entered or left a group.
	EventGroupStateChanged = "groupStateChanged"
	// EventGroupMemberStateChanged tells the members that users entered or
	// left the group.
	EventGroupMemberStateChanged = "groupMemberStateChanged"
	// EventGroupMemberInfoUpdated tells the members that roles changed.
	EventGroupMemberInfoUpdated = "groupMemberInfoUpdated"
	// EventGroupApplicationListChanged tells the owner and the admins of
	// a group that a user asks to join it.
	EventGroupApplicationListChanged = "groupApplicationListChanged"
	// EventGroupApplicationUpdated tells the applicant, the owner and the
	// admins that a join request was accepted or rejected.
	EventGroupApplicationUpdated = "groupApplicationUpdated"
	// EventGroupJoinModeUpdated tells the members that the group's join
	// mode changed.
	EventGroupJoinModeUpdated = "groupJoinModeUpdated"
)

var groupTypes = []string{
	TypeGroupCreate, TypeGroupJoin, TypeGroupLeave, TypeGroupInvite, TypeGroupKick,
	TypeGroupDismiss, TypeGroupTransfer, TypeGroupSetRole, TypeGroupInfo, TypeGroupMembers,
	TypeGroupList, TypeGroupSetJoinMode, TypeGroupAcceptApplication, TypeGroupRejectApplication,
	TypeGroupApplicationList,
}

// Member roles, numbered as in the seed's SDK.
const (
	RoleOwner  = 1
	RoleAdmin  = 2
	RoleMember = 3
)

// Group states and events of groupStateChanged and groupMemberStateChanged.
const (
	GroupStateEnter = "enter"
	GroupStateQuit  = "quit"

	GroupEventCreated   = "created"
	GroupEventJoined    = "joined"
	GroupEventInvited   = "invited"
	GroupEventLeft      = "left"
	GroupEventKickedOut = "kickedOut"
	GroupEventDismissed = "dismissed"
)

// Group limits.
const (
	MaxGroupIDLen = 64
	// MaxGroupNameBytes bounds a group's name (UTF-8).
	MaxGroupNameBytes = 256
	// MaxGroupExtendedDataBytes bounds a group's extended data.
	MaxGroupExtendedDataBytes = 1024
	// MaxUsersPerGroupRequest bounds the user list of one create, invite or
	// kick request.
	MaxUsersPerGroupRequest = 1000
	// DefaultMaxGroupMembers is the default member limit of a group (config
	// max-group-members).
	DefaultMaxGroupMembers = 10000
)

// ValidGroupID reports whether id is a valid group ID: the user ID alphabet,
// 1 to 64 characters.
func ValidGroupID(id string) bool { return validName(id, MaxGroupIDLen) }

// Group describes a group as one of its members sees it.
type Group struct {
	GroupID      string `json:"groupID"`
	Name         string `json:"name"`
	ExtendedData string `json:"extendedData,omitempty"`
	OwnerUserID  string `json:"ownerUserID"`
	MemberCount  int    `json:"memberCount"`
	CreatedAt    int64  `json:"createdAt"`
	// MyRole is the asking user's role (0 when it is not a member).
	MyRole int `json:"myRole,omitempty"`
	// JoinMode says how users who are not invited join (JoinModeAny, ...).
	JoinMode int `json:"joinMode"`
}

// GroupMember is one member of a group.
type GroupMember struct {
	UserID   string `json:"userID"`
	Role     int    `json:"role"`
	JoinedAt int64  `json:"joinedAt"`
}

// GroupCreateRequest creates a group with the caller as owner. GroupID is
// optional: the server makes one when it is empty.
type GroupCreateRequest struct {
	GroupID      string   `json:"groupID,omitempty"`
	Name         string   `json:"name"`
	ExtendedData string   `json:"extendedData,omitempty"`
	Members      []string `json:"members,omitempty"`
	// JoinMode is the group's join mode; absent: DefaultJoinMode.
	JoinMode *int `json:"joinMode,omitempty"`
}

// GroupReply carries a group (groupCreate, groupJoin, groupInfo).
type GroupReply struct {
	Group Group `json:"group"`
	// ErrorUserList (groupCreate) names the members that could not be
	// added, and why; the group was created with the others.
	ErrorUserList []GroupErrorUser `json:"errorUserList,omitempty"`
	// Pending (groupJoin of a group in approval mode) says that the
	// caller is not a member yet: Application is its join request, which
	// the owner or an admin accepts or rejects. Group then carries the
	// group's ID and join mode only.
	Pending     bool              `json:"pending,omitempty"`
	Application *GroupApplication `json:"application,omitempty"`
}

// GroupRequest names a group (groupJoin, groupLeave, groupDismiss,
// groupInfo).
type GroupRequest struct {
	GroupID string `json:"groupID"`
}

// GroupUsersRequest names users of a group (groupInvite, groupKick).
type GroupUsersRequest struct {
	GroupID string   `json:"groupID"`
	UserIDs []string `json:"userIDs"`
}

// GroupUsersReply answers groupInvite and groupKick with the users the
// request changed and the group's member count after it.
type GroupUsersReply struct {
	UserIDs     []string `json:"userIDs"`
	MemberCount int      `json:"memberCount"`
	// ErrorUserList names the users the request did not apply to, and why.
	ErrorUserList []GroupErrorUser `json:"errorUserList,omitempty"`
}

// GroupTransferRequest makes another member the owner; the caller becomes a
// plain member.
type GroupTransferRequest struct {
	GroupID  string `json:"groupID"`
	ToUserID string `json:"toUserID"`
}

// GroupSetRoleRequest makes a member an admin or a plain member (owner only).
type GroupSetRoleRequest struct {
	GroupID string `json:"groupID"`
	UserID  string `json:"userID"`
	Role    int    `json:"role"`
}

// GroupMembersRequest pages through a group's members in user ID order.
// Next is the nextFlag of the previous page (empty for the first).
type GroupMembersRequest struct {
	GroupID string `json:"groupID"`
	Count   int    `json:"count,omitempty"`
	Next    string `json:"next,omitempty"`
}

// GroupMembersReply carries a page of members; Next is empty on the last.
type GroupMembersReply struct {
	Members []GroupMember `json:"members"`
	Next    string        `json:"next,omitempty"`
}

// GroupListRequest pages through the caller's groups in group ID order.
type GroupListRequest struct {
	Count int    `json:"count,omitempty"`
	Next  string `json:"next,omitempty"`
}

// GroupListReply carries a page of the caller's groups.
type GroupListReply struct {
	Groups []Group `json:"groups"`
	Next   string  `json:"next,omitempty"`
}

// GroupStateChanged tells a user that it entered (created, joined, was
// invited) or left (left, was kicked out, the group was dismissed) a group.
type GroupStateChanged struct {
	GroupID    string `json:"groupID"`
	State      string `json:"state"`
	Event      string `json:"event"`
	OperatedBy string `json:"operatedBy"`
	Group      Group  `json:"group"`
}

// GroupMemberStateChanged tells the members of a group that users entered
// or left it.
type GroupMemberStateChanged struct {
	GroupID     string   `json:"groupID"`
	State       string   `json:"state"`
	Event       string   `json:"event"`
	UserIDs     []string `json:"userIDs"`
	OperatedBy  string   `json:"operatedBy"`
	MemberCount int      `json:"memberCount"`
}

// GroupMemberInfoUpdated tells the members of a group that roles changed
// (setRole, transfer).
type GroupMemberInfoUpdated struct {
	GroupID    string        `json:"groupID"`
	Members    []GroupMember `json:"members"`
	OperatedBy string        `json:"operatedBy"`
}

// Join modes: how a user who is not invited becomes a member (ZIM's
// GroupJoinMode any, auth, forbid).
const (
	// JoinModeAny: groupJoin makes the caller a member.
	JoinModeAny = 0
	// JoinModeApproval: groupJoin files a join request that the owner or
	// an admin accepts or rejects.
	JoinModeApproval = 1
	// JoinModeInviteOnly: groupJoin is refused (group_invite_only); a
	// member invites.
	JoinModeInviteOnly = 2
	// DefaultJoinMode is a new group's join mode when the create request
	// names none: anyone knowing the group's ID may ask, none may enter
	// unasked.
	DefaultJoinMode = JoinModeApproval
)

// ValidJoinMode reports whether m is a join mode.
func ValidJoinMode(m int) bool { return m >= JoinModeAny && m <= JoinModeInviteOnly }

// JoinModeError is the error for a join mode out of range.
func JoinModeError() *Error {
	return Errorf(CodeInvalidArgument, "joinMode must be 0 (any), 1 (approval) or 2 (invite only)")
}

// Join request states.
const (
	ApplicationPending  = "pending"
	ApplicationAccepted = "accepted"
	ApplicationRejected = "rejected"
)

// MaxApplicationMessageBytes bounds a join request's message (UTF-8).
const MaxApplicationMessageBytes = 256

// GroupErrorUser names a user a group request did not apply to, and why
// (ZIM's errorUserList).
type GroupErrorUser struct {
	UserID  string `json:"userID"`
	Code    Code   `json:"code"`
	Message string `json:"message"`
}

// GroupJoinRequest asks to join a group; Message goes with the join
// request of a group in approval mode.
type GroupJoinRequest struct {
	GroupID string `json:"groupID"`
	Message string `json:"message,omitempty"`
}

// GroupSetJoinModeRequest changes a group's join mode (owner and admins).
type GroupSetJoinModeRequest struct {
	GroupID  string `json:"groupID"`
	JoinMode int    `json:"joinMode"`
}

// GroupApplication is a user's request to join a group.
type GroupApplication struct {
	GroupID string `json:"groupID"`
	UserID  string `json:"userID"`
	Message string `json:"message,omitempty"`
	// State is ApplicationPending, ApplicationAccepted or
	// ApplicationRejected.
	State     string `json:"state"`
	CreatedAt int64  `json:"createdAt"`
	UpdatedAt int64  `json:"updatedAt"`
}

// GroupApplicationRequest accepts or rejects a user's join request (owner
// and admins).
type GroupApplicationRequest struct {
	GroupID string `json:"groupID"`
	UserID  string `json:"userID"`
}

// GroupApplicationListRequest pages through a group's join requests in
// applicant order (owner and admins).
type GroupApplicationListRequest struct {
	GroupID string `json:"groupID"`
	Count   int    `json:"count,omitempty"`
	Next    string `json:"next,omitempty"`
}

// GroupApplicationListReply carries a page of join requests.
type GroupApplicationListReply struct {
	Applications []GroupApplication `json:"applications"`
	Next         string             `json:"next,omitempty"`
}

// GroupApplicationListChanged tells the owner and the admins of a group of
// a new join request.
type GroupApplicationListChanged struct {
	// Action is "added".
	Action      string           `json:"action"`
	Application GroupApplication `json:"application"`
}

// GroupApplicationUpdated tells the applicant, the owner and the admins
// that a join request was accepted or rejected, by whom (empty: the app's
// server).
type GroupApplicationUpdated struct {
	Application GroupApplication `json:"application"`
	OperatedBy  string           `json:"operatedBy"`
}

// GroupJoinModeUpdated tells the members of a group that its join mode
// changed.
type GroupJoinModeUpdated struct {
	GroupID    string `json:"groupID"`
	JoinMode   int    `json:"joinMode"`
	OperatedBy string `json:"operatedBy"`
}

// ValidateGroupCreate checks a create request's own fields.
func ValidateGroupCreate(r *GroupCreateRequest, creator string) *Error {
	if r.GroupID != "" && !ValidGroupID(r.GroupID) {
		return Errorf(CodeInvalidArgument, "groupID must be 1 to %d characters of A-Z a-z 0-9 _-.@+=", MaxGroupIDLen)
	}
	if len(r.Name) > MaxGroupNameBytes || !utf8.ValidString(r.Name) {
		return Errorf(CodeInvalidArgument, "name over %d bytes or not UTF-8", MaxGroupNameBytes)
	}
	if len(r.ExtendedData) > MaxGroupExtendedDataBytes || !utf8.ValidString(r.ExtendedData) {
		return Errorf(CodeInvalidArgument, "extendedData over %d bytes or not UTF-8", MaxGroupExtendedDataBytes)
	}
	if len(r.Members) > MaxUsersPerGroupRequest {
		return Errorf(CodeInvalidArgument, "at most %d members per request", MaxUsersPerGroupRequest)
	}
	if r.JoinMode != nil && !ValidJoinMode(*r.JoinMode) {
		return JoinModeError()
	}
	return nil
}

// SplitUserIDs splits users into valid user IDs, without repeats and
// without except, in the order given, and errors for the invalid ones
// (their IDs cut to 70 bytes).
func SplitUserIDs(users []string, except string) ([]string, []GroupErrorUser) {
	seen := make(map[string]bool, len(users))
	ok := make([]string, 0, len(users))
	var bad []GroupErrorUser
	for _, u := range users {
		switch {
		case u == except || seen[u]:
		case !ValidUserID(u):
			bad = append(bad, GroupErrorUser{UserID: truncate(u, 70), Code: CodeInvalidUserID, Message: "not a valid user ID"})
		default:
			ok = append(ok, u)
		}
		seen[u] = true
	}
	return ok, bad
}

// ValidateGroupUserCount checks the group ID and the size of a user list
// of invite or kick: 1 to MaxUsersPerGroupRequest users (whose IDs are
// checked one by one: SplitUserIDs).
func ValidateGroupUserCount(groupID string, users []string) *Error {
	if !ValidGroupID(groupID) {
		return GroupIDError()
	}
	if len(users) == 0 || len(users) > MaxUsersPerGroupRequest {
		return Errorf(CodeInvalidArgument, "userIDs must name 1 to %d users", MaxUsersPerGroupRequest)
	}
	return nil
}

// ValidateGroupUsers checks a user list of invite or kick: 1 to
// MaxUsersPerGroupRequest valid user IDs.
func ValidateGroupUsers(groupID string, users []string) *Error {
	if err := ValidateGroupUserCount(groupID, users); err != nil {
		return err
	}
	for _, u := range users {
		if !ValidUserID(u) {
			return Errorf(CodeInvalidUserID, "userIDs: %q is not a valid user ID", truncate(u, 70))
		}
	}
	return nil
}

// GroupIDError is the error for a malformed group ID.
func GroupIDError() *Error {
	return Errorf(CodeInvalidArgument, "groupID must be 1 to %d characters of A-Z a-z 0-9 _-.@+=", MaxGroupIDLen)
}

// IsGroupType reports whether t is a group request type.
func IsGroupType(t string) bool {
	for _, c := range groupTypes {
		if c == t {
			return true
		}
	}
	return false
}
