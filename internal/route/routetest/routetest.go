// Package routetest is the contract suite of the routing interfaces: what
// every implementation of im.Router, route.Presence and route.Events
// (the gateway's one-node Hub, a cluster router) must do. An
// implementation's test calls Run with a way to make a fresh node.
package routetest

import (
	"slices"
	"testing"
	"time"

	"github.com/heraldim/herald/internal/im"
	"github.com/heraldim/herald/internal/route"
)

// Node is one implementation under test.
type Node interface {
	// Route and RouteGroup are im.Router's (its events are the
	// converters', checked in the gateway).
	Route(m *im.Message, origin route.SessionID)
	RouteGroup(m *im.Message, members []im.Recipient, origin route.SessionID)
	route.Presence
	route.Events
	// Login registers a logged-in session of the user on platform, as the
	// gateway does after a login, and returns it.
	Login(t *testing.T, appID, userID, platform string) Session
	// Settle waits until what was handed to the node so far has reached
	// the sessions it is for (a no-op where delivery is synchronous).
	Settle(t *testing.T)
}

// Session is a logged-in session of a Node.
type Session interface {
	// ID is the session's ID, never route.NoSession.
	ID() route.SessionID
	// Logout takes the session out, as a logout or a session end does.
	Logout()
	// Received takes what was handed to the session since the last call,
	// in order.
	Received() []Got
}

// Got is one thing a session was handed: a message (MsgID, with Floor for
// a group member) or an event (Event, its type).
type Got struct {
	MsgID int64
	Floor int64
	Event string
}

const app = "app"

// Run runs the suite against nodes made by newNode, one per subtest.
func Run(t *testing.T, newNode func(t *testing.T) Node) {
	t.Run("presence", func(t *testing.T) { testPresence(t, newNode(t)) })
	t.Run("route", func(t *testing.T) { testRoute(t, newNode(t)) })
	t.Run("group", func(t *testing.T) { testGroup(t, newNode(t)) })
	t.Run("events", func(t *testing.T) { testEvents(t, newNode(t)) })
}

func testPresence(t *testing.T, n Node) {
	if n.Online(app, "alice") || len(n.UserSessions(app, "alice")) != 0 {
		t.Fatal("alice online before any login")
	}
	a1 := n.Login(t, app, "alice", "ios")
	a2 := n.Login(t, app, "alice", "web")
	if a1.ID() == route.NoSession || a1.ID() == a2.ID() {
		t.Fatalf("session IDs %q and %q: want two distinct, non-empty", a1.ID(), a2.ID())
	}
	if !n.Online(app, "alice") {
		t.Fatal("alice offline after login")
	}
	if n.Online(app, "bob") || n.Online("other", "alice") {
		t.Fatal("another user or app online")
	}
	got := n.UserSessions(app, "alice")
	if len(got) != 2 || got[0].ID != a1.ID() || got[0].Platform != "ios" || got[1].ID != a2.ID() || got[1].Platform != "web" {
		t.Fatalf("sessions = %+v, want ios %s then web %s", got, a1.ID(), a2.ID())
	}
	if got[0].Since.IsZero() || got[0].Since.After(time.Now()) {
		t.Fatalf("since = %v", got[0].Since)
	}
	a1.Logout()
	if !n.Online(app, "alice") || len(n.UserSessions(app, "alice")) != 1 {
		t.Fatal("alice's other session gone with the first")
	}
	a2.Logout()
	if n.Online(app, "alice") || len(n.UserSessions(app, "alice")) != 0 {
		t.Fatal("alice online after her last logout")
	}
}

func testRoute(t *testing.T, n Node) {
	a1, a2 := n.Login(t, app, "alice", "ios"), n.Login(t, app, "alice", "web")
	b1, b2 := n.Login(t, app, "bob", "ios"), n.Login(t, app, "bob", "web")
	carol := n.Login(t, app, "carol", "ios")
	otherApp := n.Login(t, "other", "bob", "ios")
	m := &im.Message{AppID: app, ID: 1, ConvID: "c", Seq: 1, Sender: "alice", Recipient: "bob", Priority: 2}
	n.Route(m, a1.ID())
	n.Settle(t)
	want := []Got{{MsgID: 1}}
	expect(t, "the origin", a1, nil)
	expect(t, "the sender's other session", a2, want)
	expect(t, "the recipient's first session", b1, want)
	expect(t, "the recipient's second session", b2, want)
	expect(t, "another user", carol, nil)
	expect(t, "the same user of another app", otherApp, nil)

	m2 := &im.Message{AppID: app, ID: 2, ConvID: "c", Seq: 2, Sender: "bob", Recipient: "alice", Priority: 2}
	n.Route(m2, route.NoSession)
	n.Settle(t)
	want = []Got{{MsgID: 2}}
	for _, s := range []Session{a1, a2, b1, b2} {
		expect(t, "a session without an origin", s, want)
	}
	b2.Logout()
	n.Route(&im.Message{AppID: app, ID: 3, ConvID: "c", Seq: 3, Sender: "alice", Recipient: "bob", Priority: 2}, a2.ID())
	n.Settle(t)
	expect(t, "a session logged out", b2, nil)
	expect(t, "the recipient's remaining session", b1, []Got{{MsgID: 3}})
}

func testGroup(t *testing.T, n Node) {
	a1, a2 := n.Login(t, app, "alice", "ios"), n.Login(t, app, "alice", "web")
	bob, carol, dave := n.Login(t, app, "bob", "ios"), n.Login(t, app, "carol", "ios"), n.Login(t, app, "dave", "ios")
	members := []im.Recipient{{UserID: "alice"}, {UserID: "bob", Floor: 5}, {UserID: "carol", Floor: 7}, {UserID: "erin"}}
	n.RouteGroup(&im.Message{AppID: app, ID: 7, ConvID: "g", Seq: 7, Sender: "alice", Priority: 2}, members, a1.ID())
	n.Settle(t)
	expect(t, "the origin", a1, nil)
	expect(t, "the sender's other session", a2, []Got{{MsgID: 7}})
	expect(t, "a member that joined before", bob, []Got{{MsgID: 7, Floor: 5}})
	expect(t, "a member that joined at the message", carol, nil)
	expect(t, "a user not a member", dave, nil)

	// A command (Seq 0) reaches every member, whatever its floor.
	n.RouteGroup(&im.Message{AppID: app, ID: 8, ConvID: "g", Sender: "bob", Priority: 2}, members, route.NoSession)
	n.Settle(t)
	expect(t, "a member, for a command", a1, []Got{{MsgID: 8}})
	expect(t, "a member, for a command", a2, []Got{{MsgID: 8}})
	expect(t, "a member, for a command", bob, []Got{{MsgID: 8, Floor: 5}})
	expect(t, "a member that joined late, for a command", carol, []Got{{MsgID: 8, Floor: 7}})
	expect(t, "a user not a member, for a command", dave, nil)
}

func testEvents(t *testing.T, n Node) {
	a1, a2, bob := n.Login(t, app, "alice", "ios"), n.Login(t, app, "alice", "web"), n.Login(t, app, "bob", "ios")
	n.SendEvent(app, "alice", "typing", map[string]string{"from": "bob"})
	n.SendEvent(app, "nobody", "typing", map[string]string{"from": "bob"})
	n.Settle(t)
	expect(t, "the user's first session", a1, []Got{{Event: "typing"}})
	expect(t, "the user's second session", a2, []Got{{Event: "typing"}})
	expect(t, "another user", bob, nil)
}

func expect(t *testing.T, who string, s Session, want []Got) {
	t.Helper()
	if got := s.Received(); !slices.Equal(got, want) {
		t.Errorf("%s (%s) got %+v, want %+v", who, s.ID(), got, want)
	}
}
