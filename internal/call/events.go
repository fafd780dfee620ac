package call

import "time"

// Event is a call event for the live sessions of one user, in the
// package's own types: the gateway turns each into its wire event
// (gateway.WireCallEvent).
type Event interface{ callEvent() }

// InvitationReceived rings an invitee: sent when it is invited while
// online, and to a session that logs in while the invitation still rings.
type InvitationReceived struct {
	CallID  string
	Inviter string // who invited this invitee
	Mode    int
	// Timeout is the whole seconds left until Deadline, rounded up.
	Timeout      int
	Deadline     time.Time
	ExtendedData string
	CreatedAt    time.Time
	Users        []User
}

// UserStateChanged tells the users of a call whose states changed.
type UserStateChanged struct {
	CallID string
	Users  []User
}

// InvitationCancelled tells an invitee that the inviter cancelled its
// invitation.
type InvitationCancelled struct {
	CallID       string
	Inviter      string
	Mode         int
	ExtendedData string
}

// InvitationTimeout tells an invitee that its invitation timed out.
type InvitationTimeout struct {
	CallID string
	Mode   int
}

// InvitationEnded tells the users of an advanced-mode call that it ended.
type InvitationEnded struct {
	CallID       string
	OperatedBy   string
	Mode         int
	ExtendedData string
	EndedAt      time.Time
}

func (InvitationReceived) callEvent()  {}
func (UserStateChanged) callEvent()    {}
func (InvitationCancelled) callEvent() {}
func (InvitationTimeout) callEvent()   {}
func (InvitationEnded) callEvent()     {}
