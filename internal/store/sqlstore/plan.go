package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
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
const planInsert = planJobColumns + `
SELECT d.app_id, $3, d.user_id, d.push_id, d.vendor, $4, 'pending', 0, $5, $6, '', $5, $5, $7, $8
FROM devices d WHERE d.app_id = $1 AND ` + eligibleDevice

// planJobColumns is the head of every statement writing planned jobs.
const planJobColumns = `INSERT INTO push_jobs (app_id, message_id, user_id, push_id, vendor, push_config,
	status, attempts, not_before, expires_at, reason, created_at, updated_at, kind, call_id)`

// The "once" conditions (push.Intent.Once).
const (
	// A message's device that has a job for the message already, whatever
	// its status, gets none. On SQLite the writer connection is the only
	// one, so the check and the insert cannot interleave with another
	// planning; on PostgreSQL plan takes the source's once lock first
	// (lockOnce).
	// A revoked message is never pushed (revoke.go).
	planOnceMessage = `
	AND NOT EXISTS (SELECT 1 FROM push_jobs j WHERE j.app_id = $1 AND j.message_id = $3 AND j.push_id = d.push_id)
	AND NOT EXISTS (SELECT 1 FROM messages rm WHERE rm.id = $3 AND rm.revoked_at <> 0)`
	// A call's device that has a job of the kind for the call and user.
	planOnceCall = `
	AND NOT EXISTS (SELECT 1 FROM push_jobs j WHERE j.app_id = $1 AND j.call_id = $8 AND j.user_id = d.user_id
		AND j.kind = $7 AND j.push_id = d.push_id)`
)

// lockOnce takes, on a database written by several connections at once
// (PostgreSQL), the lock of in's source until the transaction ends, before
// a "once" planning: two plannings of one message (a late push at a
// session's end and another's, on two connections or two nodes) each
// check for the other's jobs with NOT EXISTS, and under READ COMMITTED
// neither sees a job the other has not committed, so both would insert.
// With the lock the second waits for the first to commit, and its INSERT,
// whose snapshot is taken after the wait, sees the first's jobs. On SQLite
// it does nothing: the one writer connection serialises plannings.
//
// A transaction planning several sources takes their locks in its order;
// two such transactions can deadlock, and PostgreSQL aborts one with
// 40P01, which inTx retries.
func (s *Store) lockOnce(ctx context.Context, tx *sql.Tx, in push.Intent) error {
	if !s.d.shared {
		return nil
	}
	src := strconv.FormatInt(in.Source.MessageID, 10)
	if in.Source.Kind != push.SourceMessage {
		src = string(in.Source.Kind.JobKind()) + "\x00" + in.Source.CallID
	}
	// The key space is the conversations' (convLockKey): a collision
	// costs some waiting, nothing else.
	return lockKeys(ctx, tx, []int64{convLockKey(convKey{app: in.AppID, conv: "push-once\x00" + src})})
}

// planPage is the most targets one planning statement names: a page of a
// group fan-out (im plans 1,000 members per transaction) is one statement,
// not one per member, and a statement binds far fewer parameters than
// SQLite (32,766) and PostgreSQL (65,535) allow.
const planPage = 1024

// planQuery is the query text planning intent in's jobs to n targets (a
// power of two up to planPage): $2 is the first target and $9.. the
// others, in one IN list, so that a page of members is one statement.
func planQuery(in push.Intent, n int) string {
	col := "d.user_id"
	if len(in.Targets.PushIDs) > 0 {
		col = "d.push_id"
	}
	var b strings.Builder
	b.WriteString(planInsert)
	b.WriteString(" AND " + col)
	if n <= 1 {
		b.WriteString(" = $2")
	} else {
		b.WriteString(" IN ($2")
		for i := range n - 1 {
			b.WriteString(", $" + strconv.Itoa(planArgs+1+i))
		}
		b.WriteString(")")
	}
	if col == "d.user_id" {
		b.WriteString(" AND d.user_id <> ''")
	}
	if in.Once {
		if in.Source.Kind == push.SourceMessage {
			b.WriteString(planOnceMessage)
		} else {
			b.WriteString(planOnceCall)
		}
	}
	if in.Source.Kind == push.SourceMessage && col == "d.user_id" {
		// The recipient's notification status (dnd.go).
		b.WriteString(quietFilterPlan)
	}
	if in.Source.Kind == push.SourceServer {
		// The admin API answers with the jobs by device.
		b.WriteString(`
ORDER BY d.push_id`)
	}
	b.WriteString(`
RETURNING id`)
	return b.String()
}

// A withdraw that replaces rings (push.Intent.Replaces) goes to the
// eligible devices of the target user's ring jobs of the call: those the
// vendor accepted (withdrawDelivered), or ring job $9 when its claimed
// attempt $10 has no recorded outcome yet (withdrawInFlight). Its push
// config is $4, or with Replaced.RingConfig the ring's with the content
// $4 (dialect.contentSet). The arguments $1-$8 are planInsert's.
const (
	withdrawInsert = planJobColumns + `
SELECT d.app_id, $3, d.user_id, d.push_id, d.vendor, `
	withdrawOwnConfig = `$4`
	withdrawFrom      = `, 'pending', 0, $5, $6, '', $5, $5, $7, $8
FROM push_jobs r JOIN devices d ON d.app_id = r.app_id AND d.push_id = r.push_id
WHERE r.app_id = $1 AND r.call_id = $8 AND r.user_id = $2 AND r.kind = 'call_invite'
	AND d.user_id = $2 AND ` + eligibleDevice
	withdrawDelivered = ` AND r.status = 'delivered'`
	withdrawInFlight  = ` AND r.id = $9 AND r.status = 'pending' AND r.attempts < $10`
)

// withdrawQuery is the query text planning a ring-replacing withdraw's
// jobs to one target user: the delivered rings', or (inFlight) one
// claimed ring's.
func (p *txPlanner) withdrawQuery(ringConfig, inFlight bool) string {
	cfg, rings := withdrawOwnConfig, withdrawDelivered
	if ringConfig {
		// The ring's config with the content $4, in the dialect's JSON.
		cfg = fmt.Sprintf(p.s.d.contentSet, "r.push_config", "$4")
	}
	if inFlight {
		rings = withdrawInFlight
	}
	return withdrawInsert + cfg + withdrawFrom + rings + `
RETURNING id`
}

// planArgs is how many arguments every planning query binds before its
// second and later targets (planInsert).
const planArgs = 8

// planSize is the statement size for k targets: the next power of two,
// so that a transaction prepares at most a handful of texts (the
// remaining places repeat the last target, which an IN list ignores).
func planSize(k int) int {
	n := 1
	for n < k {
		n *= 2
	}
	return n
}

// qPlanMessage is the hot path's shape (a message's push to one user),
// prepared at open (Store.wInsertPushJobs).
var qPlanMessage = planQuery(push.Intent{Source: push.Source{Kind: push.SourceMessage}}, 1)

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
// job per eligible device of each target, from now, and returns their IDs.
// A user or PushID without an eligible device gets none; a target named
// twice is planned once. Targets are planned planPage at a time, one
// statement each (set-based: a page of a group's members is one INSERT,
// not one per member). A push by the admin API (SourceServer) is planned
// one target at a time so that its IDs come by target, then by device.
// It is the one writer of planned push jobs (messages, group fan-out
// pages, late pushes, call rings and withdraws, and the admin API's send).
func (p *txPlanner) plan(ctx context.Context, in push.Intent, now time.Time) ([]int64, error) {
	if in.Source.Kind == push.SourceMessageWithdraw {
		return p.planMessageWithdraw(ctx, in, now)
	}
	if in.Replaces != nil {
		return p.planWithdraw(ctx, in, now)
	}
	cfg, err := in.StoredConfig()
	if err != nil {
		return nil, err
	}
	if in.Once {
		if err := p.s.lockOnce(ctx, p.tx, in); err != nil {
			return nil, err
		}
	}
	keys := in.Targets.UserIDs
	if len(in.Targets.PushIDs) > 0 {
		keys = in.Targets.PushIDs
	}
	page := planPage
	if in.Source.Kind == push.SourceServer {
		page = 1
	}
	args := []any{in.AppID, nil, in.Source.MessageID, cfg, now.UnixMilli(),
		millisOrZero(in.ExpiresAt), string(in.Source.Kind.JobKind()), in.Source.CallID}
	var ids []int64
	for len(keys) > 0 {
		chunk := keys[:min(page, len(keys))]
		keys = keys[len(chunk):]
		n := planSize(len(chunk))
		stmt, err := p.stmt(ctx, planQuery(in, n))
		if err != nil {
			return nil, err
		}
		args = append(args[:planArgs], make([]any, n-1)...)
		args[1] = chunk[0]
		for i := 1; i < n; i++ {
			args[planArgs+i-1] = chunk[min(i, len(chunk)-1)]
		}
		if ids, err = p.run(ctx, stmt, args, ids); err != nil {
			return nil, err
		}
	}
	return ids, nil
}

// Batch planning: the message pushes of a commit batch (each message to
// its users, from its own creation time) are planned by one statement per
// chunk of rows rather than one per message: a VALUES list of (app, user,
// message, config, from, expiry) rows joined to the users' eligible
// devices. It writes the jobs planQuery would write for each message's
// intent on its own.
const (
	planBatchHead = planJobColumns + `
SELECT d.app_id, v.column3, d.user_id, d.push_id, d.vendor, v.column4, 'pending', 0,
	v.column5, v.column6, '', v.column5, v.column5, '` + string(push.JobMessage) + `', ''
FROM (VALUES `
	planBatchTail = `) AS v
JOIN devices d ON d.app_id = v.column1 AND d.user_id = v.column2
WHERE d.user_id <> '' AND ` + eligibleDevice + quietFilterBatch
	// planBatchCols is the parameters of one VALUES row.
	planBatchCols = 6
	// maxPlanBatchRows is the most rows one statement names (768
	// parameters; see multirow.go for the limits and the sizes prepared).
	maxPlanBatchRows = 128
)

// planBatchSQL is the batch planning statement of rows VALUES rows; blob
// is the dialect's binary type, anon: see Store.anonParams.
func planBatchSQL(rows int, blob string, anon bool) string {
	return typedValuesSQL(planBatchHead, []string{"", "", "BIGINT", blob, "BIGINT", "BIGINT"}, planBatchTail, rows, anon)
}

// timedIntent is an intent of a batch and the time its jobs start from.
type timedIntent struct {
	in  push.Intent
	now time.Time
}

// batchable reports whether the batch statement plans in: a message's
// push to users, planned whatever jobs the message has already.
func batchable(in push.Intent) bool {
	return in.Source.Kind == push.SourceMessage && in.Replaces == nil && !in.Once &&
		len(in.Targets.PushIDs) == 0
}

// planBatch writes the jobs of every intent in ins, as plan would one at a
// time; the plain message pushes to users (batchable) share multi-row
// statements, any other intent is planned by plan. It returns how many
// jobs it wrote.
func (p *txPlanner) planBatch(ctx context.Context, ins []timedIntent) (int64, error) {
	var args []any
	var total int64
	for _, t := range ins {
		if !batchable(t.in) || p.s.wPlanMessages == nil {
			ids, err := p.plan(ctx, t.in, t.now)
			if err != nil {
				return total, err
			}
			total += int64(len(ids))
			continue
		}
		cfg, err := t.in.StoredConfig()
		if err != nil {
			return total, err
		}
		users := t.in.Targets.UserIDs
		for i, u := range users {
			if slices.Contains(users[:i], u) {
				continue // a target named twice is planned once
			}
			args = append(args, t.in.AppID, u, t.in.Source.MessageID, cfg, t.now.UnixMilli(), millisOrZero(t.in.ExpiresAt))
		}
	}
	if len(args) == 0 {
		return total, nil
	}
	n, err := p.s.wPlanMessages.exec(ctx, p.tx, args)
	if err != nil {
		return total, fmt.Errorf("plan push: %w", err)
	}
	return total + n, nil
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
		if ids, err = p.runQuery(ctx, p.withdrawQuery(ringCfg, false), args, ids); err != nil {
			return nil, err
		}
		for _, r := range in.Replaces.InFlight {
			if ids, err = p.runQuery(ctx, p.withdrawQuery(ringCfg, true), append(args[:planArgs:planArgs], r.JobID, r.Attempt), ids); err != nil {
				return nil, err
			}
		}
	}
	return ids, nil
}

// runQuery runs query text q, prepared once per planner, with args and
// appends the job IDs it returns.
func (p *txPlanner) runQuery(ctx context.Context, q string, args []any, ids []int64) ([]int64, error) {
	stmt, err := p.stmt(ctx, q)
	if err != nil {
		return ids, err
	}
	return p.run(ctx, stmt, args, ids)
}

// stmt is q prepared in the planner's transaction, once per planner.
func (p *txPlanner) stmt(ctx context.Context, q string) (*sql.Stmt, error) {
	if st := p.stmts[q]; st != nil {
		return st, nil
	}
	var st *sql.Stmt
	if q == qPlanMessage && p.s.wInsertPushJobs != nil {
		st = p.tx.StmtContext(ctx, p.s.wInsertPushJobs)
	} else {
		var err error
		if st, err = p.tx.PrepareContext(ctx, q); err != nil {
			return nil, fmt.Errorf("plan push: %w", err)
		}
	}
	p.stmts[q] = st
	return st, nil
}

// run executes one planning statement and appends the job IDs it returns.
func (p *txPlanner) run(ctx context.Context, stmt *sql.Stmt, args []any, ids []int64) ([]int64, error) {
	rows, err := stmt.QueryContext(ctx, args...)
	if err != nil {
		return ids, fmt.Errorf("plan push: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return ids, fmt.Errorf("plan push: %w", err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return ids, fmt.Errorf("plan push: %w", err)
	}
	return ids, nil
}

// PlanIntent implements push.Planner: in's jobs in one transaction of
// their own (a push sent without a message or a call).
func (s *Store) PlanIntent(ctx context.Context, in push.Intent) ([]int64, error) {
	var ids []int64
	err := s.inTx(ctx, "store: plan push", func(tx *sql.Tx) error {
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

// configBytes is a scanned push_config value's bytes (nil for NULL): a
// BLOB on SQLite, BYTEA on PostgreSQL, TEXT from older rows.
func configBytes(v any) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return nil, nil
	case []byte:
		return v, nil
	case string:
		return []byte(v), nil
	}
	return nil, fmt.Errorf("push config: unexpected %T", v)
}

// jobConfigColumn scans a job's push_config into j.PushConfig; a config
// that does not decode is j.ConfigErr, not a failed read: the dispatcher
// fails that one job.
type jobConfigColumn struct{ j *push.Job }

// Scan implements sql.Scanner.
func (col jobConfigColumn) Scan(v any) error {
	b, err := configBytes(v)
	if err != nil {
		return err
	}
	col.j.PushConfig, col.j.ConfigErr = push.DecodeContent(b)
	col.j.Remove = push.DecodeRemove(b)
	return nil
}

// contentColumn scans a push_config column into *c: nil for NULL (or
// empty), else DecodeContent of the stored JSON.
type contentColumn struct{ c **push.Content }

// Scan implements sql.Scanner.
func (col contentColumn) Scan(v any) error {
	b, err := configBytes(v)
	if err != nil {
		return err
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
