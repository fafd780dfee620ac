package herald

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/heraldim/herald/internal/config"
	"github.com/heraldim/herald/internal/testkit"
)

// End-to-end tests against the real server, in process, through real
// sockets and SQLite.

func newE2EClient(t *testing.T, srv *testkit.Server, device string, mod func(*Config)) (*Client, *recorder) {
	t.Helper()
	cfg := Config{
		Server:       strings.TrimSuffix(srv.URL, "/v1/ws"),
		AppID:        srv.App.AppID,
		DeviceID:     device,
		ReconnectMin: 20 * time.Millisecond,
		ReconnectMax: 200 * time.Millisecond,
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

func e2eLogin(t *testing.T, srv *testkit.Server, c *Client, user string) {
	t.Helper()
	if err := c.Login(context.Background(), user, srv.Token(t, user, time.Hour)); err != nil {
		t.Fatalf("login %s: %v", user, err)
	}
}

func sendText(t *testing.T, c *Client, to, text string) Message {
	t.Helper()
	m, err := c.SendMessage(context.Background(), NewTextMessage(text), to, ConversationTypePeer, MessageSendConfig{})
	if err != nil {
		t.Fatalf("send %q: %v", text, err)
	}
	return m
}

func TestE2EOfflineLiveAndResume(t *testing.T) {
	srv := testkit.Start(t, nil)
	alice, _ := newE2EClient(t, srv, "a1", func(c *Config) { c.Platform = "server" })
	e2eLogin(t, srv, alice, "alice")
	for i := 1; i <= 3; i++ {
		sendText(t, alice, "bob", fmt.Sprint("off", i))
	}

	bob, r := newE2EClient(t, srv, "b1", nil)
	e2eLogin(t, srv, bob, "bob")
	wantTexts(t, r, "off1", "off2", "off3")
	eventually(t, "syncDone", func() bool { r.mu.Lock(); defer r.mu.Unlock(); return len(r.syncs) == 1 })
	if r.syncs[0] != 3 || !r.offline[0] {
		t.Errorf("syncDone %v, offline flags %v", r.syncs, r.offline)
	}
	sent := sendText(t, alice, "bob", "live")
	wantTexts(t, r, "off1", "off2", "off3", "live")
	r.mu.Lock()
	got := r.msgs[3]
	r.mu.Unlock()
	if got.MessageID != sent.MessageID || got.ConversationSeq != 4 || got.ConversationID != "alice" || r.offline[3] {
		t.Errorf("live message %+v, sent %+v", got, sent)
	}
	if err := bob.Logout(context.Background()); err != nil {
		t.Fatal(err)
	}

	// The same device resumes after what it acknowledged.
	bob2, r2 := newE2EClient(t, srv, "b1", nil)
	e2eLogin(t, srv, bob2, "bob")
	eventually(t, "syncDone", func() bool { r2.mu.Lock(); defer r2.mu.Unlock(); return len(r2.syncs) == 1 })
	if r2.syncs[0] != 0 || len(r2.texts()) != 0 {
		t.Errorf("resumed device got %d messages again", r2.syncs[0])
	}

	// Errors carry the server's code.
	_, err := bob2.SendMessage(context.Background(), NewTextMessage("me"), "bob", ConversationTypePeer, MessageSendConfig{})
	if !errors.Is(err, &Error{Code: CodeInvalidConversation}) {
		t.Errorf("send to self: %v", err)
	}
	hist, err := bob2.QueryHistoryMessage(context.Background(), "alice", ConversationTypePeer, HistoryQueryConfig{Count: 2})
	if err != nil || len(hist) != 2 || hist[0].Text != "live" {
		t.Errorf("history = %+v, %v", hist, err)
	}
	convs, err := bob2.QueryConversationList(context.Background(), ConversationQueryConfig{})
	if err != nil || len(convs) != 1 || convs[0].ConversationID != "alice" || convs[0].UnreadMessageCount != 4 {
		t.Errorf("conversations = %+v, %v", convs, err)
	}
	if err := bob2.ClearConversationUnreadMessageCount(context.Background(), "alice", ConversationTypePeer); err != nil {
		t.Error(err)
	}
}

func TestE2EReconnectAfterRestartDeduplicates(t *testing.T) {
	dir := t.TempDir()
	srv := testkit.Start(t, func(c *config.Config) { c.DataDir = dir; c.ShutdownGrace = time.Second })
	addr := strings.TrimPrefix(srv.HTTP, "http://")
	alice, _ := newE2EClient(t, srv, "a1", func(c *Config) { c.Platform = "server" })
	e2eLogin(t, srv, alice, "alice")
	// Bob acknowledges nothing before the restart.
	bob, r := newE2EClient(t, srv, "b1", func(c *Config) { c.AckInterval = time.Hour; c.AckBatch = 1000 })
	e2eLogin(t, srv, bob, "bob")
	for i := 1; i <= 3; i++ {
		sendText(t, alice, "bob", fmt.Sprint("m", i))
	}
	wantTexts(t, r, "m1", "m2", "m3")

	srv.Stop(t)
	eventually(t, "reconnecting", func() bool { return r.hasState(ConnectionStateReconnecting, ConnectionEventLoginInterrupted) })
	srv2 := testkit.Start(t, func(c *config.Config) { c.DataDir = dir; c.Addr = addr })
	eventually(t, "reconnected", func() bool {
		return bob.ConnectionState() == ConnectionStateConnected && alice.ConnectionState() == ConnectionStateConnected
	})
	sendText(t, alice, "bob", "m4")
	wantTexts(t, r, "m1", "m2", "m3", "m4")
	eventually(t, "resync", func() bool { r.mu.Lock(); defer r.mu.Unlock(); return len(r.syncs) == 2 })
	// The SDK acknowledges what it handled right after the new login, so the
	// server resends 0 to 3 messages depending on whether the ack overtook
	// its sync; either way each message reached the app once.
	t.Logf("resent after restart: %d", r.syncs[1])
	_ = srv2
}

func TestE2EHeartbeatAndKick(t *testing.T) {
	srv := testkit.Start(t, func(c *config.Config) {
		c.HeartbeatInterval = time.Second // the server's minimum
		c.OfflineAfter = 2 * time.Second
	})
	c1, r1 := newE2EClient(t, srv, "d1", nil)
	e2eLogin(t, srv, c1, "bob")
	// Past an offline window, both sides' watchdogs included: the SDK's
	// pings and the server's replies keep the session.
	time.Sleep(2500 * time.Millisecond)
	if st := r1.stateList(); len(st) != 2 || c1.ConnectionState() != ConnectionStateConnected {
		t.Fatalf("states with heartbeats = %v", st)
	}
	c2, _ := newE2EClient(t, srv, "d2", nil)
	e2eLogin(t, srv, c2, "bob") // same platform: kicks the first
	eventually(t, "kick", func() bool { return r1.hasState(ConnectionStateDisconnected, ConnectionEventKickedOut) })
	st := r1.stateList()
	if ext := st[len(st)-1].ext; ext["reason"] != 1 {
		t.Errorf("kick extended = %v", ext)
	}
}
