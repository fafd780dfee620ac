// Package oppo sends pushes through OPPO (HeyTap) PUSH's server REST API
// with an app's AppKey and MasterSecret.
//
// # Authentication
//
// POST {base}/server/v1/auth, form-encoded: app_key, timestamp (Unix
// milliseconds) and sign = lowercase hex SHA-256 of app_key + timestamp +
// master_secret (plain concatenation; the MasterSecret, not the
// AppSecret). The answer's data.auth_token is valid 24 hours. It is cached
// and reused by every Send until [TokenRefreshMargin] before those 24 hours
// end (counted from when it was obtained, by Config.Now); concurrent Sends
// that find no valid token wait for a single auth call. An answer of code
// 11 (Invalid AuthToken) to a send drops the cached token, so that the
// dispatcher's one retry of that AuthFailed result authenticates again.
//
// # What a notification becomes
//
// One POST {base}/server/v1/message/notification/unicast, form-encoded
// with auth_token and message, a JSON string:
//
//	{"target_type": 2, "target_value": Token,
//	 "notification": {"title": Title, "content": Content,
//	   "click_action_type": 0, "action_parameters": "<JSON>",
//	   "channel_id": ChannelID or Config.ChannelID,
//	   "category": Config.Category, "notify_level": Config.NotifyLevel,
//	   "private_msg_template_id": Config.PrivateMsgTemplateID,
//	   "app_message_id": ID, "off_line": true, "off_line_ttl": seconds}}
//
// target_type 2 is a registration ID. click_action_type 0 opens the app's
// launcher activity. action_parameters is a JSON object, as a string,
// holding Payload under [ParamPayload], ID under [ParamPushID] and Extra
// under its own keys (which may not be Herald's); OPPO hands it to the
// opened page, and allows at most [MaxActionParametersBytes] of it.
// app_message_id is OPPO's de-duplication key: a retried send of the same
// push is shown once. category, notify_level and private_msg_template_id are
// OPPO's 2023/2024 message classification: a communication-class (IM)
// message on a registered private (私信) channel escapes the daily quota of
// public messages. category and notify_level default to [DefaultCategory]
// and [DefaultNotifyLevel]; private_msg_template_id is sent only when
// configured (the accepted values are UNCONFIRMED from OPPO's primary
// documentation: category "IM", notify_level 1, 2 or 16). CollapseID
// becomes notify_id (push.NumericCollapseID, at least 1): a newer
// notification of the same notify_id replaces the shown one. Badge and
// Sound have no OPPO
// counterpart here and are ignored.
//
// OPPO has no pass-through (data) message: its server API sends
// notification-bar messages only. KindData and KindVoIP are refused with
// push.ErrInvalidNotification rather than shown to the user as an alert.
//
// Expiration becomes off_line_ttl in whole seconds rounded down, capped at
// [MaxOffLineTTL] (10 days, OPPO's maximum); zero Expiration sends no
// off_line_ttl (OPPO's default). A notification whose Expiration has
// passed (or is less than a second away) is refused with push.ErrExpired
// and not sent.
//
// Field limits are checked before sending, counting characters (runes)
// as OPPO does: an empty Token, Title or Content, or a bad Extra key, is
// push.ErrInvalidNotification; a Title over [MaxTitleRunes], a Content
// over [MaxContentRunes] or action_parameters over
// [MaxActionParametersBytes] is push.ErrPayloadTooLarge.
//
// # How OPPO's answer is translated
//
// OPPO answers HTTP 200 with {"code", "message", "data"}; code decides.
//
//	answer                                     outcome
//	code 0, data.messageId                     Delivered, VendorID = messageId
//	code 10000 (Invalid Registration_id)       DropDevice
//	code 11 (Invalid AuthToken)                AuthFailed, cached token dropped
//	code -1 (service unavailable)              Retry
//	code -2 (flow control)                     Retry
//	code 13 (app call limited)                 Retry
//	code 55 (app call frequency limit)         Retry
//	code 33 (daily message quota exceeded)     QuotaExhausted, Until = next 00:00 UTC+8
//	code 14–30, 67 (app key, sign, timestamp,  Rejected (configuration alert)
//	  method, IP, permission, category)
//	any other code (40, 41 arguments, ...)     Rejected
//	auth call: code 14–19 (key, sign, time)    AuthFailed
//	auth call: code -1, -2, 13, 55             Retry
//	auth call: any other code                  Rejected
//	HTTP 5xx without a readable answer         Retry (Retry-After honoured)
//	other HTTP status or unreadable answer     Rejected
//	no answer (network, timeout, cancel)       error, no Result
//
// Every Result's Reason is "code <n>: <message>". Retry-After, when OPPO
// sends it (it is not documented to), sets RetryAfter.
package oppo

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
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
)

// Endpoints, lifetimes and limits of OPPO PUSH. They are OPPO's documented
// values (vendors.md §5); OPPO may change them.
const (
	// DefaultBaseURL is OPPO's host for devices in China; overseas devices
	// use https://api-intl.push.oppomobile.com.
	DefaultBaseURL = "https://api.push.oppomobile.com"
	// AuthPath and UnicastPath are the API paths under the base URL.
	AuthPath    = "/server/v1/auth"
	UnicastPath = "/server/v1/message/notification/unicast"
	// AuthTokenLifetime is how long an auth_token is valid: 24 hours.
	AuthTokenLifetime = 24 * time.Hour
	// TokenRefreshMargin: a cached auth_token is replaced this long before
	// its 24 hours end, so that none expires on the way or on a server
	// whose clock is ahead. 10 min is far above any clock skew and costs
	// nothing (one auth call a day).
	TokenRefreshMargin = 10 * time.Minute
	// MaxOffLineTTL is OPPO's longest offline storage: 10 days.
	MaxOffLineTTL = 10 * 24 * time.Hour
	// MaxTitleRunes, MaxContentRunes bound title and content (standard
	// style), in characters.
	MaxTitleRunes   = 50
	MaxContentRunes = 200
	// MaxActionParametersBytes bounds action_parameters: 4 KB.
	MaxActionParametersBytes = 4096
	// DefaultTimeout bounds one HTTP exchange with OPPO. 15 s: OPPO answers
	// in well under a second, and a stalled connection must not hold a
	// dispatcher worker for long.
	DefaultTimeout = 15 * time.Second
)

// Keys of action_parameters that Herald fills; Extra may not use them.
const (
	ParamPayload = "payload"            // Notification.Payload
	ParamPushID  = push.ReceiptExtraKey // Notification.ID, for the app to report receipts and drop duplicates
)

// OPPO's return codes that Send acts on.
const (
	codeSuccess        = 0
	codeUnavailable    = -1
	codeFlowControl    = -2
	codeInvalidToken   = 11
	codeCallLimited    = 13
	codeDailyLimit     = 33
	codeFrequencyLimit = 55
	codeInvalidRegID   = 10000
)

// maxResponseBytes bounds what is read of an answer; OPPO's are small.
const maxResponseBytes = 64 << 10

// chinaTime is OPPO's day for the daily quota: Beijing time, UTC+8, no
// daylight saving.
var chinaTime = time.FixedZone("UTC+8", 8*60*60)

// Message class defaults: an IM server's pushes are person-to-person
// messages, OPPO's communication class (category IM), shown in the
// notification bar and on the lock screen (notify_level 2; 16, the strong
// reminder, needs OPPO's permission). Only a registered private (私信)
// channel (Config.ChannelID, or a resource's) takes them out of the daily
// quota of public messages: OPPO has no default private channel.
const (
	DefaultCategory    = "IM"
	DefaultNotifyLevel = 2
)

// Config configures a Provider.
type Config struct {
	// AppKey and MasterSecret are the app's credentials from the OPPO PUSH
	// console (the MasterSecret, not the AppSecret). Required.
	AppKey       string
	MasterSecret string
	// BaseURL replaces OPPO's host, e.g. with an emulator's. Zero:
	// DefaultBaseURL.
	BaseURL string
	// ChannelID is the notification channel used when a Notification has
	// none: the app's registered private (私信) channel for IM messages.
	// Zero: none sent (OPPO's default public channel).
	ChannelID string
	// Category is the message category, e.g. "IM" (UNCONFIRMED list of
	// values). Zero: [DefaultCategory], so that a bare credential's IM
	// pushes are of the communication class, not news and marketing.
	Category string
	// NotifyLevel is the reminder level: 1 notification bar, 2 bar and
	// lock screen, 16 strong reminder (needs permission) (UNCONFIRMED).
	// Zero: [DefaultNotifyLevel].
	NotifyLevel int
	// PrivateMsgTemplateID is the approved private-message template that
	// OPPO reportedly requires with category IM since 2024 (UNCONFIRMED).
	// Zero: not sent.
	PrivateMsgTemplateID string
	// HTTPClient carries the auth calls and the sends. Zero: a client of
	// the Provider's own (TLS 1.2+, RootCAs), whose idle connections Close
	// releases.
	HTTPClient *http.Client
	// RootCAs is the trust for the Provider's own client. Zero: the system
	// roots. Ignored with HTTPClient.
	RootCAs *x509.CertPool
	// Timeout bounds one HTTP exchange. Zero: DefaultTimeout.
	Timeout time.Duration
	// Now is the clock for timestamps, expirations and the token cache.
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

// Provider sends pushes to OPPO for one app. It is safe for concurrent use.
type Provider struct {
	appKey       string
	masterSecret string
	authURL      string
	unicastURL   string
	channelID    string
	category     string
	notifyLevel  int
	templateID   string
	client       *http.Client
	ownClient    bool
	timeout      time.Duration
	now          func() time.Time

	// tokens caches the auth_token: one auth call for Sends that find
	// none valid, shared with the other nodes (Config.Tokens).
	tokens *push.TokenCache
}

var (
	_ push.Provider = (*Provider)(nil)
	_ push.Checker  = (*Provider)(nil)
)

// New checks cfg and returns a Provider. Missing or malformed credentials
// are an error wrapping push.ErrCredential whose text never contains the
// MasterSecret. New makes no network call and starts no goroutine; Check
// proves the credential.
func New(cfg Config) (*Provider, error) {
	if err := checkCredential("app key", cfg.AppKey); err != nil {
		return nil, err
	}
	if err := checkCredential("master secret", cfg.MasterSecret); err != nil {
		return nil, err
	}
	if cfg.NotifyLevel < 0 {
		return nil, fmt.Errorf("oppo: notify level %d is negative", cfg.NotifyLevel)
	}
	base := strings.TrimRight(cfg.BaseURL, "/")
	if base == "" {
		base = DefaultBaseURL
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("oppo: base URL %q is not an absolute http(s) URL", base)
	}
	if cfg.Category == "" {
		cfg.Category = DefaultCategory
	}
	if cfg.NotifyLevel == 0 {
		cfg.NotifyLevel = DefaultNotifyLevel
	}
	p := &Provider{
		appKey:       cfg.AppKey,
		masterSecret: cfg.MasterSecret,
		authURL:      base + AuthPath,
		unicastURL:   base + UnicastPath,
		channelID:    cfg.ChannelID,
		category:     cfg.Category,
		notifyLevel:  cfg.NotifyLevel,
		templateID:   cfg.PrivateMsgTemplateID,
		client:       cfg.HTTPClient,
		timeout:      cfg.Timeout,
		now:          cfg.Now,
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
	p.tokens = push.NewTokenCache(push.SharedToken{Store: cfg.Tokens, Log: cfg.Log,
		Key: push.TokenKey{Vendor: push.VendorOPPO, Account: cfg.AppKey, Secret: push.SecretHash(cfg.MasterSecret)}},
		TokenRefreshMargin, p.now)
	return p, nil
}

// checkCredential refuses an empty credential or one with characters that
// no OPPO key has (spaces, control characters: usually a paste error). The
// error names the field, never its value.
func checkCredential(name, v string) error {
	if v == "" {
		return fmt.Errorf("oppo: %s is empty: %w", name, push.ErrCredential)
	}
	for _, r := range v {
		if r <= ' ' || r == 0x7f || r > '~' {
			return fmt.Errorf("oppo: %s has a space, control or non-ASCII character: %w", name, push.ErrCredential)
		}
	}
	return nil
}

// Close releases the idle connections of the Provider's own HTTP client
// (not those of a Config.HTTPClient). The Provider stays usable.
func (p *Provider) Close() {
	if p.ownClient {
		p.client.CloseIdleConnections()
	}
}

// Send makes one attempt to deliver n; see the package comment for the
// message it sends and how the answer is translated. It returns an error
// without sending for a notification that cannot be sent (wrapping
// push.ErrInvalidNotification, push.ErrExpired or push.ErrPayloadTooLarge),
// and an error without a Result when no answer came (network, timeout,
// ctx).
func (p *Provider) Send(ctx context.Context, n push.Notification) (push.Result, error) {
	// Build before authenticating, so that a notification that cannot be
	// sent costs no round trip.
	msg, err := p.buildMessage(n, p.now())
	if err != nil {
		return push.Result{}, err
	}
	tok, res, err := p.authToken(ctx, false)
	if err != nil || res != nil {
		if res != nil {
			return *res, nil
		}
		return push.Result{}, err
	}
	if !n.Expiration.IsZero() {
		// The auth call took time: the ttl counts from now.
		if msg, err = p.buildMessage(n, p.now()); err != nil {
			return push.Result{}, err
		}
	}
	form := url.Values{"auth_token": {tok}, "message": {msg}}
	ans, err := p.post(ctx, p.unicastURL, form)
	if err != nil {
		return push.Result{}, fmt.Errorf("oppo: send: %w", err)
	}
	r := ans.result(p.now())
	if r.Outcome == push.Delivered {
		var d struct {
			MessageID string `json:"messageId"`
		}
		if json.Unmarshal(ans.Data, &d) == nil {
			r.VendorID = d.MessageID
		}
	}
	if r.Outcome == push.AuthFailed {
		p.forget(tok)
	}
	return r, nil
}

// Check proves the credential with a real auth round trip (the cache is
// bypassed and then refilled), sending nothing to any device. A refusal
// of the credential (codes 14–19) wraps push.ErrCredential; other failures
// are plain errors.
func (p *Provider) Check(ctx context.Context) error {
	_, res, err := p.authToken(ctx, true)
	if err != nil {
		return fmt.Errorf("oppo: check: %w", err)
	}
	if res != nil {
		if res.Outcome == push.AuthFailed {
			return fmt.Errorf("oppo: check: auth refused (%s): %w", res.Reason, push.ErrCredential)
		}
		return fmt.Errorf("oppo: check: auth answered %s", res.Reason)
	}
	return nil
}

// answer is OPPO's envelope.
type answer struct {
	status     int
	retryAfter string
	readable   bool

	Code    *int            `json:"code"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data"`
}

// result translates a send's answer (see the package comment's table).
func (a *answer) result(now time.Time) push.Result {
	r := push.Result{Status: a.status, RetryAfter: push.ParseRetryAfter(a.retryAfter, now)}
	if !a.readable {
		r.Reason = fmt.Sprintf("HTTP %d without a readable answer", a.status)
		r.Outcome = push.Rejected
		if a.status >= 500 {
			r.Outcome = push.Retry
		}
		return r
	}
	code := *a.Code
	r.Reason = fmt.Sprintf("code %d: %s", code, a.Message)
	switch {
	case code == codeSuccess:
		r.Outcome = push.Delivered
	case code == codeInvalidRegID:
		r.Outcome = push.DropDevice
	case code == codeInvalidToken:
		r.Outcome = push.AuthFailed
	case code == codeUnavailable, code == codeFlowControl, code == codeCallLimited, code == codeFrequencyLimit:
		r.Outcome = push.Retry
	case code == codeDailyLimit:
		r.Outcome = push.QuotaExhausted
		r.Until = nextChinaMidnight(now)
	default:
		r.Outcome = push.Rejected
	}
	return r
}

// nextChinaMidnight is when OPPO's daily quota resets after now: the next
// 00:00 in UTC+8.
func nextChinaMidnight(now time.Time) time.Time {
	c := now.In(chinaTime)
	return time.Date(c.Year(), c.Month(), c.Day()+1, 0, 0, 0, 0, chinaTime)
}

// post sends form to u and reads the answer.
func (p *Provider) post(ctx context.Context, u string, form url.Values) (*answer, error) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=UTF-8")
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return nil, fmt.Errorf("reading the answer: %w", err)
	}
	a := &answer{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After")}
	if json.Unmarshal(raw, a) == nil && a.Code != nil {
		a.readable = true
	}
	return a, nil
}

// authToken returns the cached auth_token or obtains one (always when
// fresh is set). A refusal by OPPO is a Result (AuthFailed, Retry or
// Rejected) rather than an error.
func (p *Provider) authToken(ctx context.Context, fresh bool) (string, *push.Result, error) {
	tok, err := p.tokens.Token(ctx, fresh, p.auth)
	if r := (*push.TokenRefusal)(nil); errors.As(err, &r) {
		return "", &r.Result, nil
	}
	return tok, nil, err
}

// auth makes one auth call; OPPO's refusal is a *push.TokenRefusal.
func (p *Provider) auth(ctx context.Context) (push.Grant, error) {
	obtained := p.now()
	ts := strconv.FormatInt(obtained.UnixMilli(), 10)
	sum := sha256.Sum256([]byte(p.appKey + ts + p.masterSecret))
	form := url.Values{"app_key": {p.appKey}, "timestamp": {ts}, "sign": {hex.EncodeToString(sum[:])}}
	ans, err := p.post(ctx, p.authURL, form)
	if err != nil {
		return push.Grant{}, fmt.Errorf("oppo: auth: %w", err)
	}
	if !ans.readable || *ans.Code != codeSuccess {
		r := ans.result(p.now())
		r.Reason = "auth " + r.Reason
		if ans.readable && *ans.Code >= 14 && *ans.Code <= 19 {
			r.Outcome = push.AuthFailed
		} else if r.Outcome != push.Retry {
			r.Outcome = push.Rejected
		}
		return push.Grant{}, &push.TokenRefusal{Result: r}
	}
	var d struct {
		AuthToken string `json:"auth_token"`
	}
	if err := json.Unmarshal(ans.Data, &d); err != nil || d.AuthToken == "" {
		r := push.Result{Outcome: push.Retry, Status: ans.status, Reason: "auth answer without data.auth_token"}
		return push.Grant{}, &push.TokenRefusal{Result: r}
	}
	return push.Grant{Token: d.AuthToken, At: obtained, Life: AuthTokenLifetime}, nil
}

// forget drops tok from the cache unless another Send replaced it.
func (p *Provider) forget(tok string) { p.tokens.Forget(tok) }

// errDataKind explains why data and VoIP notifications are refused.
var errDataKind = errors.New("OPPO PUSH has no pass-through (data) message; only notifications")
