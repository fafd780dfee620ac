package testkit

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/heraldim/herald/internal/server"
	"github.com/heraldim/herald/internal/store/pgtest"
	"github.com/heraldim/herald/internal/store/sqlstore"
)

// StoreEnv names the variable that picks the store of every server the
// Start functions run when the test's config names none: unset or
// "sqlite" is the embedded database in the data directory (the default);
// "postgres" is a fresh PostgreSQL database per data directory on the
// server named by HERALD_TEST_POSTGRES (pgtest), so the whole end-to-end
// suite runs on PostgreSQL:
//
//	HERALD_TEST_STORE=postgres HERALD_TEST_POSTGRES=postgres://… go test ./internal/server/
//
// A server started again on the same data directory (a restart) gets the
// same database back, as it would get the same SQLite file.
const StoreEnv = "HERALD_TEST_STORE"

// Store kinds StoreEnv names.
const (
	StoreSQLite   = "sqlite"
	StorePostgres = "postgres"
)

// StoreKind is the store StoreEnv selects (StoreSQLite when unset). It
// fails t on a value it does not know, and when StoreEnv asks for
// PostgreSQL without HERALD_TEST_POSTGRES: a run that asked for
// PostgreSQL must not quietly skip or fall back to SQLite.
func StoreKind(t testing.TB) string {
	t.Helper()
	switch v := os.Getenv(StoreEnv); v {
	case "", StoreSQLite:
		return StoreSQLite
	case StorePostgres:
		if os.Getenv(pgtest.Env) == "" {
			t.Fatalf("%s=%s needs %s (the URL of a PostgreSQL server the tests may create databases on)", StoreEnv, v, pgtest.Env)
		}
		return StorePostgres
	default:
		t.Fatalf("%s=%q: want %q or %q", StoreEnv, v, StoreSQLite, StorePostgres)
		return ""
	}
}

// SQLiteOnly skips t when StoreEnv selects a store other than the
// embedded database: the test checks something only the embedded
// database has (its file, backups, WAL checkpoints, a size cap). why says
// what, and goes into the skip message.
func SQLiteOnly(t testing.TB, why string) {
	t.Helper()
	if k := StoreKind(t); k != StoreSQLite {
		t.Skipf("SQLite-specific (%s): skipped under %s=%s", why, StoreEnv, k)
	}
}

// pgByDir maps a data directory to the PostgreSQL database created for
// it, so a server started again on a directory finds its data.
var pgByDir sync.Map // string → string

// StoreFor returns the store URL (config.Config.Store) a server on
// dataDir uses under StoreEnv: "" (the SQLite file in dataDir) by
// default; under postgres the database made for dataDir, created (and
// dropped when t ends) on first use.
func StoreFor(t testing.TB, dataDir string) string {
	t.Helper()
	if StoreKind(t) != StorePostgres {
		return ""
	}
	key := filepath.Clean(dataDir)
	if u, ok := pgByDir.Load(key); ok {
		return u.(string)
	}
	u := pgtest.Fresh(t)
	pgByDir.Store(key, u)
	t.Cleanup(func() { pgByDir.Delete(key) })
	return u
}

// OpenStore opens the store a server on dataDir uses (see StoreFor), for
// a test that reads or changes it beside the server or after it stopped;
// sealer is the server's (Server.Sealer) when the test touches secrets,
// else nil. It is closed when t ends.
func OpenStore(t testing.TB, dataDir string, sealer sqlstore.Sealer) *sqlstore.Store {
	t.Helper()
	var (
		st  *sqlstore.Store
		err error
	)
	if u := StoreFor(t, dataDir); u != "" {
		st, err = sqlstore.OpenPostgres(context.Background(), sqlstore.PostgresConfig{URL: u, Sealer: sealer}, nil)
	} else {
		st, err = sqlstore.Open(context.Background(), sqlstore.Config{Path: filepath.Join(dataDir, server.DBFile), Sealer: sealer}, nil)
	}
	if err != nil {
		t.Fatalf("open the store of %s: %v", dataDir, err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}
