package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/heraldim/herald/internal/push"
)

const credentialColumns = `app_id, vendor, environments, config, created_at, updated_at`

const (
	// qPutCredential upserts a credential; a replacement keeps created_at.
	qPutCredential = `INSERT INTO push_credentials (` + credentialColumns + `)
VALUES ($1, $2, $3, $4, $5, $5)
ON CONFLICT (app_id, vendor) DO UPDATE SET
	environments = excluded.environments, config = excluded.config, updated_at = excluded.updated_at`

	qAppCredentials = `SELECT ` + credentialColumns + ` FROM push_credentials WHERE app_id = $1 ORDER BY vendor`
	qAllCredentials = `SELECT ` + credentialColumns + ` FROM push_credentials ORDER BY app_id, vendor`
	qDelCredential  = `DELETE FROM push_credentials WHERE app_id = $1 AND vendor = $2`
)

// PutCredential stores an app's credential for c.Vendor, replacing the one
// it had; im.ErrNotFound if the app does not exist.
func (s *Store) PutCredential(ctx context.Context, c push.Credential) error {
	const op = "store: put credential"
	config, err := s.sealValue(credentialAAD(c.AppID, string(c.Vendor)), string(c.Config))
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	envs := make([]string, len(c.Environments))
	for i, e := range c.Environments {
		envs[i] = string(e)
	}
	_, err = s.w.ExecContext(ctx, qPutCredential, c.AppID, string(c.Vendor), strings.Join(envs, ","), config,
		time.Now().UnixMilli())
	return ctxErr(ctx, op, err)
}

// Credentials returns an app's credentials by vendor; with appID empty,
// every app's.
func (s *Store) Credentials(ctx context.Context, appID string) ([]push.Credential, error) {
	const op = "store: credentials"
	q, args := qAppCredentials, []any{appID}
	if appID == "" {
		q, args = qAllCredentials, nil
	}
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, ctxErr(ctx, op, err)
	}
	defer rows.Close()
	var out []push.Credential
	for rows.Next() {
		var c push.Credential
		var vendor, envs, config string
		var created, updated int64
		if err := rows.Scan(&c.AppID, &vendor, &envs, &config, &created, &updated); err != nil {
			return nil, mapErr(op, err)
		}
		opened, err := s.openValue(credentialAAD(c.AppID, vendor), config)
		if err != nil {
			return nil, fmt.Errorf("%s: app %s, %s: %w", op, c.AppID, vendor, err)
		}
		c.Config = []byte(opened)
		c.Vendor = push.Vendor(vendor)
		for _, e := range strings.Split(envs, ",") {
			if e != "" {
				c.Environments = append(c.Environments, push.Environment(e))
			}
		}
		c.CreatedAt, c.UpdatedAt = fromMillis(created), fromMillis(updated)
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr(op, err)
	}
	return out, nil
}

// DeleteCredential removes an app's credential for a vendor;
// push.ErrNotFound if it has none.
func (s *Store) DeleteCredential(ctx context.Context, appID string, v push.Vendor) error {
	res, err := s.w.ExecContext(ctx, qDelCredential, appID, string(v))
	if err != nil {
		return ctxErr(ctx, "store: delete credential", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return mapErr("store: delete credential", err)
	} else if n == 0 {
		return fmt.Errorf("store: delete credential: %w", push.ErrNotFound)
	}
	return nil
}
