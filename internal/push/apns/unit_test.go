package apns

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldim/herald/internal/push"
)

func TestClassify(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		status int
		reason string
		want   push.Outcome
	}{
		{200, "", push.Delivered},
		{400, ReasonBadDeviceToken, push.DropDevice},
		{400, ReasonDeviceTokenNotForTopic, push.Rejected},
		{400, ReasonIdleTimeout, push.Retry},
		{400, ReasonBadCollapseID, push.Rejected},
		{400, ReasonBadExpirationDate, push.Rejected},
		{400, ReasonBadMessageID, push.Rejected},
		{400, ReasonBadPriority, push.Rejected},
		{400, ReasonBadTopic, push.Rejected},
		{400, ReasonDuplicateHeaders, push.Rejected},
		{400, ReasonInvalidPushType, push.Rejected},
		{400, ReasonMissingDeviceToken, push.Rejected},
		{400, ReasonMissingTopic, push.Rejected},
		{400, ReasonPayloadEmpty, push.Rejected},
		{400, ReasonTopicDisallowed, push.Rejected},
		{400, "SomethingNew", push.Rejected},
		{403, ReasonExpiredProviderToken, push.Deferred},
		{403, ReasonInvalidProviderToken, push.AuthFailed},
		{403, ReasonMissingProviderToken, push.AuthFailed},
		{403, ReasonBadCertificate, push.AuthFailed},
		{403, ReasonBadCertificateEnvironment, push.AuthFailed},
		{403, ReasonForbidden, push.Rejected},
		{404, ReasonBadPath, push.Rejected},
		{405, ReasonMethodNotAllowed, push.Rejected},
		{410, ReasonUnregistered, push.DropDevice},
		{410, ReasonExpiredToken, push.DropDevice},
		{410, "", push.DropDevice},
		{413, ReasonPayloadTooLarge, push.Rejected},
		{429, ReasonTooManyRequests, push.Retry},
		{429, ReasonTooManyProviderTokenUpdates, push.Deferred},
		{500, ReasonInternalServerError, push.Retry},
		{503, ReasonServiceUnavailable, push.Retry},
		{503, ReasonShutdown, push.Retry},
		{502, "", push.Retry},
		{401, "", push.Rejected},
	}
	for _, tt := range tests {
		h := http.Header{}
		h.Set("apns-id", "id-1")
		h.Set("Retry-After", "7")
		got := classify(tt.status, tt.reason, h, now)
		if got.Outcome != tt.want || got.Status != tt.status || got.Reason != tt.reason {
			t.Errorf("%d %s: %+v, want %s", tt.status, tt.reason, got, tt.want)
		}
		if tt.want == push.Retry && got.RetryAfter != 7*time.Second {
			t.Errorf("%d %s: RetryAfter %s", tt.status, tt.reason, got.RetryAfter)
		}
		if tt.want != push.Retry && got.RetryAfter != 0 {
			t.Errorf("%d %s: RetryAfter %s on a non-retry", tt.status, tt.reason, got.RetryAfter)
		}
		// Deferred waits until Until, never Retry-After: 429
		// TooManyProviderTokenUpdates at most Apple's 20 minutes (the
		// provider brings it closer when its token's age allows),
		// ExpiredProviderToken not at all (a new token is made at once).
		wantUntil := time.Time{}
		if tt.reason == ReasonTooManyProviderTokenUpdates {
			wantUntil = now.Add(20 * time.Minute)
		}
		if !got.Until.Equal(wantUntil) {
			t.Errorf("%d %s: Until %s, want %s", tt.status, tt.reason, got.Until, wantUntil)
		}
		if (tt.want == push.Delivered) != (got.VendorID == "id-1") {
			t.Errorf("%d %s: VendorID %q", tt.status, tt.reason, got.VendorID)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"30", 30 * time.Second},
		{" 5 ", 5 * time.Second},
		{"0", 0},
		{"-3", 0},
		{"soon", 0},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
	} {
		if got := parseRetryAfter(tt.in, now); got != tt.want {
			t.Errorf("%q: %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestParseReason(t *testing.T) {
	for in, want := range map[string]string{
		``:                      "",
		`{"reason":"BadTopic"}`: "BadTopic",
		`{"reason":"Unregistered","timestamp":1700000}`: "Unregistered",
		`<html>bad gateway</html>`:                      "",
	} {
		if got := parseReason([]byte(in)); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}

func TestPriorityAndTopic(t *testing.T) {
	tok := strings.Repeat("ab", 32)
	tests := []struct {
		kind     push.Kind
		priority push.Priority
		pushType string
		topic    string
		prio     string
	}{
		{push.KindAlert, push.PriorityHigh, "alert", "com.x", "10"},
		{push.KindAlert, "", "alert", "com.x", "10"},
		{push.KindAlert, push.PriorityNormal, "alert", "com.x", "5"},
		{"", "", "alert", "com.x", "10"},
		{push.KindData, push.PriorityHigh, "background", "com.x", "5"},
		{push.KindData, push.PriorityNormal, "background", "com.x", "5"},
		{push.KindVoIP, push.PriorityHigh, "voip", "com.x.voip", "10"},
		{push.KindVoIP, push.PriorityNormal, "voip", "com.x.voip", "5"},
	}
	for _, tt := range tests {
		r, err := buildRequest(push.Notification{Token: tok, Environment: push.Production, Kind: tt.kind,
			Priority: tt.priority, Topic: "com.x", ID: "7F3C2B9A-1D2E-4F50-8A6B-0C1D2E3F4A5B"}, time.Now(), 4096, 5120)
		if err != nil {
			t.Fatalf("%s/%s: %v", tt.kind, tt.priority, err)
		}
		h := r.header
		if h.Get("apns-push-type") != tt.pushType || h.Get("apns-topic") != tt.topic || h.Get("apns-priority") != tt.prio {
			t.Errorf("%s/%s: %s %s %s", tt.kind, tt.priority, h.Get("apns-push-type"), h.Get("apns-topic"), h.Get("apns-priority"))
		}
		if h.Get("apns-id") != "7f3c2b9a-1d2e-4f50-8a6b-0c1d2e3f4a5b" {
			t.Errorf("apns-id %q, want the canonical lowercase form", h.Get("apns-id"))
		}
	}
}

func TestTokenSourceRefresh(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	keyPEM := pkcs8(t, mustP256(t))
	ts, err := newTokenSource(keyPEM, "KEY0000001", "TEAM000001", DefaultTokenRefresh, clock)
	if err != nil {
		t.Fatal(err)
	}
	get := func() string {
		tok, err := ts.token(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	expired := func(tok string) bool {
		fresh, err := ts.expired(context.Background(), tok)
		if err != nil {
			t.Fatal(err)
		}
		return fresh
	}

	// Concurrent first use makes one token.
	var wg sync.WaitGroup
	toks := make([]string, 20)
	for i := range toks {
		wg.Add(1)
		go func() { defer wg.Done(); toks[i] = get() }()
	}
	wg.Wait()
	first := toks[0]
	for _, tok := range toks {
		if tok != first {
			t.Fatal("concurrent callers got different tokens")
		}
	}

	advance(49 * time.Minute)
	if get() != first {
		t.Fatal("token replaced before the refresh age")
	}
	advance(time.Minute)
	second := get()
	if second == first {
		t.Fatal("token not replaced at the refresh age")
	}
	ts.accept(second)

	// Called expired at 5 minutes old: replaced at once (no 20-minute
	// floor: keeping it would fail every push until then).
	advance(5 * time.Minute)
	if !expired(second) {
		t.Fatal("expired token not replaced")
	}
	third := get()
	if third == second {
		t.Fatal("expired token still in use")
	}
	// An answer about an old token does not touch the current one.
	if !expired(first) || get() != third {
		t.Fatal("an answer about an older token replaced the current one")
	}
	// The replacement refused as expired before APNs ever accepted it: our
	// clock is over an hour behind Apple's; no new token is made.
	if expired(third) {
		t.Fatal("a just-made token refused as expired was replaced: tokens would be made in a loop")
	}
	if get() != third {
		t.Fatal("token replaced after a clock error")
	}
	advance(20 * time.Minute)
	if get() != third {
		t.Fatal("token replaced at 20 minutes")
	}
	// A clock stepping back keeps the token.
	advance(-2 * time.Hour)
	if get() != third {
		t.Fatal("token replaced when the clock stepped back")
	}
}
