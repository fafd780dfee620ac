package call

import (
	"context"
	"errors"
	"time"

	"github.com/heraldim/herald/internal/push"
)

// ErrNotFound: no call by that ID in the app.
var ErrNotFound = errors.New("call: not found")

// Record is a call as stored: the invitation and every user in it.
type Record struct {
	AppID        string
	CallID       string
	Inviter      string
	Mode         int
	ExtendedData string
	CreatedAt    time.Time
	// Deadline is when the first invitation stops ringing.
	Deadline time.Time
	// ClosedAt is when the call stopped changing (zero while open): in
	// general mode when no invitee was left ringing, in advanced mode when
	// it ended.
	ClosedAt time.Time
	// Users lists the inviter and the invitees, in the order they joined
	// the list.
	Users []User
}

// User is one user of a call.
type User struct {
	UserID string
	// State is a protocol.Call* state.
	State int
	// InvitedBy is who invited the user ("" for the inviter).
	InvitedBy    string
	ExtendedData string
	// Deadline is when the user's invitation stops ringing (zero for the
	// inviter).
	Deadline  time.Time
	UpdatedAt time.Time
	// PushConfig is the ring push config of the invitation that rang the
	// user; nil: it had none (and for the inviter). It rings the user's devices when the user is offline at
	// the invitation, or later when its last live session ends without a
	// logout.
	PushConfig *push.Content
}

// Push is a push to plan in a call's transaction: one job per enabled
// device bound to UserID.
type Push struct {
	UserID string
	// Kind is push.JobCallInvite or push.JobCallCancel.
	Kind push.JobKind
	// Config is the push's content.
	Config    push.Content
	ExpiresAt time.Time
	// Once plans jobs only for the devices that have no job of Kind for
	// the call yet: a ring planned late never rings a device twice.
	Once bool
}

// RingClaim is one attempt of a ring push job that passed the call gate
// on its way to the vendor (push's: the store plans withdraws from it).
type RingClaim = push.RingClaim

// Withdraw is the push that replaces the rings of one user of the call
// that may be with the vendor: a push.JobCallCancel job (with the ring's
// collapse ID, the call's) for the device of each of the user's ring jobs
// of the call that the vendor accepted (status delivered), and of each
// ring job in Rings whose claimed attempt has no recorded outcome yet
// (still pending with fewer attempts: in flight). A ring whose attempts
// failed reached no phone and is not withdrawn.
type Withdraw struct {
	UserID string
	Rings  []RingClaim
	// Config is the withdraw's push config; nil: the ring job's own with
	// its content replaced by Content.
	Config    *push.Content
	Content   string
	ExpiresAt time.Time
}

// Change is one state change of a call, stored in one transaction: the
// call's row (New), its users' states, its closing, the pushes it plans and
// the ring pushes it stops.
type Change struct {
	AppID  string
	CallID string
	// New inserts the call with its users; the call must not exist.
	New *Record
	// Users are inserted or replaced (by user ID); their positions follow
	// the call's existing users in this order.
	Users []User
	// ClosedAt, when not zero, closes the call.
	ClosedAt time.Time
	// Pushes are planned for the users' enabled bound devices.
	Pushes []Push
	// StopRinging lists users whose pending ring pushes of this call are
	// dropped, with DropReason.
	StopRinging []string
	DropReason  string
	// Withdraws replace rings that may be with the vendor of users who
	// stop ringing; planned before StopRinging drops the pending rings.
	Withdraws []Withdraw
	// Now stamps the dropped jobs and the planned ones' not_before.
	Now time.Time
}

// Store is what the call service needs from persistence.
type Store interface {
	// UnknownUsers returns those of users that never logged in to appID.
	UnknownUsers(ctx context.Context, appID string, users []string) ([]string, error)
	// SaveCall stores a change in one transaction.
	SaveCall(ctx context.Context, ch Change) error
	// Call returns a call with its users; ErrNotFound if there is none.
	Call(ctx context.Context, appID, callID string) (Record, error)
	// OpenCalls returns every call not closed, of every app, with its
	// users.
	OpenCalls(ctx context.Context) ([]Record, error)
}
