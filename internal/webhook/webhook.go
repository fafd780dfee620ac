// Package webhook delivers an app's events to its server over HTTP: signed
// POSTs from a durable outbox, retried with backoff, and the synchronous
// before-send hook that lets the app allow, deny or modify a client's
// message before it is stored.
//
// Events reach the outbox in two ways. message.sent is written by the
// message's own commit transaction: the store adds one small row per app
// and commit batch naming the batch's messages (their IDs) when Wants says
// the app subscribed: one extra row per commit, no wait on the send path,
// and nothing committed can miss its event. The worker delivers a batch's
// messages in order, one request each, recording its progress in the row;
// a message whose delivery fails while the next goes through is split off
// into its own row and retried alone, so one bad event does not hold the
// batch. The
// other events (presence, push outcomes, call ends) are queued in memory by
// Emit and written in batches every FlushEvery: a crash loses at most that
// much of them. A worker delivers due rows with bounded concurrency per
// app; a row survives restarts until it was delivered or given up on.
package webhook

import (
	"context"
	"errors"
	"time"
)

// Event names.
const (
	EventMessageSent = "message.sent"
	EventUserLogin   = "user.login"
	EventUserLogout  = "user.logout"
	EventPushOutcome = "push.outcome"
	EventCallEnded   = "call.ended"
	// EventTest is sent by the admin API's test endpoint, whatever the
	// subscription.
	EventTest = "webhook.test"
)

// Events lists the events an app may subscribe to.
var events = []string{EventMessageSent, EventUserLogin, EventUserLogout, EventPushOutcome, EventCallEnded}

// Events returns the names an app may subscribe to.
func Events() []string { return append([]string(nil), events...) }

// Delivery statuses of an outbox row.
const (
	StatusPending   = "pending"
	StatusDelivered = "delivered"
	StatusDead      = "dead"
)

// ErrNotFound is returned for an app without a webhook configuration.
var ErrNotFound = errors.New("webhook: not found")

// Config is an app's webhook configuration.
type Config struct {
	AppID string
	// URL receives the events; "" only with a before-send hook alone.
	URL string
	// Secret signs every request (Herald-Signature).
	Secret string
	// Events are the subscribed event names.
	Events  []string
	Enabled bool
	// BeforeSendURL, if set, is called before each client message is
	// stored.
	BeforeSendURL string
	// BeforeSendTimeout bounds that call.
	BeforeSendTimeout time.Duration
	// FailOpen stores the message as sent when the hook fails or times
	// out; false refuses it.
	FailOpen  bool
	UpdatedAt time.Time
}

// subscribed reports whether c wants event delivered.
func (c *Config) subscribed(event string) bool {
	if !c.Enabled || c.URL == "" {
		return false
	}
	for _, e := range c.Events {
		if e == event {
			return true
		}
	}
	return false
}

// NewEvent is an event to write to the outbox.
type NewEvent struct {
	AppID     string
	Event     string
	Payload   []byte // the data object as JSON
	CreatedAt time.Time
}

// Message is a stored message as the message.sent event describes it.
type Message struct {
	ID               int64  `json:"messageID,string"`
	ConversationID   string `json:"conversationID"`
	ConversationType int    `json:"conversationType"`
	Seq              int64  `json:"conversationSeq"`
	Sender           string `json:"from"`
	Recipient        string `json:"to"`
	Type             int    `json:"type"`
	SubType          int    `json:"subType"`
	Text             string `json:"text,omitempty"`
	Data             []byte `json:"data,omitempty"`
	SearchedContent  string `json:"searchedContent,omitempty"`
	ExtendedData     string `json:"extendedData,omitempty"`
	Priority         int    `json:"priority"`
	LocalID          string `json:"localMessageID,omitempty"`
	Timestamp        int64  `json:"timestamp"`
}

// Row is an outbox row.
type Row struct {
	ID        int64
	AppID     string
	Event     string
	Payload   []byte
	MessageID int64
	// Message is the named message (message.sent), read with the row; nil
	// when it is gone.
	Message *Message
	// Size is the number of messages of a message.sent batch row (0: any
	// other row); Payload holds their IDs (EncodeIDs), Progress how many
	// are done (delivered or split off), Splits how many were split off.
	Size, Progress, Splits int
	// BatchID is the batch a row was split off from (its event ID is then
	// MessageEventID); in the listing, the batch row of an entry expanded
	// from it.
	BatchID    int64
	CreatedAt  time.Time
	Status     string
	Attempts   int
	NextAt     time.Time
	LastStatus int
	LastError  string
	DoneAt     time.Time
}

// Outcome is the result of one delivery attempt, written back.
type Outcome struct {
	ID         int64
	Status     string // pending (retry at NextAt), delivered or dead
	Attempts   int
	NextAt     time.Time
	LastStatus int
	LastError  string
	DoneAt     time.Time
	// Progress is a batch row's progress (ignored for other rows).
	Progress int

	appID string // for the service's per-app count
}

// Counts are an app's outbox rows by status.
type Counts struct {
	Pending   int `json:"pending"`
	Delivered int `json:"delivered"`
	Dead      int `json:"dead"`
}

// Store keeps configurations and the outbox (the SQLite store).
type Store interface {
	// Webhooks returns every app's configuration.
	Webhooks(ctx context.Context) ([]Config, error)
	// PutWebhook stores c, replacing the app's configuration.
	PutWebhook(ctx context.Context, c Config) error
	// DeleteWebhook removes an app's configuration (ErrNotFound if none)
	// and its pending events.
	DeleteWebhook(ctx context.Context, appID string) error
	// EnqueueEvents writes events as pending rows due now, in one
	// transaction, and returns their IDs.
	EnqueueEvents(ctx context.Context, evs []NewEvent) ([]int64, error)
	// DueEvents returns up to limit pending rows due at now, oldest
	// first, with their messages, leaving out the rows of skipApps.
	DueEvents(ctx context.Context, now time.Time, limit int, skipApps []string) ([]Row, error)
	// EventMessages reads the messages of ids that are still stored.
	EventMessages(ctx context.Context, ids []int64) (map[int64]*Message, error)
	// AdvanceBatch records a pending batch row's progress and writes its
	// split rows, in one transaction; nothing when the row is no longer
	// pending (the app's webhook was deleted).
	AdvanceBatch(ctx context.Context, id int64, progress int, splits []Split) error
	// NextDue returns when the earliest pending row is due (zero: none).
	NextDue(ctx context.Context) (time.Time, error)
	// FinishEvents writes outcomes in one transaction.
	FinishEvents(ctx context.Context, outs []Outcome) error
	// RecentEvents returns an app's newest events (status "" for all),
	// batch rows expanded into one entry per message, with the counts of
	// events (messages for a batch) by status.
	RecentEvents(ctx context.Context, appID, status string, limit int) ([]Row, Counts, error)
	// PendingEvents counts every app's pending events (the gauge; a
	// batch's undelivered messages each count).
	PendingEvents(ctx context.Context) (int, error)
	// TrimEvents deletes the delivered rows finished before t.
	TrimEvents(ctx context.Context, before time.Time) error
}
