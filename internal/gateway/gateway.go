// Package gateway serves Herald's WebSocket protocol: it accepts
// connections, logs sessions in, keeps them alive with heartbeats, applies
// the kick policy, and writes to each session through a bounded queue that
// sheds low priorities and closes clients that cannot keep up.
package gateway

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/gobwas/ws"
	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/heraldim/herald/internal/im"
	"github.com/heraldim/herald/internal/limit"
	"github.com/heraldim/herald/internal/protocol"
	"github.com/heraldim/herald/internal/push"
	"github.com/heraldim/herald/internal/route"
	"github.com/heraldim/herald/internal/token"
)

// Service is what the gateway needs from the messaging core (im.Service).
type Service interface {
	Authenticate(ctx context.Context, appID, userID, tok string) (token.Claims, error)
	Send(ctx context.Context, from im.Sender, req *im.Outgoing, origin route.SessionID, done func(im.SendResult, error)) error
	Ack(ctx context.Context, appID, userID, deviceID string, acks []protocol.AckPosition) error
	Pending(ctx context.Context, appID, userID, deviceID string) ([]im.Pending, error)
	MessagesAfter(ctx context.Context, appID, convID string, afterSeq int64, limit int) ([]im.Message, error)
	History(ctx context.Context, appID, userID string, q im.HistoryQuery) (im.HistoryPage, error)
	Conversations(ctx context.Context, appID, userID string, q im.ConversationQuery) (im.ConversationPage, error)
	MarkRead(ctx context.Context, appID, userID string, r im.ReadMark) (int64, error)
	ConvFor(ctx context.Context, appID, userID, conversationID string, convType int) (string, int64, error)

	CreateGroup(ctx context.Context, appID, userID string, req im.GroupCreate) (im.GroupResult, error)
	JoinGroup(ctx context.Context, appID, userID string, req im.GroupJoin) (im.GroupResult, error)
	LeaveGroup(ctx context.Context, appID, userID string, req im.GroupRef) (struct{}, error)
	InviteToGroup(ctx context.Context, appID, userID string, req im.GroupUsers) (im.GroupUsersResult, error)
	KickFromGroup(ctx context.Context, appID, userID string, req im.GroupUsers) (im.GroupUsersResult, error)
	DismissGroup(ctx context.Context, appID, userID string, req im.GroupRef) (struct{}, error)
	TransferGroup(ctx context.Context, appID, userID string, req im.GroupTransfer) (struct{}, error)
	SetGroupRole(ctx context.Context, appID, userID string, req im.GroupSetRole) (struct{}, error)
	GroupInfo(ctx context.Context, appID, userID string, req im.GroupRef) (im.GroupResult, error)
	GroupMembers(ctx context.Context, appID, userID string, req im.GroupPage) (im.GroupMembersPage, error)
	GroupList(ctx context.Context, appID, userID string, req im.GroupListQuery) (im.GroupListPage, error)
	SetGroupJoinMode(ctx context.Context, appID, userID string, req im.GroupSetJoinMode) (struct{}, error)
	AcceptGroupApplication(ctx context.Context, appID, userID string, req im.GroupApplicationRef) (im.JoinRequest, error)
	RejectGroupApplication(ctx context.Context, appID, userID string, req im.GroupApplicationRef) (im.JoinRequest, error)
	GroupApplicationList(ctx context.Context, appID, userID string, req im.GroupPage) (im.JoinRequestPage, error)
	LoggedIn(ctx context.Context, appID, userID string) error
	// SessionEnded reports a logged-in session that ended without a
	// logout, for the pushes it may owe; it must not block.
	SessionEnded(e im.SessionEnd)
	// CheckRevoked refuses a token issued before the user's revocation
	// cutoff (token_revoked), as Authenticate does.
	CheckRevoked(ctx context.Context, appID, userID string, issuedAt time.Time) error
	// UserInfo returns profiles of users of the app (userInfo).
	UserInfo(ctx context.Context, appID, userID string, req im.UserInfoQuery) (im.UserInfoResult, error)
	// RevokeMessage revokes a message of the user's (revokeMessage).
	RevokeMessage(ctx context.Context, appID, userID string, req protocol.RevokeMessageRequest) (im.RevokeOutcome, error)
	SetConversationNotificationStatus(ctx context.Context, appID, userID string, req im.NotifyStatusRequest) (im.NotifyStatusResult, error)
	// UpdateUserOfflinePushRule and UserOfflinePushRule set and read the
	// user's offline push rule; WeakNetwork reports a session's messages
	// left unacknowledged past WeakPushAfter (it must not block).
	UpdateUserOfflinePushRule(ctx context.Context, appID, userID string, r protocol.OfflinePushRule) (protocol.OfflinePushRule, error)
	UserOfflinePushRule(ctx context.Context, appID, userID string) (protocol.OfflinePushRule, error)
	WeakNetwork(w im.WeakPush)
}

// Devices registers push devices and binds them to users (push.Registry).
type Devices interface {
	Bind(ctx context.Context, appID, userID string, r push.Registration) (string, error)
	Unbind(ctx context.Context, appID, userID, pushID string) error
	Unregister(ctx context.Context, appID, userID, pushID string) error
}

// Config tunes the gateway; see config.Config for meanings and defaults.
type Config struct {
	HeartbeatInterval time.Duration
	OfflineAfter      time.Duration
	LoginTimeout      time.Duration
	TokenWarnBefore   time.Duration
	TokenLeeway       time.Duration
	WriteTimeout      time.Duration
	MultiLogin        string
	SendQueue         int
	// Receipts records pushReceipt frames; nil: they are refused
	// (unavailable).
	Receipts Receipts
	// OriginPatterns lists the browser origins allowed to connect besides
	// the server's own: host[:port] patterns with path.Match wildcards,
	// checked by websocket.Accept against the Origin header's host (see
	// config.CheckOriginPattern). A request without an Origin header
	// (native apps) is always accepted. Empty allows same-origin browsers
	// only; another origin is refused with 403 before any session exists.
	OriginPatterns []string
	// Presence, if set, is told of every login and session end (webhook
	// events); nil: nobody is.
	Presence Presence
	// Conns caps the connections, in all and per client address, and
	// those not logged in yet (see limit.Conns). Nil: no caps.
	Conns *limit.Conns
	// ClientIP gives a request's client address for the per-address caps
	// (clientip.Resolver.ClientIP). Nil: the socket's peer.
	ClientIP func(*http.Request) netip.Addr
	// Messages limits each user's and each app's sends (limit.Messages).
	// Nil: no limit.
	Messages MessageLimiter
	// MaxSessionsPerUser caps a user's logged-in sessions on this node,
	// counted after the kicks of the login (a login that replaces a
	// session under the multi-login policy always passes). Over it the
	// login fails with too_many_sessions. 0: no cap.
	MaxSessionsPerUser int
	// WebPushKey returns an app's VAPID public key for the login reply
	// (protocol.LoginReply.WebPushKey), "" when it has none. Nil: none.
	WebPushKey func(appID string) string
	// Remote, if set, tells the user's sessions on the other nodes of a
	// cluster: MaxSessionsPerUser counts them. Nil: this node only.
	Remote RemoteSessions
	// Transport is how sessions' sockets are read: TransportEvents (""
	// too) or TransportGoroutine.
	Transport string
	// Clock is the clock of the heartbeat, login and token deadlines and
	// of the ticker that checks them (the socket write deadlines and the
	// close handshake's bound stay on real time). Nil: the real clock.
	Clock clockwork.Clock
	// WeakPushAfter is how long a message with a push config handed to a
	// session may stay unacknowledged before it is pushed to the
	// session's device (weak.go). Zero: never.
	WeakPushAfter time.Duration
}

// Presence is told when sessions log in and end. Its methods must not
// block (the webhook service queues in memory).
type Presence interface {
	LoggedIn(e PresenceEvent)
	// LoggedOut reports the end of a logged-in session, e.Reason saying
	// why (ReasonLogout, ReasonKicked, ...).
	LoggedOut(e PresenceEvent)
}

// PresenceEvent is one login or session end.
type PresenceEvent struct {
	AppID, UserID, Platform, DeviceID, SessionID string
	// Reason is "" for a login.
	Reason string
}

// Session end reasons of PresenceEvent.
const (
	ReasonLogout           = "logout"
	ReasonKicked           = "kicked"
	ReasonHeartbeatTimeout = "heartbeat_timeout"
	ReasonSlow             = "slow"
	ReasonTokenExpired     = "token_expired"
	ReasonServerRestart    = "server_restart"
	ReasonError            = "error"
	// ReasonClosed is a connection closed by the client or the network.
	ReasonClosed = "closed"
)

// endReason names why the session ended, from the close code the server
// gave it (none: the client or the network closed it).
func endReason(code int) string {
	switch code {
	case protocol.CloseLoggedOut:
		return ReasonLogout
	case protocol.CloseKicked:
		return ReasonKicked
	case protocol.CloseHeartbeatTimeout:
		return ReasonHeartbeatTimeout
	case protocol.CloseSlow:
		return ReasonSlow
	case protocol.CloseTokenExpired:
		return ReasonTokenExpired
	case protocol.CloseServerRestart:
		return ReasonServerRestart
	case 0:
		return ReasonClosed
	}
	return ReasonError
}

// MessageLimiter decides whether a user may send one more message now
// (limit.Messages); when not, it says which limit refused and when to
// retry, and counted nothing.
type MessageLimiter interface {
	Allow(appID, userID string) (retryAfter time.Duration, scope limit.Scope, ok bool)
}

// Gateway accepts and runs sessions. Create with New; serve it as an
// http.Handler at /v1/ws; run Run for the heartbeat reaper; Shutdown ends
// every session.
type Gateway struct {
	cfg     Config
	svc     Service
	devices Devices
	claims  *deviceClaims // PushIDs held by the live sessions that bound them
	calls   Calls         // nil: call requests are refused
	hub     *Hub
	log     *slog.Logger
	metrics *metrics

	mu       sync.Mutex
	conns    map[*Session]struct{}
	closing  bool
	wg       sync.WaitGroup
	shutOnce sync.Once

	appCloses closeCount // CloseApp calls, for logins racing one (apps.go)

	poller *poller // TransportEvents' reader of idle connections
}

// New returns a gateway. It starts no goroutine.
func New(svc Service, devices Devices, calls Calls, hub *Hub, cfg Config, log *slog.Logger, reg prometheus.Registerer) (*Gateway, error) {
	if svc == nil || devices == nil || hub == nil || log == nil {
		return nil, errors.New("gateway: new: service, devices, hub and logger are required")
	}
	if cfg.HeartbeatInterval <= 0 || cfg.OfflineAfter <= 0 || cfg.LoginTimeout <= 0 || cfg.WriteTimeout <= 0 || cfg.SendQueue <= 0 {
		return nil, errors.New("gateway: new: durations and queue size must be positive")
	}
	switch cfg.Transport {
	case "":
		cfg.Transport = TransportEvents
	case TransportEvents, TransportGoroutine:
	default:
		return nil, fmt.Errorf("gateway: new: unknown transport %q", cfg.Transport)
	}
	switch cfg.MultiLogin {
	case PolicyPlatform, PolicySingle, PolicyMulti:
	default:
		return nil, fmt.Errorf("gateway: new: unknown multi-login policy %q", cfg.MultiLogin)
	}
	if cfg.Clock == nil {
		cfg.Clock = clockwork.NewRealClock()
	}
	if cfg.Conns == nil {
		cfg.Conns = limit.NewConns(limit.ConnCaps{})
	}
	m, err := newMetrics(reg, hub, cfg.Conns)
	if err != nil {
		return nil, err
	}
	return &Gateway{cfg: cfg, svc: svc, devices: devices, claims: newDeviceClaims(), calls: calls, hub: hub, log: log, metrics: m,
		conns: map[*Session]struct{}{}, poller: newPoller()}, nil
}

// ServeHTTP upgrades the request to a WebSocket and runs the session until
// it ends. A connection over a cap is refused before the upgrade (see
// admit). With TransportEvents (a plain connection on Linux) it returns
// once the session is set up: the poller reads the connection from then on.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	lim, ok := g.admit(w, r)
	if !ok {
		return
	}
	if g.cfg.Transport == TransportEvents && eventsAvailable && r.TLS == nil {
		g.serveEvents(w, r, lim)
		return
	}
	cw := &corkingWriter{ResponseWriter: w}
	conn, err := websocket.Accept(cw, r, &websocket.AcceptOptions{
		OriginPatterns:  g.cfg.OriginPatterns,
		CompressionMode: websocket.CompressionDisabled,
	})
	if err != nil {
		lim.Close()
		// Accept answered already (403 for an origin not allowed, 400
		// for a bad handshake). Debug only: anyone can make these.
		g.log.Debug("websocket accept failed", "remote", r.RemoteAddr, "origin", r.Header.Get("Origin"), "err", err)
		return
	}
	conn.SetReadLimit(protocol.MaxFrameBytes)
	s := g.newSession(coderConn{c: conn, cork: cw.conn}, cw.conn, lim)
	if !g.register(s) {
		return
	}
	s.readLoop(conn)
	s.finish()
}

// serveEvents answers the handshake (checkHandshake's checks, then
// gobwas/ws's upgrader on the hijacked connection) and hands the connection
// to the poller.
func (g *Gateway) serveEvents(w http.ResponseWriter, r *http.Request, lim *limit.Conn) {
	if code, err := checkHandshake(w, r, g.cfg.OriginPatterns); err != nil {
		lim.Close()
		http.Error(w, err.Error(), code)
		g.log.Debug("websocket accept failed", "remote", r.RemoteAddr, "origin", r.Header.Get("Origin"), "err", err)
		return
	}
	// checkHandshake refused what it refuses with the statuses and messages
	// of the other transport. The upgrader checks the same RFC 6455 rules
	// again (stricter in one: an Upgrade header listing more than
	// "websocket" gets its 400), hijacks, and answers the 101 with the
	// accept key, within the write timeout.
	nc, brw, _, err := ws.HTTPUpgrader{Timeout: g.cfg.WriteTimeout}.Upgrade(r, w)
	if err != nil {
		lim.Close()
		if nc != nil {
			_ = nc.Close()
		}
		g.log.Debug("websocket upgrade failed", "remote", r.RemoteAddr, "err", err)
		return
	}
	var buffered []byte
	if n := brw.Reader.Buffered(); n > 0 {
		buffered, _ = brw.Reader.Peek(n)
	}
	// net/http's 4 KiB reader and writer (brw) are not kept: the session
	// holds no buffer while idle.
	cork := &corkConn{Conn: nc}
	ec, err := newEvConn(g.poller, nc, cork, buffered)
	if err != nil {
		lim.Close()
		_ = nc.Close()
		g.log.Error("websocket: taking over the connection", "err", err)
		return
	}
	s := g.newSession(ec, cork, lim)
	ec.s = s
	if !g.register(s) {
		return
	}
	if err := ec.start(); err != nil {
		// Not registered: no reader will close it.
		g.log.Error("websocket: watching the connection", "err", err)
		_ = nc.Close()
		s.finish()
	}
}

func (g *Gateway) newSession(conn wsConn, cork *corkConn, lim *limit.Conn) *Session {
	ctx, cancel := context.WithCancel(context.Background())
	s := &Session{g: g, conn: conn, cork: cork, id: newID(), ctx: ctx, cancel: cancel, q: newQueue(g.cfg.SendQueue, g.metrics.shed), start: g.cfg.Clock.Now(),
		inflight: make(chan struct{}, maxInflight), lim: lim, sent: map[string]int64{}}
	s.q.start = s.startWriter
	s.seen()
	return s
}

// register adds s to the gateway's sessions, or closes it when the gateway
// is shutting down and reports false.
func (g *Gateway) register(s *Session) bool {
	g.mu.Lock()
	if g.closing {
		g.mu.Unlock()
		s.cancel()
		_ = s.conn.Close(protocol.CloseServerRestart, "server shutting down")
		s.lim.Close()
		return false
	}
	g.conns[s] = struct{}{}
	g.wg.Add(1)
	g.mu.Unlock()
	g.metrics.connections.Inc()
	return true
}

// finish ends a registered session once its reading side ended: it stops
// the writer, waits for it, and reports the end. Called once, by the
// transport's reader.
func (s *Session) finish() {
	s.cancel()
	_ = s.conn.CloseNow()
	s.q.close()
	s.writers.Wait()
	g := s.g
	// The device's claim goes first: a session is live for the rebind
	// check as long as it is online.
	g.claims.release(s)
	g.hub.unregister(s)
	s.ended()
	g.mu.Lock()
	delete(g.conns, s)
	g.mu.Unlock()
	g.metrics.connections.Dec()
	s.lim.Close()
	g.wg.Done()
}

// capRetryAfter is the Retry-After of a refusal by a cap on all
// connections: those open leave at the pace of their users.
const capRetryAfter = 30 * time.Second

// admit counts the request's connection against the caps, or refuses it
// with 503, a Retry-After and the error of the cap it would exceed, and
// reports false. A refusal by an unauthenticated cap says to retry after
// the login timeout, by which every connection counted then has logged
// in or been closed.
func (g *Gateway) admit(w http.ResponseWriter, r *http.Request) (*limit.Conn, bool) {
	ip := netip.Addr{}
	if g.cfg.ClientIP != nil {
		ip = g.cfg.ClientIP(r)
	} else if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		ip = ap.Addr().Unmap()
	}
	lim, err := g.cfg.Conns.Open(ip)
	if err == nil {
		return lim, true
	}
	var re *limit.RefusedError
	if !errors.As(err, &re) {
		g.log.Error("admitting a connection", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return nil, false
	}
	g.metrics.refused.WithLabelValues(re.Reason.String()).Inc()
	code, after := protocol.CodeTooManyConnections, capRetryAfter
	switch re.Reason {
	case limit.TooManyConnectionsFromIP:
		code = protocol.CodeTooManyConnectionsFromIP
	case limit.TooManyUnauthenticated:
		code, after = protocol.CodeTooManyUnauthenticated, g.cfg.LoginTimeout
	case limit.TooManyUnauthenticatedFromIP:
		code, after = protocol.CodeTooManyUnauthenticatedFromIP, g.cfg.LoginTimeout
	}
	g.log.Debug("connection refused", "remote", r.RemoteAddr, "client", ip, "reason", re.Reason)
	secs := max(1, int64((after+time.Second-1)/time.Second))
	e := protocol.Errorf(code, "").WithRetryAfter(time.Duration(secs) * time.Second)
	b, _ := json.Marshal(e)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	// The refused client's descriptor is freed at once, not kept for
	// another request on the same connection.
	w.Header().Set("Connection", "close")
	w.WriteHeader(code.HTTPStatus())
	_, _ = w.Write(append(b, '\n'))
	return nil, false
}

func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Run checks heartbeats, login deadlines and token expiry once a second
// until ctx is cancelled.
func (g *Gateway) Run(ctx context.Context) error {
	t := g.cfg.Clock.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.Chan():
			// The clock's time, not the tick's: a fake clock advanced by
			// several periods delivers one tick, of the first.
			g.reap(g.cfg.Clock.Now())
		}
	}
}

func (g *Gateway) reap(now time.Time) {
	g.mu.Lock()
	sessions := make([]*Session, 0, len(g.conns))
	for s := range g.conns {
		sessions = append(sessions, s)
	}
	g.mu.Unlock()
	for _, s := range sessions {
		silent := now.Sub(time.Unix(0, s.lastSeen.Load()))
		switch {
		case !s.loggedIn.Load() && now.Sub(s.start) > g.cfg.LoginTimeout:
			s.abort(protocol.CloseLoginTimeout, "login timeout")
		case silent > g.cfg.OfflineAfter:
			g.metrics.heartbeatTimeouts.Inc()
			s.abort(protocol.CloseHeartbeatTimeout, "heartbeat timeout")
		case silent > g.cfg.HeartbeatInterval && s.pinging.CompareAndSwap(false, true):
			// The client missed a beat: the server probes with a WebSocket
			// ping, whose pong proves the connection alive.
			go func() {
				defer s.pinging.Store(false)
				ctx, cancel := context.WithTimeout(s.ctx, g.cfg.HeartbeatInterval)
				defer cancel()
				if s.conn.Ping(ctx) == nil {
					s.seen()
				}
			}()
		}
		if s.loggedIn.Load() {
			g.checkToken(s, now)
			g.checkWeak(s, now)
		}
	}
}

func (g *Gateway) checkToken(s *Session, now time.Time) {
	left := time.UnixMilli(s.tokenExp.Load()).Sub(now)
	switch {
	case left <= -g.cfg.TokenLeeway:
		s.closeWith(protocol.CloseTokenExpired, "token expired")
	case left <= g.cfg.TokenWarnBefore && s.warned.CompareAndSwap(false, true):
		s.event(protocol.EventTokenWillExpir, protocol.TokenWillExpire{SecondsLeft: max(0, int64(left.Seconds()+0.5))})
	}
}

// Shutdown refuses new connections and closes every session with the
// "restart" code so that clients reconnect (to another node, or to this one
// after it restarted), waiting for them until ctx ends. Idempotent.
func (g *Gateway) Shutdown(ctx context.Context) error {
	g.shutOnce.Do(func() {
		g.mu.Lock()
		g.closing = true
		sessions := make([]*Session, 0, len(g.conns))
		for s := range g.conns {
			sessions = append(sessions, s)
		}
		g.mu.Unlock()
		for _, s := range sessions {
			s.abort(protocol.CloseServerRestart, "server restarting")
		}
	})
	done := make(chan struct{})
	go func() { g.wg.Wait(); close(done) }()
	select {
	case <-done:
		g.poller.stop()
		return nil
	case <-ctx.Done():
		g.mu.Lock()
		for s := range g.conns {
			_ = s.conn.CloseNow()
		}
		g.mu.Unlock()
		<-done
		g.poller.stop()
		return fmt.Errorf("gateway: shutdown: %w", ctx.Err())
	}
}
