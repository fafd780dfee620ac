package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/heraldim/herald/internal/im"
)

// Users' offline push rules (migration 00022) and the planning of pushes
// to some of a user's devices that the rules decide (im/pushrule.go).

const (
	qPutPushRule = `INSERT INTO user_push_rules (app_id, user_id, online_platforms, not_to_receive, updated_at)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (app_id, user_id) DO UPDATE SET
	online_platforms = excluded.online_platforms, not_to_receive = excluded.not_to_receive,
	updated_at = excluded.updated_at`

	qPushRule = `SELECT online_platforms, not_to_receive, updated_at FROM user_push_rules
WHERE app_id = $1 AND user_id = $2`

	qDeletePushRule = `DELETE FROM user_push_rules WHERE app_id = $1 AND user_id = $2`
)

// SetUserPushRule implements im.PushRuleStore.
func (s *Store) SetUserPushRule(ctx context.Context, appID, userID string, r im.OfflinePushRule) error {
	_, err := s.w.ExecContext(ctx, qPutPushRule, appID, userID, joinInts(r.OnlinePlatforms), joinInts(r.NotToReceive),
		r.UpdatedAt.UnixMilli())
	return mapErr("store: set push rule", err)
}

// UserPushRule implements im.PushRuleStore.
func (s *Store) UserPushRule(ctx context.Context, appID, userID string) (im.OfflinePushRule, error) {
	var online, notTo string
	var at int64
	if err := s.r.QueryRowContext(ctx, qPushRule, appID, userID).Scan(&online, &notTo, &at); err != nil {
		return im.OfflinePushRule{}, mapErr("store: push rule", err) // sql.ErrNoRows: im.ErrNotFound
	}
	r := im.OfflinePushRule{UpdatedAt: time.UnixMilli(at)}
	var err error
	if r.OnlinePlatforms, err = splitInts(online); err != nil {
		return im.OfflinePushRule{}, fmt.Errorf("store: push rule: %w", err)
	}
	if r.NotToReceive, err = splitInts(notTo); err != nil {
		return im.OfflinePushRule{}, fmt.Errorf("store: push rule: %w", err)
	}
	return r, nil
}

// deletePushRule removes a user's rule in tx (DeleteUser).
func deletePushRule(ctx context.Context, tx *sql.Tx, appID, userID string) error {
	_, err := tx.ExecContext(ctx, qDeletePushRule, appID, userID)
	return err
}

// PlanPushOnceTo implements im.PushRuleStore: PlanPushOnce's intents
// targeting those of pushIDs bound to userID now (read in the same
// transaction; on PostgreSQL a rebind committed between that read and the
// insert can still slip through, which costs one push to the device's new
// user for a message of the old, the same window a bind has against any
// planning).
func (s *Store) PlanPushOnceTo(ctx context.Context, appID, userID string, pushIDs []string, plans []im.PushPlan, now time.Time) (int, error) {
	const op = "store: plan push once to devices"
	if len(plans) == 0 || len(pushIDs) == 0 || userID == "" {
		return 0, nil
	}
	n := 0
	err := s.inTx(ctx, op, func(tx *sql.Tx) error {
		n = 0
		bound, err := userPushIDs(ctx, tx, appID, userID)
		if err != nil {
			return err
		}
		var ids []string
		for _, id := range pushIDs {
			if slices.Contains(bound, id) && !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		}
		if len(ids) == 0 {
			return nil
		}
		planner := s.planner(tx)
		defer planner.close()
		for _, p := range plans {
			in := messageIntent(appID, p.MessageID, p.PushConfig, p.ExpiresAt, true)
			in.Targets.PushIDs = ids
			got, err := planner.plan(ctx, in, now)
			if err != nil {
				return err
			}
			n += len(got)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

func joinInts(xs []int) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = strconv.Itoa(x)
	}
	return strings.Join(parts, ",")
}

func splitInts(s string) ([]int, error) {
	out := []int{}
	if s == "" {
		return out, nil
	}
	for _, p := range strings.Split(s, ",") {
		x, err := strconv.Atoi(p)
		if err != nil {
			return nil, fmt.Errorf("bad platform list %q: %w", s, err)
		}
		out = append(out, x)
	}
	return out, nil
}
