package herald

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/heraldim/herald/internal/protocol"
)

// GroupMemberRole is a member's role in a group. Values are numbered as in
// the seed's SDK.
type GroupMemberRole int

// Group member roles.
const (
	// GroupMemberRoleOwner: one per group; may do everything, and must
	// transfer ownership or dismiss the group instead of leaving it.
	GroupMemberRoleOwner GroupMemberRole = protocol.RoleOwner
	// GroupMemberRoleAdmin: may kick plain members.
	GroupMemberRoleAdmin GroupMemberRole = protocol.RoleAdmin
	// GroupMemberRoleMember: a plain member.
	GroupMemberRoleMember GroupMemberRole = protocol.RoleMember
)

// String returns the role's name: owner, admin or member ("none" for zero).
func (r GroupMemberRole) String() string {
	switch r {
	case 0:
		return "none"
	case GroupMemberRoleOwner:
		return "owner"
	case GroupMemberRoleAdmin:
		return "admin"
	case GroupMemberRoleMember:
		return "member"
	}
	return fmt.Sprintf("GroupMemberRole(%d)", int(r))
}

// GroupState says whether a user is in a group after a group event. Values
// are numbered as in the seed's SDK.
type GroupState int

// Group states.
const (
	// GroupStateQuit: the user left the group (left, kicked out, dismissed).
	GroupStateQuit GroupState = 0
	// GroupStateEnter: the user entered the group (created, joined, invited).
	GroupStateEnter GroupState = 1
)

// String returns the state's wire name: enter or quit.
func (s GroupState) String() string {
	switch s {
	case GroupStateQuit:
		return protocol.GroupStateQuit
	case GroupStateEnter:
		return protocol.GroupStateEnter
	}
	return fmt.Sprintf("GroupState(%d)", int(s))
}

func groupStateFromWire(s string) GroupState {
	switch s {
	case protocol.GroupStateEnter:
		return GroupStateEnter
	case protocol.GroupStateQuit:
		return GroupStateQuit
	}
	return -1
}

// GroupEvent says what changed a group's membership. Values are numbered as
// in the seed's SDK.
type GroupEvent int

// Group events.
const (
	GroupEventNone      GroupEvent = 0
	GroupEventCreated   GroupEvent = 1
	GroupEventDismissed GroupEvent = 2
	GroupEventJoined    GroupEvent = 3
	GroupEventInvited   GroupEvent = 4
	GroupEventLeft      GroupEvent = 5
	GroupEventKickedOut GroupEvent = 6
)

var groupEventNames = map[GroupEvent]string{
	GroupEventNone:      "none",
	GroupEventCreated:   protocol.GroupEventCreated,
	GroupEventDismissed: protocol.GroupEventDismissed,
	GroupEventJoined:    protocol.GroupEventJoined,
	GroupEventInvited:   protocol.GroupEventInvited,
	GroupEventLeft:      protocol.GroupEventLeft,
	GroupEventKickedOut: protocol.GroupEventKickedOut,
}

// String returns the event's wire name (created, dismissed, joined,
// invited, left, kickedOut).
func (e GroupEvent) String() string {
	if n, ok := groupEventNames[e]; ok {
		return n
	}
	return fmt.Sprintf("GroupEvent(%d)", int(e))
}

func groupEventFromWire(s string) GroupEvent {
	for e, n := range groupEventNames {
		if n == s {
			return e
		}
	}
	return GroupEventNone
}

// GroupInfo names a group: what CreateGroup takes.
type GroupInfo struct {
	// GroupID is 1 to 64 characters of A-Z a-z 0-9 and "_-.@+="; empty in
	// CreateGroup lets the server make one.
	GroupID string
	// GroupName is the group's display name (at most 256 bytes).
	GroupName string
	// ExtendedData is opaque app data kept with the group (at most 1 KiB).
	ExtendedData string
}

// GroupFullInfo describes a group as the asking user sees it.
type GroupFullInfo struct {
	GroupInfo
	// OwnerUserID is the group's owner.
	OwnerUserID string
	// MemberCount counts the members, the owner included.
	MemberCount int
	// CreatedAt is when the group was created.
	CreatedAt time.Time
	// MyRole is this client's user's role; zero when it is not a member.
	MyRole GroupMemberRole
	// JoinMode says how users who are not invited join.
	JoinMode GroupJoinMode
}

// GroupMemberInfo is one member of a group.
type GroupMemberInfo struct {
	UserID     string
	MemberRole GroupMemberRole
	// JoinedAt is when the user entered the group.
	JoinedAt time.Time
}

// GroupMemberQueryConfig pages through a group's members, in user ID
// order.
type GroupMemberQueryConfig struct {
	// Count is the page size; zero lets the server choose (20), at most 100.
	Count int
	// NextFlag is what the previous page returned; empty for the first page.
	NextFlag string
}

// GroupUsersResult is what InviteUsersIntoGroup and KickGroupMembers
// changed.
type GroupUsersResult struct {
	GroupID string
	// UserIDs are the users the request added or removed; users it did not
	// apply to are left out.
	UserIDs []string
	// MemberCount is the group's member count afterwards.
	MemberCount int
	// ErrorUserList names the users the request did not apply to, and why
	// (invalid user ID, never logged in, a member already, not a member).
	ErrorUserList []ErrorUserInfo
}

// GroupStateChangedInfo tells this client's user that it entered or left a
// group (EventHandler.GroupStateChanged).
type GroupStateChangedInfo struct {
	State GroupState
	Event GroupEvent
	// OperatedBy is the user who caused the change (the user itself for
	// create, join and leave).
	OperatedBy string
	// GroupInfo is the group after the change.
	GroupInfo GroupFullInfo
}

// GroupMemberStateChangedInfo tells the members of a group that users
// entered or left it (EventHandler.GroupMemberStateChanged).
type GroupMemberStateChangedInfo struct {
	GroupID     string
	State       GroupState
	Event       GroupEvent
	UserIDs     []string
	OperatedBy  string
	MemberCount int
}

// GroupMemberInfoUpdatedInfo tells the members of a group that members'
// roles changed (EventHandler.GroupMemberInfoUpdated).
type GroupMemberInfoUpdatedInfo struct {
	GroupID    string
	Members    []GroupMemberInfo
	OperatedBy string
}

func groupFromWire(g protocol.Group) GroupFullInfo {
	return GroupFullInfo{
		GroupInfo:   GroupInfo{GroupID: g.GroupID, GroupName: g.Name, ExtendedData: g.ExtendedData},
		OwnerUserID: g.OwnerUserID,
		MemberCount: g.MemberCount,
		CreatedAt:   fromMillis(g.CreatedAt),
		MyRole:      GroupMemberRole(g.MyRole),
		JoinMode:    GroupJoinMode(g.JoinMode),
	}
}

func membersFromWire(ms []protocol.GroupMember) []GroupMemberInfo {
	out := make([]GroupMemberInfo, len(ms))
	for i, m := range ms {
		out[i] = GroupMemberInfo{UserID: m.UserID, MemberRole: GroupMemberRole(m.Role), JoinedAt: fromMillis(m.JoinedAt)}
	}
	return out
}

// CreateGroup creates a group with this client's user as its owner and
// userIDs as plain members, and returns it, in the server's default join
// mode (GroupJoinModeAuth). Users that cannot be added (invalid IDs, users
// that never logged in to the app) are left out: CreateGroupWithConfig
// reports them. A GroupID in use fails with CodeGroupExists. Every member, the owner included, gets
// EventHandler.GroupStateChanged with GroupEventCreated.
//
// Messages go to a group through SendMessage with ConversationTypeGroup
// and the group ID; they arrive through EventHandler.ReceiveGroupMessage.
func (c *Client) CreateGroup(ctx context.Context, info GroupInfo, userIDs []string) (GroupFullInfo, error) {
	r, err := c.CreateGroupWithConfig(ctx, info, userIDs, GroupAdvancedConfig{})
	return r.GroupInfo, err
}

// JoinGroup makes this client's user a member of a group of join mode
// GroupJoinModeAny and returns it. A group of GroupJoinModeAuth files a
// join request instead: JoinGroup then returns the group's ID and join mode
// only, with ErrGroupJoinPending (SendGroupJoinApplication says the same
// without an error). A group of GroupJoinModeForbid fails with
// CodeGroupInviteOnly.
func (c *Client) JoinGroup(ctx context.Context, groupID string) (GroupFullInfo, error) {
	var r protocol.GroupReply
	if err := c.call(ctx, protocol.TypeGroupJoin, protocol.GroupJoinRequest{GroupID: groupID}, &r); err != nil {
		return GroupFullInfo{}, fmt.Errorf("herald: join group: %w", err)
	}
	if r.Pending {
		return groupFromWire(r.Group), ErrGroupJoinPending
	}
	return groupFromWire(r.Group), nil
}

// LeaveGroup removes this client's user from a group. The owner cannot
// leave (CodeOwnerCannotLeave): it transfers ownership or dismisses the
// group.
func (c *Client) LeaveGroup(ctx context.Context, groupID string) error {
	if err := c.call(ctx, protocol.TypeGroupLeave, protocol.GroupRequest{GroupID: groupID}, nil); err != nil {
		return fmt.Errorf("herald: leave group: %w", err)
	}
	return nil
}

// DismissGroup ends a group (owner only): every member gets
// EventHandler.GroupStateChanged with GroupEventDismissed, and every later
// request on the group fails with CodeGroupDismissed.
func (c *Client) DismissGroup(ctx context.Context, groupID string) error {
	if err := c.call(ctx, protocol.TypeGroupDismiss, protocol.GroupRequest{GroupID: groupID}, nil); err != nil {
		return fmt.Errorf("herald: dismiss group: %w", err)
	}
	return nil
}

// InviteUsersIntoGroup adds users to a group; any member may invite (the
// argument order is the seed's: users first). Users it cannot add (invalid
// IDs, users that never logged in, members already) are in the result's
// ErrorUserList; when none can be added it fails with the first one's code
// (CodeAlreadyGroupMember when every user named is a member).
func (c *Client) InviteUsersIntoGroup(ctx context.Context, userIDs []string, groupID string) (GroupUsersResult, error) {
	var r protocol.GroupUsersReply
	if err := c.call(ctx, protocol.TypeGroupInvite, protocol.GroupUsersRequest{GroupID: groupID, UserIDs: userIDs}, &r); err != nil {
		return GroupUsersResult{}, fmt.Errorf("herald: invite users into group: %w", err)
	}
	return GroupUsersResult{GroupID: groupID, UserIDs: r.UserIDs, MemberCount: r.MemberCount, ErrorUserList: groupErrorsFromWire(r.ErrorUserList)}, nil
}

// KickGroupMembers removes members from a group (owner, or an admin for
// plain members).
func (c *Client) KickGroupMembers(ctx context.Context, userIDs []string, groupID string) (GroupUsersResult, error) {
	var r protocol.GroupUsersReply
	if err := c.call(ctx, protocol.TypeGroupKick, protocol.GroupUsersRequest{GroupID: groupID, UserIDs: userIDs}, &r); err != nil {
		return GroupUsersResult{}, fmt.Errorf("herald: kick group members: %w", err)
	}
	return GroupUsersResult{GroupID: groupID, UserIDs: r.UserIDs, MemberCount: r.MemberCount, ErrorUserList: groupErrorsFromWire(r.ErrorUserList)}, nil
}

// TransferGroupOwner makes toUserID, a member, the group's owner; this
// client's user becomes a plain member.
func (c *Client) TransferGroupOwner(ctx context.Context, toUserID, groupID string) error {
	if err := c.call(ctx, protocol.TypeGroupTransfer, protocol.GroupTransferRequest{GroupID: groupID, ToUserID: toUserID}, nil); err != nil {
		return fmt.Errorf("herald: transfer group owner: %w", err)
	}
	return nil
}

// SetGroupMemberRole makes forUserID an admin or a plain member (owner
// only; use TransferGroupOwner for the owner's role).
func (c *Client) SetGroupMemberRole(ctx context.Context, role GroupMemberRole, forUserID, groupID string) error {
	req := protocol.GroupSetRoleRequest{GroupID: groupID, UserID: forUserID, Role: int(role)}
	if err := c.call(ctx, protocol.TypeGroupSetRole, req, nil); err != nil {
		return fmt.Errorf("herald: set group member role: %w", err)
	}
	return nil
}

// QueryGroupInfo returns a group as this client's user sees it (members
// only).
func (c *Client) QueryGroupInfo(ctx context.Context, groupID string) (GroupFullInfo, error) {
	var r protocol.GroupReply
	if err := c.call(ctx, protocol.TypeGroupInfo, protocol.GroupRequest{GroupID: groupID}, &r); err != nil {
		return GroupFullInfo{}, fmt.Errorf("herald: query group info: %w", err)
	}
	return groupFromWire(r.Group), nil
}

// QueryGroupMemberList returns a page of a group's members in user ID
// order, and the NextFlag of the next page: empty after the last page.
func (c *Client) QueryGroupMemberList(ctx context.Context, groupID string, config GroupMemberQueryConfig) ([]GroupMemberInfo, string, error) {
	req := protocol.GroupMembersRequest{GroupID: groupID, Count: config.Count, Next: config.NextFlag}
	var r protocol.GroupMembersReply
	if err := c.call(ctx, protocol.TypeGroupMembers, req, &r); err != nil {
		return nil, "", fmt.Errorf("herald: query group member list: %w", err)
	}
	return membersFromWire(r.Members), r.Next, nil
}

// QueryGroupList returns every group this client's user is a member of, in
// group ID order (it pages through the server's list).
func (c *Client) QueryGroupList(ctx context.Context) ([]GroupFullInfo, error) {
	var out []GroupFullInfo
	req := protocol.GroupListRequest{Count: protocol.MaxPageCount}
	for {
		var r protocol.GroupListReply
		if err := c.call(ctx, protocol.TypeGroupList, req, &r); err != nil {
			return nil, fmt.Errorf("herald: query group list: %w", err)
		}
		for _, g := range r.Groups {
			out = append(out, groupFromWire(g))
		}
		if r.Next == "" || r.Next == req.Next || len(r.Groups) == 0 {
			return out, nil
		}
		req.Next = r.Next
	}
}

// groupEvent decodes a group event for the app's handlers; it reports
// whether f was one.
func (c *Client) groupEvent(f protocol.Frame) bool {
	var fn func(EventHandler)
	switch f.Type {
	case protocol.EventGroupStateChanged:
		var d protocol.GroupStateChanged
		if !c.decodeEvent(f, &d) {
			return true
		}
		info := GroupStateChangedInfo{
			State: groupStateFromWire(d.State), Event: groupEventFromWire(d.Event),
			OperatedBy: d.OperatedBy, GroupInfo: groupFromWire(d.Group),
		}
		if info.GroupInfo.GroupID == "" {
			info.GroupInfo.GroupID = d.GroupID
		}
		fn = func(h EventHandler) {
			if h.GroupStateChanged != nil {
				h.GroupStateChanged(info)
			}
		}
	case protocol.EventGroupMemberStateChanged:
		var d protocol.GroupMemberStateChanged
		if !c.decodeEvent(f, &d) {
			return true
		}
		info := GroupMemberStateChangedInfo{
			GroupID: d.GroupID, State: groupStateFromWire(d.State), Event: groupEventFromWire(d.Event),
			UserIDs: d.UserIDs, OperatedBy: d.OperatedBy, MemberCount: d.MemberCount,
		}
		fn = func(h EventHandler) {
			if h.GroupMemberStateChanged != nil {
				h.GroupMemberStateChanged(info)
			}
		}
	case protocol.EventGroupMemberInfoUpdated:
		var d protocol.GroupMemberInfoUpdated
		if !c.decodeEvent(f, &d) {
			return true
		}
		info := GroupMemberInfoUpdatedInfo{GroupID: d.GroupID, Members: membersFromWire(d.Members), OperatedBy: d.OperatedBy}
		fn = func(h EventHandler) {
			if h.GroupMemberInfoUpdated != nil {
				h.GroupMemberInfoUpdated(info)
			}
		}
	default:
		var ok bool
		if fn, ok = c.groupJoinEvent(f); !ok {
			if fn, ok = c.conversationEvent(f); !ok {
				return false
			}
		}
		if fn == nil {
			return true
		}
	}
	c.enqueue(&event{kind: evNotify, notify: fn})
	return true
}

// decodeEvent decodes an event's payload, logging one that does not decode.
func (c *Client) decodeEvent(f protocol.Frame, v any) bool {
	if err := json.Unmarshal(f.Data, v); err != nil {
		c.log.Warn("herald: undecodable event", "type", f.Type, "err", err)
		return false
	}
	return true
}
