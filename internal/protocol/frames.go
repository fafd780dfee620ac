// Package protocol defines Herald's WebSocket wire protocol: JSON frames with
// request IDs and typed replies, their payloads, validation rules, the error
// catalogue and close codes. docs/protocol.md is the prose form of this
// package; the two must agree.
package protocol

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// Version is the protocol version spoken at /v1/ws.
const Version = 1

// Frame is one WebSocket text message in either direction.
//
// A client request carries Type and, for every type but "ack", an ID that the
// reply echoes. A server reply has Type "reply", the request's ID and either
// Data or Error. A server event has an event Type ("message", "kicked", ...)
// and Data, and no ID.
type Frame struct {
	Type  string          `json:"type"`
	ID    string          `json:"id,omitempty"`
	Data  json.RawMessage `json:"data,omitempty"`
	Error *Error          `json:"error,omitempty"`
}

// Request types (client to server).
const (
	TypeLogin            = "login"
	TypeLogout           = "logout"
	TypePing             = "ping"
	TypeRenewToken       = "renewToken"
	TypeSend             = "send"
	TypeAck              = "ack"
	TypeSync             = "sync"
	TypeHistory          = "history"
	TypeConversationList = "conversationList"
	TypeMarkRead         = "markRead"
	TypeUnregisterPush   = "unregisterPush"
	TypeRegisterPush     = "registerPush"
)

// Server frame types.
const (
	TypeReply           = "reply"
	EventMessage        = "message"
	EventSyncDone       = "syncDone"
	EventKicked         = "kicked"
	EventTokenWillExpir = "tokenWillExpire"
)

// MaxIDLen is the longest request ID accepted.
const MaxIDLen = 64

var knownTypes = func() map[string]bool {
	m := map[string]bool{
		TypeLogin: true, TypeLogout: true, TypePing: true, TypeRenewToken: true,
		TypeSend: true, TypeAck: true, TypeSync: true, TypeHistory: true,
		TypeConversationList: true, TypeMarkRead: true, TypeUnregisterPush: true,
		TypeRegisterPush: true,
		TypePushReceipt:  true,
	}
	for _, t := range groupTypes {
		m[t] = true
	}
	for _, t := range callTypes {
		m[t] = true
	}
	for _, t := range userTypes {
		m[t] = true
	}
	for _, t := range revokeTypes {
		m[t] = true
	}
	for _, t := range conversationTypes {
		m[t] = true
	}
	for _, t := range pushRuleTypes {
		m[t] = true
	}
	return m
}()

// Decode parses one client frame. It checks the envelope only: that the frame
// is a JSON object, that the type is known and that the ID is present where a
// reply is due. Payloads are decoded with DecodeData by the handler of the type.
// The returned *Error is nil on success; the Frame's ID is filled in as far as
// it could be read, so that an error reply can still echo it.
//
// The envelope is read in one pass over b (scanEnvelope, envelope.go) that
// validates the whole frame and keeps the payload as a slice of b, so the
// payload is decoded once, by DecodeData: the returned Frame's Data aliases b
// and is valid only while b is. Frames the scanner does not take on (escapes
// or non-ASCII in keys, type or id; an error member; invalid JSON) go
// through encoding/json as before, which gives them their exact verdict.
func Decode(b []byte) (Frame, *Error) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' {
		return Frame{}, Errorf(CodeBadFrame, "frame must be a JSON object")
	}
	f, ok := scanEnvelope(b)
	if !ok {
		return decodeStd(b)
	}
	return checkEnvelope(f)
}

// decodeStd decodes a trimmed frame that starts with '{' with
// encoding/json: the path of every frame scanEnvelope declines, and the
// reference FuzzDecode compares the scanner with.
func decodeStd(b []byte) (Frame, *Error) {
	var f Frame
	if err := json.Unmarshal(b, &f); err != nil {
		return Frame{}, Errorf(CodeBadFrame, "frame is not valid JSON")
	}
	return checkEnvelope(f)
}

// checkEnvelope applies the envelope rules to a decoded frame.
func checkEnvelope(f Frame) (Frame, *Error) {
	if len(f.ID) > MaxIDLen {
		f.ID = ""
		return f, Errorf(CodeInvalidArgument, "id longer than %d characters", MaxIDLen)
	}
	if f.Type == "" {
		return f, Errorf(CodeBadFrame, "frame has no type")
	}
	if !knownTypes[f.Type] {
		return f, Errorf(CodeUnknownType, "unknown frame type %q", truncate(f.Type, 32))
	}
	if f.ID == "" && f.Type != TypeAck {
		return f, Errorf(CodeMissingID, "%s needs an id", f.Type)
	}
	return f, nil
}

// DecodeData decodes a frame's payload into v. A missing payload decodes as
// an empty object.
func DecodeData(f Frame, v any) *Error {
	if len(f.Data) == 0 || string(f.Data) == "null" {
		return nil
	}
	if r, ok := v.(*SendRequest); ok && decodeSend(f.Data, r) {
		return nil // the common payload, without reflection (sendreq.go)
	}
	if err := json.Unmarshal(f.Data, v); err != nil {
		return Errorf(CodeBadFrame, "%s data does not match the documented shape", f.Type)
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// LoginRequest logs a connection in. Token is minted by the app's backend
// (see internal/token). DeviceID identifies the installation: delivery
// positions are kept per device, so a device resumes where it stopped.
type LoginRequest struct {
	AppID      string `json:"appID"`
	UserID     string `json:"userID"`
	Token      string `json:"token"`
	Platform   string `json:"platform"`
	DeviceID   string `json:"deviceID"`
	SDKVersion string `json:"sdkVersion,omitempty"`
	// SkipSync asks the server not to deliver stored messages after this
	// login (syncDone then reports 0): for backends and scripts that only
	// send. Live messages are still delivered.
	SkipSync bool `json:"skipSync,omitempty"`
	// Push registers the device for offline push and binds it to the user
	// (taking it from any user it was bound to). Omit it for devices
	// without a push channel.
	Push *PushRegistration `json:"push,omitempty"`
}

// PushRegistration is a device's push channel as the push SDK registered it.
type PushRegistration struct {
	// PushID as the push SDK reported it (registered); optional, checked
	// when given.
	PushID string `json:"pushID,omitempty"`
	// Vendor is apns, fcm, huawei, xiaomi, oppo, vivo, harmony or honor.
	Vendor string `json:"vendor"`
	// Token is the vendor's device token; VoIPToken the iOS PushKit token.
	Token     string `json:"token"`
	VoIPToken string `json:"voipToken,omitempty"`
	// Environment is development (debug builds) or production.
	Environment string `json:"environment"`
	// BundleID is the iOS bundle ID or Android package name.
	BundleID string `json:"bundleID"`
	// Disabled switches pushes to this device off (setPushConfig).
	Disabled bool `json:"disabled,omitempty"`
	// Foreground says how iOS presents alerts in the foreground: alert,
	// sound, badge.
	Foreground *ForegroundPresentation `json:"foreground,omitempty"`
}

// ForegroundPresentation is the seed's iOSNotificationArrivedConfig.
type ForegroundPresentation struct {
	Alert bool `json:"alert,omitempty"`
	Sound bool `json:"sound,omitempty"`
	Badge bool `json:"badge,omitempty"`
}

// RegisterPushRequest registers the session's device for offline push
// after login and binds it to the user, exactly as a login's Push does;
// it replaces the device the session registered before, if that was
// another one (a new token, another vendor), and updates the same one
// (Disabled switches its pushes off and on).
type RegisterPushRequest = PushRegistration

// RegisterPushReply answers registerPush with the device's PushID.
type RegisterPushReply struct {
	PushID string `json:"pushID"`
}

// UnregisterPushRequest removes a device bound to the user: it gets no
// push at all from then on.
type UnregisterPushRequest struct {
	PushID string `json:"pushID"`
}

// LoginReply answers a login. Durations are in milliseconds.
type LoginReply struct {
	SessionID         string `json:"sessionID"`
	UserID            string `json:"userID"`
	ServerTime        int64  `json:"serverTime"`
	HeartbeatInterval int64  `json:"heartbeatInterval"`
	OfflineAfter      int64  `json:"offlineAfter"`
	TokenExpiresAt    int64  `json:"tokenExpiresAt"`
	// PushID is the device's PushID when the login registered one.
	PushID string `json:"pushID,omitempty"`
	// WebPushKey is the app's VAPID public key (base64url) when it has a
	// Web Push credential: the applicationServerKey a page passes to
	// pushManager.subscribe before registerPush with vendor webpush.
	WebPushKey string `json:"webPushKey,omitempty"`
}

// PingReply answers a heartbeat.
type PingReply struct {
	ServerTime int64 `json:"serverTime"`
}

// RenewTokenRequest replaces the session's token with a fresher one for the
// same app and user.
type RenewTokenRequest struct {
	Token string `json:"token"`
}

// RenewTokenReply answers renewToken.
type RenewTokenReply struct {
	TokenExpiresAt int64 `json:"tokenExpiresAt"`
}

// PushConfig asks for an offline push to recipients without a live session.
// It is stored with the message; delivery comes with the push service.
type PushConfig struct {
	Title       string `json:"title,omitempty"`
	Content     string `json:"content,omitempty"`
	Payload     string `json:"payload,omitempty"`
	ResourcesID string `json:"resourcesID,omitempty"`
	// EnableBadge and BadgeIncrement: see push.Content (ZIMPushConfig).
	EnableBadge    bool `json:"enableBadge,omitempty"`
	BadgeIncrement int  `json:"badgeIncrement,omitempty"`
}

// SendRequest sends one message. Text carries a text message's body; Data
// carries the binary body of custom and command messages (base64 in JSON).
type SendRequest struct {
	ConversationID   string      `json:"conversationID"`
	ConversationType int         `json:"conversationType"`
	LocalMessageID   string      `json:"localMessageID"`
	Type             int         `json:"type"`
	Text             string      `json:"text,omitempty"`
	Data             []byte      `json:"data,omitempty"`
	SubType          int         `json:"subType,omitempty"`
	SearchedContent  string      `json:"searchedContent,omitempty"`
	ExtendedData     string      `json:"extendedData,omitempty"`
	Priority         int         `json:"priority,omitempty"`
	PushConfig       *PushConfig `json:"pushConfig,omitempty"`
	// MentionedUserIDs and IsMentionAll are the message's mention list
	// (ZIM ZIMMessage mentionedUserIDs, isMentionAll): group messages
	// only (ValidateMentions).
	MentionedUserIDs []string `json:"mentionedUserIDs,omitempty"`
	IsMentionAll     bool     `json:"isMentionAll,omitempty"`
}

// SendReply answers send once the message is committed (for stored types).
// Duplicate is true when the localMessageID was already stored with the same
// content: the reply then describes the stored message.
type SendReply struct {
	MessageID       string `json:"messageID"`
	ConversationSeq int64  `json:"conversationSeq,omitempty"`
	Timestamp       int64  `json:"timestamp"`
	Duplicate       bool   `json:"duplicate,omitempty"`
}

// Message is a message as the server delivers it. ConversationID is seen from
// the receiving user: for a peer conversation, the other user's ID.
type Message struct {
	MessageID        string `json:"messageID"`
	LocalMessageID   string `json:"localMessageID,omitempty"`
	ConversationID   string `json:"conversationID"`
	ConversationType int    `json:"conversationType"`
	ConversationSeq  int64  `json:"conversationSeq,omitempty"`
	SenderUserID     string `json:"senderUserID"`
	Type             int    `json:"type"`
	Text             string `json:"text,omitempty"`
	Data             []byte `json:"data,omitempty"`
	SubType          int    `json:"subType,omitempty"`
	SearchedContent  string `json:"searchedContent,omitempty"`
	ExtendedData     string `json:"extendedData,omitempty"`
	Priority         int    `json:"priority"`
	Timestamp        int64  `json:"timestamp"`
	Offline          bool   `json:"offline,omitempty"`
	// System marks a message the app's server sent as the system
	// (SenderUserID is then SystemUserID), not as one of its users.
	System bool `json:"system,omitempty"`
	// RevokeFields is set on a revoked message (Type MessageRevoke).
	*RevokeFields
	// MentionedUserIDs and IsMentionAll: the mention list it was sent
	// with (absent when none).
	MentionedUserIDs []string `json:"mentionedUserIDs,omitempty"`
	IsMentionAll     bool     `json:"isMentionAll,omitempty"`
}

// AckPosition acknowledges every message of a conversation up to Seq.
type AckPosition struct {
	ConversationID   string `json:"conversationID"`
	ConversationType int    `json:"conversationType"`
	Seq              int64  `json:"seq"`
}

// AckRequest acknowledges received messages. Acks are cumulative and may be
// batched; the server keeps the highest per conversation and device.
type AckRequest struct {
	Acks []AckPosition `json:"acks"`
}

// SyncRequest asks the server to deliver what the device has not acknowledged.
// With no positions it uses the server's stored positions for every
// conversation; a position given here overrides the stored one for its
// conversation (to fetch again what the client lost).
type SyncRequest struct {
	Positions []AckPosition `json:"positions,omitempty"`
}

// SyncReply answers sync after the messages it found were sent.
type SyncReply struct {
	Count int `json:"count"`
}

// SyncDone is sent after the offline messages that follow a login.
type SyncDone struct {
	Count int `json:"count"`
}

// HistoryRequest pages through a conversation. Without AfterSeq it pages
// back, newest first: BeforeSeq 0 means from the newest message. With
// AfterSeq (present, even 0) it pages forward, oldest first: the messages
// with a seq above *AfterSeq; BeforeSeq must then be 0 (absent).
type HistoryRequest struct {
	ConversationID   string `json:"conversationID"`
	ConversationType int    `json:"conversationType"`
	BeforeSeq        int64  `json:"beforeSeq,omitempty"`
	AfterSeq         *int64 `json:"afterSeq,omitempty"`
	Count            int    `json:"count,omitempty"`
}

// HistoryReply carries a page of messages, newest first (oldest first for
// a request with AfterSeq). HasMore says there are more in that direction.
type HistoryReply struct {
	Messages []Message `json:"messages"`
	HasMore  bool      `json:"hasMore"`
}

// ConversationListRequest pages through the user's conversations, most
// recently active first. Before is the orderKey of the last conversation of
// the previous page (0 for the first page), as the decimal string the
// reply gave or as a number.
type ConversationListRequest struct {
	Count  int      `json:"count,omitempty"`
	Before OrderKey `json:"before,omitempty"`
}

// Conversation is one entry of the conversation list.
type Conversation struct {
	ConversationID     string   `json:"conversationID"`
	ConversationType   int      `json:"conversationType"`
	UnreadMessageCount int64    `json:"unreadMessageCount"`
	LastMessage        *Message `json:"lastMessage,omitempty"`
	OrderKey           OrderKey `json:"orderKey"`
	// NotificationStatus is the user's setting of the conversation
	// (NotifyStatus*; 1 notify when never set).
	NotificationStatus int `json:"notificationStatus"`
}

// ConversationListReply answers conversationList.
type ConversationListReply struct {
	Conversations []Conversation `json:"conversations"`
	HasMore       bool           `json:"hasMore"`
}

// MarkReadRequest marks a conversation read up to Seq (0: everything).
type MarkReadRequest struct {
	ConversationID   string `json:"conversationID"`
	ConversationType int    `json:"conversationType"`
	Seq              int64  `json:"seq,omitempty"`
}

// MarkReadReply gives the unread count left after markRead.
type MarkReadReply struct {
	UnreadMessageCount int64 `json:"unreadMessageCount"`
}

// Kicked tells a session why it is being closed with CloseKicked.
type Kicked struct {
	Reason  int    `json:"reason"`
	Message string `json:"message"`
}

// TokenWillExpire warns that the session's token expires soon.
type TokenWillExpire struct {
	SecondsLeft int64 `json:"secondsLeft"`
}

// OrderKey is a conversation's place in the list: a 64-bit integer (the
// ID of its last message) that travels as a decimal string, as message IDs
// do, so that JavaScript clients do not round it. It is read from a string
// or, for older clients, a number.
type OrderKey int64

// MarshalJSON writes k as a decimal string.
func (k OrderKey) MarshalJSON() ([]byte, error) {
	return []byte(`"` + strconv.FormatInt(int64(k), 10) + `"`), nil
}

// UnmarshalJSON reads a decimal string or a JSON integer.
func (k *OrderKey) UnmarshalJSON(b []byte) error {
	s := string(b)
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return fmt.Errorf("orderKey must be a decimal integer (string or number): %q", string(b))
	}
	*k = OrderKey(n)
	return nil
}
