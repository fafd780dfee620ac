package im

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/heraldim/herald/internal/protocol"
	"github.com/heraldim/herald/internal/route"
)

// fakeHooks moderates by text: "no" is denied, anything else gets "!"
// appended; every app wants message.sent.
type fakeHooks struct{ calls int }

func (h *fakeHooks) BeforeSend(_ context.Context, _, _ string, req *Outgoing) error {
	h.calls++
	if req.Text == "no" {
		return protocol.Errorf(protocol.CodeMessageRejected, "")
	}
	req.Text += "!"
	return nil
}

func (h *fakeHooks) WantsAfterSend(string) bool { return true }
func (h *fakeHooks) Committed()                 {}

// TestSendHooks: a client's stored message goes through BeforeSend before
// it is queued (denied: nothing queued; modified: the change is what is
// queued, marked for its message.sent event); the server API's messages
// and commands are not moderated.
func TestSendHooks(t *testing.T) {
	h := &fakeHooks{}
	s, err := New(&cursorStore{}, nopRouter{}, Config{Hooks: h}, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	if err != nil {
		t.Fatal(err)
	}
	done := func(SendResult, error) {}
	send := func(from Sender, typ int, text string) error {
		req := &Outgoing{ConversationID: "bob", LocalID: "l-" + text, Type: typ, Text: text}
		if typ == protocol.MessageCommand {
			req.Text, req.Data = "", []byte(`{"typing":true}`)
		}
		return s.Send(context.Background(), from, req, route.NoSession, done)
	}
	alice := Sender{AppID: "app", UserID: "alice"}
	for _, tc := range []struct {
		name     string
		from     Sender
		typ      int
		text     string
		code     protocol.Code // 0: accepted
		calls    int           // hook calls so far
		queued   bool          // a stored send was queued
		wantText string        // the queued message's text
	}{
		{"denied", alice, protocol.MessageText, "no", protocol.CodeMessageRejected, 1, false, ""},
		{"modified", alice, protocol.MessageText, "hi", 0, 2, true, "hi!"},
		{"server API", Sender{AppID: "app", UserID: "alice", Server: true}, protocol.MessageText, "no", 0, 2, true, "no"},
		{"command", alice, protocol.MessageCommand, "typing", 0, 2, false, ""},
	} {
		err := send(tc.from, tc.typ, tc.text)
		if got := protocol.AsError(err); (err == nil) != (tc.code == 0) || (err != nil && got.Code != tc.code) {
			t.Fatalf("%s: Send = %v, want code %d", tc.name, err, tc.code)
		}
		if h.calls != tc.calls || (len(s.sends) == 1) != tc.queued {
			t.Fatalf("%s: %d hook calls, %d queued; want %d, queued %v", tc.name, h.calls, len(s.sends), tc.calls, tc.queued)
		}
		if tc.queued {
			p := <-s.sends
			if p.msg.Text != tc.wantText || !p.msg.Webhook {
				t.Fatalf("%s: queued %q (webhook %v), want %q marked for its event", tc.name, p.msg.Text, p.msg.Webhook, tc.wantText)
			}
		}
	}
}
