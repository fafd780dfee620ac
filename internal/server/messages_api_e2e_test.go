package server_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/heraldim/herald/internal/protocol"
	"github.com/heraldim/herald/internal/testkit"
)

// apiCall makes a server API call with admin key key and decodes the
// answer into out (when not nil); it returns the status and the error body
// of an error answer.
func apiCall(t *testing.T, s *testkit.Server, key, path string, body any, out any) (int, protocol.Error) {
	t.Helper()
	var b []byte
	switch v := body.(type) {
	case string:
		b = []byte(v)
	default:
		var err error
		if b, err = json.Marshal(body); err != nil {
			t.Fatal(err)
		}
	}
	req, err := http.NewRequest("POST", s.HTTP+"/v1/apps/"+s.App.AppID+path, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e protocol.Error
	if resp.StatusCode != http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
			t.Fatalf("%s: status %d without an error body: %v", path, resp.StatusCode, err)
		}
		return resp.StatusCode, e
	}
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode, e
}

// serverSend sends through POST /messages and fails the test unless it
// is answered 200.
func serverSend(t *testing.T, s *testkit.Server, body map[string]any) protocol.SendReply {
	t.Helper()
	var r protocol.SendReply
	if st, e := apiCall(t, s, s.App.AdminKey, "/messages", body, &r); st != 200 {
		t.Fatalf("send %v: %d %+v", body, st, e)
	}
	return r
}

func text(from, to, localID, txt string) map[string]any {
	return map[string]any{"fromUserID": from, "conversationID": to, "conversationType": 0,
		"localMessageID": localID, "type": 1, "text": txt}
}

func peerHistory(t *testing.T, c *testkit.Client, peer string) []protocol.Message {
	t.Helper()
	var r protocol.HistoryReply
	if err := c.Call(protocol.TypeHistory, protocol.HistoryRequest{ConversationID: peer, AfterSeq: at(0)}, &r); err != nil {
		t.Fatalf("history with %s: %v", peer, err)
	}
	return r.Messages
}

// TestServerSendAsUserLive: a message sent by the app's server as alice
// (through the server API) reaches bob's live session, and alice's own
// live session too unless syncToSender is false; a sender that never
// logged in can send; the reply comes after the commit.
func TestServerSendAsUserLive(t *testing.T) {
	s := testkit.Start(t, nil)
	bob := member(t, s, "bob")
	alice := member(t, s, "alice")

	r := serverSend(t, s, text("alice", "bob", "m1", "from the backend"))
	if r.MessageID == "" || r.ConversationSeq != 1 || r.Timestamp == 0 || r.Duplicate {
		t.Fatalf("reply %+v", r)
	}
	m := bob.Message(wait)
	if m.SenderUserID != "alice" || m.ConversationID != "alice" || m.Text != "from the backend" || m.System || m.MessageID != r.MessageID || m.Offline {
		t.Fatalf("bob got %+v", m)
	}
	if own := alice.Message(wait); own.MessageID != r.MessageID || own.ConversationID != "bob" || own.SenderUserID != "alice" {
		t.Fatalf("alice's session got %+v", own)
	}

	off := map[string]any{"fromUserID": "alice", "conversationID": "bob", "conversationType": 0,
		"localMessageID": "m2", "type": 1, "text": "not to alice's sessions", "syncToSender": false}
	r2 := serverSend(t, s, off)
	if m := bob.Message(wait); m.MessageID != r2.MessageID || m.ConversationSeq != 2 {
		t.Fatalf("bob got %+v, want the second message", m)
	}
	alice.NoEvent(100 * time.Millisecond)
	// It is part of the conversation all the same.
	if h := peerHistory(t, alice, "bob"); len(h) != 2 || h[1].MessageID != r2.MessageID {
		t.Fatalf("alice's history %+v", h)
	}

	// A sender that never logged in.
	r3 := serverSend(t, s, text("zed", "bob", "z1", "hello from zed"))
	if m := bob.Message(wait); m.MessageID != r3.MessageID || m.SenderUserID != "zed" || m.ConversationSeq != 1 {
		t.Fatalf("bob got %+v from zed", m)
	}
}

// TestServerSendOfflinePush: a server API message with a push config to
// an offline user plans its push job in the message's transaction, as a
// WebSocket send does; the user gets the message at its next login.
func TestServerSendOfflinePush(t *testing.T) {
	s := testkit.Start(t, nil)
	pushID := goOffline(t, s, "bob", protocol.PushRegistration{Vendor: "apns", Token: "cc01", Environment: "development", BundleID: "com.example.chat"})
	body := text("alice", "bob", "p1", "you have mail")
	body["pushConfig"] = map[string]any{"title": "Alice", "content": "you have mail"}
	r := serverSend(t, s, body)
	jobs := jobsFor(t, s, "bob")
	if len(jobs) != 1 || strconv.FormatInt(jobs[0].MessageID, 10) != r.MessageID || jobs[0].PushID != pushID {
		t.Fatalf("bob's jobs %+v, want one for message %s", jobs, r.MessageID)
	}
	if jobs[0].PushConfig.Title != "Alice" {
		t.Fatalf("job push config %+v", jobs[0].PushConfig)
	}
	if jobs := jobsFor(t, s, "alice"); len(jobs) != 0 {
		t.Fatalf("the sender got jobs %+v", jobs)
	}
	// Without a push config: no job.
	serverSend(t, s, text("alice", "bob", "p2", "quiet"))
	if jobs := jobsFor(t, s, "bob"); len(jobs) != 1 {
		t.Fatalf("bob has %d jobs, want 1", len(jobs))
	}
	bobC := s.LoginAs(t, "bob", "ios", "phone-bob")
	if msgs, _ := bobC.SyncDone(wait); len(msgs) != 2 || msgs[0].MessageID != r.MessageID || !msgs[0].Offline {
		t.Fatalf("bob synced %+v", msgs)
	}
}

// TestServerSendAsSystem: the system sends to a group it is no member of
// and to a user; clients see system: true and the sender @system. A user
// sending to a group it is not in is refused, as on the WebSocket, and
// nobody logs in as or sends to @system.
func TestServerSendAsSystem(t *testing.T) {
	s := testkit.Start(t, nil)
	alice, bob := member(t, s, "alice"), member(t, s, "bob")
	mustOK(t, "create", alice.Call(protocol.TypeGroupCreate, protocol.GroupCreateRequest{GroupID: "team", Name: "Team", Members: []string{"bob"}}, nil))
	for _, c := range []*testkit.Client{alice, bob} {
		event[protocol.GroupStateChanged](t, c, protocol.EventGroupStateChanged)
	}

	r := serverSend(t, s, map[string]any{"system": true, "conversationID": "team", "conversationType": 2,
		"localMessageID": "welcome", "type": 1, "text": "Welcome to Team"})
	for _, c := range []*testkit.Client{alice, bob} {
		m := c.Message(wait)
		if !m.System || m.SenderUserID != protocol.SystemUserID || m.ConversationID != "team" || m.MessageID != r.MessageID || m.ConversationSeq != 1 {
			t.Fatalf("group member got %+v", m)
		}
	}
	if h, err := history(t, bob, "team"); err != nil || len(h) != 1 || !h[0].System {
		t.Fatalf("group history %+v %v", h, err)
	}

	// A user not in the group cannot send there; nothing is stored.
	if st, e := apiCall(t, s, s.App.AdminKey, "/messages", map[string]any{"fromUserID": "carol", "conversationID": "team",
		"conversationType": 2, "localMessageID": "c1", "type": 1, "text": "let me in"}, nil); st != 403 || e.Code != protocol.CodeNotGroupMember {
		t.Fatalf("non-member send: %d %+v", st, e)
	}
	// A member can, as on the WebSocket.
	rb := serverSend(t, s, map[string]any{"fromUserID": "bob", "conversationID": "team", "conversationType": 2,
		"localMessageID": "b1", "type": 1, "text": "thanks"})
	if m := alice.Message(wait); m.MessageID != rb.MessageID || m.System || m.SenderUserID != "bob" || m.ConversationSeq != 2 {
		t.Fatalf("alice got %+v, want bob's message right after the system's", m)
	}
	if m := bob.Message(wait); m.MessageID != rb.MessageID {
		t.Fatalf("bob's session got %+v", m)
	}

	// To a user: the peer conversation @system.
	rs := serverSend(t, s, map[string]any{"system": true, "conversationID": "bob", "conversationType": 0,
		"localMessageID": "notice", "type": 1, "text": "Your plan renews tomorrow"})
	if m := bob.Message(wait); !m.System || m.ConversationID != protocol.SystemUserID || m.MessageID != rs.MessageID {
		t.Fatalf("bob got %+v", m)
	}
	if h := peerHistory(t, bob, protocol.SystemUserID); len(h) != 1 || !h[0].System {
		t.Fatalf("bob's history with the system %+v", h)
	}

	// @system is reserved.
	c := testkit.Dial(t, s.URL)
	wantCode(t, "login as @system", c.Login(s.App.AppID, protocol.SystemUserID, s.Token(t, protocol.SystemUserID, time.Hour), "ios", "x"), protocol.CodeReservedUserID)
	_, err := bob.SendText(protocol.SystemUserID, "s1", "hello?")
	wantCode(t, "send to @system", err, protocol.CodeReservedUserID)
}

// TestServerSendRetryStoredOnce: the same localMessageID and content is
// stored once and answered as a duplicate with the stored message; other
// content under it is a conflict.
func TestServerSendRetryStoredOnce(t *testing.T) {
	s := testkit.Start(t, nil)
	bob := member(t, s, "bob")
	first := serverSend(t, s, text("alice", "bob", "same", "once"))
	again := serverSend(t, s, text("alice", "bob", "same", "once"))
	if !again.Duplicate || again.MessageID != first.MessageID || again.ConversationSeq != first.ConversationSeq || again.Timestamp != first.Timestamp {
		t.Fatalf("retry %+v, first %+v", again, first)
	}
	if st, e := apiCall(t, s, s.App.AdminKey, "/messages", text("alice", "bob", "same", "other"), nil); st != 409 || e.Code != protocol.CodeLocalIDConflict {
		t.Fatalf("reuse with other content: %d %+v", st, e)
	}
	next := serverSend(t, s, text("alice", "bob", "next", "twice?"))
	// Bob's session got the message once: the next one follows it.
	if m := bob.Message(wait); m.MessageID != first.MessageID {
		t.Fatalf("bob got %+v", m)
	}
	if m := bob.Message(wait); m.MessageID != next.MessageID || m.ConversationSeq != 2 {
		t.Fatalf("bob got %+v, want the next message (seq 2)", m)
	}
}

// TestServerSendBadInput: bad bodies get their documented codes and store
// nothing; a wrong admin key is refused.
func TestServerSendBadInput(t *testing.T) {
	s := testkit.Start(t, nil)
	ok := func() map[string]any { return text("alice", "bob", "l1", "hi") }
	with := func(k string, v any) map[string]any {
		b := ok()
		if v == nil {
			delete(b, k)
		} else {
			b[k] = v
		}
		return b
	}
	cases := []struct {
		name   string
		body   any
		status int
		code   protocol.Code
	}{
		{"not JSON", "{", 400, protocol.CodeInvalidArgument},
		{"unknown field", with("colour", "red"), 400, protocol.CodeInvalidArgument},
		{"no sender", with("fromUserID", nil), 400, protocol.CodeInvalidArgument},
		{"sender and system", with("system", true), 400, protocol.CodeInvalidArgument},
		{"sender @system", with("fromUserID", protocol.SystemUserID), 400, protocol.CodeReservedUserID},
		{"to @system", with("conversationID", protocol.SystemUserID), 400, protocol.CodeReservedUserID},
		{"bad sender", with("fromUserID", "a b"), 400, protocol.CodeInvalidUserID},
		{"bad recipient", with("conversationID", "a:b"), 400, protocol.CodeInvalidUserID},
		{"to oneself", with("conversationID", "alice"), 400, protocol.CodeInvalidConversation},
		{"conversation type", with("conversationType", 1), 400, protocol.CodeInvalidConversation},
		{"message type", with("type", 7), 400, protocol.CodeInvalidMessageType},
		{"empty text", with("text", ""), 400, protocol.CodeEmptyMessage},
		{"text too large", with("text", strings.Repeat("x", protocol.MaxTextBytes+1)), 413, protocol.CodeMessageTooLarge},
		{"priority", with("priority", 9), 400, protocol.CodeInvalidPriority},
		{"push config", with("pushConfig", map[string]any{"title": strings.Repeat("t", protocol.MaxPushTitleBytes+1)}), 400, protocol.CodeInvalidPushConfig},
		{"no local ID", with("localMessageID", nil), 400, protocol.CodeInvalidArgument},
		{"unknown group", map[string]any{"system": true, "conversationID": "nogroup", "conversationType": 2, "localMessageID": "g", "type": 1, "text": "x"}, 404, protocol.CodeGroupNotFound},
	}
	for _, tc := range cases {
		if st, e := apiCall(t, s, s.App.AdminKey, "/messages", tc.body, nil); st != tc.status || e.Code != tc.code {
			t.Errorf("%s: %d %+v, want %d %d", tc.name, st, e, tc.status, tc.code)
		}
	}
	if st, e := apiCall(t, s, "wrong-key", "/messages", ok(), nil); st != 401 || e.Code != protocol.CodeAdminUnauthorized {
		t.Errorf("wrong admin key: %d %+v", st, e)
	}
	if st, e := apiCall(t, s, s.App.AdminKey, "/messages/batch", map[string]any{"system": true, "toUserIDs": []string{}, "localMessageID": "b", "type": 1, "text": "x"}, nil); st != 400 || e.Code != protocol.CodeInvalidArgument {
		t.Errorf("empty batch: %d %+v", st, e)
	}
	if st, e := apiCall(t, s, s.App.AdminKey, "/messages/import", map[string]any{"messages": []any{}}, nil); st != 400 || e.Code != protocol.CodeInvalidArgument {
		t.Errorf("empty import: %d %+v", st, e)
	}
	bob := member(t, s, "bob")
	var list protocol.ConversationListReply
	mustOK(t, "list", bob.Call(protocol.TypeConversationList, protocol.ConversationListRequest{}, &list))
	if len(list.Conversations) != 0 {
		t.Fatalf("bad sends stored something: %+v", list.Conversations)
	}
}

// TestServerSendBatch: one message to many users, each its own; a bad
// recipient has its error and the others are sent; a retry is a
// duplicate for each.
func TestServerSendBatch(t *testing.T) {
	s := testkit.Start(t, nil)
	bob, carol := member(t, s, "bob"), member(t, s, "carol")
	body := map[string]any{"system": true, "toUserIDs": []string{"bob", "a b", "carol", protocol.SystemUserID},
		"localMessageID": "promo-1", "type": 1, "text": "Sale today"}
	var res struct {
		Results []struct {
			ToUserID        string          `json:"toUserID"`
			MessageID       string          `json:"messageID"`
			ConversationSeq int64           `json:"conversationSeq"`
			Duplicate       bool            `json:"duplicate"`
			Error           *protocol.Error `json:"error"`
		} `json:"results"`
		Stored, Duplicates, Failed int
	}
	if st, e := apiCall(t, s, s.App.AdminKey, "/messages/batch", body, &res); st != 200 {
		t.Fatalf("batch: %d %+v", st, e)
	}
	if len(res.Results) != 4 || res.Stored != 2 || res.Failed != 2 ||
		res.Results[1].Error == nil || res.Results[1].Error.Code != protocol.CodeInvalidUserID ||
		res.Results[3].Error == nil || res.Results[3].Error.Code != protocol.CodeReservedUserID {
		t.Fatalf("batch results %+v", res)
	}
	for i, c := range map[int]*testkit.Client{0: bob, 2: carol} {
		m := c.Message(wait)
		if !m.System || m.Text != "Sale today" || m.MessageID != res.Results[i].MessageID || m.LocalMessageID != "promo-1:"+res.Results[i].ToUserID {
			t.Fatalf("%s got %+v (result %+v)", res.Results[i].ToUserID, m, res.Results[i])
		}
	}
	first := res.Results[0].MessageID
	if st, e := apiCall(t, s, s.App.AdminKey, "/messages/batch", body, &res); st != 200 || res.Duplicates != 2 || res.Stored != 0 || res.Results[0].MessageID != first {
		t.Fatalf("batch retry: %d %+v %+v", st, e, res)
	}
}

// importResults is the answer of a batch or an import.
type importResults struct {
	Results []struct {
		MessageID       string          `json:"messageID"`
		ConversationSeq int64           `json:"conversationSeq"`
		Timestamp       int64           `json:"timestamp"`
		Duplicate       bool            `json:"duplicate"`
		Error           *protocol.Error `json:"error"`
	} `json:"results"`
	Stored, Duplicates, Failed int
}

// TestServerImportHistory: imported messages land in the order given with
// their original timestamps and senders, refused ones have their errors
// and stop nothing, nothing is pushed or delivered live, nothing counts
// unread, a retry stores nothing, and the recipient's next sync brings
// them as offline messages.
func TestServerImportHistory(t *testing.T) {
	s := testkit.Start(t, nil)
	goOffline(t, s, "bob", protocol.PushRegistration{Vendor: "apns", Token: "dd01", Environment: "development", BundleID: "com.example.chat"})
	alice := member(t, s, "alice")
	t0 := time.Now().Add(-72 * time.Hour).UnixMilli()
	msg := func(from, to, id, txt string, ts int64) map[string]any {
		return map[string]any{"fromUserID": from, "conversationID": to, "conversationType": 0,
			"localMessageID": id, "type": 1, "text": txt, "timestamp": ts}
	}
	pushed := msg("alice", "bob", "old-x", "pushed?", t0)
	pushed["pushConfig"] = map[string]any{"title": "x"}
	body := map[string]any{"messages": []any{
		msg("alice", "bob", "old-1", "first", t0),
		msg("bob", "alice", "old-2", "second", t0+60_000),
		msg("alice", "bob", "old-bad", "no time", 0),
		pushed,
		msg("alice", "bob", "old-3", "third, clock went back", t0-3_600_000),
		msg("alice", "bob", "old-future", "from the future", time.Now().Add(time.Hour).UnixMilli()),
	}}
	var res importResults
	if st, e := apiCall(t, s, s.App.AdminKey, "/messages/import", body, &res); st != 200 {
		t.Fatalf("import: %d %+v", st, e)
	}
	if res.Stored != 3 || res.Failed != 3 || len(res.Results) != 6 {
		t.Fatalf("import results %+v", res)
	}
	for i, want := range map[int]protocol.Code{2: protocol.CodeInvalidTimestamp, 3: protocol.CodeInvalidPushConfig, 5: protocol.CodeInvalidTimestamp} {
		if e := res.Results[i].Error; e == nil || e.Code != want {
			t.Errorf("message %d: error %+v, want %d", i, e, want)
		}
	}
	wantSeqs := map[int]int64{0: 1, 1: 2, 4: 3}
	wantTS := map[int]int64{0: t0, 1: t0 + 60_000, 4: t0 - 3_600_000}
	for i, seq := range wantSeqs {
		if r := res.Results[i]; r.Error != nil || r.ConversationSeq != seq || r.Timestamp != wantTS[i] {
			t.Errorf("message %d: %+v, want seq %d at %d", i, r, seq, wantTS[i])
		}
	}

	// Not delivered live, not pushed, not unread.
	alice.NoEvent(100 * time.Millisecond)
	if jobs := jobsFor(t, s, "bob"); len(jobs) != 0 {
		t.Fatalf("import planned pushes %+v", jobs)
	}
	h := peerHistory(t, alice, "bob")
	if len(h) != 3 || h[0].Text != "first" || h[1].Text != "second" || h[1].SenderUserID != "bob" || h[2].Text != "third, clock went back" ||
		h[0].Timestamp != t0 || h[2].Timestamp != t0-3_600_000 {
		t.Fatalf("history %+v", h)
	}

	// A retry stores nothing.
	var again importResults
	if st, e := apiCall(t, s, s.App.AdminKey, "/messages/import", body, &again); st != 200 || again.Stored != 0 || again.Duplicates != 3 ||
		again.Results[0].MessageID != res.Results[0].MessageID {
		t.Fatalf("retry: %d %+v %+v", st, e, again)
	}

	// Bob's device had acknowledged nothing there: its next sync brings
	// the history, offline; nothing counts unread.
	bob := s.LoginAs(t, "bob", "ios", "phone-bob")
	msgs, _ := bob.SyncDone(wait)
	if len(msgs) != 3 || !msgs[0].Offline || msgs[0].Timestamp != t0 || msgs[2].ConversationSeq != 3 {
		t.Fatalf("bob synced %+v", msgs)
	}
	var list protocol.ConversationListReply
	mustOK(t, "list", bob.Call(protocol.TypeConversationList, protocol.ConversationListRequest{}, &list))
	if len(list.Conversations) != 1 || list.Conversations[0].UnreadMessageCount != 0 || list.Conversations[0].LastMessage.Text != "third, clock went back" {
		t.Fatalf("bob's list %+v", list.Conversations)
	}

	// A live message after them follows them, and counts unread.
	r := serverSend(t, s, text("alice", "bob", "new-1", "now"))
	if m := bob.Message(wait); m.MessageID != r.MessageID || m.ConversationSeq != 4 {
		t.Fatalf("bob got %+v", m)
	}
	mustOK(t, "list", bob.Call(protocol.TypeConversationList, protocol.ConversationListRequest{}, &list))
	if list.Conversations[0].UnreadMessageCount != 1 {
		t.Fatalf("unread %d after a live message, want 1", list.Conversations[0].UnreadMessageCount)
	}
}

// TestServerImportGroupHistory: group history imports without membership
// of the senders, counts nothing unread for members that had read
// everything, and refuses an unknown group in its result.
func TestServerImportGroupHistory(t *testing.T) {
	s := testkit.Start(t, nil)
	alice, bob := member(t, s, "alice"), member(t, s, "bob")
	mustOK(t, "create", alice.Call(protocol.TypeGroupCreate, protocol.GroupCreateRequest{GroupID: "team", Name: "Team", Members: []string{"bob"}}, nil))
	t0 := time.Now().Add(-time.Hour).UnixMilli()
	g := func(from, id string, ts int64, group string) map[string]any {
		return map[string]any{"fromUserID": from, "conversationID": group, "conversationType": 2,
			"localMessageID": id, "type": 1, "text": id, "timestamp": ts}
	}
	body := map[string]any{"messages": []any{g("carol", "g1", t0, "team"), g("alice", "g2", t0+1, "team"), g("alice", "g3", t0, "nogroup")}}
	var res importResults
	if st, e := apiCall(t, s, s.App.AdminKey, "/messages/import", body, &res); st != 200 || res.Stored != 2 ||
		res.Results[2].Error == nil || res.Results[2].Error.Code != protocol.CodeGroupNotFound {
		t.Fatalf("import: %d %+v %+v", st, e, res)
	}
	h, err := history(t, bob, "team")
	if err != nil || len(h) != 2 || h[0].Text != "g2" || h[1].Text != "g1" || h[1].SenderUserID != "carol" {
		t.Fatalf("history (newest first) %+v %v", h, err)
	}
	var list protocol.ConversationListReply
	mustOK(t, "list", bob.Call(protocol.TypeConversationList, protocol.ConversationListRequest{}, &list))
	if len(list.Conversations) != 1 || list.Conversations[0].UnreadMessageCount != 0 {
		t.Fatalf("bob's list %+v", list.Conversations)
	}
}
