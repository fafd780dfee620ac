package im

import (
	"testing"
	"time"
)

func TestIDGenStrictlyIncreasingEvenWhenClockStepsBack(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := now
	g := NewIDGen(5, func() time.Time { return clock })
	var last int64
	for i := range 10000 {
		if i == 5000 {
			clock = now.Add(-time.Second) // clock stepped back
		}
		id, _ := g.Next()
		if id <= last {
			t.Fatalf("id %d after %d at step %d", id, last, i)
		}
		if node := (id >> 12) & 0x3ff; node != 5 {
			t.Fatalf("node bits %d", node)
		}
		last = id
	}
}

func TestPeerConvID(t *testing.T) {
	if PeerConvID("bob", "alice") != PeerConvID("alice", "bob") {
		t.Fatal("peer key depends on order")
	}
	k := PeerConvID("alice", "bob")
	for user, want := range map[string]string{"alice": "bob", "bob": "alice", "carol": ""} {
		got, ok := PeerOf(k, user)
		if got != want || ok != (want != "") {
			t.Errorf("PeerOf(%s, %s) = %q %v", k, user, got, ok)
		}
	}
}
