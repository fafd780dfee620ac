// Package xiaomi sends pushes through Xiaomi MiPush's server REST API
// (vendors.md §4) with an app's static AppSecret, without Xiaomi's SDK.
//
// # Authentication
//
// Every request carries "Authorization: key=<AppSecret>" (lowercase
// "key=", as Xiaomi's documentation insists). There is no token exchange
// and nothing to refresh: an AuthFailed result means the secret is wrong
// or revoked, and the dispatcher's one retry will fail the same way.
//
// # What a notification becomes
//
// One POST {base}/v3/message/regid, form-encoded
// (application/x-www-form-urlencoded;charset=UTF-8), with:
//
//	registration_id          Token
//	restricted_package_name  Topic (Config.PackageName when empty)
//	pass_through             0 for KindAlert and KindVoIP, 1 for KindData
//	title, description       Title, Content, cut to fewer than
//	                         Config.MaxTitleRunes / MaxDescriptionRunes runes
//	                         (ending in "…"); required non-blank for
//	                         notifications (else push.ErrInvalidNotification)
//	payload                  Payload (at most Config.MaxPayloadBytes, else
//	                         push.ErrPayloadTooLarge)
//	notify_type              -1 (all of the user's defaults), notifications only
//	time_to_live             milliseconds until Expiration, capped at two
//	                         weeks; absent for zero Expiration (Xiaomi's
//	                         default, two weeks); a past Expiration is
//	                         push.ErrExpired and nothing is sent
//	notify_id                CollapseID when it is a non-negative int32, else
//	                         a stable 31-bit FNV hash of it; without
//	                         CollapseID a hash of ID, because without
//	                         notify_id MiPush shows only the latest of an
//	                         app's notifications
//	extra.channel_id         ChannelID, else Config.ChannelID
//	extra.<key>              each Extra entry
//
// Under Xiaomi's message classes (since 2023-02-01), extra.channel_id is
// also the message's class: an IM message must name a private-message
// (私信) channel approved in Xiaomi's console, or it counts against the
// public-message (公信) daily quota. Set Config.ChannelID to that channel.
// Extra may not use "channel_id" (ChannelID says it).
//
// KindVoIP: MiPush has no VoIP push; an incoming call is sent as a
// notification, since pass-through messages do not reach a killed app.
// Priority: MiPush has no per-message priority; it is ignored.
//
// # How MiPush's answer is translated
//
// MiPush answers HTTP 200 with a JSON body for successes and business
// errors alike: {"result":"ok"|"error","code":N,"data":{"id","bad_regids"},
// "reason","description","trace_id"}.
//
//	answer                                        outcome
//	code 0, Token not in data.bad_regids          Delivered, VendorID = data.id
//	code 0, Token in data.bad_regids              DropDevice
//	code 20301 (nothing deliverable) (1)          DropDevice
//	code 21301, 21302 (authentication failed)     AuthFailed
//	code -1, 1, 10001, 10002, 10003, 20607,       Retry (Retry-After if any)
//	  26003, 65029 (internal / busy / remote)
//	code 10027, 10030 (called too frequently)     Retry (Retry-After if any)
//	code 10034 (too many messages today)          QuotaExhausted, Until = next
//	                                              midnight UTC+8 (2)
//	code 22xxx (app, package), 27001 (channel),   Rejected
//	  10008/10016/10017/21305 (parameters),
//	  65009 (too long), any other code
//	HTTP 429, 5xx                                 Retry (Retry-After if any)
//	other non-200 HTTP, or 200 that is not JSON   Rejected / Retry (3)
//	no answer (network, timeout, cancel)          error, no Result
//
// (1) UNCONFIRMED: Xiaomi's code table says only "send failed"; mizhousoft's
// SDK treats it as "all targets invalid". For a one-regid send that is the
// regid, so the device is dropped.
//
// (2) UNCONFIRMED that Xiaomi's day is Beijing time; its console and quotas
// are in China Standard Time, which has no daylight saving.
//
// (3) A 200 whose body is not MiPush's JSON (a proxy's page) is retried;
// another HTTP status is a Rejected unless it is 429 or 5xx.
package xiaomi

import (
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/heraldim/herald/internal/push"
)

// Endpoints and limits of MiPush. Limits Xiaomi may change are Config
// fields with these as defaults.
const (
	// DefaultBaseURL is MiPush's China production host.
	DefaultBaseURL = "https://api.xmpush.xiaomi.com"
	// SendPath sends one message to a list of regIds.
	SendPath = "/v3/message/regid"
	// StatsPath is the read-only statistics query Check uses.
	StatsPath = "/v1/stats/message/counters"
	// MaxTTL is MiPush's longest offline storage: two weeks.
	MaxTTL = 14 * 24 * time.Hour
	// DefaultMaxTitleRunes: a title must be shorter than 50 characters [doc].
	DefaultMaxTitleRunes = 50
	// DefaultMaxDescriptionRunes: a description must be shorter than 128
	// characters [doc].
	DefaultMaxDescriptionRunes = 128
	// DefaultMaxPayloadBytes bounds payload. UNCONFIRMED: Xiaomi documents
	// no number (only code 65009 "message content too long"); 4 KB is the
	// common limit among the vendors.
	DefaultMaxPayloadBytes = 4096
	// DefaultTimeout bounds one HTTP exchange. 15 s: MiPush answers in well
	// under a second, and a stalled connection must not hold a dispatcher
	// worker for long.
	DefaultTimeout = 15 * time.Second
)

// maxResponseBytes bounds what is read of an answer; MiPush's are small.
const maxResponseBytes = 64 << 10

// chinaTime is UTC+8, the zone of Xiaomi's daily quotas.
var chinaTime = time.FixedZone("UTC+8", 8*60*60)

// Config configures a Provider.
type Config struct {
	// AppSecret is the app's AppSecret from Xiaomi's console. Required.
	AppSecret string
	// PackageName is the app's package: restricted_package_name when a
	// notification has no Topic, and the package Check asks about.
	// Required.
	PackageName string
	// ChannelID is extra.channel_id when a notification has none: the
	// approved private-message (私信) channel for IM. Zero: none sent.
	ChannelID string
	// BaseURL replaces MiPush's host, e.g. with an emulator's or a global
	// region's. Zero: DefaultBaseURL.
	BaseURL string
	// HTTPClient carries the requests. Zero: a client of the Provider's
	// own (TLS 1.2+, RootCAs), whose idle connections Close releases.
	HTTPClient *http.Client
	// RootCAs is the trust for the Provider's own client. Zero: the system
	// roots. Ignored with HTTPClient.
	RootCAs *x509.CertPool
	// Timeout bounds one HTTP exchange. Zero: DefaultTimeout.
	Timeout time.Duration
	// MaxTitleRunes: titles are cut to fewer runes than this. Zero:
	// DefaultMaxTitleRunes.
	MaxTitleRunes int
	// MaxDescriptionRunes: descriptions are cut to fewer runes than this.
	// Zero: DefaultMaxDescriptionRunes.
	MaxDescriptionRunes int
	// MaxPayloadBytes bounds payload (UNCONFIRMED limit). Zero:
	// DefaultMaxPayloadBytes.
	MaxPayloadBytes int
	// Now is the clock for expirations and quota resets. Zero: time.Now.
	Now func() time.Time
}

// Provider sends pushes to MiPush for one app. It is safe for concurrent
// use.
type Provider struct {
	cfg       Config
	sendURL   string
	statsURL  string
	client    *http.Client
	ownClient bool
}

var (
	_ push.Provider = (*Provider)(nil)
	_ push.Checker  = (*Provider)(nil)
)

// New checks cfg and returns a Provider. An empty AppSecret or
// PackageName, or a secret that cannot go in a header, is an error
// wrapping push.ErrCredential whose text never contains the secret. New
// makes no network call and starts no goroutine; Check proves the secret.
func New(cfg Config) (*Provider, error) {
	if strings.TrimSpace(cfg.AppSecret) == "" {
		return nil, fmt.Errorf("xiaomi: %w: empty AppSecret", push.ErrCredential)
	}
	if strings.ContainsAny(cfg.AppSecret, "\r\n\x00") || cfg.AppSecret != strings.TrimSpace(cfg.AppSecret) {
		return nil, fmt.Errorf("xiaomi: %w: AppSecret has spaces or control characters", push.ErrCredential)
	}
	if strings.TrimSpace(cfg.PackageName) == "" {
		return nil, fmt.Errorf("xiaomi: %w: empty PackageName", push.ErrCredential)
	}
	base := strings.TrimRight(cfg.BaseURL, "/")
	if base == "" {
		base = DefaultBaseURL
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("xiaomi: base URL %q is not an absolute http(s) URL", base)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxTitleRunes <= 0 {
		cfg.MaxTitleRunes = DefaultMaxTitleRunes
	}
	if cfg.MaxDescriptionRunes <= 0 {
		cfg.MaxDescriptionRunes = DefaultMaxDescriptionRunes
	}
	if cfg.MaxPayloadBytes <= 0 {
		cfg.MaxPayloadBytes = DefaultMaxPayloadBytes
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	p := &Provider{cfg: cfg, sendURL: base + SendPath, statsURL: base + StatsPath, client: cfg.HTTPClient}
	if p.client == nil {
		p.client = push.HTTPClient(cfg.RootCAs)
		p.ownClient = true
	}
	return p, nil
}

// Close releases the idle connections of the Provider's own HTTP client
// (not those of a Config.HTTPClient). The Provider stays usable.
func (p *Provider) Close() {
	if p.ownClient {
		p.client.CloseIdleConnections()
	}
}

// Send makes one attempt to deliver n; see the package comment for the
// form it posts and how the answer is translated. It returns an error
// without sending for a notification that cannot be sent (wrapping
// push.ErrInvalidNotification, push.ErrExpired or push.ErrPayloadTooLarge),
// and an error without a Result when no answer came.
func (p *Provider) Send(ctx context.Context, n push.Notification) (push.Result, error) {
	form, err := p.buildForm(n, p.cfg.Now())
	if err != nil {
		return push.Result{}, err
	}
	status, header, body, err := p.do(ctx, http.MethodPost, p.sendURL, form)
	if err != nil {
		return push.Result{}, fmt.Errorf("xiaomi: send: %w", err)
	}
	return translate(status, header, body, n.Token, p.cfg.Now()), nil
}

// Check proves the AppSecret with an authenticated, read-only round trip
// that sends nothing to any device: GET {base}/v1/stats/message/counters
// for today (Beijing time) and Config.PackageName, the statistics query of
// Xiaomi's server SDKs. A refusal of the secret (code 21301, 21302) wraps
// push.ErrCredential; a refusal of the package (22xxx) and other failures
// are plain errors.
func (p *Provider) Check(ctx context.Context) error {
	day := p.cfg.Now().In(chinaTime).Format("20060102")
	q := url.Values{"start_date": {day}, "end_date": {day}, "restricted_package_name": {p.cfg.PackageName}}
	status, header, body, err := p.do(ctx, http.MethodGet, p.statsURL+"?"+q.Encode(), nil)
	if err != nil {
		return fmt.Errorf("xiaomi: check: %w", err)
	}
	res := translate(status, header, body, "", p.cfg.Now())
	switch res.Outcome {
	case push.Delivered:
		return nil
	case push.AuthFailed:
		return fmt.Errorf("xiaomi: check: %w: %s", push.ErrCredential, res.Reason)
	}
	return fmt.Errorf("xiaomi: check: HTTP %d: %s", status, res.Reason)
}

// do makes one authenticated request, form-encoding form as the body when
// it is not nil, and returns the answer read up to maxResponseBytes.
func (p *Provider) do(ctx context.Context, method, u string, form url.Values) (int, http.Header, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header.Set("Authorization", "key="+p.cfg.AppSecret)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded;charset=UTF-8")
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
