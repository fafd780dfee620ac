package protocol

import "unicode/utf8"

// Message revoke (ZIM revokeMessage / messageRevokeReceived). A revoked
// message keeps its place (messageID, conversationSeq, timestamp) and loses
// its body: it is delivered, synced and listed as a revoke marker of type
// MessageRevoke with the Revoke fields set.
//
// Names and numbers as in ZIM (ZIMMessageType.revoke = 31,
// ZIMMessageRevokeStatus, ZIMRevokeType, ZIMMessageRevokeConfig):
// https://pub.dev/documentation/zego_zim/latest/zego_zim/ZIM/revokeMessage.html
// and the ZIM web SDK's enums (ZIMMessageRevokeStatus SelfRevoke = 0 ...
// GroupOwnerRevoke = 4; ZIMRevokeType TwoWay = 0).

// TypeRevokeMessage revokes a message of a conversation of the user.
const TypeRevokeMessage = "revokeMessage"

// EventMessageRevokeReceived tells every live session of a participant
// that messages were revoked (ZIM messageRevokeReceived).
const EventMessageRevokeReceived = "messageRevokeReceived"

var revokeTypes = []string{TypeRevokeMessage}

// MessageRevoke is the type of a revoked message (ZIMMessageType.revoke).
const MessageRevoke = 31

// RevokeTypeTwoWay is a revoke for every participant (ZIMRevokeType
// twoWay, the only one Herald has).
const RevokeTypeTwoWay = 0

// Revoke statuses: who revoked (ZIMMessageRevokeStatus).
const (
	RevokeStatusSelf       = 0 // the sender
	RevokeStatusServerAPI  = 2 // the app's server (REST)
	RevokeStatusGroupAdmin = 3 // an admin of the group
	RevokeStatusGroupOwner = 4 // the group's owner
)

// MaxRevokeExtendedDataBytes bounds revokeExtendedData (as extendedData).
const MaxRevokeExtendedDataBytes = MaxExtendedDataBytes

// MessageRevokeConfig is ZIMMessageRevokeConfig: revokeExtendedData is
// kept with the revoke marker; pushConfig, when given, is the content of
// the push that withdraws notifications of the message already shown
// (without one, the original push's title with DefaultRevokedContent).
type MessageRevokeConfig struct {
	RevokeExtendedData string      `json:"revokeExtendedData,omitempty"`
	PushConfig         *PushConfig `json:"pushConfig,omitempty"`
}

// DefaultRevokedContent is the content of a withdraw push of a revoke
// without a pushConfig.
const DefaultRevokedContent = "This message was revoked"

// RevokeMessageRequest names the message to revoke in a conversation of
// the user.
type RevokeMessageRequest struct {
	ConversationID   string              `json:"conversationID"`
	ConversationType int                 `json:"conversationType"`
	MessageID        string              `json:"messageID"`
	Config           MessageRevokeConfig `json:"config"`
}

// RevokeMessageReply answers revokeMessage with the revoke marker as the
// revoking user sees it (ZIMMessageRevokedResult.message).
type RevokeMessageReply struct {
	Message Message `json:"message"`
}

// MessageRevokeReceived carries the revoke markers of revoked messages, as
// the receiving user sees them.
type MessageRevokeReceived struct {
	MessageList []Message `json:"messageList"`
}

// RevokeFields are the fields of a revoked message (ZIMRevokeMessage);
// Message embeds them, nil for a message that is not revoked.
type RevokeFields struct {
	RevokeType          int    `json:"revokeType"`
	RevokeStatus        int    `json:"revokeStatus"`
	RevokeTimestamp     int64  `json:"revokeTimestamp"`
	OperatedUserID      string `json:"operatedUserID"`
	RevokeExtendedData  string `json:"revokeExtendedData,omitempty"`
	OriginalMessageType int    `json:"originalMessageType"`
}

// Validate checks a revoke config's fields against their limits.
func (c *MessageRevokeConfig) Validate() *Error {
	if len(c.RevokeExtendedData) > MaxRevokeExtendedDataBytes || !utf8.ValidString(c.RevokeExtendedData) {
		return Errorf(CodeInvalidArgument, "revokeExtendedData over %d bytes or not UTF-8", MaxRevokeExtendedDataBytes)
	}
	if c.PushConfig != nil {
		return ValidatePushConfig(c.PushConfig)
	}
	return nil
}
