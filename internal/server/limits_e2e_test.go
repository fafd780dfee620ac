package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/jonboulle/clockwork"

	"github.com/heraldim/herald/internal/config"
	"github.com/heraldim/herald/internal/protocol"
	"github.com/heraldim/herald/internal/testkit"
	"github.com/heraldim/herald/internal/token"
)

// newLimitClock is the server's injected clock for the rate limits: it
// moves only when the test says, so no test waits for a bucket to refill.
func newLimitClock() *clockwork.FakeClock { return clockwork.NewFakeClockAt(time.Now()) }

// refusal is a WebSocket handshake the server refused.
type refusal struct {
	status     int
	retryAfter string
	closed     bool // the server closes the HTTP connection after it
	err        protocol.Error
}

// dialAs opens the WebSocket with the given X-Forwarded-For ("" for
// none). It returns the connection, or the refusal.
func dialAs(t *testing.T, s *testkit.Server, xff string) (*websocket.Conn, *refusal) {
	t.Helper()
	h := http.Header{}
	if xff != "" {
		h.Set("X-Forwarded-For", xff)
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	conn, resp, err := websocket.Dial(ctx, s.URL, &websocket.DialOptions{HTTPHeader: h})
	if err == nil {
		t.Cleanup(func() { _ = conn.CloseNow() })
		return conn, nil
	}
	if resp == nil {
		t.Fatalf("dial: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	r := &refusal{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After"), closed: resp.Close}
	if err := json.Unmarshal(body, &r.err); err != nil {
		t.Fatalf("refusal body %q: %v", body, err)
	}
	return nil, r
}

func mustDial(t *testing.T, s *testkit.Server, xff string) *websocket.Conn {
	t.Helper()
	conn, r := dialAs(t, s, xff)
	if r != nil {
		t.Fatalf("connection from %q refused: %d %+v", xff, r.status, r.err)
	}
	return conn
}

func mustRefuse(t *testing.T, s *testkit.Server, xff string, code protocol.Code, retryAfter string) {
	t.Helper()
	conn, r := dialAs(t, s, xff)
	if conn != nil {
		t.Fatalf("connection from %q accepted, want %s", xff, code.Name())
	}
	if r.status != http.StatusServiceUnavailable || r.err.Code != code || r.retryAfter != retryAfter || r.err.RetryAfterMs <= 0 || !r.closed {
		t.Fatalf("refusal %d %+v Retry-After %q (connection closed %v), want 503 %d Retry-After %s, closed", r.status, r.err, r.retryAfter, r.closed, code, retryAfter)
	}
}

func healthy(t *testing.T, s *testkit.Server) {
	t.Helper()
	for _, p := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get(s.HTTP + p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d", p, resp.StatusCode)
		}
	}
}

// TestUnauthenticatedCap: connections that do not log in are admitted up
// to max-unauthenticated; the next is refused before the upgrade with
// 503, Retry-After (the login timeout) and too_many_unauthenticated,
// while /healthz and /readyz answer; once one of them logs in, or one
// closes, a new connection is admitted.
func TestUnauthenticatedCap(t *testing.T) {
	s := testkit.Start(t, func(c *config.Config) {
		c.MaxUnauthenticated = 3
		c.LoginTimeout = 7 * time.Second
	})
	conns := make([]*websocket.Conn, 3)
	for i := range conns {
		conns[i] = mustDial(t, s, "")
	}
	if n := s.Metric(t, "herald_connections_unauthenticated"); n != 3 {
		t.Fatalf("%v unauthenticated", n)
	}
	mustRefuse(t, s, "", protocol.CodeTooManyUnauthenticated, "7")
	healthy(t, s)
	if n := s.Metric(t, `herald_connections_refused_total{reason="too_many_unauthenticated"}`); n != 1 {
		t.Fatalf("refused metric %v", n)
	}
	// A login frees its place at once (before its reply is sent).
	if f := rawLogin(t, s, conns[0], "alice"); f.Error != nil {
		t.Fatal(f.Error)
	}
	if n := s.Metric(t, "herald_connections_unauthenticated"); n != 2 {
		t.Fatalf("%v unauthenticated after a login", n)
	}
	mustDial(t, s, "")
	mustRefuse(t, s, "", protocol.CodeTooManyUnauthenticated, "7")
	// A close frees its place once the server saw it.
	_ = conns[1].Close(websocket.StatusNormalClosure, "")
	waitFor(t, "the closed connection to leave the counts", func() bool {
		return s.Metric(t, "herald_connections_unauthenticated") == 2
	})
	mustDial(t, s, "")
	// The logged-in session works as before.
	if f := rawRequest(t, conns[0], protocol.TypePing, "2"); f.Error != nil {
		t.Fatal(f.Error)
	}
}

// TestConnectionCap: max-connections counts logged-in connections too.
func TestConnectionCap(t *testing.T) {
	s := testkit.Start(t, func(c *config.Config) { c.MaxConnections = 2 })
	a := mustDial(t, s, "")
	if f := rawLogin(t, s, a, "alice"); f.Error != nil {
		t.Fatal(f.Error)
	}
	mustDial(t, s, "")
	mustRefuse(t, s, "", protocol.CodeTooManyConnections, "30")
	healthy(t, s)
	if n := s.Metric(t, `herald_connections_refused_total{reason="too_many_connections"}`); n != 1 {
		t.Fatalf("refused metric %v", n)
	}
	// The logged-in session is not disturbed.
	if f := rawRequest(t, a, protocol.TypePing, "2"); f.Error != nil {
		t.Fatal(f.Error)
	}
}

// TestPerIPCaps: behind a trusted proxy the per-address caps count the
// address X-Forwarded-For gives (its rightmost hop that is not a trusted
// proxy, so prepending hops does not help); without trusted proxies the
// header is ignored and every connection counts under the socket's peer,
// whatever the header says.
func TestPerIPCaps(t *testing.T) {
	t.Run("trusted proxy, unauthenticated", func(t *testing.T) {
		s := testkit.Start(t, func(c *config.Config) {
			c.TrustedProxies = []string{"127.0.0.1"}
			c.MaxUnauthenticatedPerIP = 2
			c.LoginTimeout = 3 * time.Second
		})
		mustDial(t, s, "203.0.113.5")
		mustDial(t, s, "198.51.100.77, 203.0.113.5")
		mustRefuse(t, s, "203.0.113.5", protocol.CodeTooManyUnauthenticatedFromIP, "3")
		mustRefuse(t, s, "10.9.9.9, 203.0.113.5", protocol.CodeTooManyUnauthenticatedFromIP, "3")
		// Another client address behind the same proxy is not concerned.
		mustDial(t, s, "203.0.113.6")
		healthy(t, s)
		if n := s.Metric(t, `herald_connections_refused_total{reason="too_many_unauthenticated_from_ip"}`); n != 2 {
			t.Fatalf("refused metric %v", n)
		}
	})
	t.Run("trusted proxy, all connections", func(t *testing.T) {
		s := testkit.Start(t, func(c *config.Config) {
			c.TrustedProxies = []string{"127.0.0.0/8"}
			c.MaxConnectionsPerIP = 2
		})
		for i, u := range []string{"alice", "bob"} {
			conn := mustDial(t, s, "203.0.113.7")
			if f := rawLogin(t, s, conn, u); f.Error != nil {
				t.Fatalf("login %d: %v", i, f.Error)
			}
		}
		mustRefuse(t, s, "203.0.113.7", protocol.CodeTooManyConnectionsFromIP, "30")
		mustDial(t, s, "203.0.113.8")
	})
	t.Run("no trusted proxy: header ignored", func(t *testing.T) {
		s := testkit.Start(t, func(c *config.Config) {
			c.MaxUnauthenticatedPerIP = 2
			c.LoginTimeout = 3 * time.Second
		})
		mustDial(t, s, "203.0.113.1")
		mustDial(t, s, "203.0.113.2")
		// A third claimed address is still 127.0.0.1.
		mustRefuse(t, s, "203.0.113.3", protocol.CodeTooManyUnauthenticatedFromIP, "3")
		mustRefuse(t, s, "", protocol.CodeTooManyUnauthenticatedFromIP, "3")
	})
}

// historyTexts returns the texts of c's user's conversation with peer,
// oldest first.
func historyTexts(t *testing.T, c *testkit.Client, peer string) []string {
	t.Helper()
	var r protocol.HistoryReply
	if err := c.Call(protocol.TypeHistory, protocol.HistoryRequest{ConversationID: peer, ConversationType: protocol.ConversationPeer, Count: 100}, &r); err != nil {
		t.Fatal(err)
	}
	out := make([]string, len(r.Messages))
	for i, m := range r.Messages {
		out[len(r.Messages)-1-i] = m.Text
	}
	return out
}

// TestUserMessageRate: a user's sessions share one bucket; a send over it
// is answered rate_limited with the time to wait, and nothing of it is
// stored; another user is not concerned; once the time passed (on the
// injected clock) the user sends again, and sends at the rate all pass.
func TestUserMessageRate(t *testing.T) {
	clk := newLimitClock()
	s := testkit.Start(t, func(c *config.Config) {
		c.Clock = clk
		c.UserMessageRate, c.UserMessageBurst = 2, 3
	})
	phone := s.LoginAs(t, "alice", "ios", "a1")
	laptop := s.LoginAs(t, "alice", "macos", "a2")
	bob := s.LoginAs(t, "bob", "ios", "b1")
	for i, c := range []*testkit.Client{phone, laptop, phone} {
		if _, err := c.SendText("bob", fmt.Sprint("m", i), fmt.Sprint("m", i)); err != nil {
			t.Fatalf("send %d within the burst: %v", i, err)
		}
	}
	_, err := laptop.SendText("bob", "over", "over")
	if err == nil || err.Code != protocol.CodeRateLimited || err.RetryAfterMs != 500 {
		t.Fatalf("send over the rate: %+v, want rate_limited retryAfterMs 500", err)
	}
	if got := historyTexts(t, bob, "alice"); fmt.Sprint(got) != "[m0 m1 m2]" {
		t.Fatalf("history %v: the refused send was stored", got)
	}
	if n := s.Metric(t, `herald_rate_limited_total{scope="user"}`); n != 1 {
		t.Fatalf("rate-limited metric %v", n)
	}
	if _, err := bob.SendText("alice", "b0", "b0"); err != nil {
		t.Fatalf("bob: %v", err)
	}
	// After the time the reply gave, the same send passes.
	clk.Advance(500 * time.Millisecond)
	if _, err := laptop.SendText("bob", "over", "over"); err != nil {
		t.Fatalf("send after the wait: %v", err)
	}
	// At the rate (one every 500 ms), every send passes.
	for i := range 10 {
		clk.Advance(500 * time.Millisecond)
		if _, err := phone.SendText("bob", fmt.Sprint("r", i), fmt.Sprint("r", i)); err != nil {
			t.Fatalf("send %d at the rate: %v", i, err)
		}
	}
	if got := historyTexts(t, phone, "bob"); len(got) != 15 || got[4] != "over" {
		t.Fatalf("history %v", got)
	}
	if n := s.Metric(t, `herald_rate_limited_total{scope="user"}`); n != 1 {
		t.Fatalf("rate-limited metric %v", n)
	}
}

// TestAppMessageRate: the app's bucket is shared by all its users; a
// send it refuses says so and is not stored; another app's users are not
// concerned.
func TestAppMessageRate(t *testing.T) {
	clk := newLimitClock()
	s := testkit.Start(t, func(c *config.Config) {
		c.Clock = clk
		c.UserMessageRate = 0
		c.AppMessageRate, c.AppMessageBurst = 1, 2
	})
	a := s.LoginAs(t, "alice", "ios", "a1")
	b := s.LoginAs(t, "bob", "ios", "b1")
	if _, err := a.SendText("carol", "1", "1"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.SendText("carol", "2", "2"); err != nil {
		t.Fatal(err)
	}
	_, err := a.SendText("carol", "3", "3")
	if err == nil || err.Code != protocol.CodeRateLimited || err.RetryAfterMs != 1000 {
		t.Fatalf("third send of the app: %+v", err)
	}
	if got := historyTexts(t, a, "carol"); fmt.Sprint(got) != "[1]" {
		t.Fatalf("alice's history %v", got)
	}
	if n := s.Metric(t, `herald_rate_limited_total{scope="app"}`); n != 1 {
		t.Fatalf("app metric %v", n)
	}
	// Another app has its own bucket.
	other := s.CreateApp(t, "other")
	c := testkit.Dial(t, s.URL)
	tok, terr := token.Mint(other.AppID, other.Secret, "dave", time.Hour, time.Now())
	if terr != nil {
		t.Fatal(terr)
	}
	if err := c.Login(other.AppID, "dave", tok, "ios", "d1"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SendText("erin", "1", "1"); err != nil {
		t.Fatalf("other app: %v", err)
	}
	clk.Advance(time.Second)
	if _, err := a.SendText("carol", "3", "3"); err != nil {
		t.Fatalf("after the wait: %v", err)
	}
}

// TestRESTRate: each app's admin requests have their own bucket; one over
// it gets 429 with Retry-After and rate_limited; requests with a wrong key
// do not use the app's budget; after the wait (on the injected clock) the
// app's requests pass again.
func TestRESTRate(t *testing.T) {
	clk := newLimitClock()
	s := testkit.Start(t, func(c *config.Config) {
		c.Clock = clk
		c.RESTRate, c.RESTBurst = 0.5, 2
	})
	get := func(appID, key string) (int, http.Header, protocol.Error) {
		t.Helper()
		req, _ := http.NewRequest("GET", s.HTTP+"/v1/apps/"+appID+"/push/credentials", nil)
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var e protocol.Error
		if resp.StatusCode != http.StatusOK {
			_ = json.NewDecoder(resp.Body).Decode(&e)
		}
		return resp.StatusCode, resp.Header, e
	}
	app := s.App
	for range 5 {
		if st, _, _ := get(app.AppID, "wrong"); st != http.StatusUnauthorized {
			t.Fatalf("wrong key: %d", st)
		}
	}
	for i := range 2 {
		if st, _, e := get(app.AppID, app.AdminKey); st != http.StatusOK {
			t.Fatalf("request %d within the burst: %d %+v", i, st, e)
		}
	}
	st, h, e := get(app.AppID, app.AdminKey)
	if st != http.StatusTooManyRequests || e.Code != protocol.CodeRateLimited || h.Get("Retry-After") != "2" || e.RetryAfterMs != 2000 {
		t.Fatalf("over the rate: %d %+v Retry-After %q", st, e, h.Get("Retry-After"))
	}
	if n := s.Metric(t, `herald_rate_limited_total{scope="rest"}`); n != 1 {
		t.Fatalf("rest metric %v", n)
	}
	other := s.CreateApp(t, "other")
	if st, _, e := get(other.AppID, other.AdminKey); st != http.StatusOK {
		t.Fatalf("another app: %d %+v", st, e)
	}
	clk.Advance(2 * time.Second)
	if st, _, e := get(app.AppID, app.AdminKey); st != http.StatusOK {
		t.Fatalf("after the wait: %d %+v", st, e)
	}
	st, h, _ = get(app.AppID, app.AdminKey)
	if secs, err := strconv.Atoi(h.Get("Retry-After")); st != http.StatusTooManyRequests || err != nil || secs < 1 {
		t.Fatalf("again over the rate: %d, Retry-After %q", st, h.Get("Retry-After"))
	}
}

// TestSessionsPerUserCap: a login over max-sessions-per-user fails with
// too_many_sessions and leaves the user's sessions as they were; a login
// that replaces one of them under the kick policy passes; once a session
// ended, a new login passes.
func TestSessionsPerUserCap(t *testing.T) {
	s := testkit.Start(t, func(c *config.Config) { c.MaxSessionsPerUser = 2 })
	phone := s.LoginAs(t, "alice", "ios", "a1")
	s.LoginAs(t, "alice", "android", "a2")
	c := testkit.Dial(t, s.URL)
	err := c.Login(s.App.AppID, "alice", s.Token(t, "alice", time.Hour), "web", "a3")
	if err == nil || err.Code != protocol.CodeTooManySessions {
		t.Fatalf("third session: %v, want too_many_sessions", err)
	}
	if n := s.Metric(t, `herald_login_failures_total{code="too_many_sessions"}`); n != 1 {
		t.Fatalf("login failures metric %v", n)
	}
	// The refused connection stays open, not logged in: a request gets
	// not_logged_in.
	if err := c.Call(protocol.TypePing, struct{}{}, nil); err == nil || err.Code != protocol.CodeNotLoggedIn {
		t.Fatalf("ping after the refused login: %v", err)
	}
	// Bob is not concerned.
	s.LoginAs(t, "bob", "web", "b1")
	// A new iPhone login replaces the old one (platform policy): passes.
	s.LoginAs(t, "alice", "ios", "a4")
	if code := phone.CloseCode(wait); code != protocol.CloseKicked {
		t.Fatalf("old phone closed with %d", code)
	}
	// The refused connection may log in once a place is free.
	if err := c.Login(s.App.AppID, "alice", s.Token(t, "alice", time.Hour), "web", "a3"); err == nil || err.Code != protocol.CodeTooManySessions {
		t.Fatalf("still two sessions: %v", err)
	}
	laptop := s.LoginAs(t, "alice", "ios", "a5") // replaces a4
	if err := laptop.Call(protocol.TypeLogout, struct{}{}, nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the logged-out session to leave", func() bool { return s.Metric(t, "herald_sessions") == 2 })
	if err := c.Login(s.App.AppID, "alice", s.Token(t, "alice", time.Hour), "web", "a3"); err != nil {
		t.Fatalf("login once a place is free: %v", err)
	}
}
