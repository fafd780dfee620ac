package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

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
