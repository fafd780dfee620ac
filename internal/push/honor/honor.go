// Package honor sends pushes through Honor Push (荣耀推送服务), the push
// channel of Honor phones on Magic UI 6.0 and later, with its server REST
// API and one small HTTP client. Facts and sources: docs/vendors-honor.md.
//
// # Authentication
//
// The OAuth 2.0 client-credentials grant at Honor's developer IAM: POST to
// the token URL (https://iam.developer.honor.com/auth/token; Honor's guide
// also shows the Keycloak path /auth/realms/developer/protocol/openid-
// connect/token of the same host) a form of grant_type=client_credentials,
// client_id and client_secret (the Client ID and Client Secret the push
// service page of Honor's developer console shows beside the App ID). The
// answer is {"access_token","expires_in","token_type"}; an error is
// {"error","error_description"} (the OAuth 2.0 error shape). expires_in is
// read (3600 s when absent; Honor's lifetime is UNCONFIRMED). The token is
// cached and reused by every Send until five minutes (or half its life)
// before it expires, shared with the other nodes through Config.Tokens;
// concurrent Sends that find none wait for one exchange. An answer that
// refuses the access token (80200001, 80200003, or HTTP 401) drops it: the
// dispatcher's one retry of the AuthFailed fetches a fresh one.
//
// # What a notification becomes
//
// One POST {base}/api/v1/{appId}/sendMessage with the headers
// Content-Type application/json;charset=UTF-8, Authorization "Bearer
// <token>" and timestamp (Unix milliseconds), and the body
// {"data":...,"android":{...},"token":[Token]}:
//
//   - KindAlert (and KindVoIP: Honor has no call class): a notification
//     message. android.notification has title (Title), body (Content),
//     clickAction {type: 3} (open the app), importance "NORMAL" (服务与通讯:
//     IM messages; "LOW" is news and marketing), tag and notifyId
//     (CollapseID, and push.NumericCollapseID of it: a newer push replaces
//     the shown one) and badge {setNum: Badge (0..99), badgeClass:
//     Config.BadgeClass} when Badge is set and the class is configured
//     (Honor needs the launcher Activity for a badge).
//   - KindData: a pass-through (透传) message: data only, no notification,
//     holding Title and Content as well.
//
// data is a string, as Honor requires: a JSON object of strings with
// Payload under [DataKeyPayload], ID under [DataKeyPushID] (Honor has no
// idempotency key: the app drops duplicates with it), Title and Content
// under [DataKeyTitle] and [DataKeyContent] for data messages, and Extra
// under its own keys (which may not be Herald's: push.ErrInvalidNotification).
//
// Expiration becomes android.ttl "<seconds>s", whole seconds rounded down,
// capped at [MaxTTL]; zero Expiration sends no ttl (Honor's default, one
// day). An expired notification is refused with push.ErrExpired and not
// sent.
//
// Size: the body without its token list may hold [MaxBodyBytes] bytes
// (UNCONFIRMED: Honor's limit is taken as 4 KB, its parent Push Kit's);
// Send refuses a larger one with push.ErrPayloadTooLarge before sending.
//
// # How Honor's answer is translated
//
// The answer is {"code","message","data":{"sendResult","requestId",
// "failTokens","expireTokens"}} with a numeric code; 200 is success. The
// body is read whatever the HTTP status.
//
//	answer                                     outcome
//	code 200, our token not listed             Delivered, VendorID = data.requestId
//	code 200, our token in data.expireTokens   DropDevice (uninstalled or expired token)
//	  or data.failTokens
//	code 200, data.sendResult false, our       Retry after Retry-After if present
//	  token not listed
//	code 80300007 (all tokens invalid) (1)     DropDevice
//	code 80200001, 80200003 (1)                AuthFailed, cached token dropped
//	HTTP 401 without a code                    AuthFailed, cached token dropped
//	HTTP 503 (flow control)                    Retry after Retry-After if present
//	code 81000001 (1)                          Retry after Retry-After if present
//	HTTP 429, 5xx without a known code         Retry after Retry-After if present
//	a code of Config.QuotaCodes (1)            QuotaExhausted, Until next 00:00 UTC+8
//	any other code                             Rejected (configuration alert)
//	token endpoint 400, 401, 403               AuthFailed, Reason "oauth2 <error>: <description>"
//	token endpoint 429, 5xx                    Retry after Retry-After if present
//	no answer (network, timeout, cancel)       error, no Result
//
// (1) UNCONFIRMED: the error codes are those of the Push Kit server Honor's
// was built from; the public material found confirms only code 200 and
// the data lists (docs/vendors-honor.md).
package honor

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/heraldim/herald/internal/push"
	"github.com/heraldim/herald/internal/push/oauthtoken"
)

// Endpoints and limits of Honor Push.
const (
	// DefaultBaseURL is Honor Push's send host.
	DefaultBaseURL = "https://push-api.cloud.honor.com"
	// DefaultTokenURL is Honor's developer IAM token endpoint.
	DefaultTokenURL = "https://iam.developer.honor.com/auth/token"
	// MaxTTL is the longest android.ttl sent: 15 days (Honor's field
	// description; one public client caps it at one day: UNCONFIRMED).
	MaxTTL = 1296000 * time.Second
	// MaxBodyBytes bounds the request body (tokens excluded) Send posts.
	MaxBodyBytes = 4096
	// DefaultTimeout bounds one HTTP exchange. 15 s: a stalled connection
	// must not hold a worker long.
	DefaultTimeout = 15 * time.Second
)

// DefaultQuotaCodes are the codes read as a daily quota used up.
// UNCONFIRMED: Honor caps news and marketing (LOW) messages per device
// per day but no public page found names the code; 80300016 is a guess.
var DefaultQuotaCodes = []int{80300016}

// Keys of the data object that Herald fills; Extra may not use them.
const (
	DataKeyPayload = "payload" // Notification.Payload
	DataKeyPushID  = "push_id" // Notification.ID, for the app to drop duplicates
	DataKeyTitle   = "title"   // Notification.Title, data messages only
	DataKeyContent = "content" // Notification.Content, data messages only
)

const (
	// tokenRefreshMargin: a cached token is replaced this long before it
	// expires.
	tokenRefreshMargin = 5 * time.Minute
	// maxResponseBytes bounds what is read of an answer.
	maxResponseBytes = 64 << 10
)

// chinaTime is UTC+8, where daily quotas reset at midnight.
var chinaTime = time.FixedZone("UTC+8", 8*60*60)

// Config configures a Provider.
type Config struct {
	// AppID is the App ID of the push service (the send URL's path).
	// Required.
	AppID string
	// ClientID and ClientSecret are the OAuth client credentials the
	// console shows beside the App ID. Required.
	ClientID     string
	ClientSecret string
	// BaseURL replaces Honor Push's host, e.g. with an emulator's. Zero:
	// DefaultBaseURL.
	BaseURL string
	// TokenURL replaces the token endpoint. Zero: DefaultTokenURL.
	TokenURL string
	// HTTPClient carries both the token exchange and the sends. Zero: a
	// client of the Provider's own (TLS 1.2+, RootCAs), whose idle
	// connections Close releases.
	HTTPClient *http.Client
	// RootCAs is the trust for the Provider's own client. Zero: the system
	// roots. Ignored with HTTPClient.
	RootCAs *x509.CertPool
	// Timeout bounds one HTTP exchange. Zero: DefaultTimeout.
	Timeout time.Duration
	// BadgeClass is the app's launcher Activity, full class name, for
	// android.notification.badge.badgeClass. Zero: no badge is sent.
	BadgeClass string
	// QuotaCodes are the codes read as QuotaExhausted. Zero:
	// DefaultQuotaCodes (UNCONFIRMED).
	QuotaCodes []int
	// Now is the clock. Zero: time.Now.
	Now func() time.Time
	// Tokens shares the access token with the other nodes on the store
	// (keyed by the client ID and its secret). Zero: the Provider keeps
	// its token to itself.
	Tokens push.TokenStore
	// Log receives the Tokens store's errors. Zero: discarded.
	Log *slog.Logger
}

// Provider sends pushes to Honor Push for one app. It is safe for
// concurrent use.
type Provider struct {
	appID      string
	sendURL    string
	client     *http.Client
	ownClient  bool
	timeout    time.Duration
	now        func() time.Time
	badgeClass string
	quota      map[int]bool

	tokens *oauthtoken.Client // the access token: cached, shared, fetched
}

var (
	_ push.Provider = (*Provider)(nil)
	_ push.Checker  = (*Provider)(nil)
)

// New checks cfg and returns a Provider. A missing or malformed app ID,
// client ID or secret is an error wrapping push.ErrCredential whose text
// never contains the secret. New makes no network call and starts no
// goroutine; Check proves the credential.
func New(cfg Config) (*Provider, error) {
	if err := checkCredential(cfg.AppID, cfg.ClientID, cfg.ClientSecret); err != nil {
		return nil, err
	}
	base := strings.TrimRight(cfg.BaseURL, "/")
	if base == "" {
		base = DefaultBaseURL
	}
	if err := push.CheckURL(base); err != nil {
		return nil, fmt.Errorf("honor: base URL: %w", err)
	}
	tokenURL := cfg.TokenURL
	if tokenURL == "" {
		tokenURL = DefaultTokenURL
	}
	if err := push.CheckURL(tokenURL); err != nil {
		return nil, fmt.Errorf("honor: token URL: %w", err)
	}
	p := &Provider{
		appID:      cfg.AppID,
		sendURL:    base + "/api/v1/" + url.PathEscape(cfg.AppID) + "/sendMessage",
		client:     cfg.HTTPClient,
		timeout:    cfg.Timeout,
		now:        cfg.Now,
		badgeClass: cfg.BadgeClass,
		quota:      make(map[int]bool),
	}
	codes := cfg.QuotaCodes
	if len(codes) == 0 {
		codes = DefaultQuotaCodes
	}
	for _, c := range codes {
		p.quota[c] = true
	}
	if p.client == nil {
		p.client = push.HTTPClient(cfg.RootCAs)
		p.ownClient = true
	}
	if p.timeout <= 0 {
		p.timeout = DefaultTimeout
	}
	if p.now == nil {
		p.now = time.Now
	}
	p.tokens = oauthtoken.New(oauthtoken.Config{
		Name:         "honor",
		URL:          tokenURL,
		ClientID:     cfg.ClientID,
		ClientSecret: cfg.ClientSecret,
		HTTPClient:   p.client,
		Timeout:      p.timeout,
		Now:          p.now,
		Margin:       tokenRefreshMargin,
		Shared: push.SharedToken{Store: cfg.Tokens, Log: cfg.Log,
			Key: push.TokenKey{Vendor: push.VendorHonor, Account: cfg.ClientID, Secret: push.SecretHash(cfg.ClientSecret)}},
	})
	return p, nil
}

// checkCredential refuses an app ID or client ID that cannot be a path
// segment or a form value as Honor issues them, and a secret that is empty
// or holds blanks; messages name no secret.
func checkCredential(appID, clientID, secret string) error {
	for _, f := range []struct{ name, v string }{{"app ID", appID}, {"client ID", clientID}} {
		if f.v == "" {
			return fmt.Errorf("honor: %s is empty: %w", f.name, push.ErrCredential)
		}
		for _, r := range f.v {
			if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '-' || r == '_' || r == '.') {
				return fmt.Errorf("honor: %s %q holds characters it cannot have: %w", f.name, f.v, push.ErrCredential)
			}
		}
	}
	if secret == "" {
		return fmt.Errorf("honor: client secret is empty: %w", push.ErrCredential)
	}
	if strings.ContainsAny(secret, " \t\r\n") {
		return fmt.Errorf("honor: client secret holds blanks (copied with a line break?): %w", push.ErrCredential)
	}
	return nil
}

// AppID returns the app the Provider sends for.
func (p *Provider) AppID() string { return p.appID }

// Close releases the idle connections of the Provider's own HTTP client.
// The Provider stays usable.
func (p *Provider) Close() {
	if p.ownClient {
		p.client.CloseIdleConnections()
	}
}

// Send makes one attempt to deliver n; see the package comment for the
// message and the translation of the answer. It returns an error without
// sending for a notification that cannot be sent (wrapping
// push.ErrInvalidNotification, push.ErrExpired or push.ErrPayloadTooLarge),
// and an error without a Result when no answer came.
func (p *Provider) Send(ctx context.Context, n push.Notification) (push.Result, error) {
	if _, err := p.buildBody(n, p.now()); err != nil {
		return push.Result{}, err
	}
	tok, err := p.tokens.Token(ctx, false)
	if err != nil {
		var oe *oauthtoken.Error
		if errors.As(err, &oe) {
			return oe.Result(), nil
		}
		return push.Result{}, err
	}
	// Built again after the exchange: the ttl counts from now.
	now := p.now()
	body, err := p.buildBody(n, now)
	if err != nil {
		return push.Result{}, err
	}
	hdr := http.Header{
		"Content-Type":  {"application/json;charset=UTF-8"},
		"Authorization": {"Bearer " + tok},
		"Timestamp":     {strconv.FormatInt(now.UnixMilli(), 10)},
	}
	status, header, raw, err := p.post(ctx, p.sendURL, hdr, body)
	if err != nil {
		return push.Result{}, fmt.Errorf("honor: send: %w", err)
	}
	res := p.translate(status, header, raw, n.Token, p.now())
	if res.Outcome == push.AuthFailed {
		p.forget(tok)
	}
	return res, nil
}

// Check proves the credential with a real token exchange (the cache is
// bypassed, then refilled) and sends nothing. A refusal of the credential
// wraps push.ErrCredential; other failures are plain errors.
func (p *Provider) Check(ctx context.Context) error {
	if _, err := p.tokens.Token(ctx, true); err != nil {
		var oe *oauthtoken.Error
		if errors.As(err, &oe) && oe.Result().Outcome == push.AuthFailed {
			return fmt.Errorf("honor: check: %w: %w", push.ErrCredential, err)
		}
		return fmt.Errorf("honor: check: %w", err)
	}
	return nil
}

// post sends body with hdr and returns the answer, read up to
// maxResponseBytes.
func (p *Provider) post(ctx context.Context, u string, hdr http.Header, body []byte) (int, http.Header, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return 0, nil, nil, err
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return 0, nil, nil, fmt.Errorf("reading the answer: %w", err)
	}
	return resp.StatusCode, resp.Header, raw, nil
}

func (p *Provider) cached() string { return p.tokens.Cached() }

// forget drops tok, which Honor refused, from the cache unless it
// was replaced.
func (p *Provider) forget(tok string) { p.tokens.Forget(tok) }

// clip keeps a vendor's text to a size fit for a trace.
func clip(s string) string {
	const limit = 300
	if len(s) <= limit {
		return s
	}
	return s[:limit] + "…"
}
