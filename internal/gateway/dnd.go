package gateway

import (
	"github.com/heraldim/herald/internal/im"
	"github.com/heraldim/herald/internal/protocol"
)

// handleConversation handles the conversation setting requests and
// reports whether f was one.
func (s *Session) handleConversation(f protocol.Frame) bool {
	if f.Type != protocol.TypeSetConversationNotificationStatus {
		return false
	}
	query(s, f, wire(s.g.svc.SetConversationNotificationStatus, notifyStatusRequest, notifyStatusReply))
	return true
}

func notifyStatusRequest(r protocol.SetConversationNotificationStatusRequest) im.NotifyStatusRequest {
	return im.NotifyStatusRequest{Status: r.Status, ConversationID: r.ConversationID, ConvType: r.ConversationType}
}

func notifyStatusReply(r im.NotifyStatusResult) protocol.SetConversationNotificationStatusReply {
	return protocol.SetConversationNotificationStatusReply{ConversationID: r.ConversationID,
		ConversationType: r.ConvType, Status: r.Status}
}

// conversationChanged is the conversationChanged event of ev: one
// updated conversation.
func conversationChanged(ev im.ConversationChanged) protocol.ConversationChanged {
	return protocol.ConversationChanged{InfoList: []protocol.ConversationChangeInfo{{
		Event: protocol.ConversationEventUpdated, Conversation: WireConversation(ev.Conversation, ev.UserID)}}}
}
