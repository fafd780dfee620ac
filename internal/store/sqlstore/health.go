package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"

	"github.com/heraldim/herald/internal/im"
)

// DefaultProbeInterval is how often RunWriteProbes writes when nothing else
// wrote, and retries while writes fail, when its interval is zero. 5 s: a
// failing disk shows in readiness within a load balancer's usual check
// period, and a recovered one is noticed as quickly.
const DefaultProbeInterval = 5 * time.Second

// probeFreePagesMax bounds the probe's trial allocation: with more free
// pages than this, writes for a while reuse them and need no new space, so
// the probe does not ask for any (it would cost as many pages of memory).
const probeFreePagesMax = 256

// WriteFailure describes failing writes: the last write failed, and none
// succeeded since the first of the failures.
type WriteFailure struct {
	// Err is the last failure's error.
	Err error
	// At is when the last failure happened; Since, when the first one of
	// this run of failures did.
	At, Since time.Time
}

// Reason is a short description of the failure for health reports: the
// SQLite result's message ("database or disk is full (13)") when the
// driver gave one, else the whole error.
func (f WriteFailure) Reason() string {
	var se *sqlite.Error
	if errors.As(f.Err, &se) {
		return se.Error()
	}
	var pe *pgconn.PgError
	if errors.As(f.Err, &pe) {
		return pe.Error()
	}
	if f.Err == nil {
		return ""
	}
	return f.Err.Error()
}

// writeHealth records the outcome of the store's writes: those of the
// messages' commit path and of the probe.
type writeHealth struct {
	mu      sync.Mutex
	failure *WriteFailure // nil while writes succeed
	last    time.Time     // the last recorded outcome, failed or not
	changed chan struct{} // closed (and replaced) when failing starts or stops
}

// watch returns a channel closed when writes next start or stop failing.
func (h *writeHealth) watch() <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.changed == nil {
		h.changed = make(chan struct{})
	}
	return h.changed
}

// note records a write's outcome. Errors that say nothing of the store's
// ability to write are ignored: a cancelled caller, a conflict, an unknown
// app.
func (h *writeHealth) note(err error, now time.Time) {
	if err != nil && !writeFailure(err) {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.last = now
	if (err == nil) != (h.failure == nil) && h.changed != nil {
		close(h.changed)
		h.changed = nil
	}
	if err == nil {
		h.failure = nil
		return
	}
	if h.failure == nil {
		h.failure = &WriteFailure{Since: now}
	}
	h.failure.Err, h.failure.At = err, now
}

// writeFailure reports whether err is the store failing to write, as
// opposed to the write being refused or abandoned.
func writeFailure(err error) bool {
	return !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) &&
		!errors.Is(err, im.ErrConflict) && !errors.Is(err, im.ErrNotFound)
}

// WriteHealth returns the current failure when the last write failed and
// none succeeded since, and false while writes succeed (or none was made
// yet).
func (s *Store) WriteHealth() (WriteFailure, bool) {
	s.health.mu.Lock()
	defer s.health.mu.Unlock()
	if s.health.failure == nil {
		return WriteFailure{}, false
	}
	return *s.health.failure, true
}

// WriteHealthChanged returns a channel closed when writes next start or
// stop failing (for tests to wait on).
func (s *Store) WriteHealthChanged() <-chan struct{} { return s.health.watch() }

// ProbeWrite makes one small write and records its outcome in WriteHealth.
// In one transaction it first allocates, and gives back, one page more than
// the database has free (so that a database that cannot grow, its disk or
// its max_page_count full, fails as the next growing write would), then
// rewrites the header's user_version with its own value and commits (so
// that the WAL must take a frame and the commit must reach the file).
// Nothing of the database changes.
func (s *Store) ProbeWrite(ctx context.Context) error {
	err := s.probe(ctx)
	if ctx.Err() == nil {
		s.health.note(err, time.Now())
	}
	return err
}

func (s *Store) probe(ctx context.Context) (err error) {
	if s.d.shared {
		return s.probePostgres(ctx)
	}
	const op = "store: write probe"
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return ctxErr(ctx, op, err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	var free, pageSize, version int64
	for _, q := range []struct {
		pragma string
		v      *int64
	}{{"freelist_count", &free}, {"page_size", &pageSize}, {"user_version", &version}} {
		if err := tx.QueryRowContext(ctx, "PRAGMA "+q.pragma).Scan(q.v); err != nil {
			return ctxErr(ctx, op+": "+q.pragma, err)
		}
	}
	if free <= probeFreePagesMax {
		if _, err := tx.ExecContext(ctx, "SAVEPOINT herald_probe"); err != nil {
			return ctxErr(ctx, op, err)
		}
		// A table of its own, so that no schema change elsewhere can
		// make the probe fail: the savepoint's rollback takes it back,
		// and the pages with it.
		if _, err := tx.ExecContext(ctx, "CREATE TABLE herald_write_probe (b BLOB)"); err != nil {
			return ctxErr(ctx, op+": allocate", err)
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO herald_write_probe (b) VALUES (zeroblob(?))", (free+1)*pageSize); err != nil {
			return ctxErr(ctx, op+": allocate", err)
		}
		if _, err := tx.ExecContext(ctx, "ROLLBACK TO herald_probe"); err != nil {
			return ctxErr(ctx, op, err)
		}
		if _, err := tx.ExecContext(ctx, "RELEASE herald_probe"); err != nil {
			return ctxErr(ctx, op, err)
		}
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", version)); err != nil {
		return ctxErr(ctx, op+": header", err)
	}
	if err := tx.Commit(); err != nil {
		return ctxErr(ctx, op+": commit", err)
	}
	return nil
}

// RunWriteProbes calls ProbeWrite every interval (zero:
// DefaultProbeInterval) in which no other write recorded an outcome, and at
// every interval while writes fail, until ctx ends: a failing disk is
// noticed without traffic, and WriteHealth recovers by itself once writes
// succeed again. Probe failures are recorded in WriteHealth, not returned.
func (s *Store) RunWriteProbes(ctx context.Context, interval time.Duration) error {
	if interval <= 0 {
		interval = DefaultProbeInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case now := <-t.C:
			s.health.mu.Lock()
			idle := s.health.failure != nil || now.Sub(s.health.last) >= interval
			s.health.mu.Unlock()
			if !idle {
				continue
			}
			if err := s.ProbeWrite(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("sqlite write probe failed", "err", err)
			}
		}
	}
}

// SetMaxPageCount sets the writer's PRAGMA max_page_count, the most pages
// the database file may grow to, and returns the limit in effect (SQLite
// never sets it below the current size). Writes that would grow the file
// beyond it fail as on a full disk (SQLITE_FULL). For tests of full-disk
// behaviour; a production database keeps SQLite's default.
func (s *Store) SetMaxPageCount(ctx context.Context, pages int64) (int64, error) {
	var n int64
	if err := s.w.QueryRowContext(ctx, fmt.Sprintf("PRAGMA max_page_count = %d", pages)).Scan(&n); err != nil {
		return 0, mapErr("sqlite: max_page_count", err)
	}
	return n, nil
}

// PageCount returns the database's size in pages (free ones included).
func (s *Store) PageCount(ctx context.Context) (int64, error) {
	var n int64
	if err := s.w.QueryRowContext(ctx, "PRAGMA page_count").Scan(&n); err != nil {
		return 0, mapErr("sqlite: page_count", err)
	}
	return n, nil
}

// probePostgres is ProbeWrite on PostgreSQL: a transaction that runs an
// UPDATE (matching no row: a read-only database or a standby refuses it
// all the same), takes a transaction ID and commits, so that the server
// must write (and, with synchronous_commit, flush) a commit record. A
// server that cannot write (read-only, in recovery, WAL disk full,
// unreachable) fails it. Nothing of the database changes.
func (s *Store) probePostgres(ctx context.Context) (err error) {
	const op = "postgres: write probe"
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return ctxErr(ctx, op, err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if _, err := tx.ExecContext(ctx, "UPDATE nodes SET owner = owner WHERE false"); err != nil {
		return ctxErr(ctx, op, err)
	}
	var xid string
	if err := tx.QueryRowContext(ctx, "SELECT pg_current_xact_id()::text").Scan(&xid); err != nil {
		return ctxErr(ctx, op, err)
	}
	if err := tx.Commit(); err != nil {
		return ctxErr(ctx, op+": commit", err)
	}
	return nil
}
