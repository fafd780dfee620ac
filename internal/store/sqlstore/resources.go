package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/heraldim/herald/internal/push"
)

var _ push.ResourceLookup = (*Store)(nil)

const resourceColumns = `app_id, id, spec, created_at, updated_at`

const (
	// qPutResource upserts a resource; a replacement keeps created_at.
	qPutResource = `INSERT INTO push_resources (` + resourceColumns + `)
VALUES ($1, $2, $3, $4, $4)
ON CONFLICT (app_id, id) DO UPDATE SET spec = excluded.spec, updated_at = excluded.updated_at`

	qResource    = `SELECT ` + resourceColumns + ` FROM push_resources WHERE app_id = $1 AND id = $2`
	qResources   = `SELECT ` + resourceColumns + ` FROM push_resources WHERE app_id = $1 ORDER BY id`
	qDelResource = `DELETE FROM push_resources WHERE app_id = $1 AND id = $2`
)

// PutResource stores an app's resource, replacing the one with its ID;
// im.ErrNotFound if the app does not exist.
func (s *Store) PutResource(ctx context.Context, r push.Resource) error {
	spec, err := json.Marshal(r.Spec)
	if err != nil {
		return fmt.Errorf("store: put resource: %w", err)
	}
	_, err = s.w.ExecContext(ctx, qPutResource, r.AppID, r.ID, spec, time.Now().UnixMilli())
	return ctxErr(ctx, "store: put resource", err)
}

// Resource implements push.ResourceLookup: push.ErrNotFound if the app has
// no resource by that ID.
func (s *Store) Resource(ctx context.Context, appID, id string) (push.Resource, error) {
	r, err := scanResource(s.r.QueryRowContext(ctx, qResource, appID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return push.Resource{}, fmt.Errorf("store: resource: %w", push.ErrNotFound)
	}
	if err != nil {
		return push.Resource{}, ctxErr(ctx, "store: resource", err)
	}
	return r, nil
}

// Resources returns an app's resources by ID.
func (s *Store) Resources(ctx context.Context, appID string) ([]push.Resource, error) {
	const op = "store: resources"
	rows, err := s.r.QueryContext(ctx, qResources, appID)
	if err != nil {
		return nil, ctxErr(ctx, op, err)
	}
	defer rows.Close()
	out := []push.Resource{}
	for rows.Next() {
		r, err := scanResource(rows)
		if err != nil {
			return nil, mapErr(op, err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr(op, err)
	}
	return out, nil
}

// DeleteResource removes an app's resource; push.ErrNotFound if there is
// none.
func (s *Store) DeleteResource(ctx context.Context, appID, id string) error {
	res, err := s.w.ExecContext(ctx, qDelResource, appID, id)
	if err != nil {
		return ctxErr(ctx, "store: delete resource", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return mapErr("store: delete resource", err)
	} else if n == 0 {
		return fmt.Errorf("store: delete resource: %w", push.ErrNotFound)
	}
	return nil
}

func scanResource(r scanner) (push.Resource, error) {
	var res push.Resource
	var spec []byte
	var created, updated int64
	if err := r.Scan(&res.AppID, &res.ID, &spec, &created, &updated); err != nil {
		return push.Resource{}, err
	}
	if err := json.Unmarshal(spec, &res.Spec); err != nil {
		return push.Resource{}, fmt.Errorf("stored spec unreadable: %w", err)
	}
	res.CreatedAt, res.UpdatedAt = fromMillis(created), fromMillis(updated)
	return res, nil
}

// PlanPush writes, in one transaction, a pending push job (message ID 0)
// with pushConfig for every enabled device bound to each of t.UserIDs, or
// for each enabled device of t.PushIDs (unknown ones are skipped), and
// returns the jobs' IDs: PlanIntent of a server push with that config.
// expires zero: no expiry of its own.
func (s *Store) PlanPush(ctx context.Context, appID string, t push.Targets, pushConfig []byte, expires time.Time) ([]int64, error) {
	c, err := push.DecodeContent(pushConfig)
	if err != nil {
		return nil, fmt.Errorf("store: plan push: %w", err)
	}
	return s.PlanIntent(ctx, push.Intent{AppID: appID, Targets: t, Source: push.Source{Kind: push.SourceServer},
		Content: c, ExpiresAt: expires})
}
