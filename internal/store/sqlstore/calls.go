package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/heraldim/herald/internal/call"
	"github.com/heraldim/herald/internal/push"
)

var _ call.Store = (*Store)(nil)

const (
	qInsertCall = `INSERT INTO calls (app_id, call_id, inviter, mode, extended_data, created_at, deadline, closed_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, 0)`

	qCloseCall = `UPDATE calls SET closed_at = $3 WHERE app_id = $1 AND call_id = $2 AND closed_at = 0`

	qCallExists = `SELECT 1 FROM calls WHERE app_id = $1 AND call_id = $2`

	// qPutCallUser inserts or replaces a user of a call; a replaced user
	// keeps its position in the list.
	qPutCallUser = `INSERT INTO call_users (app_id, call_id, user_id, position, state, invited_by, extended_data, deadline, updated_at, push_config)
VALUES ($1, $2, $3,
	(SELECT COALESCE(MAX(position), 0) + 1 FROM call_users WHERE app_id = $1 AND call_id = $2),
	$4, $5, $6, $7, $8, $9)
ON CONFLICT (app_id, call_id, user_id) DO UPDATE SET state = excluded.state, invited_by = excluded.invited_by,
	extended_data = excluded.extended_data, deadline = excluded.deadline, updated_at = excluded.updated_at,
	push_config = excluded.push_config`

	// qStopRinging drops a user's pending ring pushes of a call.
	qStopRinging = `UPDATE push_jobs SET status = 'dropped', reason = $4, updated_at = $5
WHERE app_id = $1 AND call_id = $2 AND user_id = $3 AND kind = 'call_invite' AND status = 'pending'`

	callColumns = `app_id, call_id, inviter, mode, extended_data, created_at, deadline, closed_at`

	qCall      = `SELECT ` + callColumns + ` FROM calls WHERE app_id = $1 AND call_id = $2`
	qOpenCalls = `SELECT ` + callColumns + ` FROM calls WHERE closed_at = 0 ORDER BY app_id, call_id`

	qCallUsers = `SELECT user_id, state, invited_by, extended_data, deadline, updated_at, push_config FROM call_users
WHERE app_id = $1 AND call_id = $2 ORDER BY position`
)

// SaveCall implements call.Store: the call's row, its users, its pushes and
// the ring pushes it stops, in one transaction.
func (s *Store) SaveCall(ctx context.Context, ch call.Change) error {
	const op = "store: save call"
	now := ch.Now
	if now.IsZero() {
		now = time.Now()
	}
	users := ch.Users
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return ctxErr(ctx, op, err)
	}
	defer func() { _ = tx.Rollback() }()
	if r := ch.New; r != nil {
		if _, err := tx.ExecContext(ctx, qInsertCall, ch.AppID, ch.CallID, r.Inviter, r.Mode, r.ExtendedData,
			r.CreatedAt.UnixMilli(), r.Deadline.UnixMilli()); err != nil {
			return ctxErr(ctx, op, err)
		}
		users = append(append([]call.User(nil), r.Users...), users...)
	} else {
		var one int
		err := tx.QueryRowContext(ctx, qCallExists, ch.AppID, ch.CallID).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%s: %w", op, call.ErrNotFound)
		}
		if err != nil {
			return ctxErr(ctx, op, err)
		}
	}
	for _, u := range users {
		cfg, err := storedConfig(u.PushConfig)
		if err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
		if _, err := tx.ExecContext(ctx, qPutCallUser, ch.AppID, ch.CallID, u.UserID, u.State, u.InvitedBy,
			u.ExtendedData, millisOrZero(u.Deadline), u.UpdatedAt.UnixMilli(), cfg); err != nil {
			return ctxErr(ctx, op, err)
		}
	}
	planner := s.planner(tx)
	defer planner.close()
	// Before StopRinging: an in-flight ring is still pending.
	for _, w := range ch.Withdraws {
		if _, err := planner.plan(ctx, withdrawIntent(ch, w), now); err != nil {
			return ctxErr(ctx, op, err)
		}
	}
	for _, u := range ch.StopRinging {
		if _, err := tx.ExecContext(ctx, qStopRinging, ch.AppID, ch.CallID, u, ch.DropReason, now.UnixMilli()); err != nil {
			return ctxErr(ctx, op, err)
		}
	}
	for _, p := range ch.Pushes {
		kind := push.SourceCallRing
		if p.Kind == push.JobCallCancel {
			kind = push.SourceCallWithdraw
		}
		in := push.Intent{AppID: ch.AppID, Targets: push.Targets{UserIDs: []string{p.UserID}},
			Source: push.Source{Kind: kind, CallID: ch.CallID}, Content: p.Config, ExpiresAt: p.ExpiresAt, Once: p.Once}
		if _, err := planner.plan(ctx, in, now); err != nil {
			return ctxErr(ctx, op, err)
		}
	}
	if !ch.ClosedAt.IsZero() {
		if _, err := tx.ExecContext(ctx, qCloseCall, ch.AppID, ch.CallID, ch.ClosedAt.UnixMilli()); err != nil {
			return ctxErr(ctx, op, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return ctxErr(ctx, op, err)
	}
	return nil
}

// withdrawIntent is w as the planner's intent: a withdraw of the call to
// w's user that replaces its rings (push.Replaced), with w's config or the
// rings' own with w's content.
func withdrawIntent(ch call.Change, w call.Withdraw) push.Intent {
	in := push.Intent{AppID: ch.AppID, Targets: push.Targets{UserIDs: []string{w.UserID}},
		Source: push.Source{Kind: push.SourceCallWithdraw, CallID: ch.CallID}, ExpiresAt: w.ExpiresAt,
		Replaces: &push.Replaced{InFlight: w.Rings, RingConfig: w.Config == nil}}
	if w.Config != nil {
		in.Content = *w.Config
	} else {
		in.Content = push.Content{Content: w.Content}
	}
	return in
}

// Call implements call.Store.
func (s *Store) Call(ctx context.Context, appID, callID string) (call.Record, error) {
	const op = "store: call"
	r, err := scanCall(s.r.QueryRowContext(ctx, qCall, appID, callID))
	if errors.Is(err, sql.ErrNoRows) {
		return call.Record{}, fmt.Errorf("%s: %w", op, call.ErrNotFound)
	}
	if err != nil {
		return call.Record{}, ctxErr(ctx, op, err)
	}
	if r.Users, err = s.callUsers(ctx, appID, callID); err != nil {
		return call.Record{}, ctxErr(ctx, op, err)
	}
	return r, nil
}

// OpenCalls implements call.Store.
func (s *Store) OpenCalls(ctx context.Context) ([]call.Record, error) {
	const op = "store: open calls"
	rows, err := s.r.QueryContext(ctx, qOpenCalls)
	if err != nil {
		return nil, ctxErr(ctx, op, err)
	}
	var out []call.Record
	for rows.Next() {
		r, err := scanCall(rows)
		if err != nil {
			rows.Close()
			return nil, ctxErr(ctx, op, err)
		}
		out = append(out, r)
	}
	err = rows.Err()
	rows.Close()
	if err != nil {
		return nil, ctxErr(ctx, op, err)
	}
	for i := range out {
		if out[i].Users, err = s.callUsers(ctx, out[i].AppID, out[i].CallID); err != nil {
			return nil, ctxErr(ctx, op, err)
		}
	}
	return out, nil
}

func (s *Store) callUsers(ctx context.Context, appID, callID string) ([]call.User, error) {
	rows, err := s.r.QueryContext(ctx, qCallUsers, appID, callID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []call.User
	for rows.Next() {
		var u call.User
		var deadline, updated int64
		var cfg []byte
		if err := rows.Scan(&u.UserID, &u.State, &u.InvitedBy, &u.ExtendedData, &deadline, &updated, &cfg); err != nil {
			return nil, err
		}
		if len(cfg) > 0 {
			c, err := push.DecodeContent(cfg)
			if err != nil {
				return nil, err
			}
			u.PushConfig = &c
		}
		u.Deadline, u.UpdatedAt = timeOrZero(deadline), time.UnixMilli(updated).UTC()
		out = append(out, u)
	}
	return out, rows.Err()
}

func scanCall(sc interface{ Scan(...any) error }) (call.Record, error) {
	var r call.Record
	var created, deadline, closed int64
	err := sc.Scan(&r.AppID, &r.CallID, &r.Inviter, &r.Mode, &r.ExtendedData, &created, &deadline, &closed)
	r.CreatedAt, r.Deadline, r.ClosedAt = time.UnixMilli(created).UTC(), time.UnixMilli(deadline).UTC(), timeOrZero(closed)
	return r, err
}

// millisOrZero stores the zero time as 0.
func millisOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// timeOrZero reads 0 as the zero time.
func timeOrZero(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// CallJobs returns the push jobs of a call, oldest first (for tests and
// the delivery trace).
func (s *Store) CallJobs(ctx context.Context, appID, callID string) ([]push.Job, error) {
	return s.queryJobs(ctx, "store: call jobs",
		`SELECT `+jobColumns+` FROM push_jobs WHERE app_id = $1 AND call_id = $2 ORDER BY id`, appID, callID)
}
