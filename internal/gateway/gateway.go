// Package gateway serves Herald's WebSocket protocol: it accepts
// connections, logs sessions in, keeps them alive with heartbeats, applies
// the kick policy, and writes to each session through a bounded queue that
// sheds low priorities and closes clients that cannot keep up.
package gateway

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/heraldim/herald/internal/im"
	"github.com/heraldim/herald/internal/protocol"
	"github.com/heraldim/herald/internal/push"
	"github.com/heraldim/herald/internal/token"
)

// Service is what the gateway needs from the messaging core (im.Service).
type Service interface {
	Authenticate(ctx context.Context, appID, userID, tok string) (token.Claims, error)
	Send(ctx context.Context, from im.Sender, req *protocol.SendRequest, origin any, done func(im.SendResult, error)) error
	Ack(ctx context.Context, appID, userID, deviceID string, acks []protocol.AckPosition) error
	Pending(ctx context.Context, appID, userID, deviceID string) ([]im.Pending, error)
	MessagesAfter(ctx context.Context, appID, convID string, afterSeq int64, limit int) ([]im.Message, error)
	History(ctx context.Context, appID, userID string, req protocol.HistoryRequest) (protocol.HistoryReply, error)
	Conversations(ctx context.Context, appID, userID string, req protocol.ConversationListRequest) (protocol.ConversationListReply, error)
	MarkRead(ctx context.Context, appID, userID string, req protocol.MarkReadRequest) (protocol.MarkReadReply, error)
	ConvFor(ctx context.Context, appID, userID, conversationID string, convType int) (string, int64, error)

	CreateGroup(ctx context.Context, appID, userID string, req protocol.GroupCreateRequest) (protocol.GroupReply, error)
	JoinGroup(ctx context.Context, appID, userID string, req protocol.GroupJoinRequest) (protocol.GroupReply, error)
	LeaveGroup(ctx context.Context, appID, userID string, req protocol.GroupRequest) (struct{}, error)
	InviteToGroup(ctx context.Context, appID, userID string, req protocol.GroupUsersRequest) (protocol.GroupUsersReply, error)
	KickFromGroup(ctx context.Context, appID, userID string, req protocol.GroupUsersRequest) (protocol.GroupUsersReply, error)
	DismissGroup(ctx context.Context, appID, userID string, req protocol.GroupRequest) (struct{}, error)
	TransferGroup(ctx context.Context, appID, userID string, req protocol.GroupTransferRequest) (struct{}, error)
	SetGroupRole(ctx context.Context, appID, userID string, req protocol.GroupSetRoleRequest) (struct{}, error)
	GroupInfo(ctx context.Context, appID, userID string, req protocol.GroupRequest) (protocol.GroupReply, error)
	GroupMembers(ctx context.Context, appID, userID string, req protocol.GroupMembersRequest) (protocol.GroupMembersReply, error)
	GroupList(ctx context.Context, appID, userID string, req protocol.GroupListRequest) (protocol.GroupListReply, error)
	SetGroupJoinMode(ctx context.Context, appID, userID string, req protocol.GroupSetJoinModeRequest) (struct{}, error)
	AcceptGroupApplication(ctx context.Context, appID, userID string, req protocol.GroupApplicationRequest) (protocol.GroupApplication, error)
	RejectGroupApplication(ctx context.Context, appID, userID string, req protocol.GroupApplicationRequest) (protocol.GroupApplication, error)
	GroupApplicationList(ctx context.Context, appID, userID string, req protocol.GroupApplicationListRequest) (protocol.GroupApplicationListReply, error)
	LoggedIn(ctx context.Context, appID, userID string) error
	// SessionEnded reports a logged-in session that ended without a
	// logout, for the pushes it may owe; it must not block.
	SessionEnded(e im.SessionEnd)
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
	// OriginPatterns lists the browser origins allowed to connect besides
	// the server's own: host[:port] patterns with path.Match wildcards,
	// checked by websocket.Accept against the Origin header's host (see
	// config.CheckOriginPattern). A request without an Origin header
	// (native apps) is always accepted. Empty allows same-origin browsers
	// only; another origin is refused with 403 before any session exists.
	OriginPatterns []string
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
}

// New returns a gateway. It starts no goroutine.
func New(svc Service, devices Devices, calls Calls, hub *Hub, cfg Config, log *slog.Logger, reg prometheus.Registerer) (*Gateway, error) {
	if svc == nil || devices == nil || hub == nil || log == nil {
		return nil, errors.New("gateway: new: service, devices, hub and logger are required")
	}
	if cfg.HeartbeatInterval <= 0 || cfg.OfflineAfter <= 0 || cfg.LoginTimeout <= 0 || cfg.WriteTimeout <= 0 || cfg.SendQueue <= 0 {
		return nil, errors.New("gateway: new: durations and queue size must be positive")
	}
	switch cfg.MultiLogin {
	case PolicyPlatform, PolicySingle, PolicyMulti:
	default:
		return nil, fmt.Errorf("gateway: new: unknown multi-login policy %q", cfg.MultiLogin)
	}
	m, err := newMetrics(reg, hub)
	if err != nil {
		return nil, err
	}
	return &Gateway{cfg: cfg, svc: svc, devices: devices, claims: newDeviceClaims(), calls: calls, hub: hub, log: log, metrics: m,
		conns: map[*Session]struct{}{}}, nil
}

// ServeHTTP upgrades the request to a WebSocket and runs the session until
// it ends.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	cw := &corkingWriter{ResponseWriter: w}
	conn, err := websocket.Accept(cw, r, &websocket.AcceptOptions{
		OriginPatterns:  g.cfg.OriginPatterns,
		CompressionMode: websocket.CompressionDisabled,
	})
	if err != nil {
		// Accept answered already (403 for an origin not allowed, 400
		// for a bad handshake). Debug only: anyone can make these.
		g.log.Debug("websocket accept failed", "remote", r.RemoteAddr, "origin", r.Header.Get("Origin"), "err", err)
		return
	}
	conn.SetReadLimit(protocol.MaxFrameBytes)
	ctx, cancel := context.WithCancel(context.Background())
	s := &Session{g: g, conn: conn, cork: cw.conn, id: newID(), ctx: ctx, cancel: cancel, q: newQueue(g.cfg.SendQueue, g.metrics.shed), start: time.Now(),
		inflight: make(chan struct{}, maxInflight)}
	s.seen()

	g.mu.Lock()
	if g.closing {
		g.mu.Unlock()
		cancel()
		_ = conn.Close(protocol.CloseServerRestart, "server shutting down")
		return
	}
	g.conns[s] = struct{}{}
	g.wg.Add(1)
	g.mu.Unlock()
	g.metrics.connections.Inc()

	defer func() {
		// The device's claim goes first: a session is live for the rebind
		// check as long as it is online.
		g.claims.release(s)
		g.hub.unregister(s)
		s.ended()
		g.mu.Lock()
		delete(g.conns, s)
		g.mu.Unlock()
		g.metrics.connections.Dec()
		g.wg.Done()
	}()

	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		s.writeLoop()
	}()
	s.readLoop()
	s.cancel()
	_ = conn.CloseNow()
	<-writerDone
}

func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Run checks heartbeats, login deadlines and token expiry once a second
// until ctx is cancelled.
func (g *Gateway) Run(ctx context.Context) error {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case now := <-t.C:
			g.reap(now)
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
		return nil
	case <-ctx.Done():
		g.mu.Lock()
		for s := range g.conns {
			_ = s.conn.CloseNow()
		}
		g.mu.Unlock()
		<-done
		return fmt.Errorf("gateway: shutdown: %w", ctx.Err())
	}
}
