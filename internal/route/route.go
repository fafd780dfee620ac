// Package route names how the services reach live sessions without
// pointing at them: a session's identity (SessionID), what a session is
// (SessionInfo), who is online (Presence) and events to a user's sessions
// (Events). The messaging core's router (im.Router) and the call service's
// hub (call.Hub) are declared where they are used, in these terms. The
// gateway's Hub implements them for one node; a cluster implementation can
// implement them across nodes, since nothing that crosses them is a
// pointer to a session. routetest is the contract suite every
// implementation passes.
package route

import "time"

// SessionID identifies one live session, unique across nodes: the
// gateway draws 64 random bits per connection, written as 16 hex digits
// (the sessionID of the login reply and of the login webhooks). A
// collision is as likely as two equal random 64-bit numbers among the
// cluster's sessions, about one in 10^7 for a million of them, and costs
// at most a message not echoed to the other session, which syncs it.
type SessionID string

// NoSession is the origin of what no session sent (the app's server, the
// service itself): delivery skips no session for it. No live session has
// it as its ID.
const NoSession SessionID = ""

// SessionInfo describes one live session of a user.
type SessionInfo struct {
	ID                 SessionID
	Platform, DeviceID string
	// PushID is the push device the session registered ("" for none):
	// offline push rules skip a device that has a live session.
	PushID string `json:",omitempty"`
	// Since is when the session logged in.
	Since time.Time
}

// Presence tells who is online where.
type Presence interface {
	// Online reports whether the user has a live session.
	Online(appID, userID string) bool
	// UserSessions returns the user's live sessions, oldest first.
	UserSessions(appID, userID string) []SessionInfo
}

// Events hands events to a user's sessions.
type Events interface {
	// SendEvent writes an event (its type and a payload encoded as JSON)
	// to every live session of the user. It must not block.
	SendEvent(appID, userID, typ string, v any)
}
