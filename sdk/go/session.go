package herald

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/heraldim/herald/internal/protocol"
)

const websocketNormal = websocket.StatusNormalClosure

// maxReadBytes bounds one frame from the server. A history or conversation
// list page holds up to MaxPageCount messages of up to MaxFrameBytes each
// (bodies travel in base64), plus their metadata.
const maxReadBytes = protocol.MaxPageCount * (protocol.MaxFrameBytes + 4096)

// outQueue is the length of a session's write queue. Requests wait for room;
// pings and acknowledgements are skipped when it is full (the writer is busy,
// so the connection is alive, and acks are sent on the next flush).
const outQueue = 64

// session is one WebSocket connection. Its goroutines: a reader, which
// dispatches replies to waiting requests and events to the Client; a
// writer, which alone writes data frames; after login, a heartbeat loop,
// which pings, watches for silence and sends acknowledgements. ctx lives as
// long as the connection: coder/websocket closes a connection whose
// Read/Write context ends, so no caller's context ever reaches it.
type session struct {
	c       *Client
	ws      *websocket.Conn
	ctx     context.Context
	cancel  context.CancelFunc
	out     chan []byte
	done    chan struct{} // closed when the reader stopped: the connection is gone
	wg      sync.WaitGroup
	started time.Time

	heartbeat    time.Duration // set on the reader goroutine by the login reply
	offlineAfter time.Duration
	lastHeard    atomic.Int64 // Unix nanoseconds of the last frame received
	paused       atomic.Bool  // the reader waits for the app's handlers (waitBacklog)

	pmu     sync.Mutex
	pending map[string]*call // nil once the reader stopped

	emu sync.Mutex
	end sessionEnd
}

// call is a request waiting for its reply.
type call struct {
	ch chan protocol.Frame
	// onReply, if set, runs on the reader goroutine before the next frame is
	// read: bookkeeping that must be ordered with the frames that follow.
	onReply func(protocol.Frame)
}

// sessionEnd says how a connection ended.
type sessionEnd struct {
	code      int // WebSocket close code from the server; -1 if none
	reason    string
	kicked    *protocol.Kicked
	heartbeat bool // closed here: nothing heard within the offline window
	err       error
}

func (e sessionEnd) reconnects() bool {
	if e.kicked != nil {
		return false
	}
	return e.code == -1 || protocol.CloseReconnects(e.code)
}

// event tells which ConnectionEvent ends a login that does not reconnect.
func (e sessionEnd) event() (ConnectionEvent, map[string]any) {
	switch {
	case e.kicked != nil || e.code == protocol.CloseKicked || e.code == protocol.CloseKickedByServer:
		ext := map[string]any{"closeCode": e.code}
		if e.kicked != nil {
			ext["reason"], ext["message"] = e.kicked.Reason, e.kicked.Message
		}
		return ConnectionEventKickedOut, ext
	case e.code == protocol.CloseTokenExpired, e.code == protocol.CloseTokenRevoked:
		// A revoked token (the app's server revoked the user's tokens)
		// asks for the same as an expired one: a new token.
		return ConnectionEventTokenExpired, e.extended()
	}
	return ConnectionEventSuccess, e.extended()
}

func (e sessionEnd) extended() map[string]any {
	ext := map[string]any{"closeCode": e.code}
	if e.reason != "" {
		ext["reason"] = e.reason
	}
	if e.heartbeat {
		ext["reason"] = "heartbeat timeout"
	}
	return ext
}

// connect dials the server and logs in. On success the session is the
// Client's current one and the state is Connected.
func (c *Client) connect(ctx context.Context) (*session, error) {
	c.mu.Lock()
	userID, tok := c.userID, c.token
	c.mu.Unlock()

	ws, resp, err := websocket.Dial(ctx, c.url, &websocket.DialOptions{HTTPClient: c.cfg.HTTPClient})
	if err != nil {
		if e := refusedHandshake(resp); e != nil {
			// A connection cap (HTTP 503, Retry-After): the *Error carries
			// the server's hint, which the reconnect loop obeys.
			return nil, fmt.Errorf("dial %s: %w", c.url, e)
		}
		return nil, fmt.Errorf("dial %s: %w", c.url, err)
	}
	ws.SetReadLimit(maxReadBytes)
	sctx, cancel := context.WithCancel(context.Background())
	s := &session{
		c:       c,
		ws:      ws,
		ctx:     sctx,
		cancel:  cancel,
		out:     make(chan []byte, outQueue),
		done:    make(chan struct{}),
		pending: make(map[string]*call),
		started: time.Now(),
		end:     sessionEnd{code: -1},
	}
	s.lastHeard.Store(time.Now().UnixNano())
	s.wg.Add(2)
	go s.readLoop()
	go s.writeLoop()

	req := protocol.LoginRequest{
		AppID:      c.cfg.AppID,
		UserID:     userID,
		Token:      tok,
		Platform:   c.cfg.Platform,
		DeviceID:   c.cfg.DeviceID,
		SDKVersion: "herald-go/" + Version,
		SkipSync:   c.cfg.SkipOfflineSync,
	}
	if p := c.push.Load(); p != nil {
		req.Push = p.wire()
	}
	_, err = s.request(ctx, protocol.TypeLogin, req, func(f protocol.Frame) {
		if f.Error != nil {
			return
		}
		var r protocol.LoginReply
		_ = json.Unmarshal(f.Data, &r)
		if r.PushID != "" {
			c.pushID.Store(&r.PushID)
		}
		c.webPushKey.Store(&r.WebPushKey)
		s.heartbeat = time.Duration(r.HeartbeatInterval) * time.Millisecond
		if s.heartbeat <= 0 {
			s.heartbeat = defaultHeartbeat
		}
		s.offlineAfter = time.Duration(r.OfflineAfter) * time.Millisecond
		if s.offlineAfter <= s.heartbeat {
			s.offlineAfter = 2*s.heartbeat + 5*time.Second
		}
		// Published here, on the reader, so that the Connected event
		// precedes the offline messages that follow the reply.
		c.loggedIn(s)
	})
	if err != nil {
		s.abort() // the reader has stopped: no reply hook runs after this
		c.mu.Lock()
		if c.sess == s {
			c.sess = nil // the reply came, but too late for the caller
		}
		c.mu.Unlock()
		return nil, err
	}
	s.flushAcks(false) // positions handled before this connection
	s.wg.Add(1)
	go s.heartbeatLoop()
	return s, nil
}

// readLoop reads frames until the connection ends.
func (s *session) readLoop() {
	defer s.wg.Done()
	var err error
	for {
		var b []byte
		_, b, err = s.ws.Read(s.ctx)
		if err != nil {
			break
		}
		s.lastHeard.Store(time.Now().UnixNano())
		var f protocol.Frame
		if err := json.Unmarshal(b, &f); err != nil {
			s.c.log.Warn("herald: undecodable frame from server", "err", err)
			continue
		}
		s.handle(f)
		if s.c.backlogged() {
			s.waitBacklog()
		}
	}
	s.emu.Lock()
	s.end.err = err
	if ce := (websocket.CloseError{}); errors.As(err, &ce) {
		s.end.code, s.end.reason = int(ce.Code), ce.Reason
	}
	s.emu.Unlock()
	s.pmu.Lock()
	s.pending = nil
	s.pmu.Unlock()
	s.cancel()
	close(s.done)
}

func (s *session) handle(f protocol.Frame) {
	c := s.c
	switch f.Type {
	case protocol.TypeReply:
		s.pmu.Lock()
		cl := s.pending[f.ID]
		delete(s.pending, f.ID)
		s.pmu.Unlock()
		if cl == nil {
			// A ping's reply, one whose caller gave up, or an error about a
			// frame without an id (an ack).
			if f.Error != nil {
				c.log.Warn("herald: server error", "id", f.ID, "code", f.Error.Code, "message", f.Error.Message)
			}
			return
		}
		if cl.onReply != nil {
			cl.onReply(f)
		}
		cl.ch <- f
	case protocol.EventMessage:
		var m protocol.Message
		if err := json.Unmarshal(f.Data, &m); err != nil {
			c.log.Warn("herald: undecodable message event", "err", err)
			return
		}
		c.received(m)
	case protocol.EventSyncDone:
		var d protocol.SyncDone
		_ = json.Unmarshal(f.Data, &d)
		c.enqueue(&event{kind: evSyncDone, count: d.Count})
	case protocol.EventTokenWillExpir:
		var d protocol.TokenWillExpire
		_ = json.Unmarshal(f.Data, &d)
		c.enqueue(&event{kind: evTokenWillExpire, count: int(d.SecondsLeft)})
	case protocol.EventKicked:
		var d protocol.Kicked
		_ = json.Unmarshal(f.Data, &d)
		s.emu.Lock()
		s.end.kicked = &d
		s.emu.Unlock()
	default:
		if c.groupEvent(f) || c.callEvent(f) || c.revokeEvent(f) || c.pushRuleEvent(f) {
			return
		}
		c.log.Debug("herald: unknown frame type ignored", "type", f.Type)
	}
}

// waitBacklog stops reading while the app's handlers are far behind, so
// that a slow app does not buy memory without bound: the server's queue for
// this session fills up instead, and the server closes the session as slow
// (4003) if it does not drain in time; the SDK then reconnects and the
// login sync delivers the rest. The heartbeat watchdog holds off meanwhile:
// the silence is this side's doing.
func (s *session) waitBacklog() {
	s.paused.Store(true)
	defer func() {
		s.lastHeard.Store(time.Now().UnixNano())
		s.paused.Store(false)
	}()
	s.c.log.Warn("herald: event handlers are behind; reading paused", "queued", s.c.maxQueued)
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for s.c.queuedOver(s.c.maxQueued / 2) {
		select {
		case <-t.C:
		case <-s.ctx.Done():
			return
		}
	}
}

// writeLoop writes queued frames in order.
func (s *session) writeLoop() {
	defer s.wg.Done()
	for {
		select {
		case b := <-s.out:
			if err := s.ws.Write(s.ctx, websocket.MessageText, b); err != nil {
				s.c.log.Debug("herald: write failed", "err", err)
				s.ws.CloseNow()
				return
			}
		case <-s.ctx.Done():
			return
		}
	}
}

// heartbeatLoop pings every heartbeat interval, closes the connection when
// nothing was heard for offlineAfter, and sends acknowledgements.
func (s *session) heartbeatLoop() {
	defer s.wg.Done()
	ping := time.NewTicker(s.heartbeat)
	defer ping.Stop()
	watchdog := time.NewTimer(s.offlineAfter)
	defer watchdog.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-ping.C:
			s.trySend(frameBytes(protocol.TypePing, s.c.nextID(), nil))
		case <-watchdog.C:
			idle := time.Since(time.Unix(0, s.lastHeard.Load()))
			if idle < s.offlineAfter || s.paused.Load() {
				if s.paused.Load() {
					idle = 0
				}
				watchdog.Reset(s.offlineAfter - idle)
				continue
			}
			s.c.log.Info("herald: nothing heard from the server, reconnecting", "idle", idle)
			s.emu.Lock()
			s.end.heartbeat = true
			s.emu.Unlock()
			s.ws.CloseNow()
			return
		case <-s.c.ackKick:
			s.flushAcks(false)
		}
	}
}

// request sends a request and waits for its reply. A reply with an error
// returns it as *Error, along with the frame.
func (s *session) request(ctx context.Context, typ string, data any, onReply func(protocol.Frame)) (protocol.Frame, error) {
	ctx, cancel := context.WithTimeout(ctx, s.c.cfg.RequestTimeout)
	defer cancel()
	var raw json.RawMessage
	if data != nil {
		b, err := json.Marshal(data)
		if err != nil {
			return protocol.Frame{}, err
		}
		raw = b
	}
	id := s.c.nextID()
	cl := &call{ch: make(chan protocol.Frame, 1), onReply: onReply}
	s.pmu.Lock()
	if s.pending == nil {
		s.pmu.Unlock()
		return protocol.Frame{}, ErrDisconnected
	}
	s.pending[id] = cl
	s.pmu.Unlock()
	if onReply == nil {
		// A request with a reply hook stays pending when its caller gives
		// up, so that the hook still sees a late reply (a send's seq must be
		// recorded). The reply or the end of the connection removes it.
		defer func() {
			s.pmu.Lock()
			if s.pending != nil {
				delete(s.pending, id)
			}
			s.pmu.Unlock()
		}()
	}

	if err := s.send(ctx, frameBytes(typ, id, raw)); err != nil {
		return protocol.Frame{}, err
	}
	var f protocol.Frame
	select {
	case f = <-cl.ch:
	case <-s.done:
		select {
		case f = <-cl.ch: // the reply came just before the connection ended
		default:
			return protocol.Frame{}, ErrDisconnected
		}
	case <-ctx.Done():
		return protocol.Frame{}, ctx.Err()
	}
	if f.Error != nil {
		return f, errorFromWire(f.Error)
	}
	return f, nil
}

// send queues a frame, waiting for room.
func (s *session) send(ctx context.Context, b []byte) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	select {
	case s.out <- b:
		return nil
	case <-s.ctx.Done():
		return ErrDisconnected
	case <-ctx.Done():
		return ctx.Err()
	}
}

// trySend queues a frame if there is room.
func (s *session) trySend(b []byte) bool {
	if s.ctx.Err() != nil {
		return false
	}
	select {
	case s.out <- b:
		return true
	default:
		return false
	}
}

// flushAcks sends the acknowledgements due. With wait it waits for room in
// the write queue (bounded by the request timeout); otherwise it leaves what
// does not fit for the next flush.
func (s *session) flushAcks(wait bool) bool {
	acks, count := s.c.acksDue()
	for len(acks) > 0 {
		n := min(len(acks), protocol.MaxAcksPerFrame)
		b := frameBytes(protocol.TypeAck, "", mustJSON(protocol.AckRequest{Acks: acks[:n]}))
		var ok bool
		if wait {
			ctx, cancel := context.WithTimeout(s.ctx, s.c.cfg.RequestTimeout)
			ok = s.send(ctx, b) == nil
			cancel()
		} else {
			ok = s.trySend(b)
		}
		if !ok {
			s.c.armAcks()
			return false
		}
		s.c.acksSent(acks[:n], count)
		count = 0
		acks = acks[n:]
	}
	return true
}

// logout sends pending acknowledgements and the logout request, then closes
// the connection. A connection already gone is no error: there is nothing
// left to log out of, and the server ends the session by itself.
func (s *session) logout(ctx context.Context) error {
	s.flushAcks(true)
	_, err := s.request(ctx, protocol.TypeLogout, nil, nil)
	s.close(websocketNormal, "logout")
	if errors.Is(err, ErrDisconnected) {
		return nil
	}
	return err
}

// close closes the connection, with a close handshake while it is alive,
// and waits for the session's goroutines.
func (s *session) close(code websocket.StatusCode, reason string) {
	select {
	case <-s.done:
		_ = s.ws.CloseNow()
	default:
		_ = s.ws.Close(code, reason)
	}
	s.cancel()
	s.wg.Wait()
}

// abort closes the connection at once and waits for the session's
// goroutines.
func (s *session) abort() {
	_ = s.ws.CloseNow()
	s.cancel()
	s.wg.Wait()
}

// wait waits for the session's goroutines, once the connection is gone.
func (s *session) wait() { s.wg.Wait() }

func (s *session) ending() sessionEnd {
	s.emu.Lock()
	defer s.emu.Unlock()
	return s.end
}

func frameBytes(typ, id string, data json.RawMessage) []byte {
	return mustJSON(protocol.Frame{Type: typ, ID: id, Data: data})
}

// mustJSON marshals values whose encoding cannot fail (plain structs of
// strings, numbers and byte slices).
func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("herald: encoding %T: %v", v, err))
	}
	return b
}
