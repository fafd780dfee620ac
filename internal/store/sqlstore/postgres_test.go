package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"sync"
	"testing"

	"github.com/heraldim/herald/internal/im"
	"github.com/heraldim/herald/internal/store/storetest"
)

// postgresEnv names the variable with the URL of a PostgreSQL server the
// tests may create databases on.
const postgresEnv = "HERALD_TEST_POSTGRES"

// postgresURL returns the test server's URL, skipping the test without
// one.
func postgresURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(postgresEnv)
	if u == "" {
		t.Skipf("PostgreSQL tests skipped: set %s to a server URL (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable)", postgresEnv)
	}
	return u
}

// freshPostgres creates an empty database on the test server, dropped when
// t ends, and returns its URL.
func freshPostgres(t testing.TB) string {
	t.Helper()
	base := postgresURL(t)
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "herald_t_" + hex.EncodeToString(b)
	if _, err := admin.ExecContext(t.Context(), "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		db, err := sql.Open("pgx", base)
		if err != nil {
			t.Error(err)
			return
		}
		defer db.Close()
		if _, err := db.ExecContext(context.Background(), "DROP DATABASE "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

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
			u = freshPostgres(t)
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
			postgresURL(t)
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
