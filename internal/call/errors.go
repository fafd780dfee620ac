package call

import "fmt"

// Code says why the service refused a request. The gateway maps each to
// its wire code (gateway.WireCallError); the service speaks no wire codes.
type Code int

// The refusals of the service.
const (
	// CodeInvalidArgument: the request does not fit the call (an
	// advanced-mode request on a general call).
	CodeInvalidArgument Code = iota + 1
	// CodeInvalidInvitees: an invitee cannot be invited (already invited
	// to or in the call).
	CodeInvalidInvitees
	// CodeUserNotFound: a user ID names no user of the app.
	CodeUserNotFound
	// CodeCallNotFound: no such call.
	CodeCallNotFound
	// CodeNotInvitee: the user is not invited to (or not in) the call.
	CodeNotInvitee
	// CodePermissionDenied: only the inviter may do this.
	CodePermissionDenied
	// CodeAnswered: the invitee answered (or left) the call already.
	CodeAnswered
	// CodeEnded: the call ended, was cancelled or timed out.
	CodeEnded
	// CodeUnavailable: in a cluster, the node that runs the calls (the
	// leader) could not be asked (none leads at the moment: a failover,
	// or the bus is down); nothing changed, the client retries.
	CodeUnavailable
)

var codeNames = map[Code]string{
	CodeInvalidArgument: "invalid argument", CodeInvalidInvitees: "invalid invitees",
	CodeUserNotFound: "user not found", CodeCallNotFound: "call not found", CodeNotInvitee: "not an invitee",
	CodePermissionDenied: "permission denied", CodeAnswered: "answered", CodeEnded: "ended",
	CodeUnavailable: "unavailable",
}

// String names the code (for logs).
func (c Code) String() string {
	if n, ok := codeNames[c]; ok {
		return n
	}
	return fmt.Sprintf("code %d", int(c))
}

// Error is a refused request: bad input or a call state that does not
// allow it; it changed nothing. Message is for the client; "" leaves it to
// the wire code's own message.
type Error struct {
	Code    Code
	Message string
}

// Error implements the error interface.
func (e *Error) Error() string {
	if e.Message == "" {
		return "call: " + e.Code.String()
	}
	return "call: " + e.Code.String() + ": " + e.Message
}

// refused is an *Error; an empty format leaves the message to the wire
// code's.
func refused(c Code, format string, args ...any) *Error {
	e := &Error{Code: c}
	if format != "" {
		e.Message = fmt.Sprintf(format, args...)
	}
	return e
}
