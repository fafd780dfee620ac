// Package huawei sends pushes through Huawei HMS Push Kit's server REST API
// v1 (Android/EMUI and HarmonyOS 3.x/4.x devices), with one small HTTP
// client rather than Huawei's SDK.
//
// # Authentication
//
// The OAuth 2.0 client-credentials grant: POST to the token URL a form of
// grant_type=client_credentials, client_id = the app ID and client_secret
// = the app secret; Huawei answers {"access_token","expires_in","token_type"}
// with about an hour of validity. The token is cached and reused by every
// Send until shortly before it expires (five minutes, or half its lifetime
// if that is shorter; Huawei asks senders not to fetch tokens often, its
// token endpoint is flow controlled); concurrent Sends that find no valid
// token wait for a single exchange. An answer 80200001 or 80200003 drops
// the cached token: the dispatcher's one retry of the AuthFailed fetches a
// fresh one, as Huawei's own Go demo does.
//
// # What a notification becomes
//
// One POST {base}/v1/{appId}/messages:send with
// {"validate_only":false,"message":{"token":[Token],"android":{...},"data":...}}:
//
//   - KindAlert: a notification message. android.notification has title
//     (Title), body (Content), click_action {type: 3} (open the app),
//     channel_id (ChannelID), importance "NORMAL" (service and
//     communication class: IM messages are shown with sound), tag and
//     notify_id (CollapseID, and push.NumericCollapseID of it: a newer push
//     replaces the shown one) and badge {set_num: Badge (0..99), class:
//     Config.BadgeClass} when Badge is set and the class is configured
//     (Huawei refuses a badge without its class with 80100001, so none is
//     sent without one). message.data
//     carries the custom data (below) for the app when the user taps.
//   - KindData: a pass-through (data) message: message.data only, no
//     notification block, holding Title and Content as well. android.urgency
//     is "HIGH" for PriorityHigh with Config.SelfClassified, "NORMAL"
//     otherwise (HIGH needs an entitlement: 80300011).
//   - KindVoIP: with Config.SelfClassified a data message of category
//     "VOIP" with urgency "HIGH", whatever Priority says; without the
//     entitlement, which Huawei requires for both, a notification as
//     KindAlert (a data message as KindData when it has no title and
//     content).
//
// With Config.SelfClassified (the app holds Huawei's self-classification
// entitlement) android.category is sent: "IM" for alerts and data, "VOIP"
// for VoIP. Without the entitlement Huawei answers 80300011 to a
// category or a HIGH urgency it does not allow, which is a Rejected: a
// configuration alert.
//
// message.data is a string, as Huawei requires: a JSON object of strings
// with Payload under [DataKeyPayload], ID under [DataKeyPushID] (Huawei has
// no idempotency key: the app drops duplicates with it), Title and Content
// under [DataKeyTitle] and [DataKeyContent] for data and VoIP messages, and
// Extra under its own keys (which may not be Herald's keys:
// push.ErrInvalidNotification).
//
// Expiration becomes android.ttl "<seconds>s", whole seconds rounded down,
// capped at 15 days (1,296,000 s, Huawei's maximum); zero Expiration sends
// no ttl (Huawei's default, one day). An expired notification is refused
// with push.ErrExpired and not sent.
//
// Size: Huawei limits the message body to 4096 bytes excluding tokens
// (80300008). Send counts the request body as sent with an empty token
// list and refuses one over [MaxBodyBytes] with push.ErrPayloadTooLarge
// before sending.
//
// # How Huawei's answer is translated
//
// Huawei's business code is a string in {"code","msg","requestId"}; the
// body is read whatever the HTTP status (which business codes come with
// which status is not documented). HTTP 503 is flow control whatever the
// body says.
//
//	answer                                      outcome
//	code 80000000                               Delivered, VendorID = requestId
//	code 80100000, our token in msg's           DropDevice
//	  illegal_tokens (or illegalTokens)
//	code 80100000, our token not listed         Delivered
//	code 80300007 (all tokens invalid)          DropDevice
//	code 80200001, 80200003                     AuthFailed, cached token dropped
//	HTTP 503 (flow control)                     Retry after Retry-After if present
//	code 81000001, 80600003, 80100017           Retry after Retry-After if present
//	HTTP 500, 502 without a known code          Retry after Retry-After if present
//	a code of Config.QuotaCodes (1)             QuotaExhausted, Until next 00:00 UTC+8
//	code 80300002, 80300011, 80100001,          Rejected (configuration alert)
//	  80100003, 80300008, 80300010, others
//	HTTP 401 without a code                     AuthFailed, cached token dropped
//	token endpoint 400, 401, 403                AuthFailed, Reason "oauth2 <error>/<sub_error>: <description>"
//	token endpoint 429, 5xx                     Retry after Retry-After if present
//	no answer (network, timeout, cancel)        error, no Result
//
// (1) UNCONFIRMED: Huawei's v1 documentation gives no business code for a
// daily quota (service and communication messages are unlimited; news and
// marketing ones are capped per device per day). [DefaultQuotaCodes] is a
// best guess kept in Config; quotas reset at midnight China time.
package huawei

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
	"strings"
	"time"

	"github.com/heraldim/herald/internal/push"
	"github.com/heraldim/herald/internal/push/oauthtoken"
)

// Endpoints and limits of Push Kit.
const (
	// DefaultBaseURL is Push Kit's send host.
	DefaultBaseURL = "https://push-api.cloud.huawei.com"
	// DefaultTokenURL is Huawei's OAuth 2.0 token endpoint.
	DefaultTokenURL = "https://oauth-login.cloud.huawei.com/oauth2/v3/token"
	// MaxTTL is Huawei's longest android.ttl: 15 days.
	MaxTTL = 1296000 * time.Second
	// MaxBodyBytes bounds the request body (tokens excluded) Send posts.
	MaxBodyBytes = 4096
	// DefaultTimeout bounds one HTTP exchange. 15 s: Huawei answers in well
	// under a second, and a stalled connection must not hold a worker long.
	DefaultTimeout = 15 * time.Second
)

// DefaultQuotaCodes are the business codes read as a daily quota used up.
// UNCONFIRMED (see note 1 of the package comment): 80300016 is a guess.
var DefaultQuotaCodes = []string{"80300016"}

// Keys of the message.data object that Herald fills; Extra may not use them.
const (
	DataKeyPayload = "payload"            // Notification.Payload
	DataKeyPushID  = push.ReceiptExtraKey // Notification.ID, for the app to report receipts and drop duplicates
	DataKeyTitle   = "title"              // Notification.Title, data and VoIP messages only
	DataKeyContent = "content"            // Notification.Content, data and VoIP messages only
)

const (
	// tokenRefreshMargin: a cached token is replaced this long before it
	// expires (Huawei's guidance: refresh a few minutes ahead).
	tokenRefreshMargin = 5 * time.Minute
	// maxResponseBytes bounds what is read of an answer.
	maxResponseBytes = 64 << 10
)

// chinaTime is UTC+8, where Huawei's daily quotas reset at midnight.
var chinaTime = time.FixedZone("UTC+8", 8*60*60)

// Config configures a Provider.
type Config struct {
	// AppID is the OAuth 2.0 client ID (the AppGallery Connect app ID). Required.
	AppID string
	// ClientSecret is the app secret. Required.
	ClientSecret string
	// BaseURL replaces Push Kit's host, e.g. with an emulator's. Zero:
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
	// SelfClassified sends android.category ("IM", "VOIP"); only for apps
	// holding Huawei's self-classification entitlement. Zero: no category.
	SelfClassified bool
	// BadgeClass is the app's launcher Activity, full class name
	// ("com.example.chat.MainActivity"), for android.notification.badge.class.
	// Zero: no badge is sent (Huawei refuses one without its class).
	BadgeClass string
	// QuotaCodes are the business codes read as QuotaExhausted. Zero:
	// DefaultQuotaCodes (UNCONFIRMED).
	QuotaCodes []string
	// Now is the clock. Zero: time.Now.
	Now func() time.Time
	// Tokens shares the access token with the other nodes on the store
	// (keyed by the app ID and its secret): Huawei flow-controls its token
	// endpoint, so a node reuses a stored token that has time left. Zero:
	// the Provider keeps its token to itself.
	Tokens push.TokenStore
	// Log receives the Tokens store's errors. Zero: discarded.
	Log *slog.Logger
}

// Provider sends pushes to Push Kit for one app. It is safe for
// concurrent use.
type Provider struct {
	appID      string
	sendURL    string
	client     *http.Client
	ownClient  bool
	timeout    time.Duration
	now        func() time.Time
	classified bool
	badgeClass string
	quota      map[string]bool

	tokens *oauthtoken.Client // the access token: cached, shared, fetched
}

var (
	_ push.Provider = (*Provider)(nil)
	_ push.Checker  = (*Provider)(nil)
)

// New checks cfg and returns a Provider. A missing or malformed app ID or
// secret is an error wrapping push.ErrCredential whose text never contains
// the secret. New makes no network call and starts no goroutine; Check
// proves the credential.
func New(cfg Config) (*Provider, error) {
	if err := checkCredential(cfg.AppID, cfg.ClientSecret); err != nil {
		return nil, err
	}
	base := strings.TrimRight(cfg.BaseURL, "/")
	if base == "" {
		base = DefaultBaseURL
	}
	if err := push.CheckURL(base); err != nil {
		return nil, fmt.Errorf("huawei: base URL: %w", err)
	}
	tokenURL := cfg.TokenURL
	if tokenURL == "" {
		tokenURL = DefaultTokenURL
	}
	if err := push.CheckURL(tokenURL); err != nil {
		return nil, fmt.Errorf("huawei: token URL: %w", err)
	}
	p := &Provider{
		appID:      cfg.AppID,
		sendURL:    base + "/v1/" + url.PathEscape(cfg.AppID) + "/messages:send",
		client:     cfg.HTTPClient,
		timeout:    cfg.Timeout,
		now:        cfg.Now,
		classified: cfg.SelfClassified,
		badgeClass: cfg.BadgeClass,
		quota:      make(map[string]bool),
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
		Name:         "huawei",
		URL:          tokenURL,
		ClientID:     cfg.AppID,
		ClientSecret: cfg.ClientSecret,
		HTTPClient:   p.client,
		Timeout:      p.timeout,
		Now:          p.now,
		Margin:       tokenRefreshMargin,
		Reason:       oauthReason,
		Shared: push.SharedToken{Store: cfg.Tokens, Log: cfg.Log,
			Key: push.TokenKey{Vendor: push.VendorHuawei, Account: cfg.AppID, Secret: push.SecretHash(cfg.ClientSecret)}},
	})
	return p, nil
}

// checkCredential refuses an app ID that cannot be a path segment or a
// secret that is empty or holds blanks; messages name no secret.
func checkCredential(appID, secret string) error {
	if appID == "" {
		return fmt.Errorf("huawei: app ID is empty: %w", push.ErrCredential)
	}
	for _, r := range appID {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '-' || r == '_') {
			return fmt.Errorf("huawei: app ID %q holds characters an app ID cannot have: %w", appID, push.ErrCredential)
		}
	}
	if secret == "" {
		return fmt.Errorf("huawei: client secret is empty: %w", push.ErrCredential)
	}
	if strings.ContainsAny(secret, " \t\r\n") {
		return fmt.Errorf("huawei: client secret holds blanks (copied with a line break?): %w", push.ErrCredential)
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
	body, err := p.buildBody(n, p.now())
	if err != nil {
		return push.Result{}, err
	}
	status, header, raw, err := p.post(ctx, p.sendURL, "application/json;charset=UTF-8", tok, body)
	if err != nil {
		return push.Result{}, fmt.Errorf("huawei: send: %w", err)
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
			return fmt.Errorf("huawei: check: %w: %w", push.ErrCredential, err)
		}
		return fmt.Errorf("huawei: check: %w", err)
	}
	return nil
}

// post sends body and returns the answer, read up to maxResponseBytes.
// token, when not empty, goes in the Authorization header.
func (p *Provider) post(ctx context.Context, u, contentType, token string, body []byte) (int, http.Header, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header.Set("Content-Type", contentType)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
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

// oauthReason is the Reason of a refusal by Huawei's token endpoint:
// "oauth2 <error>/<sub_error>: <description>", error and sub_error being
// strings or numbers; "" when the answer holds no error.
func oauthReason(a oauthtoken.Answer) string {
	if len(a.Error) == 0 {
		return ""
	}
	r := "oauth2 " + strings.Trim(string(a.Error), `"`)
	if len(a.SubError) > 0 {
		r += "/" + strings.Trim(string(a.SubError), `"`)
	}
	if a.ErrorDescription != "" {
		r += ": " + a.ErrorDescription
	}
	return r
}

func (p *Provider) cached() string { return p.tokens.Cached() }

// forget drops tok, which Huawei refused, from the cache unless it
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
