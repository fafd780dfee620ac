// Package honor is a strict emulator of Honor Push's server API
// (荣耀推送服务: POST /api/v1/{appId}/sendMessage) and of the client-
// credentials token endpoint of Honor's developer IAM it uses, for tests
// and for local testing without Honor, phones or credentials.
//
// It was written from the protocol's description (docs/vendors-honor.md),
// not from Herald's Honor provider, and shares no code with it: a
// misreading in one must not pass unnoticed in the other.
//
// # Endpoints
//
// POST /auth/token (and its Keycloak alias /auth/realms/developer/
// protocol/openid-connect/token) takes a form grant_type=
// client_credentials, client_id, client_secret of an app registered with
// RegisterApp and answers {"access_token","expires_in","token_type":
// "Bearer"}, or an OAuth 2.0 error {"error","error_description"}: 400
// unsupported_grant_type or invalid_request, 401 invalid_client.
//
// POST /api/v1/{appId}/sendMessage checks, in this order, answering
// {"code","message","data"} with a numeric code:
//
//  1. Authorization "Bearer <token>" issued here (else HTTP 401, code
//     80200001), not expired (401 80200003), issued to the client of the
//     path's app (401 80200001);
//  2. the headers: Content-Type application/json, timestamp the Unix
//     time in milliseconds (400 80100001);
//  3. global faults (SetFault with token "");
//  4. the body: JSON of Honor's fields only, with their types (400
//     80100003); 1 to 1000 tokens (80300010); data or a notification
//     (80100003); a notification message's data is JSON, it has a title
//     and a body (from notification or android.notification) and an
//     android.notification.clickAction of type 1 (with intent or action),
//     2 (with an https url) or 3 (80100001); image URLs https; style 0 or
//     1, style 1 with bigTitle and bigBody; importance LOW or NORMAL; at
//     most 3 buttons; a badge with badgeClass, addNum 1..99, setNum 0..99;
//     android.ttl "<seconds>s" of at most 1,296,000 s; targetUserType 0 or
//     1 (80100001); the body without tokens at most 4096 bytes (80300008);
//  5. faults of the first token;
//  6. the tokens: when none has the form of an Honor token, 80300007;
//     else 200 with data {sendResult: any delivered, requestId,
//     failTokens: malformed or unknown or another app's, expireTokens:
//     uninstalled}. Accepted messages are recorded for each valid token.
//
// Only code 200 and the data lists are confirmed by the material found;
// the other codes are those of the Push Kit server Honor's was built from
// (UNCONFIRMED), and so are the HTTP statuses that come with them.
package honor

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log"
	"net/http"
	"sync"
	"time"

	"github.com/heraldim/herald/internal/emulator/inbox"
	"github.com/heraldim/herald/internal/emulator/pki"
	"github.com/heraldim/herald/internal/emulator/serve"
)

// Defaults of Config.
const (
	// DefaultAccessTokenLifetime is the expires_in of issued tokens:
	// 3600 s (UNCONFIRMED for Honor; the OAuth servers of its family).
	DefaultAccessTokenLifetime = time.Hour
	// DefaultMaxBodyBytes bounds the body without tokens (UNCONFIRMED).
	DefaultMaxBodyBytes = 4096
	// DefaultMaxTokens bounds the tokens of one request.
	DefaultMaxTokens = 1000
	// DefaultQuotaCode answers the daily-quota fault (UNCONFIRMED).
	DefaultQuotaCode = 80300016
)

// ErrClosed is returned by Next after Shutdown.
var ErrClosed = errors.New("honor emulator: closed")

// Config configures an Emulator.
type Config struct {
	// Hosts are extra DNS names or IP addresses for the server certificate,
	// beside localhost, 127.0.0.1 and ::1.
	Hosts []string
	// PlainHTTP serves HTTP instead of HTTPS.
	PlainHTTP bool
	// AccessTokenLifetime is the expires_in of issued tokens. Zero:
	// DefaultAccessTokenLifetime.
	AccessTokenLifetime time.Duration
	// MaxBodyBytes bounds the body without tokens. Zero: DefaultMaxBodyBytes.
	MaxBodyBytes int
	// MaxTokens bounds the tokens of one request. Zero: DefaultMaxTokens.
	MaxTokens int
	// QuotaCode is the code of the daily-quota fault. Zero: DefaultQuotaCode.
	QuotaCode int
	// Now is the emulator's clock. Zero: time.Now.
	Now func() time.Time
	// ErrorLog receives the HTTP server's errors. Zero: discarded.
	ErrorLog *log.Logger
}

// Stats counts what the emulator saw.
type Stats struct {
	TokenGrants   int // access tokens issued
	TokenRefusals int // token requests refused
	SendRequests  int // requests that reached sendMessage
	Accepted      int // sends that delivered to at least one token
}

// App is an app with Honor Push enabled: its App ID (the send path's) and
// the OAuth client of its push service.
type App struct {
	AppID        string
	ClientID     string
	ClientSecret string
}

// Emulator is a Honor Push and token endpoint emulator. Its methods are
// safe for concurrent use.
type Emulator struct {
	cfg     Config
	now     func() time.Time
	caPEM   []byte
	pool    *x509.CertPool
	tlsCert tls.Certificate

	life *serve.Server // the server's lifecycle; life.Done() ends delays and waits

	mu           sync.Mutex
	apps         map[string]App // app ID → app
	clients      map[string]App // client ID → app
	accessTokens map[string]issued
	devices      map[string]*device
	faults       inbox.Faults[Fault]  // by token, "" for every send; guarded by mu
	log          *inbox.Log[Delivery] // guarded by mu
	stats        Stats
}

type issued struct {
	clientID string
	expires  time.Time
}

// New returns an Emulator with a fresh CA and server certificate. It
// listens nowhere and starts no goroutine until Start or Run.
func New(cfg Config) (*Emulator, error) {
	if cfg.AccessTokenLifetime <= 0 {
		cfg.AccessTokenLifetime = DefaultAccessTokenLifetime
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.MaxTokens <= 0 {
		cfg.MaxTokens = DefaultMaxTokens
	}
	if cfg.QuotaCode == 0 {
		cfg.QuotaCode = DefaultQuotaCode
	}
	if cfg.ErrorLog == nil {
		cfg.ErrorLog = log.New(io.Discard, "", 0)
	}
	e := &Emulator{
		cfg:          cfg,
		now:          cfg.Now,
		life:         serve.New("honor"),
		apps:         make(map[string]App),
		clients:      make(map[string]App),
		accessTokens: make(map[string]issued),
		devices:      make(map[string]*device),
	}
	e.log = inbox.NewLog[Delivery](&e.mu, e.life.Done(), ErrClosed)
	if e.now == nil {
		e.now = time.Now
	}
	var err error
	if e.caPEM, e.pool, e.tlsCert, err = pki.New("Honor Push", cfg.Hosts); err != nil {
		return nil, err
	}
	return e, nil
}

// Handler returns the emulator's vendor routes.
func (e *Emulator) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/auth/token", e.handleToken)
	mux.HandleFunc("/auth/realms/developer/protocol/openid-connect/token", e.handleToken)
	mux.HandleFunc("/api/v1/{appId}/sendMessage", e.handleSend)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "404 page not found", http.StatusNotFound)
	})
	return mux
}

// Start listens on addr ("" for 127.0.0.1 on a free port) and serves in a
// goroutine owned by the Emulator until Shutdown.
func (e *Emulator) Start(addr string) error {
	return e.life.Start(addr, e.Handler(), e.cert(), e.cfg.ErrorLog)
}

func (e *Emulator) cert() *tls.Certificate {
	if e.cfg.PlainHTTP {
		return nil
	}
	return &e.tlsCert
}

// Run serves on addr until ctx ends, then shuts down.
func (e *Emulator) Run(ctx context.Context, addr string) error {
	return e.life.Run(ctx, addr, e.Handler(), e.cert(), e.cfg.ErrorLog)
}

// Shutdown stops the server, ends slow faults and waits, and waits for the
// serving goroutine. It is idempotent.
func (e *Emulator) Shutdown(ctx context.Context) error { return e.life.Shutdown(ctx) }

// URL is the base URL in place of https://push-api.cloud.honor.com ("" before Start).
func (e *Emulator) URL() string { return e.life.URL() }

// TokenURL is the token endpoint's URL in place of
// https://iam.developer.honor.com/auth/token ("" before Start).
func (e *Emulator) TokenURL() string {
	if u := e.URL(); u != "" {
		return u + "/auth/token"
	}
	return ""
}

// CACertPEM returns the PEM of the CA that issued the server certificate.
func (e *Emulator) CACertPEM() []byte { return append([]byte(nil), e.caPEM...) }

// CertPool returns a pool holding only the emulator's CA.
func (e *Emulator) CertPool() *x509.CertPool { return e.pool.Clone() }

// Stats returns the counters.
func (e *Emulator) Stats() Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.stats
}

// RegisterApp makes a an app with Honor Push enabled (replacing the one of
// its app ID).
func (e *Emulator) RegisterApp(a App) error {
	if a.AppID == "" || a.ClientID == "" || a.ClientSecret == "" {
		return errors.New("honor emulator: an app needs its app ID, client ID and client secret")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if old, ok := e.apps[a.AppID]; ok {
		delete(e.clients, old.ClientID)
	}
	e.apps[a.AppID] = a
	e.clients[a.ClientID] = a
	return nil
}

// ExpireAccessTokens ends every access token issued so far, as the
// passing of their lifetime would: the next send with one is answered
// 80200003.
func (e *Emulator) ExpireAccessTokens() {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.now()
	for k, is := range e.accessTokens {
		is.expires = now
		e.accessTokens[k] = is
	}
}
