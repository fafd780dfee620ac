package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/heraldim/herald/internal/im"
)

// testGroupJoinRequests: a group's join mode is stored and survives a
// restart; join requests are one per group and user (a new one replaces
// the old), paged by user, decided only while pending, per app; adding a
// member accepts its pending request in the same transaction.
func testGroupJoinRequests(t *testing.T, e *env) {
	e.app("a1", "a2")
	ctx := t.Context()
	if err := e.s.CreateGroup(ctx, im.Group{AppID: "a1", ID: "g", Name: "G", Owner: "alice", CreatedAt: base, JoinMode: 2},
		[]im.GroupMember{{UserID: "alice", Role: 1, JoinedAt: base}}); err != nil {
		t.Fatal(err)
	}
	if err := e.s.SetGroupJoinMode(ctx, "a1", "nope", 1); !errors.Is(err, im.ErrNotFound) {
		t.Fatalf("SetGroupJoinMode of no group: %v, want ErrNotFound", err)
	}
	e.reopen()
	if g, err := e.s.Group(ctx, "a1", "g"); err != nil || g.JoinMode != 2 {
		t.Fatalf("Group = %+v, %v, want join mode 2", g, err)
	}
	if err := e.s.SetGroupJoinMode(ctx, "a1", "g", 1); err != nil {
		t.Fatal(err)
	}
	if gs, err := e.s.UserGroups(ctx, "a1", "alice", "", 10); err != nil || len(gs) != 1 || gs[0].JoinMode != 1 {
		t.Fatalf("UserGroups = %+v, %v, want join mode 1", gs, err)
	}

	at := func(s int) time.Time { return base.Add(time.Duration(s) * time.Second) }
	for _, r := range []im.JoinRequest{
		{AppID: "a1", GroupID: "g", UserID: "carol", Message: "first", State: im.JoinPending, CreatedAt: at(1), UpdatedAt: at(1)},
		{AppID: "a1", GroupID: "g", UserID: "bob", Message: "hi", State: im.JoinPending, CreatedAt: at(2), UpdatedAt: at(2)},
		{AppID: "a1", GroupID: "g", UserID: "carol", Message: "again", State: im.JoinPending, CreatedAt: at(3), UpdatedAt: at(3)},
		{AppID: "a2", GroupID: "g", UserID: "bob", Message: "other app", State: im.JoinPending, CreatedAt: at(4), UpdatedAt: at(4)},
	} {
		if err := e.s.PutJoinRequest(ctx, r); err != nil {
			t.Fatalf("PutJoinRequest(%+v): %v", r, err)
		}
	}
	e.reopen()
	rs, err := e.s.JoinRequests(ctx, "a1", "g", "", 10)
	if err != nil || len(rs) != 2 || rs[0].UserID != "bob" || rs[1].UserID != "carol" || rs[1].Message != "again" || !rs[1].CreatedAt.Equal(at(3)) {
		t.Fatalf("JoinRequests = %+v, %v", rs, err)
	}
	if rs, err := e.s.JoinRequests(ctx, "a1", "g", "bob", 10); err != nil || len(rs) != 1 || rs[0].UserID != "carol" {
		t.Fatalf("JoinRequests after bob = %+v, %v", rs, err)
	}
	if _, err := e.s.JoinRequest(ctx, "a1", "g", "dave"); !errors.Is(err, im.ErrNotFound) {
		t.Fatalf("JoinRequest(dave): %v, want ErrNotFound", err)
	}

	if err := e.s.DecideJoinRequest(ctx, "a1", "g", "carol", im.JoinRejected, at(5)); err != nil {
		t.Fatal(err)
	}
	if err := e.s.DecideJoinRequest(ctx, "a1", "g", "carol", im.JoinAccepted, at(6)); !errors.Is(err, im.ErrNotFound) {
		t.Fatalf("deciding a decided request: %v, want ErrNotFound", err)
	}
	if r, err := e.s.JoinRequest(ctx, "a1", "g", "carol"); err != nil || r.State != im.JoinRejected || !r.UpdatedAt.Equal(at(5)) {
		t.Fatalf("carol's request = %+v, %v", r, err)
	}

	if _, err := e.s.AddGroupMembers(ctx, "a1", "g", []im.GroupMember{{UserID: "bob", Role: 3, JoinedAt: at(7)}}); err != nil {
		t.Fatal(err)
	}
	if r, err := e.s.JoinRequest(ctx, "a1", "g", "bob"); err != nil || r.State != im.JoinAccepted || !r.UpdatedAt.Equal(at(7)) {
		t.Fatalf("bob's request after joining = %+v, %v", r, err)
	}
	if r, err := e.s.JoinRequest(ctx, "a2", "g", "bob"); err != nil || r.State != im.JoinPending || r.Message != "other app" {
		t.Fatalf("the other app's request = %+v, %v", r, err)
	}
}
