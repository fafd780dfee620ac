package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// ErrBackupExists is returned by Backup when its output file exists.
var ErrBackupExists = errors.New("backup file exists")

// Backup writes a consistent copy of the database at path into the new
// file out (mode 0600), while a server may be writing to it: SQLite's
// VACUUM INTO copies one read transaction's snapshot, so the copy holds
// every transaction committed before it began and none half. It takes no
// write lock, applies no migrations, and needs neither the data
// directory's lock nor the master keys (secrets stay sealed in the copy).
// The copy is checked (PRAGMA quick_check) before it gets its name: out
// appears complete or not at all. ErrBackupExists if out exists; an error
// wrapping fs.ErrNotExist if path does not.
func Backup(ctx context.Context, path, out string) error {
	const op = "sqlite: backup"
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if _, err := os.Lstat(out); err == nil {
		return fmt.Errorf("%s: %s: %w", op, out, ErrBackupExists)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s: %w", op, err)
	}
	var suffix [6]byte
	if _, err := rand.Read(suffix[:]); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	tmp := filepath.Join(filepath.Dir(out), "."+filepath.Base(out)+".tmp-"+hex.EncodeToString(suffix[:]))
	// VACUUM INTO accepts an existing empty file and keeps its mode.
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	f.Close()
	defer os.Remove(tmp) // after the link below, only the temporary name goes

	if err := vacuumInto(ctx, path, tmp); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if err := quickCheck(ctx, tmp); err != nil {
		return fmt.Errorf("%s: checking the copy: %w", op, err)
	}
	if err := syncFile(tmp); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	// A hard link gives the copy its name only if out still does not
	// exist (a rename would replace it).
	if err := os.Link(tmp, out); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s: %s: %w", op, out, ErrBackupExists)
		}
		return fmt.Errorf("%s: %w", op, err)
	}
	if err := syncFile(filepath.Dir(out)); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

// vacuumInto copies the database at path into the empty file out from a
// connection of its own, waiting for locks like the store does.
func vacuumInto(ctx context.Context, path, out string) error {
	db, err := sql.Open("sqlite", dsn(path, "busy_timeout("+fmt.Sprint(busyTimeoutMS)+")"))
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, "VACUUM INTO ?", out); err != nil {
		return ctxErr(ctx, "vacuum into", err)
	}
	return nil
}

func quickCheck(ctx context.Context, path string) error {
	db, err := sql.Open("sqlite", dsn(path, "query_only(1)"))
	if err != nil {
		return err
	}
	defer db.Close()
	var res string
	if err := db.QueryRowContext(ctx, "PRAGMA quick_check").Scan(&res); err != nil {
		return mapErr("quick_check", err)
	}
	if res != "ok" {
		return fmt.Errorf("quick_check: %s", res)
	}
	return nil
}

func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
