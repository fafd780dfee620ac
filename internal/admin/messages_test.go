package admin

import (
	"strings"
	"testing"

	"github.com/heraldim/herald/internal/protocol"
)

// TestBatchLocalID: each recipient of a batch gets its own valid local ID,
// the same on every retry.
func TestBatchLocalID(t *testing.T) {
	long := strings.Repeat("u", protocol.MaxUserIDLen)
	base := strings.Repeat("b", maxBatchLocalID)
	for _, tc := range []struct{ base, user, want string }{
		{"promo", "bob", "promo:bob"},
		{base, "bob", base + ":bob"},
		{base, long, ""}, // hashed
	} {
		got := batchLocalID(tc.base, tc.user)
		if !protocol.ValidLocalID(got) || got != batchLocalID(tc.base, tc.user) {
			t.Errorf("%q/%q: %q is not a valid, stable local ID", tc.base, tc.user, got)
		}
		if tc.want != "" && got != tc.want {
			t.Errorf("%q/%q: %q, want %q", tc.base, tc.user, got, tc.want)
		}
		if tc.want == "" && (len(got) != protocol.MaxLocalIDLen || !strings.HasPrefix(got, tc.base+":") || got == batchLocalID(tc.base, long[1:])) {
			t.Errorf("%q/%q: hashed form %q", tc.base, tc.user, got)
		}
	}
}
