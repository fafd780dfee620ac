// Package oauthtoken is the OAuth 2.0 client-credentials access-token
// client of the vendors that issue one (Huawei Push Kit, Honor Push): POST
// to the token URL a form of grant_type=client_credentials, client_id and
// client_secret (RFC 6749 §4.4); the answer is
// {"access_token","expires_in","token_type"} or an error
// {"error","error_description"} (RFC 6749 §5.1, §5.2). The token is kept
// in a push.TokenCache: reused by every Send until shortly before it
// expires, shared with the other nodes through the token store, fetched
// once for concurrent Sends that find none.
package oauthtoken

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/heraldim/herald/internal/push"
)

const (
	// DefaultLife is the token's lifetime when the answer has no
	// expires_in: an hour, what Huawei documents.
	DefaultLife = time.Hour
	// maxAnswerBytes bounds what is read of an answer.
	maxAnswerBytes = 64 << 10
	// maxReason bounds a Reason's vendor text, to a size fit for a trace.
	maxReason = 300
)

// Answer is the token endpoint's answer, success or error. Error and
// SubError (Huawei's) are kept raw: a vendor may send them as strings or
// numbers.
type Answer struct {
	AccessToken      string          `json:"access_token"`
	ExpiresIn        int64           `json:"expires_in"`
	TokenType        string          `json:"token_type"`
	Error            json.RawMessage `json:"error"`
	SubError         json.RawMessage `json:"sub_error"`
	ErrorDescription string          `json:"error_description"`
}

// Config configures a Client.
type Config struct {
	// Name prefixes errors ("huawei": "huawei: token exchange: ...").
	Name string
	// URL is the token endpoint. Required.
	URL string
	// ClientID and ClientSecret are the form's client_id and
	// client_secret. Required.
	ClientID     string
	ClientSecret string
	// HTTPClient carries the exchange. Required.
	HTTPClient *http.Client
	// Timeout bounds one exchange. Zero: none beyond the caller's context.
	Timeout time.Duration
	// Now is the clock. Zero: time.Now.
	Now func() time.Time
	// Margin is how long before its expiry a token is replaced (at most
	// half its lifetime).
	Margin time.Duration
	// Reason is the Reason of an error answer, "" when the answer holds
	// no error (the Reason is then "HTTP <status>"). Zero: [RFC6749Reason].
	Reason func(Answer) string
	// Shared shares the token with the other nodes. Zero: not shared.
	Shared push.SharedToken
}

// Client fetches and caches one account's access token. It is safe for
// concurrent use.
type Client struct {
	cfg   Config
	cache *push.TokenCache
}

// New returns a Client; it makes no network call.
func New(cfg Config) *Client {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Reason == nil {
		cfg.Reason = RFC6749Reason
	}
	return &Client{cfg: cfg, cache: push.NewTokenCache(cfg.Shared, cfg.Margin, cfg.Now)}
}

// Token returns the cached token or fetches one; fresh bypasses the cache
// and the store (Check), then refills them. A refusal by the endpoint is
// an *Error; no answer is another error.
func (c *Client) Token(ctx context.Context, fresh bool) (string, error) {
	return c.cache.Token(ctx, fresh, c.fetch)
}

// Cached returns the cached token while it is usable, "" otherwise.
func (c *Client) Cached() string { return c.cache.Cached() }

// Forget drops tok, which the vendor refused, unless it was replaced.
func (c *Client) Forget(tok string) { c.cache.Forget(tok) }

// fetch runs one client-credentials exchange.
func (c *Client) fetch(ctx context.Context) (push.Grant, error) {
	form := url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {c.cfg.ClientID},
		"client_secret": {c.cfg.ClientSecret},
	}
	start := c.cfg.Now()
	status, header, raw, err := c.post(ctx, []byte(form.Encode()))
	if err != nil {
		return push.Grant{}, fmt.Errorf("%s: token exchange: %w", c.cfg.Name, err)
	}
	var ans Answer
	jerr := json.Unmarshal(raw, &ans)
	if status != http.StatusOK || jerr != nil || ans.AccessToken == "" {
		reason := fmt.Sprintf("HTTP %d", status)
		if r := c.cfg.Reason(ans); r != "" {
			reason = r
		}
		if status == http.StatusOK {
			status = http.StatusBadGateway // an answer without a token: treat as a server fault
			reason += " (no access_token)"
		}
		if len(reason) > maxReason {
			reason = reason[:maxReason] + "…"
		}
		return push.Grant{}, &Error{status: status, header: header, reason: reason, now: c.cfg.Now()}
	}
	life := time.Duration(ans.ExpiresIn) * time.Second
	if life <= 0 {
		life = DefaultLife
	}
	return push.Grant{Token: ans.AccessToken, At: start, Life: life}, nil
}

func (c *Client) post(ctx context.Context, body []byte) (int, http.Header, []byte, error) {
	if c.cfg.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.cfg.Timeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes))
	if err != nil {
		return 0, nil, nil, fmt.Errorf("reading the answer: %w", err)
	}
	return resp.StatusCode, resp.Header, raw, nil
}

// RFC6749Reason is "oauth2 <error>: <error_description>" when error is a
// JSON string, "" otherwise.
func RFC6749Reason(a Answer) string {
	var code string
	if json.Unmarshal(a.Error, &code) != nil || code == "" {
		return ""
	}
	r := "oauth2 " + code
	if a.ErrorDescription != "" {
		r += ": " + a.ErrorDescription
	}
	return r
}

// Error is a refusal by the token endpoint: an answer, not a transport
// failure.
type Error struct {
	status int
	header http.Header
	reason string
	now    time.Time
}

func (e *Error) Error() string {
	return fmt.Sprintf("token endpoint answered %d: %s", e.status, e.reason)
}

// Result translates the refusal as a Send's outcome: 429 and 5xx are
// retried (after Retry-After if present); anything else (400, 401, 403:
// the credential) is AuthFailed.
func (e *Error) Result() push.Result {
	res := push.Result{Status: e.status, Reason: e.reason}
	switch {
	case e.status == http.StatusTooManyRequests || e.status >= 500:
		res.Outcome = push.Retry
		res.RetryAfter = push.ParseRetryAfter(e.header.Get("Retry-After"), e.now)
	default:
		res.Outcome = push.AuthFailed
	}
	return res
}
