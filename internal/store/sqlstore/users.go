package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/heraldim/herald/internal/im"
	"github.com/heraldim/herald/internal/push"
)

const (
	qRecordUser = `INSERT INTO users (app_id, user_id, created_at, updated_at) VALUES ($1, $2, $3, $3)
ON CONFLICT (app_id, user_id) DO NOTHING`

	qUserExists = `SELECT 1 FROM users WHERE app_id = $1 AND user_id = $2`

	// qPutUser creates a user with a profile or replaces its profile.
	qPutUser = `INSERT INTO users (app_id, user_id, nickname, avatar_url, extra, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $6)
ON CONFLICT (app_id, user_id) DO UPDATE SET
	nickname = excluded.nickname, avatar_url = excluded.avatar_url, extra = excluded.extra,
	updated_at = excluded.updated_at`

	qUser = `SELECT u.user_id, u.nickname, u.avatar_url, u.extra, u.created_at, u.updated_at, u.tokens_valid_after,
	(SELECT COUNT(*) FROM devices d WHERE d.app_id = u.app_id AND d.user_id = u.user_id)
FROM users u WHERE u.app_id = $1 AND u.user_id = $2`

	qPatchUser = `UPDATE users SET
	nickname = CASE WHEN $3 THEN $4 ELSE nickname END,
	avatar_url = CASE WHEN $5 THEN $6 ELSE avatar_url END,
	extra = CASE WHEN $7 THEN $8 ELSE extra END,
	updated_at = $9
WHERE app_id = $1 AND user_id = $2`

	// qRevokeTokens never moves a cutoff back: an older revocation than the
	// last one changes nothing. (CASE, not the two-argument MAX that
	// PostgreSQL lacks or the GREATEST that SQLite lacks.)
	qRevokeTokens = `UPDATE users SET tokens_valid_after =
	CASE WHEN $3 > tokens_valid_after THEN $3 ELSE tokens_valid_after END
WHERE app_id = $1 AND user_id = $2 RETURNING tokens_valid_after`

	qTokensValidAfter = `SELECT tokens_valid_after FROM users WHERE app_id = $1 AND user_id = $2`

	qUserPushIDs = `SELECT push_id FROM devices WHERE app_id = $1 AND user_id = $2 AND user_id <> '' ORDER BY push_id`

	qDropUserJobs = `UPDATE push_jobs SET status = 'dropped', reason = $3, updated_at = $4
WHERE app_id = $1 AND user_id = $2 AND status = 'pending'`

	qDeleteUser = `DELETE FROM users WHERE app_id = $1 AND user_id = $2`
)

// ReasonUserDeleted is the reason of the devices removed and the push jobs
// dropped with their user (DeleteUser).
const ReasonUserDeleted = "user deleted by the app's server"

// RecordUser remembers that userID logged in to appID (idempotent).
func (s *Store) RecordUser(ctx context.Context, appID, userID string) error {
	_, err := s.w.ExecContext(ctx, qRecordUser, appID, userID, time.Now().UnixMilli())
	return ctxErr(ctx, "store: record user", err)
}

// UnknownUsers returns those of users that never logged in to appID (nor
// were imported), in the order given.
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
			return nil, ctxErr(ctx, "store: unknown users", err)
		}
	}
	return unknown, nil
}

// PutUsers creates the users of us, or replaces the profile of those that
// exist, in one transaction.
func (s *Store) PutUsers(ctx context.Context, appID string, us []im.UserProfile) error {
	now := time.Now().UnixMilli()
	return s.userTx(ctx, "store: put users", func(tx *sql.Tx) error {
		for _, u := range us {
			if _, err := tx.ExecContext(ctx, qPutUser, appID, u.UserID, u.Nickname, u.AvatarURL, u.Extra, now); err != nil {
				return err
			}
		}
		return nil
	})
}

// User returns one user with its device count; im.ErrNotFound if there is
// none.
func (s *Store) User(ctx context.Context, appID, userID string) (im.User, error) {
	return scanUser(ctx, s.r.QueryRowContext(ctx, qUser, appID, userID), appID)
}

func scanUser(ctx context.Context, row *sql.Row, appID string) (im.User, error) {
	u := im.User{AppID: appID}
	var created, updated, after int64
	if err := row.Scan(&u.UserID, &u.Nickname, &u.AvatarURL, &u.Extra, &created, &updated, &after, &u.Devices); err != nil {
		return im.User{}, ctxErr(ctx, "store: user", err)
	}
	u.CreatedAt = time.UnixMilli(created).UTC()
	if updated > 0 {
		u.UpdatedAt = time.UnixMilli(updated).UTC()
	}
	if after > 0 {
		u.TokensValidAfter = time.UnixMilli(after).UTC()
	}
	return u, nil
}

// Users returns those of ids that are users of appID, in the order given.
func (s *Store) Users(ctx context.Context, appID string, ids []string) ([]im.User, error) {
	out := make([]im.User, 0, len(ids))
	for _, id := range ids {
		u, err := s.User(ctx, appID, id)
		if errors.Is(err, im.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("store: users: %w", err)
		}
		out = append(out, u)
	}
	return out, nil
}

// UpdateUser changes the profile fields of p that are set and returns the
// user; im.ErrNotFound if there is none.
func (s *Store) UpdateUser(ctx context.Context, appID, userID string, p im.UserPatch) (im.User, error) {
	set := func(v *string) (bool, string) {
		if v == nil {
			return false, ""
		}
		return true, *v
	}
	n1, v1 := set(p.Nickname)
	n2, v2 := set(p.AvatarURL)
	n3, v3 := set(p.Extra)
	err := s.userTx(ctx, "store: update user", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, qPatchUser, appID, userID, n1, v1, n2, v2, n3, v3, time.Now().UnixMilli())
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			if err == nil {
				err = im.ErrNotFound
			}
			return err
		}
		return nil
	})
	if err != nil {
		return im.User{}, err
	}
	return s.User(ctx, appID, userID)
}

// RevokeTokens moves the user's token cutoff to before (never back) and
// returns the cutoff in force; im.ErrNotFound if there is no such user.
func (s *Store) RevokeTokens(ctx context.Context, appID, userID string, before time.Time) (time.Time, error) {
	var after int64
	err := s.w.QueryRowContext(ctx, qRevokeTokens, appID, userID, before.UnixMilli()).Scan(&after)
	if err != nil {
		return time.Time{}, ctxErr(ctx, "store: revoke tokens", err)
	}
	return time.UnixMilli(after).UTC(), nil
}

// TokensValidAfter implements im.Store.
func (s *Store) TokensValidAfter(ctx context.Context, appID, userID string) (time.Time, error) {
	var after int64
	err := s.r.QueryRowContext(ctx, qTokensValidAfter, appID, userID).Scan(&after)
	if errors.Is(err, sql.ErrNoRows) || err == nil && after == 0 {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, ctxErr(ctx, "store: tokens valid after", err)
	}
	return time.UnixMilli(after).UTC(), nil
}

// DeleteUser removes a user in one transaction: the devices bound to it
// (each recorded as removed, its pending jobs dropped), its other pending
// push jobs, and its row, so that groups and calls no longer know it
// until it is imported or logs in again. Its messages, conversations and
// group memberships stay. im.ErrNotFound if there is no such user.
func (s *Store) DeleteUser(ctx context.Context, appID, userID string) error {
	now := time.Now()
	return s.userTx(ctx, "store: delete user", func(tx *sql.Tx) error {
		var one int
		if err := tx.QueryRowContext(ctx, qUserExists, appID, userID).Scan(&one); err != nil {
			return err // sql.ErrNoRows: im.ErrNotFound
		}
		ids, err := userPushIDs(ctx, tx, appID, userID)
		if err != nil {
			return err
		}
		for _, id := range ids {
			if _, err := tx.ExecContext(ctx, qDeleteDevice, appID, id); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, qDropDeviceJobs, appID, id, ReasonUserDeleted, now.UnixMilli()); err != nil {
				return err
			}
			if err := recordDeviceEvent(ctx, tx, push.DeviceEvent{AppID: appID, PushID: id, At: now,
				Kind: push.DeviceRemoved, FromUser: userID, Reason: ReasonUserDeleted}); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, qDropUserJobs, appID, userID, ReasonUserDeleted, now.UnixMilli()); err != nil {
			return err
		}
		if err := deletePushRule(ctx, tx, appID, userID); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, qDeleteUser, appID, userID)
		return err
	})
}

func userPushIDs(ctx context.Context, tx *sql.Tx, appID, userID string) ([]string, error) {
	rows, err := tx.QueryContext(ctx, qUserPushIDs, appID, userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// userTx runs fn in a write transaction; its errors are mapped (im
// sentinels pass through).
func (s *Store) userTx(ctx context.Context, op string, fn func(*sql.Tx) error) (err error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return ctxErr(ctx, op, err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if err := fn(tx); err != nil {
		if errors.Is(err, im.ErrNotFound) {
			return fmt.Errorf("%s: %w", op, err)
		}
		return ctxErr(ctx, op, err)
	}
	if err := tx.Commit(); err != nil {
		return ctxErr(ctx, op, err)
	}
	return nil
}
