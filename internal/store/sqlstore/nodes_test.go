package sqlstore

import (
	"errors"
	"testing"
	"time"
)

// TestNodeNumbers: live nodes lease different numbers, a renewal keeps a
// number, an expired lease is taken over (and its old owner's renewal then
// fails), a released number is free at once.
func TestNodeNumbers(t *testing.T) {
	for _, d := range dialects() {
		t.Run(d.name, func(t *testing.T) {
			dir := t.TempDir()
			a, b := d.open(t, dir), d.open(t, dir)
			defer a.Close()
			defer b.Close()
			if d.name == "sqlite" {
				b.Close()
				b = a // one process per SQLite file
			}
			ctx := t.Context()
			na, err := a.ClaimNode(ctx, "node-a", time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			nb, err := b.ClaimNode(ctx, "node-b", time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			if na != 0 || nb != 1 {
				t.Fatalf("claimed %d and %d, want 0 and 1", na, nb)
			}
			if err := a.RenewNode(ctx, na, "node-a", time.Minute); err != nil {
				t.Fatalf("renew: %v", err)
			}
			if err := b.RenewNode(ctx, na, "node-b", time.Minute); !errors.Is(err, ErrNodeLeaseLost) {
				t.Fatalf("renewing another's lease: %v, want ErrNodeLeaseLost", err)
			}
			// a's lease expires (as if a stopped renewing): c takes 0.
			if _, err := a.w.ExecContext(ctx, `UPDATE nodes SET lease_until = 0 WHERE node_id = $1`, na); err != nil {
				t.Fatal(err)
			}
			nc, err := b.ClaimNode(ctx, "node-c", time.Minute)
			if err != nil || nc != na {
				t.Fatalf("after expiry claimed %d (%v), want %d", nc, err, na)
			}
			if err := a.RenewNode(ctx, na, "node-a", time.Minute); !errors.Is(err, ErrNodeLeaseLost) {
				t.Fatalf("renewal after takeover: %v, want ErrNodeLeaseLost", err)
			}
			if err := b.ReleaseNode(ctx, nb, "node-b"); err != nil {
				t.Fatal(err)
			}
			if nd, err := a.ClaimNode(ctx, "node-d", time.Minute); err != nil || nd != nb {
				t.Fatalf("after release claimed %d (%v), want %d", nd, err, nb)
			}
			if _, err := a.ClaimNode(ctx, "", time.Minute); err == nil {
				t.Fatal("empty owner accepted")
			}
		})
	}
}
