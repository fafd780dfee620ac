package relay

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/heraldim/herald/internal/protocol"
	"github.com/heraldim/herald/internal/token"
)

// writeTimeout bounds one gathered write to a client.
const writeTimeout = 10 * time.Second

// session is one WebSocket connection. Its reader goroutine decodes frames
// and queues sends; its writer goroutine writes the queued frames, gathered
// into one write(2) per burst (as the server's writer does).
type session struct {
	r    *Relay
	ws   *websocket.Conn
	gc   *gatherConn
	user string // set once at login, before the session is registered
	out  chan outFrame
	done chan struct{} // closed when the session ends
	once sync.Once
}

// inFrame is every client frame the relay reads, decoded in one pass.
type inFrame struct {
	Type string          `json:"type"`
	ID   string          `json:"id"`
	Data json.RawMessage `json:"data"`
}

func (r *Relay) serveWS(w http.ResponseWriter, req *http.Request) {
	gw := &gatherWriter{ResponseWriter: w}
	ws, err := websocket.Accept(gw, req, &websocket.AcceptOptions{CompressionMode: websocket.CompressionDisabled})
	if err != nil {
		return
	}
	ws.SetReadLimit(protocol.MaxFrameBytes)
	s := &session{r: r, ws: ws, gc: gw.conn, out: make(chan outFrame, r.cfg.SendQueue), done: make(chan struct{})}
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		s.writeLoop()
	}()
	s.readLoop()
	if s.user != "" {
		r.unregister(s)
	}
	s.end()
	_ = ws.CloseNow()
	<-writerDone
}

func (s *session) end() { s.once.Do(func() { close(s.done) }) }

func (s *session) readLoop() {
	var buf bytes.Buffer
	for {
		_, rd, err := s.ws.Reader(context.Background())
		if err != nil {
			return
		}
		buf.Reset()
		if _, err := buf.ReadFrom(rd); err != nil {
			return
		}
		var f inFrame
		if err := json.Unmarshal(buf.Bytes(), &f); err != nil {
			s.reply("", nil, protocol.Errorf(protocol.CodeBadFrame, "frame is not valid JSON"))
			continue
		}
		s.handle(&f)
	}
}

func (s *session) handle(f *inFrame) {
	switch {
	case f.Type == protocol.TypeLogin && s.user == "":
		s.login(f)
	case s.user == "":
		s.reply(f.ID, nil, protocol.Errorf(protocol.CodeNotLoggedIn, ""))
	case f.Type == protocol.TypeSend:
		var req protocol.SendRequest
		if err := json.Unmarshal(f.Data, &req); err != nil || req.ConversationID == "" || req.ConversationType != protocol.ConversationPeer {
			s.reply(f.ID, nil, protocol.Errorf(protocol.CodeInvalidArgument, "the relay takes peer messages only"))
			return
		}
		select {
		case s.r.sends <- &pending{from: s, reqID: f.ID, to: req.ConversationID, local: req.LocalMessageID, typ: req.Type, text: req.Text}:
		case <-s.r.stopped:
		}
	case f.Type == protocol.TypeAck:
		// Read positions are not kept.
	case f.Type == protocol.TypePing:
		s.reply(f.ID, struct{}{}, nil)
	default:
		s.reply(f.ID, nil, protocol.Errorf(protocol.CodeUnknownType, "the relay does not serve %q", f.Type))
	}
}

func (s *session) login(f *inFrame) {
	var req protocol.LoginRequest
	if err := json.Unmarshal(f.Data, &req); err != nil {
		s.reply(f.ID, nil, protocol.Errorf(protocol.CodeBadFrame, ""))
		return
	}
	now := time.Now()
	c, err := token.Verify(req.Token, s.r.cfg.Secret, now, time.Minute)
	if err != nil || c.AppID != s.r.cfg.AppID || req.AppID != c.AppID || c.UserID != req.UserID {
		s.reply(f.ID, nil, protocol.Errorf(protocol.CodeTokenInvalid, ""))
		return
	}
	s.user = req.UserID
	s.r.register(s)
	s.reply(f.ID, protocol.LoginReply{SessionID: strconv.FormatInt(now.UnixNano(), 36), UserID: s.user, ServerTime: now.UnixMilli(),
		HeartbeatInterval: heartbeat.Milliseconds(), OfflineAfter: 2 * heartbeat.Milliseconds(), TokenExpiresAt: c.Expires.UnixMilli()}, nil)
	s.queue(outFrame{raw: []byte(`{"type":"syncDone","data":{"count":0}}`)})
}

// outFrame is a frame waiting for the writer, which encodes it: raw bytes,
// a send's reply (sent) or a message delivery (msg).
type outFrame struct {
	raw       []byte
	sent, msg *pending
}

type replyFrame struct {
	Type  string          `json:"type"`
	ID    string          `json:"id,omitempty"`
	Data  any             `json:"data,omitempty"`
	Error *protocol.Error `json:"error,omitempty"`
}

type messageFrame struct {
	Type string           `json:"type"`
	Data protocol.Message `json:"data"`
}

func (f outFrame) encode() ([]byte, error) {
	switch {
	case f.sent != nil:
		p := f.sent
		return json.Marshal(replyFrame{Type: protocol.TypeReply, ID: p.reqID,
			Data: protocol.SendReply{MessageID: strconv.FormatInt(p.id, 10), ConversationSeq: p.seq, Timestamp: p.t}})
	case f.msg != nil:
		p := f.msg
		return json.Marshal(messageFrame{Type: protocol.EventMessage, Data: protocol.Message{
			MessageID: strconv.FormatInt(p.id, 10), LocalMessageID: p.local, ConversationID: p.from.user,
			ConversationType: protocol.ConversationPeer, ConversationSeq: p.seq, SenderUserID: p.from.user,
			Type: p.typ, Text: p.text, Timestamp: p.t,
		}})
	}
	return f.raw, nil
}

// reply queues a reply to request id with data or e.
func (s *session) reply(id string, data any, e *protocol.Error) {
	b, err := json.Marshal(replyFrame{Type: protocol.TypeReply, ID: id, Data: data, Error: e})
	if err != nil {
		s.r.log.Error("relay: encode reply", "err", err)
		return
	}
	s.queue(outFrame{raw: b})
}

// queue hands f to the writer; a session whose queue is full is closed as
// slow, so that it never holds up the commit loop.
func (s *session) queue(f outFrame) {
	select {
	case s.out <- f:
	case <-s.done:
	default:
		s.end()
		go func() { _ = s.ws.Close(protocol.CloseSlow, "slow") }()
	}
}

func (s *session) writeLoop() {
	for {
		var f outFrame
		select {
		case f = <-s.out:
		case <-s.done:
			return
		}
		s.gc.hold()
		for more := true; more; {
			b, err := f.encode()
			if err != nil {
				s.r.log.Error("relay: encode", "err", err)
			} else if err := s.ws.Write(context.Background(), websocket.MessageText, b); err != nil {
				s.end()
				return
			}
			select {
			case f = <-s.out:
			default:
				more = false
			}
		}
		if err := s.gc.release(); err != nil {
			s.end()
			return
		}
	}
}

// gatherConn is the connection under a session's WebSocket: while held it
// gathers writes, and release writes them at once.
type gatherConn struct {
	net.Conn
	mu   sync.Mutex
	held bool
	buf  []byte
}

func (c *gatherConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.held {
		return c.Conn.Write(p)
	}
	c.buf = append(c.buf, p...)
	return len(p), nil
}

func (c *gatherConn) hold() {
	c.mu.Lock()
	c.held = true
	c.mu.Unlock()
}

func (c *gatherConn) release() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.held = false
	if len(c.buf) == 0 {
		return nil
	}
	_ = c.Conn.SetWriteDeadline(time.Now().Add(writeTimeout))
	_, err := c.Conn.Write(c.buf)
	_ = c.Conn.SetWriteDeadline(time.Time{})
	c.buf = c.buf[:0]
	return err
}

// gatherWriter hands the WebSocket library a gatherConn when it hijacks the
// HTTP connection.
type gatherWriter struct {
	http.ResponseWriter
	conn *gatherConn
}

func (w *gatherWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("relay: response writer cannot be hijacked")
	}
	c, brw, err := hj.Hijack()
	if err != nil {
		return nil, nil, err
	}
	w.conn = &gatherConn{Conn: c}
	brw.Writer.Reset(w.conn)
	return w.conn, brw, nil
}
