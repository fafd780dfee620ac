package herald

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/heraldim/herald/internal/protocol"
)

// fakeServer speaks Herald's protocol just enough for the SDK's unit tests:
// login with offline sync, send (peer text/custom stored with per-conversation
// seqs, command live only), ack, ping, logout, history, conversation list,
// markRead and renewToken; group messages to the members set with
// setGroup; group and call requests are recorded and answered by the
// handlers tests set in answers. It is not the server: the end-to-end tests
// run against the real one.
type fakeServer struct {
	t   *testing.T
	srv *httptest.Server

	mu        sync.Mutex
	hbMs      int64
	offlineMs int64
	msgs      map[string][]stored // canonical conversation → messages, seq = index+1
	byLocal   map[string]stored   // sender/localID → stored message
	cursors   map[string]int64    // user/device/canonical conversation → acked seq
	conns     map[*fakeConn]bool
	ackFrames int
	pings     int
	logins    int
	logouts   int
	loginErrs []*protocol.Error // refusals for the next logins, in order
	silent    bool              // the next session ignores pings and sends nothing
	nextID    int
	groups    map[string][]string // group ID → members
	requests  []protocol.Frame    // group and call requests, in order
	sends     []protocol.SendRequest
	// answers answer group and call requests by type; a type without one
	// gets CodeUnavailable.
	answers map[string]func(user string, fr protocol.Frame) (any, *protocol.Error)
}

type stored struct {
	m         protocol.Message // ConversationID as seen by the sender
	recipient string
}

type fakeConn struct {
	ws       *websocket.Conn
	user     string
	device   string
	silent   bool
	wmu      sync.Mutex
	loggedIn bool
}

func newFakeServer(t *testing.T) *fakeServer {
	f := &fakeServer{
		t:         t,
		hbMs:      50,
		offlineMs: 1000,
		msgs:      make(map[string][]stored),
		byLocal:   make(map[string]stored),
		cursors:   make(map[string]int64),
		conns:     make(map[*fakeConn]bool),
		groups:    make(map[string][]string),
		answers:   make(map[string]func(string, protocol.Frame) (any, *protocol.Error)),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/v1/ws", f.serveWS)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(func() {
		f.closeAll(websocket.StatusGoingAway, "test over")
		f.srv.Close()
	})
	return f
}

// convKeyOf returns the key of the conversation user u names with id.
func convKeyOf(u, id string, typ int) string {
	if typ == protocol.ConversationGroup {
		return "g|" + id
	}
	return canon(u, id)
}

func canon(a, b string) string {
	if a > b {
		a, b = b, a
	}
	return a + "|" + b
}

// view returns a stored message as user u sees it.
func (s stored) view(u string, offline bool) protocol.Message {
	m := s.m
	if u != m.SenderUserID && m.ConversationType != protocol.ConversationGroup {
		m.ConversationID = m.SenderUserID
	}
	m.Offline = offline
	return m
}

func (f *fakeServer) write(c *fakeConn, fr protocol.Frame) {
	b, _ := json.Marshal(fr)
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.ws.Write(context.Background(), websocket.MessageText, b)
}

func (f *fakeServer) reply(c *fakeConn, id string, data any) {
	b, _ := json.Marshal(data)
	f.write(c, protocol.Frame{Type: protocol.TypeReply, ID: id, Data: b})
}

func (f *fakeServer) replyErr(c *fakeConn, id string, e *protocol.Error) {
	f.write(c, protocol.Frame{Type: protocol.TypeReply, ID: id, Error: e})
}

func (f *fakeServer) event(c *fakeConn, typ string, data any) {
	b, _ := json.Marshal(data)
	f.write(c, protocol.Frame{Type: typ, Data: b})
}

func (f *fakeServer) serveWS(w http.ResponseWriter, r *http.Request) {
	ws, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	ws.SetReadLimit(1 << 20)
	c := &fakeConn{ws: ws}
	defer func() {
		f.mu.Lock()
		delete(f.conns, c)
		f.mu.Unlock()
		ws.CloseNow()
	}()
	for {
		_, b, err := ws.Read(context.Background())
		if err != nil {
			return
		}
		fr, perr := protocol.Decode(b)
		if perr != nil {
			f.replyErr(c, fr.ID, perr)
			continue
		}
		if c.silent {
			continue
		}
		if !c.loggedIn && fr.Type != protocol.TypeLogin {
			f.replyErr(c, fr.ID, protocol.Errorf(protocol.CodeNotLoggedIn, ""))
			continue
		}
		switch fr.Type {
		case protocol.TypeLogin:
			f.login(c, fr)
		case protocol.TypePing:
			f.mu.Lock()
			f.pings++
			f.mu.Unlock()
			f.reply(c, fr.ID, protocol.PingReply{ServerTime: time.Now().UnixMilli()})
		case protocol.TypeAck:
			var req protocol.AckRequest
			_ = protocol.DecodeData(fr, &req)
			f.mu.Lock()
			f.ackFrames++
			for _, a := range req.Acks {
				k := c.user + "/" + c.device + "/" + convKeyOf(c.user, a.ConversationID, a.ConversationType)
				f.cursors[k] = max(f.cursors[k], a.Seq)
			}
			f.mu.Unlock()
		case protocol.TypeSend:
			f.send(c, fr)
		case protocol.TypeLogout:
			f.mu.Lock()
			f.logouts++
			f.mu.Unlock()
			f.reply(c, fr.ID, struct{}{})
			ws.Close(protocol.CloseLoggedOut, "logged out")
			return
		case protocol.TypeRenewToken:
			f.reply(c, fr.ID, protocol.RenewTokenReply{TokenExpiresAt: time.Now().Add(time.Hour).UnixMilli()})
		case protocol.TypeHistory:
			f.history(c, fr)
		case protocol.TypeConversationList:
			f.conversationList(c, fr)
		case protocol.TypeMarkRead:
			f.reply(c, fr.ID, protocol.MarkReadReply{})
		default:
			if protocol.IsGroupType(fr.Type) || protocol.IsCallType(fr.Type) {
				f.answer(c, fr)
				continue
			}
			f.replyErr(c, fr.ID, protocol.Errorf(protocol.CodeUnknownType, ""))
		}
	}
}

func (f *fakeServer) login(c *fakeConn, fr protocol.Frame) {
	var req protocol.LoginRequest
	_ = protocol.DecodeData(fr, &req)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.logins++
	if len(f.loginErrs) > 0 {
		e := f.loginErrs[0]
		f.loginErrs = f.loginErrs[1:]
		f.replyErr(c, fr.ID, e)
		return
	}
	if req.AppID != "app" || req.DeviceID == "" || req.Token != "tok-"+req.UserID {
		f.replyErr(c, fr.ID, protocol.Errorf(protocol.CodeTokenInvalid, ""))
		return
	}
	c.user, c.device, c.loggedIn = req.UserID, req.DeviceID, true
	c.silent, f.silent = f.silent, false
	f.conns[c] = true
	f.reply(c, fr.ID, protocol.LoginReply{
		SessionID: "s", UserID: req.UserID, ServerTime: time.Now().UnixMilli(),
		HeartbeatInterval: f.hbMs, OfflineAfter: f.offlineMs,
	})
	if c.silent {
		return
	}
	// Offline sync, conversation by conversation, in seq order.
	keys := make([]string, 0, len(f.msgs))
	for k := range f.msgs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	n := 0
	for _, k := range keys {
		cur := f.cursors[c.user+"/"+c.device+"/"+k]
		for _, s := range f.msgs[k] {
			if f.sees(c.user, s) && s.m.ConversationSeq > cur {
				f.event(c, protocol.EventMessage, s.view(c.user, true))
				n++
			}
		}
	}
	f.event(c, protocol.EventSyncDone, protocol.SyncDone{Count: n})
}

func (f *fakeServer) send(c *fakeConn, fr protocol.Frame) {
	var req protocol.SendRequest
	if e := protocol.DecodeData(fr, &req); e != nil {
		f.replyErr(c, fr.ID, e)
		return
	}
	if e := protocol.ValidateSend(&req); e != nil {
		f.replyErr(c, fr.ID, e)
		return
	}
	f.mu.Lock()
	f.sends = append(f.sends, req)
	f.mu.Unlock()
	s, dup := f.store(c.user, req)
	if dup {
		f.reply(c, fr.ID, protocol.SendReply{MessageID: s.m.MessageID, ConversationSeq: s.m.ConversationSeq, Timestamp: s.m.Timestamp, Duplicate: true})
		return
	}
	f.deliver(s, c)
	f.reply(c, fr.ID, protocol.SendReply{MessageID: s.m.MessageID, ConversationSeq: s.m.ConversationSeq, Timestamp: s.m.Timestamp})
}

// store appends a message (command messages are not stored) and reports a
// duplicate local ID.
func (f *fakeServer) store(sender string, req protocol.SendRequest) (stored, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if s, ok := f.byLocal[sender+"/"+req.LocalMessageID]; ok && req.LocalMessageID != "" {
		return s, true
	}
	f.nextID++
	s := stored{recipient: req.ConversationID, m: protocol.Message{
		MessageID: fmt.Sprint(f.nextID), LocalMessageID: req.LocalMessageID,
		ConversationID: req.ConversationID, ConversationType: req.ConversationType, SenderUserID: sender,
		Type: req.Type, Text: req.Text, Data: req.Data, SubType: req.SubType,
		Priority: req.Priority, Timestamp: time.Now().UnixMilli(),
	}}
	if req.Type != protocol.MessageCommand {
		k := convKeyOf(sender, req.ConversationID, req.ConversationType)
		s.m.ConversationSeq = int64(len(f.msgs[k]) + 1)
		f.msgs[k] = append(f.msgs[k], s)
		f.byLocal[sender+"/"+req.LocalMessageID] = s
	}
	return s, false
}

// deliver sends a stored message live to the recipient's sessions and the
// sender's other sessions.
func (f *fakeServer) deliver(s stored, from *fakeConn) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for c := range f.conns {
		if c == from || c.silent || !f.sees(c.user, s) {
			continue
		}
		f.event(c, protocol.EventMessage, s.view(c.user, false))
	}
}

// inject stores and delivers a message as if from's client sent it.
func (f *fakeServer) inject(from, to string, typ int, body string) stored {
	req := protocol.SendRequest{ConversationID: to, Type: typ, Priority: 2}
	if typ == protocol.MessageText {
		req.Text = body
	} else {
		req.Data = []byte(body)
	}
	f.mu.Lock()
	f.nextID++
	req.LocalMessageID = fmt.Sprintf("inject-%d", f.nextID)
	f.mu.Unlock()
	s, _ := f.store(from, req)
	f.deliver(s, nil)
	return s
}

// injectGroup stores and delivers a text message to a group as if from's
// client sent it.
func (f *fakeServer) injectGroup(from, group, text string) stored {
	req := protocol.SendRequest{ConversationID: group, ConversationType: protocol.ConversationGroup, Type: protocol.MessageText, Text: text, Priority: 2}
	f.mu.Lock()
	f.nextID++
	req.LocalMessageID = fmt.Sprintf("inject-%d", f.nextID)
	f.mu.Unlock()
	s, _ := f.store(from, req)
	f.deliver(s, nil)
	return s
}

// sees reports whether user u is in a stored message's conversation.
func (f *fakeServer) sees(u string, s stored) bool {
	if s.m.ConversationType == protocol.ConversationGroup {
		for _, m := range f.groups[s.recipient] {
			if m == u {
				return true
			}
		}
		return false
	}
	return u == s.recipient || u == s.m.SenderUserID
}

// setGroup sets a group's members for group messages.
func (f *fakeServer) setGroup(id string, members ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.groups[id] = members
}

// answer records a group or call request and replies with the handler
// tests set for its type.
func (f *fakeServer) answer(c *fakeConn, fr protocol.Frame) {
	f.mu.Lock()
	f.requests = append(f.requests, fr)
	h := f.answers[fr.Type]
	f.mu.Unlock()
	if h == nil {
		f.replyErr(c, fr.ID, protocol.Errorf(protocol.CodeUnavailable, ""))
		return
	}
	data, e := h(c.user, fr)
	if e != nil {
		f.replyErr(c, fr.ID, e)
		return
	}
	f.reply(c, fr.ID, data)
}

// setAnswer sets the handler of a request type.
func (f *fakeServer) setAnswer(typ string, h func(user string, fr protocol.Frame) (any, *protocol.Error)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.answers[typ] = h
}

// lastRequest returns the last group or call request received.
func (f *fakeServer) lastRequest() protocol.Frame {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.requests) == 0 {
		return protocol.Frame{}
	}
	return f.requests[len(f.requests)-1]
}

// eventTo sends an event to every session of user.
func (f *fakeServer) eventTo(user, typ string, data any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for c := range f.conns {
		if c.user == user {
			f.event(c, typ, data)
		}
	}
}

func (f *fakeServer) history(c *fakeConn, fr protocol.Frame) {
	var req protocol.HistoryRequest
	_ = protocol.DecodeData(fr, &req)
	n, _ := protocol.PageCount(req.Count)
	f.mu.Lock()
	all := f.msgs[convKeyOf(c.user, req.ConversationID, req.ConversationType)]
	var out []protocol.Message
	for i := len(all) - 1; i >= 0 && len(out) < n; i-- {
		if req.BeforeSeq == 0 || all[i].m.ConversationSeq < req.BeforeSeq {
			out = append(out, all[i].view(c.user, false))
		}
	}
	f.mu.Unlock()
	f.reply(c, fr.ID, protocol.HistoryReply{Messages: out})
}

func (f *fakeServer) conversationList(c *fakeConn, fr protocol.Frame) {
	f.mu.Lock()
	var out []protocol.Conversation
	for _, all := range f.msgs {
		last := all[len(all)-1]
		if !f.sees(c.user, last) {
			continue
		}
		m := last.view(c.user, false)
		var key int64
		_, _ = fmt.Sscan(last.m.MessageID, &key)
		out = append(out, protocol.Conversation{ConversationID: m.ConversationID, LastMessage: &m, OrderKey: protocol.OrderKey(key)})
	}
	f.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].OrderKey > out[j].OrderKey })
	f.reply(c, fr.ID, protocol.ConversationListReply{Conversations: out})
}

// closeAll closes every session with code.
func (f *fakeServer) closeAll(code websocket.StatusCode, reason string) {
	f.mu.Lock()
	conns := make([]*fakeConn, 0, len(f.conns))
	for c := range f.conns {
		conns = append(conns, c)
	}
	f.mu.Unlock()
	for _, c := range conns {
		go c.ws.Close(code, reason)
	}
}

// kick sends user's sessions the kicked event and closes them.
func (f *fakeServer) kick(user string) {
	f.mu.Lock()
	var conns []*fakeConn
	for c := range f.conns {
		if c.user == user {
			conns = append(conns, c)
		}
	}
	f.mu.Unlock()
	for _, c := range conns {
		f.event(c, protocol.EventKicked, protocol.Kicked{Reason: protocol.KickSamePlatform, Message: "logged in elsewhere"})
		go c.ws.Close(protocol.CloseKicked, "kicked")
	}
}

func (f *fakeServer) cursor(user, device, peer string) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cursors[user+"/"+device+"/"+canon(user, peer)]
}

func (f *fakeServer) groupCursor(user, device, group string) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cursors[user+"/"+device+"/g|"+group]
}

func (f *fakeServer) counts() (logins, logouts, ackFrames, pings int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.logins, f.logouts, f.ackFrames, f.pings
}
