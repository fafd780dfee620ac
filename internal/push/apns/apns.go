// Package apns sends pushes through Apple Push Notification service (APNs)
// with its HTTP/2 provider API: POST {base}/3/device/{token} over TLS with
// ALPN h2, one JSON payload per request, authenticated either by an ES256
// provider token (a JWT signed with the team's .p8 key) or by a TLS client
// certificate.
//
// A Provider holds one credential and one HTTP/2 connection pool per APNs
// environment (production and development hosts), because Apple wants
// long-lived connections (rapid reconnects look like a denial of service)
// and one team's tokens per connection. It makes exactly one attempt per
// Send and translates APNs' answer into a push.Result (see classify for the
// table); retries, backoff and device removal are the dispatcher's.
//
// The protocol facts come from Apple's "Sending notification requests to
// APNs", "Handling notification responses from APNs" and "Establishing a
// token-based connection to APNs"; see vendors.md §1 in the project's
// shared notes. The package shares no code with the APNs emulator
// (internal/emulator/apns) that its tests run against, so that one
// misreading of Apple's documentation cannot pass both.
package apns

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/heraldim/herald/internal/push"
)

// The APNs hosts. The development host is Apple's "sandbox"; device tokens
// of one environment are refused by the other (400 BadDeviceToken).
const (
	DefaultProductionURL  = "https://api.push.apple.com"
	DefaultDevelopmentURL = "https://api.sandbox.push.apple.com"
)

// Token refresh bounds. Apple: refresh the provider token "no more than once
// every 20 minutes and no less than once every 60 minutes"; a token whose iat
// is more than an hour old is refused (403 ExpiredProviderToken), and new
// tokens more often than every 20 minutes are refused (429
// TooManyProviderTokenUpdates).
const (
	// MinTokenRefresh is the shortest age at which a token is replaced.
	MinTokenRefresh = 20 * time.Minute
	// MaxTokenAge is the age at which APNs refuses a token; the refresh
	// age must stay below it.
	MaxTokenAge = 60 * time.Minute
	// DefaultTokenRefresh is the default refresh age: 50 minutes leaves 10
	// minutes of clock skew before APNs would call the token expired, and
	// is what sideshow/apns2 uses.
	DefaultTokenRefresh = 50 * time.Minute
)

// Other defaults.
const (
	// DefaultRequestTimeout bounds one Send: APNs answers in well under a
	// second; 15 s covers a new TLS+HTTP/2 handshake on a slow network.
	DefaultRequestTimeout = 15 * time.Second
	// DefaultMaxPayload is APNs' payload limit for every push type but VoIP.
	DefaultMaxPayload = 4096
	// DefaultMaxVoIPPayload is APNs' payload limit for VoIP pushes.
	DefaultMaxVoIPPayload = 5120
	// PayloadKey is the top-level key of the APNs payload under which
	// Notification.Payload is handed to the app. Notification.Extra keys
	// are top-level keys beside it and "aps".
	PayloadKey = "payload"
	// PushIDKey is the top-level key of Notification.ID (the push job's
	// ID, push.ReceiptExtraKey), for the app to report receipts and drop
	// duplicates: apns-id never reaches the app.
	PushIDKey = push.ReceiptExtraKey
)

// Config configures a Provider. Exactly one credential is given: token
// authentication (KeyPEM, KeyID, TeamID) or certificate authentication
// (CertPEM, CertKeyPEM).
type Config struct {
	// ProductionURL and DevelopmentURL are the APNs base URLs (scheme and
	// host, no path). Empty: Apple's hosts. Tests and `herald emulate` set
	// them to the emulator's.
	ProductionURL  string
	DevelopmentURL string

	// KeyPEM is the .p8 file: a PKCS#8 PEM-encoded EC P-256 private key.
	KeyPEM []byte
	// KeyID is the key's 10-character identifier (JWT header "kid").
	KeyID string
	// TeamID is the developer team's 10-character identifier (JWT claim
	// "iss").
	TeamID string

	// CertPEM and CertKeyPEM are the TLS client certificate and its key,
	// PEM-encoded (convert a .p12 with openssl first).
	CertPEM    []byte
	CertKeyPEM []byte

	// RootCAs verifies APNs' server certificate. Nil: the system roots
	// (what Apple's hosts need); the emulator's CA for tests.
	RootCAs *x509.CertPool

	// Now is the clock (JWT iat and age, certificate validity, notification
	// expiry). Nil: time.Now.
	Now func() time.Time

	// Tokens shares provider tokens with the other Providers given the same
	// cache, and with the other processes on the cache's TokenStore (see
	// TokenCache). Nil: this Provider keeps its own token in memory, which
	// is right when nothing else pushes with the same team.
	Tokens *TokenCache

	// TokenRefresh is the provider token's age at which a new one is made.
	// Zero: DefaultTokenRefresh. It must be in [MinTokenRefresh,
	// MaxTokenAge).
	TokenRefresh time.Duration

	// RequestTimeout bounds one Send or Check. Zero: DefaultRequestTimeout.
	RequestTimeout time.Duration

	// MaxPayload and MaxVoIPPayload are the payload limits in bytes,
	// checked before sending. Zero: DefaultMaxPayload and
	// DefaultMaxVoIPPayload (Apple may raise them; keep them in config).
	MaxPayload     int
	MaxVoIPPayload int

	// CheckTopic is the bundle ID Check sends as apns-topic, so that it also
	// proves the credential may push to that app. Empty: no topic is sent
	// and Check proves the credential only.
	CheckTopic string
	// CheckEnvironments are the environments Check proves the credential
	// against. Empty: both (a certificate may be valid for one only; then
	// list that one).
	CheckEnvironments []push.Environment
}

// Provider sends pushes to APNs with one credential. It is safe for
// concurrent use. Close releases its idle connections.
type Provider struct {
	base    map[push.Environment]string
	clients map[push.Environment]*http.Client
	tokens  *tokenSource // nil with certificate authentication
	// auth is the Authorization value of the token last sent.
	auth    atomic.Pointer[authValue]
	now     func() time.Time
	timeout time.Duration

	maxPayload     int
	maxVoIPPayload int

	checkTopic string
	checkEnvs  []push.Environment
}

var (
	_ push.Provider = (*Provider)(nil)
	_ push.Checker  = (*Provider)(nil)
)

// New validates cfg and returns a Provider. Credential problems (a key that
// does not parse or is not P-256, a certificate that has expired, a
// missing key ID or team ID, no credential or two) are errors wrapping
// push.ErrCredential; their messages never contain key material. New makes
// no connection and starts no goroutine.
func New(cfg Config) (*Provider, error) {
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	p := &Provider{
		base:           map[push.Environment]string{},
		clients:        map[push.Environment]*http.Client{},
		now:            now,
		timeout:        orDuration(cfg.RequestTimeout, DefaultRequestTimeout),
		maxPayload:     orInt(cfg.MaxPayload, DefaultMaxPayload),
		maxVoIPPayload: orInt(cfg.MaxVoIPPayload, DefaultMaxVoIPPayload),
		checkTopic:     cfg.CheckTopic,
		checkEnvs:      cfg.CheckEnvironments,
	}
	if p.timeout < 0 || p.maxPayload < 0 || p.maxVoIPPayload < 0 {
		return nil, errors.New("apns: negative request timeout or payload limit")
	}
	if len(p.checkEnvs) == 0 {
		p.checkEnvs = []push.Environment{push.Production, push.Development}
	}
	for _, env := range p.checkEnvs {
		if env != push.Production && env != push.Development {
			return nil, fmt.Errorf("apns: unknown check environment %q", env)
		}
	}

	for env, raw := range map[push.Environment]string{
		push.Production:  orString(cfg.ProductionURL, DefaultProductionURL),
		push.Development: orString(cfg.DevelopmentURL, DefaultDevelopmentURL),
	} {
		u, err := url.Parse(raw)
		if err != nil || u.Scheme != "https" || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			// APNs is HTTP/2 over TLS only: an http:// URL cannot work.
			return nil, fmt.Errorf("apns: %s URL %q: want https://host[:port]", env, raw)
		}
		p.base[env] = "https://" + u.Host
	}

	tokenAuth := len(cfg.KeyPEM) > 0 || cfg.KeyID != "" || cfg.TeamID != ""
	certAuth := len(cfg.CertPEM) > 0 || len(cfg.CertKeyPEM) > 0
	var clientCerts []tls.Certificate
	switch {
	case tokenAuth && certAuth:
		return nil, fmt.Errorf("apns: %w: both a signing key and a client certificate are configured; give one", push.ErrCredential)
	case tokenAuth:
		refresh := orDuration(cfg.TokenRefresh, DefaultTokenRefresh)
		if refresh < MinTokenRefresh || refresh >= MaxTokenAge {
			return nil, fmt.Errorf("apns: token refresh %s out of range [%s, %s)", refresh, MinTokenRefresh, MaxTokenAge)
		}
		ts, err := newTokenSource(cfg.KeyPEM, cfg.KeyID, cfg.TeamID, refresh, now)
		if err != nil {
			return nil, err
		}
		if cfg.Tokens != nil {
			ts = cfg.Tokens.source(ts)
		}
		p.tokens = ts
	case certAuth:
		cert, err := loadCertificate(cfg.CertPEM, cfg.CertKeyPEM, now())
		if err != nil {
			return nil, err
		}
		clientCerts = []tls.Certificate{cert}
	default:
		return nil, fmt.Errorf("apns: %w: no credential: configure a signing key (KeyPEM, KeyID, TeamID) or a client certificate (CertPEM, CertKeyPEM)", push.ErrCredential)
	}

	// One client, hence one connection pool, per environment: the two hosts
	// are different servers anyway, and keeping them apart means a GOAWAY
	// or a stuck connection on one never stalls the other.
	for _, env := range []push.Environment{push.Production, push.Development} {
		p.clients[env] = newClient(cfg.RootCAs, clientCerts)
	}
	return p, nil
}

// newClient returns an HTTP/2-only client. HTTP/1.1 is disabled because
// APNs refuses it; a server that does not negotiate h2 fails the request
// instead of being spoken to in the wrong protocol.
func newClient(roots *x509.CertPool, certs []tls.Certificate) *http.Client {
	var protos http.Protocols
	protos.SetHTTP2(true)
	tr := &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{
			Timeout:   10 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		TLSClientConfig: &tls.Config{
			RootCAs:      roots,
			Certificates: certs,
			MinVersion:   tls.VersionTLS12, // Apple: TLS 1.2 or later
		},
		TLSHandshakeTimeout: 10 * time.Second,
		Protocols:           &protos,
		HTTP2: &http.HTTP2Config{
			// A ping after a minute of silence finds a connection that
			// died without a FIN before a push waits on it for the whole
			// request timeout.
			SendPingTimeout: time.Minute,
			PingTimeout:     15 * time.Second,
		},
	}
	// No Client.Timeout: Send bounds each request with its context.
	return &http.Client{
		Transport: tr,
		// APNs never redirects; following one would send the bearer token
		// to a host we did not choose.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Close closes the provider's idle connections. In-flight requests finish;
// a later Send opens new connections.
func (p *Provider) Close() {
	for _, c := range p.clients {
		c.CloseIdleConnections()
	}
}

// Send makes one attempt to deliver n. It refuses without sending a
// notification that is invalid for APNs (push.ErrInvalidNotification), has
// expired (push.ErrExpired) or whose payload exceeds the limit
// (push.ErrPayloadTooLarge). Any answer from APNs is a Result; an error
// means no answer came (network, timeout, cancelled context).
func (p *Provider) Send(ctx context.Context, n push.Notification) (push.Result, error) {
	now := p.now()
	req, err := buildRequest(n, now, p.maxPayload, p.maxVoIPPayload)
	if err != nil {
		return push.Result{}, err
	}
	res, _, err := p.do(ctx, n.Environment, req)
	return res, err
}

// do sends one request and classifies the answer. It returns the answer's
// reason as well, for Check.
func (p *Provider) do(ctx context.Context, env push.Environment, r *request) (push.Result, string, error) {
	client := p.clients[env]
	if client == nil {
		return push.Result{}, "", fmt.Errorf("apns: %w: unknown environment %q", push.ErrInvalidNotification, env)
	}
	if p.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, p.timeout)
		defer cancel()
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, p.base[env]+"/3/device/"+r.token, bytes.NewReader(r.body))
	if err != nil {
		return push.Result{}, "", fmt.Errorf("apns: send: %w", err)
	}
	// r is this call's own (buildRequest's or Check's): its header map
	// becomes the request's rather than being copied.
	hreq.Header = r.header
	var jwt string
	if p.tokens != nil {
		jwt, err = p.tokens.token(ctx)
		if err != nil {
			return push.Result{}, "", err
		}
		hreq.Header["Authorization"] = p.authorization(jwt)
	}

	resp, err := client.Do(hreq)
	if err != nil {
		return push.Result{}, "", fmt.Errorf("apns: send: %w", err)
	}
	defer resp.Body.Close()
	// APNs' bodies are a small JSON object or empty; anything longer is not
	// APNs talking.
	// An accepted push's answer is empty (Content-Length 0): nothing to
	// read, and no read buffer to allocate.
	var body []byte
	if resp.ContentLength != 0 {
		body, err = io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	}
	if err != nil {
		return push.Result{}, "", fmt.Errorf("apns: send: reading answer (status %d): %w", resp.StatusCode, err)
	}
	reason := parseReason(body)
	now := p.now()
	res := classify(resp.StatusCode, reason, resp.Header, now)
	if res.Outcome == push.Delivered && res.VendorID == "" {
		res.VendorID = r.header.Get("apns-id")
	}
	if p.tokens == nil {
		if res.Outcome == push.Deferred {
			// A provider-token answer to a certificate: nothing to wait
			// for or refresh; the credential is refused.
			res.Outcome, res.Until = push.AuthFailed, time.Time{}
		}
		return res, reason, nil
	}
	switch {
	case resp.StatusCode == http.StatusForbidden && reason == ReasonExpiredProviderToken:
		// The token is refused: make (or adopt) its successor now, so the
		// retry classify asks for (Deferred, zero Until) carries it.
		fresh, err := p.tokens.expired(ctx, jwt)
		if err != nil {
			return push.Result{}, "", err
		}
		if !fresh {
			res.Outcome = push.AuthFailed // a clock error no new token mends
		}
	case resp.StatusCode == http.StatusTooManyRequests && reason == ReasonTooManyProviderTokenUpdates:
		// The token is kept (a new one would be one more update). APNs
		// takes it 20 minutes after the team's previous change, which
		// came before now; usually also before this token was made (a
		// process before this one, or one without the shared store,
		// changed it and stopped), so issued + 20 min, when still ahead,
		// is the earliest time it can work. Should APNs refuse it again
		// then, the change in the way came after it was made, and classify's
		// now + 20 min is the bound.
		if issued, ok := p.tokens.issuedAt(jwt); ok {
			if at := issued.Add(MinTokenRefresh); at.After(now) && at.Before(res.Until) {
				res.Until = at
			}
		}
	case resp.StatusCode == http.StatusOK, resp.StatusCode == http.StatusBadRequest, resp.StatusCode == http.StatusGone,
		resp.StatusCode == http.StatusRequestEntityTooLarge, resp.StatusCode == http.StatusTooManyRequests:
		// Answers APNs gives only past authentication.
		p.tokens.accept(jwt)
	}
	return res, reason, nil
}

// authorization is the Authorization header value for provider token jwt.
// The value for the current token is made once and shared by every
// request while the token lasts (an hour at most): net/http only reads a
// request's header values.
func (p *Provider) authorization(jwt string) []string {
	if a := p.auth.Load(); a != nil && a.jwt == jwt {
		return a.value
	}
	a := &authValue{jwt: jwt, value: []string{"bearer " + jwt}}
	p.auth.Store(a)
	return a.value
}

// authValue is a provider token and its Authorization header value.
type authValue struct {
	jwt   string
	value []string
}

// request is one APNs request before it is addressed to a host.
type request struct {
	token  string
	header http.Header
	body   []byte
}

func orDuration(v, def time.Duration) time.Duration {
	if v == 0 {
		return def
	}
	return v
}

func orInt(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

func orString(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// parseRetryAfter reads a Retry-After header. Apple does not document
// that APNs sends one; when it does, it is honoured.
func parseRetryAfter(v string, now time.Time) time.Duration { return push.ParseRetryAfter(v, now) }
