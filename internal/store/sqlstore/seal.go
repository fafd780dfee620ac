package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/heraldim/herald/internal/seal"
)

// Sealer encrypts the secret columns at rest; *seal.Keyring implements
// it. Sealed values are strings of the seal package's form ("hs1:..."),
// bound by aad to their row and column.
type Sealer interface {
	// Seal encrypts plaintext under the primary key, bound to aad.
	Seal(plaintext, aad []byte) (string, error)
	// Open decrypts a sealed value, checking aad.
	Open(stored string, aad []byte) ([]byte, error)
	// Rewrap re-wraps a sealed value's data key under the primary key when
	// another key wrapped it, reporting whether it changed.
	Rewrap(stored string, aad []byte) (string, bool, error)
}

var _ Sealer = (*seal.Keyring)(nil)

// ErrPlaintextSecret is returned when a store with a Sealer reads a secret
// column that holds a plaintext value. Open seals every plaintext value
// left by older versions, so one found later was written behind the
// store's back and is refused (it could be a known value put in place of
// a sealed one).
var ErrPlaintextSecret = errors.New("secret column holds a plaintext value")

// ErrNoSealer is returned when a store without a Sealer reads a sealed
// value: the master keys were not given to it.
var ErrNoSealer = errors.New("secret column is sealed and the store has no master keys")

// sealSecret returns how a secret of an app (a server secret, an admin key,
// a webhook secret, ...) is stored in column ("table.column"), and
// openSecret reads it back. Every secret column keyed by an app goes
// through the pair, so that encryption at rest has one place to live. The
// value is bound to its column and app: a sealed secret copied to another
// app's row, or to another column of the same row (an admin key put in
// place of the server secret), does not open. An empty value (no secret)
// is stored empty.
func (s *Store) sealSecret(column, appID, plaintext string) (string, error) {
	return s.sealValue(secretAAD(column, appID), plaintext)
}

// openSecret is sealSecret's inverse.
func (s *Store) openSecret(column, appID, stored string) (string, error) {
	return s.openValue(secretAAD(column, appID), stored)
}

// The secret columns keyed by an app alone.
const (
	colAppSecret       = "apps.secret"
	colAppAdminKey     = "apps.admin_key"
	colAppPrevSecret   = "apps.prev_secret"
	colAppPrevAdminKey = "apps.prev_admin_key"
	colWebhookSecret   = "webhooks.secret"
)

// The associated data of each sealed column: the column and the row's
// key. Parts are joined with NUL, which no ID holds.
func secretAAD(column, appID string) []byte { return aad(column, appID) }

func credentialAAD(appID, vendor string) []byte { return aad("push_credentials", appID, vendor) }

func providerTokenAAD(teamID, keyID, keySHA256 string) []byte {
	return aad("apns_provider_tokens", teamID, keyID, keySHA256)
}

func accessTokenAAD(vendor, account, secretSHA256 string) []byte {
	return aad("vendor_access_tokens", vendor, account, secretSHA256)
}

func aad(parts ...string) []byte { return []byte("herald\x00" + strings.Join(parts, "\x00")) }

// sealValue seals plaintext for aad; without a Sealer, or for an empty
// value, it returns its input.
func (s *Store) sealValue(aad []byte, plaintext string) (string, error) {
	if s.sealer == nil || plaintext == "" {
		return plaintext, nil
	}
	out, err := s.sealer.Seal([]byte(plaintext), aad)
	if err != nil {
		return "", fmt.Errorf("sealing secret: %w", err)
	}
	return out, nil
}

// openValue is sealValue's inverse.
func (s *Store) openValue(aad []byte, stored string) (string, error) {
	switch {
	case stored == "":
		return "", nil
	case s.sealer == nil && seal.IsSealed(stored):
		return "", ErrNoSealer
	case s.sealer == nil:
		return stored, nil
	case !seal.IsSealed(stored):
		return "", ErrPlaintextSecret
	}
	b, err := s.sealer.Open(stored, aad)
	if err != nil {
		return "", fmt.Errorf("opening secret: %w", err)
	}
	return string(b), nil
}

// sealedColumn is one secret column: its table, the columns of the row's
// key (its primary key, which also makes the associated data) and how
// they make it.
type sealedColumn struct {
	table, column string
	key           []string
	aad           func(key []string) []byte
}

// sealedColumns lists every column that holds sealed values, for
// resealSecrets. A new secret column must be added here: one keyed by an
// app (written through sealSecret with its col* name) has key
// []string{"id"} (or the table's primary key, the app ID first) and aad
// secretAAD(its col* name, k[0]).
var sealedColumns = []sealedColumn{
	{"apps", "secret", []string{"id"}, func(k []string) []byte { return secretAAD(colAppSecret, k[0]) }},
	{"apps", "admin_key", []string{"id"}, func(k []string) []byte { return secretAAD(colAppAdminKey, k[0]) }},
	{"apps", "prev_secret", []string{"id"}, func(k []string) []byte { return secretAAD(colAppPrevSecret, k[0]) }},
	{"apps", "prev_admin_key", []string{"id"}, func(k []string) []byte { return secretAAD(colAppPrevAdminKey, k[0]) }},
	{"webhooks", "secret", []string{"app_id"}, func(k []string) []byte { return secretAAD(colWebhookSecret, k[0]) }},
	{"push_credentials", "config", []string{"app_id", "vendor"}, func(k []string) []byte { return credentialAAD(k[0], k[1]) }},
	{"apns_provider_tokens", "token", []string{"team_id", "key_id", "key_sha256"},
		func(k []string) []byte { return providerTokenAAD(k[0], k[1], k[2]) }},
	{"vendor_access_tokens", "token", []string{"vendor", "account", "secret_sha256"},
		func(k []string) []byte { return accessTokenAAD(k[0], k[1], k[2]) }},
}

// SecretOpenError says which stored secret could not be opened at start:
// the column and row, and why (its Err: a *seal.UnknownKeyError when the
// master key that sealed it is not configured).
type SecretOpenError struct {
	Table, Column string
	Key           []string // the row's key columns' values
	Err           error
}

// Error implements error.
func (e *SecretOpenError) Error() string {
	return fmt.Sprintf("%s.%s of row %s: %v", e.Table, e.Column, strings.Join(e.Key, "/"), e.Err)
}

// Unwrap returns the cause.
func (e *SecretOpenError) Unwrap() error { return e.Err }

// resealSecrets, in one transaction on the writer, seals every secret
// value still in plaintext (stored by a version before encryption at rest)
// and re-wraps under the primary key every one sealed under another (after
// a rotation), checking that every value opens: a value sealed under a
// key that is not configured fails the start with a *SecretOpenError
// naming its key ID. It changes nothing when every value is sealed under
// the primary key. The old plaintext is overwritten (secure_delete), not
// left in the file's free space.
func resealSecrets(ctx context.Context, d dialect, db *sql.DB, sl Sealer, log *slog.Logger) error {
	op := d.name + ": sealing secrets"
	conn, err := db.Conn(ctx)
	if err != nil {
		return ctxErr(ctx, op, err)
	}
	defer conn.Close()
	if d.secureDeleteOn != "" {
		if _, err := conn.ExecContext(ctx, d.secureDeleteOn); err != nil {
			return ctxErr(ctx, op, err)
		}
		defer func() { _, _ = conn.ExecContext(context.WithoutCancel(ctx), d.secureDeleteOff) }()
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return ctxErr(ctx, op, err)
	}
	defer func() { _ = tx.Rollback() }() // after Commit it does nothing
	sealed, rewrapped := 0, 0
	for _, c := range sealedColumns {
		n, m, err := resealColumn(ctx, tx, sl, c)
		if err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
		sealed, rewrapped = sealed+n, rewrapped+m
	}
	if sealed == 0 && rewrapped == 0 {
		return nil
	}
	if err := tx.Commit(); err != nil {
		return ctxErr(ctx, op, err)
	}
	log.Info("sqlite secrets sealed at rest", "sealed_plaintext", sealed, "rewrapped", rewrapped)
	return nil
}

func resealColumn(ctx context.Context, tx *sql.Tx, sl Sealer, c sealedColumn) (sealed, rewrapped int, err error) {
	type update struct {
		key   []string
		value string
	}
	rows, err := tx.QueryContext(ctx, `SELECT `+strings.Join(c.key, ", ")+`, `+c.column+` FROM `+c.table)
	if err != nil {
		return 0, 0, mapErr(c.table, err)
	}
	defer rows.Close()
	var updates []update
	for rows.Next() {
		key := make([]string, len(c.key))
		var value string
		dst := make([]any, 0, len(key)+1)
		for i := range key {
			dst = append(dst, &key[i])
		}
		if err := rows.Scan(append(dst, &value)...); err != nil {
			return 0, 0, mapErr(c.table, err)
		}
		if value == "" {
			continue
		}
		aad := c.aad(key)
		if !seal.IsSealed(value) {
			out, err := sl.Seal([]byte(value), aad)
			if err != nil {
				return 0, 0, &SecretOpenError{Table: c.table, Column: c.column, Key: key, Err: err}
			}
			updates = append(updates, update{key, out})
			sealed++
			continue
		}
		out, changed, err := sl.Rewrap(value, aad)
		if err != nil {
			return 0, 0, &SecretOpenError{Table: c.table, Column: c.column, Key: key, Err: err}
		}
		if changed {
			updates = append(updates, update{key, out})
			rewrapped++
		}
	}
	if err := rows.Err(); err != nil {
		return 0, 0, mapErr(c.table, err)
	}
	rows.Close()
	where := make([]string, len(c.key))
	for i, k := range c.key {
		where[i] = fmt.Sprintf("%s = $%d", k, i+2)
	}
	q := `UPDATE ` + c.table + ` SET ` + c.column + ` = $1 WHERE ` + strings.Join(where, " AND ")
	for _, u := range updates {
		args := []any{u.value}
		for _, k := range u.key {
			args = append(args, k)
		}
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return 0, 0, mapErr(c.table, err)
		}
	}
	return sealed, rewrapped, nil
}
