package gateway

import (
	"context"

	"github.com/heraldim/herald/internal/im"
	"github.com/heraldim/herald/internal/protocol"
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
		pc := protocol.Conversation{
			ConversationID:     c.PeerID,
			ConversationType:   c.ConvType,
			UnreadMessageCount: c.Unread,
			OrderKey:           protocol.OrderKey(c.OrderKey),
		}
		if c.LastMsg != nil {
			w := im.ToWire(c.LastMsg, viewer, false)
			pc.LastMessage = &w
		}
		out.Conversations = append(out.Conversations, pc)
	}
	return out
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
		out.Group = im.WireGroup(r.Group, r.MyRole)
	}
	if r.Application != nil {
		app := im.WireApplication(*r.Application)
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
		out.Members = append(out.Members, im.WireGroupMember(m))
	}
	return out
}

// WireGroupList is a page of the user's groups on the wire.
func WireGroupList(p im.GroupListPage) protocol.GroupListReply {
	out := protocol.GroupListReply{Groups: make([]protocol.Group, 0, len(p.Groups)), Next: p.Next}
	for _, g := range p.Groups {
		out.Groups = append(out.Groups, im.WireGroup(g.Group, g.Role))
	}
	return out
}

// WireJoinRequests is a page of join requests on the wire.
func WireJoinRequests(p im.JoinRequestPage) protocol.GroupApplicationListReply {
	out := protocol.GroupApplicationListReply{Applications: make([]protocol.GroupApplication, 0, len(p.Applications)), Next: p.Next}
	for _, r := range p.Applications {
		out.Applications = append(out.Applications, im.WireApplication(r))
	}
	return out
}
