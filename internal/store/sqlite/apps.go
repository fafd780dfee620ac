package sqlite

import (
	"context"
	"fmt"

	"github.com/heraldim/herald/internal/im"
)

// CreateApp stores a new app; im.ErrConflict if the ID exists. CreatedAt is
// stored with millisecond precision.
func (s *Store) CreateApp(ctx context.Context, a im.App) error {
	const op = "sqlite: create app"
	secret, err := s.sealSecret(a.ID, a.Secret)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	adminKey, err := s.sealSecret(a.ID, a.AdminKey)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	_, err = s.w.ExecContext(ctx, qInsertApp, a.ID, a.Name, secret, adminKey, a.CreatedAt.UnixMilli())
	return ctxErr(ctx, op, err)
}

// App returns an app by ID; im.ErrNotFound if there is none.
func (s *Store) App(ctx context.Context, id string) (im.App, error) {
	var a im.App
	var created int64
	err := s.r.QueryRowContext(ctx, qApp, id).Scan(&a.ID, &a.Name, &a.Secret, &a.AdminKey, &created)
	if err != nil {
		return im.App{}, ctxErr(ctx, "sqlite: app", err)
	}
	if a.Secret, err = s.openSecret(a.ID, a.Secret); err != nil {
		return im.App{}, fmt.Errorf("sqlite: app %s: %w", a.ID, err)
	}
	if a.AdminKey, err = s.openSecret(a.ID, a.AdminKey); err != nil {
		return im.App{}, fmt.Errorf("sqlite: app %s: %w", a.ID, err)
	}
	a.CreatedAt = fromMillis(created)
	return a, nil
}
