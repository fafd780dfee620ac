package protocol

import (
	"errors"
	"fmt"
	"time"
)

// Code is a stable, client-facing error code. Codes never change meaning once
// released; docs/protocol.md lists every one of them. The first three digits
// follow the closest HTTP status so that REST and WebSocket share one catalogue.
type Code int

// The error catalogue. Keep docs/protocol.md in step with this list
// (TestCatalogueDocumented fails otherwise).
const (
	CodeBadFrame            Code = 40000 // frame is not a JSON object of the documented shape
	CodeUnknownType         Code = 40001 // frame type is not one the server knows
	CodeMissingID           Code = 40002 // a request that needs a reply came without an id
	CodeInvalidArgument     Code = 40003 // a field is missing or out of range; message names it
	CodeInvalidUserID       Code = 40004 // a user ID does not match the user ID rules
	CodeInvalidConversation Code = 40005 // unknown conversation type, or a conversation with oneself
	CodeInvalidMessageType  Code = 40006 // message type unknown or not allowed here
	CodeMessageTooLarge     Code = 40007 // message body over its type's limit
	CodeEmptyMessage        Code = 40008 // message body is empty
	CodeLocalIDConflict     Code = 40009 // localMessageID reused with different content
	CodeInvalidPriority     Code = 40010 // priority is not 1, 2 or 3
	CodeInvalidPushConfig   Code = 40011 // push config field over its limit
	CodeInvalidPushDevice   Code = 40012 // push registration invalid, or PushID unknown
	CodeInvalidCredential   Code = 40013 // a vendor credential that cannot be used (REST)
	CodePushTooLarge        Code = 40014 // encoded push over the vendor's size limit (REST)
	CodeInvalidResource     Code = 40015 // a push resource's options are misconfigured (REST)
	CodeInvalidInvitees     Code = 40016 // invitee list empty, over its limit, or naming oneself
	CodeInvalidTimeout      Code = 40017 // call timeout outside 1 to MaxCallTimeout seconds
	CodeAckBeyondLast       Code = 40018 // an ack position past the conversation's last message
	CodeReservedUserID      Code = 40019 // the user ID is reserved (the system sender, SystemUserID)
	CodeInvalidTimestamp    Code = 40020 // an imported message's timestamp is missing or in the future (REST)
	CodeNotLoggedIn         Code = 40100 // request before a successful login
	CodeTokenInvalid        Code = 40101 // token malformed, badly signed, or for another user
	CodeTokenExpired        Code = 40102 // token past its expiry
	CodeAppUnknown          Code = 40103 // app ID unknown, or token minted for another app
	CodeAlreadyLoggedIn     Code = 40104 // login on a session that is already logged in
	CodeAdminUnauthorized   Code = 40105 // admin key missing or wrong for the app in the path (REST)
	CodeNotGroupMember      Code = 40300 // the user is not a member of the group
	CodePermissionDenied    Code = 40301 // the user's role (or not being the inviter) does not allow this
	CodeNotCallInvitee      Code = 40302 // the user is not invited to (or not in) the call
	CodeGroupInviteOnly     Code = 40303 // the group takes new members by invitation only
	CodeNotFound            Code = 40400 // the resource named in the path or body does not exist (REST)
	CodeUserNotFound        Code = 40401 // a user ID names no user of the app (never logged in)
	CodeGroupNotFound       Code = 40402 // no such group
	CodeCallNotFound        Code = 40403 // no such call
	CodeVendorNotConfigured Code = 40900 // the app has no credential for the device's vendor and environment (REST)
	CodeGroupExists         Code = 40901 // a group with that ID exists
	CodeAlreadyGroupMember  Code = 40902 // the user is a member already
	CodeGroupFull           Code = 40903 // the group would exceed its member limit
	CodeCallAnswered        Code = 40904 // the invitee answered (or left) this call already
	CodeOwnerCannotLeave    Code = 40905 // the owner must transfer ownership or dismiss the group
	CodeDeviceInUse         Code = 40906 // the PushID is bound to another user whose session that bound it is live
	CodeJoinRequestPending  Code = 40907 // the user's request to join the group is pending already
	CodeNoJoinRequest       Code = 40908 // the user has no pending request to join the group
	CodeGroupDismissed      Code = 41000 // the group was dismissed
	CodeCallEnded           Code = 41001 // the call ended, was cancelled or timed out
	CodeRateLimited         Code = 42900 // too many requests; retry later
	CodeInternal            Code = 50000 // the server failed; the request may be retried
	CodeVendorUnreachable   Code = 50200 // the vendor's server gave no answer (REST)
	CodeUnavailable         Code = 50300 // the server is shutting down or overloaded; retry later
	CodeTokenRevoked        Code = 40108 // token issued before the user's tokens were revoked (server API)

	CodeInvalidWebhookURL    Code = 40025 // a webhook or before-send URL that is not an absolute http(s) URL (REST)
	CodeInvalidWebhookEvents Code = 40026 // a webhook event name that is not one of the documented events (REST)
	CodeInvalidWebhookOption Code = 40027 // a webhook option out of range: before-send timeout, failure mode (REST)
	CodeWebhookNotEnabled    Code = 40028 // a test event for an app whose webhook is disabled or has no URL (REST)
	CodeMessageRejected      Code = 40310 // the app's before-send hook denied the message; nothing was stored
	CodeMessageNotModerated  Code = 40311 // the before-send hook failed and the app refuses unmoderated messages (fail closed)
	CodeInvalidMention       Code = 40030 // a send's mention list is bad: not a group, too many, an invalid user ID, or on a command
	CodeInvalidNotifyStatus  Code = 40031 // a notification status other than 1, 2, 3, or mentionsOnly (3) on a peer conversation

	// The connection caps (HTTP 503 before the WebSocket upgrade, with
	// Retry-After).
	CodeTooManyConnections           Code = 42901 // the node has max-connections open
	CodeTooManyConnectionsFromIP     Code = 42902 // the client address has max-connections-per-ip open
	CodeTooManyUnauthenticated       Code = 42903 // the node has max-unauthenticated connections not logged in
	CodeTooManyUnauthenticatedFromIP Code = 42904 // the client address has max-unauthenticated-per-ip not logged in
	CodeTooManySessions              Code = 42905 // login: the user has max-sessions-per-user sessions on this node

	// Tenants.
	CodeAppDisabled          Code = 40106 // the app was disabled by the operator (login, admin API)
	CodeOperatorUnauthorized Code = 40107 // operator key missing or wrong (REST /v1/admin)

	// Message revoke.
	CodeRevokeNotAllowed      Code = 40340 // not the sender, nor the group's owner or an admin
	CodeRevokeWindowPassed    Code = 40341 // the sender's revoke window for the message has passed
	CodeMessageNotFound       Code = 40440 // no such message in the conversation (or the app)
	CodeMessageAlreadyRevoked Code = 40940 // the message was revoked already
	// Push receipts and statistics.
	CodeInvalidReceipt     Code = 40045 // a push receipt's kind or pushJobID is not valid
	CodeReceiptUnsupported Code = 40046 // the push's vendor raises no such callback (notificationArrived)
	CodeInvalidStatsQuery  Code = 40047 // push statistics: from, to, bucket or vendor invalid (REST)
	CodePushNotFound       Code = 40445 // no push of this app sent to this user has that pushJobID
	// The user offline push rule (pushrule.go).
	CodeInvalidPushPlatform  Code = 40035 // a push rule names a platform that is not a ZIMPlatformType number
	CodeTooManyPushPlatforms Code = 40036 // a push rule's platform list is over MaxPushRulePlatforms
)

type codeInfo struct {
	name    string
	status  int
	message string
}

var catalogue = map[Code]codeInfo{
	CodeBadFrame:            {"bad_frame", 400, "frame is not valid JSON of the documented shape"},
	CodeUnknownType:         {"unknown_type", 400, "unknown frame type"},
	CodeMissingID:           {"missing_id", 400, "request needs an id"},
	CodeInvalidArgument:     {"invalid_argument", 400, "invalid argument"},
	CodeInvalidUserID:       {"invalid_user_id", 400, "invalid user ID"},
	CodeInvalidConversation: {"invalid_conversation", 400, "invalid conversation"},
	CodeInvalidMessageType:  {"invalid_message_type", 400, "invalid message type"},
	CodeMessageTooLarge:     {"message_too_large", 413, "message body too large"},
	CodeEmptyMessage:        {"empty_message", 400, "message body is empty"},
	CodeLocalIDConflict:     {"local_id_conflict", 409, "localMessageID already used for different content"},
	CodeInvalidPriority:     {"invalid_priority", 400, "priority must be 1 (low), 2 (medium) or 3 (high)"},
	CodeInvalidPushConfig:   {"invalid_push_config", 400, "invalid push config"},
	CodeInvalidPushDevice:   {"invalid_push_device", 400, "invalid push registration or unknown PushID"},
	CodeInvalidCredential:   {"invalid_credential", 400, "invalid vendor credential"},
	CodePushTooLarge:        {"push_too_large", 400, "push payload over the vendor's limit"},
	CodeInvalidResource:     {"invalid_resource", 400, "invalid push resource"},
	CodeInvalidInvitees:     {"invalid_invitees", 400, "invalid invitee list"},
	CodeInvalidTimeout:      {"invalid_timeout", 400, "call timeout out of range"},
	CodeAckBeyondLast:       {"ack_beyond_last", 400, "ack position beyond the conversation's last message"},
	CodeReservedUserID:      {"reserved_user_id", 400, "this user ID is reserved for system messages"},
	CodeInvalidTimestamp:    {"invalid_timestamp", 400, "timestamp missing or in the future"},
	CodeNotLoggedIn:         {"not_logged_in", 401, "log in first"},
	CodeTokenInvalid:        {"token_invalid", 401, "token is invalid"},
	CodeTokenExpired:        {"token_expired", 401, "token has expired"},
	CodeAppUnknown:          {"app_unknown", 401, "unknown app, or token of another app"},
	CodeAlreadyLoggedIn:     {"already_logged_in", 409, "session is already logged in"},
	CodeAdminUnauthorized:   {"admin_unauthorized", 401, "admin key missing or wrong for this app"},
	CodeNotGroupMember:      {"not_group_member", 403, "not a member of this group"},
	CodePermissionDenied:    {"permission_denied", 403, "not allowed"},
	CodeNotCallInvitee:      {"not_call_invitee", 403, "not invited to this call"},
	CodeGroupInviteOnly:     {"group_invite_only", 403, "this group takes new members by invitation only"},
	CodeNotFound:            {"not_found", 404, "not found"},
	CodeUserNotFound:        {"user_not_found", 404, "no such user"},
	CodeGroupNotFound:       {"group_not_found", 404, "no such group"},
	CodeCallNotFound:        {"call_not_found", 404, "no such call"},
	CodeVendorNotConfigured: {"vendor_not_configured", 409, "no credential for this vendor and environment"},
	CodeGroupExists:         {"group_exists", 409, "a group with this ID exists"},
	CodeAlreadyGroupMember:  {"already_group_member", 409, "already a member"},
	CodeGroupFull:           {"group_full", 409, "the group is full"},
	CodeCallAnswered:        {"call_already_answered", 409, "already answered this call"},
	CodeOwnerCannotLeave:    {"owner_cannot_leave", 409, "the owner must transfer ownership or dismiss the group"},
	CodeDeviceInUse:         {"device_in_use", 409, "this device's PushID is bound to another user who is logged in on it"},
	CodeJoinRequestPending:  {"join_request_pending", 409, "a request to join this group is pending already"},
	CodeNoJoinRequest:       {"no_join_request", 409, "no pending request to join this group from this user"},
	CodeGroupDismissed:      {"group_dismissed", 410, "the group was dismissed"},
	CodeCallEnded:           {"call_ended", 410, "the call has ended"},
	CodeRateLimited:         {"rate_limited", 429, "too many requests"},
	CodeInternal:            {"internal", 500, "internal error"},
	CodeVendorUnreachable:   {"vendor_unreachable", 502, "the vendor's server did not answer"},
	CodeUnavailable:         {"unavailable", 503, "server unavailable, retry later"},
	CodeTokenRevoked:        {"token_revoked", 401, "token was revoked: log in with a new one"},

	CodeInvalidWebhookURL:    {"invalid_webhook_url", 400, "webhook URL must be an absolute http or https URL"},
	CodeInvalidWebhookEvents: {"invalid_webhook_events", 400, "unknown webhook event"},
	CodeInvalidWebhookOption: {"invalid_webhook_option", 400, "invalid webhook option"},
	CodeWebhookNotEnabled:    {"webhook_not_enabled", 400, "the app's webhook is disabled or has no URL"},
	CodeMessageRejected:      {"message_rejected", 403, "the message was rejected"},
	CodeMessageNotModerated:  {"message_not_moderated", 403, "the message could not be moderated; retry later"},
	CodeInvalidMention:       {"invalid_mention", 400, "invalid mention list"},
	CodeInvalidNotifyStatus:  {"invalid_notification_status", 400, "invalid conversation notification status"},

	CodeTooManyConnections:           {"too_many_connections", 503, "too many connections to this server, retry later"},
	CodeTooManyConnectionsFromIP:     {"too_many_connections_from_ip", 503, "too many connections from your address, retry later"},
	CodeTooManyUnauthenticated:       {"too_many_unauthenticated", 503, "too many connections waiting to log in, retry later"},
	CodeTooManyUnauthenticatedFromIP: {"too_many_unauthenticated_from_ip", 503, "too many connections from your address waiting to log in, retry later"},
	CodeTooManySessions:              {"too_many_sessions", 429, "the user has too many sessions on this server"},

	CodeAppDisabled:          {"app_disabled", 401, "this app is disabled"},
	CodeOperatorUnauthorized: {"operator_unauthorized", 401, "operator key missing or wrong"},

	CodeRevokeNotAllowed:      {"revoke_not_allowed", 403, "only the sender, or the group's owner or an admin, may revoke this message"},
	CodeRevokeWindowPassed:    {"revoke_window_passed", 403, "the time to revoke this message has passed"},
	CodeMessageNotFound:       {"message_not_found", 404, "no such message"},
	CodeMessageAlreadyRevoked: {"message_already_revoked", 409, "the message was revoked already"},
	CodeInvalidReceipt:        {"invalid_receipt", 400, "invalid push receipt"},
	CodeReceiptUnsupported:    {"receipt_unsupported", 400, "this push's vendor raises no such callback"},
	CodeInvalidStatsQuery:     {"invalid_stats_query", 400, "invalid push statistics query"},
	CodePushNotFound:          {"push_not_found", 404, "no such push"},
	CodeInvalidPushPlatform:   {"invalid_push_platform", 400, "unknown platform in the push rule"},
	CodeTooManyPushPlatforms:  {"too_many_push_platforms", 400, "too many platforms in the push rule"},
}

// Name returns the code's stable snake_case name.
func (c Code) Name() string {
	if i, ok := catalogue[c]; ok {
		return i.name
	}
	return "unknown"
}

// HTTPStatus returns the HTTP status that goes with the code on the REST API.
func (c Code) HTTPStatus() int {
	if i, ok := catalogue[c]; ok {
		return i.status
	}
	return 500
}

// Codes returns every code in the catalogue.
func Codes() []Code {
	out := make([]Code, 0, len(catalogue))
	for c := range catalogue {
		out = append(out, c)
	}
	return out
}

// Error is the error object carried in a reply frame. Message is safe to show
// to the client: internal causes are logged by the server, never sent.
type Error struct {
	Code    Code   `json:"code"`
	Message string `json:"message"`
	// RetryAfterMs, when set, is how long to wait before retrying, in
	// milliseconds (rate_limited and the connection caps).
	RetryAfterMs int64 `json:"retryAfterMs,omitempty"`
}

// Error implements the error interface.
func (e *Error) Error() string { return fmt.Sprintf("%d %s: %s", e.Code, e.Code.Name(), e.Message) }

// Is reports whether target is an *Error with the same code, so that
// errors.Is(err, protocol.Errorf(protocol.CodeTokenExpired, "")) works.
func (e *Error) Is(target error) bool {
	var t *Error
	if errors.As(target, &t) {
		return t.Code == e.Code
	}
	return false
}

// Errorf returns an *Error with code c and a formatted message; an empty
// format gives the catalogue's default message.
func Errorf(c Code, format string, args ...any) *Error {
	msg := catalogue[c].message
	if format != "" {
		msg = fmt.Sprintf(format, args...)
	}
	return &Error{Code: c, Message: msg}
}

// WithRetryAfter sets e's retry hint to d, rounded up to the millisecond
// (at least 1 ms), and returns e.
func (e *Error) WithRetryAfter(d time.Duration) *Error {
	e.RetryAfterMs = max(1, int64((d+time.Millisecond-1)/time.Millisecond))
	return e
}

// AsError returns err as an *Error: itself when it is one (or wraps one),
// otherwise CodeInternal with the default message, hiding the cause.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return Errorf(CodeInternal, "")
}

// Close codes sent in WebSocket close frames. 4000-4099 are Herald's own.
// Reconnect tells a client whether reconnecting with the same token makes sense.
const (
	CloseLoggedOut        = 4000 // client logged out; do not reconnect
	CloseKicked           = 4001 // another login took the session's place; do not reconnect
	CloseHeartbeatTimeout = 4002 // nothing heard within the offline window; reconnect
	CloseSlow             = 4003 // client could not keep up; reconnect and resync
	CloseTokenExpired     = 4004 // token expired without renewal; reconnect with a new token
	CloseLoginTimeout     = 4005 // no login within the login window; reconnect
	CloseServerRestart    = 1012 // server is restarting or shutting down; reconnect with backoff
	CloseTooBig           = 1009 // frame over the size limit (sent by the WebSocket layer)
	CloseInternal         = 1011 // unexpected server failure; reconnect with backoff
	CloseAppDisabled      = 4006 // the app was disabled by the operator; do not reconnect
	CloseTokenRevoked     = 4007 // the session's token was revoked by the app's server; log in with a new token
	CloseKickedByServer   = 4008 // the app's server kicked the user; do not reconnect
)

// CloseReconnects reports whether a client should reconnect by itself after
// the server closed its connection with code.
func CloseReconnects(code int) bool {
	switch code {
	case CloseLoggedOut, CloseKicked, CloseTokenExpired, CloseTokenRevoked, CloseKickedByServer:
		return false
	case CloseAppDisabled:
		return false
	}
	return true
}

// Kick reasons carried by the "kicked" event.
const (
	KickSamePlatform = 1 // the same user logged in on the same platform elsewhere
	KickSingleLogin  = 2 // the same user logged in elsewhere and the policy allows one session
	KickByServer     = 3 // the app's server kicked the user (server API), closed with CloseKickedByServer
)
