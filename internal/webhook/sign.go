package webhook

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	mrand "math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// Request headers.
const (
	// HeaderSignature is "t=<unix seconds>,v1=<hex HMAC-SHA256>" over
	// "<t>.<body>" with the app's webhook secret.
	HeaderSignature = "Herald-Signature"
	// HeaderEventID is the event's ID, the same on every retry: receivers
	// deduplicate by it.
	HeaderEventID = "Herald-Event-Id"
	// HeaderEvent is the event's name.
	HeaderEvent = "Herald-Event"
)

// SignatureTolerance is how old a signature's timestamp Verify accepts by
// default: older requests may be replays.
const SignatureTolerance = 5 * time.Minute

// Errors of Verify.
var (
	ErrBadSignature = errors.New("webhook: signature does not match")
	ErrStale        = errors.New("webhook: signature timestamp outside the tolerance")
)

// Sign returns the Herald-Signature header value for body sent at t.
func Sign(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + mac(secret, ts, body)
}

func mac(secret, ts string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts))
	m.Write([]byte("."))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// Verify checks a Herald-Signature header against body, as a receiver
// does: the HMAC must match (compared in constant time) and its timestamp
// be within tolerance of now.
func Verify(secret, header string, body []byte, now time.Time, tolerance time.Duration) error {
	var ts, sig string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sig = v
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || sig == "" {
		return fmt.Errorf("%w: malformed header", ErrBadSignature)
	}
	if !hmac.Equal([]byte(sig), []byte(mac(secret, ts, body))) {
		return ErrBadSignature
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return ErrStale
	}
	return nil
}

// NewSecret returns a fresh signing secret: 32 random bytes, hex.
func NewSecret() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("webhook: secret: %w", err)
	}
	return "whsec_" + hex.EncodeToString(b[:]), nil
}

// Backoff is the delay before retry n (n ≥ 1 is the number of failed
// attempts so far): base·2^(n-1) capped at max, with jitter in [d/2, d].
func Backoff(base, maxDelay time.Duration, n int, rnd func() float64) time.Duration {
	if n < 1 {
		n = 1
	}
	d := float64(base) * math.Pow(2, float64(n-1))
	if d > float64(maxDelay) || math.IsInf(d, 0) {
		d = float64(maxDelay)
	}
	if rnd == nil {
		rnd = mrand.Float64
	}
	return time.Duration(d/2 + rnd()*d/2)
}
