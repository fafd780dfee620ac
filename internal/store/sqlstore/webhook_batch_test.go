package sqlstore

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/heraldim/herald/internal/im"
	"github.com/heraldim/herald/internal/webhook"
)

// hookReq is one request a batch receiver got.
type hookReq struct {
	eventID string
	msgID   string
}

// batchReceiver answers event requests: fail lists the message IDs whose
// first request gets a 500; hold, the one whose request is held until the
// sender gives up (the service stops).
type batchReceiver struct {
	mu     sync.Mutex
	fail   map[string]bool
	down   bool // every request gets a 500
	hold   string
	got    chan hookReq
	failed map[string]bool
}

func (r *batchReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	b, _ := io.ReadAll(req.Body)
	var env struct {
		ID   string `json:"id"`
		Data struct {
			ID string `json:"messageID"`
		} `json:"data"`
	}
	_ = json.Unmarshal(b, &env)
	h := hookReq{eventID: req.Header.Get(webhook.HeaderEventID), msgID: env.Data.ID}
	if env.ID != h.eventID {
		h.eventID = "body " + env.ID + " != header " + h.eventID
	}
	r.mu.Lock()
	status := http.StatusOK
	if r.down || r.fail[h.msgID] && !r.failed[h.msgID] {
		r.failed[h.msgID] = true
		status = http.StatusInternalServerError
	}
	hold := r.hold == h.msgID
	r.mu.Unlock()
	r.got <- h
	if hold {
		<-req.Context().Done()
		return
	}
	w.WriteHeader(status)
}

// hookedStore opens the store at path with app "a" and its webhook
// pointing at url (created on the first open).
func hookedStore(t *testing.T, path, url string) *Store {
	t.Helper()
	s := openTest(t, Config{Path: path})
	ctx := t.Context()
	if cs, err := s.Webhooks(ctx); err != nil || len(cs) > 0 {
		return s
	}
	now := time.Now()
	if err := s.CreateApp(ctx, im.App{ID: "a", Name: "a", CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutWebhook(ctx, webhook.Config{AppID: "a", URL: url, Secret: "whsec_0123456789abcdef",
		Events: []string{webhook.EventMessageSent}, Enabled: true, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	return s
}

// runHooks starts a webhook service on s with fast retries; the returned
// stop ends it and waits for it.
func runHooks(t *testing.T, s *Store) (stop func()) {
	t.Helper()
	svc, err := webhook.New(s, webhook.Options{RetryBase: 20 * time.Millisecond, RetryMax: 40 * time.Millisecond, MaxAttempts: 3,
		Timeout: 5 * time.Second, Rand: func() float64 { return 0 }},
		slog.New(slog.NewTextHandler(io.Discard, nil)), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Load(t.Context()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = svc.Run(ctx)
	}()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return stop
}

// appendHooked appends n messages (IDs from+1 on) of app "a" with their
// message.sent event, in one commit.
func appendHooked(t *testing.T, s *Store, from int64, n int) {
	t.Helper()
	msgs := benchBatch(from, n, 1)
	for _, m := range msgs {
		m.AppID, m.Webhook = "a", true
	}
	if _, err := s.AppendMessages(t.Context(), msgs); err != nil {
		t.Fatal(err)
	}
}

// waitDelivered polls the listing until app "a" has want delivered events
// and none pending, and returns the listing.
func waitDelivered(t *testing.T, s *Store, want int) []webhook.Row {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		rows, n, err := s.RecentEvents(t.Context(), "a", "", 100)
		if err != nil {
			t.Fatal(err)
		}
		all := len(rows) == want
		for _, r := range rows {
			all = all && r.Status == webhook.StatusDelivered
		}
		if all && n.Delivered == want && n.Pending == 0 && n.Dead == 0 {
			return rows
		}
		if time.Now().After(deadline) {
			t.Fatalf("counts %+v, want %d delivered: %+v", n, want, rows)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestWebhookBatchFailure: a commit of five hooked messages writes one
// outbox row; when the third message's delivery fails, the others are
// delivered at once and in order, the third is retried on its own and
// delivered once more with the same event ID, and the listing shows five
// delivered events (the third after 2 attempts). A row written one per
// message before batches is still delivered, with its old event ID.
func TestWebhookBatchFailure(t *testing.T) {
	rcv := &batchReceiver{fail: map[string]bool{"1003": true}, failed: map[string]bool{}, got: make(chan hookReq, 100)}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	s := hookedStore(t, filepath.Join(t.TempDir(), "herald.db"), srv.URL)
	defer s.Close()
	ctx := t.Context()

	appendHooked(t, s, 1000, 5)
	if due, err := s.DueEvents(ctx, time.Now(), 10, nil); err != nil || len(due) != 1 || due[0].Size != 5 {
		t.Fatalf("due rows after one commit: %+v, %v; want one batch of 5", due, err)
	}
	// A message.sent row as written before batches (one per message).
	msgs := benchBatch(2000, 1, 1)
	msgs[0].AppID = "a"
	if _, err := s.AppendMessages(ctx, msgs); err != nil {
		t.Fatal(err)
	}
	res, err := s.w.ExecContext(ctx, `INSERT INTO webhook_outbox (app_id, event, message_id, created_at, next_at) VALUES ('a', 'message.sent', 2001, 1, 1)`)
	if err != nil {
		t.Fatal(err)
	}
	legacy, _ := res.LastInsertId()

	stop := runHooks(t, s)
	rows := waitDelivered(t, s, 6)
	stop()
	close(rcv.got)
	var order []string
	ids := map[string]map[string]int{} // message -> event ID -> requests
	for h := range rcv.got {
		if h.msgID != "2001" { // the old row's delivery runs alongside
			order = append(order, h.msgID)
		}
		if ids[h.msgID] == nil {
			ids[h.msgID] = map[string]int{}
		}
		ids[h.msgID][h.eventID]++
	}
	for _, m := range []string{"1001", "1002", "1004", "1005"} {
		if len(ids[m]) != 1 || ids[m]["evt_m"+m] != 1 {
			t.Errorf("message %s: requests by event ID %v, want one with evt_m%s", m, ids[m], m)
		}
	}
	if len(ids["1003"]) != 1 || ids["1003"]["evt_m1003"] != 2 {
		t.Errorf("failed message: requests by event ID %v, want two with evt_m1003", ids["1003"])
	}
	if id := webhook.EventID(legacy); len(ids["2001"]) != 1 || ids["2001"][id] != 1 {
		t.Errorf("row from before batches: requests %v, want one with %s", ids["2001"], id)
	}
	// The batch's messages in order, the failed one's retry only after
	// the next one was delivered: the batch went on without it.
	firsts := []string{}
	retry, at1004 := -1, -1
	for i, m := range order {
		switch {
		case !slices.Contains(firsts, m):
			firsts = append(firsts, m)
			if m == "1004" {
				at1004 = i
			}
		case m == "1003":
			retry = i
		}
	}
	if !slices.Equal(firsts, []string{"1001", "1002", "1003", "1004", "1005"}) || len(order) != 6 || retry < at1004 {
		t.Errorf("batch requests %v, want 1001 to 1005 in order, the retry of 1003 after 1004", order)
	}

	byID := map[string]webhook.Row{}
	for _, r := range rows {
		byID[webhook.RowEventID(r)] = r
	}
	if len(rows) != 6 || len(byID) != 6 {
		t.Fatalf("listing has %d entries (%d IDs), want 6: %+v", len(rows), len(byID), rows)
	}
	for id, want := range map[string]int{"evt_m1001": 1, "evt_m1002": 1, "evt_m1003": 2, "evt_m1004": 1, "evt_m1005": 1, webhook.EventID(legacy): 1} {
		if r := byID[id]; r.Status != webhook.StatusDelivered || r.Attempts != want {
			t.Errorf("listing %s: %+v, want delivered after %d attempts", id, r, want)
		}
	}
	if n, err := s.PendingEvents(ctx); err != nil || n != 0 {
		t.Fatalf("PendingEvents = %d, %v", n, err)
	}
}

// TestWebhookBatchRestart: stopped while the third message of a batch is
// in flight, the service records that the first two were delivered; after
// a restart (the store reopened) the third is sent again with the same
// event ID, then the rest, and the first two are not sent again.
func TestWebhookBatchRestart(t *testing.T) {
	rcv := &batchReceiver{hold: "1003", failed: map[string]bool{}, got: make(chan hookReq, 100)}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	path := filepath.Join(t.TempDir(), "herald.db")
	s := hookedStore(t, path, srv.URL)
	appendHooked(t, s, 1000, 5)

	stop := runHooks(t, s)
	var first []hookReq
	for len(first) < 3 {
		first = append(first, <-rcv.got)
	}
	if first[2].msgID != "1003" {
		t.Fatalf("requests before the stop: %v, want 1001, 1002, 1003 in order", first)
	}
	stop()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	rcv.mu.Lock()
	rcv.hold = ""
	rcv.mu.Unlock()
	s = hookedStore(t, path, srv.URL)
	defer s.Close()
	due, err := s.DueEvents(t.Context(), time.Now(), 10, nil)
	if err != nil || len(due) != 1 || due[0].Progress != 2 {
		t.Fatalf("after the restart: due %+v, %v; want the batch at progress 2", due, err)
	}
	stop = runHooks(t, s)
	waitDelivered(t, s, 5)
	stop()
	close(rcv.got)
	var again []hookReq
	for h := range rcv.got {
		again = append(again, h)
	}
	want := []hookReq{{"evt_m1003", "1003"}, {"evt_m1004", "1004"}, {"evt_m1005", "1005"}}
	if len(again) != len(want) {
		t.Fatalf("after the restart got %v, want %v", again, want)
	}
	for i := range want {
		if again[i] != want[i] {
			t.Fatalf("after the restart got %v, want %v", again, want)
		}
	}
	if first[2].eventID != "evt_m1003" {
		t.Fatalf("held request had event ID %q", first[2].eventID)
	}
}

// TestWebhookOutboxFromVersion16: a message.sent row written one per
// message before schema version 17 is still read after the migration, with
// its message, its old event ID and no batch.
func TestWebhookOutboxFromVersion16(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "herald.db")
	db := migratedTo(t, path, 16)
	for _, q := range []string{
		`INSERT INTO apps (id, name, secret, admin_key, created_at) VALUES ('a', 'A', 's', 'k', 1)`,
		`INSERT INTO messages (id, app_id, conv_id, seq, conv_type, sender, recipient, type, sub_type, text, searched_content, extended_data, priority, created_at)
		 VALUES (77, 'a', 'p:u1:u2', 1, 0, 'u1', 'u2', 1, 0, 'old', '', '', 0, 5)`,
		`INSERT INTO webhook_outbox (id, app_id, event, message_id, created_at, next_at) VALUES (9, 'a', 'message.sent', 77, 5, 5)`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	s := openTest(t, Config{Path: path})
	defer s.Close()
	due, err := s.DueEvents(ctx, time.UnixMilli(5), 10, nil)
	if err != nil || len(due) != 1 {
		t.Fatalf("DueEvents = %+v, %v", due, err)
	}
	if r := due[0]; r.Size != 0 || r.BatchID != 0 || r.Message == nil || r.Message.Text != "old" || webhook.RowEventID(r) != "evt_9" {
		t.Fatalf("old row %+v (message %+v, event ID %s)", r, r.Message, webhook.RowEventID(r))
	}
	if n, err := s.PendingEvents(ctx); err != nil || n != 1 {
		t.Fatalf("PendingEvents = %d, %v", n, err)
	}
}

// TestWebhookBatchReceiverDown: with every request failing, a batch is not
// split message by message: each pass stops at the second failure in a
// row and the batch backs off; after the last attempt its messages are
// dead, kept and listed (the first with the attempts and last error).
func TestWebhookBatchReceiverDown(t *testing.T) {
	rcv := &batchReceiver{down: true, failed: map[string]bool{}, got: make(chan hookReq, 100)}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	s := hookedStore(t, filepath.Join(t.TempDir(), "herald.db"), srv.URL)
	defer s.Close()
	appendHooked(t, s, 1000, 3)
	stop := runHooks(t, s)
	deadline := time.Now().Add(10 * time.Second)
	var rows []webhook.Row
	for {
		var n webhook.Counts
		var err error
		rows, n, err = s.RecentEvents(t.Context(), "a", "dead", 100)
		if err != nil {
			t.Fatal(err)
		}
		if n.Dead == 3 && len(rows) == 3 {
			if n.Pending != 0 || n.Delivered != 0 {
				t.Fatalf("counts %+v", n)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("counts %+v, want 3 dead: %+v", n, rows)
		}
		time.Sleep(5 * time.Millisecond)
	}
	stop()
	close(rcv.got)
	var got []string
	for h := range rcv.got {
		got = append(got, h.msgID)
	}
	want := []string{"1001", "1002", "1001", "1002", "1001", "1002"}
	if len(got) != len(want) {
		t.Fatalf("requests %v, want %v (3 passes of two)", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("requests %v, want %v (3 passes of two)", got, want)
		}
	}
	// Newest first: 1003, 1002, 1001 (the one the batch waited on).
	if r := rows[2]; webhook.RowEventID(r) != "evt_m1001" || r.Attempts != 3 || r.LastStatus != 500 || r.LastError != "HTTP 500" {
		t.Fatalf("first dead entry %+v", r)
	}
	if r := rows[0]; webhook.RowEventID(r) != "evt_m1003" || r.Status != webhook.StatusDead || r.LastError == "" {
		t.Fatalf("last dead entry %+v", r)
	}
	if due, err := s.DueEvents(t.Context(), time.Now().Add(time.Hour), 10, nil); err != nil || len(due) != 0 {
		t.Fatalf("due after the batch died: %+v, %v", due, err)
	}
}

// TestWebhookBatchGoneMessage: a message of a batch no longer stored when
// its turn comes is split off dead (listed, "no longer stored"); the
// others are delivered.
func TestWebhookBatchGoneMessage(t *testing.T) {
	rcv := &batchReceiver{failed: map[string]bool{}, got: make(chan hookReq, 100)}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	s := hookedStore(t, filepath.Join(t.TempDir(), "herald.db"), srv.URL)
	defer s.Close()
	appendHooked(t, s, 1000, 3)
	if _, err := s.w.ExecContext(t.Context(), `DELETE FROM messages WHERE id = 1002`); err != nil {
		t.Fatal(err)
	}
	stop := runHooks(t, s)
	deadline := time.Now().Add(10 * time.Second)
	for {
		rows, n, err := s.RecentEvents(t.Context(), "a", "", 100)
		if err != nil {
			t.Fatal(err)
		}
		if n.Delivered == 2 && n.Dead == 1 && n.Pending == 0 {
			if len(rows) != 3 {
				t.Fatalf("listing %+v", rows)
			}
			for _, r := range rows {
				if webhook.RowEventID(r) == "evt_m1002" && (r.Status != webhook.StatusDead || r.LastError != "the message is no longer stored") {
					t.Fatalf("gone message listed as %+v", r)
				}
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("counts %+v: %+v", n, rows)
		}
		time.Sleep(5 * time.Millisecond)
	}
	stop()
	close(rcv.got)
	var got []string
	for h := range rcv.got {
		got = append(got, h.msgID)
	}
	if !slices.Equal(got, []string{"1001", "1003"}) {
		t.Fatalf("requests %v, want 1001 and 1003", got)
	}
}
