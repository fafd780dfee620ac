package gateway

import (
	"context"
	"fmt"

	"github.com/heraldim/herald/internal/im"
	"github.com/heraldim/herald/internal/protocol"
	"github.com/heraldim/herald/internal/route"
)

// The gateway speaks the wire types of package protocol; the messaging
// core (Service) takes and returns its own domain types. The converters
// below are the one place each wire request or reply maps to im's, and
// the wrappers give query the wire signature it decodes and encodes.

func historyQuery(r protocol.HistoryRequest) im.HistoryQuery {
	return im.HistoryQuery{
		ConversationID: r.ConversationID, ConvType: r.ConversationType,
		BeforeSeq: r.BeforeSeq, AfterSeq: r.AfterSeq, Count: r.Count,
	}
}

func historyReply(p im.HistoryPage, viewer string) protocol.HistoryReply {
	out := protocol.HistoryReply{Messages: make([]protocol.Message, 0, len(p.Messages)), HasMore: p.HasMore}
	for i := range p.Messages {
		out.Messages = append(out.Messages, im.ToWire(&p.Messages[i], viewer, false))
	}
	return out
}

func conversationQuery(r protocol.ConversationListRequest) im.ConversationQuery {
	return im.ConversationQuery{Count: r.Count, Before: int64(r.Before)}
}

func conversationListReply(p im.ConversationPage, viewer string) protocol.ConversationListReply {
	out := protocol.ConversationListReply{Conversations: make([]protocol.Conversation, 0, len(p.Conversations)), HasMore: p.HasMore}
	for _, c := range p.Conversations {
		out.Conversations = append(out.Conversations, WireConversation(c, viewer))
	}
	return out
}

// WireConversation is one conversation of viewer on the wire, as
// conversationList and conversationChanged show it.
func WireConversation(c im.Conversation, viewer string) protocol.Conversation {
	pc := protocol.Conversation{
		ConversationID:     c.PeerID,
		ConversationType:   c.ConvType,
		UnreadMessageCount: c.Unread,
		OrderKey:           protocol.OrderKey(c.OrderKey),
		NotificationStatus: max(c.NotifyStatus, protocol.NotifyStatusNotify),
	}
	if c.LastMsg != nil {
		w := im.ToWire(c.LastMsg, viewer, false)
		pc.LastMessage = &w
	}
	return pc
}

func readMark(r protocol.MarkReadRequest) im.ReadMark {
	return im.ReadMark{ConversationID: r.ConversationID, ConvType: r.ConversationType, Seq: r.Seq}
}

func (s *Session) history(ctx context.Context, appID, userID string, req protocol.HistoryRequest) (protocol.HistoryReply, error) {
	p, err := s.g.svc.History(ctx, appID, userID, historyQuery(req))
	if err != nil {
		return protocol.HistoryReply{}, err
	}
	return historyReply(p, userID), nil
}

func (s *Session) conversations(ctx context.Context, appID, userID string, req protocol.ConversationListRequest) (protocol.ConversationListReply, error) {
	p, err := s.g.svc.Conversations(ctx, appID, userID, conversationQuery(req))
	if err != nil {
		return protocol.ConversationListReply{}, err
	}
	return conversationListReply(p, userID), nil
}

func (s *Session) markRead(ctx context.Context, appID, userID string, req protocol.MarkReadRequest) (protocol.MarkReadReply, error) {
	n, err := s.g.svc.MarkRead(ctx, appID, userID, readMark(req))
	if err != nil {
		return protocol.MarkReadReply{}, err
	}
	return protocol.MarkReadReply{UnreadMessageCount: n}, nil
}

// The group replies on the wire. They are exported because the admin REST
// API answers with the same wire forms; they are the one place each group
// reply maps from im's types.

// WireUserErrors is a group request's user errors on the wire (nil stays
// nil, so an empty list is omitted).
func WireUserErrors(es []im.UserError) []protocol.GroupErrorUser {
	if es == nil {
		return nil
	}
	out := make([]protocol.GroupErrorUser, len(es))
	for i, e := range es {
		out[i] = protocol.GroupErrorUser(e)
	}
	return out
}

// WireGroupResult is a create's, join's or info's reply on the wire. A
// pending join carries the group's ID and join mode only.
func WireGroupResult(r im.GroupResult) protocol.GroupReply {
	out := protocol.GroupReply{ErrorUserList: WireUserErrors(r.ErrorUsers), Pending: r.Pending}
	if r.Pending {
		out.Group = protocol.Group{GroupID: r.Group.ID, JoinMode: r.Group.JoinMode}
	} else {
		out.Group = WireGroup(r.Group, r.MyRole)
	}
	if r.Application != nil {
		app := WireApplication(*r.Application)
		out.Application = &app
	}
	return out
}

// WireGroupUsers is an invite's or a kick's reply on the wire.
func WireGroupUsers(r im.GroupUsersResult) protocol.GroupUsersReply {
	return protocol.GroupUsersReply{UserIDs: r.UserIDs, MemberCount: r.MemberCount, ErrorUserList: WireUserErrors(r.ErrorUsers)}
}

// WireGroupMembers is a page of members on the wire.
func WireGroupMembers(p im.GroupMembersPage) protocol.GroupMembersReply {
	out := protocol.GroupMembersReply{Members: make([]protocol.GroupMember, 0, len(p.Members)), Next: p.Next}
	for _, m := range p.Members {
		out.Members = append(out.Members, WireGroupMember(m))
	}
	return out
}

// WireGroupList is a page of the user's groups on the wire.
func WireGroupList(p im.GroupListPage) protocol.GroupListReply {
	out := protocol.GroupListReply{Groups: make([]protocol.Group, 0, len(p.Groups)), Next: p.Next}
	for _, g := range p.Groups {
		out.Groups = append(out.Groups, WireGroup(g.Group, g.Role))
	}
	return out
}

// WireJoinRequests is a page of join requests on the wire.
func WireJoinRequests(p im.JoinRequestPage) protocol.GroupApplicationListReply {
	out := protocol.GroupApplicationListReply{Applications: make([]protocol.GroupApplication, 0, len(p.Applications)), Next: p.Next}
	for _, r := range p.Applications {
		out.Applications = append(out.Applications, WireApplication(r))
	}
	return out
}

// WireGroup is a group on the wire as a member of role sees it (0: not a
// member, or the app's server).
func WireGroup(g im.Group, role int) protocol.Group {
	return protocol.Group{
		GroupID: g.ID, Name: g.Name, ExtendedData: g.ExtendedData, OwnerUserID: g.Owner,
		MemberCount: g.MemberCount, CreatedAt: g.CreatedAt.UnixMilli(), MyRole: role, JoinMode: g.JoinMode,
	}
}

// WireGroupMember is a member on the wire.
func WireGroupMember(m im.GroupMember) protocol.GroupMember {
	return protocol.GroupMember{UserID: m.UserID, Role: m.Role, JoinedAt: m.JoinedAt.UnixMilli()}
}

// WireApplication is a join request on the wire.
func WireApplication(r im.JoinRequest) protocol.GroupApplication {
	state := protocol.ApplicationPending
	switch r.State {
	case im.JoinAccepted:
		state = protocol.ApplicationAccepted
	case im.JoinRejected:
		state = protocol.ApplicationRejected
	}
	return protocol.GroupApplication{GroupID: r.GroupID, UserID: r.UserID, Message: r.Message, State: state,
		CreatedAt: r.CreatedAt.UnixMilli(), UpdatedAt: r.UpdatedAt.UnixMilli()}
}

// WireGroupEvent is a group event on the wire: its event type and
// payload. An event of a type it does not know is a programming error: it
// panics, as a silent drop would hide it.
func WireGroupEvent(ev im.GroupEvent) (typ string, v any) {
	switch ev := ev.(type) {
	case im.GroupStateChanged:
		out := protocol.GroupStateChanged{GroupID: ev.GroupID, State: ev.State, Event: ev.Event, OperatedBy: ev.OperatedBy}
		if ev.Group != nil {
			out.Group = WireGroup(*ev.Group, ev.Role)
		}
		return protocol.EventGroupStateChanged, out
	case im.GroupMemberStateChanged:
		return protocol.EventGroupMemberStateChanged, protocol.GroupMemberStateChanged{GroupID: ev.GroupID, State: ev.State,
			Event: ev.Event, UserIDs: ev.UserIDs, OperatedBy: ev.OperatedBy, MemberCount: ev.MemberCount}
	case im.GroupMemberInfoUpdated:
		var ms []protocol.GroupMember // nil stays null, as it always was
		for _, m := range ev.Members {
			ms = append(ms, WireGroupMember(m))
		}
		return protocol.EventGroupMemberInfoUpdated, protocol.GroupMemberInfoUpdated{GroupID: ev.GroupID, Members: ms, OperatedBy: ev.OperatedBy}
	case im.GroupApplicationListChanged:
		return protocol.EventGroupApplicationListChanged, protocol.GroupApplicationListChanged{Action: ev.Action,
			Application: WireApplication(ev.Application)}
	case im.GroupApplicationUpdated:
		return protocol.EventGroupApplicationUpdated, protocol.GroupApplicationUpdated{Application: WireApplication(ev.Application),
			OperatedBy: ev.OperatedBy}
	case im.MessageRevoked:
		return protocol.EventMessageRevokeReceived, wireRevoked(ev)
	case im.ConversationChanged:
		return protocol.EventConversationChanged, conversationChanged(ev)
	case im.GroupJoinModeUpdated:
		return protocol.EventGroupJoinModeUpdated, protocol.GroupJoinModeUpdated{GroupID: ev.GroupID, JoinMode: ev.JoinMode,
			OperatedBy: ev.OperatedBy}
	}
	panic(fmt.Sprintf("gateway: unknown group event %T", ev))
}

// WireRouter is a router that speaks wire events (route.Events), as a
// router over several nodes' hubs does: IMRouter makes it an im.Router.
type WireRouter interface {
	Route(m *im.Message, origin route.SessionID)
	Online(appID, userID string) bool
	RouteGroup(m *im.Message, members []im.Recipient, origin route.SessionID)
	SendEvent(appID, userID, typ string, v any)
}

// IMRouter is the messaging core's router over r: group events converted
// to the wire (WireGroupEvent) and sent with r.SendEvent.
func IMRouter(r WireRouter) im.Router { return imRouter{r} }

type imRouter struct{ WireRouter }

func (r imRouter) GroupEvent(appID, userID string, ev im.GroupEvent) {
	typ, v := WireGroupEvent(ev)
	r.SendEvent(appID, userID, typ, v)
}
