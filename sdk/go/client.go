package herald

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heraldim/herald/internal/protocol"
)

// Version is the SDK's version, sent to the server at login.
const Version = "0.1.0"

// DefaultServer is the server a Config without Server connects to.
const DefaultServer = "ws://127.0.0.1:8080"

// Config configures a Client. Zero values take the defaults given per field.
type Config struct {
	// Server is the server's base URL: ws://, wss://, http:// or https://
	// host and port, optionally with a path prefix; the SDK appends /v1/ws
	// unless the URL already ends with it. Zero: DefaultServer.
	Server string
	// AppID is the app to log in to. Required.
	AppID string
	// DeviceID identifies this installation and must stay the same across
	// restarts: the server keeps delivery positions per user and device, so
	// a device resumes where it stopped. Required; 1 to 128 characters of
	// A-Z a-z 0-9 and "_-.@+=".
	DeviceID string
	// Platform names the platform logged in from; the server's kick policy is
	// per platform, and any number of "server" sessions of one user may
	// coexist. Zero: "linux".
	Platform string
	// Logger receives the SDK's diagnostics. Zero: discarded.
	Logger *slog.Logger
	// HTTPClient dials the WebSocket. Zero: http.DefaultClient. For a
	// wss:// server whose certificate a private CA signed, give one whose
	// transport trusts it:
	//
	//	&http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	HTTPClient *http.Client

	// RequestTimeout bounds every request on top of the caller's context.
	// Zero: 10 s.
	RequestTimeout time.Duration
	// LoginTimeout bounds dialing and logging in, on Login and on every
	// reconnect attempt. Zero: 10 s.
	LoginTimeout time.Duration
	// AckInterval is the longest a handled message waits before its
	// acknowledgement is sent. Zero: 100 ms (acks are cumulative, so batching
	// them costs nothing but this delay).
	AckInterval time.Duration
	// AckBatch sends acknowledgements at once when this many messages wait
	// for one. Zero: 100.
	AckBatch int
	// ReconnectMin is the first backoff ceiling between reconnect attempts;
	// it doubles per failed attempt, and each wait is drawn from the upper
	// half of the ceiling (jitter). Zero: 500 ms.
	ReconnectMin time.Duration
	// ReconnectMax caps the backoff ceiling. Zero: 30 s.
	ReconnectMax time.Duration
	// SkipOfflineSync logs in without receiving stored messages (live ones
	// still arrive): for backends and scripts that only send.
	SkipOfflineSync bool
	// Push, when set, registers the device's push channel at every login
	// and binds it to the user; Logout unbinds it. See PushRegistration.
	// RegisterPush replaces it for the logins that follow.
	Push *PushRegistration
}

// PushRegistration is the device's push channel, as the push SDK obtained
// it from the phone's vendor (registerPush).
type PushRegistration struct {
	// Vendor is "apns", "fcm", "huawei", "xiaomi", "oppo", "vivo",
	// "harmony" (HarmonyOS NEXT), "honor" or "webpush" (a browser: Token is
	// the subscription's JSON, see WebPushKey).
	Vendor string
	// Token is the vendor's device token; VoIPToken the iOS PushKit token.
	Token     string
	VoIPToken string
	// Debug marks a development build (enableDebug; the APNs sandbox).
	Debug bool
	// BundleID is the iOS bundle ID or Android package name.
	BundleID string
	// Disabled switches pushes to this device off.
	Disabled bool
}

// wire is the registration as login's push and registerPush carry it.
func (p *PushRegistration) wire() *protocol.PushRegistration {
	env := "production"
	if p.Debug {
		env = "development"
	}
	return &protocol.PushRegistration{Vendor: p.Vendor, Token: p.Token, VoIPToken: p.VoIPToken,
		Environment: env, BundleID: p.BundleID, Disabled: p.Disabled}
}

// Defaults used when the server's LoginReply leaves the heartbeat unset.
const (
	defaultHeartbeat = 15 * time.Second
	// stableSession: a session that lived this long resets the backoff, so a
	// connection lost after a long stable period reconnects quickly while a
	// flapping server is not hammered.
	stableSession = 30 * time.Second
)

func (cfg *Config) setDefaults() error {
	if cfg.Server == "" {
		cfg.Server = DefaultServer
	}
	if cfg.Platform == "" {
		cfg.Platform = "linux"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 10 * time.Second
	}
	if cfg.LoginTimeout <= 0 {
		cfg.LoginTimeout = 10 * time.Second
	}
	if cfg.AckInterval <= 0 {
		cfg.AckInterval = 100 * time.Millisecond
	}
	if cfg.AckBatch <= 0 {
		cfg.AckBatch = 100
	}
	if cfg.ReconnectMin <= 0 {
		cfg.ReconnectMin = 500 * time.Millisecond
	}
	if cfg.ReconnectMax <= 0 {
		cfg.ReconnectMax = 30 * time.Second
	}
	if cfg.ReconnectMax < cfg.ReconnectMin {
		cfg.ReconnectMax = cfg.ReconnectMin
	}
	switch {
	case cfg.AppID == "":
		return errors.New("herald: create: AppID is required")
	case !protocol.ValidDeviceID(cfg.DeviceID):
		return fmt.Errorf("herald: create: DeviceID %q must be 1 to %d characters of A-Z a-z 0-9 _-.@+=", cfg.DeviceID, protocol.MaxDeviceIDLen)
	case !protocol.ValidPlatform(cfg.Platform):
		return fmt.Errorf("herald: create: unknown platform %q", cfg.Platform)
	}
	return nil
}

// wsURL turns Config.Server into the WebSocket endpoint's URL.
func wsURL(server string) (string, error) {
	u, err := url.Parse(server)
	if err != nil {
		return "", fmt.Errorf("herald: create: server URL: %w", err)
	}
	switch u.Scheme {
	case "ws", "wss":
	case "http":
		u.Scheme = "ws"
	case "https":
		u.Scheme = "wss"
	default:
		return "", fmt.Errorf("herald: create: server URL %q: scheme must be ws, wss, http or https", server)
	}
	if u.Host == "" {
		return "", fmt.Errorf("herald: create: server URL %q has no host", server)
	}
	p := strings.TrimSuffix(u.Path, "/")
	if !strings.HasSuffix(p, "/v1/ws") {
		p += "/v1/ws"
	}
	u.Path = p
	return u.String(), nil
}

// Client is one user's connection to a Herald server. Create it once per
// device; Login and Logout may alternate any number of times; Destroy
// releases it. Its methods are safe for concurrent use.
type Client struct {
	cfg Config
	url string
	log *slog.Logger

	// opMu serialises Login, Logout and Destroy. It is never taken by the
	// SDK's own goroutines, so those calls may be made from event handlers.
	opMu sync.Mutex

	// ackKick wakes the current session to send acknowledgements.
	ackKick chan struct{}
	reqID   atomic.Uint64
	// pushID is the PushID the server gave the device at the last login
	// or RegisterPush.
	pushID atomic.Pointer[string]
	// webPushKey is the app's VAPID public key from the last login.
	webPushKey atomic.Pointer[string]
	// push is the registration every login carries: Config.Push, then
	// that of the last successful RegisterPush. nil: none.
	push atomic.Pointer[PushRegistration]

	mu      sync.Mutex
	handler EventHandler
	closed  bool
	state   ConnectionState
	userID  string
	token   string
	// running: a login is in force (connected or reconnecting). The run
	// goroutine that supervises it is stopped by runCancel and closes runDone.
	running   bool
	runCancel context.CancelFunc
	runDone   chan struct{}
	sess      *session // the logged-in connection; nil while reconnecting
	// Delivery bookkeeping, per conversation (see events.go). epoch changes
	// when it is reset for another user, so stale queued work is ignored.
	pos      map[convKey]*convPos
	epoch    uint64
	unacked  int
	ackTimer *time.Timer
	// The event queue, drained in order by one dispatcher goroutine at a
	// time, started on demand.
	queue       []*event
	queuedMsgs  int // messages in queue
	maxQueued   int // see maxQueued; a field so that tests can lower it
	dispatching bool
}

// Create returns a Client for cfg. It starts no goroutine and opens no
// connection: Login does.
func Create(cfg Config) (*Client, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	u, err := wsURL(cfg.Server)
	if err != nil {
		return nil, err
	}
	c := &Client{
		cfg:       cfg,
		url:       u,
		log:       cfg.Logger.With("sdk", "herald", "device", cfg.DeviceID),
		ackKick:   make(chan struct{}, 1),
		pos:       make(map[convKey]*convPos),
		maxQueued: maxQueued,
	}
	if cfg.Push != nil {
		p := *cfg.Push // the caller's struct may change after Create
		c.push.Store(&p)
	}
	return c, nil
}

// PushID returns the device's PushID from the last login with a push
// registration or the last RegisterPush ("" before one): what the seed's
// registered event reports,
// and what a test push (herald push, the admin API) is addressed to. Its
// first letter is D for a development (debug) device, P for production.
func (c *Client) PushID() string {
	if p := c.pushID.Load(); p != nil {
		return *p
	}
	return ""
}

// SetEventHandler sets the functions that receive the Client's events,
// replacing earlier ones. Events are delivered on one goroutine, in order.
func (c *Client) SetEventHandler(h EventHandler) {
	c.mu.Lock()
	c.handler = h
	c.mu.Unlock()
}

// ConnectionState returns the current connection state.
func (c *Client) ConnectionState() ConnectionState {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// UserID returns the user logged in, or last logged in.
func (c *Client) UserID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.userID
}

// Login logs userID in with token, minted by the app's backend (see
// GenerateToken). It returns once the server accepted the login or refused
// it: a *Error for a refusal, a context or network error otherwise. After a
// successful Login the Client stays logged in, reconnecting by itself when
// the connection is lost, until Logout, Destroy, a kick or an expired token
// (reported through EventHandler.ConnectionStateChanged).
//
// The messages this device has not acknowledged follow a login, delivered
// with IsOfflineMessage set, then EventHandler.SyncDone.
func (c *Client) Login(ctx context.Context, userID, token string) error {
	if !protocol.ValidUserID(userID) {
		return &Error{Code: CodeInvalidUserID, Message: "userID must be 1 to 64 characters of A-Z a-z 0-9 _-.@+="}
	}
	if token == "" {
		return &Error{Code: CodeTokenInvalid, Message: "token is empty"}
	}
	c.opMu.Lock()
	defer c.opMu.Unlock()

	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	if c.running {
		c.mu.Unlock()
		return ErrAlreadyLoggedIn
	}
	oldCancel, done := c.runCancel, c.runDone
	c.mu.Unlock()
	if oldCancel != nil {
		oldCancel()
		<-done // a run that ended by itself (kick, expiry) is finishing
	}

	runCtx, cancel := context.WithCancel(context.Background())
	c.mu.Lock()
	if userID != c.userID {
		c.resetPositionsLocked()
	}
	c.userID, c.token = userID, token
	c.running = true
	c.runCancel, c.runDone = cancel, make(chan struct{})
	c.setStateLocked(ConnectionStateConnecting, ConnectionEventActiveLogin, nil)
	c.mu.Unlock()

	lctx, lcancel := context.WithTimeout(ctx, c.cfg.LoginTimeout)
	s, err := c.connect(lctx)
	lcancel()
	if err != nil {
		cancel()
		ev, ext := loginFailure(err)
		c.mu.Lock()
		c.running = false
		close(c.runDone)
		c.runCancel, c.runDone = nil, nil
		c.setStateLocked(ConnectionStateDisconnected, ev, ext)
		c.mu.Unlock()
		return fmt.Errorf("herald: login: %w", err)
	}
	c.mu.Lock()
	done = c.runDone
	c.mu.Unlock()
	go c.run(runCtx, s, done)
	return nil
}

// Logout sends the pending acknowledgements, logs out (the server then
// drops this device's push binding) and closes the connection. Events still
// queued for handlers are dropped, except the final state change: their
// messages were not acknowledged, so the server delivers them again at the
// next login of this device. Logout without a login in force does nothing.
func (c *Client) Logout(ctx context.Context) error {
	c.opMu.Lock()
	defer c.opMu.Unlock()
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	c.mu.Unlock()
	s, wasRunning := c.stopRun()
	var err error
	if s != nil {
		err = s.logout(ctx)
	}
	c.mu.Lock()
	c.dropQueuedLocked()
	if wasRunning {
		c.setStateLocked(ConnectionStateDisconnected, ConnectionEventSuccess, nil)
	}
	c.mu.Unlock()
	if err != nil {
		return fmt.Errorf("herald: logout: %w", err)
	}
	return nil
}

// Destroy closes the connection without logging out (the push binding
// stays) and releases the Client: no handler starts after Destroy returns
// (one already running may finish), and every later call fails with
// ErrClosed. Acknowledgements are sent on a best-effort basis. Destroy is
// idempotent.
func (c *Client) Destroy() {
	c.opMu.Lock()
	defer c.opMu.Unlock()
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.queue, c.queuedMsgs = nil, 0
	if c.ackTimer != nil {
		c.ackTimer.Stop()
	}
	c.mu.Unlock()
	s, _ := c.stopRun()
	if s != nil {
		s.flushAcks(false)
		s.close(websocketNormal, "destroyed")
	}
	c.mu.Lock()
	c.state = ConnectionStateDisconnected
	c.mu.Unlock()
}

// Close is Destroy, for io.Closer.
func (c *Client) Close() error {
	c.Destroy()
	return nil
}

// stopRun stops the run goroutine, waits for it and takes the session it
// left, if any. It reports whether a login was in force.
func (c *Client) stopRun() (*session, bool) {
	c.mu.Lock()
	cancel, done := c.runCancel, c.runDone
	c.runCancel, c.runDone = nil, nil
	c.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	if done != nil {
		<-done
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	s, was := c.sess, c.running
	c.sess, c.running = nil, false
	return s, was
}

// run supervises a login from its first session on: it waits for each
// session to end and reconnects when the close allows it, until ctx is
// cancelled (Logout, Destroy) or the login ends for good. On cancellation it
// leaves the current session to its canceller.
func (c *Client) run(ctx context.Context, s *session, done chan struct{}) {
	defer close(done)
	attempt := 0
	for {
		select {
		case <-s.done:
		case <-ctx.Done():
			return
		}
		s.wait()
		c.mu.Lock()
		if c.sess == s {
			c.sess = nil
		}
		c.mu.Unlock()
		if ctx.Err() != nil {
			return
		}
		end := s.ending()
		c.log.Info("herald: connection closed", "code", end.code, "reason", end.reason, "err", end.err)
		if !end.reconnects() {
			c.finish(end.event())
			return
		}
		if time.Since(s.started) >= stableSession {
			attempt = 0
		}
		c.setState(ConnectionStateReconnecting, ConnectionEventLoginInterrupted, end.extended())
		var hint time.Duration // the last refusal's Retry-After
		for {
			d := backoff(attempt, c.cfg.ReconnectMin, c.cfg.ReconnectMax, jitter())
			attempt++
			if hint > 0 {
				d = hintedWait(hint, d, c.cfg.ReconnectMax, jitter())
				c.log.Info("herald: server refused the connection; waiting as it asked", "retryAfter", hint, "wait", d)
			}
			if !sleepCtx(ctx.Done(), d) {
				return
			}
			lctx, cancel := context.WithTimeout(ctx, c.cfg.LoginTimeout)
			ns, err := c.connect(lctx)
			cancel()
			if err == nil {
				s = ns
				break
			}
			if ctx.Err() != nil {
				return
			}
			c.log.Info("herald: reconnect failed", "attempt", attempt, "err", err)
			hint = retryAfter(err)
			if !retryable(err) {
				ev, ext := loginFailure(err)
				c.finish(ev, ext)
				return
			}
		}
	}
}

// finish ends a login that cannot continue (kick, expired token, refused
// re-login).
func (c *Client) finish(ev ConnectionEvent, ext map[string]any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.running = false
	c.setStateLocked(ConnectionStateDisconnected, ev, ext)
}

// loginFailure tells which connection event a failed login reports.
func loginFailure(err error) (ConnectionEvent, map[string]any) {
	var e *Error
	switch {
	case errors.As(err, &e) && (e.Code == CodeTokenExpired || e.Code == CodeTokenRevoked):
		return ConnectionEventTokenExpired, map[string]any{"code": e.Code, "message": e.Message}
	case errors.As(err, &e):
		return ConnectionEventLoginInterrupted, map[string]any{"code": e.Code, "message": e.Message}
	case errors.Is(err, context.DeadlineExceeded):
		return ConnectionEventLoginTimeout, nil
	}
	return ConnectionEventLoginInterrupted, map[string]any{"error": err.Error()}
}

// current returns the logged-in session and user.
func (c *Client) current() (*session, string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.closed:
		return nil, "", ErrClosed
	case !c.running:
		return nil, "", ErrNotLoggedIn
	case c.sess == nil:
		return nil, "", ErrDisconnected
	}
	return c.sess, c.userID, nil
}

func (c *Client) setState(st ConnectionState, ev ConnectionEvent, ext map[string]any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.setStateLocked(st, ev, ext)
}

// setStateLocked records a state and reports it when it changed.
func (c *Client) setStateLocked(st ConnectionState, ev ConnectionEvent, ext map[string]any) {
	if st == c.state {
		return
	}
	c.state = st
	c.log.Debug("herald: connection state", "state", st, "event", ev)
	c.enqueueLocked(&event{kind: evState, state: st, cevent: ev, extended: ext})
}

func (c *Client) nextID() string {
	return fmt.Sprintf("%x", c.reqID.Add(1))
}
