package gateway

import (
	"encoding/json"
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
			ErrorInvitees: []call.ErrorUser{{UserID: "nobody", Code: protocol.CodeUserNotFound, Reason: "no such user"}}}),
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
