// Package harmony sends pushes to HarmonyOS NEXT (HarmonyOS 5 and later)
// devices through Push Kit's scenario-specific message API, REST v3, with
// one small HTTP client rather than Huawei's SDK. Huawei's v1 API
// (package huawei) reaches only Android and HarmonyOS 4 and earlier;
// HarmonyOS 5 takes only v3, and v3 only service-account JWTs ("HarmonyOS
// 5及以上系统版本推送不再支持OAuth 2.0开放鉴权方式"). docs/vendors-harmony.md
// lists the facts and the pages they come from.
//
// # Authentication
//
// The credential is a service account key file from Huawei's API Console
// ({"project_id","key_id","private_key","sub_account","token_uri",...}).
// Every send carries "Authorization: Bearer <JWT>" where the JWT is
// signed by the provider itself, with no token endpoint in between:
// header {"kid": key_id, "typ": "JWT", "alg": "PS256"}, claims {"iss":
// sub_account, "aud": "https://oauth-login.cloud.huawei.com/oauth2/v3/token",
// "iat", "exp"}, signature RSASSA-PSS with SHA-256 (Huawei's
// "SHA256withRSA/PSS"). Huawei advises a validity of 3600 s and reuse
// meanwhile: one JWT is made per hour and reused by every Send until five
// minutes before its exp; an answer 80200001 or 80200005 drops it, so the
// dispatcher's one retry of the AuthFailed signs a fresh one.
//
// # What a notification becomes
//
// One POST {base}/v3/{project_id}/messages:send with a push-type header
// and {"payload":...,"target":{"token":[Token]},"pushOptions":...}:
//
//   - KindAlert: push-type 0 (alert), payload.notification {category
//     (Config.Category, "IM" by default), title (Title), body (Content),
//     clickAction {actionType 0: open the app's home page, data: the
//     custom data below}, notifyId (push.NumericCollapseID of CollapseID:
//     a newer push replaces the shown one), badge {setNum: Badge, 0..99}}.
//     Push Kit requires both a title and a body: an alert without either
//     is refused with push.ErrInvalidNotification.
//   - KindData: push-type 6 (background message), payload.extraData: the
//     custom data as a JSON string, Title and Content included.
//   - KindVoIP: with Config.CallRight (the app holds Push Kit's in-app
//     call message entitlement) push-type 10, payload.extraData as for
//     data; without it a notification of category VOIP (a background
//     message when it has no title and content), since push-type 10 is
//     refused without the entitlement (noPushTypeRight).
//
// The custom data is a JSON object of strings: Payload under
// [DataKeyPayload], ID under [DataKeyPushID] (Push Kit has no idempotency
// key: the app drops duplicates with it), Title and Content under
// [DataKeyTitle] and [DataKeyContent] for background and call messages,
// and Extra under its own keys (Herald's keys are refused:
// push.ErrInvalidNotification).
//
// pushOptions.ttl is the time to Expiration in whole seconds, capped at
// 1,296,000 (15 days, Huawei's maximum); zero Expiration sends none
// (Huawei's default, one day); an expired notification is refused with
// push.ErrExpired. A device of the development environment (a debug
// build) gets pushOptions.testMessage true: Huawei's test messages, which
// skip the per-device frequency control but are limited to 1000 a day per
// project.
//
// Size: Push Kit limits the body to 4096 bytes excluding the push tokens
// (80300008). Send measures the body with an empty token list and refuses one over
// [MaxBodyBytes] with push.ErrPayloadTooLarge before sending; Fit cuts a
// notification to it.
//
// # How Push Kit's answer is translated
//
// The answer is {"code","msg","requestId"} with a string code; the body is
// read whatever the HTTP status. For 80100000 and 80300007 msg may be a
// JSON string {"success","failure","illegalTokens":{reason:[tokens]}};
// the reason decides.
//
//	answer                                        outcome
//	80000000                                      Delivered, VendorID = requestId
//	80100000, our token not listed                Delivered
//	80100000/80300007, our token under a          Rejected (configuration alert:
//	  configuration reason (noPushTypeRight,        the device is kept)
//	  noRight, countryNotSupport, appinfoError, ...)
//	80100000/80300007, our token under another    DropDevice
//	  reason (tokenFormatError, ...)
//	80300007 without reasons ("All the tokens     DropDevice
//	  are invalid")
//	80200001, 80200003, 80200005                  AuthFailed, cached JWT dropped
//	HTTP 503 (flow control)                       Retry after Retry-After if present
//	81000001, HTTP 500 or 502 without a code      Retry after Retry-After if present
//	80300008, 80300010, 80100001, 80100003, other Rejected
//	HTTP 401 without a code                       AuthFailed
//	no answer (network, timeout, cancel)          error, no Result
//
// noRight ("the app that made the token is not of the URL's project")
// is read as a configuration error rather than a dead token: a wrong
// project ID yields it for every device, and dropping them all would be
// worse than an alert.
//
// # Revoke
//
// With Config.ClientID the Provider is a push.Revoker: Revoke calls Push
// Kit's v1 messages:revoke with a notification's notifyId to remove it
// from the phone (revoke.go).
package harmony

import (
	"bytes"
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/heraldim/herald/internal/push"
)

// Endpoints and limits of Push Kit v3.
const (
	// DefaultBaseURL is Push Kit's send host.
	DefaultBaseURL = "https://push-api.cloud.huawei.com"
	// Audience is the JWT's aud: the key file's token_uri.
	Audience = "https://oauth-login.cloud.huawei.com/oauth2/v3/token"
	// MaxTTL is pushOptions.ttl's maximum: 15 days.
	MaxTTL = 1296000 * time.Second
	// MaxBodyBytes bounds the body (target excluded) Send posts.
	MaxBodyBytes = 4096
	// DefaultTimeout bounds one HTTP exchange. 15 s: Push Kit answers in
	// well under a second, and a stalled connection must not hold a worker.
	DefaultTimeout = 15 * time.Second
	// DefaultCategory is the notification category sent when
	// Config.Category is empty: instant messaging, a service and
	// communication class (lock screen, sound, no daily cap). It needs
	// Huawei's self-classification entitlement; without it Push Kit
	// treats every notification as MARKETING.
	DefaultCategory = "IM"
	// jwtLifetime is the JWT's exp - iat: Huawei advises 3600 s.
	jwtLifetime = time.Hour
	// jwtRefreshMargin: a JWT is replaced this long before its exp.
	jwtRefreshMargin = 5 * time.Minute
	// maxResponseBytes bounds what is read of an answer.
	maxResponseBytes = 64 << 10
)

// Categories are the notification categories Push Kit takes on alert
// messages (push-scenariozed-api-request-param, Notification.category).
var Categories = []string{"IM", "VOIP", "SUBSCRIPTION", "TRAVEL", "HEALTH", "WORK", "ACCOUNT", "EXPRESS",
	"FINANCE", "DEVICE_REMINDER", "MAIL", "CUSTOMER_SERVICE", "MISS_CALL", "MARKETING"}

// Keys of the custom data object that Herald fills; Extra may not use them.
const (
	DataKeyPayload = "payload" // Notification.Payload
	DataKeyPushID  = "push_id" // Notification.ID, for the app to drop duplicates
	DataKeyTitle   = "title"   // Notification.Title, background and call messages
	DataKeyContent = "content" // Notification.Content, background and call messages
)

// Config configures a Provider.
type Config struct {
	// ServiceAccountJSON is the service account key file. Required.
	ServiceAccountJSON []byte
	// BaseURL replaces Push Kit's host, e.g. with an emulator's. Zero:
	// DefaultBaseURL.
	BaseURL string
	// Category is the notification category of alerts. Zero:
	// DefaultCategory.
	Category string
	// ClientID is the app's Client ID (AppGallery Connect), the path of
	// Push Kit's message revoke (revoke.go). Zero: the Provider does not
	// revoke (Revokes is false).
	ClientID string
	// CallRight says the app holds the in-app call message entitlement:
	// VoIP pushes go as push-type 10. Zero: as VOIP notifications.
	CallRight bool
	// HTTPClient carries the sends. Zero: a client of the Provider's own
	// (TLS 1.2+, RootCAs), whose idle connections Close releases.
	HTTPClient *http.Client
	// RootCAs is the trust for the Provider's own client. Zero: the system
	// roots. Ignored with HTTPClient.
	RootCAs *x509.CertPool
	// Timeout bounds one HTTP exchange. Zero: DefaultTimeout.
	Timeout time.Duration
	// Now is the clock (JWT iat and exp, ttl). Zero: time.Now.
	Now func() time.Time
}

// Provider sends pushes to Push Kit v3 for one project. It is safe for
// concurrent use.
type Provider struct {
	sa        *serviceAccount
	sendURL   string
	revokeURL string
	category  string
	callRight bool
	client    *http.Client
	ownClient bool
	timeout   time.Duration
	now       func() time.Time

	mu        sync.Mutex
	jwt       string
	refreshAt time.Time
}

var (
	_ push.Provider = (*Provider)(nil)
	_ push.Checker  = (*Provider)(nil)
)

// New checks cfg and returns a Provider. A key file that cannot be used is
// an error wrapping push.ErrCredential whose text never quotes the key.
// New makes no network call and starts no goroutine.
func New(cfg Config) (*Provider, error) {
	sa, err := parseServiceAccount(cfg.ServiceAccountJSON)
	if err != nil {
		return nil, err
	}
	base := strings.TrimRight(cfg.BaseURL, "/")
	if base == "" {
		base = DefaultBaseURL
	}
	if u, err := url.Parse(base); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("harmony: base URL %q is not an absolute http(s) URL", base)
	}
	category := cfg.Category
	if category == "" {
		category = DefaultCategory
	}
	if !slices.Contains(Categories, category) {
		return nil, fmt.Errorf("harmony: category %q is not one of Push Kit's (%s)", category, strings.Join(Categories, ", "))
	}
	p := &Provider{
		sa:        sa,
		sendURL:   base + "/v3/" + url.PathEscape(sa.ProjectID) + "/messages:send",
		revokeURL: revokeURLOf(base, cfg.ClientID),
		category:  category,
		callRight: cfg.CallRight,
		client:    cfg.HTTPClient,
		timeout:   cfg.Timeout,
		now:       cfg.Now,
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
	return p, nil
}

// ProjectID returns the project the Provider sends for.
func (p *Provider) ProjectID() string { return p.sa.ProjectID }

// KeyID returns the service account key's ID (the JWT's kid).
func (p *Provider) KeyID() string { return p.sa.KeyID }

// Category returns the category alerts are sent with.
func (p *Provider) Category() string { return p.category }

// Close releases the idle connections of the Provider's own HTTP client.
// The Provider stays usable.
func (p *Provider) Close() {
	if p.ownClient {
		p.client.CloseIdleConnections()
	}
}

// Send makes one attempt to deliver n; see the package comment. It
// returns an error without sending for a notification that cannot be sent
// (wrapping push.ErrInvalidNotification, push.ErrExpired or
// push.ErrPayloadTooLarge), and an error without a Result when no answer
// came.
func (p *Provider) Send(ctx context.Context, n push.Notification) (push.Result, error) {
	now := p.now()
	pushType, body, err := p.buildBody(n, now)
	if err != nil {
		return push.Result{}, err
	}
	tok, err := p.token(now)
	if err != nil {
		return push.Result{}, err
	}
	status, header, raw, err := p.post(ctx, tok, pushType, body)
	if err != nil {
		return push.Result{}, fmt.Errorf("harmony: send: %w", err)
	}
	res := translate(status, header, raw, n.Token, p.now())
	if res.Outcome == push.AuthFailed {
		p.forget(tok)
	}
	return res, nil
}

// Check proves the credential: it posts an alert to no token, which Push
// Kit refuses for its target once the JWT passed (80300010 from the
// emulator; any answer but an authentication code proves the key). A
// refused key wraps push.ErrCredential. UNCONFIRMED: that Huawei checks
// the JWT before the body, as gateways do.
func (p *Provider) Check(ctx context.Context) error {
	now := p.now()
	tok, err := p.signJWT(now)
	if err != nil {
		return err
	}
	body := []byte(`{"payload":{"notification":{"category":"` + p.category +
		`","title":"check","body":"check","clickAction":{"actionType":0}}},"target":{"token":[]}}`)
	status, header, raw, err := p.post(ctx, tok, pushTypeAlert, body)
	if err != nil {
		return fmt.Errorf("harmony: check: %w", err)
	}
	res := translate(status, header, raw, "", p.now())
	switch res.Outcome {
	case push.AuthFailed:
		return fmt.Errorf("harmony: check: %s: %w", res.Reason, push.ErrCredential)
	case push.Retry:
		return fmt.Errorf("harmony: check: Push Kit could not say (%s)", res.Reason)
	}
	p.mu.Lock()
	p.jwt, p.refreshAt = tok, now.Add(jwtLifetime-jwtRefreshMargin)
	p.mu.Unlock()
	return nil
}

// post sends body with the JWT and push-type and returns the answer.
func (p *Provider) post(ctx context.Context, jwt, pushType string, body []byte) (int, http.Header, []byte, error) {
	return p.postTo(ctx, p.sendURL, jwt, pushType, body)
}

// postTo posts body to target with the JWT and push-type.
func (p *Provider) postTo(ctx context.Context, target, jwt, pushType string, body []byte) (int, http.Header, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+jwt)
	req.Header.Set("push-type", pushType)
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

// token returns the cached JWT or signs a new one.
func (p *Provider) token(now time.Time) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.jwt != "" && now.Before(p.refreshAt) {
		return p.jwt, nil
	}
	tok, err := p.signJWT(now)
	if err != nil {
		return "", err
	}
	p.jwt, p.refreshAt = tok, now.Add(jwtLifetime-jwtRefreshMargin)
	return tok, nil
}

// forget drops tok from the cache if it is still the cached one.
func (p *Provider) forget(tok string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.jwt == tok {
		p.jwt = ""
	}
}

// clip keeps a vendor's text to a size fit for a trace.
func clip(s string) string {
	const limit = 300
	if len(s) <= limit {
		return s
	}
	return s[:limit] + "…"
}
