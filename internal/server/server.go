// Package server wires Herald's parts into one running node: the store, the
// messaging core, the gateway and the HTTP endpoints, with a careful start
// and stop order.
package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofrs/flock"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/heraldim/herald/internal/admin"
	"github.com/heraldim/herald/internal/call"
	"github.com/heraldim/herald/internal/config"
	"github.com/heraldim/herald/internal/devapp"
	"github.com/heraldim/herald/internal/gateway"
	"github.com/heraldim/herald/internal/im"
	"github.com/heraldim/herald/internal/push"
	"github.com/heraldim/herald/internal/store/sqlite"
)

// DBFile is the embedded database's file name inside the data directory.
const DBFile = "herald.db"

// Server is one Herald node.
type Server struct {
	cfg   config.Config
	log   *slog.Logger
	store *sqlite.Store
	svc   *im.Service
	hub   *gateway.Hub
	gw    *gateway.Gateway
	// Providers holds the apps' push providers by vendor and environment.
	Providers *push.ProviderSet
	disp      *push.Dispatcher
	calls     *call.Service
	admin     *admin.Handler
	reg       *prometheus.Registry
	http      *http.Server
	dev       devapp.Credentials

	ready    atomic.Bool
	listener net.Listener
	addrMu   sync.Mutex

	lock        *flock.Flock // the data directory's, held from New to release
	releaseOnce sync.Once
	releaseErr  error
}

// New locks the data directory (a *DataDirInUseError when another process
// holds it), opens the store, makes sure the development app exists
// (printing its credentials to out when it is created) and builds the
// node. It starts nothing: call Run, which releases the lock and the store
// when it returns, or Close for a node that will not run.
func New(ctx context.Context, cfg config.Config, log *slog.Logger, out io.Writer) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("server: data dir: %w", err)
	}
	lock, err := lockDataDir(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	dur := sqlite.DurabilityProcess
	if cfg.Durability == "power" {
		dur = sqlite.DurabilityPower
	}
	st, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(cfg.DataDir, DBFile), Durability: dur}, log)
	if err != nil {
		_ = lock.Unlock()
		return nil, fmt.Errorf("server: %w", err)
	}
	s := &Server{cfg: cfg, log: log, store: st, reg: prometheus.NewRegistry(), lock: lock}
	fail := func(err error) (*Server, error) {
		_ = s.release()
		return nil, err
	}
	if s.dev, err = ensureDevApp(ctx, st, cfg.DataDir, out); err != nil {
		return fail(err)
	}
	s.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	s.hub = gateway.NewHub()
	s.Providers = push.NewProviderSet()
	s.disp, err = push.NewDispatcher(st, s.Providers, push.DispatcherConfig{Concurrency: cfg.PushConcurrency}, log, s.reg)
	if err != nil {
		return fail(err)
	}
	s.svc, err = im.New(st, s.hub, im.Config{CommitBatch: cfg.CommitBatch, MaxGroupMembers: cfg.MaxGroupMembers, NodeID: cfg.NodeID,
		TokenLeeway: cfg.TokenLeeway, PushPlanned: s.disp.Wake}, log, s.reg)
	if err != nil {
		return fail(err)
	}
	// The admin API owns the providers built from the apps' stored
	// credentials: load them before anything is dispatched.
	s.admin, err = admin.New(admin.Deps{Apps: st, Credentials: st, Devices: st, Resources: st,
		Providers: s.Providers, Failures: s.disp, Dispatch: s.disp, Log: log, ProviderTokens: st,
		Groups: s.svc}, admin.Config{})
	if err != nil {
		return fail(err)
	}
	if err := s.admin.LoadProviders(ctx); err != nil {
		return fail(err)
	}
	// Calls load before anything is dispatched: the dispatcher asks them
	// whether a call's ring push still rings.
	if s.calls, err = call.New(st, s.hub, call.Config{PushPlanned: s.disp.Wake}, log, s.reg); err != nil {
		return fail(err)
	}
	if err := s.calls.Load(ctx); err != nil {
		return fail(err)
	}
	s.disp.SetCallGate(s.calls)
	s.gw, err = gateway.New(s.svc, push.NewRegistry(st), s.calls, s.hub, gateway.Config{
		HeartbeatInterval: cfg.HeartbeatInterval,
		OfflineAfter:      cfg.OfflineAfter,
		LoginTimeout:      cfg.LoginTimeout,
		TokenWarnBefore:   cfg.TokenWarnBefore,
		TokenLeeway:       cfg.TokenLeeway,
		WriteTimeout:      cfg.WriteTimeout,
		MultiLogin:        cfg.MultiLogin,
		SendQueue:         cfg.SendQueue,
		OriginPatterns:    cfg.AllowedOrigins,
	}, log, s.reg)
	if err != nil {
		return fail(err)
	}
	if config.AllowsAnyOrigin(cfg.AllowedOrigins) {
		log.Warn("allowed-origins lets a browser page of any site open the WebSocket; list the sites instead unless this is a development server",
			"allowed_origins", cfg.AllowedOrigins)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /v1/ws", s.gw)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{}))
	s.admin.Register(mux)
	s.http = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	return s, nil
}

// ensureDevApp loads the development app's credentials from the data
// directory, creating the app on first start.
func ensureDevApp(ctx context.Context, st im.Store, dir string, out io.Writer) (devapp.Credentials, error) {
	c, err := devapp.Load(dir)
	created := false
	if errors.Is(err, devapp.ErrNoDevApp) {
		if c, err = devapp.New(); err != nil {
			return c, err
		}
		created = true
	} else if err != nil {
		return c, err
	}
	err = st.CreateApp(ctx, im.App{ID: c.AppID, Name: "development", Secret: c.Secret, AdminKey: c.AdminKey, CreatedAt: time.Now()})
	if err != nil && !errors.Is(err, im.ErrConflict) {
		return c, fmt.Errorf("server: dev app: %w", err)
	}
	if created {
		if err := devapp.Save(dir, c); err != nil {
			return c, err
		}
		fmt.Fprintf(out, "Created the development app (saved in %s):\n  app ID:        %s\n  server secret: %s\n  admin key:     %s\n",
			filepath.Join(dir, devapp.FileName), c.AppID, c.Secret, c.AdminKey)
	}
	return c, nil
}

// DevApp returns the development app's credentials.
func (s *Server) DevApp() devapp.Credentials { return s.dev }

// Listen binds the listen address; Run calls it if it was not called.
func (s *Server) Listen() error {
	s.addrMu.Lock()
	defer s.addrMu.Unlock()
	if s.listener != nil {
		return nil
	}
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("server: listen: %w", err)
	}
	s.listener = ln
	return nil
}

// Addr returns the bound address (after Listen).
func (s *Server) Addr() string {
	s.addrMu.Lock()
	defer s.addrMu.Unlock()
	if s.listener == nil {
		return ""
	}
	return s.listener.Addr().String()
}

// Run serves until ctx is cancelled, then stops in order: fail readiness,
// stop accepting, tell sessions to reconnect, commit what was queued, flush
// acknowledgements, close the store.
func (s *Server) Run(ctx context.Context) error {
	if err := s.Listen(); err != nil {
		_ = s.release()
		return err
	}
	runCtx, cancelRun := context.WithCancel(context.Background())
	defer cancelRun()
	svcDone := make(chan error, 1)
	go func() { svcDone <- s.svc.Run(runCtx) }()
	gwDone := make(chan error, 1)
	go func() { gwDone <- s.gw.Run(runCtx) }()
	ckCtx, stopCheckpoints := context.WithCancel(context.Background())
	defer stopCheckpoints()
	ckDone := make(chan error, 1)
	go func() { ckDone <- s.store.RunCheckpoints(ckCtx) }()
	callCtx, stopCalls := context.WithCancel(context.Background())
	defer stopCalls()
	callsDone := make(chan error, 1)
	go func() { callsDone <- s.calls.Run(callCtx) }()
	pushCtx, stopPush := context.WithCancel(context.Background())
	defer stopPush()
	pushDone := make(chan error, 1)
	go func() { pushDone <- s.disp.Run(pushCtx) }()
	httpDone := make(chan error, 1)
	go func() { httpDone <- s.http.Serve(s.listener) }()
	s.ready.Store(true)
	s.log.Info("herald serving", "addr", s.Addr(), "data", s.cfg.DataDir, "durability", s.cfg.Durability, "app", s.dev.AppID)

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-httpDone:
		s.log.Error("http server failed", "err", serveErr)
	}

	s.ready.Store(false)
	graceCtx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownGrace)
	defer cancel()
	if err := s.http.Shutdown(graceCtx); err != nil {
		s.log.Warn("http shutdown", "err", err)
	}
	if err := s.gw.Shutdown(graceCtx); err != nil {
		s.log.Warn("closing sessions", "err", err)
	}
	s.svc.Stop()
	select {
	case <-svcDone:
	case <-graceCtx.Done():
		s.log.Warn("commit queue did not drain in time")
		cancelRun()
		<-svcDone
	}
	cancelRun()
	<-gwDone
	// Call deadlines stop firing once no session is left to tell; those
	// pending fire after the next start.
	stopCalls()
	<-callsDone
	// Drain the push workers: no job is read any more, and the pushes in
	// flight finish and are recorded within push-drain (and the grace),
	// so that none is sent again after the restart; those left are
	// cancelled and, like the pending jobs, sent after the next start.
	drainCtx, cancelDrain := context.WithTimeout(graceCtx, s.cfg.PushDrain)
	if err := s.disp.Shutdown(drainCtx); err != nil {
		s.log.Warn("push drain", "err", err)
	}
	cancelDrain()
	stopPush()
	<-pushDone
	s.admin.Close()
	stopCheckpoints()
	if err := <-ckDone; err != nil {
		s.log.Warn("background checkpoints", "err", err)
	}
	if err := s.release(); err != nil {
		s.log.Warn("closing store", "err", err)
	}
	s.log.Info("herald stopped")
	if errors.Is(serveErr, http.ErrServerClosed) {
		serveErr = nil
	}
	return serveErr
}

// Close releases what New took, the store and the data directory's lock,
// for a node that will not Run (Run releases them itself when it returns).
// Calling it after Run, or twice, does nothing.
func (s *Server) Close() error { return s.release() }

// release closes the store, then unlocks the data directory: the next
// process may open the database only once this one is done with it.
func (s *Server) release() error {
	s.releaseOnce.Do(func() {
		s.releaseErr = s.store.Close()
		if err := s.lock.Unlock(); err != nil {
			s.releaseErr = errors.Join(s.releaseErr, fmt.Errorf("server: unlocking data directory: %w", err))
		}
		s.addrMu.Lock()
		if s.listener != nil {
			_ = s.listener.Close() // closed already when Run served on it
		}
		s.addrMu.Unlock()
	})
	return s.releaseErr
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	checks := map[string]string{"accepting": "ok", "store": "ok"}
	status := http.StatusOK
	if !s.ready.Load() {
		checks["accepting"] = "shutting down"
		status = http.StatusServiceUnavailable
	}
	if err := s.store.Ping(ctx); err != nil {
		checks["store"] = "unavailable"
		status = http.StatusServiceUnavailable
	}
	body := map[string]any{"status": "ok", "checks": checks}
	if status != http.StatusOK {
		body["status"] = "unavailable"
	}
	// Failing push credentials are reported but do not make the node
	// unready: it still serves messaging, and another node would fail the
	// same way.
	if failing := s.disp.Failing(); len(failing) > 0 {
		body["pushCredentialsFailing"] = failing
	}
	// Credentials a vendor refuses for a while: their pushes are held
	// until the time given, then sent.
	if deferred := s.disp.Deferred(); len(deferred) > 0 {
		body["pushCredentialsDeferred"] = deferred
	}
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// PushDraining returns a channel closed once a graceful stop began
// draining the push dispatcher (no job is read from then on).
func (s *Server) PushDraining() <-chan struct{} { return s.disp.Draining() }

// SessionEndsChecked returns how many sessions that ended without a logout
// were checked for the pushes of their unacknowledged messages, and a
// channel closed when that number next changes (for tests to wait on).
func (s *Server) SessionEndsChecked() (uint64, <-chan struct{}) { return s.svc.SessionEndsChecked() }

// CallSessionEndsChecked is SessionEndsChecked for the call service's
// checks of the same ends (the rings an ended session leaves owed).
func (s *Server) CallSessionEndsChecked() (uint64, <-chan struct{}) {
	return s.calls.SessionEndsChecked()
}

// Online reports whether a user has a live session on this node.
func (s *Server) Online(appID, userID string) bool { return s.hub.Online(appID, userID) }

// CreateApp creates an app with fresh credentials.
func (s *Server) CreateApp(ctx context.Context, name string) (devapp.Credentials, error) {
	c, err := devapp.New()
	if err != nil {
		return c, err
	}
	c.AppID = "app-" + c.AppID[len("dev-"):]
	if err := s.store.CreateApp(ctx, im.App{ID: c.AppID, Name: name, Secret: c.Secret, AdminKey: c.AdminKey, CreatedAt: time.Now()}); err != nil {
		return devapp.Credentials{}, fmt.Errorf("server: create app: %w", err)
	}
	return c, nil
}

// PushTrace returns push jobs and their attempts matching f.
func (s *Server) PushTrace(ctx context.Context, f push.TraceFilter) ([]push.Job, [][]push.Attempt, error) {
	return s.store.Trace(ctx, f)
}

// PushDevice returns an app's registered device.
func (s *Server) PushDevice(ctx context.Context, appID, pushID string) (push.Device, error) {
	return s.store.Device(ctx, appID, pushID)
}
