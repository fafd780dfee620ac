package server_test

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/heraldim/herald/internal/config"
	apnsemu "github.com/heraldim/herald/internal/emulator/apns"
	"github.com/heraldim/herald/internal/protocol"
	"github.com/heraldim/herald/internal/testkit"
)

// The user offline push rule (updateUserOfflinePushRule): while bob's
// desktop is online his iPhone gets no push; while he is online only on
// another phone it does; the rule reaches his other sessions as
// userRuleUpdated and comes back from querySelfUserInfo.

// deskSilencesPhones is "while a desktop (macOS) is online, iPhones get no
// offline push".
var deskSilencesPhones = protocol.OfflinePushRule{
	OnlinePlatforms:                  []int{protocol.PlatformMacOS},
	NotToReceiveOfflinePushPlatforms: []int{protocol.PlatformIPhoneOS},
}

// noWeakPush turns the weak-network push off, so that the messages a
// session of these tests leaves unacknowledged are not pushed to it.
func noWeakPush(c *config.Config) { c.WeakPushAfter = 0 }

// ruleEvent reads c's frames up to its next userRuleUpdated event.
func ruleEvent(t *testing.T, c *testkit.Client) protocol.UserRuleUpdated {
	t.Helper()
	for {
		f := c.Next(wait)
		if f.Type != protocol.EventUserRuleUpdated {
			continue
		}
		var ev protocol.UserRuleUpdated
		if err := json.Unmarshal(f.Data, &ev); err != nil {
			t.Fatal(err)
		}
		return ev
	}
}

// offlinePhone registers bob's iPhone with the APNs emulator on s and
// leaves it offline, its end checked.
func offlinePhone(t *testing.T, s *testkit.Server, em *apnsemu.Emulator) string {
	t.Helper()
	ends := watchEnds(t, s)
	phone, tok := phone(t, s, em, "bob", "phone")
	phone.SyncDone(wait)
	phone.Close()
	ends.wait(1, wait)
	return tok
}

func TestPushRuleSilencesPhoneWhileDesktopOnline(t *testing.T) {
	s := testkit.Start(t, noWeakPush)
	em := startAPNs(t, s)
	tok := offlinePhone(t, s, em)
	alice := s.LoginAs(t, "alice", "server", "script")
	alice.SyncDone(wait)
	pc := func(content string) *protocol.PushConfig {
		return &protocol.PushConfig{Title: "Alice", Content: content}
	}

	// Bob is online on another iPhone, which registered its own device.
	other, otherTok := phone(t, s, em, "bob", "other-phone")
	other.SyncDone(wait)
	// No rule: a live session means no push anywhere.
	sendWithPush(t, alice, "bob", "m0", pc("zero"))

	desk := s.LoginAs(t, "bob", "macos", "desk")
	desk.SyncDone(wait)
	var reply protocol.UpdateUserOfflinePushRuleReply
	if err := desk.Call(protocol.TypeUpdateUserOfflinePushRule, protocol.UpdateUserOfflinePushRuleRequest{OfflinePushRule: deskSilencesPhones}, &reply); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(reply.OfflinePushRule.OnlinePlatforms, []int{4}) || !slices.Equal(reply.OfflinePushRule.NotToReceiveOfflinePushPlatforms, []int{2}) {
		t.Fatalf("reply %+v", reply)
	}
	// The other device hears of it.
	ev := ruleEvent(t, other)
	if !slices.Equal(ev.UserRule.OfflinePushRule.OnlinePlatforms, []int{4}) || !slices.Equal(ev.UserRule.OfflinePushRule.NotToReceiveOfflinePushPlatforms, []int{2}) {
		t.Fatalf("userRuleUpdated %+v", ev)
	}
	var self protocol.SelfUserInfo
	if err := other.Call(protocol.TypeQuerySelfUserInfo, struct{}{}, &self); err != nil {
		t.Fatal(err)
	}
	if self.UserInfo.UserID != "bob" || !slices.Equal(self.UserRule.OfflinePushRule.OnlinePlatforms, []int{4}) {
		t.Fatalf("querySelfUserInfo %+v", self)
	}

	// The desktop is online: the offline iPhone is silenced, the live one
	// has the message.
	sendWithPush(t, alice, "bob", "m1", pc("one"))
	m := nextMessage(t, desk)
	if m.Text == "" {
		t.Fatalf("desk got %+v", m)
	}
	// The desktop saw everything; it leaves.
	ends := watchEnds(t, s)
	ack(t, desk, "alice", protocol.ConversationPeer, m.ConversationSeq)
	desk.Close()
	ends.wait(1, wait)

	// Bob is online on the other iPhone only: the rule does not silence
	// the offline one, which gets its push; the live one still gets none.
	sendWithPush(t, alice, "bob", "m2", pc("two"))
	ds := wantPushes(t, s, em, tok, "bob", 1)
	if _, body := alertOf(t, ds[0]); body != "two" {
		t.Fatalf("the offline iPhone got %q, want only the push sent while the desktop was away", body)
	}
	if n := len(em.Deliveries(otherTok)); n != 0 {
		t.Fatalf("the live iPhone got %d pushes", n)
	}
}

func TestPushRuleRefusesBadPlatforms(t *testing.T) {
	s := testkit.Start(t, noWeakPush)
	bob := s.LoginAs(t, "bob", "ios", "phone")
	bob.SyncDone(wait)
	if err := bob.Call(protocol.TypeUpdateUserOfflinePushRule, protocol.UpdateUserOfflinePushRuleRequest{OfflinePushRule: deskSilencesPhones}, nil); err != nil {
		t.Fatal(err)
	}
	ruleEvent(t, bob) // the updating session hears of it too, as in ZIM
	many := make([]int, protocol.MaxPushRulePlatforms+1)
	for i := range many {
		many[i] = protocol.PlatformWin
	}
	for _, tc := range []struct {
		rule protocol.OfflinePushRule
		code protocol.Code
	}{
		{protocol.OfflinePushRule{OnlinePlatforms: []int{8}}, protocol.CodeInvalidPushPlatform},
		{protocol.OfflinePushRule{NotToReceiveOfflinePushPlatforms: []int{0}}, protocol.CodeInvalidPushPlatform},
		{protocol.OfflinePushRule{OnlinePlatforms: many}, protocol.CodeTooManyPushPlatforms},
	} {
		err := bob.Call(protocol.TypeUpdateUserOfflinePushRule, protocol.UpdateUserOfflinePushRuleRequest{OfflinePushRule: tc.rule}, nil)
		if err == nil || err.Code != tc.code {
			t.Fatalf("%+v: %v, want %d", tc.rule, err, tc.code)
		}
	}
	// Nothing changed.
	var self protocol.SelfUserInfo
	if err := bob.Call(protocol.TypeQuerySelfUserInfo, struct{}{}, &self); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(self.UserRule.OfflinePushRule.OnlinePlatforms, []int{4}) {
		t.Fatalf("the rule changed: %+v", self)
	}
}

// TestClusterPushRule: the rule holds across nodes. Bob's desktop is on
// node b, his rule set there; a message sent on node a, which reads his
// desktop from presence and his rule from the store (after b's change
// dropped a's copy), silences his iPhone; once the desktop left, it does
// not.
func TestClusterPushRule(t *testing.T) {
	nodes := startNodes(t, 2, noWeakPush)
	a, b := nodes[0], nodes[1]
	em, key := startAPNsWith(t, a, apnsemu.Config{})
	installAPNs(t, b, em, key)
	tok := offlinePhone(t, a, em)
	alice := a.LoginAs(t, "alice", "server", "script")
	alice.SyncDone(wait)
	pc := func(content string) *protocol.PushConfig {
		return &protocol.PushConfig{Title: "Alice", Content: content}
	}

	// Node a reads (and caches) bob's default rule while another iPhone
	// of his is live on b.
	other, _ := phone(t, b, em, "bob", "other-phone")
	other.SyncDone(wait)
	waitUntil(t, "node a sees bob's iPhone on b", func() bool { return a.Online("bob") })
	sendWithPush(t, alice, "bob", "m0", pc("zero"))
	nextMessage(t, other)

	desk := b.LoginAs(t, "bob", "macos", "desk")
	desk.SyncDone(wait)
	if err := desk.Call(protocol.TypeUpdateUserOfflinePushRule, protocol.UpdateUserOfflinePushRuleRequest{OfflinePushRule: deskSilencesPhones}, nil); err != nil {
		t.Fatal(err)
	}
	ruleEvent(t, other)
	waitUntil(t, "node a sees bob's desktop on b", func() bool { return len(a.Srv.UserSessions(a.App.AppID, "bob")) == 2 })
	sendWithPush(t, alice, "bob", "m1", pc("one"))
	m := nextMessage(t, desk)
	ack(t, desk, "alice", protocol.ConversationPeer, m.ConversationSeq)
	desk.Close()
	waitUntil(t, "node a sees bob's desktop gone", func() bool { return len(a.Srv.UserSessions(a.App.AppID, "bob")) == 1 })

	sendWithPush(t, alice, "bob", "m2", pc("two"))
	ds := wantPushes(t, a, em, tok, "bob", 1)
	if _, body := alertOf(t, ds[0]); body != "two" {
		t.Fatalf("the offline iPhone got %q, want only the push sent while the desktop was away", body)
	}
}

// TestWeakNetworkPush: a message with a push config delivered to bob's
// live iPhone and not acknowledged within weak-push-after is pushed to the
// phone, once; one acknowledged in time is not; when the session then
// ends, the late push does not push it again.
func TestWeakNetworkPush(t *testing.T) {
	s, clk := testkit.StartFake(t, func(c *config.Config) { c.WeakPushAfter = 5 * time.Second })
	em := startAPNs(t, s)
	alice := s.LoginAs(t, "alice", "server", "script")
	alice.SyncDone(wait)
	bob, tok := phone(t, s, em, "bob", "phone")
	bob.SyncDone(wait)
	pc := func(content string) *protocol.PushConfig {
		return &protocol.PushConfig{Title: "Alice", Content: content}
	}

	sendWithPush(t, alice, "bob", "m1", pc("one"))
	nextMessage(t, bob) // delivered, never acknowledged
	clk.Advance(3 * time.Second)
	if jobs := jobsFor(t, s, "bob"); len(jobs) != 0 {
		t.Fatalf("pushed before the window: %+v", jobs)
	}
	clk.Advance(3 * time.Second)
	ds := wantPushes(t, s, em, tok, "bob", 1)
	if _, body := alertOf(t, ds[0]); body != "one" {
		t.Fatalf("push %q", body)
	}

	// Acknowledged within the window: no push.
	sendWithPush(t, alice, "bob", "m2", pc("two"))
	m2 := nextMessage(t, bob)
	ack(t, bob, "alice", protocol.ConversationPeer, m2.ConversationSeq)
	clk.Advance(6 * time.Second)
	// Not acknowledged: pushed. The same tick would have pushed the
	// second message, had its ack not come first.
	sendWithPush(t, alice, "bob", "m3", pc("three"))
	nextMessage(t, bob)
	clk.Advance(6 * time.Second)
	ds = wantPushes(t, s, em, tok, "bob", 2)
	if _, body := alertOf(t, ds[1]); body != "three" {
		t.Fatalf("second push %q", body)
	}

	// The session ends with the third unacknowledged: its late push finds
	// the device pushed already.
	ends := watchEnds(t, s)
	bob.Close()
	ends.wait(1, wait)
	wantPushes(t, s, em, tok, "bob", 2)
}

// TestPushRuleInGroups: a group message's push follows the rule as a peer
// message's does: bob's offline iPhone is silenced while his desktop is
// online and pushed while he is online only on another iPhone.
func TestPushRuleInGroups(t *testing.T) {
	s := testkit.Start(t, noWeakPush)
	em := startAPNs(t, s)
	tok := offlinePhone(t, s, em)
	alice := s.LoginAs(t, "alice", "macos", "desktop-alice")
	alice.SyncDone(wait)
	desk := s.LoginAs(t, "bob", "macos", "desk")
	desk.SyncDone(wait)
	if err := desk.Call(protocol.TypeUpdateUserOfflinePushRule, protocol.UpdateUserOfflinePushRuleRequest{OfflinePushRule: deskSilencesPhones}, nil); err != nil {
		t.Fatal(err)
	}
	ruleEvent(t, desk)
	mustOK(t, "create", alice.Call(protocol.TypeGroupCreate, protocol.GroupCreateRequest{GroupID: "team", Name: "Team", Members: []string{"bob"}}, nil))
	event[protocol.GroupStateChanged](t, desk, protocol.EventGroupStateChanged)
	pc := func(content string) *protocol.PushConfig {
		return &protocol.PushConfig{Title: "Team", Content: content}
	}

	_, err := sendGroup(t, alice, "team", "g1", "one", pc("one"))
	mustOK(t, "send", err)
	m := nextMessage(t, desk)
	// A group's push is planned after its commit (groupPushLoop): the
	// rule is read then, so wait for that planning to finish while the
	// desktop is still live.
	waitFor(t, "the group push of \"one\" planned", func() bool {
		return s.Metric(t, "herald_group_push_plan_seconds_count") >= 1
	})
	other, otherTok := phone(t, s, em, "bob", "other-phone")
	other.SyncDone(wait)
	ends := watchEnds(t, s)
	ack(t, desk, "team", protocol.ConversationGroup, m.ConversationSeq)
	desk.Close()
	ends.wait(1, wait)

	_, err = sendGroup(t, alice, "team", "g2", "two", pc("two"))
	mustOK(t, "send", err)
	ds := wantPushes(t, s, em, tok, "bob", 1)
	if _, body := alertOf(t, ds[0]); body != "two" {
		t.Fatalf("the offline iPhone got %q, want only the push sent while the desktop was away", body)
	}
	if n := len(em.Deliveries(otherTok)); n != 0 {
		t.Fatalf("the live iPhone got %d pushes", n)
	}
}

// TestWeakNetworkPushSkipsTheSync: a message a phone got by its login
// sync and leaves unacknowledged is not pushed by the weak-network check
// (only live deliveries are); a live one is.
func TestWeakNetworkPushSkipsTheSync(t *testing.T) {
	s, clk := testkit.StartFake(t, func(c *config.Config) { c.WeakPushAfter = 5 * time.Second })
	em := startAPNs(t, s)
	alice := s.LoginAs(t, "alice", "server", "script")
	alice.SyncDone(wait)
	desk := s.LoginAs(t, "bob", "macos", "desk")
	desk.SyncDone(wait)
	pc := func(content string) *protocol.PushConfig {
		return &protocol.PushConfig{Title: "Alice", Content: content}
	}
	// Sent while the desktop is live: no push at the commit.
	sendWithPush(t, alice, "bob", "m1", pc("one"))
	nextMessage(t, desk)

	bob, tok := phone(t, s, em, "bob", "phone")
	if ms, _ := bob.SyncDone(wait); len(ms) != 1 {
		t.Fatalf("the phone's sync: %+v", ms)
	}
	sendWithPush(t, alice, "bob", "m2", pc("two"))
	nextMessage(t, bob)
	clk.Advance(6 * time.Second)
	ds := wantPushes(t, s, em, tok, "bob", 1)
	if _, body := alertOf(t, ds[0]); body != "two" {
		t.Fatalf("push %q, want only the live delivery's", body)
	}
}

// TestClusterPresenceCarriesPushID: a device registered after login
// (registerPush) reaches the other node's presence at once, so that its
// rule decisions skip the live device; unregistering clears it.
func TestClusterPresenceCarriesPushID(t *testing.T) {
	nodes := startNodes(t, 2, noWeakPush)
	a, b := nodes[0], nodes[1]
	em, key := startAPNsWith(t, a, apnsemu.Config{})
	installAPNs(t, b, em, key)
	bob := b.LoginAs(t, "bob", "ios", "phone")
	bob.SyncDone(wait)
	pushIDOnA := func() string {
		for _, ss := range a.Srv.UserSessions(a.App.AppID, "bob") {
			return ss.PushID
		}
		return "-"
	}
	waitUntil(t, "node a sees bob's session", func() bool { return pushIDOnA() == "" })
	var r protocol.RegisterPushReply
	tok := em.RegisterDevice(bundle, apnsemu.Development, false)
	if err := bob.Call(protocol.TypeRegisterPush, protocol.RegisterPushRequest{Vendor: "apns", Token: tok, Environment: "development", BundleID: bundle}, &r); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "node a sees the session's PushID", func() bool { return pushIDOnA() == r.PushID })
	if err := bob.Call(protocol.TypeUnregisterPush, protocol.UnregisterPushRequest(r), nil); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "node a sees the PushID gone", func() bool { return pushIDOnA() == "" })
}
