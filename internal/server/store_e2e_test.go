package server_test

import (
	"context"
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
