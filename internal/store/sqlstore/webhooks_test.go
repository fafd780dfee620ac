package sqlstore

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/heraldim/herald/internal/im"
	"github.com/heraldim/herald/internal/webhook"
)

// TestWebhookOutbox: configurations round-trip (the secret through the
// seal); events are due in order, an app can be skipped, outcomes move
// them, message.sent rows written with their message carry it, and a
// deleted configuration takes its pending events along.
func TestWebhookOutbox(t *testing.T) {
	s := openTest(t, Config{Path: filepath.Join(t.TempDir(), "herald.db")})
	t.Cleanup(func() { s.Close() })
	ctx := t.Context()
	now := time.UnixMilli(time.Now().UnixMilli())
	for _, app := range []string{"a", "b"} {
		if err := s.CreateApp(ctx, im.App{ID: app, Name: app, CreatedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	c := webhook.Config{AppID: "a", URL: "https://x.example/h", Secret: "whsec_0123456789abcdef", Events: []string{"message.sent", "user.login"},
		Enabled: true, BeforeSendURL: "https://x.example/m", BeforeSendTimeout: 1500 * time.Millisecond, FailOpen: true, UpdatedAt: now}
	if err := s.PutWebhook(ctx, c); err != nil {
		t.Fatal(err)
	}
	cs, err := s.Webhooks(ctx)
	if err != nil || len(cs) != 1 {
		t.Fatalf("Webhooks = %v, %v", cs, err)
	}
	if g := cs[0]; g.Secret != c.Secret || g.URL != c.URL || len(g.Events) != 2 || g.BeforeSendTimeout != c.BeforeSendTimeout || !g.FailOpen || !g.Enabled {
		t.Fatalf("read back %+v, want %+v", g, c)
	}

	ids, err := s.EnqueueEvents(ctx, []webhook.NewEvent{
		{AppID: "a", Event: "user.login", Payload: []byte(`{"userID":"u"}`), CreatedAt: now},
		{AppID: "b", Event: "user.login", Payload: []byte(`{"userID":"v"}`), CreatedAt: now},
	})
	if err != nil || len(ids) != 2 {
		t.Fatalf("EnqueueEvents = %v, %v", ids, err)
	}
	msgs := benchBatch(1000, 1, 1)
	msgs[0].AppID, msgs[0].Webhook, msgs[0].CreatedAt = "a", true, now
	if _, err := s.AppendMessages(ctx, msgs); err != nil {
		t.Fatal(err)
	}
	due, err := s.DueEvents(ctx, now, 10, nil)
	if err != nil || len(due) != 3 {
		t.Fatalf("DueEvents = %d rows, %v", len(due), err)
	}
	// One row for the commit batch, naming its message.
	if ids, err := webhook.DecodeIDs(due[2].Payload); due[2].Event != "message.sent" || due[2].Size != 1 || err != nil || len(ids) != 1 || ids[0] != 1001 {
		t.Fatalf("message batch row %+v (IDs %v, %v)", due[2], ids, err)
	}
	got, err := s.EventMessages(ctx, []int64{1001, 999})
	if m := got[1001]; err != nil || len(got) != 1 || m.Seq != 1 || m.Sender != msgs[0].Sender || m.Timestamp != now.UnixMilli() {
		t.Fatalf("EventMessages = %+v, %v", got, err)
	}
	due, err = s.DueEvents(ctx, now, 10, []string{"a"})
	if err != nil || len(due) != 1 || due[0].AppID != "b" {
		t.Fatalf("DueEvents skipping a = %+v, %v", due, err)
	}

	later := now.Add(time.Minute)
	if err := s.FinishEvents(ctx, []webhook.Outcome{
		{ID: ids[0], Status: webhook.StatusPending, Attempts: 1, NextAt: later, LastStatus: 500, LastError: "HTTP 500"},
		{ID: ids[1], Status: webhook.StatusDelivered, Attempts: 1, LastStatus: 200, DoneAt: now},
	}); err != nil {
		t.Fatal(err)
	}
	if next, err := s.NextDue(ctx); err != nil || !next.Equal(now) {
		t.Fatalf("NextDue = %v, %v; want the message row's %v", next, err, now)
	}
	rows, n, err := s.RecentEvents(ctx, "a", "", 10)
	if err != nil || len(rows) != 2 || n.Pending != 2 || rows[1].LastError != "HTTP 500" || !rows[1].NextAt.Equal(later) {
		t.Fatalf("RecentEvents(a) = %+v %+v, %v", rows, n, err)
	}
	if p, err := s.PendingEvents(ctx); err != nil || p != 2 {
		t.Fatalf("PendingEvents = %d, %v", p, err)
	}
	if err := s.DeleteWebhook(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteWebhook(ctx, "a"); !errors.Is(err, webhook.ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	if p, _ := s.PendingEvents(ctx); p != 0 {
		t.Fatalf("%d pending after the delete", p)
	}
	if err := s.TrimEvents(ctx, now.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if rows, _, _ := s.RecentEvents(ctx, "b", "", 10); len(rows) != 0 {
		t.Fatalf("delivered row not trimmed: %+v", rows)
	}
}
