// Package testkit holds the fixtures shared by Herald's end-to-end tests: a
// real server on a loopback port with its SQLite file in a temporary
// directory (or, under HERALD_TEST_STORE=postgres, its own fresh
// PostgreSQL database: see StoreEnv), and a raw protocol client that speaks
// frames directly (so tests see exactly what goes over the wire).
package testkit

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/jonboulle/clockwork"

	"github.com/heraldim/herald/internal/config"
	"github.com/heraldim/herald/internal/devapp"
	"github.com/heraldim/herald/internal/protocol"
	"github.com/heraldim/herald/internal/server"
	"github.com/heraldim/herald/internal/store/pgtest"
	"github.com/heraldim/herald/internal/token"
)

// Server is a running in-process server.
type Server struct {
	URL     string // ws://127.0.0.1:port/v1/ws
	HTTP    string // http://127.0.0.1:port
	DataDir string
	App     devapp.Credentials
	Srv     *server.Server
	// Clock is the server's clock (config.Config.Clock): the real one
	// unless the test gave another (StartFake).
	Clock clockwork.Clock
	stop  context.CancelFunc
	done  chan error

	mu        sync.Mutex
	stopped   bool
	afterStop []func()
}

// Start runs a server with cfg's defaults adjusted by mod, on a free
// loopback port, with its data in a fresh temporary directory (or
// cfg.DataDir if mod sets it). It is stopped when the test ends.
func Start(t testing.TB, mod func(*config.Config)) *Server {
	t.Helper()
	return StartBefore(t, mod, nil)
}

// StartBefore is Start with before, when not nil, called once the server
// is built and listening but before it runs: what it sets up (a push
// provider, as a start loads them from the stored credentials) is there
// before the first pending job is read.
func StartBefore(t testing.TB, mod func(*config.Config), before func(*Server)) *Server {
	t.Helper()
	cfg := config.Default()
	cfg.Addr = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.ShutdownGrace = 5 * time.Second
	// The rate limits and the per-address cap on connections not logged
	// in yet are off: tests send fast from one address. The tests of the
	// limits set them.
	cfg.UserMessageRate, cfg.RESTRate, cfg.MaxUnauthenticatedPerIP = 0, 0, 0
	if mod != nil {
		mod(&cfg)
	}
	if cfg.Store == "" {
		cfg.Store = StoreFor(t, cfg.DataDir)
	}
	if cfg.Clock == nil {
		cfg.Clock = clockwork.NewRealClock()
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	srv, err := server.New(context.Background(), cfg, log, io.Discard)
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	if err := srv.Listen(); err != nil {
		t.Fatalf("listen: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		URL:     "ws://" + srv.Addr() + "/v1/ws",
		HTTP:    "http://" + srv.Addr(),
		DataDir: cfg.DataDir,
		App:     srv.DevApp(),
		Srv:     srv,
		Clock:   cfg.Clock,
		stop:    cancel,
		done:    make(chan error, 1),
	}
	if before != nil {
		before(s)
	}
	go func() { s.done <- srv.Run(ctx) }()
	t.Cleanup(func() { s.Stop(t) })
	return s
}

// StartFake is Start on a fake clock that starts at the real time and
// moves only when the test advances it: a test waits for a server-side
// deadline (a ring timeout, a heartbeat, a push's backoff) with
// clk.Advance instead of sleeping. The clock is also s.Clock, and mod may
// read it from the config it gets.
func StartFake(t testing.TB, mod func(*config.Config)) (*Server, *clockwork.FakeClock) {
	t.Helper()
	// The store is made before the clock starts: a PostgreSQL database
	// takes a second or more to create, and the real clock would be that
	// far ahead of the fake one from the start. A vendor provider a test
	// builds runs on real time and checks a push's expiry, set on the
	// fake clock: a 2 s ring would be expired before it is sent.
	dir := t.TempDir()
	StoreFor(t, dir)
	clk := clockwork.NewFakeClockAt(time.Now())
	s := Start(t, func(c *config.Config) {
		c.DataDir = dir
		c.Clock = clk
		if mod != nil {
			mod(c)
		}
	})
	return s, clk
}

// Stop stops the server gracefully and waits for it, then runs what
// AfterStop was given; safe to call twice.
func (s *Server) Stop(t testing.TB) {
	s.stop()
	if s.done == nil {
		return
	}
	select {
	case err := <-s.done:
		if err != nil {
			t.Errorf("server run: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Errorf("server did not stop")
	}
	s.done = nil
	s.mu.Lock()
	s.stopped = true
	after := s.afterStop
	s.afterStop = nil
	s.mu.Unlock()
	for i := len(after) - 1; i >= 0; i-- {
		after[i]()
	}
}

// AfterStop has f run once the server has stopped, the last given
// first, and reports true; when the server has stopped already it reports
// false and does not run f. What the server dials, such as a vendor
// emulator, can so finish its own shutdown after it.
func (s *Server) AfterStop(f func()) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return false
	}
	s.afterStop = append(s.afterStop, f)
	return true
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

// Token mints a token of the server's dev app for user, valid for ttl.
func (s *Server) Token(t testing.TB, user string, ttl time.Duration) string {
	t.Helper()
	tok, err := token.Mint(s.App.AppID, s.App.Secret, user, ttl, s.Clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// Client is a raw protocol client. Replies are matched to requests by ID;
// every other frame goes to Events in arrival order.
type Client struct {
	t      testing.TB
	Conn   *websocket.Conn
	ctx    context.Context
	cancel context.CancelFunc
	nextID atomic.Int64

	mu      sync.Mutex
	waiters map[string]chan protocol.Frame
	Events  chan protocol.Frame
	closed  chan struct{}
	// CloseErr is the error that ended the read loop, set before closed.
	CloseErr error
	paused   atomic.Pointer[chan struct{}]
}

// Pause stops reading after the frame being read, so that the server's
// writes back up, like a client on a congested link.
func (c *Client) Pause() {
	ch := make(chan struct{})
	c.paused.Store(&ch)
}

// Resume reads again after Pause.
func (c *Client) Resume() {
	if p := c.paused.Swap(nil); p != nil {
		close(*p)
	}
}

// Dial connects to the server without logging in.
func Dial(t testing.TB, url string) *Client {
	t.Helper()
	return dial(t, url, nil)
}

func dial(t testing.TB, url string, hc *http.Client) *Client {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	conn, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPClient: hc})
	if err != nil {
		cancel()
		t.Fatalf("dial %s: %v", url, err)
	}
	conn.SetReadLimit(1 << 20)
	c := &Client{t: t, Conn: conn, ctx: ctx, cancel: cancel, waiters: map[string]chan protocol.Frame{},
		Events: make(chan protocol.Frame, 100000), closed: make(chan struct{})}
	go c.readLoop()
	t.Cleanup(func() { c.Close() })
	return c
}

func (c *Client) readLoop() {
	defer close(c.closed)
	for {
		if p := c.paused.Load(); p != nil {
			select {
			case <-*p:
			case <-c.ctx.Done():
			}
		}
		_, b, err := c.Conn.Read(c.ctx)
		if err != nil {
			c.CloseErr = err
			return
		}
		var f protocol.Frame
		if err := json.Unmarshal(b, &f); err != nil {
			c.CloseErr = fmt.Errorf("server sent non-JSON frame %q: %w", b, err)
			return
		}
		if f.Type == protocol.TypeReply && f.ID != "" {
			c.mu.Lock()
			w := c.waiters[f.ID]
			delete(c.waiters, f.ID)
			c.mu.Unlock()
			if w != nil {
				w <- f
				continue
			}
		}
		c.Events <- f
	}
}

// Close drops the connection.
func (c *Client) Close() {
	c.cancel()
	_ = c.Conn.CloseNow()
}

// Closed is closed when the connection ended.
func (c *Client) Closed() <-chan struct{} { return c.closed }

// CloseCode waits for the connection to end and returns the close code the
// server sent (-1 if none).
func (c *Client) CloseCode(timeout time.Duration) int {
	c.t.Helper()
	select {
	case <-c.closed:
		return int(websocket.CloseStatus(c.CloseErr))
	case <-time.After(timeout):
		c.t.Fatalf("connection still open after %s", timeout)
		return 0
	}
}

// WriteRaw sends raw bytes as one text message.
func (c *Client) WriteRaw(b []byte) error {
	ctx, cancel := context.WithTimeout(c.ctx, 5*time.Second)
	defer cancel()
	return c.Conn.Write(ctx, websocket.MessageText, b)
}

// Call sends a request and waits for its reply. It returns the reply's data
// decoded into out (when out is not nil) or the reply's error.
func (c *Client) Call(typ string, data any, out any) *protocol.Error {
	c.t.Helper()
	id := strconv.FormatInt(c.nextID.Add(1), 10)
	ch := c.Expect(id)
	c.Send(typ, id, data)
	f := c.Wait(ch, 10*time.Second)
	if f.Error != nil {
		return f.Error
	}
	if out != nil && len(f.Data) > 0 {
		if err := json.Unmarshal(f.Data, out); err != nil {
			c.t.Fatalf("decoding %s reply %s: %v", typ, f.Data, err)
		}
	}
	return nil
}

// Expect registers interest in the reply with id before it is sent.
func (c *Client) Expect(id string) chan protocol.Frame {
	ch := make(chan protocol.Frame, 1)
	c.mu.Lock()
	c.waiters[id] = ch
	c.mu.Unlock()
	return ch
}

// Send writes a request frame without waiting.
func (c *Client) Send(typ, id string, data any) {
	c.t.Helper()
	b, err := json.Marshal(data)
	if err != nil {
		c.t.Fatal(err)
	}
	f, _ := json.Marshal(protocol.Frame{Type: typ, ID: id, Data: b})
	if err := c.WriteRaw(f); err != nil {
		c.t.Fatalf("write %s: %v", typ, err)
	}
}

// Wait waits for a reply registered with Expect.
func (c *Client) Wait(ch chan protocol.Frame, timeout time.Duration) protocol.Frame {
	c.t.Helper()
	select {
	case f := <-ch:
		return f
	case <-c.closed:
		select {
		case f := <-ch: // the reply came just before the close
			return f
		default:
		}
		c.t.Fatalf("connection closed while waiting for a reply: %v", c.CloseErr)
	case <-time.After(timeout):
		c.t.Fatalf("no reply within %s", timeout)
	}
	return protocol.Frame{}
}

// Next returns the next event frame, failing the test after timeout.
func (c *Client) Next(timeout time.Duration) protocol.Frame {
	c.t.Helper()
	select {
	case f := <-c.Events:
		return f
	case <-time.After(timeout):
		c.t.Fatalf("no event within %s", timeout)
	}
	return protocol.Frame{}
}

// NoEvent fails the test if an event arrives within d.
func (c *Client) NoEvent(d time.Duration) {
	c.t.Helper()
	select {
	case f := <-c.Events:
		c.t.Fatalf("unexpected event %s %s", f.Type, f.Data)
	case <-time.After(d):
	}
}

// Message returns the next event, which must be a message.
func (c *Client) Message(timeout time.Duration) protocol.Message {
	c.t.Helper()
	f := c.Next(timeout)
	if f.Type != protocol.EventMessage {
		c.t.Fatalf("want a message event, got %s %s", f.Type, f.Data)
	}
	var m protocol.Message
	if err := json.Unmarshal(f.Data, &m); err != nil {
		c.t.Fatal(err)
	}
	return m
}

// SyncDone waits for the syncDone event, returning its count; message
// events before it are returned too.
func (c *Client) SyncDone(timeout time.Duration) (msgs []protocol.Message, count int) {
	c.t.Helper()
	for {
		f := c.Next(timeout)
		switch f.Type {
		case protocol.EventSyncDone:
			var d protocol.SyncDone
			_ = json.Unmarshal(f.Data, &d)
			return msgs, d.Count
		case protocol.EventMessage:
			var m protocol.Message
			_ = json.Unmarshal(f.Data, &m)
			msgs = append(msgs, m)
		default:
			c.t.Fatalf("unexpected event before syncDone: %s %s", f.Type, f.Data)
		}
	}
}

// LoginAs dials and logs user in on platform with device, failing the test
// on error. It does not wait for syncDone.
func (s *Server) LoginAs(t testing.TB, user, platform, device string) *Client {
	t.Helper()
	c := Dial(t, s.URL)
	if err := c.Login(s.App.AppID, user, s.Token(t, user, time.Hour), platform, device); err != nil {
		t.Fatalf("login %s: %v", user, err)
	}
	return c
}

// Login sends a login request.
func (c *Client) Login(appID, user, tok, platform, device string) *protocol.Error {
	c.t.Helper()
	return c.Call(protocol.TypeLogin, protocol.LoginRequest{AppID: appID, UserID: user, Token: tok, Platform: platform, DeviceID: device}, nil)
}

// SendText sends a text message to a peer and returns the reply.
func (c *Client) SendText(to, localID, text string) (protocol.SendReply, *protocol.Error) {
	c.t.Helper()
	var r protocol.SendReply
	err := c.Call(protocol.TypeSend, protocol.SendRequest{ConversationID: to, LocalMessageID: localID, Type: protocol.MessageText, Text: text}, &r)
	return r, err
}

// Ack acknowledges a peer conversation up to seq.
func (c *Client) Ack(peer string, seq int64) {
	c.t.Helper()
	c.Send(protocol.TypeAck, "", protocol.AckRequest{Acks: []protocol.AckPosition{{ConversationID: peer, Seq: seq}}})
}

// Online reports whether user of the dev app has a live session.
func (s *Server) Online(user string) bool { return s.Srv.Online(s.App.AppID, user) }

// CreateApp creates another app on the server.
func (s *Server) CreateApp(t testing.TB, name string) devapp.Credentials {
	t.Helper()
	c, err := s.Srv.CreateApp(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Metric returns the value of an unlabelled metric from /metrics.
func (s *Server) Metric(t testing.TB, name string) float64 {
	t.Helper()
	resp, err := http.Get(s.HTTP + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("metric %s: %v", name, err)
			}
			return f
		}
	}
	t.Fatalf("metric %s not exposed", name)
	return 0
}

// Postgres returns a Start mod that puts the server's store on a fresh
// PostgreSQL database (pgtest.Fresh: dropped when t ends), then applies
// mod. It skips t when HERALD_TEST_POSTGRES is unset. Servers sharing one
// database get the same store URL from PostgresAt.
func Postgres(t testing.TB, mod func(*config.Config)) func(*config.Config) {
	t.Helper()
	return PostgresAt(pgtest.Fresh(t), mod)
}

// PostgresAt is Postgres on the database at url.
func PostgresAt(url string, mod func(*config.Config)) func(*config.Config) {
	return func(c *config.Config) {
		c.Store = url
		if mod != nil {
			mod(c)
		}
	}
}
