package herald

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/heraldim/herald/internal/protocol"
	"github.com/heraldim/herald/internal/testkit"
)

// TestE2ERevokeMessage: alice revokes her message to bob through the SDK;
// bob's handler gets MessageRevokeReceived with the revoked message, his
// history shows it in the message's place, and bob may not revoke it.
func TestE2ERevokeMessage(t *testing.T) {
	srv := testkit.Start(t, nil)
	ctx := context.Background()
	alice, _ := newE2EClient(t, srv, "alice-dev", nil)
	e2eLogin(t, srv, alice, "alice")
	bob, _ := newE2EClient(t, srv, "bob-dev", nil)
	revoked := make(chan []Message, 1)
	bob.SetEventHandler(EventHandler{MessageRevokeReceived: func(msgs []Message) { revoked <- msgs }})
	e2eLogin(t, srv, bob, "bob")

	sent := sendText(t, alice, "bob", "oops")
	bobsView := sent
	bobsView.ConversationID = "alice"
	if _, err := bob.RevokeMessage(ctx, bobsView, MessageRevokeConfig{}); !errors.Is(err, &Error{Code: int(protocol.CodeRevokeNotAllowed)}) {
		t.Fatalf("bob's revoke of alice's message: %v", err)
	}
	m, err := alice.RevokeMessage(ctx, sent, MessageRevokeConfig{RevokeExtendedData: "typo"})
	if err != nil {
		t.Fatal(err)
	}
	if m.Type != MessageTypeRevoke || m.Text != "" || m.Revoke == nil || m.Revoke.OperatedUserID != "alice" ||
		m.Revoke.RevokeStatus != MessageRevokeStatusSelfRevoke || m.Revoke.OriginalMessageType != MessageTypeText {
		t.Fatalf("revoked %+v (%+v)", m, m.Revoke)
	}
	select {
	case msgs := <-revoked:
		if len(msgs) != 1 || msgs[0].MessageID != sent.MessageID || msgs[0].Revoke == nil || msgs[0].Revoke.RevokeExtendedData != "typo" {
			t.Fatalf("bob's event %+v", msgs)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no MessageRevokeReceived")
	}
	ms, err := bob.QueryHistoryMessage(ctx, "alice", ConversationTypePeer, HistoryQueryConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 1 || ms[0].Type != MessageTypeRevoke || ms[0].Revoke == nil {
		t.Fatalf("bob's history %+v", ms)
	}
}
