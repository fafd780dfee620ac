package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/heraldim/herald/internal/im"
)

// mapErr translates a driver error into the im sentinels, keeping the
// driver's error in the chain for logs, and prefixes op:
//
//   - SQLITE_BUSY, SQLITE_LOCKED (a lock not obtained within busy_timeout):
//     im.ErrBusy, retryable;
//   - a unique or primary key violation: im.ErrConflict;
//   - a foreign key violation (a row for an app that does not exist), and
//     sql.ErrNoRows: im.ErrNotFound.
//
// Context errors pass through unchanged in the chain. mapErr(op, nil) is nil.
func mapErr(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s: %w", op, im.ErrNotFound)
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		code := se.Code()
		switch code & 0xff { // primary result code; Code is the extended one
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			return fmt.Errorf("%s: %w: %w", op, im.ErrBusy, err)
		case sqlite3.SQLITE_CONSTRAINT:
			switch code {
			case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
				return fmt.Errorf("%s: %w: %w", op, im.ErrConflict, err)
			case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
				return fmt.Errorf("%s: %w (unknown app): %w", op, im.ErrNotFound, err)
			}
		}
	}
	return fmt.Errorf("%s: %w", op, err)
}

// ctxErr prefers the context's error when the context ended: the driver then
// reports an interrupted statement, which says less.
func ctxErr(ctx context.Context, op string, err error) error {
	if cerr := ctx.Err(); cerr != nil && err != nil {
		return fmt.Errorf("%s: %w", op, cerr)
	}
	return mapErr(op, err)
}
