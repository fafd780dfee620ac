package im

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/heraldim/herald/internal/push"
)

// lateStore is a Store for the session-end checks: two conversations of
// bob's device, the messages of one, and the pushes planned.
type lateStore struct {
	Store   // nil: only the methods below are used
	msgs    []Message
	planned []PushPlan
}

func (l *lateStore) Pending(context.Context, string, string, string) ([]Pending, error) {
	// "alice": acknowledged up to 1 of 4; "carol": acknowledged to its end.
	return []Pending{{ConvID: "alice", Cursor: 1, LastSeq: 4}, {ConvID: "carol", Cursor: 2, LastSeq: 2}}, nil
}

func (l *lateStore) UserCursor(context.Context, string, string, string) (int64, error) { return 0, nil }

func (l *lateStore) MessagesAfter(_ context.Context, _, convID string, after int64, _ int) ([]Message, error) {
	var out []Message
	for _, m := range l.msgs {
		if m.ConvID == convID && m.Seq > after {
			out = append(out, m)
		}
	}
	return out, nil
}

func (l *lateStore) PlanPushOnce(_ context.Context, _, _ string, plans []PushPlan, _ time.Time) (int, error) {
	l.planned = append(l.planned, plans...)
	return len(plans), nil
}

// TestSessionsLostCheckFromAcknowledged: the session of a node that died
// is checked as if it had been handed everything past the device's
// acknowledged positions: the unacknowledged messages with a push config,
// not the user's own, not those expired, are planned; a conversation
// acknowledged to its end plans nothing. The same end reported by a live
// node without conversations plans nothing.
func TestSessionsLostCheckFromAcknowledged(t *testing.T) {
	now := time.Now()
	pc := &push.Content{Title: "t"}
	st := &lateStore{msgs: []Message{
		{ID: 1, ConvID: "alice", Seq: 1, Sender: "alice", PushConfig: pc, CreatedAt: now},                      // acknowledged
		{ID: 2, ConvID: "alice", Seq: 2, Sender: "alice", PushConfig: pc, CreatedAt: now},                      // owed
		{ID: 3, ConvID: "alice", Seq: 3, Sender: "bob", PushConfig: pc, CreatedAt: now},                        // bob's own
		{ID: 4, ConvID: "alice", Seq: 4, Sender: "alice", PushConfig: pc, CreatedAt: now.Add(-48 * time.Hour)}, // expired
		{ID: 5, ConvID: "carol", Seq: 2, Sender: "carol", PushConfig: pc, CreatedAt: now},                      // acknowledged
	}}
	s, err := New(st, nopRouter{}, Config{Now: func() time.Time { return now }, PushTTL: 24 * time.Hour},
		slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := s.checkSessionEnd(ctx, &SessionEnd{AppID: "app", UserID: "bob", DeviceID: "phone"}); err != nil {
		t.Fatal(err)
	}
	if len(st.planned) != 0 {
		t.Fatalf("an end handed nothing planned %+v", st.planned)
	}
	if err := s.checkSessionEnd(ctx, &SessionEnd{AppID: "app", UserID: "bob", DeviceID: "phone", lost: true}); err != nil {
		t.Fatal(err)
	}
	if len(st.planned) != 1 || st.planned[0].MessageID != 2 {
		t.Fatalf("the lost session planned %+v, want message 2 only", st.planned)
	}
}
