package im

import (
	"fmt"
	"io"
	"log/slog"
	"testing"
)

func snapOf(n int) *groupSnap {
	ms := make([]GroupMember, n)
	for i := range ms {
		ms[i] = GroupMember{UserID: fmt.Sprint("u", i), Role: 3}
	}
	return newSnap(Group{}, ms)
}

// TestGroupCacheBounds: the cache counts the members it holds, replacing a
// group does not count it twice, and going past the bound empties it.
func TestGroupCacheBounds(t *testing.T) {
	c := newGroupCache()
	a, b := groupKey{"app", "a"}, groupKey{"app", "b"}
	c.put(a, snapOf(10))
	c.put(a, snapOf(20))
	if c.members != 20 || c.get(a) == nil {
		t.Fatalf("after replacing a: %d members held", c.members)
	}
	c.put(b, snapOf(groupCacheMaxMembers-20))
	if c.members != groupCacheMaxMembers || c.get(a) == nil {
		t.Fatalf("at the bound: %d members held, a cached: %v", c.members, c.get(a) != nil)
	}
	c.put(a, snapOf(21)) // one member more than the bound allows
	if c.get(b) != nil || c.get(a) == nil || c.members != 21 {
		t.Fatalf("past the bound: b cached %v, a cached %v, %d members", c.get(b) != nil, c.get(a) != nil, c.members)
	}
}

// TestSnapWith: a change adds, changes and removes members in a copy.
func TestSnapWith(t *testing.T) {
	sn := snapOf(3)
	next := sn.with(map[string]GroupMember{
		"u0": {UserID: "u0"},                        // removed
		"u1": {UserID: "u1", Role: 2},               // changed
		"u9": {UserID: "u9", Role: 3, JoinedSeq: 7}, // added
	})
	if len(sn.members) != 3 || sn.members["u1"].Role != 3 {
		t.Fatal("the original snapshot changed")
	}
	if _, ok := next.members["u0"]; ok || next.members["u1"].Role != 2 || next.members["u9"].JoinedSeq != 7 || len(next.recips) != 3 || next.group.MemberCount != 3 {
		t.Fatalf("next %+v", next.members)
	}
}

// TestGroupCacheDrop: dropping a group forgets it and its members' count;
// dropping one not cached changes nothing.
func TestGroupCacheDrop(t *testing.T) {
	c := newGroupCache()
	a, b := groupKey{"app", "a"}, groupKey{"app", "b"}
	c.put(a, snapOf(10))
	c.put(b, snapOf(5))
	c.drop(a)
	c.drop(groupKey{"app", "none"})
	if c.get(a) != nil || c.get(b) == nil || c.members != 5 {
		t.Fatalf("after dropping a: a cached %v, b cached %v, %d members", c.get(a) != nil, c.get(b) != nil, c.members)
	}
}

// TestForgetAll: a node that missed invalidations drops every cached app,
// group and revocation cut-off, and ForgetGroup drops one group.
func TestForgetAll(t *testing.T) {
	s, err := New(&savedCursors{}, nopRouter{}, Config{}, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	if err != nil {
		t.Fatal(err)
	}
	k := groupKey{"app", "g"}
	s.groups.put(k, snapOf(3))
	s.groups.put(groupKey{"app", "h"}, snapOf(2))
	s.ForgetGroup("app", "g")
	if s.groups.get(k) != nil || s.groups.members != 2 {
		t.Fatalf("after ForgetGroup: g cached %v, %d members", s.groups.get(k) != nil, s.groups.members)
	}
	s.appMu.Lock()
	s.apps["app"] = App{ID: "app"}
	gen := s.appGen
	s.appMu.Unlock()
	s.revoked.mu.Lock()
	if s.revoked.after == nil {
		s.revoked.after = map[cursorKey]int64{}
	}
	s.revoked.after[cursorKey{app: "app", user: "u"}] = 5
	s.revoked.mu.Unlock()

	s.ForgetAll()
	if len(s.apps) != 0 || s.appGen == gen || len(s.groups.m) != 0 || s.groups.members != 0 || len(s.revoked.after) != 0 {
		t.Fatalf("after ForgetAll: %d apps, %d groups (%d members), %d cut-offs", len(s.apps), len(s.groups.m), s.groups.members, len(s.revoked.after))
	}
}
