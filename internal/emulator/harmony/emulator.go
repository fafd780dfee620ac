// Package harmony is a strict emulator of HarmonyOS NEXT Push Kit's
// scenario-specific message API (REST v3, messages:send) and of the
// service-account JWT it authenticates with, for tests and for local
// testing without Huawei, phones or credentials.
//
// It was written from Huawei's documentation (docs/vendors-harmony.md
// lists the pages), not from Herald's harmony provider, and shares no code
// with it: the JWT is verified here with crypto/rsa directly, the body is
// read into types of this package.
//
// # Service accounts
//
// NewServiceAccount plays the API Console's "create a service account
// key": it makes an RSA key pair, keeps the public key and returns the key
// file Huawei lets one download ({"project_id","key_id","private_key",
// "sub_account","token_uri",...}). Only JWTs signed with a registered
// key's private key are accepted.
//
// # POST /v3/{projectId}/messages:send
//
// POST /v1/{clientId}/messages:revoke, the message revoke, is described in
// revoke.go.
//
// Checks, in this order, answering {"code","msg","requestId"} with a
// string code:
//
//  1. Authorization "Bearer <JWT>" (HTTP 401 80200001 unless said): a
//     compact JWS of three base64url parts; header {"kid","typ":"JWT",
//     "alg":"PS256"} with the kid of a registered key of this project;
//     an RSASSA-PSS SHA-256 signature (salt length 32) valid under that
//     key; claims iss = the key's sub_account, aud =
//     https://oauth-login.cloud.huawei.com/oauth2/v3/token, iat and exp
//     numbers, iat not in the future (a minute of skew), exp - iat at
//     most Config.MaxJWTLifetime (an hour: Huawei's advice); exp past →
//     80200005 "Jwt token expired".
//  2. The push-type header: 0 (alert), 6 (background) or 10 (in-app call)
//     (80100001; 1, 2 and 7 are Huawei's too, but the emulator does not
//     model widgets, text-to-speech or live views and refuses them).
//  3. Global faults (SetFault with token "").
//  4. The body: JSON of known fields with Huawei's types (80100003); a
//     payload of the push-type's shape: notification for 0, extraData
//     for 6 and 10, nothing else (80100003); notification.category one
//     of Huawei's, title and body not empty, clickAction.actionType 0, or
//     1 with action or uri, badge addNum 1..99, setNum 0..99, style 0 or
//     3 (80100003); target.token 1..1000 tokens (80300010), at most 10
//     with pushOptions.testMessage (80100001); pushOptions.ttl 1..1296000
//     (80100001), collapseKey -1..100 (80100001); the body less its target.token
//     array at most 4096 bytes (80300008).
//  5. Faults of the first token.
//  6. The tokens, each: a token of an uninstalled or unknown app
//     instance; a malformed one (reason tokenFormatError); one of another
//     project (noRight); a push-type 10 message without the project's
//     in-app call entitlement (noPushTypeRight, SetCallRight). None
//     valid → 80300007, some → 80100000; msg is then a JSON string
//     {"success","failure","illegalTokens":{reason:[tokens]}} when a
//     reason applies, "All the tokens are invalid" when the tokens are
//     merely unknown. Else 80000000, and the message is recorded for each
//     valid token.
//
// Without the project's self-classification entitlement
// (SetSelfClassified) a notification is accepted whatever its category
// but recorded as MARKETING, as Huawei does ("若您未申请通知消息自分类权益,
// 则推送的通知消息默认为资讯营销类").
//
// HTTP statuses: 200 for 80000000 and 80100000, 401 for the auth codes,
// 400 for the other client errors, 500 for 81000001 and 503 for flow
// control (Huawei's response page lists these statuses; which code comes
// with which status is UNCONFIRMED).
package harmony

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
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
	// DefaultMaxJWTLifetime bounds exp - iat: Huawei advises a JWT valid
	// for 3600 s and reused meanwhile.
	DefaultMaxJWTLifetime = time.Hour
	// DefaultMaxBodyBytes is Huawei's limit on the body without the push
	// tokens (80300008).
	DefaultMaxBodyBytes = 4096
	// DefaultMaxTokens is Huawei's limit on target.token.
	DefaultMaxTokens = 1000
	// Audience is the aud claim Huawei's JWT guide requires: the service
	// account file's token_uri.
	Audience = "https://oauth-login.cloud.huawei.com/oauth2/v3/token"
	// keyBits is the size of the RSA keys made for service accounts.
	// Huawei's files hold 4096-bit keys; 2048 keeps tests fast and
	// exercises the same algorithm.
	keyBits = 2048
)

// ErrClosed is returned by Next after Shutdown.
var ErrClosed = errors.New("harmony emulator: closed")

// Config configures an Emulator.
type Config struct {
	// Hosts are extra DNS names or IP addresses for the server certificate,
	// beside localhost, 127.0.0.1 and ::1.
	Hosts []string
	// PlainHTTP serves HTTP instead of HTTPS.
	PlainHTTP bool
	// MaxJWTLifetime bounds exp - iat. Zero: DefaultMaxJWTLifetime.
	MaxJWTLifetime time.Duration
	// MaxBodyBytes bounds the body without the tokens. Zero:
	// DefaultMaxBodyBytes.
	MaxBodyBytes int
	// MaxTokens bounds the tokens of one request. Zero: DefaultMaxTokens.
	MaxTokens int
	// Now is the emulator's clock. Zero: time.Now.
	Now func() time.Time
	// ErrorLog receives the HTTP server's errors. Zero: discarded.
	ErrorLog *log.Logger
}

// Stats counts what the emulator saw.
type Stats struct {
	SendRequests int // requests that reached messages:send
	AuthRefusals int // requests refused for their JWT
	Accepted     int // sends answered 80000000 or 80100000
	// RevokeRequests counts requests that reached messages:revoke,
	// Revoked those accepted for a token at least (revoke.go).
	RevokeRequests int
	Revoked        int
}

// Emulator is a Push Kit v3 emulator. Its methods are safe for concurrent
// use.
type Emulator struct {
	cfg     Config
	now     func() time.Time
	caPEM   []byte
	pool    *x509.CertPool
	tlsCert tls.Certificate
	life    *serve.Server

	mu         sync.Mutex
	keys       map[string]*accountKey // key_id → key
	classified map[string]bool        // projects with self-classification
	callRight  map[string]bool        // projects with the in-app call entitlement
	devices    map[string]*device
	faults     inbox.Faults[Fault]     // by token, "" for every send; guarded by mu
	log        *inbox.Log[Delivery]    // guarded by mu
	clients    map[string]string       // client ID → project (revoke.go)
	revokes    map[string][]revocation // token → accepted revokes
	stats      Stats
}

// accountKey is a registered service account key.
type accountKey struct {
	projectID  string
	subAccount string
	public     *rsa.PublicKey
}

// New returns an Emulator with a fresh CA and server certificate. It
// listens nowhere and starts no goroutine until Start or Run.
func New(cfg Config) (*Emulator, error) {
	if cfg.MaxJWTLifetime <= 0 {
		cfg.MaxJWTLifetime = DefaultMaxJWTLifetime
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.MaxTokens <= 0 {
		cfg.MaxTokens = DefaultMaxTokens
	}
	if cfg.ErrorLog == nil {
		cfg.ErrorLog = log.New(io.Discard, "", 0)
	}
	e := &Emulator{
		cfg:        cfg,
		now:        cfg.Now,
		life:       serve.New("harmony"),
		keys:       make(map[string]*accountKey),
		classified: make(map[string]bool),
		callRight:  make(map[string]bool),
		devices:    make(map[string]*device),
		clients:    make(map[string]string),
		revokes:    make(map[string][]revocation),
	}
	e.log = inbox.NewLog[Delivery](&e.mu, e.life.Done(), ErrClosed)
	if e.now == nil {
		e.now = time.Now
	}
	var err error
	if e.caPEM, e.pool, e.tlsCert, err = pki.New("HarmonyOS Push Kit", cfg.Hosts); err != nil {
		return nil, err
	}
	return e, nil
}

// Handler returns the emulator's vendor routes.
func (e *Emulator) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/v3/{projectId}/messages:send", e.handleSend)
	mux.HandleFunc("/v1/{clientId}/messages:revoke", e.handleRevoke)
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

// Shutdown stops the server and ends slow faults and waits. It is
// idempotent.
func (e *Emulator) Shutdown(ctx context.Context) error { return e.life.Shutdown(ctx) }

// URL is the base URL in place of https://push-api.cloud.huawei.com ("" before Start).
func (e *Emulator) URL() string { return e.life.URL() }

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

// ServiceAccountFile is the key file the API Console hands out, with the
// fields Huawei's guide shows.
type ServiceAccountFile struct {
	ProjectID           string `json:"project_id"`
	KeyID               string `json:"key_id"`
	PrivateKey          string `json:"private_key"`
	SubAccount          string `json:"sub_account"`
	AuthURI             string `json:"auth_uri"`
	TokenURI            string `json:"token_uri"`
	AuthProviderCertURI string `json:"auth_provider_cert_uri"`
	ClientCertURI       string `json:"client_cert_uri"`
}

// NewServiceAccount registers a new service account key of projectID and
// returns its key file (JSON), private key included.
func (e *Emulator) NewServiceAccount(projectID string) ([]byte, error) {
	if projectID == "" {
		return nil, errors.New("harmony emulator: empty project ID")
	}
	key, err := rsa.GenerateKey(rand.Reader, keyBits)
	if err != nil {
		return nil, fmt.Errorf("harmony emulator: key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("harmony emulator: key: %w", err)
	}
	kid := randomHex(16)
	sub := fmt.Sprintf("1%08d", randomNumber(1e8))
	e.mu.Lock()
	e.keys[kid] = &accountKey{projectID: projectID, subAccount: sub, public: &key.PublicKey}
	e.mu.Unlock()
	return json.MarshalIndent(ServiceAccountFile{
		ProjectID:           projectID,
		KeyID:               kid,
		PrivateKey:          string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		SubAccount:          sub,
		AuthURI:             "https://oauth-login.cloud.huawei.com/oauth2/v3/authorize",
		TokenURI:            Audience,
		AuthProviderCertURI: "https://oauth-login.cloud.huawei.com/oauth2/v3/certs",
		ClientCertURI:       "https://oauth-login.cloud.huawei.com/oauth2/v3/x509?client_id=" + sub,
	}, "", "  ")
}

// RevokeServiceAccount deletes a key: JWTs it signed are refused from now
// on (80200001).
func (e *Emulator) RevokeServiceAccount(keyID string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.keys, keyID)
}

// SetSelfClassified grants (or withdraws) projectID the notification
// self-classification entitlement; without it every notification is
// recorded as MARKETING.
func (e *Emulator) SetSelfClassified(projectID string, on bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	setFlag(e.classified, projectID, on)
}

// SetCallRight grants (or withdraws) projectID the in-app call message
// entitlement (push-type 10); without it such messages are refused with
// the reason noPushTypeRight.
func (e *Emulator) SetCallRight(projectID string, on bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	setFlag(e.callRight, projectID, on)
}

func setFlag(m map[string]bool, k string, on bool) {
	if on {
		m[k] = true
	} else {
		delete(m, k)
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func randomNumber(n int64) int64 {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	var v int64
	for _, x := range b {
		v = v<<8 | int64(x)
	}
	if v < 0 {
		v = -v
	}
	return v % n
}
