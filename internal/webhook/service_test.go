package webhook

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/heraldim/herald/internal/im"
	"github.com/heraldim/herald/internal/protocol"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// nopStore is a Store for tests that use the service's cache only.
type nopStore struct{ Store }

func testService(t *testing.T, c Config) *Service {
	t.Helper()
	s, err := New(nopStore{}, Options{RetryBase: time.Second, RetryMax: time.Minute, MaxAttempts: 3, Timeout: time.Second,
		Now: func() time.Time { return time.Unix(1_800_000_000, 0) }, Rand: func() float64 { return 1 }},
		slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	if err != nil {
		t.Fatal(err)
	}
	c.AppID, c.Enabled = "app", true
	if c.Secret == "" {
		c.Secret = "whsec_test_test_test"
	}
	s.cfgs["app"] = c
	t.Cleanup(s.client.CloseIdleConnections)
	return s
}

// TestBeforeSendAnswers: each answer of the hook, and each way it can
// fail, in both failure modes.
func TestBeforeSendAnswers(t *testing.T) {
	for _, tc := range []struct {
		name     string
		status   int
		answer   string
		failOpen bool
		code     protocol.Code // 0: stored
		text     string        // the text stored
	}{
		{"allow", 200, `{"action":"allow"}`, false, 0, "hello"},
		{"deny", 200, `{"action":"deny","reason":"spam"}`, true, protocol.CodeMessageRejected, ""},
		{"modify", 200, `{"action":"modify","message":{"text":"h***o"}}`, false, 0, "h***o"},
		{"modify invalid, open", 200, `{"action":"modify","message":{"text":""}}`, true, 0, "hello"},
		{"modify invalid, closed", 200, `{"action":"modify","message":{"text":""}}`, false, protocol.CodeMessageNotModerated, ""},
		{"unknown action", 200, `{"action":"maybe"}`, false, protocol.CodeMessageNotModerated, ""},
		{"not JSON, open", 200, `<html>`, true, 0, "hello"},
		{"500, closed", 500, `{"action":"allow"}`, false, protocol.CodeMessageNotModerated, ""},
		{"redirect, closed", 302, ``, false, protocol.CodeMessageNotModerated, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var hits atomic.Int32
			other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				hits.Add(1)
				_, _ = io.WriteString(w, `{"action":"allow"}`)
			}))
			defer other.Close()
			hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				if err := Verify("whsec_test_test_test", r.Header.Get(HeaderSignature), b, time.Unix(1_800_000_000, 0), time.Minute); err != nil {
					t.Errorf("unsigned: %v", err)
				}
				if tc.status == 302 {
					http.Redirect(w, r, other.URL, http.StatusFound)
					return
				}
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, tc.answer)
			}))
			defer hook.Close()
			s := testService(t, Config{BeforeSendURL: hook.URL, BeforeSendTimeout: time.Second, FailOpen: tc.failOpen})
			req := &im.Outgoing{ConversationID: "bob", LocalID: "l1", Type: protocol.MessageText, Text: "hello"}
			err := s.BeforeSend(context.Background(), "app", "alice", req)
			if got := protocol.AsError(err); (err == nil) != (tc.code == 0) || (err != nil && got.Code != tc.code) {
				t.Fatalf("BeforeSend = %v, want code %d", err, tc.code)
			}
			if err == nil && req.Text != tc.text {
				t.Fatalf("stored text %q, want %q", req.Text, tc.text)
			}
			if hits.Load() != 0 {
				t.Fatal("the redirect was followed")
			}
		})
	}
}

// TestBeforeSendTimeout: a hook slower than its timeout fails, within it.
func TestBeforeSendTimeout(t *testing.T) {
	release := make(chan struct{})
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer hook.Close()
	defer close(release)
	s := testService(t, Config{BeforeSendURL: hook.URL, BeforeSendTimeout: 50 * time.Millisecond})
	start := time.Now()
	err := s.BeforeSend(context.Background(), "app", "alice", &im.Outgoing{ConversationID: "bob", Type: 1, Text: "x"})
	if protocol.AsError(err).Code != protocol.CodeMessageNotModerated {
		t.Fatalf("BeforeSend = %v, want message_not_moderated", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("took %v", d)
	}
}

// TestDeliverOutcomes: one attempt's outcome by the receiver's answer:
// delivered on 2xx; otherwise retried after the backoff, dead at the last
// attempt; a redirect is a failure, not followed.
func TestDeliverOutcomes(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	for _, tc := range []struct {
		name     string
		status   int
		attempts int // before this one
		want     string
		next     time.Duration
	}{
		{"2xx", 204, 0, StatusDelivered, 0},
		{"500 first", 500, 0, StatusPending, time.Second},
		{"500 second", 500, 1, StatusPending, 2 * time.Second},
		{"500 last", 500, 2, StatusDead, 0},
		{"redirect", 307, 0, StatusPending, time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var hits atomic.Int32
			other := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
			defer other.Close()
			var got http.Header
			rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got = r.Header.Clone()
				if tc.status == 307 {
					http.Redirect(w, r, other.URL, tc.status)
					return
				}
				w.WriteHeader(tc.status)
			}))
			defer rcv.Close()
			s := testService(t, Config{URL: rcv.URL, Events: []string{EventUserLogin}})
			o := s.deliver(context.Background(), Row{ID: 7, AppID: "app", Event: EventUserLogin, Payload: []byte(`{"userID":"u"}`),
				Attempts: tc.attempts, CreatedAt: now})
			if o.Status != tc.want || o.Attempts != tc.attempts+1 || o.LastStatus != tc.status {
				t.Fatalf("outcome %+v, want %s after attempt %d, status %d", o, tc.want, tc.attempts+1, tc.status)
			}
			if tc.next != 0 && !o.NextAt.Equal(now.Add(tc.next)) {
				t.Fatalf("next attempt at %v, want now+%v", o.NextAt, tc.next)
			}
			if got.Get(HeaderEventID) != "evt_7" || got.Get(HeaderEvent) != EventUserLogin || got.Get(HeaderSignature) == "" {
				t.Fatalf("headers %v", got)
			}
			if hits.Load() != 0 {
				t.Fatal("the redirect was followed")
			}
		})
	}
}
