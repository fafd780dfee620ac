// Package server wires Herald's parts into one running node: the store, the
// messaging core, the gateway and the HTTP endpoints, with a careful start
// and stop order.
package server

import (
	"context"
	"crypto/tls"
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
	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/heraldim/herald/internal/admin"
	"github.com/heraldim/herald/internal/bus"
	"github.com/heraldim/herald/internal/call"
	"github.com/heraldim/herald/internal/clientip"
	"github.com/heraldim/herald/internal/cluster"
	"github.com/heraldim/herald/internal/config"
	"github.com/heraldim/herald/internal/console"
	"github.com/heraldim/herald/internal/devapp"
	"github.com/heraldim/herald/internal/gateway"
	"github.com/heraldim/herald/internal/im"
	"github.com/heraldim/herald/internal/limit"
	"github.com/heraldim/herald/internal/push"
	"github.com/heraldim/herald/internal/seal"
	"github.com/heraldim/herald/internal/store/sqlstore"
	"github.com/heraldim/herald/internal/webhook"
)

// DBFile is the embedded database's file name inside the data directory.
const DBFile = "herald.db"

// Server is one Herald node.
type Server struct {
	cfg   config.Config
	log   *slog.Logger
	store *sqlstore.Store
	// nodeLease holds this node's number on a shared (PostgreSQL) store;
	// nil on SQLite.
	nodeLease *sqlstore.NodeLease
	svc       *im.Service
	hub       *gateway.Hub
	// bus connects the node to the others of a cluster (cfg.Bus); nil for
	// one node. router is the bus when set, else the hub.
	bus    *bus.Bus
	router router
	// kicker is the gateway once built, for the bus's kicks (which may
	// come while New runs).
	kicker atomic.Pointer[gateway.Gateway]
	gw     *gateway.Gateway
	// Providers holds the apps' push providers by vendor and environment.
	Providers *push.ProviderSet
	disp      *push.Dispatcher
	calls     *call.Service
	admin     *admin.Handler
	reg       *prometheus.Registry
	http      *http.Server
	dev       devapp.Credentials
	webhooks  *webhook.Service
	receipts  *push.Receipts // the apps' push receipts (receipts.go)
	// workers elects the leaders of the loops run on one node of a
	// cluster (workers.go).
	workers workers

	// callsBus and callLeader are the calls of a cluster (nil for one
	// node): the requests forwarded to the leader, and the leadership
	// under which this node runs calls when it leads.
	callsBus   *bus.Calls
	callLeader cluster.Leadership

	ready    atomic.Bool
	listener net.Listener
	addrMu   sync.Mutex

	// adminHTTP serves the admin API and /metrics on cfg.AdminAddr; nil
	// when they are served by http on cfg.Addr.
	adminHTTP     *http.Server
	adminListener net.Listener
	certs         *certSource // nil without TLS

	lock        *flock.Flock // the data directory's, held from New to release
	releaseOnce sync.Once
	releaseErr  error

	keys        *seal.Keyring // seals the store's secrets
	operatorKey string        // of the operator API (/v1/admin)
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
	if cfg.Clock == nil {
		cfg.Clock = clockwork.NewRealClock()
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("server: data dir: %w", err)
	}
	lock, err := lockDataDir(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	dur := sqlstore.DurabilityProcess
	if cfg.Durability == "power" {
		dur = sqlstore.DurabilityPower
	}
	keys, err := loadKeyring(cfg, log)
	if err != nil {
		_ = lock.Unlock()
		return nil, err
	}
	var st *sqlstore.Store
	if cfg.StorePostgres() {
		st, err = sqlstore.OpenPostgres(ctx, sqlstore.PostgresConfig{URL: cfg.Store, MaxConns: cfg.StoreMaxConns, Sealer: keys}, log)
	} else {
		st, err = sqlstore.Open(ctx, sqlstore.Config{Path: filepath.Join(cfg.DataDir, DBFile), Durability: dur, Sealer: keys}, log)
	}
	if err != nil {
		_ = lock.Unlock()
		if uk := (*seal.UnknownKeyError)(nil); errors.As(err, &uk) {
			return nil, fmt.Errorf("server: %w; give master-keys the key %q (after the primary) to open it", err, uk.ID)
		}
		return nil, fmt.Errorf("server: %w", err)
	}
	s := &Server{cfg: cfg, log: log, store: st, reg: prometheus.NewRegistry(), lock: lock, keys: keys}
	fail := func(err error) (*Server, error) {
		_ = s.release()
		return nil, err
	}
	if cfg.NodeID == "" { // a Config not made by Load (tests)
		cfg.NodeID = config.DefaultNodeID()
		s.cfg.NodeID = cfg.NodeID
	}
	if cfg.StorePostgres() {
		// Nodes sharing the database each lease a node number for their
		// message IDs (--node-number is for a single SQLite node).
		if s.nodeLease, err = st.ClaimNodeLease(ctx, cfg.NodeID); err != nil {
			return fail(fmt.Errorf("server: %w", err))
		}
		cfg.NodeNumber = s.nodeLease.Node
		s.cfg.NodeNumber = cfg.NodeNumber
		log.Info("node number leased", "node", cfg.NodeNumber, "node_id", cfg.NodeID)
	}
	if s.dev, err = ensureDevApp(ctx, st, cfg.DataDir, out); err != nil {
		return fail(err)
	}
	if s.operatorKey, err = ensureOperatorKey(cfg.OperatorKey, cfg.DataDir, out); err != nil {
		return fail(err)
	}
	s.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	s.hub = gateway.NewHub()
	s.router = s.hub
	if s.bus, err = s.newBus(ctx); err != nil {
		return fail(err)
	}
	if s.bus != nil {
		s.router = busRouter{s.bus}
	}
	if s.workers, err = s.newWorkers(); err != nil {
		return fail(err)
	}
	s.Providers = push.NewProviderSet()
	s.webhooks, err = webhook.New(st, webhook.Options{MaxAttempts: cfg.WebhookMaxAttempts, RetryBase: cfg.WebhookRetryBase,
		Timeout: cfg.WebhookTimeout, Now: cfg.Clock.Now, Leader: leadership(s.workers.webhooks),
		Enqueued: func() { s.wakeWorkers(s.workers.webhooks) }}, log, s.reg)
	if err != nil {
		return fail(err)
	}
	if err := s.webhooks.Load(ctx); err != nil {
		return fail(err)
	}
	s.disp, err = push.NewDispatcher(st, s.Providers, push.DispatcherConfig{Concurrency: cfg.PushConcurrency,
		Outcome: pushOutcome(s.webhooks), Now: cfg.Clock.Now, Owner: cfg.NodeID, Lease: cfg.PushLease}, log, s.reg)
	if err != nil {
		return fail(err)
	}
	// The messaging core comes before the admin API, whose user, group
	// and message endpoints use it.
	s.svc, err = im.New(st, s.router, im.Config{GroupChanged: s.groupChanged, PushRuleChanged: s.pushRuleChanged, CommitBatch: cfg.CommitBatch, MaxGroupMembers: cfg.MaxGroupMembers, NodeID: cfg.NodeNumber,
		TokenLeeway: cfg.TokenLeeway, RevokeWindow: cfg.RevokeWindow, PushPlanned: s.disp.Wake, Hooks: s.webhooks, Now: cfg.Clock.Now,
		GroupPushLeader: leadership(s.workers.groupPushes), GroupPushQueued: func() { s.wakeWorkers(s.workers.groupPushes) }}, log, s.reg)
	if err != nil {
		return fail(err)
	}
	lim, err := newLimits(cfg, log, s.reg)
	if err != nil {
		return fail(err)
	}
	// The admin API owns the providers built from the apps' stored
	// credentials: load them before anything is dispatched.
	s.admin, err = admin.New(admin.Deps{Apps: st, Credentials: st, Devices: st, Resources: st,
		Providers: s.Providers, Failures: s.disp, Dispatch: s.disp, Log: log, ProviderTokens: st, AccessTokens: st,
		Messages: s.svc, Users: st, Sessions: clusterSessions{s}, UserCache: clusterUsers{s}, Webhooks: clusterWebhooks{s.webhooks, s}, CredentialEvents: clusterCredentials{s},
		Tenants: st, OperatorKey: s.operatorKey, Events: tenantEvents{s}, Groups: s.svc,
		Console: consoleStats{s.hub, s.svc, st}, Stats: st}, admin.Config{RateLimit: lim.rest})
	if err != nil {
		return fail(err)
	}
	if err := s.admin.LoadProviders(ctx); err != nil {
		return fail(err)
	}
	// The call service's events go through the router: on every node of
	// a cluster, the invitees' sessions get them.
	if s.calls, err = call.New(st, s.router, call.Config{PushPlanned: s.disp.Wake, Ended: callEnded(s.webhooks), Clock: cfg.Clock}, log, s.reg); err != nil {
		return fail(err)
	}
	var calls gateway.Calls = s.calls
	if s.bus == nil {
		// One node: the calls load before anything is dispatched (the
		// dispatcher asks them whether a call's ring push still rings),
		// and run with the node.
		if err := s.calls.Load(ctx); err != nil {
			return fail(err)
		}
		s.disp.SetCallGate(s.calls)
	} else {
		// A cluster: the calls run on the leader, which loads them when
		// it starts leading (runCalls); every node asks it through the
		// bus, and the gate holds rings back while nobody leads.
		s.callsBus = bus.NewCalls(s.bus, bus.CallsConfig{})
		if s.callLeader, err = cluster.NewElector(s.workers.db, cluster.ElectorConfig{Name: callsLeadership}, log); err != nil {
			return fail(fmt.Errorf("server: %w", err))
		}
		calls = s.callsBus
		s.disp.SetCallGate(s.callsBus)
	}
	if s.receipts, err = push.NewReceipts(st, cfg.Clock.Now, s.reg); err != nil {
		return fail(err)
	}
	s.gw, err = gateway.New(s.svc, push.NewRegistry(st), calls, s.hub, gateway.Config{
		Clock:              cfg.Clock,
		HeartbeatInterval:  cfg.HeartbeatInterval,
		OfflineAfter:       cfg.OfflineAfter,
		WeakPushAfter:      cfg.WeakPushAfter,
		LoginTimeout:       cfg.LoginTimeout,
		TokenWarnBefore:    cfg.TokenWarnBefore,
		TokenLeeway:        cfg.TokenLeeway,
		WriteTimeout:       cfg.WriteTimeout,
		Transport:          cfg.WSTransport,
		MultiLogin:         cfg.MultiLogin,
		SendQueue:          cfg.SendQueue,
		OriginPatterns:     cfg.AllowedOrigins,
		Conns:              lim.conns,
		ClientIP:           lim.ips.ClientIP,
		Messages:           lim.messages,
		MaxSessionsPerUser: cfg.MaxSessionsPerUser,
		Presence:           presenceHooks{presence{s.webhooks}, s.bus},
		Remote:             s.remoteSessions(),
		Receipts:           s.receipts,
		WebPushKey:         s.webPushKey,
	}, log, s.reg)
	if err != nil {
		return fail(err)
	}
	if config.AllowsAnyOrigin(cfg.AllowedOrigins) {
		log.Warn("allowed-origins lets a browser page of any site open the WebSocket; list the sites instead unless this is a development server",
			"allowed_origins", cfg.AllowedOrigins)
	}
	// The public listener serves the WebSocket and the health checks; the
	// admin API and the metrics go to their own listener when admin-addr
	// is set, and share the public one otherwise.
	mux := http.NewServeMux()
	mux.Handle("GET /v1/ws", s.gw)
	mux.HandleFunc("POST /v1/push/receipts", s.serveReceipt)
	s.health(mux)
	adminMux := mux
	if cfg.AdminAddr != "" {
		adminMux = http.NewServeMux()
		s.health(adminMux)
	}
	adminMux.Handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{}))
	s.admin.Register(adminMux)
	// The web console is a client of the admin API: it goes where the
	// admin API goes, and calls it on the same origin.
	consoleHandler := console.Handler()
	adminMux.Handle("GET /console/", consoleHandler)
	adminMux.Handle("GET /console", consoleHandler)
	s.registerStoreMetrics()
	var tlsCfg *tls.Config
	if cfg.TLSCert != "" {
		if s.certs, err = newCertSource(cfg.TLSCert, cfg.TLSKey, log, s.reg); err != nil {
			return fail(err)
		}
		tlsCfg = s.certs.tlsConfig()
	}
	s.http = newHTTPServer(mux, tlsCfg, log)
	s.handleControl()
	if cfg.AdminAddr != "" {
		s.adminHTTP = newHTTPServer(adminMux, tlsCfg, log)
	}
	return s, nil
}

// newHTTPServer is one listener's server: HTTP/1.1 only (a WebSocket
// upgrade needs it, and coder/websocket has no HTTP/2 transport), TLS when
// tlsCfg is set.
func newHTTPServer(h http.Handler, tlsCfg *tls.Config, log *slog.Logger) *http.Server {
	var protos http.Protocols
	protos.SetHTTP1(true)
	// An idle keep-alive HTTP connection (health checks, scrapes, admin
	// clients) holds a file descriptor: close it after two minutes rather
	// than never.
	return &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute, TLSConfig: tlsCfg, Protocols: &protos,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
}

// health mounts /healthz and /readyz on mux.
func (s *Server) health(mux *http.ServeMux) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", s.readyz)
}

// registerStoreMetrics exposes the store's background health.
func (s *Server) registerStoreMetrics() {
	s.reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "herald_store_checkpoint_failures_total",
			Help: "Background WAL checkpoints that failed (each is retried after a growing wait).",
		}, func() float64 { return float64(s.store.CheckpointFailures()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "herald_store_write_failing",
			Help: "1 while the store's writes fail (the last one failed and none succeeded since; /readyz is 503), else 0.",
		}, func() float64 {
			if _, failing := s.store.WriteHealth(); failing {
				return 1
			}
			return 0
		}),
	)
}

// ReloadTLS loads the TLS certificate and key files again (herald serve
// calls it on SIGHUP; changed files are also picked up by polling, every
// tls-reload-interval). A pair that does not load leaves the certificate
// in use, and is returned as the error (also logged and counted in
// herald_tls_reloads_total). Without TLS it does nothing.
func (s *Server) ReloadTLS() error {
	if s.certs == nil {
		return nil
	}
	return s.certs.Reload()
}

// limits are the node's connection caps and rate limits, built from cfg.
type limits struct {
	ips      *clientip.Resolver
	conns    *limit.Conns
	messages gateway.MessageLimiter // nil: no message limit
	rest     admin.RateLimiter      // nil: no REST limit
}

// newLimits builds the limits, deriving max-connections from the
// file-descriptor limit when it is not set (and warning when it is set
// above what the descriptors allow), and registers
// herald_rate_limited_total.
func newLimits(cfg config.Config, log *slog.Logger, reg prometheus.Registerer) (limits, error) {
	var l limits
	var err error
	if l.ips, err = clientip.New(cfg.TrustedProxies); err != nil {
		return l, fmt.Errorf("server: %w", err)
	}
	fds := limit.FileLimit()
	derived := limit.FromFileLimit(fds)
	caps := limit.ConnCaps{Total: cfg.MaxConnections, PerIP: cfg.MaxConnectionsPerIP,
		Unauthenticated: cfg.MaxUnauthenticated, UnauthenticatedIP: cfg.MaxUnauthenticatedPerIP}
	switch {
	case caps.Total == 0:
		caps.Total = derived
	case caps.Total > derived && fds != 0:
		log.Warn("max-connections is above what the file-descriptor limit leaves for connections: when reached, the store, /healthz and the admin API may find no descriptor; raise the limit (ulimit -n, LimitNOFILE) or lower max-connections",
			"max_connections", caps.Total, "rlimit_nofile", fds, "derived", derived)
	}
	if caps.Unauthenticated == 0 {
		caps.Unauthenticated = max(1, caps.Total/4)
	}
	l.conns = limit.NewConns(caps)
	log.Info("connection caps", "max_connections", caps.Total, "max_connections_per_ip", caps.PerIP,
		"max_unauthenticated", caps.Unauthenticated, "max_unauthenticated_per_ip", caps.UnauthenticatedIP, "rlimit_nofile", fds)

	limited := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "herald_rate_limited_total", Help: "Requests refused by a rate limit, by scope: user and app (message sends), rest (admin API).",
	}, []string{"scope"})
	if err := reg.Register(limited); err != nil {
		return l, fmt.Errorf("server: metrics: %w", err)
	}
	keyed := func(rate float64, burst int, scope limit.Scope) *limit.Keyed {
		return limit.NewKeyed(limit.Bucket{Rate: rate, Burst: burst}, cfg.Clock.Now, limited.WithLabelValues(string(scope)))
	}
	user := keyed(cfg.UserMessageRate, cfg.UserMessageBurst, limit.ScopeUser)
	app := keyed(cfg.AppMessageRate, cfg.AppMessageBurst, limit.ScopeApp)
	if user != nil || app != nil {
		l.messages = limit.NewMessages(user, app, cfg.Clock.Now)
	}
	if rest := keyed(cfg.RESTRate, cfg.RESTBurst, limit.ScopeREST); rest != nil {
		l.rest = rest
	}
	return l, nil
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

// Sealer returns the keyring that seals the store's secrets, for another
// handle on the same database (tests, tools).
func (s *Server) Sealer() sqlstore.Sealer { return s.keys }

// DevApp returns the development app's credentials as they were at start
// (a rotation updates its file in the data directory, not this copy).
func (s *Server) DevApp() devapp.Credentials { return s.dev }

// NodeNumber returns the node number in this node's message IDs: --node-number,
// or the one leased from a shared (PostgreSQL) store.
func (s *Server) NodeNumber() int { return s.cfg.NodeNumber }

// Listen binds the listen address, and the admin one when admin-addr is
// set; Run calls it if it was not called.
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
	if s.adminHTTP != nil {
		aln, err := net.Listen("tcp", s.cfg.AdminAddr)
		if err != nil {
			_ = ln.Close()
			return fmt.Errorf("server: listen (admin): %w", err)
		}
		s.adminListener = aln
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

// AdminAddr returns the bound admin address (after Listen): Addr's when
// admin-addr is not set.
func (s *Server) AdminAddr() string {
	s.addrMu.Lock()
	ln := s.adminListener
	s.addrMu.Unlock()
	if ln == nil {
		return s.Addr()
	}
	return ln.Addr().String()
}

// serve runs srv on ln until it is shut down, with TLS when configured.
func (s *Server) serve(srv *http.Server, ln net.Listener) error {
	if srv.TLSConfig != nil {
		return srv.ServeTLS(ln, "", "") // the certificate comes from TLSConfig.GetCertificate
	}
	return srv.Serve(ln)
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
	go func() { callsDone <- s.runCalls(callCtx) }()
	pushCtx, stopPush := context.WithCancel(context.Background())
	defer stopPush()
	pushDone := make(chan error, 1)
	go func() { pushDone <- s.disp.Run(pushCtx) }()
	// Webhooks stop last of the services, so that the events of the
	// others' stops (session ends, final push outcomes) are written.
	whCtx, stopWebhooks := context.WithCancel(context.Background())
	defer stopWebhooks()
	whDone := make(chan error, 1)
	go func() { whDone <- s.webhooks.Run(whCtx) }()
	busDone := make(chan error, 1)
	go func() {
		if s.bus == nil {
			busDone <- nil
			return
		}
		busDone <- s.bus.Run(ckCtx) // heartbeats until the store closes
	}()
	probeDone := make(chan error, 1)
	go func() { probeDone <- s.store.RunWriteProbes(ckCtx, s.cfg.WriteProbeInterval) }()
	// The node number lease: lost, the node must stop making message IDs
	// before another node may take its number, so it stops.
	leaseCtx, stopLease := context.WithCancel(context.Background())
	defer stopLease()
	leaseDone := make(chan error, 1)
	leaseLost := make(chan error, 1)
	go func() {
		var err error
		if s.nodeLease != nil {
			err = s.nodeLease.Run(leaseCtx)
		}
		if err != nil {
			leaseLost <- err
		}
		leaseDone <- err
	}()
	certsDone := make(chan struct{})
	go func() {
		defer close(certsDone)
		if s.certs != nil {
			s.certs.Watch(ckCtx, s.cfg.TLSReloadInterval)
		}
	}()
	httpDone := make(chan error, 1)
	go func() { httpDone <- s.serve(s.http, s.listener) }()
	adminDone := make(chan error, 1)
	if s.adminHTTP != nil {
		go func() { adminDone <- s.serve(s.adminHTTP, s.adminListener) }()
	}
	s.ready.Store(true)
	scheme := "http"
	if s.certs != nil {
		scheme = "https"
	}
	s.log.Info("herald serving", "addr", s.Addr(), "admin_addr", s.AdminAddr(), "tls", s.certs != nil,
		"data", s.cfg.DataDir, "store", storeName(s.cfg), "node", s.cfg.NodeNumber, "node_id", s.cfg.NodeID, "durability", s.cfg.Durability, "app", s.dev.AppID,
		"console", scheme+"://"+s.AdminAddr()+console.Prefix)

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-httpDone:
		s.log.Error("http server failed", "err", serveErr)
	case serveErr = <-adminDone:
		s.log.Error("admin http server failed", "err", serveErr)
	case serveErr = <-leaseLost:
		s.log.Error("stopping: node number lease lost", "err", serveErr)
	}

	s.ready.Store(false)
	graceCtx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownGrace)
	defer cancel()
	// Both listeners stop accepting at once; the admin API's requests in
	// flight finish like the public ones.
	adminShut := make(chan error, 1)
	go func() {
		if s.adminHTTP == nil {
			adminShut <- nil
			return
		}
		adminShut <- s.adminHTTP.Shutdown(graceCtx)
	}()
	if err := s.http.Shutdown(graceCtx); err != nil {
		s.log.Warn("http shutdown", "err", err)
	}
	if err := <-adminShut; err != nil {
		s.log.Warn("admin http shutdown", "err", err)
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
	// Deliveries in flight are cancelled (sent again after the next
	// start); the events still queued in memory are written.
	stopWebhooks()
	<-whDone
	s.admin.Close()
	stopCheckpoints()
	if err := <-ckDone; err != nil {
		s.log.Warn("background checkpoints", "err", err)
	}
	if err := <-probeDone; err != nil {
		s.log.Warn("write probes", "err", err)
	}
	<-certsDone
	// After the services: the number is given back only once this node
	// makes no more IDs.
	stopLease()
	<-leaseDone
	<-busDone
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
		if s.bus != nil {
			_ = s.bus.Close() // goodbye: the other nodes drop this one's sessions at once
		}
		if s.nodeLease != nil {
			// For a node that never ran (Run released it already, and
			// releasing twice changes nothing).
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = s.store.ReleaseNode(ctx, s.nodeLease.Node, s.nodeLease.Owner())
			cancel()
		}
		s.workers.close()
		s.releaseErr = s.store.Close()
		if err := s.lock.Unlock(); err != nil {
			s.releaseErr = errors.Join(s.releaseErr, fmt.Errorf("server: unlocking data directory: %w", err))
		}
		s.addrMu.Lock()
		for _, ln := range []net.Listener{s.listener, s.adminListener} {
			if ln != nil {
				_ = ln.Close() // closed already when Run served on it
			}
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
	} else if f, failing := s.store.WriteHealth(); failing {
		// The store answers but cannot write (a full disk): sends would
		// all fail, so new sessions should go elsewhere.
		checks["store"] = "write failing: " + f.Reason()
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

// Online reports whether a user has a live session (on any node of a
// cluster).
func (s *Server) Online(appID, userID string) bool { return s.router.Online(appID, userID) }

// consoleStats joins the console overview's sources (admin.ConsoleStats).
type consoleStats struct {
	*gateway.Hub
	*im.Service
	*sqlstore.Store
}

// SetEmulatedPhones serves the emulated phones' API (local.Phones) on the
// admin API under /v1/apps/{appID}/emulator/phones/ for app appID, whose
// pushes go through the emulators (herald serve --emulate): the console
// reaches it on its own origin. Nil stops serving it.
func (s *Server) SetEmulatedPhones(appID string, h http.Handler) { s.admin.SetEmulatedPhones(appID, h) }

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

// storeName says which store the node runs on, for the log: "sqlite", or
// "postgres" (never the URL, which may hold a password).
func storeName(cfg config.Config) string {
	if cfg.StorePostgres() {
		return "postgres"
	}
	return "sqlite"
}
