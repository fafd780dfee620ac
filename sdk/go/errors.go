package herald

import (
	"errors"
	"fmt"

	"github.com/heraldim/herald/internal/protocol"
)

// Sentinel errors of the SDK itself. Errors the server returns are *Error.
var (
	// ErrNotLoggedIn: the call needs a login in force (Login first).
	ErrNotLoggedIn = errors.New("herald: not logged in")
	// ErrDisconnected: the connection is down (the SDK is reconnecting, or it
	// was lost while the request was in flight). A send may or may not have
	// been stored: retry it with the same LocalMessageID.
	ErrDisconnected = errors.New("herald: disconnected")
	// ErrAlreadyLoggedIn: Login while a login is in force; Logout first.
	ErrAlreadyLoggedIn = errors.New("herald: already logged in")
	// ErrClosed: the Client was destroyed.
	ErrClosed = errors.New("herald: client destroyed")
)

// Error is an error reported by the server (or a request the SDK refused for
// the same reason the server would). Code is stable: see the Code constants
// and docs/protocol.md.
type Error struct {
	// Code is the error's stable code.
	Code int
	// Message is a human-readable explanation, safe to show.
	Message string
}

// Error implements the error interface.
func (e *Error) Error() string {
	return fmt.Sprintf("%d %s: %s", e.Code, protocol.Code(e.Code).Name(), e.Message)
}

// Is reports whether target is an *Error with the same code, so that
// errors.Is(err, &herald.Error{Code: herald.CodeTokenExpired}) works.
func (e *Error) Is(target error) bool {
	var t *Error
	return errors.As(target, &t) && t.Code == e.Code
}

// Error codes the server returns, from its error catalogue.
const (
	CodeBadFrame            = int(protocol.CodeBadFrame)            // frame is not valid JSON of the documented shape
	CodeUnknownType         = int(protocol.CodeUnknownType)         // unknown frame type
	CodeMissingID           = int(protocol.CodeMissingID)           // request needs an id
	CodeInvalidArgument     = int(protocol.CodeInvalidArgument)     // a field is missing or out of range
	CodeInvalidUserID       = int(protocol.CodeInvalidUserID)       // a user ID breaks the user ID rules
	CodeInvalidConversation = int(protocol.CodeInvalidConversation) // unknown conversation type, or a conversation with oneself
	CodeInvalidMessageType  = int(protocol.CodeInvalidMessageType)  // message type unknown or not allowed
	CodeMessageTooLarge     = int(protocol.CodeMessageTooLarge)     // body over its type's limit
	CodeEmptyMessage        = int(protocol.CodeEmptyMessage)        // body is empty
	CodeLocalIDConflict     = int(protocol.CodeLocalIDConflict)     // LocalMessageID reused with different content
	CodeInvalidPriority     = int(protocol.CodeInvalidPriority)     // priority is not 1, 2 or 3
	CodeInvalidPushConfig   = int(protocol.CodeInvalidPushConfig)   // push config field over its limit
	CodeInvalidPushDevice   = int(protocol.CodeInvalidPushDevice)   // push registration invalid, or PushID unknown
	CodeInvalidInvitees     = int(protocol.CodeInvalidInvitees)     // invitee list empty, over 32 users, or naming oneself
	CodeInvalidTimeout      = int(protocol.CodeInvalidTimeout)      // call timeout outside 1 to 600 seconds
	CodeNotLoggedIn         = int(protocol.CodeNotLoggedIn)         // request before a successful login
	CodeTokenInvalid        = int(protocol.CodeTokenInvalid)        // token malformed, badly signed, or for another user
	CodeTokenExpired        = int(protocol.CodeTokenExpired)        // token past its expiry
	CodeAppUnknown          = int(protocol.CodeAppUnknown)          // app unknown, or token of another app
	CodeAlreadyLoggedIn     = int(protocol.CodeAlreadyLoggedIn)     // login on a session already logged in
	CodeNotGroupMember      = int(protocol.CodeNotGroupMember)      // not a member of the group
	CodePermissionDenied    = int(protocol.CodePermissionDenied)    // the user's role (or not being the inviter) does not allow this
	CodeNotCallInvitee      = int(protocol.CodeNotCallInvitee)      // not invited to (or not in) the call
	CodeUserNotFound        = int(protocol.CodeUserNotFound)        // a user ID names nobody who ever logged in to the app
	CodeGroupNotFound       = int(protocol.CodeGroupNotFound)       // no such group
	CodeCallNotFound        = int(protocol.CodeCallNotFound)        // no such call
	CodeGroupExists         = int(protocol.CodeGroupExists)         // a group with that ID exists
	CodeAlreadyGroupMember  = int(protocol.CodeAlreadyGroupMember)  // the user is a member already
	CodeGroupFull           = int(protocol.CodeGroupFull)           // the group would exceed its member limit
	CodeCallAnswered        = int(protocol.CodeCallAnswered)        // the invitee answered (or left) the call already
	CodeOwnerCannotLeave    = int(protocol.CodeOwnerCannotLeave)    // the owner must transfer ownership or dismiss the group
	CodeDeviceInUse         = int(protocol.CodeDeviceInUse)         // the device (PushID) is bound by another user's live session
	CodeGroupDismissed      = int(protocol.CodeGroupDismissed)      // the group was dismissed
	CodeCallEnded           = int(protocol.CodeCallEnded)           // the call ended, was cancelled or timed out
	CodeRateLimited         = int(protocol.CodeRateLimited)         // too many requests; retry later
	CodeInternal            = int(protocol.CodeInternal)            // the server failed; the request may be retried
	CodeUnavailable         = int(protocol.CodeUnavailable)         // server shutting down or overloaded; retry later
	CodeTokenRevoked        = int(protocol.CodeTokenRevoked)        // token issued before the app's server revoked the user's tokens
	CodeGroupInviteOnly     = int(protocol.CodeGroupInviteOnly)     // the group takes new members by invitation only
	CodeJoinRequestPending  = int(protocol.CodeJoinRequestPending)  // a request to join the group is pending already
	CodeNoJoinRequest       = int(protocol.CodeNoJoinRequest)       // the user has no pending request to join the group
)

func errorFromWire(e *protocol.Error) *Error {
	return &Error{Code: int(e.Code), Message: e.Message}
}

// retryable reports whether a login that failed with err may succeed if
// tried again with the same token: network faults, timeouts, rate limits
// and server faults may; a refused token, app or argument will not.
func retryable(err error) bool {
	var e *Error
	if !errors.As(err, &e) {
		return true
	}
	return e.Code == CodeRateLimited || e.Code >= 50000
}
