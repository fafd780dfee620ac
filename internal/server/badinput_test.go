package server_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/heraldim/herald/internal/protocol"
	"github.com/heraldim/herald/internal/testkit"
	"github.com/heraldim/herald/internal/token"
)

// TestBadFramesBeforeLogin: each malformed or premature frame gets its
// documented code, and the connection stays usable.
func TestBadFramesBeforeLogin(t *testing.T) {
	s := testkit.Start(t, nil)
	c := testkit.Dial(t, s.URL)
	cases := []struct {
		name string
		raw  string
		code protocol.Code
	}{
		{"not json", `hello`, protocol.CodeBadFrame},
		{"truncated json", `{"type":"login","id":"1"`, protocol.CodeBadFrame},
		{"array", `[1,2]`, protocol.CodeBadFrame},
		{"no type", `{"id":"1"}`, protocol.CodeBadFrame},
		{"unknown type", `{"type":"teleport","id":"1"}`, protocol.CodeUnknownType},
		{"missing id", `{"type":"send","data":{}}`, protocol.CodeMissingID},
		{"id too long", `{"type":"ping","id":"` + strings.Repeat("x", 65) + `"}`, protocol.CodeInvalidArgument},
		{"send before login", `{"type":"send","id":"1","data":{"conversationID":"bob","type":1,"text":"x","localMessageID":"a"}}`, protocol.CodeNotLoggedIn},
		{"history before login", `{"type":"history","id":"1","data":{"conversationID":"bob"}}`, protocol.CodeNotLoggedIn},
		{"login data of wrong shape", `{"type":"login","id":"1","data":{"userID":5}}`, protocol.CodeBadFrame},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := c.WriteRaw([]byte(tc.raw)); err != nil {
				t.Fatal(err)
			}
			f := c.Next(wait)
			if f.Type != protocol.TypeReply || f.Error == nil || f.Error.Code != tc.code {
				t.Fatalf("got %s %+v, want error %d", f.Type, f.Error, tc.code)
			}
		})
	}
	// Still usable: a good login works on the same connection.
	if err := c.Login(s.App.AppID, "bob", s.Token(t, "bob", time.Hour), "ios", "d"); err != nil {
		t.Fatalf("login after bad frames: %v", err)
	}
}

func TestBadLogins(t *testing.T) {
	s := testkit.Start(t, nil)
	now := time.Now()
	otherApp, _ := token.Mint("other-app", "other-secret", "bob", time.Hour, now)
	forgedApp, _ := token.Mint(s.App.AppID, "not-the-secret", "bob", time.Hour, now)
	expired, _ := token.Mint(s.App.AppID, s.App.Secret, "bob", time.Minute, now.Add(-time.Hour))
	good := s.Token(t, "bob", time.Hour)
	cases := []struct {
		name                         string
		app, user, tok, plat, device string
		code                         protocol.Code
	}{
		{"garbage token", s.App.AppID, "bob", "abc.def.ghi", "ios", "d", protocol.CodeTokenInvalid},
		{"empty token", s.App.AppID, "bob", "", "ios", "d", protocol.CodeTokenInvalid},
		{"wrong signature", s.App.AppID, "bob", forgedApp, "ios", "d", protocol.CodeTokenInvalid},
		{"expired", s.App.AppID, "bob", expired, "ios", "d", protocol.CodeTokenExpired},
		{"other app's token", s.App.AppID, "bob", otherApp, "ios", "d", protocol.CodeAppUnknown},
		{"unknown app", "other-app", "bob", otherApp, "ios", "d", protocol.CodeAppUnknown},
		{"token of another user", s.App.AppID, "alice", good, "ios", "d", protocol.CodeTokenInvalid},
		{"invalid user id", s.App.AppID, "bob smith", good, "ios", "d", protocol.CodeInvalidUserID},
		{"user id too long", s.App.AppID, strings.Repeat("b", 65), good, "ios", "d", protocol.CodeInvalidUserID},
		{"unknown platform", s.App.AppID, "bob", good, "symbian", "d", protocol.CodeInvalidArgument},
		{"no device", s.App.AppID, "bob", good, "ios", "", protocol.CodeInvalidArgument},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := testkit.Dial(t, s.URL)
			err := c.Login(tc.app, tc.user, tc.tok, tc.plat, tc.device)
			if err == nil || err.Code != tc.code {
				t.Fatalf("login: %v, want code %d", err, tc.code)
			}
			if s.Online(tc.user) {
				t.Fatalf("%s is online after a failed login", tc.user)
			}
		})
	}
	c := s.LoginAs(t, "bob", "ios", "d")
	c.SyncDone(wait)
	if err := c.Login(s.App.AppID, "bob", good, "ios", "d"); err == nil || err.Code != protocol.CodeAlreadyLoggedIn {
		t.Fatalf("second login on a session: %v", err)
	}
}

// TestBadSends: each invalid send gets its code and stores nothing.
func TestBadSends(t *testing.T) {
	s := testkit.Start(t, nil)
	alice := s.LoginAs(t, "alice", "ios", "a")
	alice.SyncDone(wait)
	big := strings.Repeat("x", protocol.MaxTextBytes+1)
	cases := []struct {
		name string
		req  protocol.SendRequest
		code protocol.Code
	}{
		{"to invalid user", protocol.SendRequest{ConversationID: "b:b", LocalMessageID: "1", Type: 1, Text: "x"}, protocol.CodeInvalidUserID},
		{"to nobody", protocol.SendRequest{LocalMessageID: "1", Type: 1, Text: "x"}, protocol.CodeInvalidUserID},
		{"to self", protocol.SendRequest{ConversationID: "alice", LocalMessageID: "1", Type: 1, Text: "x"}, protocol.CodeInvalidConversation},
		{"unknown conversation type", protocol.SendRequest{ConversationID: "bob", ConversationType: 7, LocalMessageID: "1", Type: 1, Text: "x"}, protocol.CodeInvalidConversation},
		{"unknown message type", protocol.SendRequest{ConversationID: "bob", LocalMessageID: "1", Type: 99, Text: "x"}, protocol.CodeInvalidMessageType},
		{"empty text", protocol.SendRequest{ConversationID: "bob", LocalMessageID: "1", Type: 1}, protocol.CodeEmptyMessage},
		{"text over limit", protocol.SendRequest{ConversationID: "bob", LocalMessageID: "1", Type: 1, Text: big[:protocol.MaxTextBytes+1]}, protocol.CodeMessageTooLarge},
		{"custom without data", protocol.SendRequest{ConversationID: "bob", LocalMessageID: "1", Type: 200}, protocol.CodeEmptyMessage},
		{"no local id", protocol.SendRequest{ConversationID: "bob", Type: 1, Text: "x"}, protocol.CodeInvalidArgument},
		{"bad priority", protocol.SendRequest{ConversationID: "bob", LocalMessageID: "1", Type: 1, Text: "x", Priority: 9}, protocol.CodeInvalidPriority},
		{"push title too long", protocol.SendRequest{ConversationID: "bob", LocalMessageID: "1", Type: 1, Text: "x", PushConfig: &protocol.PushConfig{Title: big[:protocol.MaxPushTitleBytes+1]}}, protocol.CodeInvalidPushConfig},
		{"push on a command", protocol.SendRequest{ConversationID: "bob", Type: 2, Data: []byte("x"), PushConfig: &protocol.PushConfig{Title: "t"}}, protocol.CodeInvalidPushConfig},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := alice.Call(protocol.TypeSend, tc.req, nil)
			if err == nil || err.Code != tc.code {
				t.Fatalf("send: %v, want code %d", err, tc.code)
			}
		})
	}
	// A body at the limit is fine.
	if _, err := alice.SendText("bob", "max", big[:protocol.MaxTextBytes]); err != nil {
		t.Fatalf("text at the limit: %v", err)
	}
	var list protocol.ConversationListReply
	if err := alice.Call(protocol.TypeConversationList, protocol.ConversationListRequest{}, &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Conversations) != 1 || list.Conversations[0].LastMessage.ConversationSeq != 1 {
		t.Fatalf("bad sends changed state: %+v", list)
	}
	// Other bad requests.
	for name, tc := range map[string]struct {
		typ  string
		data any
		code protocol.Code
	}{
		"history of self":        {protocol.TypeHistory, protocol.HistoryRequest{ConversationID: "alice"}, protocol.CodeInvalidConversation},
		"history negative count": {protocol.TypeHistory, protocol.HistoryRequest{ConversationID: "bob", Count: -1}, protocol.CodeInvalidArgument},
		"list negative before":   {protocol.TypeConversationList, protocol.ConversationListRequest{Before: -1}, protocol.CodeInvalidArgument},
		"ack invalid peer":       {protocol.TypeAck, protocol.AckRequest{Acks: []protocol.AckPosition{{ConversationID: "no way"}}}, protocol.CodeInvalidUserID},
		"sync negative seq":      {protocol.TypeSync, protocol.SyncRequest{Positions: []protocol.AckPosition{{ConversationID: "bob", Seq: -1}}}, protocol.CodeInvalidArgument},
	} {
		t.Run(name, func(t *testing.T) {
			if err := alice.Call(tc.typ, tc.data, nil); err == nil || err.Code != tc.code {
				t.Fatalf("%s: %v, want %d", tc.typ, err, tc.code)
			}
		})
	}
}

// TestOversizedFrameClosesOnlyThatSession: a frame over the limit closes
// its connection with 1009; other sessions carry on.
func TestOversizedFrameClosesOnlyThatSession(t *testing.T) {
	s := testkit.Start(t, nil)
	bob := s.LoginAs(t, "bob", "ios", "b")
	bob.SyncDone(wait)
	bad := s.LoginAs(t, "mallory", "ios", "m")
	bad.SyncDone(wait)
	huge, _ := json.Marshal(protocol.Frame{Type: "send", ID: "1", Data: json.RawMessage(`"` + strings.Repeat("A", 2*protocol.MaxFrameBytes) + `"`)})
	_ = bad.WriteRaw(huge)
	if code := bad.CloseCode(wait); code != protocol.CloseTooBig {
		t.Fatalf("close code %d, want %d", code, protocol.CloseTooBig)
	}
	alice := s.LoginAs(t, "alice", "ios", "a")
	alice.SyncDone(wait)
	if _, err := alice.SendText("bob", "1", "fine"); err != nil {
		t.Fatal(err)
	}
	if m := bob.Message(wait); m.Text != "fine" {
		t.Fatalf("bob got %+v", m)
	}
}

// TestAppsAreIsolated: same user IDs in two apps share nothing.
func TestAppsAreIsolated(t *testing.T) {
	s := testkit.Start(t, nil)
	other := s.CreateApp(t, "second-app")
	alice := s.LoginAs(t, "alice", "ios", "a")
	alice.SyncDone(wait)
	if _, err := alice.SendText("bob", "1", "app one only"); err != nil {
		t.Fatal(err)
	}
	c := testkit.Dial(t, s.URL)
	tok, _ := token.Mint(other.AppID, other.Secret, "bob", time.Hour, time.Now())
	if err := c.Login(other.AppID, "bob", tok, "ios", "b"); err != nil {
		t.Fatal(err)
	}
	if msgs, n := c.SyncDone(wait); n != 0 {
		t.Fatalf("bob of app two synced app one's messages: %+v", msgs)
	}
	var h protocol.HistoryReply
	if err := c.Call(protocol.TypeHistory, protocol.HistoryRequest{ConversationID: "alice"}, &h); err != nil || len(h.Messages) != 0 {
		t.Fatalf("history across apps: %v %+v", err, h)
	}
	// A token of app two cannot log into app one.
	c2 := testkit.Dial(t, s.URL)
	if err := c2.Login(s.App.AppID, "bob", tok, "ios", "b"); err == nil || err.Code != protocol.CodeAppUnknown {
		t.Fatalf("cross-app login: %v", err)
	}
}
