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
