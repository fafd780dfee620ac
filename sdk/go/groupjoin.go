package herald

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/heraldim/herald/internal/protocol"
)

// GroupJoinMode says how a user who is not invited becomes a member of a
// group. Values are ZIM's.
type GroupJoinMode int

// Group join modes.
const (
	// GroupJoinModeAny: JoinGroup makes the user a member.
	GroupJoinModeAny GroupJoinMode = protocol.JoinModeAny
	// GroupJoinModeAuth: JoinGroup (or SendGroupJoinApplication) files a
	// join request that the owner or an admin accepts or rejects. The
	// server's default for new groups.
	GroupJoinModeAuth GroupJoinMode = protocol.JoinModeApproval
	// GroupJoinModeForbid: only invitations add members.
	GroupJoinModeForbid GroupJoinMode = protocol.JoinModeInviteOnly
)

// ErrGroupJoinPending is JoinGroup's error when the group asks for approval:
// the join request was filed, and EventHandler.GroupApplicationUpdated will
// tell its outcome.
var ErrGroupJoinPending = errors.New("herald: join request filed, waiting for approval")

// GroupAdvancedConfig configures CreateGroupWithConfig.
type GroupAdvancedConfig struct {
	// JoinMode is the group's join mode; nil: the server's default
	// (GroupJoinModeAuth).
	JoinMode *GroupJoinMode
}

// GroupCreatedResult is what CreateGroupWithConfig created.
type GroupCreatedResult struct {
	GroupInfo GroupFullInfo
	// ErrorUserList names the users that could not be added, and why
	// (CodeInvalidUserID, CodeUserNotFound); the group was created with
	// the others.
	ErrorUserList []ErrorUserInfo
}

// GroupApplicationState is a join request's state. Values are ZIM's.
type GroupApplicationState int

// Join request states.
const (
	GroupApplicationStateWaiting  GroupApplicationState = 1
	GroupApplicationStateAccepted GroupApplicationState = 2
	GroupApplicationStateRejected GroupApplicationState = 3
)

func applicationStateFromWire(s string) GroupApplicationState {
	switch s {
	case protocol.ApplicationPending:
		return GroupApplicationStateWaiting
	case protocol.ApplicationAccepted:
		return GroupApplicationStateAccepted
	case protocol.ApplicationRejected:
		return GroupApplicationStateRejected
	}
	return 0
}

// GroupApplicationListChangeAction says how the list of join requests
// changed.
type GroupApplicationListChangeAction string

// GroupApplicationListChangeActionAdded: a user asked to join.
const GroupApplicationListChangeActionAdded GroupApplicationListChangeAction = "added"

// GroupApplicationInfo is a user's request to join a group.
type GroupApplicationInfo struct {
	GroupID string
	// ApplyUserID is the user who asks to join.
	ApplyUserID string
	// Wording is the applicant's message.
	Wording   string
	State     GroupApplicationState
	CreatedAt time.Time
	UpdatedAt time.Time
}

// GroupApplicationUpdatedInfo tells that a join request was accepted or
// rejected (EventHandler.GroupApplicationUpdated).
type GroupApplicationUpdatedInfo struct {
	Application GroupApplicationInfo
	// OperatedBy is the owner or admin who answered; empty for the app's
	// server.
	OperatedBy string
}

// GroupJoinModeUpdatedInfo tells the members that a group's join mode
// changed (EventHandler.GroupJoinModeUpdated).
type GroupJoinModeUpdatedInfo struct {
	GroupID    string
	JoinMode   GroupJoinMode
	OperatedBy string
}

// GroupApplicationListQueryConfig pages through a group's join requests in
// applicant order.
type GroupApplicationListQueryConfig struct {
	// Count is the page size; zero lets the server choose.
	Count int
	// NextFlag is what the previous page returned; empty for the first.
	NextFlag string
}

func applicationFromWire(a protocol.GroupApplication) GroupApplicationInfo {
	return GroupApplicationInfo{GroupID: a.GroupID, ApplyUserID: a.UserID, Wording: a.Message,
		State: applicationStateFromWire(a.State), CreatedAt: fromMillis(a.CreatedAt), UpdatedAt: fromMillis(a.UpdatedAt)}
}

func groupErrorsFromWire(es []protocol.GroupErrorUser) []ErrorUserInfo {
	if len(es) == 0 {
		return nil
	}
	out := make([]ErrorUserInfo, len(es))
	for i, e := range es {
		out[i] = ErrorUserInfo{UserID: e.UserID, Code: int(e.Code), Reason: e.Message}
	}
	return out
}

// CreateGroupWithConfig creates a group with this client's user as its
// owner and userIDs as plain members, in config's join mode. Users that
// cannot be added are in the result's ErrorUserList and the group is
// created with the others. Every member, the owner included, gets
// EventHandler.GroupStateChanged with GroupEventCreated.
//
// Messages go to a group through SendMessage with ConversationTypeGroup
// and the group ID; they arrive through EventHandler.ReceiveGroupMessage.
func (c *Client) CreateGroupWithConfig(ctx context.Context, info GroupInfo, userIDs []string, config GroupAdvancedConfig) (GroupCreatedResult, error) {
	req := protocol.GroupCreateRequest{GroupID: info.GroupID, Name: info.GroupName, ExtendedData: info.ExtendedData, Members: userIDs}
	if config.JoinMode != nil {
		m := int(*config.JoinMode)
		req.JoinMode = &m
	}
	var r protocol.GroupReply
	if err := c.call(ctx, protocol.TypeGroupCreate, req, &r); err != nil {
		return GroupCreatedResult{}, fmt.Errorf("herald: create group: %w", err)
	}
	return GroupCreatedResult{GroupInfo: groupFromWire(r.Group), ErrorUserList: groupErrorsFromWire(r.ErrorUserList)}, nil
}

// SendGroupJoinApplication asks to join a group with a wording (at most 256
// bytes). In a group of GroupJoinModeAuth the request waits for the owner
// or an admin (State GroupApplicationStateWaiting); in one of
// GroupJoinModeAny the user is a member at once (State
// GroupApplicationStateAccepted). A request already waiting fails with
// CodeJoinRequestPending; a group of GroupJoinModeForbid with
// CodeGroupInviteOnly.
func (c *Client) SendGroupJoinApplication(ctx context.Context, groupID, wording string) (GroupApplicationInfo, error) {
	var r protocol.GroupReply
	if err := c.call(ctx, protocol.TypeGroupJoin, protocol.GroupJoinRequest{GroupID: groupID, Message: wording}, &r); err != nil {
		return GroupApplicationInfo{}, fmt.Errorf("herald: send group join application: %w", err)
	}
	if r.Application != nil {
		return applicationFromWire(*r.Application), nil
	}
	return GroupApplicationInfo{GroupID: r.Group.GroupID, ApplyUserID: c.UserID(), Wording: wording, State: GroupApplicationStateAccepted}, nil
}

// UpdateGroupJoinMode changes a group's join mode (owner and admins); the
// members get EventHandler.GroupJoinModeUpdated.
func (c *Client) UpdateGroupJoinMode(ctx context.Context, mode GroupJoinMode, groupID string) error {
	req := protocol.GroupSetJoinModeRequest{GroupID: groupID, JoinMode: int(mode)}
	if err := c.call(ctx, protocol.TypeGroupSetJoinMode, req, nil); err != nil {
		return fmt.Errorf("herald: update group join mode: %w", err)
	}
	return nil
}

// AcceptGroupJoinApplication accepts userID's pending request to join a
// group (owner and admins): the user becomes a member and sees what is
// sent from then on. No pending request fails with CodeNoJoinRequest.
func (c *Client) AcceptGroupJoinApplication(ctx context.Context, userID, groupID string) (GroupApplicationInfo, error) {
	return c.answerApplication(ctx, protocol.TypeGroupAcceptApplication, userID, groupID)
}

// RejectGroupJoinApplication rejects userID's pending request to join a
// group (owner and admins); the user may ask again.
func (c *Client) RejectGroupJoinApplication(ctx context.Context, userID, groupID string) (GroupApplicationInfo, error) {
	return c.answerApplication(ctx, protocol.TypeGroupRejectApplication, userID, groupID)
}

func (c *Client) answerApplication(ctx context.Context, typ, userID, groupID string) (GroupApplicationInfo, error) {
	var r protocol.GroupApplication
	if err := c.call(ctx, typ, protocol.GroupApplicationRequest{GroupID: groupID, UserID: userID}, &r); err != nil {
		return GroupApplicationInfo{}, fmt.Errorf("herald: %s: %w", typ, err)
	}
	return applicationFromWire(r), nil
}

// QueryGroupApplicationList returns a page of a group's join requests
// (each user's latest, waiting or answered) in applicant order, and the
// NextFlag of the next page: empty after the last (owner and admins).
func (c *Client) QueryGroupApplicationList(ctx context.Context, groupID string, config GroupApplicationListQueryConfig) ([]GroupApplicationInfo, string, error) {
	req := protocol.GroupApplicationListRequest{GroupID: groupID, Count: config.Count, Next: config.NextFlag}
	var r protocol.GroupApplicationListReply
	if err := c.call(ctx, protocol.TypeGroupApplicationList, req, &r); err != nil {
		return nil, "", fmt.Errorf("herald: query group application list: %w", err)
	}
	out := make([]GroupApplicationInfo, len(r.Applications))
	for i, a := range r.Applications {
		out[i] = applicationFromWire(a)
	}
	return out, r.Next, nil
}

// groupJoinEvent decodes the join policy's events: ok false when f is none
// of them, fn nil when it did not decode.
func (c *Client) groupJoinEvent(f protocol.Frame) (fn func(EventHandler), ok bool) {
	switch f.Type {
	case protocol.EventGroupApplicationListChanged:
		var d protocol.GroupApplicationListChanged
		if !c.decodeEvent(f, &d) {
			return nil, true
		}
		apps := []GroupApplicationInfo{applicationFromWire(d.Application)}
		action := GroupApplicationListChangeAction(d.Action)
		return func(h EventHandler) {
			if h.GroupApplicationListChanged != nil {
				h.GroupApplicationListChanged(apps, action)
			}
		}, true
	case protocol.EventGroupApplicationUpdated:
		var d protocol.GroupApplicationUpdated
		if !c.decodeEvent(f, &d) {
			return nil, true
		}
		info := GroupApplicationUpdatedInfo{Application: applicationFromWire(d.Application), OperatedBy: d.OperatedBy}
		return func(h EventHandler) {
			if h.GroupApplicationUpdated != nil {
				h.GroupApplicationUpdated(info)
			}
		}, true
	case protocol.EventGroupJoinModeUpdated:
		var d protocol.GroupJoinModeUpdated
		if !c.decodeEvent(f, &d) {
			return nil, true
		}
		info := GroupJoinModeUpdatedInfo{GroupID: d.GroupID, JoinMode: GroupJoinMode(d.JoinMode), OperatedBy: d.OperatedBy}
		return func(h EventHandler) {
			if h.GroupJoinModeUpdated != nil {
				h.GroupJoinModeUpdated(info)
			}
		}, true
	}
	return nil, false
}
