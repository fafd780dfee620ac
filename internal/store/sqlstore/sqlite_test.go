package sqlstore

import (
	"path/filepath"
	"testing"

	"go.uber.org/goleak"

	"github.com/heraldim/herald/internal/im"
	"github.com/heraldim/herald/internal/store/storetest"
)

// TestMain checks that closed stores leave no goroutines behind (database/sql
// runs one per pool until Close).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestContract(t *testing.T) {
	for _, d := range []Durability{DurabilityProcess, DurabilityPower} {
		t.Run(d.String(), func(t *testing.T) {
			storetest.Run(t, func(t *testing.T, dir string) im.Store {
				return openTest(t, Config{Path: filepath.Join(dir, "herald.db"), Durability: d})
			})
		})
	}
}

// openTest opens a store; the caller closes it.
func openTest(t testing.TB, cfg Config) *Store {
	t.Helper()
	s, err := Open(t.Context(), cfg, nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}
