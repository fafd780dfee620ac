package push_test

import (
	"strings"
	"testing"

	"github.com/heraldim/herald/internal/push"
)

// TestCallCollapseID: stable, different per call, within APNs' 64 bytes
// for any call ID.
func TestCallCollapseID(t *testing.T) {
	long := strings.Repeat("x", 100)
	for _, id := range []string{"abcdefghij0123456789", long, strings.Repeat("y", 59), strings.Repeat("y", 60)} {
		k := push.CallCollapseID(id)
		if len(k) > 64 || k != push.CallCollapseID(id) || !strings.HasPrefix(k, "call-") {
			t.Fatalf("%q -> %q", id, k)
		}
	}
	if push.CallCollapseID("a") == push.CallCollapseID("b") || push.CallCollapseID(long) == push.CallCollapseID(long+"z") {
		t.Fatal("two calls share a key")
	}
}

func TestNumericCollapseID(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int
	}{{"0", 0}, {"42", 42}, {"2147483647", 2147483647}} {
		if got := push.NumericCollapseID(tt.in); got != tt.want {
			t.Errorf("%q -> %d, want %d", tt.in, got, tt.want)
		}
	}
	for _, in := range []string{"-1", "2147483648", "call-abc", ""} {
		got := push.NumericCollapseID(in)
		if got < 0 || got > 1<<31-1 || got != push.NumericCollapseID(in) {
			t.Errorf("%q -> %d", in, got)
		}
	}
}
