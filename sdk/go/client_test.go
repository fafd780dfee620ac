package herald

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"go.uber.org/goleak"

	"github.com/heraldim/herald/internal/protocol"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// recorder is an EventHandler that records what it receives.
type recorder struct {
	mu      sync.Mutex
	msgs    []Message
	offline []bool
	batches int
	states  []stateChange
	syncs   []int
	warns   []int
	// onMessage, if set, runs inside ReceivePeerMessage for each message.
	onMessage func(Message)
}

type stateChange struct {
	state ConnectionState
	event ConnectionEvent
	ext   map[string]any
}

func (r *recorder) handler() EventHandler {
	return EventHandler{
		ConnectionStateChanged: func(st ConnectionState, ev ConnectionEvent, ext map[string]any) {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.states = append(r.states, stateChange{st, ev, ext})
		},
		ReceivePeerMessage: func(msgs []Message, info MessageReceivedInfo, from string) {
			for _, m := range msgs {
				if m.ConversationID != from {
					panic("batch of another conversation")
				}
				if r.onMessage != nil {
					r.onMessage(m)
				}
			}
			r.mu.Lock()
			defer r.mu.Unlock()
			r.batches++
			for _, m := range msgs {
				r.msgs = append(r.msgs, m)
				r.offline = append(r.offline, info.IsOfflineMessage)
			}
		},
		SyncDone: func(n int) {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.syncs = append(r.syncs, n)
		},
		TokenWillExpire: func(s int) {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.warns = append(r.warns, s)
		},
	}
}

func (r *recorder) texts() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, len(r.msgs))
	for i, m := range r.msgs {
		out[i] = m.Text
	}
	return out
}

func (r *recorder) stateList() []stateChange {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]stateChange(nil), r.states...)
}

func (r *recorder) hasState(st ConnectionState, ev ConnectionEvent) bool {
	for _, s := range r.stateList() {
		if s.state == st && s.event == ev {
			return true
		}
	}
	return false
}

// eventually polls cond until it holds or a few seconds passed.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func newTestClient(t *testing.T, f *fakeServer, mod func(*Config)) (*Client, *recorder) {
	t.Helper()
	cfg := Config{
		Server:       f.srv.URL,
		AppID:        "app",
		DeviceID:     "dev1",
		AckInterval:  20 * time.Millisecond,
		ReconnectMin: 10 * time.Millisecond,
		ReconnectMax: 40 * time.Millisecond,
		LoginTimeout: 2 * time.Second,
	}
	if mod != nil {
		mod(&cfg)
	}
	c, err := Create(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := &recorder{}
	c.SetEventHandler(r.handler())
	t.Cleanup(c.Destroy)
	return c, r
}

func login(t *testing.T, c *Client, user string) {
	t.Helper()
	if err := c.Login(context.Background(), user, "tok-"+user); err != nil {
		t.Fatalf("login %s: %v", user, err)
	}
}

func wantTexts(t *testing.T, r *recorder, want ...string) {
	t.Helper()
	eventually(t, fmt.Sprintf("%d messages", len(want)), func() bool { return len(r.texts()) >= len(want) })
	time.Sleep(30 * time.Millisecond) // let duplicates, if any, arrive
	got := r.texts()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("messages = %q, want %q", got, want)
	}
}

func TestLoginSyncLiveAndAck(t *testing.T) {
	f := newFakeServer(t)
	for i := 1; i <= 3; i++ {
		f.inject("bob", "alice", protocol.MessageText, fmt.Sprint("off", i))
	}
	c, r := newTestClient(t, f, nil)
	login(t, c, "alice")
	wantTexts(t, r, "off1", "off2", "off3")
	eventually(t, "syncDone", func() bool { r.mu.Lock(); defer r.mu.Unlock(); return len(r.syncs) == 1 })
	if r.syncs[0] != 3 {
		t.Errorf("SyncDone count = %d, want 3", r.syncs[0])
	}
	f.inject("bob", "alice", protocol.MessageText, "live")
	wantTexts(t, r, "off1", "off2", "off3", "live")

	r.mu.Lock()
	if fmt.Sprint(r.offline) != "[true true true false]" {
		t.Errorf("offline flags = %v", r.offline)
	}
	if r.batches > 2 {
		t.Logf("offline messages came in %d batches", r.batches)
	}
	m := r.msgs[3]
	r.mu.Unlock()
	if m.ConversationID != "bob" || m.SenderUserID != "bob" || m.ConversationSeq != 4 || m.Timestamp.IsZero() || m.MessageID == "" {
		t.Errorf("live message = %+v", m)
	}
	eventually(t, "ack of seq 4", func() bool { return f.cursor("alice", "dev1", "bob") == 4 })
	_, _, acks, _ := f.counts()
	if acks > 3 {
		t.Errorf("%d ack frames for 4 messages: acks are not batched", acks)
	}

	want := []stateChange{
		{state: ConnectionStateConnecting, event: ConnectionEventActiveLogin},
		{state: ConnectionStateConnected, event: ConnectionEventSuccess},
	}
	if err := c.Logout(context.Background()); err != nil {
		t.Fatal(err)
	}
	want = append(want, stateChange{state: ConnectionStateDisconnected, event: ConnectionEventSuccess})
	eventually(t, "disconnected", func() bool { return len(r.stateList()) == 3 })
	for i, s := range r.stateList() {
		if s.state != want[i].state || s.event != want[i].event {
			t.Errorf("state %d = %v/%v, want %v/%v", i, s.state, s.event, want[i].state, want[i].event)
		}
	}
	if _, logouts, _, _ := f.counts(); logouts != 1 {
		t.Errorf("logouts = %d", logouts)
	}
	if _, err := c.SendMessage(context.Background(), NewTextMessage("x"), "bob", ConversationTypePeer, MessageSendConfig{}); !errors.Is(err, ErrNotLoggedIn) {
		t.Errorf("send after logout: %v, want ErrNotLoggedIn", err)
	}
}

func TestDedupeAcrossReconnect(t *testing.T) {
	f := newFakeServer(t)
	// No acks reach the server before the reconnect, so it resends all.
	c, r := newTestClient(t, f, func(cfg *Config) { cfg.AckInterval = time.Hour; cfg.AckBatch = 1000 })
	login(t, c, "alice")
	for i := 1; i <= 5; i++ {
		f.inject("bob", "alice", protocol.MessageText, fmt.Sprint("m", i))
	}
	wantTexts(t, r, "m1", "m2", "m3", "m4", "m5")
	if f.cursor("alice", "dev1", "bob") != 0 {
		t.Fatal("acked too early")
	}
	f.closeAll(protocol.CloseServerRestart, "restart")
	eventually(t, "reconnect", func() bool {
		l, _, _, _ := f.counts()
		return l == 2 && c.ConnectionState() == ConnectionStateConnected
	})
	if !r.hasState(ConnectionStateReconnecting, ConnectionEventLoginInterrupted) {
		t.Errorf("no Reconnecting state: %v", r.stateList())
	}
	f.inject("bob", "alice", protocol.MessageText, "m6")
	wantTexts(t, r, "m1", "m2", "m3", "m4", "m5", "m6")
	eventually(t, "second syncDone", func() bool { r.mu.Lock(); defer r.mu.Unlock(); return len(r.syncs) == 2 })
	if r.syncs[1] != 5 {
		t.Errorf("resync count = %d, want 5 (all unacknowledged)", r.syncs[1])
	}
	// The new session acknowledges what was handled before it.
	eventually(t, "ack after reconnect", func() bool { return f.cursor("alice", "dev1", "bob") >= 5 })
}

func TestOwnSendAckedAndDeduplicated(t *testing.T) {
	f := newFakeServer(t)
	a, _ := newTestClient(t, f, nil)
	login(t, a, "alice")
	// Alice's second device sees her own messages.
	a2, r2 := newTestClient(t, f, func(cfg *Config) { cfg.DeviceID = "dev2" })
	login(t, a2, "alice")

	f.inject("bob", "alice", protocol.MessageText, "hi")
	sent, err := a.SendMessage(context.Background(), NewTextMessage("hello"), "bob", ConversationTypePeer,
		MessageSendConfig{PushConfig: &PushConfig{Title: "t", Content: "c"}})
	if err != nil {
		t.Fatal(err)
	}
	if sent.LocalMessageID == "" || sent.MessageID == "" || sent.ConversationSeq != 2 || sent.SenderUserID != "alice" ||
		sent.Priority != MessagePriorityMedium || sent.Timestamp.IsZero() || sent.ConversationID != "bob" {
		t.Errorf("sent = %+v", sent)
	}
	// The send reply came after "hi" was delivered: seq 2 is acknowledged
	// once "hi" was handled, without being received.
	eventually(t, "ack of own message", func() bool { return f.cursor("alice", "dev1", "bob") == 2 })

	// A retry with the same local ID is stored once.
	again, err := a.SendMessage(context.Background(), sent, "bob", ConversationTypePeer, MessageSendConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if again.MessageID != sent.MessageID || again.ConversationSeq != 2 {
		t.Errorf("retry = %+v, want message %s seq 2", again, sent.MessageID)
	}
	wantTexts(t, r2, "hi", "hello")
	r2.mu.Lock()
	if r2.msgs[1].SenderUserID != "alice" || r2.msgs[1].ConversationID != "bob" {
		t.Errorf("own message on other device = %+v", r2.msgs[1])
	}
	r2.mu.Unlock()
}

func TestCommandMessagesPassThrough(t *testing.T) {
	f := newFakeServer(t)
	c, r := newTestClient(t, f, nil)
	login(t, c, "alice")
	f.inject("bob", "alice", protocol.MessageCommand, "ping")
	f.inject("bob", "alice", protocol.MessageCommand, "ping")
	f.inject("bob", "alice", protocol.MessageText, "t")
	eventually(t, "3 messages", func() bool { return len(r.texts()) == 3 })
	r.mu.Lock()
	for i, m := range r.msgs[:2] {
		if m.Type != MessageTypeCommand || string(m.Data) != "ping" || m.ConversationSeq != 0 {
			t.Errorf("command %d = %+v", i, m)
		}
	}
	r.mu.Unlock()
	eventually(t, "ack", func() bool { return f.cursor("alice", "dev1", "bob") == 1 })

	if _, err := c.SendMessage(context.Background(), NewCommandMessage([]byte("x")), "bob", ConversationTypePeer, MessageSendConfig{}); err != nil {
		t.Fatal(err)
	}
}

func TestAckBatching(t *testing.T) {
	f := newFakeServer(t)
	c, r := newTestClient(t, f, func(cfg *Config) { cfg.AckInterval = time.Hour; cfg.AckBatch = 10 })
	login(t, c, "alice")
	for i := 1; i <= 25; i++ {
		f.inject("bob", "alice", protocol.MessageText, fmt.Sprint(i))
	}
	eventually(t, "25 messages", func() bool { return len(r.texts()) == 25 })
	// Every 10 handled messages an ack goes out without waiting for the
	// (hour-long) interval, so at most 9 stay unacknowledged.
	eventually(t, "batched acks", func() bool { return f.cursor("alice", "dev1", "bob") >= 25-9 })
	if err := c.Logout(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := f.cursor("alice", "dev1", "bob"); got != 25 {
		t.Errorf("cursor after logout = %d, want 25: Logout must flush acks", got)
	}
	_, _, frames, _ := f.counts()
	if frames > 6 {
		t.Errorf("%d ack frames for 25 messages", frames)
	}
}

func TestKickedDoesNotReconnect(t *testing.T) {
	f := newFakeServer(t)
	c, r := newTestClient(t, f, nil)
	login(t, c, "alice")
	f.kick("alice")
	eventually(t, "kicked", func() bool { return r.hasState(ConnectionStateDisconnected, ConnectionEventKickedOut) })
	time.Sleep(100 * time.Millisecond)
	if l, _, _, _ := f.counts(); l != 1 {
		t.Errorf("logins = %d after a kick, want 1", l)
	}
	s := r.stateList()
	if ext := s[len(s)-1].ext; ext["reason"] != protocol.KickSamePlatform || ext["message"] != "logged in elsewhere" {
		t.Errorf("kick extended = %v", ext)
	}
	if _, err := c.SendMessage(context.Background(), NewTextMessage("x"), "bob", ConversationTypePeer, MessageSendConfig{}); !errors.Is(err, ErrNotLoggedIn) {
		t.Errorf("send after kick: %v", err)
	}
	login(t, c, "alice") // a new Login works
	if err := c.Logout(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestCloseCodes(t *testing.T) {
	for _, tc := range []struct {
		code      websocket.StatusCode
		reconnect bool
		event     ConnectionEvent
	}{
		{protocol.CloseTokenExpired, false, ConnectionEventTokenExpired},
		{protocol.CloseLoggedOut, false, ConnectionEventSuccess},
		{protocol.CloseSlow, true, ConnectionEventLoginInterrupted},
		{protocol.CloseHeartbeatTimeout, true, ConnectionEventLoginInterrupted},
		{protocol.CloseInternal, true, ConnectionEventLoginInterrupted},
		{protocol.CloseTokenRevoked, false, ConnectionEventTokenExpired},
		{protocol.CloseKickedByServer, false, ConnectionEventKickedOut},
	} {
		t.Run(fmt.Sprint(tc.code), func(t *testing.T) {
			f := newFakeServer(t)
			c, r := newTestClient(t, f, nil)
			login(t, c, "alice")
			f.closeAll(tc.code, "test")
			if tc.reconnect {
				eventually(t, "reconnect", func() bool {
					l, _, _, _ := f.counts()
					return l == 2 && c.ConnectionState() == ConnectionStateConnected
				})
				if !r.hasState(ConnectionStateReconnecting, tc.event) {
					t.Errorf("states = %v", r.stateList())
				}
				return
			}
			eventually(t, "disconnected", func() bool { return r.hasState(ConnectionStateDisconnected, tc.event) })
			time.Sleep(100 * time.Millisecond)
			if l, _, _, _ := f.counts(); l != 1 {
				t.Errorf("reconnected after close %d", tc.code)
			}
		})
	}
}

func TestReconnectRetriesUntilRefused(t *testing.T) {
	f := newFakeServer(t)
	c, r := newTestClient(t, f, nil)
	login(t, c, "alice")
	f.mu.Lock()
	f.loginErrs = []*protocol.Error{
		protocol.Errorf(protocol.CodeUnavailable, ""),
		protocol.Errorf(protocol.CodeRateLimited, ""),
	}
	f.mu.Unlock()
	f.closeAll(protocol.CloseServerRestart, "restart")
	eventually(t, "reconnected after retryable refusals", func() bool {
		l, _, _, _ := f.counts()
		return l == 4 && c.ConnectionState() == ConnectionStateConnected
	})

	f.mu.Lock()
	f.loginErrs = []*protocol.Error{protocol.Errorf(protocol.CodeTokenExpired, "")}
	f.mu.Unlock()
	f.closeAll(protocol.CloseServerRestart, "restart")
	eventually(t, "stopped on expired token", func() bool { return r.hasState(ConnectionStateDisconnected, ConnectionEventTokenExpired) })
	time.Sleep(100 * time.Millisecond)
	if l, _, _, _ := f.counts(); l != 5 {
		t.Errorf("logins = %d, want 5: no retry after an expired token", l)
	}
}

func TestHeartbeat(t *testing.T) {
	f := newFakeServer(t)
	f.hbMs, f.offlineMs = 20, 150
	f.silent = true // the first session never answers
	c, r := newTestClient(t, f, nil)
	start := time.Now()
	login(t, c, "alice")
	eventually(t, "reconnect after silence", func() bool {
		l, _, _, _ := f.counts()
		return l == 2 && c.ConnectionState() == ConnectionStateConnected
	})
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Errorf("dead connection declared after %v, before the offline window", d)
	}
	var ext map[string]any
	for _, s := range r.stateList() {
		if s.state == ConnectionStateReconnecting {
			ext = s.ext
		}
	}
	if ext["reason"] != "heartbeat timeout" {
		t.Errorf("reconnecting extended = %v", ext)
	}
	_, _, _, p0 := f.counts()
	time.Sleep(100 * time.Millisecond)
	if _, _, _, p1 := f.counts(); p1-p0 < 2 {
		t.Errorf("%d pings in 100 ms at a 20 ms heartbeat", p1-p0)
	}
	if c.ConnectionState() != ConnectionStateConnected {
		t.Error("answered heartbeats did not keep the connection")
	}
}

func TestServerErrors(t *testing.T) {
	f := newFakeServer(t)
	f.loginErrs = []*protocol.Error{protocol.Errorf(protocol.CodeTokenInvalid, "bad signature")}
	c, r := newTestClient(t, f, nil)
	err := c.Login(context.Background(), "alice", "tok-alice")
	var he *Error
	if !errors.As(err, &he) || he.Code != CodeTokenInvalid || he.Message != "bad signature" {
		t.Fatalf("login error = %v", err)
	}
	if !errors.Is(err, &Error{Code: CodeTokenInvalid}) {
		t.Error("errors.Is by code fails")
	}
	eventually(t, "disconnected", func() bool { return r.hasState(ConnectionStateDisconnected, ConnectionEventLoginInterrupted) })
	login(t, c, "alice")

	msg, err := c.SendMessage(context.Background(), NewTextMessage(""), "bob", ConversationTypePeer, MessageSendConfig{})
	if !errors.Is(err, &Error{Code: CodeEmptyMessage}) {
		t.Errorf("empty send: %v", err)
	}
	if msg.LocalMessageID == "" {
		t.Error("failed send returned no local ID to retry with")
	}
	_, err = c.SendMessage(context.Background(), NewTextMessage("x"), "bob", ConversationTypePeer, MessageSendConfig{Priority: 7})
	if !errors.Is(err, &Error{Code: CodeInvalidPriority}) {
		t.Errorf("bad priority: %v", err)
	}
	if err := c.Login(context.Background(), "alice", "tok-alice"); !errors.Is(err, ErrAlreadyLoggedIn) {
		t.Errorf("second login: %v", err)
	}
}

func TestQueries(t *testing.T) {
	f := newFakeServer(t)
	for i := 1; i <= 5; i++ {
		f.inject("bob", "alice", protocol.MessageText, fmt.Sprint(i))
	}
	f.inject("carol", "alice", protocol.MessageText, "c")
	c, _ := newTestClient(t, f, nil)
	login(t, c, "alice")
	ctx := context.Background()
	page, err := c.QueryHistoryMessage(ctx, "bob", ConversationTypePeer, HistoryQueryConfig{Count: 3})
	if err != nil || len(page) != 3 || page[0].Text != "5" || page[2].Text != "3" {
		t.Fatalf("page 1 = %v, %v", page, err)
	}
	page, err = c.QueryHistoryMessage(ctx, "bob", ConversationTypePeer, HistoryQueryConfig{Count: 3, NextMessage: &page[2]})
	if err != nil || len(page) != 2 || page[0].Text != "2" {
		t.Fatalf("page 2 = %v, %v", page, err)
	}
	convs, err := c.QueryConversationList(ctx, ConversationQueryConfig{})
	if err != nil || len(convs) != 2 || convs[0].ConversationID != "carol" || convs[1].LastMessage.Text != "5" {
		t.Fatalf("conversations = %+v, %v", convs, err)
	}
	if err := c.ClearConversationUnreadMessageCount(ctx, "bob", ConversationTypePeer); err != nil {
		t.Fatal(err)
	}
	if err := c.RenewToken(ctx, "tok-alice"); err != nil {
		t.Fatal(err)
	}
}

func TestLogoutDropsUnhandledMessages(t *testing.T) {
	f := newFakeServer(t)
	c, r := newTestClient(t, f, nil)
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	r.onMessage = func(m Message) {
		if m.Text == "1" {
			once.Do(func() { close(entered); <-release })
		}
	}
	login(t, c, "alice")
	f.inject("bob", "alice", protocol.MessageText, "1")
	<-entered // message 1 is handled alone: 2 and 3 queue behind it
	f.inject("bob", "alice", protocol.MessageText, "2")
	f.inject("bob", "alice", protocol.MessageText, "3")
	eventually(t, "messages 2 and 3 queued", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.pos[convKey{"bob", ConversationTypePeer}].received == 3
	})
	if err := c.Logout(context.Background()); err != nil {
		t.Fatal(err)
	}
	close(release) // message 1's handler returns after Logout
	eventually(t, "message 1", func() bool { return len(r.texts()) == 1 })
	// At the next login the server resends 1, 2, 3; 1 was handled and is
	// dropped as a duplicate, 2 and 3 (dropped by Logout) come again.
	login(t, c, "alice")
	wantTexts(t, r, "1", "2", "3")
	eventually(t, "acks", func() bool { return f.cursor("alice", "dev1", "bob") == 3 })
}

func TestHandlerMayCallClient(t *testing.T) {
	f := newFakeServer(t)
	c, r := newTestClient(t, f, nil)
	done := make(chan error, 1)
	r.onMessage = func(m Message) {
		_, err := c.SendMessage(context.Background(), NewTextMessage("re: "+m.Text), "bob", ConversationTypePeer, MessageSendConfig{})
		if err == nil {
			err = c.Logout(context.Background())
		}
		done <- err
	}
	login(t, c, "alice")
	f.inject("bob", "alice", protocol.MessageText, "q")
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("handler deadlocked")
	}
	eventually(t, "logged out", func() bool { return c.ConnectionState() == ConnectionStateDisconnected })
}

func TestLoginAsAnotherUserResetsPositions(t *testing.T) {
	f := newFakeServer(t)
	f.inject("bob", "alice", protocol.MessageText, "for alice")
	f.inject("bob", "carol", protocol.MessageText, "for carol")
	c, r := newTestClient(t, f, nil)
	login(t, c, "alice")
	wantTexts(t, r, "for alice")
	if err := c.Logout(context.Background()); err != nil {
		t.Fatal(err)
	}
	login(t, c, "carol")
	wantTexts(t, r, "for alice", "for carol")
	eventually(t, "carol's ack", func() bool { return f.cursor("carol", "dev1", "bob") == 1 })
}

func TestDestroy(t *testing.T) {
	f := newFakeServer(t)
	c, r := newTestClient(t, f, nil)
	login(t, c, "alice")
	c.Destroy()
	n := len(r.stateList())
	f.inject("bob", "alice", protocol.MessageText, "late")
	time.Sleep(50 * time.Millisecond)
	if len(r.texts()) != 0 || len(r.stateList()) != n {
		t.Error("handler called after Destroy")
	}
	if err := c.Login(context.Background(), "alice", "tok-alice"); !errors.Is(err, ErrClosed) {
		t.Errorf("login after destroy: %v", err)
	}
	c.Destroy() // idempotent
}

func TestCreateValidates(t *testing.T) {
	for _, cfg := range []Config{
		{DeviceID: "d"},
		{AppID: "a"},
		{AppID: "a", DeviceID: "bad id"},
		{AppID: "a", DeviceID: "d", Platform: "amiga"},
		{AppID: "a", DeviceID: "d", Server: "ftp://x"},
	} {
		if _, err := Create(cfg); err == nil {
			t.Errorf("Create(%+v) succeeded", cfg)
		}
	}
}

func TestWSURL(t *testing.T) {
	for in, want := range map[string]string{
		"ws://127.0.0.1:8080":       "ws://127.0.0.1:8080/v1/ws",
		"http://h:1/":               "ws://h:1/v1/ws",
		"https://h/prefix":          "wss://h/prefix/v1/ws",
		"wss://h/v1/ws":             "wss://h/v1/ws",
		"ws://h:8080/herald/v1/ws/": "ws://h:8080/herald/v1/ws",
	} {
		got, err := wsURL(in)
		if err != nil || got != want {
			t.Errorf("wsURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestBackoff(t *testing.T) {
	min, max := 500*time.Millisecond, 30*time.Second
	for _, tc := range []struct {
		n      int
		lo, hi time.Duration
	}{
		{0, 250 * time.Millisecond, 500 * time.Millisecond},
		{1, 500 * time.Millisecond, time.Second},
		{2, time.Second, 2 * time.Second},
		{5, 8 * time.Second, 16 * time.Second},
		{6, 15 * time.Second, 30 * time.Second},
		{100, 15 * time.Second, 30 * time.Second},
	} {
		lo, hi := backoff(tc.n, min, max, 0), backoff(tc.n, min, max, 0.999999)
		if lo != tc.lo {
			t.Errorf("backoff(%d) min = %v, want %v", tc.n, lo, tc.lo)
		}
		if hi > tc.hi || hi < tc.hi-time.Millisecond {
			t.Errorf("backoff(%d) max = %v, want %v", tc.n, hi, tc.hi)
		}
	}
}

func TestGenerateToken(t *testing.T) {
	tok, err := GenerateToken("app", "secret", "alice", time.Hour)
	if err != nil || tok == "" {
		t.Fatal(tok, err)
	}
	if _, err := GenerateToken("app", "secret", "alice", 0); err == nil {
		t.Error("zero ttl accepted")
	}
}

func TestSlowHandlerPausesReading(t *testing.T) {
	f := newFakeServer(t)
	f.hbMs, f.offlineMs = 20, 150
	c, r := newTestClient(t, f, nil)
	c.maxQueued = 5
	release := make(chan struct{})
	var once sync.Once
	entered := make(chan struct{})
	r.onMessage = func(Message) { once.Do(func() { close(entered); <-release }) }
	login(t, c, "alice")
	var want []string
	for i := 1; i <= 40; i++ {
		want = append(want, fmt.Sprint(i))
		f.inject("bob", "alice", protocol.MessageText, fmt.Sprint(i))
	}
	<-entered
	// Hold the handler for more than the offline window: the paused reader
	// must neither queue without bound nor be taken for a dead connection.
	deadline := time.Now().Add(400 * time.Millisecond)
	for time.Now().Before(deadline) {
		c.mu.Lock()
		n := c.queuedMsgs
		c.mu.Unlock()
		if n > 6 {
			t.Fatalf("%d messages queued with a bound of 5", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	close(release)
	wantTexts(t, r, want...)
	if l, _, _, _ := f.counts(); l != 1 {
		t.Errorf("logins = %d: the paused reader was taken for a dead connection", l)
	}
}
