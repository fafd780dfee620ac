package sqlite

import (
	"context"
	"time"

	"github.com/heraldim/herald/internal/push"
)

// The console's overview queries (migration 16). Each reads only the
// app's own rows through an index: TestConsoleQueryPlans.
const (
	// qPushQueue counts the app's open jobs by vendor and status through
	// push_jobs_app_open: its cost is the app's open jobs.
	qPushQueue = `SELECT vendor, status, COUNT(*) FROM push_jobs
WHERE app_id = $1 AND status IN ('pending', 'held') GROUP BY vendor, status`

	// qPushAttemptOutcomes counts the app's vendor attempts since $2 (and
	// since $3, within) by vendor and outcome: the jobs changed since $2
	// through push_jobs_app_updated, then their attempts by primary key.
	qPushAttemptOutcomes = `SELECT j.vendor, a.outcome, COUNT(*), COALESCE(SUM(a.at >= $3), 0)
FROM push_jobs j JOIN push_attempts a ON a.job_id = j.id
WHERE j.app_id = $1 AND j.updated_at >= $2 AND a.at >= $2
GROUP BY j.vendor, a.outcome`

	// qPushJobOutcomes counts the app's jobs that ended since $2 (and
	// since $3) by vendor and status, through push_jobs_app_updated.
	qPushJobOutcomes = `SELECT vendor, status, COUNT(*), COALESCE(SUM(updated_at >= $3), 0)
FROM push_jobs WHERE app_id = $1 AND updated_at >= $2 AND status NOT IN ('pending', 'held')
GROUP BY vendor, status`
)

// PushQueue returns the app's open push jobs by vendor and status.
func (s *Store) PushQueue(ctx context.Context, appID string) ([]push.QueueCount, error) {
	rows, err := s.r.QueryContext(ctx, qPushQueue, appID)
	if err != nil {
		return nil, mapErr("sqlite: push queue", err)
	}
	defer rows.Close()
	var out []push.QueueCount
	for rows.Next() {
		var c push.QueueCount
		var v, st string
		if err := rows.Scan(&v, &st, &c.Jobs); err != nil {
			return nil, mapErr("sqlite: push queue", err)
		}
		c.Vendor, c.Status = push.Vendor(v), push.JobStatus(st)
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr("sqlite: push queue", err)
	}
	return out, nil
}

// PushOutcomes returns the app's vendor attempts by outcome and its ended
// jobs by status, per vendor, within the hour and the 5 minutes before
// now.
func (s *Store) PushOutcomes(ctx context.Context, appID string, now time.Time) ([]push.OutcomeCount, error) {
	hour, five := now.Add(-time.Hour).UnixMilli(), now.Add(-5*time.Minute).UnixMilli()
	var out []push.OutcomeCount
	for _, q := range []struct{ kind, query string }{{"attempt", qPushAttemptOutcomes}, {"job", qPushJobOutcomes}} {
		rows, err := s.r.QueryContext(ctx, q.query, appID, hour, five)
		if err != nil {
			return nil, mapErr("sqlite: push outcomes", err)
		}
		for rows.Next() {
			c := push.OutcomeCount{Kind: q.kind}
			var v string
			if err := rows.Scan(&v, &c.Outcome, &c.Last1h, &c.Last5m); err != nil {
				rows.Close()
				return nil, mapErr("sqlite: push outcomes", err)
			}
			c.Vendor = push.Vendor(v)
			out = append(out, c)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, mapErr("sqlite: push outcomes", err)
		}
	}
	return out, nil
}
