package im

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/heraldim/herald/internal/push"
)

// Store errors that callers branch on. Implementations translate their
// driver's errors into these at the boundary.
var (
	// ErrNotFound: the app, message or row asked for does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict: a row with the same key already exists (e.g. CreateApp).
	ErrConflict = errors.New("conflict")
	// ErrBusy: the store is overloaded or locked; the operation may be retried.
	ErrBusy = errors.New("store busy")
)

// App is a tenant. Secret signs login tokens; AdminKey authenticates the
// admin REST API. Nothing crosses apps.
type App struct {
	ID        string
	Name      string
	Secret    string
	AdminKey  string
	CreatedAt time.Time

	// PrevSecret is the server secret before the last rotation: tokens
	// signed with it are still accepted until PrevSecretUntil, so that
	// live clients keep working while the app's server moves on. Empty
	// when there is none.
	PrevSecret      string
	PrevSecretUntil time.Time
	// PrevAdminKey is the admin key before the last rotation, accepted
	// until PrevAdminKeyUntil.
	PrevAdminKey      string
	PrevAdminKeyUntil time.Time
	// DisabledAt is when the operator disabled the app (zero: enabled):
	// its logins and its admin API are refused.
	DisabledAt time.Time
	// UpdatedAt is the time of the last change (CreatedAt before any).
	UpdatedAt time.Time
}

// Disabled reports whether the operator disabled the app.
func (a App) Disabled() bool { return !a.DisabledAt.IsZero() }

// Secrets returns the server secrets that sign valid tokens at now: the
// current one, then the previous one while its overlap lasts.
func (a App) Secrets(now time.Time) []string {
	out := []string{a.Secret}
	if a.PrevSecret != "" && now.Before(a.PrevSecretUntil) {
		out = append(out, a.PrevSecret)
	}
	return out
}

// AdminKeys returns the admin keys accepted at now: the current one, then
// the previous one while its overlap lasts.
func (a App) AdminKeys(now time.Time) []string {
	out := []string{a.AdminKey}
	if a.PrevAdminKey != "" && now.Before(a.PrevAdminKeyUntil) {
		out = append(out, a.PrevAdminKey)
	}
	return out
}

// Message is a stored message. ConvID is the canonical conversation key (see
// PeerConvID); the peer conversation is seen by each participant under the
// other participant's user ID.
type Message struct {
	AppID           string
	ID              int64 // server message ID, unique and time-ordered (see IDGen)
	ConvID          string
	ConvType        int
	Seq             int64 // per-conversation sequence, from 1, no gaps
	Sender          string
	Recipient       string // peer conversations: the other participant
	Type            int
	SubType         int
	Text            string
	Data            []byte
	SearchedContent string
	ExtendedData    string
	Priority        int
	LocalID         string
	ContentHash     []byte // digest of the content, to tell a retry from a reuse
	// PushConfig asks for an offline push; nil without one.
	PushConfig *push.Content
	CreatedAt  time.Time
	// Revoke is set on a revoked message (revoke.go); nil otherwise.
	Revoke *Revocation
	// MentionedUsers and MentionAll are the message's mention list (group
	// messages only): in a conversation a recipient set to do-not-disturb
	// or mentions-only, the message is pushed to the users it names (all
	// members with MentionAll).
	MentionedUsers []string
	MentionAll     bool

	// PushUsers are the recipients to push (offline when the message was
	// committed): AppendMessages writes one push job per enabled device
	// bound to each, in the message's transaction. Not stored with the
	// message.
	PushUsers []string
	// PushExpires is when those push jobs expire (zero: never).
	PushExpires time.Time
	// GroupPush asks AppendMessages to record a group message's offline
	// push (a GroupFanout) with the message.
	GroupPush bool
	// SkipSender keeps the message from the sender's live sessions (a
	// server API send with syncToSender off). Not stored.
	SkipSender bool
	// Quiet asks AppendMessages not to count the message unread (an
	// imported message): a peer recipient's unread count stays, and in a
	// group every member whose read position was at the group's last
	// message before the batch is moved past it. Not stored.
	Quiet bool
	// Webhook asks AppendMessages to write the message's message.sent
	// webhook event in the same transaction (one outbox row per app and
	// batch names all such messages); not for a duplicate or a conflict.
	Webhook bool
}

// PushPlan is a stored message's push planned after its commit, for one
// user (see Store.PlanPushOnce).
type PushPlan struct {
	MessageID  int64
	PushConfig push.Content
	// ExpiresAt is the push's expiry, the same as at the message's
	// commit (zero: never).
	ExpiresAt time.Time
}

// AppendResult is the outcome of appending one message.
type AppendResult struct {
	// ID, Seq and CreatedAt describe the stored message: the new one, or on a
	// duplicate the one stored before.
	ID        int64
	Seq       int64
	CreatedAt time.Time
	// Duplicate: the sender's LocalID was stored before with the same
	// ContentHash; nothing was written.
	Duplicate bool
	// Conflict: the sender's LocalID was stored before with other content;
	// nothing was written.
	Conflict bool
}

// Conversation is one row of a user's conversation list.
type Conversation struct {
	ConvID   string
	ConvType int
	PeerID   string // for peer conversations: the other participant
	LastSeq  int64
	Unread   int64
	LastMsg  *Message // nil when the conversation has no message yet
	OrderKey int64    // ID of the last message: orders the list, newest first
	// NotifyStatus is the user's notification status of the conversation
	// (protocol.NotifyStatus*; notify when never set).
	NotifyStatus int
}

// Cursor is a device's delivery position in one conversation: every message
// up to Seq was acknowledged by that device.
type Cursor struct {
	AppID    string
	UserID   string
	DeviceID string
	ConvID   string
	Seq      int64
}

// Pending is a conversation in which a device has messages it has not
// acknowledged: LastSeq is above the device's Cursor.
type Pending struct {
	ConvID   string
	ConvType int
	PeerID   string
	Cursor   int64
	LastSeq  int64
}

// Store is what the IM service needs from persistence. Implementations:
// store/sqlstore (embedded SQLite, one node). Every method is safe for concurrent use.
type Store interface {
	// CreateApp stores a new app; ErrConflict if the ID exists.
	CreateApp(ctx context.Context, a App) error
	// App returns an app by ID; ErrNotFound if there is none.
	App(ctx context.Context, id string) (App, error)

	// AppendMessages stores a batch of messages in one transaction and
	// returns one result per message, in order. For each message it assigns
	// the next Seq of its conversation, unless the sender's LocalID was stored
	// before (Duplicate or Conflict result, nothing written for that message;
	// duplicates inside the batch are detected too). For peer messages it
	// updates both participants' conversation rows: last message for both,
	// unread count +1 for the recipient. Messages must have AppID, ID, ConvID,
	// Sender, Recipient and CreatedAt set, and a peer message's ConvID must be
	// PeerConvID(Sender, Recipient). The messages are not modified: the
	// assigned Seq is in the results. An unknown app fails the call with
	// ErrNotFound. When it returns an error nothing of the batch was stored.
	AppendMessages(ctx context.Context, msgs []*Message) ([]AppendResult, error)

	// PlanPushOnce writes, in one transaction, the push jobs of stored
	// messages for userID by the rule AppendMessages applies to PushUsers
	// (one job per enabled device bound to the user, created at now),
	// except for a device that has a job for the message already (of any
	// status): a message is never pushed twice to a device. It returns how
	// many jobs it wrote.
	PlanPushOnce(ctx context.Context, appID, userID string, plans []PushPlan, now time.Time) (int, error)

	// MessagesAfter returns up to limit messages of a conversation with Seq >
	// afterSeq, in ascending Seq order.
	MessagesAfter(ctx context.Context, appID, convID string, afterSeq int64, limit int) ([]Message, error)
	// MessagesBefore returns up to limit messages with Seq < beforeSeq (every
	// message when beforeSeq is 0), newest first.
	MessagesBefore(ctx context.Context, appID, convID string, beforeSeq int64, limit int) ([]Message, error)

	// Conversations returns up to limit of the user's conversations with
	// OrderKey < before (all when before is 0), newest first, each with its
	// last message and unread count.
	Conversations(ctx context.Context, appID, userID string, before int64, limit int) ([]Conversation, error)
	// Conversation returns one of the user's conversations, peer or group
	// (a GroupConvID key: the member's view, as Conversations lists it);
	// ErrNotFound if the user has none with that ID.
	Conversation(ctx context.Context, appID, userID, convID string) (Conversation, error)
	// MarkRead marks the user's conversation read up to seq (the last message
	// when seq is 0) and returns the unread count left: messages of others
	// after seq.
	MarkRead(ctx context.Context, appID, userID, convID string, seq int64) (int64, error)

	// Pending returns the conversations of the user whose last Seq is above
	// the device's cursor (cursor 0 when the device has none).
	Pending(ctx context.Context, appID, userID, deviceID string) ([]Pending, error)
	// SaveCursors stores delivery positions; a position never moves back.
	// UserCursor returns the highest stored position of any device of the
	// user in a conversation (0 when none acknowledged anything there).
	UserCursor(ctx context.Context, appID, userID, convID string) (int64, error)
	SaveCursors(ctx context.Context, cs []Cursor) error

	// RecordUser remembers that a user logged in to an app (idempotent).
	RecordUser(ctx context.Context, appID, userID string) error
	// UnknownUsers returns those of users that never logged in to the app.
	UnknownUsers(ctx context.Context, appID string, users []string) ([]string, error)

	GroupStore
	NotifyStore
	PushRuleStore

	// Ping checks that the store answers.
	Ping(ctx context.Context) error
	// Close releases the store; it is called once, after every user stopped.
	Close() error

	// TokensValidAfter returns the user's token revocation cutoff: tokens
	// issued before it are refused (zero: none, or no such user).
	TokensValidAfter(ctx context.Context, appID, userID string) (time.Time, error)
	// Users returns those of ids that are users of the app (with their
	// profiles), in the order given.
	Users(ctx context.Context, appID string, ids []string) ([]User, error)
}

// PeerConvID returns the canonical key of the peer conversation between a
// and b: the same for both sides. User IDs cannot contain ':'.
func PeerConvID(a, b string) string {
	if a > b {
		a, b = b, a
	}
	return "p:" + a + ":" + b
}

// GroupConvID returns the conversation key of a group.
func GroupConvID(groupID string) string { return "g:" + groupID }

// PeerOf returns, for a peer conversation key and one participant, the other
// participant; ok is false if the key is not a peer key holding user.
func PeerOf(convID, user string) (peer string, ok bool) {
	rest, found := strings.CutPrefix(convID, "p:")
	if !found {
		return "", false
	}
	a, b, found := strings.Cut(rest, ":")
	switch {
	case !found:
		return "", false
	case a == user:
		return b, true
	case b == user:
		return a, true
	}
	return "", false
}

// Group is a group conversation's record.
type Group struct {
	AppID        string
	ID           string
	Name         string
	ExtendedData string
	Owner        string
	MemberCount  int
	// LastSeq and LastMsgID describe the group conversation's last message.
	LastSeq   int64
	LastMsgID int64
	// DismissedAt is when the group was dismissed (zero while it lives).
	DismissedAt time.Time
	CreatedAt   time.Time
	// JoinMode is protocol.JoinModeAny, JoinModeApproval or
	// JoinModeInviteOnly.
	JoinMode int
}

// Join request states as stored.
const (
	JoinPending  = 0
	JoinAccepted = 1
	JoinRejected = 2
)

// JoinRequest is a user's latest request to join a group.
type JoinRequest struct {
	AppID     string
	GroupID   string
	UserID    string
	Message   string
	State     int
	CreatedAt time.Time
	UpdatedAt time.Time
}

// GroupMember is one member of a group. The member sees the messages with
// Seq > JoinedSeq; ReadSeq is its read position.
type GroupMember struct {
	UserID    string
	Role      int
	JoinedSeq int64
	ReadSeq   int64
	JoinedAt  time.Time
}

// UserGroup is one of a user's groups with the user's role in it.
type UserGroup struct {
	Group
	Role int
}

// GroupFanout is a group message's offline push still to be planned: push
// jobs are written for the offline members a page at a time after the
// message's commit. AfterUser is how far (in user ID order) it got.
type GroupFanout struct {
	MessageID  int64
	AppID      string
	GroupID    string
	Seq        int64
	Sender     string
	PushConfig push.Content
	ExpiresAt  time.Time
	AfterUser  string
	CreatedAt  time.Time
}

// GroupStore is what groups need from persistence; part of Store. Members
// are changed only by the IM service under its per-group lock, so the
// store need not check permissions or membership races.
type GroupStore interface {
	// CreateGroup stores a group (its join mode too) with its first
	// members (the owner among them); ErrConflict if the group ID exists
	// (dismissed groups too).
	CreateGroup(ctx context.Context, g Group, members []GroupMember) error
	// Group returns a group; ErrNotFound if there is none.
	Group(ctx context.Context, appID, groupID string) (Group, error)
	// GroupMembers returns up to limit members with user ID > after, in
	// user ID order; every member when limit <= 0.
	GroupMembers(ctx context.Context, appID, groupID, after string, limit int) ([]GroupMember, error)
	// AddGroupMembers adds users that are not members. They see what is
	// sent from now on: JoinedSeq and ReadSeq are set to the group's last
	// seq, which is returned. Their pending join requests become accepted.
	AddGroupMembers(ctx context.Context, appID, groupID string, members []GroupMember) (int64, error)
	// RemoveGroupMembers removes members.
	RemoveGroupMembers(ctx context.Context, appID, groupID string, users []string) error
	// SetGroupRoles sets members' roles and, when owner is not empty, the
	// group's owner, in one transaction.
	SetGroupRoles(ctx context.Context, appID, groupID string, roles map[string]int, owner string) error
	// DismissGroup marks the group dismissed and removes every member.
	DismissGroup(ctx context.Context, appID, groupID string, at time.Time) error
	// UserGroups returns up to limit of the user's groups with group ID >
	// after, in group ID order.
	UserGroups(ctx context.Context, appID, userID, after string, limit int) ([]UserGroup, error)
	// MarkGroupRead moves the member's read position to seq (to the last
	// message when seq is 0; never back) and returns its unread count;
	// ErrNotFound if the user is not a member.
	MarkGroupRead(ctx context.Context, appID, userID, groupID string, seq int64) (int64, error)
	// GroupFanouts returns up to limit group pushes still to be planned,
	// oldest first.
	GroupFanouts(ctx context.Context, limit int) ([]GroupFanout, error)
	// PlanGroupPush writes push jobs for users (one per enabled device
	// bound to each) for f's message and records the progress: next is the
	// last user ID covered, or empty when f is done (its row is deleted).
	PlanGroupPush(ctx context.Context, f GroupFanout, users []string, next string) error
	// SetGroupJoinMode sets a group's join mode.
	SetGroupJoinMode(ctx context.Context, appID, groupID string, mode int) error
	// PutJoinRequest stores r, replacing the user's earlier request to join
	// the group.
	PutJoinRequest(ctx context.Context, r JoinRequest) error
	// JoinRequest returns a user's request to join a group; ErrNotFound if
	// there is none.
	JoinRequest(ctx context.Context, appID, groupID, userID string) (JoinRequest, error)
	// JoinRequests returns up to limit of a group's join requests with user
	// ID > after, in user ID order.
	JoinRequests(ctx context.Context, appID, groupID, after string, limit int) ([]JoinRequest, error)
	// DecideJoinRequest moves a pending join request to state at time at;
	// ErrNotFound if the user has none pending.
	DecideJoinRequest(ctx context.Context, appID, groupID, userID string, state int, at time.Time) error
}
