package herald

import (
	"fmt"
	"time"

	"github.com/heraldim/herald/internal/protocol"
)

// ConversationType tells peer (one-to-one) conversations from group ones.
// Values are numbered as in the seed's SDK.
type ConversationType int

// Conversation types.
const (
	// ConversationTypePeer is a one-to-one conversation; its ID, seen from
	// either participant, is the other participant's user ID.
	ConversationTypePeer ConversationType = protocol.ConversationPeer
	// ConversationTypeGroup is a group conversation; its ID is the group's
	// ID (see CreateGroup). Only members may send to it or read it.
	ConversationTypeGroup ConversationType = protocol.ConversationGroup
)

// MessageType is the kind of a message's body.
type MessageType int

// Message types, numbered as in the seed's SDK.
const (
	// MessageTypeText carries Text.
	MessageTypeText MessageType = protocol.MessageText
	// MessageTypeCommand carries Data. Command messages are delivered only to
	// sessions online when they are sent: they are never stored, have no
	// ConversationSeq, are never pushed and never synced.
	MessageTypeCommand MessageType = protocol.MessageCommand
	// MessageTypeCustom carries Data and an app-defined SubType.
	MessageTypeCustom MessageType = protocol.MessageCustom
)

// MessagePriority is a message's delivery priority.
type MessagePriority int

// Priorities, numbered as in the seed's SDK. Zero in a MessageSendConfig
// means MessagePriorityMedium.
const (
	MessagePriorityLow    MessagePriority = protocol.PriorityLow
	MessagePriorityMedium MessagePriority = protocol.PriorityMedium
	MessagePriorityHigh   MessagePriority = protocol.PriorityHigh
)

// ConnectionState is the state of a Client's connection, reported through
// EventHandler.ConnectionStateChanged.
type ConnectionState int

// Connection states, numbered as in the seed's SDK.
const (
	// ConnectionStateDisconnected: not logged in (before Login, after Logout,
	// a kick, an expired token or a failed Login).
	ConnectionStateDisconnected ConnectionState = 0
	// ConnectionStateConnecting: Login is in progress.
	ConnectionStateConnecting ConnectionState = 1
	// ConnectionStateConnected: logged in; messages flow.
	ConnectionStateConnected ConnectionState = 2
	// ConnectionStateReconnecting: the connection was lost and the SDK is
	// reconnecting by itself.
	ConnectionStateReconnecting ConnectionState = 3
)

// String returns the state's name.
func (s ConnectionState) String() string {
	switch s {
	case ConnectionStateDisconnected:
		return "disconnected"
	case ConnectionStateConnecting:
		return "connecting"
	case ConnectionStateConnected:
		return "connected"
	case ConnectionStateReconnecting:
		return "reconnecting"
	}
	return fmt.Sprintf("ConnectionState(%d)", int(s))
}

// ConnectionEvent says why the connection state changed.
type ConnectionEvent int

// Connection events, numbered as in the seed's SDK.
const (
	// ConnectionEventSuccess: a login succeeded, or Logout completed.
	ConnectionEventSuccess ConnectionEvent = 0
	// ConnectionEventActiveLogin: the app called Login.
	ConnectionEventActiveLogin ConnectionEvent = 1
	// ConnectionEventLoginTimeout: a login did not complete in time.
	ConnectionEventLoginTimeout ConnectionEvent = 2
	// ConnectionEventLoginInterrupted: the connection was lost or a login
	// failed; extended carries the close code or error code.
	ConnectionEventLoginInterrupted ConnectionEvent = 3
	// ConnectionEventKickedOut: another login of the same user took this
	// session's place (close 4001), or the app's server kicked the user
	// (close 4008, reason 3); extended carries "closeCode", "reason" and
	// "message". The SDK does not reconnect.
	ConnectionEventKickedOut ConnectionEvent = 4
	// ConnectionEventTokenExpired: the token expired (close 4004, login
	// error 40102) or the app's server revoked it (close 4007, login error
	// 40108); log in again with a fresh one (or renew it earlier, on
	// EventHandler.TokenWillExpire). The SDK does not reconnect.
	ConnectionEventTokenExpired ConnectionEvent = 5
)

// String returns the event's name.
func (e ConnectionEvent) String() string {
	switch e {
	case ConnectionEventSuccess:
		return "success"
	case ConnectionEventActiveLogin:
		return "activeLogin"
	case ConnectionEventLoginTimeout:
		return "loginTimeout"
	case ConnectionEventLoginInterrupted:
		return "loginInterrupted"
	case ConnectionEventKickedOut:
		return "kickedOut"
	case ConnectionEventTokenExpired:
		return "tokenExpired"
	}
	return fmt.Sprintf("ConnectionEvent(%d)", int(e))
}

// Message is a message sent or received.
//
// To send one, fill the body (Type and Text, or Type, Data and SubType; the
// New*Message helpers do it) and optionally LocalMessageID, SearchedContent
// and ExtendedData; SendMessage fills in the rest.
type Message struct {
	// Type is the kind of body.
	Type MessageType
	// Text is the body of a text message.
	Text string
	// Data is the body of a command or custom message.
	Data []byte
	// SubType is an app-defined kind of custom message.
	SubType int
	// SearchedContent is a short searchable summary of a custom message.
	SearchedContent string
	// ExtendedData is opaque app data carried with the message.
	ExtendedData string

	// MessageID is the server's ID of the message.
	MessageID string
	// LocalMessageID is the sender's ID of the message; resending with the
	// same LocalMessageID and content stores the message once.
	LocalMessageID string
	// ConversationID is the conversation seen from this client's user: for a
	// peer conversation, the other user's ID.
	ConversationID string
	// ConversationType is the kind of conversation.
	ConversationType ConversationType
	// ConversationSeq orders the messages of a conversation, from 1 without
	// gaps; zero for command messages, which are not stored.
	ConversationSeq int64
	// SenderUserID is the user who sent the message.
	SenderUserID string
	// Priority is the message's priority.
	Priority MessagePriority
	// Timestamp is when the server accepted the message (for imported
	// history, the original send time: order by ConversationSeq).
	Timestamp time.Time
	// IsSystem marks a message the app's server sent as the system
	// (SenderUserID is then SystemUserID), not as one of its users.
	IsSystem bool
	// Revoke is set on a revoked message (Type MessageTypeRevoke).
	Revoke *RevokeInfo
	// MentionedUserIDs and IsMentionAll are the message's mention list
	// (ZIM's mentionedUserIDs, isMentionAll; group messages only, up to 50
	// users). Set them before SendMessage. A mentioned user is pushed even
	// in a conversation it set to do-not-disturb or mentions-only.
	MentionedUserIDs []string
	IsMentionAll     bool
}

// SystemUserID is the sender of system messages: a user receives them in
// the peer conversation with this ID. Nobody logs in as it.
const SystemUserID = protocol.SystemUserID

// NewTextMessage returns a text message with body text.
func NewTextMessage(text string) Message {
	return Message{Type: MessageTypeText, Text: text}
}

// NewCommandMessage returns a command message with body data.
func NewCommandMessage(data []byte) Message {
	return Message{Type: MessageTypeCommand, Data: data}
}

// NewCustomMessage returns a custom message with body data and an
// app-defined subType.
func NewCustomMessage(data []byte, subType int) Message {
	return Message{Type: MessageTypeCustom, Data: data, SubType: subType}
}

// PushConfig asks for an offline push to recipients without a live session.
// A message sent without one is never pushed.
type PushConfig struct {
	// Title of the notification.
	Title string
	// Content is the notification's text.
	Content string
	// Payload is an opaque string handed to the receiving app.
	Payload string
	// ResourcesID names app-level, per-vendor delivery options (channel,
	// sound, ...) configured on the server.
	ResourcesID string
	// EnableBadge sets the app icon's badge (ZIMPushConfig enableBadge):
	// the recipient's unread messages across its conversations not in
	// do-not-disturb, without this message, plus BadgeIncrement (0-99;
	// usually 1, counting this message).
	EnableBadge    bool
	BadgeIncrement int
}

// MessageSendConfig configures one SendMessage.
type MessageSendConfig struct {
	// Priority of the message; zero means MessagePriorityMedium.
	Priority MessagePriority
	// PushConfig, when set, asks for an offline push.
	PushConfig *PushConfig
}

// MessageReceivedInfo describes a batch of received messages.
type MessageReceivedInfo struct {
	// IsOfflineMessage is true for messages delivered by the sync that
	// follows a login (sent while this device was away), false for live ones.
	IsOfflineMessage bool
}

// HistoryQueryConfig pages through a conversation's history.
type HistoryQueryConfig struct {
	// NextMessage is the last message of the previous page (the oldest, or
	// with Reverse the newest); nil for the first page, which starts at the
	// newest message (with Reverse, at the first).
	NextMessage *Message
	// Count is the page size; zero means 20, at most 100.
	Count int
	// Reverse pages forward, from the first message to the newest: each
	// page is oldest first and follows NextMessage.
	Reverse bool
}

// Conversation is one entry of the conversation list.
type Conversation struct {
	// ConversationID is the conversation seen from this client's user: for
	// a peer conversation, the other user's ID.
	ConversationID string
	// ConversationType is the kind of conversation.
	ConversationType ConversationType
	// UnreadMessageCount counts the messages not marked read.
	UnreadMessageCount int64
	// LastMessage is the newest message, nil if there is none.
	LastMessage *Message
	// OrderKey orders the list, most recently active first; it is what
	// ConversationQueryConfig.NextConversation pages by.
	OrderKey int64
	// NotificationStatus is the user's setting of the conversation
	// (SetConversationNotificationStatus).
	NotificationStatus ConversationNotificationStatus
}

// ConversationQueryConfig pages through the conversation list.
type ConversationQueryConfig struct {
	// NextConversation is the last conversation of the previous page; nil
	// for the first page.
	NextConversation *Conversation
	// Count is the page size; zero means 20, at most 100.
	Count int
}

// messageFromWire converts a delivered message.
func messageFromWire(m protocol.Message) Message {
	return Message{
		Type:             MessageType(m.Type),
		Text:             m.Text,
		Data:             m.Data,
		SubType:          m.SubType,
		SearchedContent:  m.SearchedContent,
		ExtendedData:     m.ExtendedData,
		MessageID:        m.MessageID,
		LocalMessageID:   m.LocalMessageID,
		ConversationID:   m.ConversationID,
		ConversationType: ConversationType(m.ConversationType),
		ConversationSeq:  m.ConversationSeq,
		SenderUserID:     m.SenderUserID,
		Priority:         MessagePriority(m.Priority),
		Timestamp:        fromMillis(m.Timestamp),
		IsSystem:         m.System,
		Revoke:           revokeFromWire(m),
		MentionedUserIDs: m.MentionedUserIDs,
		IsMentionAll:     m.IsMentionAll,
	}
}

func conversationFromWire(c protocol.Conversation) Conversation {
	out := Conversation{
		ConversationID:     c.ConversationID,
		ConversationType:   ConversationType(c.ConversationType),
		UnreadMessageCount: c.UnreadMessageCount,
		OrderKey:           int64(c.OrderKey),
		NotificationStatus: ConversationNotificationStatus(c.NotificationStatus),
	}
	if c.LastMessage != nil {
		m := messageFromWire(*c.LastMessage)
		out.LastMessage = &m
	}
	return out
}

// fromMillis converts a wire timestamp (Unix milliseconds); zero stays zero.
func fromMillis(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}
