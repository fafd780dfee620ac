package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net"

	"github.com/jackc/pgx/v5/pgconn"
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
// and on PostgreSQL (pgconn errors, by SQLSTATE):
//
//   - 40001 serialization failure, 40P01 deadlock (retryable: see
//     retryable), 55P03 lock not available, 53300 too many connections,
//     57P01-57P03 server shutting down or starting, class 08 and a
//     connection that could not be made or broke: im.ErrBusy;
//   - 23505 unique violation: im.ErrConflict;
//   - 23503 foreign key violation: im.ErrNotFound (unknown app).
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
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == "23505":
			return fmt.Errorf("%s: %w: %w", op, im.ErrConflict, err)
		case pe.Code == "23503":
			return fmt.Errorf("%s: %w (unknown app): %w", op, im.ErrNotFound, err)
		case pe.Code == "40001", pe.Code == "40P01", pe.Code == "55P03", pe.Code == "53300",
			pe.Code == "57P01", pe.Code == "57P02", pe.Code == "57P03", len(pe.Code) == 5 && pe.Code[:2] == "08":
			return fmt.Errorf("%s: %w: %w", op, im.ErrBusy, err)
		}
		return fmt.Errorf("%s: %w", op, err)
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	if errors.As(err, &ce) || errors.As(err, &ne) || errors.Is(err, driver.ErrBadConn) || pgconn.SafeToRetry(err) {
		return fmt.Errorf("%s: %w (database unavailable): %w", op, im.ErrBusy, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// retryable reports whether err is a PostgreSQL transaction that failed
// only because it ran beside others (serialization failure, deadlock):
// the same transaction run again may succeed.
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
}

// retryAttempts bounds how often a retryable transaction runs.
const retryAttempts = 5

// ctxErr prefers the context's error when the context ended: the driver then
// reports an interrupted statement, which says less.
func ctxErr(ctx context.Context, op string, err error) error {
	if cerr := ctx.Err(); cerr != nil && err != nil {
		return fmt.Errorf("%s: %w", op, cerr)
	}
	return mapErr(op, err)
}
