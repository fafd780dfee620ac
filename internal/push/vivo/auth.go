package vivo

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
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
	if !force {
		if tok := p.cached(); tok != "" {
			return tok, nil, nil
		}
	}
	select {
	case p.sem <- struct{}{}:
	case <-ctx.Done():
		return "", nil, ctx.Err()
	}
	defer func() { <-p.sem }()
	if !force {
		// Another Send may have fetched one while this one waited.
		if tok := p.cached(); tok != "" {
			return tok, nil, nil
		}
		p.mu.Lock()
		refused := p.refused
		p.mu.Unlock()
		// Another node may have obtained one.
		if t, ok := p.shared.Load(ctx, p.now(), 0, refused); ok {
			p.mu.Lock()
			p.token, p.refreshAt = t.Token, t.Expires.Add(-0)
			p.mu.Unlock()
			return t.Token, nil, nil
		}
	}
	now := p.now()
	ts := now.UnixMilli()
	body, err := json.Marshal(authRequest{
		AppID:     json.Number(p.cfg.AppID),
		AppKey:    p.cfg.AppKey,
		Timestamp: ts,
		Sign:      sign(p.cfg.AppID, p.cfg.AppKey, ts, p.cfg.AppSecret),
	})
	if err != nil {
		return "", nil, fmt.Errorf("vivo: auth: %w", err)
	}
	status, header, raw, err := p.post(ctx, p.authURL, "", body)
	if err != nil {
		return "", nil, fmt.Errorf("vivo: auth: %w", err)
	}
	if status >= 500 {
		return "", &push.Result{Outcome: push.Retry, Status: status, Reason: "auth: HTTP " + strconv.Itoa(status),
			RetryAfter: push.ParseRetryAfter(header.Get("Retry-After"), p.now())}, nil
	}
	var a authAnswer
	if status != http.StatusOK || json.Unmarshal(raw, &a) != nil || a.Result == nil {
		return "", &push.Result{Outcome: push.Retry, Status: status,
			Reason: fmt.Sprintf("auth: unreadable answer (HTTP %d)", status)}, nil
	}
	switch {
	case *a.Result == CodeOK && a.AuthToken != "":
	case *a.Result == CodeOK:
		return "", &push.Result{Outcome: push.Retry, Status: status, Reason: "auth: answer without authToken"}, nil
	case *a.Result == CodeAuthTooFrequent:
		return "", &push.Result{Outcome: push.Retry, Status: status, RetryAfter: time.Second,
			Reason: fmt.Sprintf("auth %d: %s", *a.Result, a.Desc)}, nil
	default:
		return "", &push.Result{Outcome: push.AuthFailed, Status: status,
			Reason: fmt.Sprintf("auth %d: %s", *a.Result, a.Desc)}, nil
	}
	p.mu.Lock()
	p.token, p.refreshAt = a.AuthToken, now.Add(p.cfg.TokenRefresh)
	p.mu.Unlock()
	// Stored with the time it stops being used (TokenRefresh), not vivo's
	// 24 h: no node uses it longer than the one that obtained it.
	p.shared.Save(ctx, push.AccessToken{Token: a.AuthToken, Expires: now.Add(p.cfg.TokenRefresh)})
	return a.AuthToken, nil, nil
}

func (p *Provider) cached() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.token != "" && p.now().Before(p.refreshAt) {
		return p.token
	}
	return ""
}

// forget drops tok from the cache if it is still the cached token.
func (p *Provider) forget(tok string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.refused = tok
	if p.token == tok {
		p.token = ""
	}
}
