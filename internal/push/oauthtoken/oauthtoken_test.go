package oauthtoken_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldim/herald/internal/push"
	"github.com/heraldim/herald/internal/push/oauthtoken"
)

// TestExchange: the form posted, and how each answer of the token endpoint
// becomes a token or a refusal's Result.
func TestExchange(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tt := range []struct {
		name    string
		status  int
		header  map[string]string
		body    string
		reason  func(oauthtoken.Answer) string
		token   string        // the token got; "" when refused
		cached  time.Duration // how long it is cached
		outcome push.Outcome
		want    string // the Reason, or part of it
		retry   time.Duration
	}{
		{name: "token", status: 200, body: `{"access_token":"A","expires_in":1800,"token_type":"Bearer"}`,
			token: "A", cached: 25 * time.Minute},
		{name: "no expires_in: an hour", status: 200, body: `{"access_token":"A"}`,
			token: "A", cached: 55 * time.Minute},
		{name: "RFC 6749 error", status: 401, body: `{"error":"invalid_client","error_description":"bad secret"}`,
			outcome: push.AuthFailed, want: "oauth2 invalid_client: bad secret"},
		{name: "numeric error without a Reason of the vendor's", status: 400, body: `{"error":1101}`,
			outcome: push.AuthFailed, want: "HTTP 400"},
		{name: "numeric error with sub_error, the vendor's Reason", status: 400,
			body:    `{"error":1101,"sub_error":20001,"error_description":"wrong"}`,
			reason:  func(a oauthtoken.Answer) string { return "v " + string(a.Error) + "/" + string(a.SubError) },
			outcome: push.AuthFailed, want: "v 1101/20001"},
		{name: "throttled", status: 429, header: map[string]string{"Retry-After": "7"}, body: `{}`,
			outcome: push.Retry, want: "HTTP 429", retry: 7 * time.Second},
		{name: "server fault", status: 503, body: `not json`, outcome: push.Retry, want: "HTTP 503"},
		{name: "200 without a token", status: 200, body: `{"token_type":"Bearer"}`,
			outcome: push.Retry, want: "HTTP 200 (no access_token)"},
		{name: "a long description is clipped", status: 400, body: `{"error":"x","error_description":"` + strings.Repeat("d", 400) + `"}`,
			outcome: push.AuthFailed, want: strings.Repeat("d", 290) + "…"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var form atomic.Value
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if err := r.ParseForm(); err != nil || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
					t.Errorf("request: %v %q", err, r.Header.Get("Content-Type"))
				}
				form.Store(r.PostForm.Encode())
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			}))
			defer srv.Close()
			now := start
			c := oauthtoken.New(oauthtoken.Config{Name: "v", URL: srv.URL, ClientID: "id", ClientSecret: "s&cret",
				HTTPClient: srv.Client(), Timeout: 5 * time.Second, Now: func() time.Time { return now },
				Margin: 5 * time.Minute, Reason: tt.reason})
			tok, err := c.Token(context.Background(), false)
			if f := form.Load(); f != "client_id=id&client_secret=s%26cret&grant_type=client_credentials" {
				t.Errorf("form %v", f)
			}
			if tt.token != "" {
				if err != nil || tok != tt.token {
					t.Fatalf("Token = %q, %v", tok, err)
				}
				now = start.Add(tt.cached - time.Second)
				if c.Cached() != tt.token {
					t.Errorf("not cached %v", tt.cached-time.Second)
				}
				now = start.Add(tt.cached)
				if c.Cached() != "" {
					t.Errorf("cached past %v", tt.cached)
				}
				return
			}
			var oe *oauthtoken.Error
			if !errors.As(err, &oe) {
				t.Fatalf("Token = %q, %v; want an *oauthtoken.Error", tok, err)
			}
			res := oe.Result()
			if res.Outcome != tt.outcome || !strings.Contains(res.Reason, tt.want) || res.RetryAfter != tt.retry {
				t.Fatalf("Result %+v, want %v %q retry %v", res, tt.outcome, tt.want, tt.retry)
			}
			if c.Cached() != "" {
				t.Fatalf("a refusal cached %q", c.Cached())
			}
		})
	}
}

// TestExchangeNoAnswer: a token endpoint that does not answer is an error
// (not a refusal) that names the vendor.
func TestExchangeNoAnswer(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	c := oauthtoken.New(oauthtoken.Config{Name: "v", URL: url, ClientID: "id", ClientSecret: "s", HTTPClient: http.DefaultClient})
	_, err := c.Token(context.Background(), false)
	var oe *oauthtoken.Error
	if err == nil || errors.As(err, &oe) || !strings.HasPrefix(err.Error(), "v: token exchange: ") {
		t.Fatalf("Token: %v", err)
	}
}
