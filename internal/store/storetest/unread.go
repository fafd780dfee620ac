package storetest

import (
	"testing"

	"github.com/heraldim/herald/internal/im"
	"github.com/heraldim/herald/internal/push"
)

// testUnreadTotal: the badge count (push.UnreadCounter) is the user's
// unread across peer and group conversations of one app, as the
// conversation list counts them: a sender's own messages never count, a
// group counts from the member's read position (its joined position at
// first), a dismissed group and another app count nothing.
func testUnreadTotal(t *testing.T, e *env) {
	if _, ok := e.s.(push.UnreadCounter); !ok {
		t.Fatalf("%T does not implement push.UnreadCounter: pushes asking for a badge would get none", e.s)
	}
	e.app("a1", "a2")
	ctx := t.Context()
	e.send("a1", "alice", "bob", 3)
	e.send("a1", "carol", "bob", 2)
	e.send("a1", "bob", "alice", 1)
	e.group("a1", "g", "alice", "bob", "carol")
	// Bob's own message moves his read position: only alice's two count.
	e.append(e.gmsg("a1", "g", "bob", "g1", "one"), e.gmsg("a1", "g", "alice", "g2", "two"), e.gmsg("a1", "g", "alice", "g3", "three"))
	e.group("a1", "h", "carol", "bob")
	e.append(e.gmsg("a1", "h", "carol", "h1", "one"))
	e.group("a1", "d", "alice", "bob")
	e.append(e.gmsg("a1", "d", "alice", "d1", "one"))
	if err := e.s.DismissGroup(ctx, "a1", "d", base); err != nil {
		t.Fatal(err)
	}
	e.group("a2", "g", "x", "bob")
	e.append(e.gmsg("a2", "g", "x", "z1", "one"))
	e.send("a2", "x", "bob", 4)

	check := func(step string, want map[[2]string]int64) {
		t.Helper()
		for k, w := range want {
			got, err := e.s.(push.UnreadCounter).UnreadTotal(ctx, k[0], k[1]) // e.s changes at reopen
			if err != nil || got != w {
				t.Errorf("%s: UnreadTotal(%s, %s) = %d, %v; want %d", step, k[0], k[1], got, err, w)
			}
		}
	}
	check("start", map[[2]string]int64{
		{"a1", "bob"}:    3 + 2 + 2 + 1, // alice, carol; group g; group h
		{"a1", "alice"}:  1,             // bob's peer message; g and d are her own
		{"a1", "carol"}:  3,             // group g
		{"a2", "bob"}:    4 + 1,
		{"a1", "nobody"}: 0,
	})

	if _, err := e.s.MarkGroupRead(ctx, "a1", "bob", "g", 2); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.MarkRead(ctx, "a1", "bob", im.PeerConvID("alice", "bob"), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.AddGroupMembers(ctx, "a1", "g", []im.GroupMember{{UserID: "dave", Role: 3, JoinedAt: base}}); err != nil {
		t.Fatal(err)
	}
	check("after reads and a join", map[[2]string]int64{
		{"a1", "bob"}:  2 + 1 + 1, // carol; g after 2; h
		{"a1", "dave"}: 0,         // joined after g's messages
	})
	e.append(e.gmsg("a1", "g", "alice", "g4", "four"))
	e.reopen()
	check("after one more and a reopen", map[[2]string]int64{
		{"a1", "bob"}:   2 + 2 + 1,
		{"a1", "dave"}:  1,
		{"a1", "carol"}: 4,
		{"a1", "alice"}: 1,
	})
}
