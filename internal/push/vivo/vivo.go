// Package vivo sends pushes through vivo PUSH's server REST API
// (https://api-push.vivo.com.cn) with an app's AppID, AppKey and AppSecret,
// with nothing but net/http: vivo publishes no Go SDK and one JSON POST
// does the job.
//
// # Authentication
//
// POST {base}/message/auth with {"appId", "appKey", "timestamp" (Unix
// milliseconds), "sign"}, where sign is the lowercase hex MD5 of appId +
// appKey + timestamp + appSecret concatenated without separators, answers
// {"result":0,"authToken":...}: a token valid for 24 hours that every
// other call carries in the header "authToken". One appID may hold several
// tokens at once, so several Herald nodes each keep their own. The token is
// cached and reused until [Config.TokenRefresh] after it was issued (one
// hour by default, as vivo's documentation advises refreshing every one to
// two hours; never more than 23 hours); concurrent Sends that find no valid
// token wait for a single auth call, which matters because vivo limits
// /message/auth to 10 calls a second per app (code 10250). A send answered
// with an auth-failure code ([Config.AuthFailureCodes]) drops the cached
// token, so the dispatcher's one retry of an AuthFailed fetches a new one.
//
// # What a notification becomes
//
// One POST {base}/message/send, Content-Type application/json, with:
//
//	appId           Config.AppID, as a number (v2.9.2: checked against the token's app → 10094)
//	regId           Token
//	requestId       ID: vivo's idempotency key, at most 64 characters
//	notifyType      Config.NotifyType (default 4: sound and vibration)
//	title, content  Title, Content (both required by vivo)
//	skipType        Config.SkipType (default 1: open the app), skipContent Config.SkipContent
//	timeToLive      seconds left until Expiration, rounded down, at most 7 days;
//	                absent for a zero Expiration (vivo's default: one day)
//	classification  1 (system message: IM is one of vivo's system categories,
//	                not limited per user nor to 07:00–23:00); 0 with Config.Operation
//	category        Config.Category (default "IM"); "-" sends none
//	clientCustomMap Payload under "payload", and Extra, handed to the app
//	pushMode        1 with Config.TestMode (only to the console's test devices)
//
// clientCustomMap is a top-level field of the body, beside "extra" (which
// vivo reserves for receipt callbacks, not used here); vivo's examples and
// integrators' clients put it there. CollapseID becomes notifyId
// (push.NumericCollapseID, at least 1): a newer notification of the same
// notifyId replaces the shown one. Priority, Badge, Sound and ChannelID
// have no vivo field used here and are ignored; so is Environment (vivo has no sandbox:
// pushMode follows Config.TestMode).
//
// vivo carries notifications only: no pass-through (data) messages and no
// VoIP. KindData and KindVoIP are refused with push.ErrInvalidNotification
// before anything is sent; the planner must send them as alerts or not at
// all.
//
// Limits checked before sending (refused with push.ErrPayloadTooLarge;
// Fit cuts a notification to them first): title at most 40 units and
// content at most 100, where a CJK character, an emoji code point outside
// the BMP or another wide character counts as two units and anything else
// as one (see textUnits); clientCustomMap at most 10 pairs and 1024
// characters of keys and values. An empty Token, Title or Content, an
// empty ID or one over 64 characters, or Extra using the key "payload" are
// refused with push.ErrInvalidNotification. A notification whose
// Expiration has passed is refused with push.ErrExpired. One with less
// than vivo's minimum timeToLive (60 s) left, such as a call ring, is sent
// with timeToLive 60: vivo refuses less, and a ring never sent is worse
// than one the call's cancel push replaces on the device.
//
// # How vivo's answer is translated
//
// vivo answers business results with HTTP 200 and {"result": code, "desc",
// "taskId"}; a server failure is HTTP 500 with the text "Internet server
// error!".
//
//	answer                                           outcome
//	result 0                                         Delivered, VendorID = taskId
//	result 10302, invalidUser.status 1, 2 or 3       DropDevice (no such user; uninstalled
//	  (or no invalidUser)                              or notifications off; offline 90 days)
//	result 10302, invalidUser.status 4               Rejected (not a test device: pushMode=1)
//	any result with invalidUser.userid == regId,     DropDevice
//	  status 1-3
//	result in Config.AuthFailureCodes (10000) (1)    AuthFailed, cached token dropped
//	result 10070, 10073, 10252, 10254                QuotaExhausted, Until = next 00:00 UTC+8 (2)
//	result 10071 (operation message outside          Retry, RetryAfter = until 07:00 UTC+8
//	  07:00-23:00, UNCONFIRMED)
//	result in Config.RetryCodes (10040, UNCONFIRMED) Retry
//	result 10094 (appId ≠ token's app), 102xx,       Rejected
//	  any other result
//	HTTP 5xx                                         Retry (Retry-After honoured if sent)
//	HTTP 200 that is not vivo's JSON                 Retry
//	other HTTP status                                Rejected
//	/message/auth result 10250 (auth calls over      Retry after 1 s
//	  10/s)
//	/message/auth other result (10200 unknown app,   AuthFailed, Reason "auth <code>: <desc>"
//	  10206 sign wrong, 10207 timestamp)
//	/message/auth HTTP 5xx                           Retry
//	no answer (network, timeout, cancel)             error, no Result
//
// (1) vivo does not document the code /message/send answers for an
// unknown or expired authToken (UNCONFIRMED); integrators report 10000
// "权限认证失败" and refresh their token on it, so that is the default.
//
// (2) vivo's daily totals reset with the day in China (UTC+8, no daylight
// saving), and its documentation warns that calling again the same day
// after 10070 lowers the app's quota: the dispatcher must not retry before
// Until.
package vivo

import (
	"bytes"
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/heraldim/herald/internal/push"
)

// Endpoints and limits of vivo PUSH.
const (
	// DefaultBaseURL is vivo PUSH's production host.
	DefaultBaseURL = "https://api-push.vivo.com.cn"
	// MaxTTL is vivo's longest timeToLive: 7 days.
	MaxTTL = 7 * 24 * time.Hour
	// MinTTL is vivo's shortest timeToLive for a single push: 60 s.
	MinTTL = 60 * time.Second
	// MaxTitleUnits bounds the title: 20 CJK characters or 40 others.
	MaxTitleUnits = 40
	// MaxContentUnits bounds the content: 50 CJK characters or 100 others.
	MaxContentUnits = 100
	// MaxRequestIDLen bounds requestId (and so Notification.ID).
	MaxRequestIDLen = 64
	// MaxCustomPairs and MaxCustomChars bound clientCustomMap.
	MaxCustomPairs = 10
	MaxCustomChars = 1024
	// TokenLifetime is how long vivo accepts an authToken: 24 h.
	TokenLifetime = 24 * time.Hour
	// DefaultTokenRefresh is how long a cached authToken is used: vivo
	// advises refreshing every one to two hours.
	DefaultTokenRefresh = time.Hour
	// DefaultTimeout bounds one HTTP exchange with vivo. 15 s: vivo answers
	// in well under a second, and a stalled connection must not hold a
	// dispatcher worker for long.
	DefaultTimeout = 15 * time.Second
	// DefaultCategory is the second-level category of an IM message.
	DefaultCategory = "IM"
	// PayloadKey is the clientCustomMap key of Notification.Payload.
	PayloadKey = "payload"
	// PushIDKey is the clientCustomMap key of Notification.ID (the push
	// job's ID, push.ReceiptExtraKey), for the app to report receipts and
	// drop duplicates.
	PushIDKey = push.ReceiptExtraKey
)

// Result codes of vivo PUSH that Send treats specially.
const (
	CodeOK              = 0
	CodeInvalidRegID    = 10302 // regId 不合法, with invalidUser
	CodeAppIDMismatch   = 10094 // appId in the body is not the token's app
	CodeTotalExceeded   = 10070 // 发送总量超出限制 (operation messages)
	CodeOutsideHours    = 10071 // operation message outside 07:00–23:00 (UNCONFIRMED)
	CodeSystemExceeded  = 10073 // system messages' total exceeded (UNCONFIRMED)
	CodeListExceeded    = 10252 // list-push bodies over the daily limit
	CodeBroadcastLimit  = 10254 // broadcast count exceeded
	CodeAuthTooFrequent = 10250 // more than 10 auth calls a second
	// DefaultAuthFailureCode is the assumed answer to an unknown or expired
	// authToken (UNCONFIRMED).
	DefaultAuthFailureCode = 10000
	// DefaultRetryCode is the code one gateway retries (UNCONFIRMED).
	DefaultRetryCode = 10040
)

// Config configures a Provider.
type Config struct {
	// AppID, AppKey and AppSecret are the app's credentials from the vivo
	// developer console. Required; AppID is numeric.
	AppID     string
	AppKey    string
	AppSecret string
	// BaseURL replaces vivo's host, e.g. with an emulator's. Zero:
	// DefaultBaseURL.
	BaseURL string
	// HTTPClient carries the auth calls and the sends. Zero: a client of
	// the Provider's own (TLS 1.2+, RootCAs), whose idle connections Close
	// releases.
	HTTPClient *http.Client
	// RootCAs is the trust for the Provider's own client. Zero: the system
	// roots. Ignored with HTTPClient.
	RootCAs *x509.CertPool
	// Timeout bounds one HTTP exchange. Zero: DefaultTimeout.
	Timeout time.Duration
	// TokenRefresh is how long a cached authToken is used. Zero:
	// DefaultTokenRefresh; capped at 23 h, an hour before vivo's 24 h.
	TokenRefresh time.Duration
	// Operation sends classification 0 (operation message: at most 5 a
	// day per user, 07:00–23:00 only) instead of 1 (system message). Zero:
	// system, which is what vivo approves IM apps for.
	Operation bool
	// Category is the second-level category. Zero: DefaultCategory ("IM");
	// "-" sends no category (whether vivo now requires one is UNCONFIRMED).
	Category string
	// NotifyType is 1 none, 2 sound, 3 vibration, 4 both. Zero: 4.
	NotifyType int
	// SkipType is what a tap does: 1 open the app, 2 a URL, 3 custom, 4 an
	// in-app page. Zero: 1. SkipContent is its URL or intent URI.
	SkipType    int
	SkipContent string
	// TestMode sends pushMode 1: only to the test devices registered in
	// the vivo console.
	TestMode bool
	// AuthFailureCodes are the results of /message/send that mean the
	// authToken was refused (UNCONFIRMED). Zero: {DefaultAuthFailureCode}.
	AuthFailureCodes []int
	// RetryCodes are the results of /message/send retried as passing
	// faults (UNCONFIRMED). Zero: {DefaultRetryCode}.
	RetryCodes []int
	// Now is the clock for expirations, timestamps and the token cache.
	// Zero: time.Now.
	Now func() time.Time
	// Tokens shares the auth token with the other nodes on the store
	// (keyed by the app and its secret): the vendor limits how often one
	// is obtained, so a node reuses a stored token that has time left.
	// Zero: the Provider keeps its token to itself.
	Tokens push.TokenStore
	// Log receives the Tokens store's errors. Zero: discarded.
	Log *slog.Logger
}

// Provider sends pushes to vivo PUSH for one app. It is safe for
// concurrent use.
type Provider struct {
	cfg       Config
	authURL   string
	sendURL   string
	client    *http.Client
	ownClient bool
	now       func() time.Time
	authFail  map[int]bool
	retry     map[int]bool

	// tokens caches the authToken: one auth call for Sends that find none
	// valid, shared with the other nodes (Config.Tokens).
	tokens *push.TokenCache
}

var (
	_ push.Provider = (*Provider)(nil)
	_ push.Checker  = (*Provider)(nil)
)

func credentialError(format string, args ...any) error {
	return fmt.Errorf("vivo: credential: %s: %w", fmt.Sprintf(format, args...), push.ErrCredential)
}

// New checks cfg and returns a Provider. Missing credentials or an AppID
// that is not a number are errors wrapping push.ErrCredential whose text
// never contains the key or secret. New makes no network call and starts no
// goroutine; Check proves the credential.
func New(cfg Config) (*Provider, error) {
	cfg.AppID = strings.TrimSpace(cfg.AppID)
	cfg.AppKey = strings.TrimSpace(cfg.AppKey)
	cfg.AppSecret = strings.TrimSpace(cfg.AppSecret)
	switch {
	case cfg.AppID == "":
		return nil, credentialError("appId is missing")
	case !isDigits(cfg.AppID) || len(cfg.AppID) > 18:
		return nil, credentialError("appId is not a number")
	case cfg.AppKey == "":
		return nil, credentialError("appKey is missing")
	case cfg.AppSecret == "":
		return nil, credentialError("appSecret is missing")
	}
	base := strings.TrimRight(cfg.BaseURL, "/")
	if base == "" {
		base = DefaultBaseURL
	}
	if u, err := url.Parse(base); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("vivo: base URL %q is not an absolute http(s) URL", base)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.TokenRefresh <= 0 {
		cfg.TokenRefresh = DefaultTokenRefresh
	}
	cfg.TokenRefresh = min(cfg.TokenRefresh, TokenLifetime-time.Hour)
	if cfg.Category == "" {
		cfg.Category = DefaultCategory
	}
	if cfg.NotifyType == 0 {
		cfg.NotifyType = 4
	}
	if cfg.NotifyType < 1 || cfg.NotifyType > 4 {
		return nil, fmt.Errorf("vivo: notifyType %d: want 1 to 4", cfg.NotifyType)
	}
	if cfg.SkipType == 0 {
		cfg.SkipType = 1
	}
	if cfg.SkipType < 1 || cfg.SkipType > 4 {
		return nil, fmt.Errorf("vivo: skipType %d: want 1 to 4", cfg.SkipType)
	}
	if cfg.SkipType != 1 && cfg.SkipContent == "" {
		return nil, fmt.Errorf("vivo: skipType %d needs a skipContent", cfg.SkipType)
	}
	if len(cfg.AuthFailureCodes) == 0 {
		cfg.AuthFailureCodes = []int{DefaultAuthFailureCode}
	}
	if len(cfg.RetryCodes) == 0 {
		cfg.RetryCodes = []int{DefaultRetryCode}
	}
	p := &Provider{
		cfg:      cfg,
		authURL:  base + "/message/auth",
		sendURL:  base + "/message/send",
		client:   cfg.HTTPClient,
		now:      cfg.Now,
		authFail: setOf(cfg.AuthFailureCodes),
		retry:    setOf(cfg.RetryCodes),
	}
	if p.client == nil {
		p.client = push.HTTPClient(cfg.RootCAs)
		p.ownClient = true
	}
	if p.now == nil {
		p.now = time.Now
	}
	// No refresh margin: a token is used for TokenRefresh, far within
	// vivo's 24 h, and stored as expiring then.
	p.tokens = push.NewTokenCache(push.SharedToken{Store: cfg.Tokens, Log: cfg.Log,
		Key: push.TokenKey{Vendor: push.VendorVivo, Account: cfg.AppID, Secret: push.SecretHash(cfg.AppKey + "\x00" + cfg.AppSecret)}},
		0, p.now)
	return p, nil
}

func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

func setOf(codes []int) map[int]bool {
	m := make(map[int]bool, len(codes))
	for _, c := range codes {
		m[c] = true
	}
	return m
}

// AppID returns the vivo app the Provider sends for.
func (p *Provider) AppID() string { return p.cfg.AppID }

// Close releases the idle connections of the Provider's own HTTP client
// (not those of a Config.HTTPClient). The Provider stays usable.
func (p *Provider) Close() {
	if p.ownClient {
		p.client.CloseIdleConnections()
	}
}

// Send makes one attempt to deliver n; see the package comment for the
// request it sends and how the answer is translated. It returns an error
// without sending for a notification that cannot be sent (wrapping
// push.ErrInvalidNotification, push.ErrExpired or push.ErrPayloadTooLarge),
// and an error without a Result when no answer came (network, timeout,
// ctx).
func (p *Provider) Send(ctx context.Context, n push.Notification) (push.Result, error) {
	// Build once before the auth call, so that a notification that cannot
	// be sent costs no round trip.
	if _, err := p.buildBody(n, p.now()); err != nil {
		return push.Result{}, err
	}
	tok, res, err := p.authToken(ctx, false)
	if err != nil || res != nil {
		if res != nil {
			return *res, nil
		}
		return push.Result{}, err
	}
	// The auth call took time: timeToLive counts from now.
	body, err := p.buildBody(n, p.now())
	if err != nil {
		return push.Result{}, err
	}
	status, header, raw, err := p.post(ctx, p.sendURL, tok, body)
	if err != nil {
		return push.Result{}, fmt.Errorf("vivo: send: %w", err)
	}
	r := p.translate(status, header, raw, n.Token)
	if r.Outcome == push.AuthFailed {
		p.forget(tok)
	}
	return r, nil
}

// Check proves the credential with a real /message/auth round trip
// (bypassing the cache, then refilling it) and sends nothing. A refusal of
// the credential wraps push.ErrCredential; other failures are plain
// errors.
func (p *Provider) Check(ctx context.Context) error {
	_, res, err := p.authToken(ctx, true)
	if err != nil {
		return fmt.Errorf("vivo: check: %w", err)
	}
	if res != nil {
		if res.Outcome == push.AuthFailed {
			return fmt.Errorf("vivo: check: %s: %w", res.Reason, push.ErrCredential)
		}
		return fmt.Errorf("vivo: check: auth answered %d %s", res.Status, res.Reason)
	}
	return nil
}

// post sends body to u (with the authToken header when token is not "")
// and returns the answer, read up to 64 KiB.
func (p *Provider) post(ctx context.Context, u, token string, body []byte) (int, http.Header, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	if token != "" {
		req.Header.Set("authToken", token)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return 0, nil, nil, fmt.Errorf("reading the answer: %w", err)
	}
	return resp.StatusCode, resp.Header, raw, nil
}
