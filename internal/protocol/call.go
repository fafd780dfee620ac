package protocol

import "unicode/utf8"

// Call request types (client to server).
const (
	TypeCallInvite    = "callInvite"
	TypeCallAccept    = "callAccept"
	TypeCallReject    = "callReject"
	TypeCallCancel    = "callCancel"
	TypeCallingInvite = "callingInvite"
	TypeCallJoin      = "callJoin"
	TypeCallQuit      = "callQuit"
	TypeCallEnd       = "callEnd"
	TypeCallInfo      = "callInfo"
)

// Call events (server to client).
const (
	// EventCallInvitationReceived rings an invitee's sessions: at the
	// invitation, or at a login before the call's deadline.
	EventCallInvitationReceived = "callInvitationReceived"
	// EventCallInvitationCancelled tells an invitee the inviter cancelled.
	EventCallInvitationCancelled = "callInvitationCancelled"
	// EventCallInvitationTimeout tells an invitee it did not answer in time.
	EventCallInvitationTimeout = "callInvitationTimeout"
	// EventCallUserStateChanged tells everyone in a call that users' states
	// changed.
	EventCallUserStateChanged = "callUserStateChanged"
	// EventCallInvitationEnded tells everyone in a call that it ended.
	EventCallInvitationEnded = "callInvitationEnded"
)

var callTypes = []string{
	TypeCallInvite, TypeCallAccept, TypeCallReject, TypeCallCancel, TypeCallingInvite,
	TypeCallJoin, TypeCallQuit, TypeCallEnd, TypeCallInfo,
}

// Call modes, numbered as in the seed's SDK.
const (
	CallModeGeneral  = 0
	CallModeAdvanced = 1
)

// Call user states, numbered as in the seed's SDK (ZIMCallUserState).
const (
	CallInviting  = 0
	CallAccepted  = 1
	CallRejected  = 2
	CallCancelled = 3
	CallReceived  = 5
	CallTimeout   = 6
	CallQuit      = 7
	CallEnded     = 8
)

// Call limits.
const (
	// MaxCallInvitees bounds one invitation's invitee list.
	MaxCallInvitees = 32
	// DefaultCallTimeout and MaxCallTimeout are in seconds.
	DefaultCallTimeout = 90
	MaxCallTimeout     = 600
)

// CallUser is one user of a call with its state.
type CallUser struct {
	UserID       string `json:"userID"`
	State        int    `json:"state"`
	ExtendedData string `json:"extendedData,omitempty"`
	UpdatedAt    int64  `json:"updatedAt"`
}

// CallErrorUser names an invitee that could not be invited, and why.
type CallErrorUser struct {
	UserID string `json:"userID"`
	Code   Code   `json:"code"`
	Reason string `json:"reason"`
}

// CallInviteRequest invites users to a new call (the seed's callInvite with
// ZIMCallInviteConfig). Timeout is in seconds (0: DefaultCallTimeout).
type CallInviteRequest struct {
	Invitees     []string    `json:"invitees"`
	Mode         int         `json:"mode,omitempty"`
	Timeout      int         `json:"timeout,omitempty"`
	ExtendedData string      `json:"extendedData,omitempty"`
	PushConfig   *PushConfig `json:"pushConfig,omitempty"`
}

// CallInviteReply answers callInvite and callingInvite. Deadline is when
// unanswered invitations time out (Unix ms).
type CallInviteReply struct {
	CallID        string          `json:"callID"`
	Timeout       int             `json:"timeout"`
	Deadline      int64           `json:"deadline"`
	ErrorInvitees []CallErrorUser `json:"errorInvitees,omitempty"`
}

// CallingInviteRequest invites more users into an advanced-mode call.
type CallingInviteRequest struct {
	CallID     string      `json:"callID"`
	Invitees   []string    `json:"invitees"`
	Timeout    int         `json:"timeout,omitempty"`
	PushConfig *PushConfig `json:"pushConfig,omitempty"`
}

// CallRequest answers or acts on a call (callAccept, callReject, callJoin,
// callQuit, callEnd, callInfo).
type CallRequest struct {
	CallID       string `json:"callID"`
	ExtendedData string `json:"extendedData,omitempty"`
}

// CallCancelRequest cancels the caller's invitations still unanswered
// (all, or those named in Invitees), with an optional push to the offline
// ones.
type CallCancelRequest struct {
	CallID       string      `json:"callID"`
	Invitees     []string    `json:"invitees,omitempty"`
	ExtendedData string      `json:"extendedData,omitempty"`
	PushConfig   *PushConfig `json:"pushConfig,omitempty"`
}

// CallReply answers the call requests that only confirm.
type CallReply struct {
	CallID string `json:"callID"`
	// ErrorInvitees lists named invitees a cancel did not apply to.
	ErrorInvitees []CallErrorUser `json:"errorInvitees,omitempty"`
}

// CallInfo describes a call (callInfo reply, callJoin reply).
type CallInfo struct {
	CallID       string     `json:"callID"`
	Inviter      string     `json:"inviter"`
	Mode         int        `json:"mode"`
	ExtendedData string     `json:"extendedData,omitempty"`
	CreatedAt    int64      `json:"createdAt"`
	Deadline     int64      `json:"deadline"`
	Ended        bool       `json:"ended"`
	Users        []CallUser `json:"callUserList"`
}

// CallInvitationReceived rings an invitee. Timeout is the seconds left until
// the deadline (rounded up).
type CallInvitationReceived struct {
	CallID       string     `json:"callID"`
	Inviter      string     `json:"inviter"`
	Mode         int        `json:"mode"`
	Timeout      int        `json:"timeout"`
	Deadline     int64      `json:"deadline"`
	ExtendedData string     `json:"extendedData,omitempty"`
	CreatedAt    int64      `json:"createdAt"`
	Users        []CallUser `json:"callUserList"`
}

// CallInvitationCancelled tells an invitee its invitation was cancelled.
type CallInvitationCancelled struct {
	CallID       string `json:"callID"`
	Inviter      string `json:"inviter"`
	Mode         int    `json:"mode"`
	ExtendedData string `json:"extendedData,omitempty"`
}

// CallInvitationTimeout tells an invitee it did not answer in time.
type CallInvitationTimeout struct {
	CallID string `json:"callID"`
	Mode   int    `json:"mode"`
}

// CallUserStateChanged carries the users whose state changed.
type CallUserStateChanged struct {
	CallID string     `json:"callID"`
	Users  []CallUser `json:"callUserList"`
}

// CallInvitationEnded tells everyone in a call that it ended (callEnd in
// advanced mode, or the last participant quit).
type CallInvitationEnded struct {
	CallID       string `json:"callID"`
	OperatedBy   string `json:"operatedBy"`
	Mode         int    `json:"mode"`
	ExtendedData string `json:"extendedData,omitempty"`
	EndedAt      int64  `json:"endedAt"`
}

// ValidateCallInvitees checks an invitee list: 1 to MaxCallInvitees valid
// user IDs, not naming inviter.
func ValidateCallInvitees(invitees []string, inviter string) *Error {
	if len(invitees) == 0 || len(invitees) > MaxCallInvitees {
		return Errorf(CodeInvalidInvitees, "invitees must name 1 to %d users", MaxCallInvitees)
	}
	for _, u := range invitees {
		if !ValidUserID(u) {
			return Errorf(CodeInvalidUserID, "invitees: %q is not a valid user ID", truncate(u, 70))
		}
		if u == inviter {
			return Errorf(CodeInvalidInvitees, "cannot invite yourself")
		}
	}
	return nil
}

// ValidateCallInvite checks a callInvite request and fills in the default
// timeout.
func ValidateCallInvite(r *CallInviteRequest, inviter string) *Error {
	if err := ValidateCallInvitees(r.Invitees, inviter); err != nil {
		return err
	}
	if r.Mode != CallModeGeneral && r.Mode != CallModeAdvanced {
		return Errorf(CodeInvalidArgument, "mode must be 0 (general) or 1 (advanced)")
	}
	if err := validateCallTimeout(&r.Timeout); err != nil {
		return err
	}
	if err := validateCallExtendedData(r.ExtendedData); err != nil {
		return err
	}
	if r.PushConfig != nil {
		return ValidatePushConfig(r.PushConfig)
	}
	return nil
}

func validateCallTimeout(t *int) *Error {
	switch {
	case *t == 0:
		*t = DefaultCallTimeout
	case *t < 1 || *t > MaxCallTimeout:
		return Errorf(CodeInvalidTimeout, "timeout must be 1 to %d seconds", MaxCallTimeout)
	}
	return nil
}

func validateCallExtendedData(s string) *Error {
	if len(s) > MaxExtendedDataBytes || !utf8.ValidString(s) {
		return Errorf(CodeInvalidArgument, "extendedData over %d bytes or not UTF-8", MaxExtendedDataBytes)
	}
	return nil
}

// ValidateCallingInvite checks a callingInvite request and fills in the
// default timeout.
func ValidateCallingInvite(r *CallingInviteRequest, inviter string) *Error {
	if r.CallID == "" || len(r.CallID) > MaxIDLen {
		return Errorf(CodeInvalidArgument, "callID is required")
	}
	if err := ValidateCallInvitees(r.Invitees, inviter); err != nil {
		return err
	}
	if err := validateCallTimeout(&r.Timeout); err != nil {
		return err
	}
	if r.PushConfig != nil {
		return ValidatePushConfig(r.PushConfig)
	}
	return nil
}

// ValidateCallRequest checks a request naming a call.
func ValidateCallRequest(r *CallRequest) *Error {
	if r.CallID == "" || len(r.CallID) > MaxIDLen {
		return Errorf(CodeInvalidArgument, "callID is required")
	}
	return validateCallExtendedData(r.ExtendedData)
}

// ValidateCallCancel checks a callCancel request.
func ValidateCallCancel(r *CallCancelRequest) *Error {
	if r.CallID == "" || len(r.CallID) > MaxIDLen {
		return Errorf(CodeInvalidArgument, "callID is required")
	}
	if len(r.Invitees) > MaxCallInvitees {
		return Errorf(CodeInvalidInvitees, "invitees must name at most %d users", MaxCallInvitees)
	}
	for _, u := range r.Invitees {
		if !ValidUserID(u) {
			return Errorf(CodeInvalidUserID, "invitees: %q is not a valid user ID", truncate(u, 70))
		}
	}
	if err := validateCallExtendedData(r.ExtendedData); err != nil {
		return err
	}
	if r.PushConfig != nil {
		return ValidatePushConfig(r.PushConfig)
	}
	return nil
}

// IsCallType reports whether t is a call request type.
func IsCallType(t string) bool {
	for _, c := range callTypes {
		if c == t {
			return true
		}
	}
	return false
}
