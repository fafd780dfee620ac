package server_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/heraldim/herald/internal/config"
	"github.com/heraldim/herald/internal/protocol"
	"github.com/heraldim/herald/internal/testkit"
)

const wait = 10 * time.Second

func TestOnlineDelivery(t *testing.T) {
	s := testkit.Start(t, nil)
	alice := s.LoginAs(t, "alice", "ios", "a1")
	bob := s.LoginAs(t, "bob", "android", "b1")
	alice.SyncDone(wait)
	bob.SyncDone(wait)

	r, err := alice.SendText("bob", "l1", "hello bob")
	if err != nil {
		t.Fatalf("send: %v", err)
	}
	if r.ConversationSeq != 1 || r.MessageID == "" || r.Duplicate {
		t.Fatalf("send reply = %+v, want seq 1 with an ID", r)
	}
	m := bob.Message(wait)
	want := protocol.Message{
		MessageID: r.MessageID, LocalMessageID: "l1", ConversationID: "alice", ConversationType: 0,
		ConversationSeq: 1, SenderUserID: "alice", Type: protocol.MessageText, Text: "hello bob",
		Priority: protocol.PriorityMedium, Timestamp: r.Timestamp,
	}
	if fmt.Sprint(m) != fmt.Sprint(want) {
		t.Fatalf("bob got %+v\nwant %+v", m, want)
	}
	// The sender's own session gets the reply, not the message back.
	alice.NoEvent(200 * time.Millisecond)

	// Custom messages carry binary bodies exactly.
	body := []byte{0, 1, 2, 0xff, 0xfe, 0, '"', '\\'}
	var cr protocol.SendReply
	if err := bob.Call(protocol.TypeSend, protocol.SendRequest{ConversationID: "alice", LocalMessageID: "b1", Type: protocol.MessageCustom, Data: body, SubType: 7}, &cr); err != nil {
		t.Fatal(err)
	}
	cm := alice.Message(wait)
	if string(cm.Data) != string(body) || cm.SubType != 7 || cm.ConversationSeq != 2 || cm.ConversationID != "bob" {
		t.Fatalf("alice got %+v", cm)
	}
}

func TestCommandIsLiveOnlyAndNeverStored(t *testing.T) {
	s := testkit.Start(t, nil)
	alice := s.LoginAs(t, "alice", "ios", "a1")
	bob := s.LoginAs(t, "bob", "android", "b1")
	alice.SyncDone(wait)
	bob.SyncDone(wait)
	var r protocol.SendReply
	if err := alice.Call(protocol.TypeSend, protocol.SendRequest{ConversationID: "bob", Type: protocol.MessageCommand, Data: []byte("typing")}, &r); err != nil {
		t.Fatal(err)
	}
	if r.ConversationSeq != 0 {
		t.Fatalf("command got seq %d; commands have none", r.ConversationSeq)
	}
	m := bob.Message(wait)
	if m.Type != protocol.MessageCommand || string(m.Data) != "typing" {
		t.Fatalf("bob got %+v", m)
	}
	// Offline user: nothing stored, nothing synced later.
	if err := alice.Call(protocol.TypeSend, protocol.SendRequest{ConversationID: "carol", Type: protocol.MessageCommand, Data: []byte("x")}, &r); err != nil {
		t.Fatal(err)
	}
	carol := s.LoginAs(t, "carol", "ios", "c1")
	if msgs, n := carol.SyncDone(wait); n != 0 || len(msgs) != 0 {
		t.Fatalf("carol synced %d messages: %+v", n, msgs)
	}
	var h protocol.HistoryReply
	if err := alice.Call(protocol.TypeHistory, protocol.HistoryRequest{ConversationID: "bob"}, &h); err != nil {
		t.Fatal(err)
	}
	if len(h.Messages) != 0 {
		t.Fatalf("history holds %d messages; commands are never stored", len(h.Messages))
	}
}

func TestOfflineSyncHundredInOrderOnce(t *testing.T) {
	s := testkit.Start(t, nil)
	alice := s.LoginAs(t, "alice", "ios", "a1")
	alice.SyncDone(wait)
	// Pipeline the sends: all in flight at once, replies in any order.
	const n = 100
	chans := make([]chan protocol.Frame, n)
	for i := range n {
		id := fmt.Sprint("s", i)
		chans[i] = alice.Expect(id)
		alice.Send(protocol.TypeSend, id, protocol.SendRequest{ConversationID: "bob", LocalMessageID: fmt.Sprint("m", i), Type: 1, Text: fmt.Sprint("msg ", i)})
	}
	for i := range n {
		if f := alice.Wait(chans[i], wait); f.Error != nil {
			t.Fatalf("send %d: %v", i, f.Error)
		}
	}

	bob := s.LoginAs(t, "bob", "android", "b1")
	msgs, count := bob.SyncDone(wait)
	if count != n || len(msgs) != n {
		t.Fatalf("synced %d messages (syncDone says %d), want %d", len(msgs), count, n)
	}
	texts := map[string]bool{}
	for i, m := range msgs {
		if m.ConversationSeq != int64(i+1) || !m.Offline || m.ConversationID != "alice" {
			t.Fatalf("message %d = %+v, want seq %d offline from alice", i, m, i+1)
		}
		if texts[m.Text] {
			t.Fatalf("message %q delivered twice", m.Text)
		}
		texts[m.Text] = true
	}
	bob.Ack("alice", n)
	// Acks are flushed asynchronously; a second device-session after the
	// first logs out gets nothing once the ack is stored.
	if err := bob.Call(protocol.TypeLogout, struct{}{}, nil); err != nil {
		t.Fatal(err)
	}
	bob2 := s.LoginAs(t, "bob", "android", "b1")
	if msgs, count := bob2.SyncDone(wait); count != 0 {
		t.Fatalf("after ack, relogin synced %d messages again: %+v", count, msgs[0])
	}
	// Another device of bob has its own position: it gets all 100.
	bobPad := s.LoginAs(t, "bob", "ipados", "b2")
	if _, count := bobPad.SyncDone(wait); count != n {
		t.Fatalf("second device synced %d, want %d", count, n)
	}
}

func TestRetryWithSameLocalIDStoredOnce(t *testing.T) {
	s := testkit.Start(t, nil)
	alice := s.LoginAs(t, "alice", "ios", "a1")
	alice.SyncDone(wait)
	first, err := alice.SendText("bob", "same", "hi")
	if err != nil {
		t.Fatal(err)
	}
	again, err := alice.SendText("bob", "same", "hi")
	if err != nil {
		t.Fatal(err)
	}
	if !again.Duplicate || again.MessageID != first.MessageID || again.ConversationSeq != first.ConversationSeq {
		t.Fatalf("retry reply %+v, want duplicate of %+v", again, first)
	}
	// Reuse with other content is refused and changes nothing.
	if _, err := alice.SendText("bob", "same", "different"); err == nil || err.Code != protocol.CodeLocalIDConflict {
		t.Fatalf("reuse with other content: err = %v, want %d", err, protocol.CodeLocalIDConflict)
	}
	bob := s.LoginAs(t, "bob", "android", "b1")
	msgs, _ := bob.SyncDone(wait)
	if len(msgs) != 1 || msgs[0].Text != "hi" {
		t.Fatalf("bob synced %+v, want exactly one 'hi'", msgs)
	}
}

func TestHistoryConversationsAndRead(t *testing.T) {
	s := testkit.Start(t, nil)
	alice := s.LoginAs(t, "alice", "ios", "a1")
	alice.SyncDone(wait)
	for i := range 5 {
		if _, err := alice.SendText("bob", fmt.Sprint("b", i), fmt.Sprint("to bob ", i)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := alice.SendText("carol", "c0", "to carol"); err != nil {
		t.Fatal(err)
	}
	bob := s.LoginAs(t, "bob", "android", "b1")
	bob.SyncDone(wait)

	var page1, page2 protocol.HistoryReply
	if err := bob.Call(protocol.TypeHistory, protocol.HistoryRequest{ConversationID: "alice", Count: 3}, &page1); err != nil {
		t.Fatal(err)
	}
	if len(page1.Messages) != 3 || !page1.HasMore || page1.Messages[0].ConversationSeq != 5 || page1.Messages[2].ConversationSeq != 3 {
		t.Fatalf("page 1 = %+v", page1)
	}
	if err := bob.Call(protocol.TypeHistory, protocol.HistoryRequest{ConversationID: "alice", Count: 3, BeforeSeq: 3}, &page2); err != nil {
		t.Fatal(err)
	}
	if len(page2.Messages) != 2 || page2.HasMore || page2.Messages[1].ConversationSeq != 1 {
		t.Fatalf("page 2 = %+v", page2)
	}

	var list protocol.ConversationListReply
	if err := alice.Call(protocol.TypeConversationList, protocol.ConversationListRequest{}, &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Conversations) != 2 || list.Conversations[0].ConversationID != "carol" || list.Conversations[1].ConversationID != "bob" {
		t.Fatalf("alice's list = %+v, want carol then bob", list)
	}
	if list.Conversations[1].UnreadMessageCount != 0 {
		t.Fatalf("the sender has %d unread of its own messages", list.Conversations[1].UnreadMessageCount)
	}
	if err := bob.Call(protocol.TypeConversationList, protocol.ConversationListRequest{}, &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Conversations) != 1 || list.Conversations[0].UnreadMessageCount != 5 || list.Conversations[0].LastMessage.Text != "to bob 4" {
		t.Fatalf("bob's list = %+v", list)
	}
	var mr protocol.MarkReadReply
	if err := bob.Call(protocol.TypeMarkRead, protocol.MarkReadRequest{ConversationID: "alice", Seq: 3}, &mr); err != nil {
		t.Fatal(err)
	}
	if mr.UnreadMessageCount != 2 {
		t.Fatalf("unread after reading to 3 = %d, want 2", mr.UnreadMessageCount)
	}
	if err := bob.Call(protocol.TypeMarkRead, protocol.MarkReadRequest{ConversationID: "alice"}, &mr); err != nil || mr.UnreadMessageCount != 0 {
		t.Fatalf("mark all read: %v, unread %d", err, mr.UnreadMessageCount)
	}
	// Carol's conversation is not bob's to read.
	if err := bob.Call(protocol.TypeMarkRead, protocol.MarkReadRequest{ConversationID: "carol"}, &mr); err == nil {
		t.Fatalf("bob marked a conversation he is not in")
	}
}

func TestKickOnSamePlatformLogin(t *testing.T) {
	s := testkit.Start(t, nil)
	first := s.LoginAs(t, "bob", "ios", "phone1")
	first.SyncDone(wait)
	desktop := s.LoginAs(t, "bob", "macos", "mac")
	desktop.SyncDone(wait)
	second := s.LoginAs(t, "bob", "ios", "phone2")
	second.SyncDone(wait)

	f := first.Next(wait)
	var k protocol.Kicked
	_ = json.Unmarshal(f.Data, &k)
	if f.Type != protocol.EventKicked || k.Reason != protocol.KickSamePlatform {
		t.Fatalf("first session got %s %s, want kicked", f.Type, f.Data)
	}
	if code := first.CloseCode(wait); code != protocol.CloseKicked {
		t.Fatalf("close code %d, want %d", code, protocol.CloseKicked)
	}
	// The other platform and the new session both still receive.
	alice := s.LoginAs(t, "alice", "web", "w")
	alice.SyncDone(wait)
	if _, err := alice.SendText("bob", "x", "still there?"); err != nil {
		t.Fatal(err)
	}
	if m := second.Message(wait); m.Text != "still there?" {
		t.Fatalf("second got %+v", m)
	}
	if m := desktop.Message(wait); m.Text != "still there?" {
		t.Fatalf("desktop got %+v", m)
	}
}

func TestSingleLoginPolicyKicksAnyPlatform(t *testing.T) {
	s := testkit.Start(t, func(c *config.Config) { c.MultiLogin = "single" })
	first := s.LoginAs(t, "bob", "ios", "phone")
	first.SyncDone(wait)
	cli := s.LoginAs(t, "bob", "server", "script") // never kicks, never kicked
	cli.SyncDone(wait)
	s.LoginAs(t, "bob", "macos", "mac").SyncDone(wait)
	if f := first.Next(wait); f.Type != protocol.EventKicked {
		t.Fatalf("got %s, want kicked", f.Type)
	}
	if code := first.CloseCode(wait); code != protocol.CloseKicked {
		t.Fatalf("close code %d", code)
	}
	if err := cli.Call(protocol.TypePing, struct{}{}, nil); err != nil {
		t.Fatalf("server-platform session was disturbed: %v", err)
	}
}

func TestSilentClientGoesOfflineWithinWindow(t *testing.T) {
	s, clk := testkit.StartFake(t, func(c *config.Config) {
		c.HeartbeatInterval = time.Second
		c.OfflineAfter = 3 * time.Second
	})
	// A client that logs in and then neither sends nor reads (so it never
	// answers the server's pings): a frozen app.
	c, freeze := testkit.DialFreezable(t, s.URL)
	if err := c.Login(s.App.AppID, "frozen", s.Token(t, "frozen", time.Hour), "android", "f"); err != nil {
		t.Fatal(err)
	}
	c.SyncDone(wait)
	freeze() // no more frames, no pongs to the server's pings
	if !s.Online("frozen") {
		t.Fatal("not online after login")
	}
	waitClockUsers(t, clk)
	clk.Advance(3*time.Second + time.Second) // window + reaper tick
	deadline := time.Now().Add(wait)
	for s.Online("frozen") {
		if time.Now().After(deadline) {
			t.Fatal("silent client still online past the offline window")
		}
		time.Sleep(100 * time.Millisecond)
	}

	// A client that heartbeats stays online past the window.
	live := s.LoginAs(t, "live", "android", "l")
	live.SyncDone(wait)
	for range 5 {
		clk.Advance(time.Second)
		if err := live.Call(protocol.TypePing, struct{}{}, nil); err != nil {
			t.Fatalf("ping: %v", err)
		}
	}
	if !s.Online("live") {
		t.Fatal("heartbeating client was dropped")
	}
}

func TestTokenWillExpireAndRenew(t *testing.T) {
	s, clk := testkit.StartFake(t, func(c *config.Config) { c.TokenWarnBefore = time.Hour })
	c := testkit.Dial(t, s.URL)
	if err := c.Login(s.App.AppID, "bob", s.Token(t, "bob", 30*time.Minute), "ios", "d"); err != nil {
		t.Fatal(err)
	}
	c.SyncDone(wait)
	waitClockUsers(t, clk)
	clk.Advance(time.Second) // the reaper's tick
	f := c.Next(wait)
	var w protocol.TokenWillExpire
	_ = json.Unmarshal(f.Data, &w)
	if f.Type != protocol.EventTokenWillExpir || w.SecondsLeft < 1700 || w.SecondsLeft > 1800 {
		t.Fatalf("got %s %s, want tokenWillExpire with ~1800 s left", f.Type, f.Data)
	}
	var rr protocol.RenewTokenReply
	if err := c.Call(protocol.TypeRenewToken, protocol.RenewTokenRequest{Token: s.Token(t, "bob", 2*time.Hour)}, &rr); err != nil {
		t.Fatal(err)
	}
	if time.Until(time.UnixMilli(rr.TokenExpiresAt)) < 110*time.Minute {
		t.Fatalf("renewed expiry %v", time.UnixMilli(rr.TokenExpiresAt))
	}
	// A token for another user is refused on renewal.
	if err := c.Call(protocol.TypeRenewToken, protocol.RenewTokenRequest{Token: s.Token(t, "mallory", 2*time.Hour)}, nil); err == nil || err.Code != protocol.CodeTokenInvalid {
		t.Fatalf("renew with another user's token: %v", err)
	}
}

func TestExpiredTokenClosesSession(t *testing.T) {
	s, clk := testkit.StartFake(t, func(c *config.Config) { c.TokenLeeway = 3 * time.Second })
	c := testkit.Dial(t, s.URL)
	// Expired, but within the leeway: accepted, warned at once, closed when
	// the leeway has passed too.
	tok := s.Token(t, "bob", time.Second)
	clk.Advance(1500 * time.Millisecond)
	if err := c.Login(s.App.AppID, "bob", tok, "ios", "d"); err != nil {
		t.Fatalf("token inside the leeway refused: %v", err)
	}
	c.SyncDone(wait)
	// The session's expiry is the token's: the reaper closes it.
	waitClockUsers(t, clk)
	clk.Advance(time.Second) // the reaper's tick, inside the leeway
	f := c.Next(wait)
	if f.Type != protocol.EventTokenWillExpir {
		t.Fatalf("got %s, want tokenWillExpire", f.Type)
	}
	clk.Advance(2 * time.Second) // past the leeway
	if code := c.CloseCode(wait); code != protocol.CloseTokenExpired {
		t.Fatalf("close code %d, want %d", code, protocol.CloseTokenExpired)
	}
}

func TestLogoutEndsSession(t *testing.T) {
	s := testkit.Start(t, nil)
	c := s.LoginAs(t, "bob", "ios", "d")
	c.SyncDone(wait)
	if err := c.Call(protocol.TypeLogout, struct{}{}, nil); err != nil {
		t.Fatal(err)
	}
	if code := c.CloseCode(wait); code != protocol.CloseLoggedOut {
		t.Fatalf("close code %d, want %d", code, protocol.CloseLoggedOut)
	}
	if s.Online("bob") {
		t.Fatal("still online after logout")
	}
	if !strings.Contains(fmt.Sprint(protocol.CloseReconnects(protocol.CloseLoggedOut)), "false") {
		t.Fatal("logout must not ask clients to reconnect")
	}
}

func TestSkipSyncLogin(t *testing.T) {
	s := testkit.Start(t, nil)
	alice := s.LoginAs(t, "alice", "ios", "a")
	alice.SyncDone(wait)
	if _, err := alice.SendText("bob", "1", "backlog"); err != nil {
		t.Fatal(err)
	}
	c := testkit.Dial(t, s.URL)
	if err := c.Call(protocol.TypeLogin, protocol.LoginRequest{AppID: s.App.AppID, UserID: "bob", Token: s.Token(t, "bob", time.Hour), Platform: "server", DeviceID: "script", SkipSync: true}, nil); err != nil {
		t.Fatal(err)
	}
	if msgs, n := c.SyncDone(wait); n != 0 || len(msgs) != 0 {
		t.Fatalf("skipSync login got %d stored messages", len(msgs))
	}
	if _, err := alice.SendText("bob", "2", "live"); err != nil {
		t.Fatal(err)
	}
	if m := c.Message(wait); m.Text != "live" || m.ConversationSeq != 2 {
		t.Fatalf("live message after skipSync: %+v", m)
	}
}
