package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/heraldim/herald/internal/push"
)

var _ push.Store = (*Store)(nil)

const deviceColumns = `app_id, push_id, vendor, token, voip_token, environment, platform, bundle_id,
	user_id, enabled, foreground, created_at, updated_at`

const jobColumns = `id, app_id, message_id, user_id, push_id, vendor, push_config, status, attempts,
	not_before, expires_at, reason, created_at, updated_at, kind, call_id`

const (
	// qRegisterDevice upserts a device; an empty user_id keeps the binding.
	qRegisterDevice = `INSERT INTO devices (` + deviceColumns + `)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)
ON CONFLICT (app_id, push_id) DO UPDATE SET
	vendor = excluded.vendor, token = excluded.token, voip_token = excluded.voip_token,
	environment = excluded.environment, platform = excluded.platform, bundle_id = excluded.bundle_id,
	user_id = CASE WHEN excluded.user_id <> '' THEN excluded.user_id ELSE devices.user_id END,
	enabled = excluded.enabled, foreground = excluded.foreground, updated_at = excluded.updated_at`

	qUnbindDevice = `UPDATE devices SET user_id = '', updated_at = $4
WHERE app_id = $1 AND push_id = $2 AND user_id = $3`

	qDeviceExists = `SELECT 1 FROM devices WHERE app_id = $1 AND push_id = $2`

	qDeleteDevice = `DELETE FROM devices WHERE app_id = $1 AND push_id = $2`

	qDropDeviceJobs = `UPDATE push_jobs SET status = 'dropped', reason = $3, updated_at = $4
WHERE app_id = $1 AND push_id = $2 AND status = 'pending'`

	qDevice = `SELECT ` + deviceColumns + ` FROM devices WHERE app_id = $1 AND push_id = $2`

	qUserDevices = `SELECT ` + deviceColumns + ` FROM devices WHERE app_id = $1 AND user_id = $2 AND user_id <> ''
ORDER BY push_id`

	// qDueJobs reads due jobs with their devices (NULLs when the device is
	// gone), so that dispatching a job costs no further read.
	qDueJobs = qJobsWithDevices + `
WHERE j.vendor = $1 AND j.status = 'pending' AND j.not_before <= $2 ORDER BY j.not_before, j.id LIMIT $3`

	// qJobsWithDevices is the select of jobs joined with their devices
	// that DueJobs and ClaimJobs read (scanJobWithDevice).
	qJobsWithDevices = `SELECT j.id, j.app_id, j.message_id, j.user_id, j.push_id, j.vendor, j.push_config, j.status,
	j.attempts, j.not_before, j.expires_at, j.reason, j.created_at, j.updated_at, j.kind, j.call_id,
	d.push_id, COALESCE(d.vendor, ''), COALESCE(d.token, ''), COALESCE(d.voip_token, ''),
	COALESCE(d.environment, ''), COALESCE(d.platform, ''), COALESCE(d.bundle_id, ''),
	COALESCE(d.user_id, ''), COALESCE(d.enabled, 0), COALESCE(d.foreground, 0)
FROM push_jobs j
LEFT JOIN devices d ON d.app_id = j.app_id AND d.push_id = j.push_id`

	// qInsertAttempt numbers a job's calls itself (1, 2, ...): a deferral
	// is traced as a call without being one of the job's attempts, so the
	// attempt count cannot number the rows.
	qInsertAttempt = `INSERT INTO push_attempts (job_id, attempt, at, outcome, status, reason, latency_ms)
SELECT $1, COALESCE(MAX(attempt), 0) + 1, $2, $3, $4, $5, $6 FROM push_attempts WHERE job_id = $1`

	// qFinishJob moves a job to its next state. A job dropped while its
	// attempt was in flight (device removed, call answered) stays dropped
	// unless the vendor took the push: a retry must not revive it.
	// Only the job's lease owner ($7) records it (a finisher whose lease
	// expired and whose job another node claimed changes nothing), and
	// recording ends the lease.
	qFinishJob = `UPDATE push_jobs SET status = $2, attempts = $3, not_before = $4, reason = $5, updated_at = $6,
	lease_owner = '', lease_until = 0
WHERE id = $1 AND lease_owner = $7 AND (status = 'pending' OR $2 = 'delivered')`

	qTraceByMessage = `SELECT ` + jobColumns + ` FROM push_jobs WHERE app_id = $1 AND message_id = $2 ORDER BY id DESC LIMIT $3`
	// qTraceByMessageUser is one recipient's jobs of a message (the push
	// explanation).
	qTraceByMessageUser = `SELECT ` + jobColumns + ` FROM push_jobs WHERE app_id = $1 AND message_id = $2 AND user_id = $3 ORDER BY id DESC LIMIT $4`
	qTraceByUser        = `SELECT ` + jobColumns + ` FROM push_jobs WHERE app_id = $1 AND user_id = $2 ORDER BY id DESC LIMIT $3`
	qTraceByPushID      = `SELECT ` + jobColumns + ` FROM push_jobs WHERE app_id = $1 AND push_id = $2 ORDER BY id DESC LIMIT $3`

	qAttempts = `SELECT job_id, attempt, at, outcome, status, reason, latency_ms FROM push_attempts
WHERE job_id = $1 ORDER BY attempt`
)

// RegisterDevice implements push.Store. Binding a device to a user takes it
// from any user it was bound to: the row holds one user. A change of the
// binding is recorded as a device event in the same transaction.
func (s *Store) RegisterDevice(ctx context.Context, d push.Device) error {
	now := time.Now()
	return s.inTx(ctx, "store: register device", func(tx *sql.Tx) error {
		from, _, err := deviceUser(ctx, tx, d.AppID, d.PushID)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, qRegisterDevice, d.AppID, d.PushID, string(d.Vendor), d.Token, d.VoIPToken,
			string(d.Environment), d.Platform, d.BundleID, d.UserID, boolInt(d.Enabled), d.Foreground, now.UnixMilli()); err != nil {
			return err
		}
		to := d.UserID
		if to == "" {
			to = from // an empty user keeps the binding
		}
		if e, ok := bindingEvent(d.AppID, d.PushID, from, to, now); ok {
			return recordDeviceEvent(ctx, tx, e)
		}
		return nil
	})
}

// UnbindDevice implements push.Store; the unbinding is recorded as a
// device event.
func (s *Store) UnbindDevice(ctx context.Context, appID, pushID, userID string) error {
	now := time.Now()
	return s.inTx(ctx, "store: unbind device", func(tx *sql.Tx) error {
		if err := deviceExists(ctx, tx, appID, pushID); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, qUnbindDevice, appID, pushID, userID, now.UnixMilli())
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 || userID == "" {
			return err
		}
		e, _ := bindingEvent(appID, pushID, userID, "", now)
		return recordDeviceEvent(ctx, tx, e)
	})
}

// DeleteDevice implements push.Store: the device goes, and so do its
// pending jobs (dropped with reason); the removal is recorded as a device
// event.
func (s *Store) DeleteDevice(ctx context.Context, appID, pushID, reason string) error {
	now := time.Now()
	return s.inTx(ctx, "store: delete device", func(tx *sql.Tx) error {
		user, found, err := deviceUser(ctx, tx, appID, pushID)
		if err != nil {
			return err
		}
		if !found {
			return push.ErrNotFound
		}
		if _, err := tx.ExecContext(ctx, qDeleteDevice, appID, pushID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, qDropDeviceJobs, appID, pushID, reason, now.UnixMilli()); err != nil {
			return err
		}
		return recordDeviceEvent(ctx, tx, push.DeviceEvent{AppID: appID, PushID: pushID, At: now,
			Kind: push.DeviceRemoved, FromUser: user, Reason: reason})
	})
}

func deviceExists(ctx context.Context, tx *sql.Tx, appID, pushID string) error {
	var one int
	err := tx.QueryRowContext(ctx, qDeviceExists, appID, pushID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return push.ErrNotFound
	}
	return err
}

// inTx runs fn in a transaction on the writer and commits it, mapping the
// errors. A transaction failing only because others ran beside it (PostgreSQL's
// serialization failures and deadlocks) runs again, up to retryAttempts
// times: fn must be safe to call again.
func (s *Store) inTx(ctx context.Context, op string, fn func(*sql.Tx) error) (err error) {
	for attempt := 1; ; attempt++ {
		err = s.inTxOnce(ctx, op, fn)
		if err == nil || !retryable(err) || attempt == retryAttempts {
			return err
		}
	}
}

// inTxOnce is one attempt of inTx.
func (s *Store) inTxOnce(ctx context.Context, op string, fn func(*sql.Tx) error) (err error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return mapErr(op, err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if err := fn(tx); err != nil {
		if errors.Is(err, push.ErrNotFound) {
			return fmt.Errorf("%s: %w", op, err)
		}
		return mapErr(op, err)
	}
	if err := tx.Commit(); err != nil {
		return mapErr(op, err)
	}
	return nil
}

// Device implements push.Store.
func (s *Store) Device(ctx context.Context, appID, pushID string) (push.Device, error) {
	d, err := scanDevice(s.r.QueryRowContext(ctx, qDevice, appID, pushID))
	if errors.Is(err, sql.ErrNoRows) {
		return push.Device{}, fmt.Errorf("store: device: %w", push.ErrNotFound)
	}
	if err != nil {
		return push.Device{}, mapErr("store: device", err)
	}
	return d, nil
}

// UserDevices implements push.Store.
func (s *Store) UserDevices(ctx context.Context, appID, userID string) ([]push.Device, error) {
	rows, err := s.r.QueryContext(ctx, qUserDevices, appID, userID)
	if err != nil {
		return nil, mapErr("store: user devices", err)
	}
	defer rows.Close()
	var out []push.Device
	for rows.Next() {
		d, err := scanDevice(rows)
		if err != nil {
			return nil, mapErr("store: user devices", err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr("store: user devices", err)
	}
	return out, nil
}

func scanDevice(r scanner) (push.Device, error) {
	var d push.Device
	var vendor, env string
	var created, updated int64
	err := r.Scan(&d.AppID, &d.PushID, &vendor, &d.Token, &d.VoIPToken, &env, &d.Platform, &d.BundleID,
		&d.UserID, &d.Enabled, &d.Foreground, &created, &updated)
	d.Vendor, d.Environment = push.Vendor(vendor), push.Environment(env)
	d.CreatedAt, d.UpdatedAt = fromMillis(created), fromMillis(updated)
	return d, err
}

// DueJobs returns up to limit pending jobs of vendor v whose not_before is
// at or before now, oldest first, each with its device, whether leased or
// not: a view for tests and tools (the dispatcher claims with ClaimJobs),
// so its statement is not prepared at open.
func (s *Store) DueJobs(ctx context.Context, v push.Vendor, now time.Time, limit int) ([]push.Job, error) {
	const op = "store: due jobs"
	rows, err := s.r.QueryContext(ctx, qDueJobs, string(v), now.UnixMilli(), limit)
	if err != nil {
		return nil, mapErr(op, err)
	}
	out, err := scanJobsWithDevices(rows)
	if err != nil {
		return nil, mapErr(op, err)
	}
	return out, nil
}

// claimQuery is ClaimJobs' lease-taking statement: it leases to $4 until
// $5 up to $3 of vendor $1's jobs that are pending, due at $2 and not
// leased (or whose lease ended by $2), oldest first, and returns their
// IDs. With skipLocked (PostgreSQL) the selecting subquery locks its rows
// FOR UPDATE SKIP LOCKED, so that nodes claiming at once pass over each
// other's rows instead of waiting for them and then finding them leased;
// SQLite has one writer at a time, which makes the statement atomic as is.
func claimQuery(skipLocked bool) string {
	lock := ""
	if skipLocked {
		lock = " FOR UPDATE SKIP LOCKED"
	}
	return `UPDATE push_jobs SET lease_owner = $4, lease_until = $5
WHERE id IN (SELECT id FROM push_jobs
	WHERE vendor = $1 AND status = 'pending' AND not_before <= $2 AND lease_until <= $2
	ORDER BY not_before, id LIMIT $3` + lock + `)
RETURNING id`
}

// claimedJobsQuery reads n claimed jobs by ID ($1..$n) with their devices.
func claimedJobsQuery(n int) string {
	var b strings.Builder
	b.WriteString(qJobsWithDevices)
	b.WriteString("\nWHERE j.id IN (")
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("$" + strconv.Itoa(i+1))
	}
	b.WriteString(")") // sorted by ClaimJobs: no temporary B-tree for a claim's few rows
	return b.String()
}

// maxClaimedRead is the most claimed jobs one read names: the reads are
// prepared at open for 1, 2, 4, … maxClaimedRead IDs (the dispatcher
// claims up to 256 jobs at once), so that a claim parses no SQL.
const maxClaimedRead = 256

// prepareClaims prepares ClaimJobs' statements on the writer.
func (s *Store) prepareClaims(ctx context.Context) error {
	var err error
	if s.wClaimJobs, err = s.w.PrepareContext(ctx, claimQuery(s.skipLocked)); err != nil {
		return err
	}
	for n := 1; n <= maxClaimedRead; n *= 2 {
		st, err := s.w.PrepareContext(ctx, claimedJobsQuery(n))
		if err != nil {
			return err
		}
		s.wClaimedJobs = append(s.wClaimedJobs, st)
	}
	return nil
}

// claimedJobs reads the jobs ids (sorted, distinct) with their devices in
// tx, by the prepared reads: a read of n IDs names the next power of two,
// its remaining places repeating the last ID (which an IN list ignores).
func (s *Store) claimedJobs(ctx context.Context, tx *sql.Tx, ids []any) ([]push.Job, error) {
	var out []push.Job
	for len(ids) > 0 {
		chunk := ids[:min(maxClaimedRead, len(ids))]
		ids = ids[len(chunk):]
		k := bits.Len(uint(len(chunk) - 1)) // 1<<k ≥ len(chunk)
		args := chunk
		if n := 1 << k; n > len(chunk) {
			args = make([]any, n)
			copy(args, chunk)
			for i := len(chunk); i < n; i++ {
				args[i] = chunk[len(chunk)-1]
			}
		}
		rows, err := tx.StmtContext(ctx, s.wClaimedJobs[k]).QueryContext(ctx, args...)
		if err != nil {
			return nil, err
		}
		js, err := scanJobsWithDevices(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, js...)
	}
	return out, nil
}

// ClaimJobs implements push.Store: the lease and the read of the leased
// jobs (with their devices) are one transaction.
func (s *Store) ClaimJobs(ctx context.Context, v push.Vendor, now time.Time, limit int, owner string, leaseUntil time.Time) ([]push.Job, error) {
	const op = "store: claim jobs"
	switch {
	case owner == "":
		return nil, fmt.Errorf("%s: %w", op, push.ErrNoOwner)
	case !leaseUntil.After(now):
		return nil, fmt.Errorf("%s: lease end %v is not after now %v", op, leaseUntil, now)
	case limit <= 0:
		return nil, nil
	}
	var out []push.Job
	err := s.inTx(ctx, op, func(tx *sql.Tx) error {
		rows, err := tx.StmtContext(ctx, s.wClaimJobs).QueryContext(ctx, string(v), now.UnixMilli(), limit, owner, leaseUntil.UnixMilli())
		if err != nil {
			return err
		}
		var ids []any
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			ids = append(ids, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil || len(ids) == 0 {
			return err
		}
		out, err = s.claimedJobs(ctx, tx, ids)
		return err
	})
	slices.SortFunc(out, func(a, b push.Job) int {
		return cmp.Or(a.NotBefore.Compare(b.NotBefore), cmp.Compare(a.ID, b.ID))
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// scanJobsWithDevices reads and closes rows of qJobsWithDevices.
func scanJobsWithDevices(rows *sql.Rows) ([]push.Job, error) {
	defer rows.Close()
	var out []push.Job
	for rows.Next() {
		var j push.Job
		var vendor, status, kind string
		var notBefore, expires, created, updated int64
		var devPushID sql.NullString
		var d push.Device
		var dVendor, dEnv string
		if err := rows.Scan(&j.ID, &j.AppID, &j.MessageID, &j.UserID, &j.PushID, &vendor, jobConfigColumn{&j},
			&status, &j.Attempts, &notBefore, &expires, &j.Reason, &created, &updated, &kind, &j.CallID,
			&devPushID, &dVendor, &d.Token, &d.VoIPToken, &dEnv, &d.Platform, &d.BundleID,
			&d.UserID, &d.Enabled, &d.Foreground); err != nil {
			return nil, err
		}
		j.Vendor, j.Status, j.Kind = push.Vendor(vendor), push.JobStatus(status), push.JobKind(kind)
		j.NotBefore, j.CreatedAt, j.UpdatedAt = fromMillis(notBefore), fromMillis(created), fromMillis(updated)
		if expires != 0 {
			j.ExpiresAt = fromMillis(expires)
		}
		if devPushID.Valid {
			d.AppID, d.PushID = j.AppID, devPushID.String
			d.Vendor, d.Environment = push.Vendor(dVendor), push.Environment(dEnv)
			j.Device = &d
		}
		out = append(out, j)
	}
	return out, rows.Err()
}

func (s *Store) queryJobs(ctx context.Context, op, q string, args ...any) ([]push.Job, error) {
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	var out []push.Job
	for rows.Next() {
		var j push.Job
		var vendor, status, kind string
		var notBefore, expires, created, updated int64
		if err := rows.Scan(&j.ID, &j.AppID, &j.MessageID, &j.UserID, &j.PushID, &vendor, jobConfigColumn{&j},
			&status, &j.Attempts, &notBefore, &expires, &j.Reason, &created, &updated, &kind, &j.CallID); err != nil {
			return nil, mapErr(op, err)
		}
		j.Vendor, j.Status, j.Kind = push.Vendor(vendor), push.JobStatus(status), push.JobKind(kind)
		j.NotBefore, j.CreatedAt, j.UpdatedAt = fromMillis(notBefore), fromMillis(created), fromMillis(updated)
		if expires != 0 {
			j.ExpiresAt = fromMillis(expires)
		}
		out = append(out, j)
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr(op, err)
	}
	return out, nil
}

// FinishAttempts implements push.Store: one transaction for the batch.
// A finish whose owner no longer holds the job's lease (it expired and
// another node claimed the job) leaves the job alone; its vendor call is
// still traced (the call happened), with a reason saying so.
//
// The batch is set-based: one multi-row UPDATE … FROM (VALUES …) moves
// the jobs (qFinishJobsHead) and one multi-row INSERT records the calls
// (qInsertAttemptsHead), per chunk of maxFinishRows. A batch naming a
// job twice is recorded one finish at a time instead, in order, since a
// set-based statement sees only the state before it.
func (s *Store) FinishAttempts(ctx context.Context, fs []push.Finish) error {
	if len(fs) == 0 {
		return nil
	}
	now := time.Now().UnixMilli()
	if s.wFinishJobs == nil || s.wInsertAttempts == nil || repeatsJob(fs) {
		return s.finishEach(ctx, fs, now)
	}
	jobArgs := make([]any, 0, len(fs)*finishCols)
	calls := 0
	for _, f := range fs {
		jobArgs = append(jobArgs, f.Attempt.JobID, string(f.Status), f.Attempts, f.NotBefore.UnixMilli(),
			f.Reason, now, f.Owner)
		if !f.NoCall {
			calls++
		}
	}
	return s.inTx(ctx, "store: finish attempts", func(tx *sql.Tx) error {
		// The jobs this batch moved, with their app and vendor for the
		// statistics (stats.go).
		moved := make(map[int64]jobOf, len(fs))
		err := s.wFinishJobs.query(ctx, tx, jobArgs, func(rs *sql.Rows) error {
			var id int64
			var j jobOf
			if err := rs.Scan(&id, &j.app, &j.vendor); err != nil {
				return err
			}
			moved[id] = j
			return nil
		})
		if err != nil || calls == 0 {
			return err
		}
		deltas := map[statKey]int64{}
		args := make([]any, 0, calls*attemptCols)
		for _, f := range fs {
			if f.NoCall {
				continue
			}
			a := f.Attempt
			j, ok := moved[a.JobID]
			if !ok {
				var lost bool
				if j, lost, err = s.unmoved(ctx, tx, a.JobID, f.Owner); err != nil {
					return err
				}
				if lost {
					a.Reason = strings.TrimPrefix(a.Reason+"; "+leaseLostNote, "; ")
				}
			}
			finishStats(deltas, j.app, j.vendor, f)
			args = append(args, a.JobID, a.At.UnixMilli(), a.Outcome, a.Status, a.Reason, a.Latency.Milliseconds())
		}
		if _, err = s.wInsertAttempts.exec(ctx, tx, args); err != nil {
			return err
		}
		return s.addStats(ctx, tx, deltas)
	})
}

// unmoved reads a job a finish by owner did not move: its app and
// vendor for the statistics when owner still holds its lease (the job was
// dropped while its push was in flight, by an unregister or the vendor's
// own refusal removing the device), and whether the lease was lost (the
// finish counts nothing then: the job's state is its new holder's). A job
// gone counts nothing and lost no lease.
func (s *Store) unmoved(ctx context.Context, tx *sql.Tx, id int64, owner string) (jobOf, bool, error) {
	var j jobOf
	var holder string
	err := tx.QueryRowContext(ctx, qJobLease, id).Scan(&j.app, &j.vendor, &holder)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return jobOf{}, false, nil
	case err != nil:
		return jobOf{}, false, err
	case holder != owner:
		return jobOf{}, true, nil
	}
	return j, false, nil
}

// repeatsJob reports whether fs names a job more than once.
func repeatsJob(fs []push.Finish) bool {
	if len(fs) <= 8 {
		for i, f := range fs {
			for _, g := range fs[:i] {
				if g.Attempt.JobID == f.Attempt.JobID {
					return true
				}
			}
		}
		return false
	}
	seen := make(map[int64]struct{}, len(fs))
	for _, f := range fs {
		if _, ok := seen[f.Attempt.JobID]; ok {
			return true
		}
		seen[f.Attempt.JobID] = struct{}{}
	}
	return false
}

// finishEach is FinishAttempts one finish at a time (qFinishJob, then
// qInsertAttempt), in order.
func (s *Store) finishEach(ctx context.Context, fs []push.Finish, now int64) error {
	return s.inTx(ctx, "store: finish attempts", func(tx *sql.Tx) error {
		ins, upd := tx.StmtContext(ctx, s.wInsertAttempt), tx.StmtContext(ctx, s.wFinishJob)
		deltas := map[statKey]int64{}
		for _, f := range fs {
			a := f.Attempt
			res, err := upd.ExecContext(ctx, a.JobID, string(f.Status), f.Attempts, f.NotBefore.UnixMilli(),
				f.Reason, now, f.Owner)
			if err != nil {
				return err
			}
			if f.NoCall {
				continue
			}
			var j jobOf
			if n, err := res.RowsAffected(); err != nil {
				return err
			} else if n > 0 {
				if err := tx.QueryRowContext(ctx, qJobAppVendor, a.JobID).Scan(&j.app, &j.vendor); err != nil {
					return err
				}
			} else {
				var lost bool
				if j, lost, err = s.unmoved(ctx, tx, a.JobID, f.Owner); err != nil {
					return err
				}
				if lost {
					a.Reason = strings.TrimPrefix(a.Reason+"; "+leaseLostNote, "; ")
				}
			}
			finishStats(deltas, j.app, j.vendor, f)
			if _, err := ins.ExecContext(ctx, a.JobID, a.At.UnixMilli(), a.Outcome,
				a.Status, a.Reason, a.Latency.Milliseconds()); err != nil {
				return err
			}
		}
		return s.addStats(ctx, tx, deltas)
	})
}

// jobOf is a moved job's app and vendor, for the statistics.
type jobOf struct {
	app    string
	vendor push.Vendor
}

// The set-based forms of qFinishJob and qInsertAttempt (FinishAttempts):
// rows of (job, status, attempts, not before, reason, now, owner) and of
// (job, at, outcome, status, reason, latency), each job once.
const (
	qFinishJobsHead = `UPDATE push_jobs SET status = v.column2, attempts = v.column3, not_before = v.column4,
	reason = v.column5, updated_at = v.column6, lease_owner = '', lease_until = 0
FROM (VALUES `
	qFinishJobsTail = `) AS v
WHERE push_jobs.id = v.column1 AND push_jobs.lease_owner = v.column7
	AND (push_jobs.status = 'pending' OR v.column2 = 'delivered')
RETURNING id, app_id, vendor`
	finishCols = 7

	qInsertAttemptsHead = `INSERT INTO push_attempts (job_id, attempt, at, outcome, status, reason, latency_ms)
SELECT v.column1, COALESCE((SELECT MAX(a.attempt) FROM push_attempts a WHERE a.job_id = v.column1), 0) + 1,
	v.column2, v.column3, v.column4, v.column5, v.column6
FROM (VALUES `
	qInsertAttemptsTail = `) AS v`
	attemptCols         = 6

	// maxFinishRows is the most finishes one statement names (448
	// parameters): the dispatcher records its finishes in batches of up
	// to a few hundred.
	maxFinishRows = 64
)

var (
	finishJobTypes = []string{"BIGINT", "", "BIGINT", "BIGINT", "", "BIGINT", ""}
	attemptTypes   = []string{"BIGINT", "BIGINT", "", "BIGINT", "", "BIGINT"}
)

// leaseLostNote ends the traced reason of a call whose finisher had lost
// the job's lease.
const leaseLostNote = "lease lost: the job's state was left to the node that holds it"

const qJobLease = `SELECT app_id, vendor, lease_owner FROM push_jobs WHERE id = $1`

// Trace implements push.Store.
func (s *Store) Trace(ctx context.Context, f push.TraceFilter) ([]push.Job, [][]push.Attempt, error) {
	const op = "store: push trace"
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	var jobs []push.Job
	var err error
	switch {
	case f.MessageID != 0 && f.UserID != "":
		jobs, err = s.queryJobs(ctx, op, qTraceByMessageUser, f.AppID, f.MessageID, f.UserID, limit)
	case f.MessageID != 0:
		jobs, err = s.queryJobs(ctx, op, qTraceByMessage, f.AppID, f.MessageID, limit)
	case f.UserID != "":
		jobs, err = s.queryJobs(ctx, op, qTraceByUser, f.AppID, f.UserID, limit)
	case f.PushID != "":
		jobs, err = s.queryJobs(ctx, op, qTraceByPushID, f.AppID, f.PushID, limit)
	default:
		return nil, nil, fmt.Errorf("%s: a message ID, user ID or PushID is required", op)
	}
	if err != nil {
		return nil, nil, err
	}
	attempts := make([][]push.Attempt, len(jobs))
	for i, j := range jobs {
		rows, err := s.r.QueryContext(ctx, qAttempts, j.ID)
		if err != nil {
			return nil, nil, mapErr(op, err)
		}
		for rows.Next() {
			var a push.Attempt
			var at, ms int64
			if err := rows.Scan(&a.JobID, &a.Attempt, &at, &a.Outcome, &a.Status, &a.Reason, &ms); err != nil {
				rows.Close()
				return nil, nil, mapErr(op, err)
			}
			a.At, a.Latency = fromMillis(at), time.Duration(ms)*time.Millisecond
			attempts[i] = append(attempts[i], a)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, nil, mapErr(op, err)
		}
	}
	return jobs, attempts, nil
}
