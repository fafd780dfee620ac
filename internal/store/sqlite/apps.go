package sqlite

import (
	"context"

	"github.com/heraldim/herald/internal/im"
)

// CreateApp stores a new app; im.ErrConflict if the ID exists. CreatedAt is
// stored with millisecond precision.
func (s *Store) CreateApp(ctx context.Context, a im.App) error {
	_, err := s.w.ExecContext(ctx, qInsertApp, a.ID, a.Name, a.Secret, a.AdminKey, a.CreatedAt.UnixMilli())
	return ctxErr(ctx, "sqlite: create app", err)
}

// App returns an app by ID; im.ErrNotFound if there is none.
func (s *Store) App(ctx context.Context, id string) (im.App, error) {
	var a im.App
	var created int64
	err := s.r.QueryRowContext(ctx, qApp, id).Scan(&a.ID, &a.Name, &a.Secret, &a.AdminKey, &created)
	if err != nil {
		return im.App{}, ctxErr(ctx, "sqlite: app", err)
	}
	a.CreatedAt = fromMillis(created)
	return a, nil
}
