package push

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// SourceKind says what a push announces: it decides the job's kind, how
// the dispatcher builds it (a ring is a VoIP push, gated by CallGate) and
// which "once" rule applies.
type SourceKind int

// The sources of a push.
const (
	// SourceMessage is a stored message's push (Source.MessageID).
	SourceMessage SourceKind = iota + 1
	// SourceCallRing rings an offline invitee of call Source.CallID.
	SourceCallRing
	// SourceCallWithdraw tells an invitee's devices that call
	// Source.CallID stopped ringing.
	SourceCallWithdraw
	// SourceServer is a push sent without a message through the admin API
	// (MessageID 0).
	SourceServer
	// SourceMessageWithdraw withdraws the shown notifications of revoked
	// message Source.MessageID (withdraw.go).
	SourceMessageWithdraw
)

// JobKind is the stored kind of the jobs a source plans.
func (k SourceKind) JobKind() JobKind {
	switch k {
	case SourceCallRing:
		return JobCallInvite
	case SourceCallWithdraw:
		return JobCallCancel
	case SourceMessageWithdraw:
		return JobMessageWithdraw
	}
	return JobMessage
}

// Source names what a push announces.
type Source struct {
	Kind SourceKind
	// MessageID is the message of SourceMessage.
	MessageID int64
	// CallID is the call of SourceCallRing and SourceCallWithdraw.
	CallID string
}

// Intent is a push to plan: who gets it, what it announces and says, and
// until when. The store turns it into one job per eligible device
// (Eligible) inside the caller's transaction; it is the one description of
// a push between the services (im, call, admin) and the store.
type Intent struct {
	AppID string
	// Targets: users (each enabled device bound to them) or PushIDs (each
	// enabled device named, bound or not).
	Targets Targets
	Source  Source
	Content Content
	// ExpiresAt is when the push becomes worthless (zero: no expiry of
	// its own); a ring expires at the invitation's deadline.
	ExpiresAt time.Time
	// Once plans jobs only for the devices that have none for the source
	// yet: for a message, a job of the message whatever its status; for a
	// call, a job of the same kind for the call and user. A push planned
	// late (a session ended unacknowledged, a ring after a reconnect) never
	// reaches a device twice.
	Once bool
	// Replaces, on a withdraw (SourceCallWithdraw) to users, sends it only
	// to the devices whose rings of the call may be with the vendor (see
	// Replaced); nil: to every eligible device of the users. A message's
	// withdraw (SourceMessageWithdraw) always has it and no Targets: it
	// goes to the devices of the message's pushes (withdraw.go).
	Replaces *Replaced
}

// RingClaim is one attempt of a ring job (JobCallInvite) that passed the
// call gate on its way to the vendor (RingClaimer).
type RingClaim struct {
	JobID   int64
	Attempt int
}

// Replaced names the rings of the target user and call that a withdraw
// replaces, and so the devices its jobs go to: the device of each of the
// user's ring jobs of the call that the vendor accepted (JobDelivered),
// and of each ring in InFlight whose claimed attempt has no recorded
// outcome yet (still pending with fewer attempts). A ring whose attempts
// failed reached no phone and is not withdrawn; a device that is no
// longer eligible (Eligible) gets no withdraw, as it would get no push.
type Replaced struct {
	InFlight []RingClaim
	// RingConfig: each job's push config is its ring's (for a message's
	// withdraw: the message push's it replaces), with the content
	// replaced by the intent's Content.Content (its other fields unused);
	// false: the intent's Content.
	RingConfig bool
}

// VoIP reports whether the intent's jobs ring a call: sent as a VoIP push
// where the vendor has one (callRing), and only while CallGate says the
// invitee is still ringing.
func (i Intent) VoIP() bool { return i.Source.Kind.JobKind().Rings() }

// Rings reports whether jobs of kind k ring a call (JobCallInvite): the
// dispatcher gates them with CallGate and sends them as VoIP pushes.
func (k JobKind) Rings() bool { return k == JobCallInvite }

// Priority is the delivery urgency of the intent's pushes: every push
// Herald plans today is high priority (a message or a call is news).
func (i Intent) Priority() Priority { return PriorityHigh }

// StoredConfig is the intent's content as the store writes it (push_config
// of jobs, messages, group fan-outs and call invitations):
// the JSON of protocol.PushConfig, which Content mirrors field for field,
// so that rows written before Intent existed read the same (DecodeContent).
func (i Intent) StoredConfig() ([]byte, error) {
	b, err := json.Marshal(i.Content)
	if err != nil {
		return nil, fmt.Errorf("push: encode push config: %w", err)
	}
	return b, nil
}

// DecodeContent reads a stored push config (a job's, a message's or an
// invitation's push_config); the store decodes at its boundary, so the
// services and the dispatcher only see Content.
func DecodeContent(b []byte) (Content, error) {
	var c Content
	if err := json.Unmarshal(b, &c); err != nil {
		return Content{}, fmt.Errorf("push config unreadable: %w", err)
	}
	return c, nil
}

// Eligible is the one rule of which device may get a push for userID: its
// pushes are enabled and it is bound to userID ("" for a push by PushID to
// an unbound device). Planning applies it in SQL (store/sqlstore
// eligibleDevice); the dispatcher applies it again before each send, as
// the device may have changed since (Ineligible), and the admin explain
// report shows it per device.
func Eligible(d Device, userID string) bool { return Ineligible(d, userID) == "" }

// Ineligible is Eligible's reason: empty when d may get userID's push,
// else why not (the delivery trace's reason of a dropped job).
func Ineligible(d Device, userID string) string {
	switch {
	case d.UserID != userID:
		// Unbound (logout) or taken by another user after the job was
		// planned: never show one user's message to another.
		return "device no longer bound to the recipient"
	case !d.Enabled:
		return "pushes disabled on the device"
	}
	return ""
}

// Planner plans a push of its own, in a transaction of its own (the admin
// API's send). Pushes of a message or a call are planned by their store in
// the message's or the call's transaction, with the same rule.
type Planner interface {
	// PlanIntent writes a pending job for every eligible device of in's
	// targets and returns the jobs' IDs.
	PlanIntent(ctx context.Context, in Intent) ([]int64, error)
}
