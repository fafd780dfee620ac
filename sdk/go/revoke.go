package herald

import (
	"context"
	"encoding/json"
	"time"

	"github.com/heraldim/herald/internal/protocol"
)

// MessageTypeRevoke is a revoked message's type (ZIMMessageType.revoke):
// its body is gone and Revoke says who revoked it.
const MessageTypeRevoke MessageType = protocol.MessageRevoke

// MessageRevokeStatus says who revoked a message (ZIMMessageRevokeStatus).
type MessageRevokeStatus int

// The revoke statuses.
const (
	MessageRevokeStatusSelfRevoke       MessageRevokeStatus = protocol.RevokeStatusSelf
	MessageRevokeStatusServiceAPIRevoke MessageRevokeStatus = protocol.RevokeStatusServerAPI
	MessageRevokeStatusGroupAdminRevoke MessageRevokeStatus = protocol.RevokeStatusGroupAdmin
	MessageRevokeStatusGroupOwnerRevoke MessageRevokeStatus = protocol.RevokeStatusGroupOwner
)

// RevokeInfo is what a revoked message (ZIMRevokeMessage) adds to its
// place in the conversation.
type RevokeInfo struct {
	RevokeStatus       MessageRevokeStatus
	RevokeTimestamp    time.Time
	OperatedUserID     string
	RevokeExtendedData string
	// OriginalMessageType is the type the message had.
	OriginalMessageType MessageType
}

// MessageRevokeConfig is ZIMMessageRevokeConfig: RevokeExtendedData is kept
// with the revoked message; PushConfig, when set, is what replaces the
// notification of the message already shown on the recipients' phones.
type MessageRevokeConfig struct {
	RevokeExtendedData string
	PushConfig         *PushConfig
}

// RevokeMessage revokes msg (one with its MessageID, ConversationID and
// ConversationType, as delivered or sent) for everyone (ZIM
// revokeMessage): its sender may within the server's revoke window, a
// group's owner and admins any time. It returns the revoked message.
func (c *Client) RevokeMessage(ctx context.Context, msg Message, config MessageRevokeConfig) (Message, error) {
	req := protocol.RevokeMessageRequest{ConversationID: msg.ConversationID, ConversationType: int(msg.ConversationType),
		MessageID: msg.MessageID, Config: protocol.MessageRevokeConfig{RevokeExtendedData: config.RevokeExtendedData,
			PushConfig: pushConfigToWire(config.PushConfig)}}
	var r protocol.RevokeMessageReply
	if err := c.call(ctx, protocol.TypeRevokeMessage, req, &r); err != nil {
		return Message{}, err
	}
	return messageFromWire(r.Message), nil
}

// revokeFromWire is a wire message's RevokeInfo (nil when not revoked).
func revokeFromWire(m protocol.Message) *RevokeInfo {
	r := m.RevokeFields
	if r == nil {
		return nil
	}
	return &RevokeInfo{RevokeStatus: MessageRevokeStatus(r.RevokeStatus), RevokeTimestamp: fromMillis(r.RevokeTimestamp),
		OperatedUserID: r.OperatedUserID, RevokeExtendedData: r.RevokeExtendedData, OriginalMessageType: MessageType(r.OriginalMessageType)}
}

// revokeEvent handles messageRevokeReceived.
func (c *Client) revokeEvent(f protocol.Frame) bool {
	if f.Type != protocol.EventMessageRevokeReceived {
		return false
	}
	var d protocol.MessageRevokeReceived
	if err := json.Unmarshal(f.Data, &d); err != nil {
		c.log.Warn("herald: undecodable event", "type", f.Type, "err", err)
		return true
	}
	msgs := make([]Message, 0, len(d.MessageList))
	for _, m := range d.MessageList {
		msgs = append(msgs, messageFromWire(m))
	}
	c.enqueue(&event{kind: evNotify, notify: func(h EventHandler) {
		if h.MessageRevokeReceived != nil {
			h.MessageRevokeReceived(msgs)
		}
	}})
	return true
}
