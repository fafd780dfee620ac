package server_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/heraldim/herald/internal/config"
	apnsemu "github.com/heraldim/herald/internal/emulator/apns"
	"github.com/heraldim/herald/internal/protocol"
	"github.com/heraldim/herald/internal/seal"
	"github.com/heraldim/herald/internal/server"
	"github.com/heraldim/herald/internal/testkit"
)

// storedSecrets returns the stored form of the apps' secrets and admin keys
// and of the vendor credentials, read from the store of a stopped server
// on dir (its file, or its PostgreSQL database under testkit.StoreEnv).
func storedSecrets(t *testing.T, dir string) []string {
	t.Helper()
	driver, dsn := "sqlite", "file:"+filepath.Join(dir, server.DBFile)+"?mode=ro"
	if u := testkit.StoreFor(t, dir); u != "" {
		driver, dsn = "pgx", u
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var out []string
	for _, q := range []string{"SELECT secret FROM apps", "SELECT admin_key FROM apps", "SELECT config FROM push_credentials"} {
		rows, err := db.Query(q)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var v []byte // TEXT or BLOB on SQLite, BYTEA on PostgreSQL
			if err := rows.Scan(&v); err != nil {
				t.Fatal(err)
			}
			out = append(out, string(v))
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// checkSealedUnder fails unless every stored secret is sealed under kid.
func checkSealedUnder(t *testing.T, dir, kid string, want int) {
	t.Helper()
	got := storedSecrets(t, dir)
	if len(got) != want {
		t.Fatalf("%d secrets stored, want %d", len(got), want)
	}
	for _, v := range got {
		if id, err := seal.KeyID(v); err != nil || id != kid {
			t.Errorf("stored secret %.24q…: key %q, %v; want sealed under %q", v, id, err, kid)
		}
	}
}

// sqliteFiles returns files when the tests' store is the embedded
// database (testkit.StoreEnv), and none when it is PostgreSQL, which keeps
// no database file in the data directory.
func sqliteFiles(t *testing.T, files ...string) []string {
	t.Helper()
	if testkit.StoreKind(t) != testkit.StoreSQLite {
		return nil
	}
	return files
}

func masterKey(t *testing.T, id string) string {
	t.Helper()
	k, err := seal.GenerateKey(id)
	if err != nil {
		t.Fatal(err)
	}
	return k.String()
}

// TestSecretsAtRest: the app's secret and admin key and a vendor
// credential are stored sealed, and no plaintext of them is in the
// database's bytes. A restart with a new key listed first re-wraps every
// secret under it (the app still logs in, the credential still pushes);
// after that the old key can go; a start without the key that sealed the
// secrets fails, naming that key.
func TestSecretsAtRest(t *testing.T) {
	dir := t.TempDir()
	k1, k2 := masterKey(t, "k1"), masterKey(t, "k2")
	withKeys := func(keys ...string) func(*config.Config) {
		return func(c *config.Config) { c.DataDir = dir; c.MasterKeys = keys }
	}
	em, key := newAPNsEmulator(t, nil)
	tok := em.RegisterDevice(bundle, apnsemu.Development, false)

	s := testkit.Start(t, withKeys(k1))
	app := s.App
	putAPNsCredential(t, s, em, key)
	s.Stop(t)
	checkSealedUnder(t, dir, "k1", 3)
	// The database's bytes are a file only on SQLite; on PostgreSQL the
	// sealed columns above are what the test can see.
	for _, f := range sqliteFiles(t, server.DBFile, server.DBFile+"-wal") {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		pemBody := strings.Split(string(key), "\n")[1]
		for _, secret := range []string{app.Secret, app.AdminKey, pemBody} {
			if bytes.Contains(b, []byte(secret)) {
				t.Errorf("%s holds a plaintext secret", f)
			}
		}
	}

	// Rotation: the new key first, the old one after it.
	s = testkit.Start(t, withKeys(k2, k1))
	checkSealedUnder(t, dir, "k2", 3) // re-wrapped at start, before serving
	s.LoginAs(t, "alice", "web", "d1").Close()
	s.Stop(t)

	// The old key removed: everything opens, the credential pushes.
	s = testkit.Start(t, withKeys(k2))
	goOffline(t, s, "bob", protocol.PushRegistration{Vendor: "apns", Token: tok, Environment: "development", BundleID: bundle})
	sendAndDeliver(t, s, em, tok, "m1", 1)
	s.Stop(t)

	// Without k2: no start, and the error names k2.
	cfg := config.Default()
	cfg.Addr, cfg.DataDir, cfg.MasterKeys, cfg.Store = "127.0.0.1:0", dir, []string{k1}, testkit.StoreFor(t, dir)
	srv, err := server.New(context.Background(), cfg, slog.New(slog.DiscardHandler), io.Discard)
	if err == nil {
		srv.Close()
		t.Fatal("a server started without the key that sealed its secrets")
	}
	if !errors.Is(err, seal.ErrUnknownKey) || !strings.Contains(err.Error(), `key ID "k2"`) ||
		!strings.Contains(err.Error(), "give master-keys the key") {
		t.Fatalf("start without k2: %v; want an error naming key ID k2", err)
	}
	checkSealedUnder(t, dir, "k2", 3)
	// The failed start released the data directory.
	testkit.Start(t, withKeys(k2)).Stop(t)
}

// TestGeneratedMasterKey: without master-keys the first start generates a
// key into the data directory (0600) and seals with it; later starts use
// it; configuring master-keys later re-wraps what it sealed under the
// configured key. The data directory is 0700 and the database and its
// -wal and -shm 0600 (when the store is the embedded database).
func TestGeneratedMasterKey(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	s := testkit.Start(t, func(c *config.Config) { c.DataDir = dir })
	modes := map[string]os.FileMode{".": 0o700, server.MasterKeyFile: 0o600}
	for _, f := range sqliteFiles(t, server.DBFile, server.DBFile+"-wal", server.DBFile+"-shm") {
		modes[f] = 0o600
	}
	for name, want := range modes {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s has mode %o, want %o", name, fi.Mode().Perm(), want)
		}
	}
	s.Stop(t)
	b, err := os.ReadFile(filepath.Join(dir, server.MasterKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	k, err := seal.ParseKey(string(bytes.TrimSpace(b)))
	if err != nil || !strings.HasPrefix(k.ID, "local-") {
		t.Fatalf("generated key %q, %v", k.ID, err)
	}
	checkSealedUnder(t, dir, k.ID, 2)

	s = testkit.Start(t, func(c *config.Config) { c.DataDir = dir })
	s.LoginAs(t, "alice", "web", "d1").Close()
	s.Stop(t)

	s = testkit.Start(t, func(c *config.Config) { c.DataDir = dir; c.MasterKeys = []string{masterKey(t, "prod1")} })
	s.LoginAs(t, "alice", "web", "d1").Close()
	s.Stop(t)
	checkSealedUnder(t, dir, "prod1", 2)

	// A damaged key file stops the start, naming the file.
	other := t.TempDir()
	if err := os.WriteFile(filepath.Join(other, server.MasterKeyFile), []byte("local-1:c2hvcnQ=\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Addr, cfg.DataDir, cfg.Store = "127.0.0.1:0", other, testkit.StoreFor(t, other)
	srv, err := server.New(context.Background(), cfg, slog.New(slog.DiscardHandler), io.Discard)
	if err == nil {
		srv.Close()
		t.Fatal("a server started with a damaged master.key")
	}
	if !errors.Is(err, seal.ErrBadKey) || !strings.Contains(err.Error(), filepath.Join(other, server.MasterKeyFile)) {
		t.Fatalf("start with a damaged master.key: %v", err)
	}
}
