package herald

import (
	"testing"

	"github.com/heraldim/herald/internal/protocol"
)

// TestSystemMessageFromWire: a message the server marks as the system's
// says so; others do not.
func TestSystemMessageFromWire(t *testing.T) {
	for _, tc := range []struct {
		wire protocol.Message
		want bool
	}{
		{protocol.Message{MessageID: "1", SenderUserID: SystemUserID, ConversationID: SystemUserID, Type: 1, Text: "notice", System: true}, true},
		{protocol.Message{MessageID: "2", SenderUserID: "alice", ConversationID: "alice", Type: 1, Text: "hi"}, false},
	} {
		if m := messageFromWire(tc.wire); m.IsSystem != tc.want || m.SenderUserID != tc.wire.SenderUserID {
			t.Errorf("%+v: IsSystem %v, want %v", tc.wire, m.IsSystem, tc.want)
		}
	}
}
