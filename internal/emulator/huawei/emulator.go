// Package huawei is a strict emulator of Huawei HMS Push Kit's server REST
// API v1 (messages:send) and of the OAuth 2.0 client-credentials token
// endpoint it uses, for tests and for local testing without Huawei,
// phones or credentials.
//
// It was written from the protocol's description (vendors.md §3 and
// Huawei's pages), not from Herald's Huawei provider, and shares no code
// with it: a misreading in one must not pass unnoticed in the other.
//
// # Endpoints
//
// POST /oauth2/v3/token takes a form grant_type=client_credentials,
// client_id, client_secret of an app registered with RegisterApp and
// answers {"access_token","expires_in","token_type":"Bearer"}, or
// {"error","sub_error","error_description"} with HTTP 400 (the status and
// the sub_error numbers are UNCONFIRMED).
//
// POST /v1/{appId}/messages:send checks, in this order, answering
// {"code","msg","requestId"} with a string code:
//
//  1. Authorization "Bearer <token>" issued here (else HTTP 401 80200001),
//     not expired (401 80200003), issued to the app of the path (401
//     80200001);
//  2. global faults (SetFault with token "");
//  3. the body: JSON of known fields with Huawei's types (80100003);
//     exactly one of token, topic, condition (80100001); at most 1000
//     tokens (80300010); android.ttl matching ^\d+(\.\d{1,9})?[sS]?$ and
//     at most 1,296,000 s (80100001); collapse_key in -1..100 (80100013);
//     urgency HIGH or NORMAL, category among Huawei's values, importance
//     LOW, NORMAL or HIGH (80100001); a badge has a class (the app's
//     launcher Activity), add_num 1..99 and set_num 0..99 (80100001);
//     a notification message has a title
//     and body and a click_action of type 1 (with intent or action), 2
//     (with an https url) or 3 (80100001); the body without tokens at most
//     4096 bytes (80300008);
//     without the app's self-classification entitlement (SetSelfClassified)
//     any android.category or urgency HIGH (80300011); PLAY_VOICE on a
//     notification message (80100001);
//  4. faults of the first target token;
//  5. the tokens: all unknown or uninstalled → 80300007; some → 80100000
//     with msg a JSON string {"success","failure","illegal_tokens"}; else
//  80000000. Accepted messages are recorded for each valid token.
//
// Which HTTP status comes with which business code is UNCONFIRMED; the
// emulator answers 200 for 80000000 and 80100000, 401 for the auth codes,
// 400 for the other client errors, 500 for 81000001 and 503 for flow
// control.
package huawei

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
	// DefaultAccessTokenLifetime is Huawei's expires_in: 3600 s.
	DefaultAccessTokenLifetime = time.Hour
	// DefaultMaxBodyBytes is Huawei's limit on the body without tokens.
	DefaultMaxBodyBytes = 4096
	// DefaultMaxTokens is Huawei's limit on tokens per request.
	DefaultMaxTokens = 1000
	// DefaultQuotaCode answers the daily-quota fault. UNCONFIRMED: Huawei's
	// v1 pages give no quota code.
	DefaultQuotaCode = "80300016"
)

// ErrClosed is returned by Next after Shutdown.
var ErrClosed = errors.New("huawei emulator: closed")

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
	// QuotaCode is the business code of the daily-quota fault. Zero:
	// DefaultQuotaCode.
	QuotaCode string
	// Now is the emulator's clock. Zero: time.Now.
	Now func() time.Time
	// ErrorLog receives the HTTP server's errors. Zero: discarded.
	ErrorLog *log.Logger
}

// Stats counts what the emulator saw.
type Stats struct {
	TokenGrants   int // access tokens issued
	TokenRefusals int // token requests refused
	SendRequests  int // requests that reached messages:send
	Accepted      int // sends answered 80000000 or 80100000
}

// Emulator is a Push Kit and token endpoint emulator. Its methods are safe
// for concurrent use.
type Emulator struct {
	cfg     Config
	now     func() time.Time
	caPEM   []byte
	pool    *x509.CertPool
	tlsCert tls.Certificate

	mu   sync.Mutex
	life *serve.Server // the server's lifecycle; life.Done() ends delays and waits

	apps map[string]string // app ID → secret
	// classified holds the apps with the self-classification entitlement
	// (SetSelfClassified).
	classified   map[string]bool
	accessTokens map[string]issued
	devices      map[string]*device
	faults       inbox.Faults[Fault]  // by token, "" for every send; guarded by mu
	log          *inbox.Log[Delivery] // guarded by mu
	stats        Stats
}

type issued struct {
	appID   string
	expires time.Time
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
	if cfg.QuotaCode == "" {
		cfg.QuotaCode = DefaultQuotaCode
	}
	if cfg.ErrorLog == nil {
		cfg.ErrorLog = log.New(io.Discard, "", 0)
	}
	e := &Emulator{
		cfg:          cfg,
		now:          cfg.Now,
		life:         serve.New("huawei"),
		apps:         make(map[string]string),
		classified:   make(map[string]bool),
		accessTokens: make(map[string]issued),
		devices:      make(map[string]*device),
	}
	e.log = inbox.NewLog[Delivery](&e.mu, e.life.Done(), ErrClosed)
	if e.now == nil {
		e.now = time.Now
	}
	var err error
	if e.caPEM, e.pool, e.tlsCert, err = pki.New("Huawei Push Kit", cfg.Hosts); err != nil {
		return nil, err
	}
	return e, nil
}

// Handler returns the emulator's vendor routes.
func (e *Emulator) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/oauth2/v3/token", e.handleToken)
	mux.HandleFunc("/v1/{appId}/messages:send", e.handleSend)
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

// cert is the server certificate, nil when the emulator serves plain HTTP.
func (e *Emulator) cert() *tls.Certificate {
	if e.cfg.PlainHTTP {
		return nil
	}
	return &e.tlsCert
}

// Run serves on addr until ctx ends, then shuts down (giving requests in
// flight five seconds).
func (e *Emulator) Run(ctx context.Context, addr string) error {
	return e.life.Run(ctx, addr, e.Handler(), e.cert(), e.cfg.ErrorLog)
}

// Shutdown stops the server, ends slow faults and waits, and waits for the
// serving goroutine; it closes the connections left when ctx ends first.
// It is idempotent.
func (e *Emulator) Shutdown(ctx context.Context) error { return e.life.Shutdown(ctx) }

// URL is the base URL in place of https://push-api.cloud.huawei.com ("" before Start).
func (e *Emulator) URL() string { return e.life.URL() }

// TokenURL is the token endpoint's URL in place of
// https://oauth-login.cloud.huawei.com/oauth2/v3/token ("" before Start).
func (e *Emulator) TokenURL() string {
	if u := e.URL(); u != "" {
		return u + "/oauth2/v3/token"
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

// RegisterApp makes appID a known app with its secret (replacing one).
func (e *Emulator) RegisterApp(appID, secret string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.apps[appID] = secret
}

// SetSelfClassified grants (or withdraws) appID Huawei's
// self-classification entitlement. Without it, as at Huawei, a message
// that names an android.category or asks for urgency HIGH (the VOIP and
// PLAY_VOICE high-priority data messages) is refused with 80300011; with
// it, category VOIP or PLAY_VOICE is accepted on data messages only and
// PLAY_VOICE never on a notification (80100001).
func (e *Emulator) SetSelfClassified(appID string, on bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if on {
		e.classified[appID] = true
	} else {
		delete(e.classified, appID)
	}
}
