package herald

import (
	"context"
	"fmt"
	"time"

	"github.com/heraldim/herald/internal/protocol"
)

// CallInvitationMode is a call's mode. Values are numbered as in the seed's
// SDK.
type CallInvitationMode int

// Call modes.
const (
	// CallInvitationModeGeneral: a one-off invitation. It ends once every
	// invitee answered, or the inviter cancelled, or it timed out.
	CallInvitationModeGeneral CallInvitationMode = protocol.CallModeGeneral
	// CallInvitationModeAdvanced: a call that lives on after the first
	// answers: participants may invite more users (CallingInvite), join
	// (CallJoin), quit (CallQuit) and end it (CallEnd).
	CallInvitationModeAdvanced CallInvitationMode = protocol.CallModeAdvanced
)

// String returns the mode's name: general or advanced.
func (m CallInvitationMode) String() string {
	switch m {
	case CallInvitationModeGeneral:
		return "general"
	case CallInvitationModeAdvanced:
		return "advanced"
	}
	return fmt.Sprintf("CallInvitationMode(%d)", int(m))
}

// CallUserState is a user's state in a call. Values are numbered as in the
// seed's SDK.
type CallUserState int

// Call user states.
const (
	CallUserStateInviting  CallUserState = protocol.CallInviting
	CallUserStateAccepted  CallUserState = protocol.CallAccepted
	CallUserStateRejected  CallUserState = protocol.CallRejected
	CallUserStateCancelled CallUserState = protocol.CallCancelled
	CallUserStateReceived  CallUserState = protocol.CallReceived
	CallUserStateTimeout   CallUserState = protocol.CallTimeout
	CallUserStateQuit      CallUserState = protocol.CallQuit
	CallUserStateEnded     CallUserState = protocol.CallEnded
)

// String returns the state's name (inviting, accepted, rejected, cancelled,
// received, timeout, quit, ended).
func (s CallUserState) String() string {
	switch s {
	case CallUserStateInviting:
		return "inviting"
	case CallUserStateAccepted:
		return "accepted"
	case CallUserStateRejected:
		return "rejected"
	case CallUserStateCancelled:
		return "cancelled"
	case CallUserStateReceived:
		return "received"
	case CallUserStateTimeout:
		return "timeout"
	case CallUserStateQuit:
		return "quit"
	case CallUserStateEnded:
		return "ended"
	}
	return fmt.Sprintf("CallUserState(%d)", int(s))
}

// CallUserInfo is one user of a call and its state.
type CallUserInfo struct {
	UserID string
	State  CallUserState
	// ExtendedData is what the user passed with its last answer.
	ExtendedData string
	// UpdatedAt is when the state last changed.
	UpdatedAt time.Time
}

// ErrorUserInfo names a user a request did not apply to, and why.
type ErrorUserInfo struct {
	UserID string
	// Code is the error code (see the Code constants); Reason explains it.
	Code   int
	Reason string
}

// CallInviteConfig configures CallInvite.
type CallInviteConfig struct {
	// Mode of the call; zero is CallInvitationModeGeneral.
	Mode CallInvitationMode
	// Timeout is how long the invitations ring before they time out,
	// rounded up to whole seconds; zero lets the server choose (90 s), at
	// most 600 s.
	Timeout time.Duration
	// ExtendedData is opaque app data delivered with the invitation.
	ExtendedData string
	// PushConfig, when set, pushes the invitation to invitees without a live
	// session.
	PushConfig *PushConfig
}

// CallInvitationSentResult answers CallInvite and CallingInvite.
type CallInvitationSentResult struct {
	// CallID identifies the call in every later request and event.
	CallID string
	// Timeout is how long the invitations ring.
	Timeout time.Duration
	// Deadline is when unanswered invitations time out.
	Deadline time.Time
	// ErrorInvitees are the invitees that could not be invited (a user who
	// never logged in, one already in the call, ...).
	ErrorInvitees []ErrorUserInfo
}

// CallingInviteConfig configures CallingInvite.
type CallingInviteConfig struct {
	// Timeout is as in CallInviteConfig.
	Timeout time.Duration
	// PushConfig, when set, pushes the invitation to invitees without a live
	// session.
	PushConfig *PushConfig
}

// CallCancelConfig configures CallCancel.
type CallCancelConfig struct {
	// ExtendedData is delivered with the cancellation.
	ExtendedData string
	// PushConfig, when set, pushes the cancellation to invitees without a
	// live session (so that a ringing notification can be withdrawn).
	PushConfig *PushConfig
}

// CallCancelSentResult answers CallCancel.
type CallCancelSentResult struct {
	CallID string
	// ErrorInvitees are the named invitees the cancellation did not apply
	// to (they answered already, or were never invited).
	ErrorInvitees []ErrorUserInfo
}

// CallAnswerConfig configures CallAccept, CallReject, CallJoin, CallQuit
// and CallEnd.
type CallAnswerConfig struct {
	// ExtendedData is delivered to the call's users with the state change.
	ExtendedData string
}

// CallInfo describes a call.
type CallInfo struct {
	CallID       string
	Inviter      string
	Mode         CallInvitationMode
	ExtendedData string
	CreatedAt    time.Time
	// Deadline is when the unanswered invitations time out.
	Deadline time.Time
	// Ended is true once the call ended, was cancelled or timed out.
	Ended        bool
	CallUserList []CallUserInfo
}

// CallInvitationReceivedInfo is an invitation ringing
// (EventHandler.CallInvitationReceived).
type CallInvitationReceivedInfo struct {
	Inviter string
	Mode    CallInvitationMode
	// Timeout is the time left to answer, Deadline its end.
	Timeout      time.Duration
	Deadline     time.Time
	ExtendedData string
	CreatedAt    time.Time
	CallUserList []CallUserInfo
}

// CallInvitationCancelledInfo tells an invitee that its invitation was
// cancelled (EventHandler.CallInvitationCancelled).
type CallInvitationCancelledInfo struct {
	Inviter      string
	Mode         CallInvitationMode
	ExtendedData string
}

// CallInvitationTimeoutInfo tells an invitee it did not answer in time
// (EventHandler.CallInvitationTimeout).
type CallInvitationTimeoutInfo struct {
	Mode CallInvitationMode
}

// CallUserStateChangeInfo carries the users of a call whose state changed
// (EventHandler.CallUserStateChanged).
type CallUserStateChangeInfo struct {
	CallID       string
	CallUserList []CallUserInfo
}

// CallInvitationEndedInfo tells everyone in a call that it ended
// (EventHandler.CallInvitationEnded).
type CallInvitationEndedInfo struct {
	CallID         string
	OperatedUserID string
	Mode           CallInvitationMode
	ExtendedData   string
	EndTime        time.Time
}

func callUsersFromWire(us []protocol.CallUser) []CallUserInfo {
	out := make([]CallUserInfo, len(us))
	for i, u := range us {
		out[i] = CallUserInfo{UserID: u.UserID, State: CallUserState(u.State), ExtendedData: u.ExtendedData, UpdatedAt: fromMillis(u.UpdatedAt)}
	}
	return out
}

func errorUsersFromWire(us []protocol.CallErrorUser) []ErrorUserInfo {
	if len(us) == 0 {
		return nil
	}
	out := make([]ErrorUserInfo, len(us))
	for i, u := range us {
		out[i] = ErrorUserInfo{UserID: u.UserID, Code: int(u.Code), Reason: u.Reason}
	}
	return out
}

func callInfoFromWire(ci protocol.CallInfo) CallInfo {
	return CallInfo{
		CallID: ci.CallID, Inviter: ci.Inviter, Mode: CallInvitationMode(ci.Mode), ExtendedData: ci.ExtendedData,
		CreatedAt: fromMillis(ci.CreatedAt), Deadline: fromMillis(ci.Deadline), Ended: ci.Ended,
		CallUserList: callUsersFromWire(ci.Users),
	}
}

func inviteResultFromWire(r protocol.CallInviteReply) CallInvitationSentResult {
	return CallInvitationSentResult{
		CallID: r.CallID, Timeout: time.Duration(r.Timeout) * time.Second, Deadline: fromMillis(r.Deadline),
		ErrorInvitees: errorUsersFromWire(r.ErrorInvitees),
	}
}

// timeoutSeconds converts a call timeout to the wire's whole seconds,
// rounding up; a negative one stays negative for the server to refuse.
func timeoutSeconds(d time.Duration) int {
	if d < 0 {
		return -1
	}
	return int((d + time.Second - 1) / time.Second)
}

func pushConfigToWire(pc *PushConfig) *protocol.PushConfig {
	if pc == nil {
		return nil
	}
	return &protocol.PushConfig{Title: pc.Title, Content: pc.Content, Payload: pc.Payload, ResourcesID: pc.ResourcesID}
}

// CallInvite invites users to a new call. Invitees with a live session get
// EventHandler.CallInvitationReceived at once; the others get a push when
// config.PushConfig is set, and the event when they log in before the
// deadline. Invitees that cannot be invited are listed in the result's
// ErrorInvitees; the request fails only when none can be.
func (c *Client) CallInvite(ctx context.Context, invitees []string, config CallInviteConfig) (CallInvitationSentResult, error) {
	req := protocol.CallInviteRequest{
		Invitees: invitees, Mode: int(config.Mode), Timeout: timeoutSeconds(config.Timeout),
		ExtendedData: config.ExtendedData, PushConfig: pushConfigToWire(config.PushConfig),
	}
	var r protocol.CallInviteReply
	if err := c.call(ctx, protocol.TypeCallInvite, req, &r); err != nil {
		return CallInvitationSentResult{}, fmt.Errorf("herald: call invite: %w", err)
	}
	return inviteResultFromWire(r), nil
}

// CallingInvite invites more users into an advanced-mode call this
// client's user is in.
func (c *Client) CallingInvite(ctx context.Context, invitees []string, callID string, config CallingInviteConfig) (CallInvitationSentResult, error) {
	req := protocol.CallingInviteRequest{
		CallID: callID, Invitees: invitees, Timeout: timeoutSeconds(config.Timeout),
		PushConfig: pushConfigToWire(config.PushConfig),
	}
	var r protocol.CallInviteReply
	if err := c.call(ctx, protocol.TypeCallingInvite, req, &r); err != nil {
		return CallInvitationSentResult{}, fmt.Errorf("herald: calling invite: %w", err)
	}
	return inviteResultFromWire(r), nil
}

// CallCancel cancels this client's user's invitations still unanswered:
// those to invitees, or all of them when invitees is empty (the seed's
// argument order: invitees first). Cancelled invitees get
// EventHandler.CallInvitationCancelled.
func (c *Client) CallCancel(ctx context.Context, invitees []string, callID string, config CallCancelConfig) (CallCancelSentResult, error) {
	req := protocol.CallCancelRequest{
		CallID: callID, Invitees: invitees, ExtendedData: config.ExtendedData,
		PushConfig: pushConfigToWire(config.PushConfig),
	}
	var r protocol.CallReply
	if err := c.call(ctx, protocol.TypeCallCancel, req, &r); err != nil {
		return CallCancelSentResult{}, fmt.Errorf("herald: call cancel: %w", err)
	}
	if r.CallID == "" {
		r.CallID = callID
	}
	return CallCancelSentResult{CallID: r.CallID, ErrorInvitees: errorUsersFromWire(r.ErrorInvitees)}, nil
}

// CallAccept accepts an invitation.
func (c *Client) CallAccept(ctx context.Context, callID string, config CallAnswerConfig) error {
	return c.callAction(ctx, protocol.TypeCallAccept, "call accept", callID, config)
}

// CallReject rejects an invitation.
func (c *Client) CallReject(ctx context.Context, callID string, config CallAnswerConfig) error {
	return c.callAction(ctx, protocol.TypeCallReject, "call reject", callID, config)
}

// CallQuit leaves an advanced-mode call; the call ends when its last
// participant quits.
func (c *Client) CallQuit(ctx context.Context, callID string, config CallAnswerConfig) error {
	return c.callAction(ctx, protocol.TypeCallQuit, "call quit", callID, config)
}

// CallEnd ends an advanced-mode call for everyone in it.
func (c *Client) CallEnd(ctx context.Context, callID string, config CallAnswerConfig) error {
	return c.callAction(ctx, protocol.TypeCallEnd, "call end", callID, config)
}

func (c *Client) callAction(ctx context.Context, typ, op, callID string, config CallAnswerConfig) error {
	if err := c.call(ctx, typ, protocol.CallRequest{CallID: callID, ExtendedData: config.ExtendedData}, nil); err != nil {
		return fmt.Errorf("herald: %s: %w", op, err)
	}
	return nil
}

// CallJoin joins (or rejoins) an advanced-mode call this client's user was
// invited to, and returns the call.
func (c *Client) CallJoin(ctx context.Context, callID string, config CallAnswerConfig) (CallInfo, error) {
	var r protocol.CallInfo
	if err := c.call(ctx, protocol.TypeCallJoin, protocol.CallRequest{CallID: callID, ExtendedData: config.ExtendedData}, &r); err != nil {
		return CallInfo{}, fmt.Errorf("herald: call join: %w", err)
	}
	return callInfoFromWire(r), nil
}

// QueryCallInfo returns a call this client's user was invited to or
// started, with every user's state.
func (c *Client) QueryCallInfo(ctx context.Context, callID string) (CallInfo, error) {
	var r protocol.CallInfo
	if err := c.call(ctx, protocol.TypeCallInfo, protocol.CallRequest{CallID: callID}, &r); err != nil {
		return CallInfo{}, fmt.Errorf("herald: query call info: %w", err)
	}
	return callInfoFromWire(r), nil
}

// callEvent decodes a call event for the app's handlers; it reports whether
// f was one.
func (c *Client) callEvent(f protocol.Frame) bool {
	var fn func(EventHandler)
	switch f.Type {
	case protocol.EventCallInvitationReceived:
		var d protocol.CallInvitationReceived
		if !c.decodeEvent(f, &d) {
			return true
		}
		info := CallInvitationReceivedInfo{
			Inviter: d.Inviter, Mode: CallInvitationMode(d.Mode), Timeout: time.Duration(d.Timeout) * time.Second,
			Deadline: fromMillis(d.Deadline), ExtendedData: d.ExtendedData, CreatedAt: fromMillis(d.CreatedAt),
			CallUserList: callUsersFromWire(d.Users),
		}
		fn = func(h EventHandler) {
			if h.CallInvitationReceived != nil {
				h.CallInvitationReceived(info, d.CallID)
			}
		}
	case protocol.EventCallInvitationCancelled:
		var d protocol.CallInvitationCancelled
		if !c.decodeEvent(f, &d) {
			return true
		}
		info := CallInvitationCancelledInfo{Inviter: d.Inviter, Mode: CallInvitationMode(d.Mode), ExtendedData: d.ExtendedData}
		fn = func(h EventHandler) {
			if h.CallInvitationCancelled != nil {
				h.CallInvitationCancelled(info, d.CallID)
			}
		}
	case protocol.EventCallInvitationTimeout:
		var d protocol.CallInvitationTimeout
		if !c.decodeEvent(f, &d) {
			return true
		}
		info := CallInvitationTimeoutInfo{Mode: CallInvitationMode(d.Mode)}
		fn = func(h EventHandler) {
			if h.CallInvitationTimeout != nil {
				h.CallInvitationTimeout(info, d.CallID)
			}
		}
	case protocol.EventCallUserStateChanged:
		var d protocol.CallUserStateChanged
		if !c.decodeEvent(f, &d) {
			return true
		}
		info := CallUserStateChangeInfo{CallID: d.CallID, CallUserList: callUsersFromWire(d.Users)}
		fn = func(h EventHandler) {
			if h.CallUserStateChanged != nil {
				h.CallUserStateChanged(info)
			}
		}
	case protocol.EventCallInvitationEnded:
		var d protocol.CallInvitationEnded
		if !c.decodeEvent(f, &d) {
			return true
		}
		info := CallInvitationEndedInfo{
			CallID: d.CallID, OperatedUserID: d.OperatedBy, Mode: CallInvitationMode(d.Mode),
			ExtendedData: d.ExtendedData, EndTime: fromMillis(d.EndedAt),
		}
		fn = func(h EventHandler) {
			if h.CallInvitationEnded != nil {
				h.CallInvitationEnded(info)
			}
		}
	default:
		return false
	}
	c.enqueue(&event{kind: evNotify, notify: fn})
	return true
}
