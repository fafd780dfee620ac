package sqlstore

import (
	"bytes"
	"database/sql"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/heraldim/herald/internal/im"
	"github.com/heraldim/herald/internal/push"
	"github.com/heraldim/herald/internal/push/apns"
	"github.com/heraldim/herald/internal/seal"
	"github.com/heraldim/herald/internal/store/storetest"
)

// The secrets the tests store: each must be found in no byte of the files.
const (
	plainSecret   = "PLAIN-server-secret-3f9a"
	plainAdminKey = "PLAIN-admin-key-77c1"
	plainConfig   = `{"private_key":"PLAIN-vendor-key-5e2b"}`
	plainToken    = "PLAIN-apns-provider-token-a1d4"
	plainAccess   = "PLAIN-vendor-access-token-9c0e"
)

var (
	tokenKey  = apns.TokenKey{TeamID: "TEAM", KeyID: "KEY", KeySHA256: "abcd"}
	accessKey = push.TokenKey{Vendor: push.VendorFCM, Account: "sa@example.iam", Secret: push.SecretHash("key")}
	// accessExpiry is far ahead: the sealing tests reopen the files later.
	accessExpiry = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
)

func testKey(t *testing.T, id string) seal.Key {
	t.Helper()
	k, err := seal.GenerateKey(id)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func ring(t *testing.T, keys ...seal.Key) *seal.Keyring {
	t.Helper()
	r, err := seal.NewKeyring(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// openSealed opens path with sl (nil: none); the caller closes it.
func openSealed(t *testing.T, path string, sl Sealer) (*Store, error) {
	t.Helper()
	cfg := Config{Path: path}
	if sl != nil {
		cfg.Sealer = sl
	}
	return Open(t.Context(), cfg, nil)
}

// writeSecrets stores one of each kind of secret.
func writeSecrets(t *testing.T, s *Store) {
	t.Helper()
	ctx := t.Context()
	if err := s.CreateApp(ctx, im.App{ID: "a1", Name: "one", Secret: plainSecret, AdminKey: plainAdminKey, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateApp(ctx, im.App{ID: "a2", Name: "two", Secret: "other-secret", AdminKey: "other-admin", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutCredential(ctx, push.Credential{AppID: "a1", Vendor: push.VendorFCM,
		Environments: []push.Environment{push.Production}, Config: []byte(plainConfig)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SwapProviderToken(ctx, tokenKey, time.Time{}, apns.ProviderToken{Token: plainToken, Issued: time.Unix(1700000000, 0)}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutAccessToken(ctx, accessKey, push.AccessToken{Token: plainAccess, Expires: accessExpiry}); err != nil {
		t.Fatal(err)
	}
}

// checkSecrets reads every secret back through s.
func checkSecrets(t *testing.T, s *Store) {
	t.Helper()
	ctx := t.Context()
	a, err := s.App(ctx, "a1")
	if err != nil || a.Secret != plainSecret || a.AdminKey != plainAdminKey {
		t.Fatalf("App = %+v, %v", a, err)
	}
	cs, err := s.Credentials(ctx, "a1")
	if err != nil || len(cs) != 1 || string(cs[0].Config) != plainConfig {
		t.Fatalf("Credentials = %+v, %v", cs, err)
	}
	tok, ok, err := s.ProviderToken(ctx, tokenKey)
	if err != nil || !ok || tok.Token != plainToken {
		t.Fatalf("ProviderToken = %+v, %v, %v", tok, ok, err)
	}
	at, ok, err := s.AccessToken(ctx, accessKey)
	if err != nil || !ok || at.Token != plainAccess || !at.Expires.Equal(accessExpiry) {
		t.Fatalf("AccessToken = %+v, %v, %v", at, ok, err)
	}
}

// rawSecrets returns the stored form of every secret column of the file,
// read with a connection of its own.
func rawSecrets(t *testing.T, path string) map[string]string {
	t.Helper()
	db, err := sql.Open("sqlite", dsn(path))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	out := map[string]string{}
	for _, c := range sealedColumns {
		rows, err := db.Query(`SELECT ` + strings.Join(c.key, `||'/'||`) + `, ` + c.column + ` FROM ` + c.table)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var k, v string
			if err := rows.Scan(&k, &v); err != nil {
				t.Fatal(err)
			}
			if v != "" { // an absent secret (no previous one) stays empty
				out[c.table+"."+c.column+" "+k] = v
			}
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// checkRawSealed fails unless every secret column is sealed under kid.
func checkRawSealed(t *testing.T, path, kid string) {
	t.Helper()
	raw := rawSecrets(t, path)
	if len(raw) != 7 {
		t.Fatalf("%d secret values stored, want 7: %v", len(raw), raw)
	}
	for k, v := range raw {
		if got, err := seal.KeyID(v); err != nil || got != kid {
			t.Errorf("%s = %.30q…: key ID %q, %v; want sealed under %q", k, v, got, err, kid)
		}
	}
}

// checkNoPlaintext fails if a plaintext secret is in the bytes of the
// database file or its WAL.
func checkNoPlaintext(t *testing.T, path string) {
	t.Helper()
	for _, p := range []string{path, path + "-wal"} {
		b, err := os.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, secret := range []string{plainSecret, plainAdminKey, "PLAIN-vendor-key", plainToken, plainAccess} {
			if bytes.Contains(b, []byte(secret)) {
				t.Errorf("%s holds the plaintext %q", filepath.Base(p), secret)
			}
		}
	}
}

// TestSecretsSealedAtRest: with a Sealer every secret column holds a
// sealed value, no plaintext secret is in the file, and every secret reads
// back, also after a restart.
func TestSecretsSealedAtRest(t *testing.T) {
	path := filepath.Join(t.TempDir(), "herald.db")
	r := ring(t, testKey(t, "k1"))
	s, err := openSealed(t, path, r)
	if err != nil {
		t.Fatal(err)
	}
	writeSecrets(t, s)
	checkSecrets(t, s)
	checkRawSealed(t, path, "k1")
	checkNoPlaintext(t, path) // in the WAL, before a checkpoint
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	checkNoPlaintext(t, path)
	s, err = openSealed(t, path, r)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	checkSecrets(t, s)
	checkRawSealed(t, path, "k1")
}

// TestPlaintextSealedAtOpen: the plaintext secrets a version without
// encryption stored are sealed when a store with a Sealer opens the file.
func TestPlaintextSealedAtOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "herald.db")
	s, err := openSealed(t, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	writeSecrets(t, s)
	s.Close()
	if raw := rawSecrets(t, path); raw["apps.secret a1"] != plainSecret {
		t.Fatalf("without a Sealer the secret is stored as %q", raw["apps.secret a1"])
	}

	s, err = openSealed(t, path, ring(t, testKey(t, "k1")))
	if err != nil {
		t.Fatal(err)
	}
	checkRawSealed(t, path, "k1")
	checkSecrets(t, s)
	s.Close()
	// The old plaintext is overwritten, not left in freed space.
	checkNoPlaintext(t, path)
}

// TestRotation: with a new key first and the old one after it, opening
// re-wraps every value under the new key; the old key can then go.
func TestRotation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "herald.db")
	k1, k2 := testKey(t, "k1"), testKey(t, "k2")
	s, err := openSealed(t, path, ring(t, k1))
	if err != nil {
		t.Fatal(err)
	}
	writeSecrets(t, s)
	s.Close()
	before := rawSecrets(t, path)

	s, err = openSealed(t, path, ring(t, k2, k1))
	if err != nil {
		t.Fatal(err)
	}
	checkRawSealed(t, path, "k2")
	checkSecrets(t, s)
	s.Close()
	after := rawSecrets(t, path)
	for k, v := range before {
		// The value's ciphertext, the tail of the sealed form, is kept.
		if after[k] == v || after[k][len(after[k])-20:] != v[len(v)-20:] {
			t.Errorf("%s: rotation did not re-wrap only the data key:\n before %s\n after  %s", k, v, after[k])
		}
	}

	s, err = openSealed(t, path, ring(t, k2))
	if err != nil {
		t.Fatal(err)
	}
	checkSecrets(t, s)
	s.Close()
}

// TestMissingKey: a file sealed under a key that is not configured does
// not open; the error names the key ID and the value.
func TestMissingKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "herald.db")
	s, err := openSealed(t, path, ring(t, testKey(t, "old-2025")))
	if err != nil {
		t.Fatal(err)
	}
	writeSecrets(t, s)
	s.Close()
	before := rawSecrets(t, path)

	_, err = openSealed(t, path, ring(t, testKey(t, "new-2026")))
	var uk *seal.UnknownKeyError
	var so *SecretOpenError
	if !errors.As(err, &uk) || uk.ID != "old-2025" || !errors.As(err, &so) {
		t.Fatalf("Open = %v, want a SecretOpenError for key old-2025", err)
	}
	if msg := err.Error(); !strings.Contains(msg, `"old-2025"`) || !strings.Contains(msg, "apps.secret") {
		t.Fatalf("error %q does not name the key ID and column", msg)
	}
	// The same ID with other key material: the wrong key, not unknown.
	_, err = openSealed(t, path, ring(t, testKey(t, "old-2025")))
	if !errors.Is(err, seal.ErrWrongKey) {
		t.Fatalf("Open with other material = %v, want ErrWrongKey", err)
	}
	if after := rawSecrets(t, path); len(after) != len(before) || after["apps.secret a1"] != before["apps.secret a1"] {
		t.Fatal("a failed open changed the stored secrets")
	}
}

// TestSealedValueMoved: a sealed value copied into another row or another
// column, and a plaintext value written behind the store's back, are
// refused.
func TestSealedValueMoved(t *testing.T) {
	path := filepath.Join(t.TempDir(), "herald.db")
	r := ring(t, testKey(t, "k1"))
	s, err := openSealed(t, path, r)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	writeSecrets(t, s)
	ctx := t.Context()
	if _, err := s.w.ExecContext(ctx, `UPDATE apps SET admin_key = (SELECT admin_key FROM apps WHERE id = 'a1') WHERE id = 'a2'`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.App(ctx, "a2"); !errors.Is(err, seal.ErrTampered) {
		t.Fatalf("App with a1's admin key copied in: %v, want ErrTampered", err)
	}
	// The admin key put in place of the same app's server secret: whoever
	// knows the admin key could then mint login tokens.
	if _, err := s.w.ExecContext(ctx, `UPDATE apps SET secret = admin_key WHERE id = 'a1'`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.App(ctx, "a1"); !errors.Is(err, seal.ErrTampered) {
		t.Fatalf("App with its admin key as its secret: %v, want ErrTampered", err)
	}
	if _, err := s.w.ExecContext(ctx, `UPDATE apps SET admin_key = 'known' WHERE id = 'a2'`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.App(ctx, "a2"); !errors.Is(err, ErrPlaintextSecret) {
		t.Fatalf("App with a plaintext admin key: %v, want ErrPlaintextSecret", err)
	}
	if _, err := s.w.ExecContext(ctx, `UPDATE push_credentials SET vendor = 'apns'`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Credentials(ctx, "a1"); !errors.Is(err, seal.ErrTampered) {
		t.Fatalf("credential moved to another vendor: %v, want ErrTampered", err)
	}
	// A store without the keys does not read sealed values as secrets.
	plain, err := openSealed(t, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if _, err := plain.App(ctx, "a1"); !errors.Is(err, ErrNoSealer) {
		t.Fatalf("App without a Sealer: %v, want ErrNoSealer", err)
	}
}

// TestFileModes: the database file and its -wal and -shm are readable by
// their owner only, also when an older version left them 0644.
func TestFileModes(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	dir := t.TempDir()
	path := filepath.Join(dir, "herald.db")
	check := func() {
		t.Helper()
		for _, p := range []string{path, path + "-wal", path + "-shm"} {
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if m := fi.Mode().Perm(); m != 0o600 {
				t.Errorf("%s has mode %o, want 600", filepath.Base(p), m)
			}
		}
	}
	r := ring(t, testKey(t, "k1"))
	s, err := openSealed(t, path, r)
	if err != nil {
		t.Fatal(err)
	}
	writeSecrets(t, s)
	check()
	s.Close()

	// A file an older version created with SQLite's default mode (the
	// last close removed the -wal and -shm).
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	s, err = openSealed(t, path, r)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	check()
}

// TestContractSealed runs the store contract with secrets sealed.
func TestContractSealed(t *testing.T) {
	r := ring(t, testKey(t, "k1"))
	storetest.Run(t, func(t *testing.T, dir string) im.Store {
		return openTest(t, Config{Path: filepath.Join(dir, "herald.db"), Sealer: r})
	})
}

// plainAppColumns are the columns of apps that hold no secret. Every other
// column of apps must be in sealedColumns (and be written through
// sealSecret), so that a start seals and re-wraps it.
var plainAppColumns = map[string]bool{"id": true, "name": true, "created_at": true, "updated_at": true,
	"disabled_at": true, "prev_secret_until": true, "prev_admin_key_until": true}

// TestAppColumnsSealedOrPlain: every column of the apps table is either a
// sealed one or known to hold no secret, so that a new secret column is
// not forgotten by the start's sealing and re-wrapping (after a rotation
// whose old key is then removed, it would no longer open).
func TestAppColumnsSealedOrPlain(t *testing.T) {
	s := openTest(t, Config{Path: filepath.Join(t.TempDir(), "herald.db")})
	defer s.Close()
	sealed := map[string]bool{}
	for _, c := range sealedColumns {
		if c.table == "apps" {
			sealed[c.column] = true
		}
	}
	rows, err := s.r.QueryContext(t.Context(), `SELECT name FROM pragma_table_info('apps')`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var col string
		if err := rows.Scan(&col); err != nil {
			t.Fatal(err)
		}
		n++
		if !sealed[col] && !plainAppColumns[col] {
			t.Errorf("apps.%s is neither in sealedColumns (seal.go: a secret, written through sealSecret) nor in plainAppColumns (no secret)", col)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if n < 5 {
		t.Fatalf("apps has %d columns", n)
	}
}
