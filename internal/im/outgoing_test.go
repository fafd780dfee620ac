package im

import (
	"testing"

	"github.com/heraldim/herald/internal/protocol"
	"github.com/heraldim/herald/internal/push"
)

// TestOutgoingValidate: an Outgoing is judged by protocol.ValidateSend,
// its push config included, and its priority 0 becomes medium.
func TestOutgoingValidate(t *testing.T) {
	long := string(make([]byte, protocol.MaxPushTitleBytes+1))
	for _, tc := range []struct {
		name     string
		o        Outgoing
		code     protocol.Code // 0: valid
		priority int           // after Validate, when valid
	}{
		{"text", Outgoing{ConversationID: "bob", LocalID: "1", Type: protocol.MessageText, Text: "x"}, 0, protocol.PriorityMedium},
		{"high kept", Outgoing{ConversationID: "bob", LocalID: "1", Type: protocol.MessageText, Text: "x", Priority: protocol.PriorityHigh}, 0, protocol.PriorityHigh},
		{"no local id", Outgoing{ConversationID: "bob", Type: protocol.MessageText, Text: "x"}, protocol.CodeInvalidArgument, 0},
		{"group id", Outgoing{ConversationID: "b:b", ConvType: protocol.ConversationGroup, LocalID: "1", Type: protocol.MessageText, Text: "x"}, protocol.CodeInvalidArgument, 0},
		{"push title", Outgoing{ConversationID: "bob", LocalID: "1", Type: protocol.MessageText, Text: "x", PushConfig: &push.Content{Title: long}}, protocol.CodeInvalidPushConfig, 0},
		{"push on a command", Outgoing{ConversationID: "bob", Type: protocol.MessageCommand, Data: []byte("x"), PushConfig: &push.Content{Title: "t"}}, protocol.CodeInvalidPushConfig, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.o.Validate()
			switch {
			case tc.code == 0 && err != nil:
				t.Fatalf("Validate = %v, want nil", err)
			case tc.code != 0 && (err == nil || err.Code != tc.code):
				t.Fatalf("Validate = %v, want %v", err, tc.code)
			case tc.code == 0 && tc.o.Priority != tc.priority:
				t.Fatalf("priority = %d, want %d", tc.o.Priority, tc.priority)
			}
		})
	}
}
