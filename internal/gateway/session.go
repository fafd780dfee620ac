package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heraldim/herald/internal/im"
	"github.com/heraldim/herald/internal/limit"
	"github.com/heraldim/herald/internal/protocol"
)

// syncPage is how many stored messages one store read fetches while a
// session catches up.
const syncPage = 500

// Session is one WebSocket connection. Its reader (a goroutine per session
// with TransportGoroutine, one per burst of input with TransportEvents)
// handles requests; its writer goroutine, started when something is queued
// and ending when the queue is empty, owns everything written, so that per conversation the
// client sees messages in sequence order without gaps: a message whose
// sequence is ahead of what the session delivered makes the writer fetch the
// missing ones from the store first, and one already delivered is dropped.
type Session struct {
	g    *Gateway
	conn wsConn
	cork *corkConn
	// writers counts the writer goroutine (0 or 1) for the session's end.
	writers sync.WaitGroup
	id      string
	ctx     context.Context
	cancel  context.CancelFunc
	q       *queue
	start   time.Time
	// inflight holds a token per send waiting for its commit.
	inflight chan struct{}

	// Set once by login, before the session is registered; read-only after.
	appID, userID, deviceID, platform string
	loggedIn                          atomic.Bool
	// pushID is the PushID of the device the session registered (at login
	// or by registerPush; "" for none), unbound at logout. Owned by the
	// reader goroutine.
	pushID string
	// sharedPushID is pushID for the other goroutines (presence, the
	// weak-network check): set with it (setPushID).
	sharedPushID atomic.Pointer[string]
	// weak tracks what the session leaves unacknowledged (weak.go).
	weak weakState

	endCode   atomic.Int32 // the first close code the server gave; 0: none
	lastSeen  atomic.Int64 // unix nanoseconds of the last frame or pong
	tokenExp  atomic.Int64 // unix milliseconds
	warned    atomic.Bool
	pinging   atomic.Bool
	closeOnce sync.Once

	// tokenIat is the issued-at (unix milliseconds) of the token the
	// session logged in or last renewed with: revoke-tokens closes the
	// sessions whose token it refuses (kick.go).
	tokenIat atomic.Int64
	// since is when the session logged in; set with the identity.
	since time.Time

	// loggedOut is set by a logout, whose session owes no push. Owned by
	// the reader goroutine.
	loggedOut bool
	// acked holds, per conversation, the highest position the client
	// acknowledged on this session. Owned by the reader goroutine.
	acked map[string]int64

	// Owned by the writer goroutine (one at a time).
	sent map[string]int64 // conversation -> last seq delivered
	// wbuf is reused to encode send replies and deliveries (encode.go).
	wbuf []byte
	// handed tracks, per conversation, the messages with a push config from
	// others that the session was handed (written, or taken to write):
	// what its end may owe pushes for (see im.SessionEnd).
	handed map[string]span

	// lim is the connection's place in the connection caps' counts.
	lim *limit.Conn
}

// span is a range of seqs (from, to].
type span struct{ from, to int64 }

// unacked is a "to" that no acknowledgement reaches: messages not written
// whose last seq is not known.
const unacked = 1<<63 - 1

// owesPush reports whether m, handed to the session, is one its end may
// owe a push for: a stored message with a push config from someone else.
func (s *Session) owesPush(m *im.Message) bool {
	return m.PushConfig != nil && m.Seq > 0 && m.Sender != s.userID
}

// hand records m's conversation in handed, up to to.
func (s *Session) hand(conv string, before, to int64) {
	if s.handed == nil {
		s.handed = map[string]span{}
	}
	h, ok := s.handed[conv]
	if !ok || before < h.from {
		h.from = before
	}
	h.to = max(h.to, to)
	s.handed[conv] = h
}

// ended tells the services that a logged-in session ended without a
// logout: the messaging service with the conversations in which it may
// owe pushes (those where it was handed such messages beyond what the
// client acknowledged here; it checks the device's positions and the
// user's other sessions, im.Service.SessionEnded), the call service for
// the invitations it may owe rings (call.Service.SessionEnded). It is the
// one place that reports session ends. Called once the reader and the
// writer ended and the session left the hub.
func (s *Session) ended() {
	if s.loggedIn.Load() && s.g.cfg.Presence != nil {
		reason := endReason(int(s.endCode.Load()))
		if s.loggedOut {
			reason = ReasonLogout
		}
		s.g.cfg.Presence.LoggedOut(PresenceEvent{AppID: s.appID, UserID: s.userID, Platform: s.platform, DeviceID: s.deviceID,
			SessionID: s.id, Reason: reason})
	}
	if !s.loggedIn.Load() || s.loggedOut {
		return
	}
	if s.g.calls != nil {
		s.g.calls.SessionEnded(s.appID, s.userID)
	}
	s.q.unwritten(func(m *im.Message, conv string, before int64) {
		switch {
		case m == nil:
			s.hand(conv, before, unacked) // shed: which ones is not known
		case s.owesPush(m):
			s.hand(conv, before, m.Seq)
		}
	})
	from := make(map[string]int64, len(s.handed))
	for conv, h := range s.handed {
		if a, ok := s.acked[conv]; ok && a >= h.to {
			continue
		}
		from[conv] = h.from
	}
	s.g.svc.SessionEnded(im.SessionEnd{AppID: s.appID, UserID: s.userID, DeviceID: s.deviceID, From: from})
}

func (s *Session) seen() { s.lastSeen.Store(s.g.cfg.Clock.Now().UnixNano()) }

// closeWith closes the connection with code after whatever is queued before
// it has been written.
func (s *Session) closeWith(code int, reason string) {
	s.endCode.CompareAndSwap(0, int32(code))
	if !s.q.push(item{kind: kindClose, prio: prioControl, code: code, reason: reason}) {
		s.abort(code, reason)
	}
}

// push queues it, closing the session as slow when it cannot be queued.
func (s *Session) push(it item) {
	if !s.q.push(it) {
		s.g.metrics.slow.Inc()
		s.abort(protocol.CloseSlow, "slow consumer: reconnect and sync")
	}
}

// abort closes the connection at once with code, dropping what is queued.
// Safe from any goroutine, including while a hub lock is held.
func (s *Session) abort(code int, reason string) {
	s.endCode.CompareAndSwap(0, int32(code))
	s.closeOnce.Do(func() {
		s.q.close()
		go func() {
			// Offline at once: the close handshake below may take as long as
			// a dead client makes it. (A session not logged in is not
			// registered, and its identity may still be being written.)
			if s.loggedIn.Load() {
				s.g.claims.release(s)
				s.g.hub.unregister(s)
			}
			// Close waits for the client's close frame; bound it. (CloseNow
			// does not cut a Close in progress short: it waits for it, up
			// to the library's 5 s. Closing the socket under it does.)
			done := make(chan struct{})
			go func() { _ = s.conn.Close(code, reason); close(done) }()
			select {
			case <-done:
			case <-time.After(2 * time.Second):
				_ = s.conn.Abort()
				<-done
			}
			s.cancel()
		}()
	})
}

// enqueueMessage queues a routed message; a session that cannot keep up is
// closed as slow.
func (s *Session) enqueueMessage(m *im.Message) {
	s.push(item{kind: kindMessage, prio: m.Priority, msg: m})
}

func (s *Session) enqueueFrame(b []byte) {
	s.push(item{kind: kindFrame, prio: prioControl, frame: b})
}

func (s *Session) reply(id string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		s.g.log.Error("encoding reply", "err", err)
		s.replyErr(id, protocol.Errorf(protocol.CodeInternal, ""))
		return
	}
	s.enqueueFrame(encodeFrame(protocol.TypeReply, id, b))
}

func (s *Session) replyErr(id string, err error) {
	pe := protocol.AsError(err)
	if pe.Code == protocol.CodeInternal {
		s.g.log.Error("request failed", "session", s.id, "user", s.userID, "err", err)
	}
	b, _ := json.Marshal(protocol.Frame{Type: protocol.TypeReply, ID: id, Error: pe})
	s.enqueueFrame(b)
}

func (s *Session) event(typ string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		s.g.log.Error("encoding event", "err", err)
		return
	}
	s.enqueueFrame(encodeFrame(typ, "", b))
}

// encodeFrame builds a frame around an already encoded payload.
func encodeFrame(typ, id string, data []byte) []byte {
	b := make([]byte, 0, len(data)+48+len(id))
	b = append(b, `{"type":`...)
	b = strconv.AppendQuote(b, typ)
	if id != "" {
		b = append(b, `,"id":`...)
		idq, _ := json.Marshal(id)
		b = append(b, idq...)
	}
	b = append(b, `,"data":`...)
	b = append(b, data...)
	return append(b, '}')
}

// startWriter starts the writer goroutine; the queue calls it, under its
// lock, when something is queued and no writer runs.
func (s *Session) startWriter() {
	s.writers.Add(1)
	go s.drain()
}

// drain is the session's writer goroutine: it writes what is queued and
// ends when the queue is empty (an idle session has no writer).
//
// It drains the queue in batches, with the connection corked for the batch,
// so a batch costs one system call however many frames it holds. A write
// that fails ends the session; the queue then starts no other writer.
func (s *Session) drain() {
	defer s.writers.Done()
	var buf []item
	for {
		if s.ctx.Err() != nil {
			return
		}
		var dirty map[string]int64
		buf, dirty = s.q.pop(buf)
		if len(buf) == 0 && len(dirty) == 0 {
			return // pop marked the queue idle
		}
		s.cork.cork(s.g.cfg.WriteTimeout)
		err := s.writeBatch(buf, dirty)
		if err != nil {
			s.handUnwritten(buf, dirty)
		}
		clear(buf)
		if ferr := s.cork.uncork(); err == nil {
			err = ferr
		}
		if err != nil {
			if !errors.Is(err, errClosed) {
				s.g.log.Debug("session write failed", "session", s.id, "err", err)
				if errors.Is(err, os.ErrDeadlineExceeded) {
					s.g.metrics.slow.Inc()
				}
			}
			s.cancel()
			_ = s.conn.CloseNow() // ends the reader too
			return
		}
	}
}

func (s *Session) writeBatch(items []item, dirty map[string]int64) error {
	for i := range items {
		if err := s.handleItem(&items[i]); err != nil {
			return err
		}
	}
	for conv, before := range dirty {
		if _, ok := s.sent[conv]; !ok {
			s.sent[conv] = before
		}
		if _, err := s.catchUp(conv, -1, false); err != nil {
			return err
		}
	}
	return nil
}

// handUnwritten records in handed the messages of a batch that failed:
// which of them were written is not known, and recording a written one
// again changes nothing.
func (s *Session) handUnwritten(items []item, dirty map[string]int64) {
	for i := range items {
		if it := &items[i]; it.kind == kindMessage && s.owesPush(it.msg) {
			s.hand(it.msg.ConvID, it.msg.Seq-1, it.msg.Seq)
		}
	}
	for conv, before := range dirty {
		s.hand(conv, before, unacked)
	}
}

var errClosed = errors.New("session closed")

func (s *Session) handleItem(it *item) error {
	switch it.kind {
	case kindFrame:
		return s.write(it.frame)
	case kindMessage:
		// A member that left and joined again must not get, as gap
		// filling, what was sent while it was out.
		if last, ok := s.sent[it.msg.ConvID]; ok && last < it.floor {
			s.sent[it.msg.ConvID] = it.floor
		}
		return s.deliver(it.msg, "")
	case kindSent:
		return s.deliver(it.msg, it.replyID)
	case kindSync:
		if err := s.cork.flush(); err != nil {
			return err
		}
		return s.sync(it)
	case kindClose:
		// The close frame must not wait in the cork for the client's answer.
		if err := s.cork.uncork(); err != nil {
			return err
		}
		_ = s.conn.Close(it.code, it.reason)
		return errClosed
	}
	return nil
}

// write writes one frame into the corked connection. The write deadline of
// the cork bounds it: a context per frame would cost a timer each.
func (s *Session) write(b []byte) error {
	return s.conn.WriteText(b)
}

// deliver writes m in conversation order. With replyID, m is the session's
// own message: it is not written back, the send reply is, after every
// earlier message of the conversation.
func (s *Session) deliver(m *im.Message, replyID string) error {
	if m.Type == protocol.MessageCommand {
		if replyID != "" {
			return s.writeSendReply(m, replyID)
		}
		return s.writeMessage(m, false)
	}
	last, known := s.sent[m.ConvID]
	if !known {
		// The first message of a conversation that had nothing pending at
		// login: everything before it was acknowledged (or is this very
		// message, committed while the session registered).
		last = m.Seq - 1
		s.sent[m.ConvID] = last
	}
	if m.Seq > last+1 {
		if _, err := s.catchUp(m.ConvID, m.Seq-1, false); err != nil {
			return err
		}
		last = s.sent[m.ConvID]
	}
	if m.Seq <= last {
		if replyID != "" {
			return s.writeSendReply(m, replyID)
		}
		return nil
	}
	s.sent[m.ConvID] = m.Seq
	if replyID != "" {
		return s.writeSendReply(m, replyID)
	}
	return s.writeMessage(m, false)
}

func (s *Session) writeSendReply(m *im.Message, id string) error {
	s.wbuf = appendSendReplyFrame(s.wbuf[:0], id, m)
	return s.writeBuf()
}

func (s *Session) writeMessage(m *im.Message, offline bool) error {
	w := im.ToWire(m, s.userID, offline)
	s.wbuf = appendMessageFrame(s.wbuf[:0], &w)
	if s.owesPush(m) {
		s.hand(m.ConvID, m.Seq-1, m.Seq)
		if !offline {
			s.weakHanded(m)
		}
	}
	s.g.metrics.delivered.Inc()
	return s.writeBuf()
}

// writeBuf writes the frame in wbuf (the WebSocket library copies it) and
// drops a buffer grown past corkKeepBytes, so that an idle session does not
// keep a large message's memory.
func (s *Session) writeBuf() error {
	err := s.write(s.wbuf)
	if cap(s.wbuf) > corkKeepBytes {
		s.wbuf = nil
	}
	return err
}

// catchUp writes the stored messages of conv after what the session
// delivered, up to upTo (-1: to the end), and returns how many it wrote.
func (s *Session) catchUp(conv string, upTo int64, offline bool) (int, error) {
	n := 0
	for {
		after := s.sent[conv]
		if upTo >= 0 && after >= upTo {
			return n, nil
		}
		ms, err := s.g.svc.MessagesAfter(s.ctx, s.appID, conv, after, syncPage)
		if err != nil {
			s.g.log.Warn("catching up failed; closing so the client resyncs", "session", s.id, "err", err)
			s.abort(protocol.CloseInternal, "sync failed")
			return n, err
		}
		for i := range ms {
			m := &ms[i]
			if upTo >= 0 && m.Seq > upTo {
				return n, nil
			}
			if m.Seq <= s.sent[conv] {
				continue
			}
			s.sent[conv] = m.Seq
			if err := s.writeMessage(m, offline); err != nil {
				return n, err
			}
			n++
		}
		if len(ms) < syncPage {
			return n, nil
		}
	}
}

// sync delivers every message the device has not acknowledged, then answers
// (syncDone after login, a reply for a sync request).
func (s *Session) sync(it *item) error {
	if it.skip {
		b, _ := json.Marshal(protocol.SyncDone{Count: 0})
		return s.write(encodeFrame(protocol.EventSyncDone, "", b))
	}
	pending, err := s.g.svc.Pending(s.ctx, s.appID, s.userID, s.deviceID)
	if err != nil {
		s.g.log.Warn("reading pending conversations failed", "session", s.id, "err", err)
		if it.login {
			s.abort(protocol.CloseInternal, "sync failed")
			return errClosed
		}
		b, _ := json.Marshal(protocol.Frame{Type: protocol.TypeReply, ID: it.replyID, Error: protocol.Errorf(protocol.CodeInternal, "")})
		return s.write(b)
	}
	for _, p := range pending {
		if cur, ok := s.sent[p.ConvID]; !ok || p.Cursor > cur {
			s.sent[p.ConvID] = p.Cursor
		}
	}
	convs := make([]string, 0, len(pending)+len(it.positions))
	for _, p := range pending {
		convs = append(convs, p.ConvID)
	}
	for _, pos := range it.positions {
		if _, ok := s.sent[pos.conv]; !ok {
			convs = append(convs, pos.conv)
		}
		s.sent[pos.conv] = pos.seq
	}
	total := 0
	for _, c := range convs {
		n, err := s.catchUp(c, -1, true)
		total += n
		if err != nil {
			return err
		}
	}
	if it.login {
		b, _ := json.Marshal(protocol.SyncDone{Count: total})
		return s.write(encodeFrame(protocol.EventSyncDone, "", b))
	}
	b, _ := json.Marshal(protocol.SyncReply{Count: total})
	return s.write(encodeFrame(protocol.TypeReply, it.replyID, b))
}
