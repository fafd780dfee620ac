package fcm

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/heraldim/herald/internal/push"
)

// serviceAccount is the part of a Google service account key file that
// the JWT-bearer flow needs.
type serviceAccount struct {
	Type         string `json:"type"`
	ProjectID    string `json:"project_id"`
	PrivateKeyID string `json:"private_key_id"`
	PrivateKey   string `json:"private_key"`
	ClientEmail  string `json:"client_email"`
	TokenURI     string `json:"token_uri"`
}

func credentialError(format string, args ...any) error {
	return fmt.Errorf("fcm: service account: %s: %w", fmt.Sprintf(format, args...), push.ErrCredential)
}

// parseServiceAccount decodes and checks a service account key file. Its
// errors say what is wrong without quoting the file: a JSON error is
// reported by offset only, since its text could quote part of the key.
func parseServiceAccount(data []byte) (*serviceAccount, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, credentialError("no service account JSON")
	}
	var sa serviceAccount
	if err := json.Unmarshal(data, &sa); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			return nil, credentialError("not valid JSON (syntax error at byte %d)", se.Offset)
		case errors.As(err, &te):
			return nil, credentialError("field %q is not a %s", te.Field, te.Type)
		default:
			return nil, credentialError("not valid JSON")
		}
	}
	switch {
	case sa.Type != "service_account":
		return nil, credentialError("type is %q, want \"service_account\"", sa.Type)
	case sa.ProjectID == "":
		return nil, credentialError("project_id is missing")
	case sa.ClientEmail == "":
		return nil, credentialError("client_email is missing")
	case strings.TrimSpace(sa.PrivateKey) == "":
		return nil, credentialError("private_key is missing")
	}
	if err := checkRSAKey(sa.PrivateKey); err != nil {
		return nil, err
	}
	return &sa, nil
}

// checkRSAKey accepts what the signer accepts: a PEM block holding a PKCS#8
// or PKCS#1 RSA private key. Errors never quote the key or the parser's
// message about it.
func checkRSAKey(s string) error {
	block, rest := pem.Decode([]byte(s))
	if block == nil {
		return credentialError("private_key is not PEM-encoded")
	}
	if strings.TrimSpace(string(rest)) != "" {
		return credentialError("private_key has data after its PEM block")
	}
	var key any
	var err error
	if key, err = x509.ParsePKCS8PrivateKey(block.Bytes); err != nil {
		if key, err = x509.ParsePKCS1PrivateKey(block.Bytes); err != nil {
			return credentialError("private_key does not parse as a PKCS#8 or PKCS#1 private key")
		}
	}
	if _, ok := key.(*rsa.PrivateKey); !ok {
		return credentialError("private_key is not an RSA key (RS256 needs one)")
	}
	return nil
}

// oauthError is the token endpoint's refusal of the assertion, an answer
// rather than a transport failure.
type oauthError struct {
	status      int
	code        string // RFC 6749 "error", e.g. invalid_grant
	description string // "error_description"
	retryAfter  time.Duration
}

func (e *oauthError) Error() string {
	return fmt.Sprintf("fcm: token endpoint answered %d: %s", e.status, e.reason())
}

func (e *oauthError) reason() string {
	r := "oauth2 " + e.code
	if e.code == "" {
		r = fmt.Sprintf("oauth2 HTTP %d", e.status)
	}
	if e.description != "" {
		r += ": " + e.description
	}
	return clip(r)
}

// result translates the refusal: a server fault or throttling is retried,
// anything else (invalid_grant for a bad signature, a deleted account, a
// clock far off) says the credential is refused.
func (e *oauthError) result() push.Result {
	res := push.Result{Status: e.status, Reason: e.reason(), Outcome: push.AuthFailed}
	if e.status == http.StatusTooManyRequests || e.status >= 500 {
		res.Outcome = push.Retry
		res.RetryAfter = e.retryAfter
	}
	return res
}

// accessToken returns the cached access token, or exchanges a new
// assertion for one when there is none, it is about to expire, or fresh
// is set (Check).
func (p *Provider) accessToken(ctx context.Context, fresh bool) (string, error) {
	tok, err := p.tokens.Token(ctx, fresh, p.exchange)
	if err != nil {
		var oe *oauthError
		if errors.As(err, &oe) {
			return "", err
		}
		return "", fmt.Errorf("fcm: access token: %w", err)
	}
	return tok, nil
}

// forget drops tok from the cache after FCM refused it, unless another
// Send already replaced it with a newer one.
func (p *Provider) forget(tok string) { p.tokens.Forget(tok) }

// exchange runs one JWT-bearer grant with golang.org/x/oauth2/jwt and
// returns the access token and its lifetime, counted from the answer. The
// jwt package posts with no context of its own, so the HTTP client it is
// handed binds every request to ctx (with the Provider's timeout): a
// shutdown does not wait for a stalled token endpoint.
func (p *Provider) exchange(ctx context.Context) (push.Grant, error) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	base := p.client.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	hc := &http.Client{Transport: ctxTransport{ctx: ctx, base: base}}
	tok, err := p.jwt.TokenSource(context.WithValue(ctx, oauth2.HTTPClient, hc)).Token()
	if err != nil {
		if ctx.Err() != nil {
			// The jwt package flattens transport errors into text; report
			// the context's error so that errors.Is works for callers.
			return push.Grant{}, ctx.Err()
		}
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.Response != nil {
			return push.Grant{}, newOAuthError(re, p.now())
		}
		return push.Grant{}, err
	}
	if tok.AccessToken == "" {
		return push.Grant{}, errors.New("the token endpoint answered without access_token")
	}
	return push.Grant{Token: tok.AccessToken, At: p.now(), Life: tokenLifetime(tok)}, nil
}

func newOAuthError(re *oauth2.RetrieveError, now time.Time) *oauthError {
	e := &oauthError{
		status:     re.Response.StatusCode,
		retryAfter: retryAfter(re.Response.Header, now),
	}
	var body struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if json.Unmarshal(re.Body, &body) == nil {
		e.code, e.description = body.Error, body.Description
	}
	return e
}

// tokenLifetime reads expires_in from the answer rather than the token's
// Expiry, which the jwt package computes with the wall clock, not p.now.
// Without it, five minutes: short enough to be safe, long enough not to
// hammer the endpoint.
func tokenLifetime(tok *oauth2.Token) time.Duration {
	switch v := tok.Extra("expires_in").(type) {
	case float64:
		if v > 0 {
			return time.Duration(v * float64(time.Second))
		}
	case int64:
		if v > 0 {
			return time.Duration(v) * time.Second
		}
	}
	return 5 * time.Minute
}

// ctxTransport sends every request with ctx.
type ctxTransport struct {
	ctx  context.Context
	base http.RoundTripper
}

func (t ctxTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return t.base.RoundTrip(r.WithContext(t.ctx))
}
