package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/heraldim/herald/internal/push"
)

// Push statistics: the push_stats rollup (migration 00024) and the
// receipts. Planned jobs are counted by a trigger on push_jobs (every
// planning path writes through it); the outcomes by FinishAttempts and
// the receipts by RecordReceipt, each in its own transaction.

// statKey is one counter of the rollup.
type statKey struct {
	app    string
	vendor push.Vendor
	hour   int64 // Unix ms of the hour's start
	event  string
	reason string
}

// statShards is how many rows one counter is spread over on a shared
// database (PostgreSQL), so that concurrent transactions seldom wait on
// one row's lock; the planned trigger uses as many.
const statShards = 8

// hourOf is the Unix ms of the start of t's hour.
func hourOf(t time.Time) int64 {
	ms := t.UnixMilli()
	return ms - ms%int64(time.Hour/time.Millisecond)
}

// finishStats adds what finish f of a job of app and vendor counts
// (nothing for app "": a job gone, or another node's).
func finishStats(deltas map[statKey]int64, app string, vendor push.Vendor, f push.Finish) {
	if app == "" {
		return
	}
	sent, end, reason := push.FinishStats(f)
	h := hourOf(f.Attempt.At)
	if sent {
		deltas[statKey{app, vendor, h, push.StatSent, ""}]++
	}
	if end != "" {
		deltas[statKey{app, vendor, h, end, reason}]++
	}
}

// maxStatRows is the most counters one upsert names.
const maxStatRows = 64

// addStats adds deltas to the rollup in tx: one multi-row upsert per
// maxStatRows counters, in key order (two transactions adding to the
// same counters lock them in the same order).
func (s *Store) addStats(ctx context.Context, tx *sql.Tx, deltas map[statKey]int64) error {
	if len(deltas) == 0 {
		return nil
	}
	keys := make([]statKey, 0, len(deltas))
	for k := range deltas {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b statKey) int {
		return cmp.Or(cmp.Compare(a.app, b.app), cmp.Compare(a.hour, b.hour), cmp.Compare(a.vendor, b.vendor),
			cmp.Compare(a.event, b.event), cmp.Compare(a.reason, b.reason))
	})
	shard := 0
	if s.d.shared {
		shard = rand.N(statShards)
	}
	for len(keys) > 0 {
		chunk := keys[:min(maxStatRows, len(keys))]
		keys = keys[len(chunk):]
		var b strings.Builder
		b.WriteString(`INSERT INTO push_stats (app_id, hour, vendor, event, reason, shard, n) VALUES `)
		args := make([]any, 0, len(chunk)*7)
		for i, k := range chunk {
			if i > 0 {
				b.WriteString(", ")
			}
			n := len(args)
			fmt.Fprintf(&b, "($%d, $%d, $%d, $%d, $%d, $%d, $%d)", n+1, n+2, n+3, n+4, n+5, n+6, n+7)
			args = append(args, k.app, k.hour, string(k.vendor), k.event, k.reason, shard, deltas[k])
		}
		b.WriteString(` ON CONFLICT (app_id, hour, vendor, event, reason, shard) DO UPDATE SET n = push_stats.n + excluded.n`)
		if _, err := tx.ExecContext(ctx, b.String(), args...); err != nil {
			return fmt.Errorf("push stats: %w", err)
		}
	}
	return nil
}

const (
	qReceiptJob    = `SELECT user_id, vendor FROM push_jobs WHERE id = $1 AND app_id = $2`
	qInsertReceipt = `INSERT INTO push_receipts (job_id, kind, app_id, vendor, at)
SELECT id, $2, app_id, vendor, $4 FROM push_jobs WHERE id = $1 AND app_id = $3
ON CONFLICT (job_id, kind) DO NOTHING`
	qJobAppVendor = `SELECT app_id, vendor FROM push_jobs WHERE id = $1`
)

// ReceiptJob implements push.ReceiptStore.
func (s *Store) ReceiptJob(ctx context.Context, appID string, id int64) (string, push.Vendor, error) {
	var user, vendor string
	err := s.r.QueryRowContext(ctx, qReceiptJob, id, appID).Scan(&user, &vendor)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", push.ErrNotFound
	}
	if err != nil {
		return "", "", mapErr("store: receipt job", err)
	}
	return user, push.Vendor(vendor), nil
}

// RecordReceipt implements push.ReceiptStore: the receipt and its count,
// in one transaction; nothing when the job has one of the kind already
// (or is not the app's).
func (s *Store) RecordReceipt(ctx context.Context, r push.Receipt) (bool, error) {
	recorded := false
	err := s.inTx(ctx, "store: record receipt", func(tx *sql.Tx) error {
		recorded = false // inTx may run this again
		res, err := tx.ExecContext(ctx, qInsertReceipt, r.JobID, string(r.Kind), r.AppID, r.At.UnixMilli())
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil || n == 0 {
			return err
		}
		recorded = true
		return s.addStats(ctx, tx, map[statKey]int64{{r.AppID, r.Vendor, hourOf(r.At), push.ReceiptStat(r.Kind), ""}: 1})
	})
	if err != nil {
		return false, err
	}
	return recorded, nil
}

// qPushStats sums an app's counters of whole hours in [from, to), per
// bucket ($4 ms: an hour or a day; hours are whole days' parts from the
// epoch, so a day bucket sums 24 hours of UTC), vendor ($5, ” for each),
// event and reason.
const qPushStats = `SELECT hour - hour % $4 AS bucket, vendor, event, reason, SUM(n)
FROM push_stats WHERE app_id = $1 AND hour >= $2 AND hour < $3 AND ($5 = '' OR vendor = $5)
GROUP BY bucket, vendor, event, reason ORDER BY bucket, vendor, event, reason`

// PushStats implements push.StatsStore.
func (s *Store) PushStats(ctx context.Context, q push.StatsQuery) ([]push.StatsRow, error) {
	const op = "store: push stats"
	bucket := q.Bucket.Milliseconds()
	if bucket <= 0 {
		return nil, fmt.Errorf("%s: bucket must be positive", op)
	}
	rows, err := s.r.QueryContext(ctx, qPushStats, q.AppID, q.From.UnixMilli(), q.To.UnixMilli(), bucket, string(q.Vendor))
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	var out []push.StatsRow
	for rows.Next() {
		var r push.StatsRow
		var start int64
		var vendor string
		if err := rows.Scan(&start, &vendor, &r.Event, &r.Reason, &r.N); err != nil {
			return nil, mapErr(op, err)
		}
		r.Start, r.Vendor = time.UnixMilli(start).UTC(), push.Vendor(vendor)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr(op, err)
	}
	return out, nil
}

var (
	_ push.ReceiptStore = (*Store)(nil)
	_ push.StatsStore   = (*Store)(nil)
)
