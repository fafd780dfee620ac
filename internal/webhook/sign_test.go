package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"testing"
	"time"
)

func TestSignVerify(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	body := []byte(`{"id":"evt_1","event":"message.sent"}`)
	h := Sign("s3cret-s3cret-s3cret", now, body)

	// The documented recipe, written out independently.
	m := hmac.New(sha256.New, []byte("s3cret-s3cret-s3cret"))
	m.Write([]byte(strconv.FormatInt(now.Unix(), 10) + "." + string(body)))
	if want := "t=1800000000,v1=" + hex.EncodeToString(m.Sum(nil)); h != want {
		t.Fatalf("Sign = %q, want %q", h, want)
	}
	for _, tc := range []struct {
		name   string
		secret string
		header string
		body   []byte
		now    time.Time
		want   error
	}{
		{"valid", "s3cret-s3cret-s3cret", h, body, now, nil},
		{"valid within tolerance", "s3cret-s3cret-s3cret", h, body, now.Add(4 * time.Minute), nil},
		{"other secret", "another-secret-xx", h, body, now, ErrBadSignature},
		{"body changed", "s3cret-s3cret-s3cret", h, []byte(`{"id":"evt_2"}`), now, ErrBadSignature},
		{"stale", "s3cret-s3cret-s3cret", h, body, now.Add(6 * time.Minute), ErrStale},
		{"malformed", "s3cret-s3cret-s3cret", "v1=abc", body, now, ErrBadSignature},
		{"timestamp changed", "s3cret-s3cret-s3cret", "t=1800000001" + h[len("t=1800000000"):], body, now, ErrBadSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Verify(tc.secret, tc.header, tc.body, tc.now, SignatureTolerance)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	base, maxD := time.Second, time.Minute
	for _, tc := range []struct {
		n        int
		rnd      float64
		min, max time.Duration
	}{
		{1, 0, 500 * time.Millisecond, 500 * time.Millisecond},
		{1, 0.999999, 999 * time.Millisecond, time.Second},
		{2, 0, time.Second, time.Second},
		{3, 0.5, 3 * time.Second, 3 * time.Second},
		{7, 0, 30 * time.Second, 30 * time.Second}, // 64 s capped at 60 s, halved
		{100, 0.999999, 59 * time.Second, time.Minute},
		{0, 0, 500 * time.Millisecond, 500 * time.Millisecond},
	} {
		d := Backoff(base, maxD, tc.n, func() float64 { return tc.rnd })
		if d < tc.min || d > tc.max {
			t.Errorf("Backoff(n=%d, rnd=%v) = %v, want %v..%v", tc.n, tc.rnd, d, tc.min, tc.max)
		}
	}
	// The defaults' schedule spans about a day.
	var total time.Duration
	for n := 1; n < 12; n++ {
		total += Backoff(time.Minute, 6*time.Hour, n, func() float64 { return 1 })
	}
	if total < 18*time.Hour || total > 30*time.Hour {
		t.Errorf("default schedule spans %v, want about a day", total)
	}
}

func TestNewSecret(t *testing.T) {
	a, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewSecret()
	if a == b || len(a) != len("whsec_")+64 {
		t.Fatalf("secrets %q, %q", a, b)
	}
}
