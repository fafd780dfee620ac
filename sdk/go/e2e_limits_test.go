package herald

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/heraldim/herald/internal/config"
	"github.com/heraldim/herald/internal/testkit"
)

// End-to-end tests of how the SDK obeys the server's limits: the send rate
// (42900 with retryAfterMs), the connection caps (HTTP 503 with
// Retry-After) and the session cap (42905).

// logRecords is a slog.Handler that keeps every record, for tests that
// measure when the SDK did what.
type logRecords struct {
	mu   *sync.Mutex
	recs *[]slog.Record
}

func newLogRecords() logRecords { return logRecords{mu: &sync.Mutex{}, recs: &[]slog.Record{}} }

func (l logRecords) Enabled(context.Context, slog.Level) bool { return true }
func (l logRecords) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	*l.recs = append(*l.recs, r.Clone())
	return nil
}
func (l logRecords) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l logRecords) WithGroup(string) slog.Handler      { return l }

// find returns the records with message msg, in order.
func (l logRecords) find(msg string) []slog.Record {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []slog.Record
	for _, r := range *l.recs {
		if r.Message == msg {
			out = append(out, r)
		}
	}
	return out
}

func attr(r slog.Record, key string) slog.Value {
	var v slog.Value
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == key {
			v = a.Value
			return false
		}
		return true
	})
	return v
}

const (
	logSendLimited = "herald: send over the rate limit; sending again after the server's retryAfter"
	logSendAgain   = "herald: sending again after the rate limit"
	logRefused     = "herald: server refused the connection; waiting as it asked"
)

func TestE2ESendRateLimitedIsResentAfterRetryAfter(t *testing.T) {
	srv := testkit.Start(t, func(c *config.Config) { c.UserMessageRate, c.UserMessageBurst = 2, 1 })
	logs := newLogRecords()
	alice, _ := newE2EClient(t, srv, "a1", func(c *Config) { c.Platform = "server"; c.Logger = slog.New(logs) })
	e2eLogin(t, srv, alice, "alice")

	sendText(t, alice, "bob", "m0") // takes the only token
	// Too short a deadline to wait for the refill: the error carries the hint.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	_, err := alice.SendMessage(ctx, NewTextMessage("refused"), "bob", ConversationTypePeer, MessageSendConfig{})
	cancel()
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeRateLimited || e.RetryAfter <= 0 || e.RetryAfter > 500*time.Millisecond {
		t.Fatalf("send within 100ms after the burst: %v (%#v), want 42900 with RetryAfter in (0, 500ms]", err, e)
	}

	// A burst over the rate: every send is stored, once, in order.
	want := []string{"m0"}
	var seqs []int64
	for _, text := range []string{"m1", "m2", "m3", "m4"} {
		m := sendText(t, alice, "bob", text)
		want = append(want, text)
		seqs = append(seqs, m.ConversationSeq)
	}
	for i := 1; i < len(seqs); i++ {
		if seqs[i] != seqs[i-1]+1 {
			t.Fatalf("conversation seqs %v, want consecutive", seqs)
		}
	}
	hist, err := alice.QueryHistoryMessage(context.Background(), "bob", ConversationTypePeer, HistoryQueryConfig{Count: 100, Reverse: true})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range hist {
		got = append(got, m.Text)
	}
	if len(got) != len(want) {
		t.Fatalf("history %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("history %v, want %v", got, want)
		}
	}

	// Each resend came at least retryAfter after its refusal.
	limited, again := logs.find(logSendLimited), logs.find(logSendAgain)
	if len(limited) < 3 || len(again) != len(limited) {
		t.Fatalf("%d refusals and %d resends logged, want 3 or more of each, as many resends as refusals", len(limited), len(again))
	}
	for i, r := range limited {
		id, wait := attr(r, "localMessageID").String(), attr(r, "retryAfter").Duration()
		if wait <= 0 {
			t.Fatalf("refusal %d logged retryAfter %v", i, wait)
		}
		if attr(again[i], "localMessageID").String() != id {
			t.Fatalf("resend %d is of %s, want %s", i, attr(again[i], "localMessageID"), id)
		}
		if gap := again[i].Time.Sub(r.Time); gap < wait {
			t.Fatalf("resend %d came %v after its refusal, want at least retryAfter %v", i, gap, wait)
		}
	}
}

// dialer dials TCP for a Client and keeps the connections, so that a test
// can cut them, and the time of every dial.
type dialer struct {
	mu    sync.Mutex
	conns []net.Conn
	times []time.Time
}

func (d *dialer) client() *http.Client {
	return &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		d.mu.Lock()
		defer d.mu.Unlock()
		d.times = append(d.times, time.Now())
		if err == nil {
			d.conns = append(d.conns, c)
		}
		return c, err
	}}}
}

func (d *dialer) dials() []time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]time.Time(nil), d.times...)
}

func (d *dialer) cutAll() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, c := range d.conns {
		_ = c.Close()
	}
}

func TestE2ERefusedConnectionWaitsRetryAfter(t *testing.T) {
	srv := testkit.Start(t, func(c *config.Config) { c.MaxUnauthenticated, c.LoginTimeout = 1, 2*time.Second })
	logs := newLogRecords()
	d := &dialer{}
	alice, rec := newE2EClient(t, srv, "a1", func(c *Config) {
		c.Platform = "server"
		c.Logger = slog.New(logs)
		c.HTTPClient = d.client()
	})
	e2eLogin(t, srv, alice, "alice")

	// A connection that does not log in takes the one place for those.
	idle, _, err := websocket.Dial(context.Background(), srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.CloseNow()

	// A login now is refused before the upgrade, with the hint.
	other, _ := newE2EClient(t, srv, "b1", nil)
	err = other.Login(context.Background(), "bob", srv.Token(t, "bob", time.Hour))
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeTooManyUnauthenticated || e.RetryAfter != 2*time.Second {
		t.Fatalf("login while the cap is full: %v (%#v), want 42903 with RetryAfter 2s (the login timeout)", err, e)
	}

	// Alice's connection is lost; her first reconnect is refused, and the
	// next waits the server's Retry-After, not the 20 ms backoff.
	d.cutAll()
	eventually(t, "a refused reconnect", func() bool { return len(logs.find(logRefused)) > 0 })
	_ = idle.CloseNow()
	eventually(t, "the reconnect", func() bool {
		return alice.ConnectionState() == ConnectionStateConnected && len(rec.stateList()) >= 4
	})
	refused := logs.find(logRefused)[0]
	if hint := attr(refused, "retryAfter").Duration(); hint != 2*time.Second {
		t.Fatalf("logged retryAfter %v, want 2s", hint)
	}
	var refusal time.Time
	for _, r := range logs.find("herald: reconnect failed") {
		if r.Time.Before(refused.Time) || r.Time.Equal(refused.Time) {
			refusal = r.Time
		}
	}
	if refusal.IsZero() {
		t.Fatal("no failed reconnect logged before the wait")
	}
	var next time.Time
	for _, dt := range d.dials() {
		if dt.After(refusal) {
			next = dt
			break
		}
	}
	if next.IsZero() {
		t.Fatal("no dial after the refusal")
	}
	if gap := next.Sub(refusal); gap < 2*time.Second {
		t.Fatalf("next attempt %v after the refusal, want at least the Retry-After of 2s", gap)
	}
	sendText(t, alice, "bob", "back")
}

func TestE2ETooManySessionsEndsTheLogin(t *testing.T) {
	srv := testkit.Start(t, func(c *config.Config) { c.MaxSessionsPerUser = 1 })
	d := &dialer{}
	a, ra := newE2EClient(t, srv, "a1", func(c *Config) {
		c.Platform = "server"
		c.HTTPClient = d.client()
		// The first reconnect comes 1 to 2 s after the loss: time for b to
		// take the place.
		c.ReconnectMin, c.ReconnectMax = 2*time.Second, 2*time.Second
	})
	b, rb := newE2EClient(t, srv, "b1", func(c *Config) { c.Platform = "server" })
	e2eLogin(t, srv, a, "alice")

	err := b.Login(context.Background(), "alice", srv.Token(t, "alice", time.Hour))
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeTooManySessions {
		t.Fatalf("second server session: %v, want 42905", err)
	}
	eventually(t, "b's Disconnected with code 42905", func() bool {
		st := rb.stateList()
		return len(st) >= 2 && st[len(st)-1].state == ConnectionStateDisconnected && st[len(st)-1].ext["code"] == CodeTooManySessions
	})

	// a's connection is lost; b takes the place before a reconnects.
	d.cutAll()
	eventually(t, "a reconnecting", func() bool { return a.ConnectionState() == ConnectionStateReconnecting })
	eventually(t, "b's login", func() bool {
		return b.Login(context.Background(), "alice", srv.Token(t, "alice", time.Hour)) == nil
	})
	deadline := time.Now().Add(5 * time.Second)
	for a.ConnectionState() != ConnectionStateDisconnected {
		if time.Now().After(deadline) {
			t.Fatalf("a is %v, want Disconnected after a refused reconnect", a.ConnectionState())
		}
		time.Sleep(10 * time.Millisecond)
	}
	eventually(t, "a's Disconnected with code 42905", func() bool {
		st := ra.stateList()
		last := st[len(st)-1]
		return last.state == ConnectionStateDisconnected && last.event == ConnectionEventLoginInterrupted && last.ext["code"] == CodeTooManySessions
	})
	dials := len(d.dials())
	if dials != 2 {
		t.Fatalf("a dialed %d times, want 2 (the login and one refused reconnect)", dials)
	}
}

func TestHintedWait(t *testing.T) {
	for _, tc := range []struct {
		hint, backoff, max time.Duration
		r                  float64
		want               time.Duration
	}{
		{time.Second, 20 * time.Millisecond, 30 * time.Second, 0, time.Second},                           // at least the hint
		{time.Second, 20 * time.Millisecond, 30 * time.Second, 0.5, 1125 * time.Millisecond},             // plus jitter up to a quarter
		{40 * time.Second, time.Second, 2 * time.Second, 0.5, 41 * time.Second},                          // jitter at most max
		{time.Second, 5 * time.Second, 30 * time.Second, 0.9, 5 * time.Second},                           // never below the backoff
		{10 * time.Second, 100 * time.Millisecond, 30 * time.Second, 0.999, 12497500 * time.Microsecond}, // r < 1
	} {
		if got := hintedWait(tc.hint, tc.backoff, tc.max, tc.r); got != tc.want {
			t.Errorf("hintedWait(%v, %v, %v, %v) = %v, want %v", tc.hint, tc.backoff, tc.max, tc.r, got, tc.want)
		}
	}
}

func TestRefusedHandshake(t *testing.T) {
	resp := func(status int, retryAfter, body string) *http.Response {
		h := http.Header{}
		if retryAfter != "" {
			h.Set("Retry-After", retryAfter)
		}
		return &http.Response{StatusCode: status, Header: h, Body: io.NopCloser(strings.NewReader(body))}
	}
	for _, tc := range []struct {
		name string
		resp *http.Response
		want *Error
	}{
		{"no response", nil, nil},
		{"server's body", resp(503, "10", `{"code":42903,"message":"too many","retryAfterMs":10000}`),
			&Error{Code: CodeTooManyUnauthenticated, Message: "too many", RetryAfter: 10 * time.Second}},
		{"header longer than body", resp(503, "30", `{"code":42901,"message":"m","retryAfterMs":1000}`),
			&Error{Code: CodeTooManyConnections, Message: "m", RetryAfter: 30 * time.Second}},
		{"a proxy's page", resp(503, "5", `<html>busy</html>`),
			&Error{Code: CodeUnavailable, Message: "handshake refused: HTTP 503", RetryAfter: 5 * time.Second}},
		{"no hint", resp(502, "", ``), &Error{Code: CodeUnavailable, Message: "handshake refused: HTTP 502"}},
		{"a day is cut", resp(503, "86400", ``), &Error{Code: CodeUnavailable, Message: "handshake refused: HTTP 503", RetryAfter: maxRetryHint}},
	} {
		got := refusedHandshake(tc.resp)
		if (got == nil) != (tc.want == nil) || got != nil && *got != *tc.want {
			t.Errorf("%s: got %#v, want %#v", tc.name, got, tc.want)
		}
	}
}
