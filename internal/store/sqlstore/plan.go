package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/heraldim/herald/internal/push"
)

// Push planning: every push job is written by txPlanner.plan, from one
// query text per target shape (planQuery; withdrawQuery for a withdraw
// that replaces rings).

// eligibleDevice is push.Eligible in SQL, for devices d: the device's
// pushes are enabled; planQuery adds that it is bound to the target user
// (user targets) or copies its binding into the job (PushID targets), so
// that the dispatcher's check before each send holds at planning.
const eligibleDevice = `d.enabled = 1`

// planInsert is the head of every planning query. Its arguments, for all
// shapes: $1 app, $2 the target (user ID or PushID), $3 message ID, $4
// push config, $5 now, $6 expiry (0: none), $7 job kind, $8 call ID.
const planInsert = `INSERT INTO push_jobs (app_id, message_id, user_id, push_id, vendor, push_config,
	status, attempts, not_before, expires_at, reason, created_at, updated_at, kind, call_id)
SELECT d.app_id, $3, d.user_id, d.push_id, d.vendor, $4, 'pending', 0, $5, $6, '', $5, $5, $7, $8
FROM devices d WHERE d.app_id = $1 AND ` + eligibleDevice

// The target shapes and their "once" conditions (push.Intent.Once).
const (
	planToUser   = ` AND d.user_id = $2 AND d.user_id <> ''`
	planToPushID = ` AND d.push_id = $2`
	// A message's device that has a job for the message already, whatever
	// its status, gets none. The writer connection is the only one, so the
	// check and the insert cannot interleave with another planning.
	planOnceMessage = `
	AND NOT EXISTS (SELECT 1 FROM push_jobs j WHERE j.app_id = $1 AND j.message_id = $3 AND j.push_id = d.push_id)`
	// A call's device that has a job of the kind for the call and user.
	planOnceCall = `
	AND NOT EXISTS (SELECT 1 FROM push_jobs j WHERE j.app_id = $1 AND j.call_id = $8 AND j.user_id = d.user_id
		AND j.kind = $7 AND j.push_id = d.push_id)`
)

// planQuery is the query text planning intent in's jobs to one target.
func planQuery(in push.Intent) string {
	q := planInsert + planToUser
	if len(in.Targets.PushIDs) > 0 {
		q = planInsert + planToPushID
	}
	if in.Once {
		if in.Source.Kind == push.SourceMessage {
			q += planOnceMessage
		} else {
			q += planOnceCall
		}
	}
	if in.Source.Kind == push.SourceServer {
		// The admin API answers with the jobs by device.
		q += `
ORDER BY d.push_id`
	}
	return q + `
RETURNING id`
}

// A withdraw that replaces rings (push.Intent.Replaces) goes to the
// eligible devices of the target user's ring jobs of the call: those the
// vendor accepted (withdrawDelivered), or ring job $9 when its claimed
// attempt $10 has no recorded outcome yet (withdrawInFlight). Its push
// config is $4, or with Replaced.RingConfig the ring's with the content
// $4 (withdrawRingConfig). The arguments $1-$8 are planInsert's.
const (
	withdrawInsert = `INSERT INTO push_jobs (app_id, message_id, user_id, push_id, vendor, push_config,
	status, attempts, not_before, expires_at, reason, created_at, updated_at, kind, call_id)
SELECT d.app_id, $3, d.user_id, d.push_id, d.vendor, `
	withdrawOwnConfig  = `$4`
	withdrawRingConfig = `CAST(json_set(CAST(r.push_config AS TEXT), '$.content', $4) AS BLOB)`
	withdrawFrom       = `, 'pending', 0, $5, $6, '', $5, $5, $7, $8
FROM push_jobs r JOIN devices d ON d.app_id = r.app_id AND d.push_id = r.push_id
WHERE r.app_id = $1 AND r.call_id = $8 AND r.user_id = $2 AND r.kind = 'call_invite'
	AND d.user_id = $2 AND ` + eligibleDevice
	withdrawDelivered = ` AND r.status = 'delivered'`
	withdrawInFlight  = ` AND r.id = $9 AND r.status = 'pending' AND r.attempts < $10`
)

// withdrawQuery is the query text planning a ring-replacing withdraw's
// jobs to one target user: the delivered rings', or (inFlight) one
// claimed ring's.
func withdrawQuery(ringConfig, inFlight bool) string {
	cfg, rings := withdrawOwnConfig, withdrawDelivered
	if ringConfig {
		cfg = withdrawRingConfig
	}
	if inFlight {
		rings = withdrawInFlight
	}
	return withdrawInsert + cfg + withdrawFrom + rings + `
RETURNING id`
}

// qPlanMessage is the hot path's shape (a message's push to its users),
// prepared at open (Store.wInsertPushJobs).
var qPlanMessage = planQuery(push.Intent{Source: push.Source{Kind: push.SourceMessage}})

// txPlanner plans intents in one transaction, preparing each query
// text once.
type txPlanner struct {
	s     *Store
	tx    *sql.Tx
	stmts map[string]*sql.Stmt
}

// planner returns tx's planner; close it before the transaction ends.
func (s *Store) planner(tx *sql.Tx) *txPlanner {
	return &txPlanner{s: s, tx: tx, stmts: map[string]*sql.Stmt{}}
}

func (p *txPlanner) close() {
	for _, st := range p.stmts {
		_ = st.Close()
	}
}

// plan writes the jobs of in, in the planner's transaction: one pending
// job per eligible device of each target, from now, and returns their IDs
// in order. A user or PushID without an eligible device gets none. It is
// the one writer of planned push jobs (messages, group fan-out pages, late
// pushes, call rings and withdraws, and the admin API's send).
func (p *txPlanner) plan(ctx context.Context, in push.Intent, now time.Time) ([]int64, error) {
	if in.Replaces != nil {
		return p.planWithdraw(ctx, in, now)
	}
	cfg, err := in.StoredConfig()
	if err != nil {
		return nil, err
	}
	keys := in.Targets.UserIDs
	if len(in.Targets.PushIDs) > 0 {
		keys = in.Targets.PushIDs
	}
	q := planQuery(in)
	var ids []int64
	for _, k := range keys {
		if ids, err = p.run(ctx, ids, q, in.AppID, k, in.Source.MessageID, cfg, now.UnixMilli(),
			millisOrZero(in.ExpiresAt), string(in.Source.Kind.JobKind()), in.Source.CallID); err != nil {
			return nil, err
		}
	}
	return ids, nil
}

// planWithdraw writes the jobs of a withdraw that replaces rings
// (in.Replaces): for each target user, to the devices of its delivered
// rings, then of each in-flight claimed ring.
func (p *txPlanner) planWithdraw(ctx context.Context, in push.Intent, now time.Time) ([]int64, error) {
	if in.Source.Kind != push.SourceCallWithdraw || len(in.Targets.PushIDs) > 0 {
		return nil, errors.New("plan push: only a call withdraw to users replaces rings")
	}
	ringCfg := in.Replaces.RingConfig
	var cfg any = in.Content.Content
	if !ringCfg {
		b, err := in.StoredConfig()
		if err != nil {
			return nil, err
		}
		cfg = b
	}
	var ids []int64
	var err error
	for _, u := range in.Targets.UserIDs {
		args := []any{in.AppID, u, in.Source.MessageID, cfg, now.UnixMilli(), millisOrZero(in.ExpiresAt),
			string(in.Source.Kind.JobKind()), in.Source.CallID}
		if ids, err = p.run(ctx, ids, withdrawQuery(ringCfg, false), args...); err != nil {
			return nil, err
		}
		for _, r := range in.Replaces.InFlight {
			if ids, err = p.run(ctx, ids, withdrawQuery(ringCfg, true), append(args[:8:8], r.JobID, r.Attempt)...); err != nil {
				return nil, err
			}
		}
	}
	return ids, nil
}

// run executes planning query q (prepared once per planner) with args and
// appends the IDs of the jobs it wrote to ids.
func (p *txPlanner) run(ctx context.Context, ids []int64, q string, args ...any) ([]int64, error) {
	stmt := p.stmts[q]
	if stmt == nil {
		var err error
		if q == qPlanMessage && p.s.wInsertPushJobs != nil {
			stmt = p.tx.StmtContext(ctx, p.s.wInsertPushJobs)
		} else if stmt, err = p.tx.PrepareContext(ctx, q); err != nil {
			return nil, fmt.Errorf("plan push: %w", err)
		}
		p.stmts[q] = stmt
	}
	rows, err := stmt.QueryContext(ctx, args...)
	if err != nil {
		return nil, fmt.Errorf("plan push: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("plan push: %w", err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("plan push: %w", err)
	}
	return ids, nil
}

// PlanIntent implements push.Planner: in's jobs in one transaction of
// their own (a push sent without a message or a call).
func (s *Store) PlanIntent(ctx context.Context, in push.Intent) ([]int64, error) {
	var ids []int64
	err := s.inTx(ctx, "sqlite: plan push", func(tx *sql.Tx) error {
		p := s.planner(tx)
		defer p.close()
		var err error
		ids, err = p.plan(ctx, in, time.Now())
		return err
	})
	if err != nil {
		return nil, err
	}
	return ids, nil
}

var _ push.Planner = (*Store)(nil)

// storedConfig is a push config as a column stores it (push_config, the
// encoding of Intent.StoredConfig): NULL for nil.
func storedConfig(c *push.Content) (any, error) {
	if c == nil {
		return nil, nil
	}
	b, err := push.Intent{Content: *c}.StoredConfig()
	if err != nil {
		return nil, err
	}
	return b, nil
}

// jobConfigColumn scans a job's push_config into j.PushConfig; a config
// that does not decode is j.ConfigErr, not a failed read: the dispatcher
// fails that one job.
type jobConfigColumn struct{ j *push.Job }

// Scan implements sql.Scanner.
func (col jobConfigColumn) Scan(v any) error {
	var b []byte
	switch v := v.(type) {
	case nil:
	case []byte:
		b = v
	case string:
		b = []byte(v)
	default:
		return fmt.Errorf("push config: unexpected %T", v)
	}
	col.j.PushConfig, col.j.ConfigErr = push.DecodeContent(b)
	return nil
}

// contentColumn scans a push_config column into *c: nil for NULL (or
// empty), else DecodeContent of the stored JSON.
type contentColumn struct{ c **push.Content }

// Scan implements sql.Scanner.
func (col contentColumn) Scan(v any) error {
	var b []byte
	switch v := v.(type) {
	case nil:
	case []byte:
		b = v
	case string:
		b = []byte(v)
	default:
		return fmt.Errorf("push config: unexpected %T", v)
	}
	if len(b) == 0 {
		*col.c = nil
		return nil
	}
	c, err := push.DecodeContent(b)
	if err != nil {
		return err
	}
	*col.c = &c
	return nil
}
