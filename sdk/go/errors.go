package herald

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

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
	// RetryAfter, when not zero, is how long the server asked to wait
	// before trying again: set on CodeRateLimited (the send passes after
	// it) and on the connection caps CodeTooManyConnections to
	// CodeTooManyUnauthenticatedFromIP (the handshake's Retry-After).
	// SendMessage and the reconnect loop honour it by themselves; an app
	// gets it when the SDK gave up (see SendMessage).
	RetryAfter time.Duration
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
	CodeInvalidMention      = int(protocol.CodeInvalidMention)      // a bad mention list: not a group, over 50, an invalid user ID
	CodeInvalidNotifyStatus = int(protocol.CodeInvalidNotifyStatus) // a notification status not 1-3, or mentions-only on a peer conversation

	// The connection caps refuse the WebSocket handshake (HTTP 503 with a
	// Retry-After): Login returns the *Error with RetryAfter set, and the
	// reconnect loop waits at least that long before its next attempt.
	CodeTooManyConnections           = int(protocol.CodeTooManyConnections)           // the server has all the connections it takes
	CodeTooManyConnectionsFromIP     = int(protocol.CodeTooManyConnectionsFromIP)     // the client address has all the connections it may
	CodeTooManyUnauthenticated       = int(protocol.CodeTooManyUnauthenticated)       // too many connections wait to log in
	CodeTooManyUnauthenticatedFromIP = int(protocol.CodeTooManyUnauthenticatedFromIP) // too many connections from this address wait to log in
	// CodeTooManySessions: the login would give the user more sessions on
	// the server than it allows. It ends the login like a refused token
	// (no retry loop): the user's other sessions must end first.
	CodeTooManySessions = int(protocol.CodeTooManySessions)
)

func errorFromWire(e *protocol.Error) *Error {
	return &Error{Code: int(e.Code), Message: e.Message, RetryAfter: time.Duration(e.RetryAfterMs) * time.Millisecond}
}

// maxRetryHint bounds the server's retry hints the SDK obeys: a hint above
// it (a misconfigured proxy's Retry-After of a day) is cut to it, so a
// client comes back within minutes of a server that recovered.
const maxRetryHint = 5 * time.Minute

// refusedHandshake turns the response to a refused WebSocket handshake into
// an *Error: the server's JSON error body ({code, message, retryAfterMs})
// when there is one, CodeUnavailable otherwise, with RetryAfter the larger
// of the body's retryAfterMs and the Retry-After header (seconds). It
// returns nil for no response or one that is not a refusal.
func refusedHandshake(resp *http.Response) *Error {
	if resp == nil || resp.StatusCode < 400 {
		return nil
	}
	e := &Error{Code: CodeUnavailable, Message: fmt.Sprintf("handshake refused: HTTP %d", resp.StatusCode)}
	if resp.Body != nil {
		var w protocol.Error
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		if json.Unmarshal(b, &w) == nil && w.Code != 0 {
			e = errorFromWire(&w)
		}
	}
	if secs, err := strconv.ParseInt(resp.Header.Get("Retry-After"), 10, 64); err == nil && secs > 0 {
		e.RetryAfter = max(e.RetryAfter, time.Duration(min(secs, int64(maxRetryHint/time.Second)))*time.Second)
	}
	return e
}

// retryAfter returns the server's retry hint carried by err, if any,
// bounded by maxRetryHint.
func retryAfter(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) && e.RetryAfter > 0 {
		return min(e.RetryAfter, maxRetryHint)
	}
	return 0
}

// retryable reports whether a login that failed with err may succeed if
// tried again with the same token: network faults, timeouts, rate limits,
// the connection caps and server faults may; a refused token, app or
// argument will not, nor a login over the user's session cap
// (CodeTooManySessions: retrying cannot help until the user's other
// sessions end, and a loop would keep the cap's metric climbing).
func retryable(err error) bool {
	var e *Error
	if !errors.As(err, &e) {
		return true
	}
	switch e.Code {
	case CodeRateLimited, CodeTooManyConnections, CodeTooManyConnectionsFromIP, CodeTooManyUnauthenticated, CodeTooManyUnauthenticatedFromIP:
		return true
	}
	return e.Code >= 50000
}
