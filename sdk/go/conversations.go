package herald

import (
	"context"
	"fmt"

	"github.com/heraldim/herald/internal/protocol"
)

// ConversationNotificationStatus is a user's notification setting of one
// conversation (ZIM's ZIMConversationNotificationStatus, plus Herald's
// mentions-only for groups).
type ConversationNotificationStatus int

// The statuses.
const (
	// ConversationNotificationStatusNotify pushes every message with a
	// push config (the status of a conversation never set).
	ConversationNotificationStatusNotify ConversationNotificationStatus = protocol.NotifyStatusNotify
	// ConversationNotificationStatusDoNotDisturb pushes only the messages
	// that mention the user or @all; its unread messages still count but
	// are left out of the badge.
	ConversationNotificationStatusDoNotDisturb ConversationNotificationStatus = protocol.NotifyStatusDoNotDisturb
	// ConversationNotificationStatusMentionsOnly (groups only) pushes only
	// the messages that mention the user or @all.
	ConversationNotificationStatusMentionsOnly ConversationNotificationStatus = protocol.NotifyStatusMentionsOnly
)

// ConversationEvent says how a conversation changed (ZIMConversationEvent).
type ConversationEvent int

// The conversation events.
const (
	ConversationEventAdded   ConversationEvent = protocol.ConversationEventAdded
	ConversationEventUpdated ConversationEvent = protocol.ConversationEventUpdated
)

// ConversationChangeInfo is one changed conversation
// (EventHandler.ConversationChanged).
type ConversationChangeInfo struct {
	Event        ConversationEvent
	Conversation Conversation
}

// SetConversationNotificationStatus sets the user's notification status of
// a conversation for all its devices (ZIM
// setConversationNotificationStatus); every live session of the user,
// this one included, gets EventHandler.ConversationChanged. Mentions-only
// on a peer conversation is refused with CodeInvalidNotifyStatus.
func (c *Client) SetConversationNotificationStatus(ctx context.Context, status ConversationNotificationStatus, conversationID string, convType ConversationType) error {
	req := protocol.SetConversationNotificationStatusRequest{Status: int(status), ConversationID: conversationID, ConversationType: int(convType)}
	var r protocol.SetConversationNotificationStatusReply
	if err := c.call(ctx, protocol.TypeSetConversationNotificationStatus, req, &r); err != nil {
		return fmt.Errorf("herald: set conversation notification status: %w", err)
	}
	return nil
}

// conversationEvent decodes conversationChanged: ok false when f is not
// it, fn nil when it did not decode.
func (c *Client) conversationEvent(f protocol.Frame) (fn func(EventHandler), ok bool) {
	if f.Type != protocol.EventConversationChanged {
		return nil, false
	}
	var d protocol.ConversationChanged
	if !c.decodeEvent(f, &d) {
		return nil, true
	}
	infos := make([]ConversationChangeInfo, len(d.InfoList))
	for i, in := range d.InfoList {
		infos[i] = ConversationChangeInfo{Event: ConversationEvent(in.Event), Conversation: conversationFromWire(in.Conversation)}
	}
	return func(h EventHandler) {
		if h.ConversationChanged != nil {
			h.ConversationChanged(infos)
		}
	}, true
}
