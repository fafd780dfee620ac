package sqlstore

import (
	"sync"
	"testing"

	"github.com/heraldim/herald/internal/im"
	"github.com/heraldim/herald/internal/store/pgtest"
	"github.com/heraldim/herald/internal/store/storetest"
)

// dialectOpener opens stores of one dialect for the contract suites: for
// SQLite a file in the suite's directory, for PostgreSQL a fresh database
// per directory (created on first use, dropped when t ends), so that a
// suite's reopen finds its data again.
type dialectOpener struct {
	name string
	open func(t testing.TB, dir string) *Store
}

// dialects returns the openers of both dialects; PostgreSQL's skips the
// test when HERALD_TEST_POSTGRES is unset.
func dialects() []dialectOpener {
	return []dialectOpener{
		{"sqlite", func(t testing.TB, dir string) *Store {
			return openTest(t, Config{Path: dir + "/herald.db"})
		}},
		{"postgres", postgresOpener()},
	}
}

// postgresOpener returns an opener of stores on fresh databases, one per
// directory.
func postgresOpener() func(t testing.TB, dir string) *Store {
	var mu sync.Mutex
	dbs := map[string]string{}
	return func(t testing.TB, dir string) *Store {
		t.Helper()
		mu.Lock()
		u, ok := dbs[dir]
		if !ok {
			u = pgtest.Fresh(t)
			dbs[dir] = u
		}
		mu.Unlock()
		s, err := OpenPostgres(t.Context(), PostgresConfig{URL: u, MaxConns: 4}, nil)
		if err != nil {
			t.Fatalf("OpenPostgres: %v", err)
		}
		return s
	}
}

func TestContractDialects(t *testing.T) {
	for _, d := range dialects() {
		t.Run(d.name, func(t *testing.T) {
			if d.name == "sqlite" {
				t.Skip("SQLite runs in TestContract")
			}
			pgtest.URL(t)
			t.Run("im", func(t *testing.T) {
				storetest.Run(t, func(t *testing.T, dir string) im.Store { return d.open(t, dir) })
			})
			t.Run("push", func(t *testing.T) {
				storetest.RunPush(t, func(t *testing.T, dir string) storetest.PushStore { return d.open(t, dir) })
			})
			t.Run("calls", func(t *testing.T) {
				storetest.RunCalls(t, func(t *testing.T, dir string) storetest.CallStore { return d.open(t, dir) })
			})
			t.Run("tokens", func(t *testing.T) {
				storetest.RunProviderTokens(t, func(t *testing.T, dir string) storetest.TokenStore { return d.open(t, dir) })
			})
		})
	}
}
