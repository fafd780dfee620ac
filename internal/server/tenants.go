package server

import (
	"context"
	"fmt"
	"io"
	"path/filepath"

	"github.com/heraldim/herald/internal/bus"
	"github.com/heraldim/herald/internal/devapp"
	"github.com/heraldim/herald/internal/operatorkey"
)

// ensureOperatorKey returns the configured operator key, or else the one
// saved in the data directory, generating it (and printing it to out) at
// first start.
func ensureOperatorKey(configured, dir string, out io.Writer) (string, error) {
	if configured != "" {
		return configured, nil
	}
	key, created, err := operatorkey.Ensure(dir)
	if err != nil {
		return "", fmt.Errorf("server: %w", err)
	}
	if created {
		fmt.Fprintf(out, "Created the operator key (saved in %s; it manages every app: /v1/admin, `herald app`):\n  operator key:  %s\n",
			filepath.Join(dir, operatorkey.FileName), key)
	}
	return key, nil
}

// OperatorKey returns the key of the operator API (/v1/admin).
func (s *Server) OperatorKey() string { return s.operatorKey }

// tenantEvents carries the operator's changes of apps to the node: the
// messaging core's cached copy, the live sessions, and the development
// app's credentials file.
type tenantEvents struct{ s *Server }

// AppChanged drops the cached app, so that logins see the change at once.
// A rotation of the development app's credentials is written to its file,
// so that the CLI's client commands keep working.
func (e tenantEvents) AppChanged(appID string) {
	e.s.svc.ForgetApp(appID)
	e.s.broadcast(bus.Control{Op: opAppChanged, AppID: appID})
	if appID != e.s.dev.AppID {
		return
	}
	a, err := e.s.store.App(context.Background(), appID)
	if err != nil {
		return // deleted: the file stays (its ID is never given out again)
	}
	c := devapp.Credentials{AppID: a.ID, Secret: a.Secret, AdminKey: a.AdminKey}
	if cur, err := devapp.Load(e.s.cfg.DataDir); err == nil && cur == c {
		return
	}
	if err := devapp.Save(e.s.cfg.DataDir, c); err != nil {
		e.s.log.Warn("saving the development app's rotated credentials", "err", err)
	}
}

// AppDeleting drops the unwritten acknowledgements and the open calls of
// an app about to be deleted.
func (e tenantEvents) AppDeleting(appID string) {
	e.s.svc.DropApp(appID)
	e.s.calls.ForgetApp(appID)
	e.s.broadcast(bus.Control{Op: opAppDeleting, AppID: appID})
}

// AppDisabled closes the app's live sessions (close code 4006).
func (e tenantEvents) AppDisabled(ctx context.Context, appID string) int {
	e.s.broadcast(bus.Control{Op: opCloseApp, AppID: appID})
	return e.s.gw.CloseApp(ctx, appID)
}

// AppRows counts an app's rows in every table that holds rows of apps, by
// table (for tests of deletion).
func (s *Server) AppRows(ctx context.Context, appID string) (map[string]int, error) {
	tables, err := s.store.AppTables(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]int, len(tables))
	for _, t := range tables {
		if out[t], err = s.store.AppRows(ctx, t, appID); err != nil {
			return nil, err
		}
	}
	return out, nil
}
