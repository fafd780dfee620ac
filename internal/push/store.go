package push

import (
	"context"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"strings"
	"time"
)

// ErrNotFound: the device or job asked for does not exist.
var ErrNotFound = errors.New("push: not found")

// ErrNoOwner: a claim of push jobs named no owner (the node's ID), so its
// leases could not be told from anyone else's.
var ErrNoOwner = errors.New("push: claim without an owner")

// Device is a registered push endpoint.
type Device struct {
	AppID       string
	PushID      string
	Vendor      Vendor
	Token       string
	VoIPToken   string // iOS PushKit token, kept beside the normal one
	Environment Environment
	Platform    string
	BundleID    string // iOS bundle ID or Android package name: the push topic
	// UserID is the one user the device is bound to; empty when unbound.
	UserID string
	// Enabled is the device's own switch (setPushConfig); a disabled device
	// gets no push jobs.
	Enabled bool
	// Foreground says how iOS presents an alert while the app is in the
	// foreground: a mask of ForegroundAlert, ForegroundSound, ForegroundBadge.
	Foreground int
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// Foreground presentation bits (the seed's iOSNotificationArrivedConfig).
const (
	ForegroundAlert = 1
	ForegroundSound = 2
	ForegroundBadge = 4
)

// JobStatus is where a push job stands.
type JobStatus string

// The job statuses.
const (
	JobPending   JobStatus = "pending"   // waiting for its turn (not_before)
	JobDelivered JobStatus = "delivered" // the vendor accepted it
	JobDropped   JobStatus = "dropped"   // device gone or push refused for good
	JobExpired   JobStatus = "expired"   // its time passed before a vendor took it
	JobHeld      JobStatus = "held"      // the vendor's quota is used up
	JobFailed    JobStatus = "failed"    // attempts used up, or the credential fails
)

// JobKind says what a push job announces.
type JobKind string

// The job kinds.
const (
	// JobMessage is a message's push (MessageID says which; 0 for a push
	// sent through the admin API).
	JobMessage JobKind = ""
	// JobCallInvite rings an offline invitee of call CallID. It expires at
	// the invitation's deadline and is sent only while CallGate says the
	// invitee is still ringing.
	JobCallInvite JobKind = "call_invite"
	// JobCallCancel tells an offline invitee of call CallID that the
	// inviter cancelled (an alert).
	JobCallCancel JobKind = "call_cancel"
	// JobMessageWithdraw replaces the shown notification of revoked
	// message MessageID (withdraw.go).
	JobMessageWithdraw JobKind = "message_withdraw"
)

// Job is one notification for one device, durable until the vendor
// accepted it, refused it for good, or it expired.
type Job struct {
	ID        int64
	AppID     string
	MessageID int64
	// Kind and CallID say what the job announces: a message (the zero
	// Kind) or a call invitation's ring or cancel (CallID set).
	Kind   JobKind
	CallID string
	UserID string
	PushID string
	Vendor Vendor
	// PushConfig is what the push says, as the store decoded it
	// (DecodeContent); ConfigErr is why it could not be (the dispatcher
	// fails such a job).
	PushConfig Content
	ConfigErr  error
	// Remove is the stored config's "remove" member (DecodeRemove).
	Remove    bool
	Status    JobStatus
	Attempts  int
	NotBefore time.Time
	ExpiresAt time.Time // zero: no expiry of its own
	Reason    string
	CreatedAt time.Time
	UpdatedAt time.Time
	// Device is the job's device as ClaimJobs (or the stores' DueJobs) read it with the job; nil when
	// the device is gone. Other reads leave it nil.
	Device *Device
}

// Finish is the outcome of one attempt at a job: the attempt for the trace
// and the job's next state (JobPending with NotBefore for a retry).
type Finish struct {
	// Attempt is the call for the trace; the store numbers it
	// (Attempt.Attempt is ignored).
	Attempt Attempt
	// Attempts is the job's count of attempts after this one: one more
	// than before for a vendor call, the same for a deferral (the vendor
	// refused the credential, not the push) or a job held back.
	Attempts  int
	Status    JobStatus
	NotBefore time.Time
	Reason    string
	// NoCall: no vendor was called (the job was held back); no attempt is
	// recorded.
	NoCall bool
	// Sent: the vendor was called for this attempt, whether it answered
	// or not (the statistics' sent; FinishStats). An attempt decided
	// before the call (expired, device gone, a push that cannot be built)
	// is recorded without it.
	Sent bool
	// Owner is the node recording the outcome: the job's lease owner
	// (ClaimJobs), or empty for a job no one claimed. A finish whose owner
	// does not hold the job's lease changes nothing of the job.
	Owner string
}

// Attempt is one call to a vendor, for the delivery trace.
type Attempt struct {
	JobID int64
	// Attempt numbers the job's calls from 1. A deferral (Outcome
	// "deferred") is a call but not one of Job.Attempts, so once a job was
	// deferred the two counts differ.
	Attempt int
	At      time.Time
	Outcome string
	Status  int
	Reason  string
	Latency time.Duration
}

// TraceFilter selects jobs for the delivery trace: exactly one of
// MessageID, UserID and PushID is set.
type TraceFilter struct {
	AppID     string
	MessageID int64
	UserID    string
	PushID    string
	Limit     int
}

// Store is what push needs from persistence. Push jobs themselves are
// planned from an Intent by the store that owns the transaction (a
// message's, a call's, or Planner's own), with the one rule Eligible.
type Store interface {
	// RegisterDevice creates or updates a device by PushID. When d.UserID is
	// set the device is bound to that user, taken from any user it was
	// bound to before; when empty, an existing binding is kept.
	RegisterDevice(ctx context.Context, d Device) error
	// UnbindDevice removes the device's binding if it is bound to userID
	// (logout); ErrNotFound if there is no such device.
	UnbindDevice(ctx context.Context, appID, pushID, userID string) error
	// DeleteDevice removes a device (unregister, or a vendor said its token
	// is dead) and drops its pending jobs; ErrNotFound if there is none.
	DeleteDevice(ctx context.Context, appID, pushID, reason string) error
	// Device returns a device; ErrNotFound if there is none.
	Device(ctx context.Context, appID, pushID string) (Device, error)
	// UserDevices returns the devices bound to a user.
	UserDevices(ctx context.Context, appID, userID string) ([]Device, error)

	// ClaimJobs leases to owner, until leaseUntil, up to limit pending jobs
	// of vendor v due at now that no one holds a lease on (or whose lease
	// ended by now), and returns them oldest first, each with its device.
	// The lease and the read are atomic: of several owners claiming at
	// once (nodes on one store), each job goes to one. A leased job is
	// claimed again only after its lease ends; FinishAttempts by its owner
	// ends the lease. ErrNoOwner when owner is empty.
	ClaimJobs(ctx context.Context, v Vendor, now time.Time, limit int, owner string, leaseUntil time.Time) ([]Job, error)
	// FinishAttempts records attempts and moves their jobs to their next
	// state, all in one transaction. Only a job's lease owner (Finish.Owner)
	// moves it; another's attempt is traced and its job left alone.
	FinishAttempts(ctx context.Context, fs []Finish) error
	// Trace returns jobs matching f, newest first, with their attempts.
	Trace(ctx context.Context, f TraceFilter) ([]Job, [][]Attempt, error)
}

var pushIDEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewPushID returns the PushID of a vendor token in an environment: opaque,
// the same for the same app, vendor, environment and token, and carrying
// the environment in its first letter ("D" development, "P" production) so
// that a development PushID is never mistaken for a production one.
func NewPushID(appID string, v Vendor, env Environment, token string) string {
	h := sha256.New()
	for _, s := range []string{appID, string(v), string(env), token} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	prefix := "P"
	if env == Development {
		prefix = "D"
	}
	return prefix + strings.ToLower(pushIDEncoding.EncodeToString(h.Sum(nil)[:15]))
}

// PushIDEnvironment returns the environment a PushID carries.
func PushIDEnvironment(pushID string) (Environment, bool) {
	switch {
	case strings.HasPrefix(pushID, "D"):
		return Development, true
	case strings.HasPrefix(pushID, "P"):
		return Production, true
	}
	return "", false
}

// QueueCount is how many open jobs of an app wait for one vendor in one
// status (pending or held).
type QueueCount struct {
	Vendor Vendor
	Status JobStatus
	Jobs   int
}

// OutcomeCount counts an app's recent pushes of one vendor by what came
// of them: vendor attempts by outcome (Kind "attempt", Outcome an
// attempt's outcome) or jobs that ended by status (Kind "job", Outcome a
// JobStatus), within the last 5 minutes and the last hour.
type OutcomeCount struct {
	Vendor  Vendor
	Kind    string
	Outcome string
	Last5m  int
	Last1h  int
}
