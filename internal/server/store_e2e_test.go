package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	apnsemu "github.com/heraldim/herald/internal/emulator/apns"
	"github.com/heraldim/herald/internal/protocol"
	"github.com/heraldim/herald/internal/testkit"
)

// TestBadgeCountsGroupUnread: a push whose resource asks for a badge
// carries the recipient's whole unread count, peer and group: bob, offline,
// has 3 unread peer messages (the pushed one among them) and 3 unread group
// messages, so his iPhone's badge is 6.
func TestBadgeCountsGroupUnread(t *testing.T) {
	s := testkit.Start(t, nil)
	em := startAPNs(t, s)
	if code, body := adminCall(t, s, http.MethodPut, "/push/resources/badged", map[string]any{"badge": true}); code != http.StatusOK {
		t.Fatalf("put resource: %d %v", code, body)
	}
	tok := em.RegisterDevice(bundle, apnsemu.Development, false)
	goOffline(t, s, "bob", protocol.PushRegistration{Vendor: "apns", Token: tok, Environment: "development", BundleID: bundle})
	alice, carol := member(t, s, "alice"), member(t, s, "carol")
	mustOK(t, "create", alice.Call(protocol.TypeGroupCreate, protocol.GroupCreateRequest{GroupID: "team", Name: "Team", Members: []string{"bob", "carol"}}, nil))
	for i, c := range []*testkit.Client{carol, carol, alice} {
		_, err := sendGroup(t, c, "team", fmt.Sprintf("g%d", i), "group message", nil)
		mustOK(t, "group send", err)
	}
	for _, l := range []string{"p1", "p2"} {
		if _, err := alice.SendText("bob", l, "peer message"); err != nil {
			t.Fatal(err)
		}
	}
	sendWithPush(t, alice, "bob", "p3", &protocol.PushConfig{Title: "Alice", Content: "hi", ResourcesID: "badged"})

	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	ds, err := em.WaitDeliveries(ctx, tok, 1)
	if err != nil {
		t.Fatalf("no push reached APNs: %v (trace %+v)", err, jobsFor(t, s, "bob"))
	}
	if badge, ok := ds[0].Aps()["badge"].(float64); !ok || badge != 3+3 {
		t.Fatalf("APNs got badge %v (aps %v), want 6: 3 peer + 3 group unread", ds[0].Aps()["badge"], ds[0].Aps())
	}
	if len(em.Deliveries(tok)) != 1 {
		t.Fatalf("deliveries %+v, want the one push", em.Deliveries(tok))
	}
}

// nextMessage returns the next message event, skipping other events.
func nextMessage(t *testing.T, c *testkit.Client) protocol.Message {
	t.Helper()
	for {
		f := c.Next(wait)
		if f.Type != protocol.EventMessage {
			continue
		}
		var m protocol.Message
		if err := json.Unmarshal(f.Data, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
}

// TestAckBeyondLastRefused: an ack past a conversation's last message, peer
// or group, is refused with ack_beyond_last and records nothing of its
// frame, so the messages sent afterwards still reach the device by sync. A
// position in a group one is not in is ignored.
func TestAckBeyondLastRefused(t *testing.T) {
	s := testkit.Start(t, nil)
	alice, bob := member(t, s, "alice"), member(t, s, "bob")
	mustOK(t, "create", alice.Call(protocol.TypeGroupCreate, protocol.GroupCreateRequest{GroupID: "team", Name: "Team", Members: []string{"bob"}}, nil))
	mustOK(t, "create other", alice.Call(protocol.TypeGroupCreate, protocol.GroupCreateRequest{GroupID: "other", Name: "Other"}, nil))
	for _, l := range []string{"p1", "p2"} {
		if _, err := alice.SendText("bob", l, "peer "+l); err != nil {
			t.Fatal(err)
		}
	}
	_, err := sendGroup(t, alice, "team", "g1", "group g1", nil)
	mustOK(t, "group send", err)
	_, err = sendGroup(t, alice, "other", "o1", "other o1", nil)
	mustOK(t, "other send", err)
	for range 3 {
		nextMessage(t, bob)
	}

	peer := func(seq int64) protocol.AckPosition {
		return protocol.AckPosition{ConversationID: "alice", ConversationType: protocol.ConversationPeer, Seq: seq}
	}
	group := func(id string, seq int64) protocol.AckPosition {
		return protocol.AckPosition{ConversationID: id, ConversationType: protocol.ConversationGroup, Seq: seq}
	}
	ack := func(ps ...protocol.AckPosition) *protocol.Error {
		return bob.Call(protocol.TypeAck, protocol.AckRequest{Acks: ps}, nil)
	}
	wantCode(t, "peer ack beyond last", ack(peer(100)), protocol.CodeAckBeyondLast)
	wantCode(t, "peer ack one beyond last", ack(peer(3)), protocol.CodeAckBeyondLast)
	wantCode(t, "group ack beyond last", ack(group("team", 50)), protocol.CodeAckBeyondLast)
	// One bad position refuses the frame: the valid group position in it
	// is not recorded.
	wantCode(t, "mixed frame", ack(group("team", 1), peer(100)), protocol.CodeAckBeyondLast)
	mustOK(t, "peer ack at last", ack(peer(2)))
	mustOK(t, "group not a member of", ack(group("other", 99)))
	mustOK(t, "unknown group", ack(group("nope", 5)))
	bob.Close()

	for _, l := range []string{"p3", "p4", "p5"} {
		if _, err := alice.SendText("bob", l, "peer "+l); err != nil {
			t.Fatal(err)
		}
	}
	for _, l := range []string{"g2", "g3"} {
		_, err := sendGroup(t, alice, "team", l, "group "+l, nil)
		mustOK(t, "group send", err)
	}
	bob = s.LoginAs(t, "bob", "android", "dev-bob")
	msgs, n := bob.SyncDone(wait)
	got := map[string][]int64{}
	for _, m := range msgs {
		got[m.ConversationID] = append(got[m.ConversationID], m.ConversationSeq)
	}
	if n != 6 || fmt.Sprint(got["alice"]) != "[3 4 5]" || fmt.Sprint(got["team"]) != "[1 2 3]" || len(got) != 2 {
		t.Fatalf("bob synced %d: %v; want alice 3-5 (acked 2) and team 1-3 (never acked)", n, got)
	}
}

// TestDeviceRebindRefusedWhileBound: bob is logged in on his iPhone D; a
// login of mallory with D's vendor token is refused (device_in_use) and D
// stays bob's. Once bob's session ended, mallory's login takes D (a device
// follows its last login) and D's trace shows the rebind: from bob to
// mallory, and when.
func TestDeviceRebindRefusedWhileBound(t *testing.T) {
	s := testkit.Start(t, nil)
	em := startAPNs(t, s)
	tok := em.RegisterDevice(bundle, apnsemu.Development, false)
	reg := protocol.PushRegistration{Vendor: "apns", Token: tok, Environment: "development", BundleID: bundle}
	login := func(user string) (*testkit.Client, protocol.LoginReply, *protocol.Error) {
		c := testkit.Dial(t, s.URL)
		var r protocol.LoginReply
		err := c.Call(protocol.TypeLogin, protocol.LoginRequest{AppID: s.App.AppID, UserID: user,
			Token: s.Token(t, user, time.Hour), Platform: "ios", DeviceID: "phone", Push: &reg}, &r)
		return c, r, err
	}
	boundTo := func(pushID string) string {
		d, err := s.Srv.PushDevice(context.Background(), s.App.AppID, pushID)
		if err != nil {
			t.Fatal(err)
		}
		return d.UserID
	}

	bob, br, err := login("bob")
	mustOK(t, "bob's login", err)
	bob.SyncDone(wait)
	_, _, err = login("mallory")
	wantCode(t, "mallory's login with bob's token", err, protocol.CodeDeviceInUse)
	if u := boundTo(br.PushID); u != "bob" {
		t.Fatalf("after the refused login D is bound to %q", u)
	}
	if s.Online("mallory") {
		t.Fatal("the refused login left mallory online")
	}
	// A login of bob's again on D (a reconnect) is no rebind: allowed, and
	// the new session holds D (the old one is kicked, same platform).
	bob2, _, err := login("bob")
	mustOK(t, "bob's second login", err)
	bob2.SyncDone(wait)
	if code := bob.CloseCode(wait); code != protocol.CloseKicked {
		t.Fatalf("bob's first session closed with %d, want kicked", code)
	}
	_, _, err = login("mallory")
	wantCode(t, "mallory's login while bob's second session lives", err, protocol.CodeDeviceInUse)

	bob2.Close()
	deadline := time.Now().Add(wait)
	for s.Online("bob") {
		if time.Now().After(deadline) {
			t.Fatal("bob still online")
		}
		time.Sleep(5 * time.Millisecond)
	}
	before := time.Now().Add(-time.Second) // the store keeps milliseconds
	mallory, mr, err := login("mallory")
	mustOK(t, "mallory's login after bob's session ended", err)
	mallory.SyncDone(wait)
	after := time.Now().Add(time.Second)
	if mr.PushID != br.PushID || boundTo(br.PushID) != "mallory" {
		t.Fatalf("mallory's login got PushID %s (bob's %s), D bound to %q", mr.PushID, br.PushID, boundTo(br.PushID))
	}

	code, body := adminCall(t, s, http.MethodGet, "/push/trace?pushID="+br.PushID, nil)
	events, _ := body["deviceEvents"].([]any)
	if code != http.StatusOK || len(events) != 2 {
		t.Fatalf("trace %d %v, want two device events", code, body)
	}
	rebind, _ := events[0].(map[string]any)
	at, perr := time.Parse(time.RFC3339Nano, fmt.Sprint(rebind["at"]))
	if rebind["kind"] != "rebound" || rebind["fromUserID"] != "bob" || rebind["toUserID"] != "mallory" ||
		perr != nil || at.Before(before) || at.After(after) {
		t.Fatalf("newest device event %v, want rebound from bob to mallory between %s and %s", rebind, before, after)
	}
	if first, _ := events[1].(map[string]any); first["kind"] != "bound" || first["toUserID"] != "bob" || first["fromUserID"] != nil {
		t.Fatalf("first device event %v, want bound to bob", first)
	}
}
