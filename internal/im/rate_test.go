package im

import (
	"testing"
	"time"
)

// TestCommitRate: the last minute's count per app sums the seconds within
// 60 s of now, forgets older ones (also when their bucket is reused), keeps
// apps apart, and forgets a dropped app.
func TestCommitRate(t *testing.T) {
	c := newCommitRate()
	t0 := time.Unix(1_000_000, 0)
	c.note("a", 2, t0)
	c.note("a", 3, t0.Add(30*time.Second))
	c.note("b", 7, t0.Add(30*time.Second))
	if n := c.lastMinute("a", t0.Add(59*time.Second)); n != 5 {
		t.Fatalf("a within the minute: %d, want 5", n)
	}
	if n := c.lastMinute("a", t0.Add(60*time.Second)); n != 3 {
		t.Fatalf("a once the first second left the window: %d, want 3", n)
	}
	// t0+60 s reuses t0's bucket: the old count must not add up.
	c.note("a", 1, t0.Add(60*time.Second))
	if n := c.lastMinute("a", t0.Add(60*time.Second)); n != 4 {
		t.Fatalf("a after its bucket was reused: %d, want 4", n)
	}
	if n := c.lastMinute("b", t0.Add(31*time.Second)); n != 7 {
		t.Fatalf("b: %d, want 7", n)
	}
	if n := c.lastMinute("a", t0.Add(10*time.Minute)); n != 0 {
		t.Fatalf("a ten minutes later: %d, want 0", n)
	}
	c.drop("b")
	if n := c.lastMinute("b", t0.Add(31*time.Second)); n != 0 {
		t.Fatalf("b after drop: %d, want 0", n)
	}
}
