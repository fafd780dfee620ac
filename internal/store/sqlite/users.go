package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

const (
	qRecordUser = `INSERT INTO users (app_id, user_id, created_at) VALUES ($1, $2, $3)
ON CONFLICT (app_id, user_id) DO NOTHING`

	qUserExists = `SELECT 1 FROM users WHERE app_id = $1 AND user_id = $2`
)

// RecordUser remembers that userID logged in to appID (idempotent).
func (s *Store) RecordUser(ctx context.Context, appID, userID string) error {
	_, err := s.w.ExecContext(ctx, qRecordUser, appID, userID, time.Now().UnixMilli())
	return ctxErr(ctx, "sqlite: record user", err)
}

// UnknownUsers returns those of users that never logged in to appID, in
// the order given.
func (s *Store) UnknownUsers(ctx context.Context, appID string, users []string) ([]string, error) {
	var unknown []string
	for _, u := range users {
		var one int
		err := s.r.QueryRowContext(ctx, qUserExists, appID, u).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			unknown = append(unknown, u)
			continue
		}
		if err != nil {
			return nil, ctxErr(ctx, "sqlite: unknown users", err)
		}
	}
	return unknown, nil
}
