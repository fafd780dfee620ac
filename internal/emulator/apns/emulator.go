// Package apns is a strict emulator of Apple Push Notification service's
// HTTP/2 provider API, for tests and for `herald emulate`: it checks what
// APNs checks, answers as APNs answers (status, apns-id, {"reason": ...}),
// injects APNs' faults on demand, and records what it delivered per device
// token so that simulated devices can show it.
//
// It serves two TLS listeners that speak HTTP/2 only (ALPN h2; an HTTP/1.1
// client is refused at the connection, as at APNs): one for the
// production host and one for the development ("sandbox") host. Two
// listeners rather than one with a Host distinction, because Apple's
// environments are two hosts and the provider is configured with two base
// URLs; a token of one environment sent to the other's listener is
// answered 400 BadDeviceToken, as at APNs. The server certificate is
// signed by a CA made at New (CAPEM, CertPool, WriteCA).
//
// The emulator knows credentials — teams with their apps (AddApp), their
// signing keys (AddKey, NewKey) and client certificates (IssueCertificate)
// — and devices, which register like a phone does and get a token
// (RegisterDevice). Each request is checked in this order, and the first
// failure answers:
//
//  1. method POST (405 MethodNotAllowed); path /3/device/{token} (404
//     BadPath; 400 MissingDeviceToken when the token is empty)
//  2. each apns-* and authorization header at most once (400
//     DuplicateHeaders)
//  3. injected slowness, then injected 500/503 faults
//  4. credential: a bearer JWT (ES256, kid known, iss = the key's team,
//     signature, iat not in the future, not older than an hour; a team's
//     new token within 20 minutes of its previous one → 429
//     TooManyProviderTokenUpdates), else a registered client certificate
//     for this environment, else 403 MissingProviderToken
//  5. headers: apns-push-type known and matching the topic's suffix,
//     apns-topic present (with token auth or a multi-topic certificate),
//     well-formed, and allowed for the credential, apns-priority 1/5/10
//     (5 only for background), apns-expiration an integer, apns-collapse-id
//     at most 64 bytes, apns-id a canonical UUID
//  6. device token hex of even length (400 BadDeviceToken)
//  7. body: not empty, at most 4096 bytes (5120 for voip; 413), a JSON
//     object with an "aps" object
//  8. the device: known in this environment (400 BadDeviceToken),
//     registered for this topic (400 DeviceTokenNotForTopic), still
//     registered (410 Unregistered with a timestamp)
//  9. injected per-device faults: 429 TooManyRequests, 410 Unregistered
//
// An accepted push whose apns-expiration has already passed is answered 200
// but recorded as dropped, never delivered: APNs accepts it and the device
// never sees it.
//
// The package shares no code with Herald's APNs provider, which it judges:
// it was written from vendors.md §1 on its own, so that one misreading of
// Apple cannot pass both.
package apns

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// Environment is an APNs environment.
type Environment string

// The environments. Device tokens are valid in one only.
const (
	Production  Environment = "production"
	Development Environment = "development" // Apple's "sandbox"
)

// Defaults, Apple's current values; all are Config fields because Apple may
// change them.
const (
	// DefaultMaxTokenAge: APNs refuses a provider token whose iat is more
	// than an hour old (403 ExpiredProviderToken).
	DefaultMaxTokenAge = time.Hour
	// DefaultTokenUpdateInterval: APNs refuses a team's new provider token
	// within 20 minutes of the previous one (429
	// TooManyProviderTokenUpdates).
	DefaultTokenUpdateInterval = 20 * time.Minute
	// DefaultMaxPayload and DefaultMaxVoIPPayload are APNs' body limits.
	DefaultMaxPayload     = 4096
	DefaultMaxVoIPPayload = 5120
	// DefaultMaxRecords bounds the request log and each device's delivery
	// list, so a long `herald emulate` session does not grow without end.
	DefaultMaxRecords = 10000
)

// Config configures an Emulator. The zero value is usable.
type Config struct {
	// ProductionAddr and DevelopmentAddr are the listen addresses. Empty:
	// "127.0.0.1:0" (a free loopback port; see URL).
	ProductionAddr  string
	DevelopmentAddr string
	// Hosts are extra DNS names or IP addresses for the server certificate
	// (it always covers 127.0.0.1, ::1, localhost and Apple's host names).
	Hosts []string
	// Now is the emulator's clock (JWT age, token updates, expiration,
	// timestamps). Nil: time.Now.
	Now func() time.Time
	// MaxTokenAge is the oldest provider token accepted. Zero:
	// DefaultMaxTokenAge.
	MaxTokenAge time.Duration
	// TokenUpdateInterval is how often a team may change its provider
	// token. Zero: DefaultTokenUpdateInterval; negative: unlimited.
	TokenUpdateInterval time.Duration
	// MaxPayload and MaxVoIPPayload are the body limits. Zero: the
	// defaults.
	MaxPayload     int
	MaxVoIPPayload int
	// AllowMissingPushType accepts a request without apns-push-type (APNs
	// does for iOS, and guesses). By default the emulator is stricter than
	// APNs and answers 400 InvalidPushType, because Apple says a missing
	// push type may delay or drop the push and Herald always sends one.
	AllowMissingPushType bool
	// MaxRecords bounds the request log and each token's delivery list.
	// Zero: DefaultMaxRecords.
	MaxRecords int
	// Logger receives the HTTP servers' own errors (TLS handshakes that
	// failed, e.g. an expired client certificate). Nil: discarded.
	Logger *slog.Logger
}

// Emulator is an emulated APNs. Create it with New, register credentials
// and devices, then Start (or Run) it; Close stops it. All methods are safe
// for concurrent use.
type Emulator struct {
	cfg    Config
	now    func() time.Time
	pki    *pki
	logger *slog.Logger

	mu         sync.Mutex
	teams      map[string]*team         // by team ID
	keys       map[string]*signingKey   // by key ID
	certs      map[[32]byte]*clientCert // by SHA-256 of the DER certificate
	devices    map[string]*device       // by lowercase token
	faults     map[string]*Fault        // by lowercase token; "" is global
	holds      map[string]*hold         // by lowercase token (HoldAnswer)
	verified   map[string]*signingKey   // provider token -> the key that verified its signature
	log        []Request
	delivered  map[string]*deliveries // by lowercase token
	changed    chan struct{}          // closed and replaced on each record
	onDelivery func(Delivery)
	hold       holdState // Hold, Release

	life     sync.Mutex
	started  bool
	closed   bool
	servers  map[Environment]*http.Server
	urls     map[Environment]string
	serveErr chan error
	wg       sync.WaitGroup
	done     chan struct{} // closed by Close: slow handlers stop waiting
}

// New makes an emulator with a fresh CA and server certificate. It listens
// on nothing and starts no goroutine until Start.
func New(cfg Config) (*Emulator, error) {
	if cfg.ProductionAddr == "" {
		cfg.ProductionAddr = "127.0.0.1:0"
	}
	if cfg.DevelopmentAddr == "" {
		cfg.DevelopmentAddr = "127.0.0.1:0"
	}
	if cfg.MaxTokenAge == 0 {
		cfg.MaxTokenAge = DefaultMaxTokenAge
	}
	if cfg.TokenUpdateInterval == 0 {
		cfg.TokenUpdateInterval = DefaultTokenUpdateInterval
	}
	if cfg.MaxPayload == 0 {
		cfg.MaxPayload = DefaultMaxPayload
	}
	if cfg.MaxVoIPPayload == 0 {
		cfg.MaxVoIPPayload = DefaultMaxVoIPPayload
	}
	if cfg.MaxRecords == 0 {
		cfg.MaxRecords = DefaultMaxRecords
	}
	if cfg.MaxTokenAge < 0 || cfg.MaxPayload < 0 || cfg.MaxVoIPPayload < 0 || cfg.MaxRecords < 0 {
		return nil, errors.New("apns emulator: negative limit in config")
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	p, err := newPKI(cfg.Hosts)
	if err != nil {
		return nil, fmt.Errorf("apns emulator: making certificates: %w", err)
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Emulator{
		logger:    logger,
		cfg:       cfg,
		now:       now,
		pki:       p,
		teams:     map[string]*team{},
		keys:      map[string]*signingKey{},
		certs:     map[[32]byte]*clientCert{},
		devices:   map[string]*device{},
		faults:    map[string]*Fault{},
		holds:     map[string]*hold{},
		verified:  map[string]*signingKey{},
		delivered: map[string]*deliveries{},
		changed:   make(chan struct{}),
		servers:   map[Environment]*http.Server{},
		urls:      map[Environment]string{},
		done:      make(chan struct{}),
	}, nil
}

// Start listens on both addresses and serves in the background until
// Close. It fails if either address cannot be bound.
func (e *Emulator) Start() error {
	e.life.Lock()
	defer e.life.Unlock()
	if e.closed {
		return errors.New("apns emulator: closed")
	}
	if e.started {
		return errors.New("apns emulator: already started")
	}
	lns := map[Environment]net.Listener{}
	for env, addr := range map[Environment]string{Production: e.cfg.ProductionAddr, Development: e.cfg.DevelopmentAddr} {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			return fmt.Errorf("apns emulator: listen %s on %s: %w", env, addr, err)
		}
		lns[env] = ln
	}
	e.serveErr = make(chan error, len(lns))
	for env, ln := range lns {
		srv := e.newServer(env)
		e.servers[env] = srv
		e.urls[env] = "https://" + ln.Addr().String()
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			// The certificate is in TLSConfig; ServeTLS sets up HTTP/2.
			if err := srv.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
				e.serveErr <- fmt.Errorf("apns emulator: serve %s: %w", env, err)
			}
		}()
	}
	e.started = true
	return nil
}

func (e *Emulator) newServer(env Environment) *http.Server {
	var protos http.Protocols
	protos.SetHTTP2(true) // APNs speaks HTTP/2 only
	return &http.Server{
		Handler:   http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { e.handle(env, w, r) }),
		Protocols: &protos,
		TLSConfig: &tls.Config{
			Certificates: []tls.Certificate{e.pki.server},
			MinVersion:   tls.VersionTLS12,
			// Certificate auth: verify a client certificate against the
			// emulator's CA when one is offered; token-auth clients offer
			// none.
			ClientAuth: tls.VerifyClientCertIfGiven,
			ClientCAs:  e.CertPool(),
			// Certificates are checked against the real clock, not the
			// emulator's: they are issued with real times, and a test that
			// moves the emulator's clock to age JWTs must not break TLS.
		},
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(e.logger.Handler(), slog.LevelWarn),
	}
}

// URL returns the base URL (https://host:port) of an environment's
// listener; empty before Start.
func (e *Emulator) URL(env Environment) string {
	e.life.Lock()
	defer e.life.Unlock()
	return e.urls[env]
}

// Run starts the emulator and serves until ctx is done or a listener fails,
// then closes it.
func (e *Emulator) Run(ctx context.Context) error {
	if err := e.Start(); err != nil {
		return err
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-e.serveErr:
	}
	if cerr := e.Close(); err == nil {
		err = cerr
	}
	return err
}

// Close is Shutdown giving the requests in flight five seconds.
func (e *Emulator) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return e.Shutdown(ctx)
}

// Shutdown stops both listeners, ends connections (in-flight slow
// requests are cut short; those left when ctx ends are closed) and waits
// for the serving goroutines. It is idempotent.
func (e *Emulator) Shutdown(ctx context.Context) error {
	e.life.Lock()
	if e.closed {
		e.life.Unlock()
		return nil
	}
	e.closed = true
	close(e.done)
	servers := e.servers
	e.life.Unlock()

	var errs []error
	for _, srv := range servers {
		if err := srv.Shutdown(ctx); err != nil {
			// Connections that would not drain in time are cut.
			srv.Close()
			if ctx.Err() == nil || !errors.Is(err, ctx.Err()) {
				errs = append(errs, err)
			}
		}
	}
	e.wg.Wait()
	return errors.Join(errs...)
}
