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
)

var groupTypes = []string{
	TypeGroupCreate, TypeGroupJoin, TypeGroupLeave, TypeGroupInvite, TypeGroupKick,
	TypeGroupDismiss, TypeGroupTransfer, TypeGroupSetRole, TypeGroupInfo, TypeGroupMembers,
	TypeGroupList,
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
}

// GroupReply carries a group (groupCreate, groupJoin, groupInfo).
type GroupReply struct {
	Group Group `json:"group"`
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
	for _, u := range r.Members {
		if !ValidUserID(u) {
			return Errorf(CodeInvalidUserID, "members: %q is not a valid user ID", truncate(u, 70))
		}
	}
	return nil
}

// ValidateGroupUsers checks a user list of invite or kick: 1 to
// MaxUsersPerGroupRequest valid user IDs.
func ValidateGroupUsers(groupID string, users []string) *Error {
	if !ValidGroupID(groupID) {
		return Errorf(CodeInvalidArgument, "groupID must be 1 to %d characters of A-Z a-z 0-9 _-.@+=", MaxGroupIDLen)
	}
	if len(users) == 0 || len(users) > MaxUsersPerGroupRequest {
		return Errorf(CodeInvalidArgument, "userIDs must name 1 to %d users", MaxUsersPerGroupRequest)
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
