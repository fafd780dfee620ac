package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/heraldim/herald/internal/call"
	"github.com/heraldim/herald/internal/protocol"
)

// TestCallReplies: each call reply converts to the wire shape the clients
// read: times in Unix ms, an empty error list left out, a closed call
// ended, the users with their states.
func TestCallReplies(t *testing.T) {
	at := time.UnixMilli(1_700_000_000_123)
	tests := []struct {
		name string
		v    any
		want string
	}{
		{"invited", callInviteReply(call.Invited{CallID: "c1", Timeout: 60, Deadline: at}),
			`{"callID":"c1","timeout":60,"deadline":1700000000123}`},
		{"invited with errors", callInviteReply(call.Invited{CallID: "c1", Timeout: 60, Deadline: at,
			ErrorInvitees: []call.ErrorUser{{UserID: "nobody", Code: call.CodeUserNotFound, Reason: "no such user"}}}),
			`{"callID":"c1","timeout":60,"deadline":1700000000123,"errorInvitees":[{"userID":"nobody","code":` +
				callJSON(t, protocol.CodeUserNotFound) + `,"reason":"no such user"}]}`},
		{"outcome", callReply(call.Outcome{CallID: "c1"}), `{"callID":"c1"}`},
		{"open call", callInfoReply(call.Record{CallID: "c1", Inviter: "alice", Mode: protocol.CallModeAdvanced,
			CreatedAt: at, Deadline: at.Add(time.Second),
			Users: []call.User{{UserID: "alice", State: protocol.CallAccepted, UpdatedAt: at}}}),
			`{"callID":"c1","inviter":"alice","mode":1,"createdAt":1700000000123,"deadline":1700000001123,"ended":false,` +
				`"callUserList":[{"userID":"alice","state":1,"updatedAt":1700000000123}]}`},
		{"closed call", callInfoReply(call.Record{CallID: "c1", Inviter: "alice", ExtendedData: "x",
			CreatedAt: at, Deadline: at, ClosedAt: at, Users: []call.User{}}),
			`{"callID":"c1","inviter":"alice","mode":0,"extendedData":"x","createdAt":1700000000123,"deadline":1700000000123,"ended":true,"callUserList":[]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := callJSON(t, tt.v); got != tt.want {
				t.Fatalf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

// TestCallPushContent: a request's push config is kept as a copy, and none
// stays none.
func TestCallPushContent(t *testing.T) {
	if callPushContent(nil) != nil {
		t.Fatal("no push config became one")
	}
	pc := &protocol.PushConfig{Title: "Alice", Content: "calling"}
	c := callPushContent(pc)
	pc.Title = "changed"
	if c == nil || c.Title != "Alice" || c.Content != "calling" {
		t.Fatalf("push content %+v", c)
	}
}

func callJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestCallEvents: each call event converts to its wire type and shape:
// times in Unix ms, an empty user list as [], empty extended data left out.
func TestCallEvents(t *testing.T) {
	at := time.UnixMilli(1_700_000_000_123)
	users := []call.User{{UserID: "alice", State: protocol.CallAccepted, UpdatedAt: at, InvitedBy: "x", Deadline: at},
		{UserID: "bob", State: protocol.CallReceived, ExtendedData: "e", UpdatedAt: at}}
	wireUsers := `[{"userID":"alice","state":` + callJSON(t, protocol.CallAccepted) + `,"updatedAt":1700000000123},` +
		`{"userID":"bob","state":` + callJSON(t, protocol.CallReceived) + `,"extendedData":"e","updatedAt":1700000000123}]`
	tests := []struct {
		name, typ string
		ev        call.Event
		want      string
	}{
		{"received", protocol.EventCallInvitationReceived, call.InvitationReceived{CallID: "c1", Inviter: "alice",
			Mode: protocol.CallModeAdvanced, Timeout: 3, Deadline: at.Add(time.Second), ExtendedData: "x", CreatedAt: at, Users: users},
			`{"callID":"c1","inviter":"alice","mode":1,"timeout":3,"deadline":1700000001123,"extendedData":"x",` +
				`"createdAt":1700000000123,"callUserList":` + wireUsers + `}`},
		{"state changed", protocol.EventCallUserStateChanged, call.UserStateChanged{CallID: "c1", Users: users},
			`{"callID":"c1","callUserList":` + wireUsers + `}`},
		{"state changed, no users", protocol.EventCallUserStateChanged, call.UserStateChanged{CallID: "c1"},
			`{"callID":"c1","callUserList":[]}`},
		{"cancelled", protocol.EventCallInvitationCancelled, call.InvitationCancelled{CallID: "c1", Inviter: "alice"},
			`{"callID":"c1","inviter":"alice","mode":0}`},
		{"timeout", protocol.EventCallInvitationTimeout, call.InvitationTimeout{CallID: "c1", Mode: protocol.CallModeAdvanced},
			`{"callID":"c1","mode":1}`},
		{"ended", protocol.EventCallInvitationEnded, call.InvitationEnded{CallID: "c1", OperatedBy: "bob",
			Mode: protocol.CallModeAdvanced, ExtendedData: "bye", EndedAt: at},
			`{"callID":"c1","operatedBy":"bob","mode":1,"extendedData":"bye","endedAt":1700000000123}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			typ, v := WireCallEvent(tt.ev)
			if typ != tt.typ {
				t.Fatalf("type %q, want %q", typ, tt.typ)
			}
			if got := callJSON(t, v); got != tt.want {
				t.Fatalf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

// sentEvents records what CallHub sends.
type sentEvents struct{ typs []string }

func (*sentEvents) Online(string, string) bool { return true }
func (s *sentEvents) SendEvent(_, _, typ string, _ any) {
	s.typs = append(s.typs, typ)
}

// TestCallHub: the call service's hub sends each event as its wire type
// and answers presence from the hub under it.
func TestCallHub(t *testing.T) {
	var s sentEvents
	h := CallHub(&s)
	h.CallEvent("app", "bob", call.InvitationTimeout{CallID: "c1"})
	if !h.Online("app", "bob") || len(s.typs) != 1 || s.typs[0] != protocol.EventCallInvitationTimeout {
		t.Fatalf("sent %v", s.typs)
	}
}

// TestCallErrors: each refusal of the call service reaches the client as
// its wire code, with its message or else the code's own; an error user
// without a reason gets the code's message; other errors stay internal.
func TestCallErrors(t *testing.T) {
	tests := []struct {
		code call.Code
		want protocol.Code
	}{
		{call.CodeInvalidArgument, protocol.CodeInvalidArgument},
		{call.CodeInvalidInvitees, protocol.CodeInvalidInvitees},
		{call.CodeUserNotFound, protocol.CodeUserNotFound},
		{call.CodeCallNotFound, protocol.CodeCallNotFound},
		{call.CodeNotInvitee, protocol.CodeNotCallInvitee},
		{call.CodePermissionDenied, protocol.CodePermissionDenied},
		{call.CodeAnswered, protocol.CodeCallAnswered},
		{call.CodeEnded, protocol.CodeCallEnded},
		{call.Code(999), protocol.CodeInternal},
	}
	for _, tt := range tests {
		t.Run(tt.code.String(), func(t *testing.T) {
			var pe *protocol.Error
			if err := WireCallError(fmt.Errorf("wrapped: %w", &call.Error{Code: tt.code, Message: "50% off"})); !errors.As(err, &pe) ||
				pe.Code != tt.want || pe.Message != "50% off" {
				t.Fatalf("with a message: %v", err)
			}
			if err := WireCallError(&call.Error{Code: tt.code}); !errors.As(err, &pe) ||
				pe.Code != tt.want || pe.Message != protocol.Errorf(tt.want, "").Message {
				t.Fatalf("without one: %v", err)
			}
			us := callErrorUsers([]call.ErrorUser{{UserID: "bob", Code: tt.code}})
			if us[0].Code != tt.want || us[0].Reason != protocol.Errorf(tt.want, "").Message {
				t.Fatalf("error user %+v", us[0])
			}
		})
	}
	other := errors.New("disk on fire")
	if WireCallError(other) != other || WireCallError(nil) != nil {
		t.Fatal("a non-refusal changed")
	}
}
