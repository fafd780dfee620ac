package vivo

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/heraldim/herald/internal/push"
)

// authRequest is the body of /message/auth. appId is a number in vivo's
// examples; New checked that it is one.
type authRequest struct {
	AppID     json.Number `json:"appId"`
	AppKey    string      `json:"appKey"`
	Timestamp int64       `json:"timestamp"`
	Sign      string      `json:"sign"`
}

type authAnswer struct {
	Result    *int   `json:"result"`
	Desc      string `json:"desc"`
	AuthToken string `json:"authToken"`
}

// sign is vivo's auth signature: the lowercase hex MD5 of appId, appKey,
// timestamp (ms) and appSecret, concatenated without separators.
func sign(appID, appKey string, ts int64, appSecret string) string {
	sum := md5.Sum([]byte(appID + appKey + strconv.FormatInt(ts, 10) + appSecret))
	return hex.EncodeToString(sum[:])
}

// authToken returns the cached token, or fetches one when there is none,
// it is due for refresh, or force is set. A refusal by /message/auth comes
// back as a Result (AuthFailed, Retry or Rejected); no answer as an error.
func (p *Provider) authToken(ctx context.Context, force bool) (string, *push.Result, error) {
	tok, err := p.tokens.Token(ctx, force, p.auth)
	if r := (*push.TokenRefusal)(nil); errors.As(err, &r) {
		return "", &r.Result, nil
	}
	return tok, nil, err
}

// auth makes one /message/auth call; vivo's refusal is a
// *push.TokenRefusal.
func (p *Provider) auth(ctx context.Context) (push.Grant, error) {
	now := p.now()
	ts := now.UnixMilli()
	body, err := json.Marshal(authRequest{
		AppID:     json.Number(p.cfg.AppID),
		AppKey:    p.cfg.AppKey,
		Timestamp: ts,
		Sign:      sign(p.cfg.AppID, p.cfg.AppKey, ts, p.cfg.AppSecret),
	})
	if err != nil {
		return push.Grant{}, fmt.Errorf("vivo: auth: %w", err)
	}
	status, header, raw, err := p.post(ctx, p.authURL, "", body)
	if err != nil {
		return push.Grant{}, fmt.Errorf("vivo: auth: %w", err)
	}
	if status >= 500 {
		return refusal(push.Result{Outcome: push.Retry, Status: status, Reason: "auth: HTTP " + strconv.Itoa(status),
			RetryAfter: push.ParseRetryAfter(header.Get("Retry-After"), p.now())})
	}
	var a authAnswer
	if status != http.StatusOK || json.Unmarshal(raw, &a) != nil || a.Result == nil {
		return refusal(push.Result{Outcome: push.Retry, Status: status,
			Reason: fmt.Sprintf("auth: unreadable answer (HTTP %d)", status)})
	}
	switch {
	case *a.Result == CodeOK && a.AuthToken != "":
	case *a.Result == CodeOK:
		return refusal(push.Result{Outcome: push.Retry, Status: status, Reason: "auth: answer without authToken"})
	case *a.Result == CodeAuthTooFrequent:
		return refusal(push.Result{Outcome: push.Retry, Status: status, RetryAfter: time.Second,
			Reason: fmt.Sprintf("auth %d: %s", *a.Result, a.Desc)})
	default:
		return refusal(push.Result{Outcome: push.AuthFailed, Status: status,
			Reason: fmt.Sprintf("auth %d: %s", *a.Result, a.Desc)})
	}
	// Used, and stored, for TokenRefresh, not vivo's 24 h: no node uses it
	// longer than the one that obtained it.
	return push.Grant{Token: a.AuthToken, At: now, Life: p.cfg.TokenRefresh}, nil
}

// refusal is vivo's refusal of an auth call, r being what a Send returns.
func refusal(r push.Result) (push.Grant, error) {
	return push.Grant{}, &push.TokenRefusal{Result: r}
}

// forget drops tok from the cache if it is still the cached token.
func (p *Provider) forget(tok string) { p.tokens.Forget(tok) }
