package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/heraldim/herald/internal/im"
)

// appColumns is the column list every app query selects, in the order
// scanApp reads it.
const appColumns = `id, name, secret, admin_key, created_at, prev_secret, prev_secret_until,
	prev_admin_key, prev_admin_key_until, disabled_at, updated_at`

const (
	qAppsAfter = `SELECT ` + appColumns + ` FROM apps WHERE id > $1 ORDER BY id LIMIT $2`

	qUpdateApp = `UPDATE apps SET name = $2, secret = $3, admin_key = $4, prev_secret = $5,
	prev_secret_until = $6, prev_admin_key = $7, prev_admin_key_until = $8, disabled_at = $9,
	updated_at = $10 WHERE id = $1`

	qAppDeleted = `SELECT COUNT(*) FROM deleted_apps WHERE id = $1`

	qInsertDeletedApp = `INSERT INTO deleted_apps (id, deleted_at) VALUES ($1, $2)`
)

// appChildren delete the rows of an app that have no app_id column of their
// own, before the tables with one: each names the parent it hangs from.
var appChildren = []string{
	`DELETE FROM push_attempts WHERE job_id IN (SELECT id FROM push_jobs WHERE app_id = $1)`,
}

// CreateApp stores a new app; im.ErrConflict if the ID exists or belonged
// to a deleted app. CreatedAt is stored with millisecond precision, and is
// the app's first UpdatedAt.
func (s *Store) CreateApp(ctx context.Context, a im.App) error {
	const op = "store: create app"
	secret, err := s.sealSecret(colAppSecret, a.ID, a.Secret)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	adminKey, err := s.sealSecret(colAppAdminKey, a.ID, a.AdminKey)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return ctxErr(ctx, op, err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	var deleted int
	if err := tx.QueryRowContext(ctx, qAppDeleted, a.ID).Scan(&deleted); err != nil {
		return ctxErr(ctx, op, err)
	}
	if deleted > 0 {
		return fmt.Errorf("%s: %w: the ID belonged to a deleted app", op, im.ErrConflict)
	}
	if _, err := tx.ExecContext(ctx, qInsertApp, a.ID, a.Name, secret, adminKey, a.CreatedAt.UnixMilli()); err != nil {
		return ctxErr(ctx, op, err)
	}
	return ctxErr(ctx, op, tx.Commit())
}

// App returns an app by ID; im.ErrNotFound if there is none.
func (s *Store) App(ctx context.Context, id string) (im.App, error) {
	a, err := s.scanApp(s.r.QueryRowContext(ctx, qApp, id))
	if err != nil {
		return im.App{}, ctxErr(ctx, "store: app", err)
	}
	return a, nil
}

// Apps returns up to limit apps with IDs after after, by ID: a page of the
// app list (after "" for the first).
func (s *Store) Apps(ctx context.Context, after string, limit int) ([]im.App, error) {
	const op = "store: apps"
	rows, err := s.r.QueryContext(ctx, qAppsAfter, after, limit)
	if err != nil {
		return nil, ctxErr(ctx, op, err)
	}
	defer rows.Close()
	var out []im.App
	for rows.Next() {
		a, err := s.scanApp(rows)
		if err != nil {
			return nil, ctxErr(ctx, op, err)
		}
		out = append(out, a)
	}
	return out, ctxErr(ctx, op, rows.Err())
}

// UpdateApp stores every field of a but ID and CreatedAt (name,
// credentials, previous credentials, DisabledAt, UpdatedAt); im.ErrNotFound
// if the app does not exist. Callers read, change and write: they
// serialize their changes of one app.
func (s *Store) UpdateApp(ctx context.Context, a im.App) error {
	const op = "store: update app"
	var sealed [4]string
	cols := [4]string{colAppSecret, colAppAdminKey, colAppPrevSecret, colAppPrevAdminKey}
	for i, v := range []string{a.Secret, a.AdminKey, a.PrevSecret, a.PrevAdminKey} {
		if v == "" && i >= 2 {
			continue // no previous value: nothing to seal
		}
		var err error
		if sealed[i], err = s.sealSecret(cols[i], a.ID, v); err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
	}
	res, err := s.w.ExecContext(ctx, qUpdateApp, a.ID, a.Name, sealed[0], sealed[1], sealed[2],
		millisOrZero(a.PrevSecretUntil), sealed[3], millisOrZero(a.PrevAdminKeyUntil), millisOrZero(a.DisabledAt), millisOrZero(a.UpdatedAt))
	if err != nil {
		return ctxErr(ctx, op, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return ctxErr(ctx, op, err)
	} else if n == 0 {
		return fmt.Errorf("%s %s: %w", op, a.ID, im.ErrNotFound)
	}
	return nil
}

// DeleteApp removes an app and every row of it, in every table, in one
// transaction, and keeps its ID from being used again (CreateApp refuses
// it); im.ErrNotFound if the app does not exist.
func (s *Store) DeleteApp(ctx context.Context, id string, at time.Time) error {
	const op = "store: delete app"
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return ctxErr(ctx, op, err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	// The rows reference each other (and the app): check the references
	// at commit, when they are all gone, rather than after each statement.
	if q := s.d.deferForeignKeys; q != "" {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return ctxErr(ctx, op, err)
		}
	}
	tables, err := s.appTables(ctx, tx)
	if err != nil {
		return ctxErr(ctx, op, err)
	}
	for _, q := range appChildren {
		if _, err := tx.ExecContext(ctx, q, id); err != nil {
			return ctxErr(ctx, op, err)
		}
	}
	for _, t := range tables {
		// t comes from the schema, never from input.
		if _, err := tx.ExecContext(ctx, `DELETE FROM "`+t+`" WHERE app_id = $1`, id); err != nil {
			return ctxErr(ctx, op+" ("+t+")", err)
		}
	}
	res, err := tx.ExecContext(ctx, `DELETE FROM apps WHERE id = $1`, id)
	if err != nil {
		return ctxErr(ctx, op, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return ctxErr(ctx, op, err)
	} else if n == 0 {
		return fmt.Errorf("%s %s: %w", op, id, im.ErrNotFound)
	}
	if _, err := tx.ExecContext(ctx, qInsertDeletedApp, id, at.UnixMilli()); err != nil {
		return ctxErr(ctx, op, err)
	}
	return ctxErr(ctx, op, tx.Commit())
}

// AppTables returns the tables that hold rows of apps (an app_id column),
// for tests that check a deletion left none.
func (s *Store) AppTables(ctx context.Context) ([]string, error) {
	tables, err := s.appTables(ctx, s.r)
	return tables, ctxErr(ctx, "store: app tables", err)
}

// AppRows counts the rows of an app in table (one of AppTables), for tests.
func (s *Store) AppRows(ctx context.Context, table, appID string) (int, error) {
	var n int
	err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM "`+table+`" WHERE app_id = $1`, appID).Scan(&n)
	return n, ctxErr(ctx, "store: app rows", err)
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// appTables lists the tables with an app_id column: the rows DeleteApp
// removes. Reading the schema instead of naming the tables keeps a table
// added by a later migration from being forgotten.
func (s *Store) appTables(ctx context.Context, q querier) ([]string, error) {
	rows, err := q.QueryContext(ctx, s.d.appTables)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// scanApp reads a row of appColumns, opening its secrets.
func (s *Store) scanApp(row scanner) (im.App, error) {
	var a im.App
	var created, prevSecretUntil, prevKeyUntil, disabled, updated int64
	if err := row.Scan(&a.ID, &a.Name, &a.Secret, &a.AdminKey, &created, &a.PrevSecret, &prevSecretUntil,
		&a.PrevAdminKey, &prevKeyUntil, &disabled, &updated); err != nil {
		return im.App{}, err
	}
	cols := [4]string{colAppSecret, colAppAdminKey, colAppPrevSecret, colAppPrevAdminKey}
	for i, p := range []*string{&a.Secret, &a.AdminKey, &a.PrevSecret, &a.PrevAdminKey} {
		if *p == "" {
			continue
		}
		v, err := s.openSecret(cols[i], a.ID, *p)
		if err != nil {
			return im.App{}, fmt.Errorf("app %s: %w", a.ID, err)
		}
		*p = v
	}
	a.CreatedAt = fromMillis(created)
	a.PrevSecretUntil = timeOrZero(prevSecretUntil)
	a.PrevAdminKeyUntil = timeOrZero(prevKeyUntil)
	a.DisabledAt = timeOrZero(disabled)
	a.UpdatedAt = timeOrZero(updated)
	if a.UpdatedAt.IsZero() {
		a.UpdatedAt = a.CreatedAt
	}
	return a, nil
}
