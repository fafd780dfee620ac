package webpush

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// sender is a test application server: its VAPID key, and requests it
// builds by hand.
type sender struct {
	key *ecdsa.PrivateKey
	pub []byte
}

func newSender(t *testing.T) sender {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := k.PublicKey.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return sender{k, pub}
}

func (s sender) jwt(t *testing.T, claims jwt.MapClaims) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodES256, claims).SignedString(s.key)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// record is a well-framed aes128gcm body of n bytes in all (its content
// is random: the push service cannot decrypt anyway).
func record(t *testing.T, n int) []byte {
	t.Helper()
	k, _ := ecdh.P256().GenerateKey(rand.Reader)
	b := make([]byte, 16, n)
	_, _ = rand.Read(b)
	b = binary.BigEndian.AppendUint32(b, 4096)
	b = append(b, 65)
	b = append(b, k.PublicKey().Bytes()...)
	rest := make([]byte, n-len(b))
	_, _ = rand.Read(rest)
	return append(b, rest...)
}

func start(t *testing.T, now func() time.Time) (*Emulator, *http.Client) {
	t.Helper()
	e, err := New(Config{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Shutdown(context.Background()) })
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig.RootCAs = e.CertPool()
	c := &http.Client{Transport: tr}
	t.Cleanup(c.CloseIdleConnections)
	return e, c
}

// TestPushServiceChecks: a well-formed push is accepted with 201 and a
// Location; every rule of the package comment refuses what breaks it,
// with its status, and stores nothing.
func TestPushServiceChecks(t *testing.T) {
	now := time.Now()
	var offline atomic.Bool // the browser went offline after subscribing: pushes stay pending
	e, c := start(t, func() time.Time {
		if offline.Load() {
			return now.Add(DefaultConnectedGrace + time.Second)
		}
		return now
	})
	app := newSender(t)
	sub, err := e.Subscribe(app.pub)
	if err != nil {
		t.Fatal(err)
	}
	offline.Store(true)
	other := newSender(t)
	good := jwt.MapClaims{"aud": e.URL(), "exp": now.Add(12 * time.Hour).Unix(), "sub": "mailto:ops@example.com"}
	with := func(k string, v any) jwt.MapClaims {
		m := jwt.MapClaims{}
		for kk, vv := range good {
			m[kk] = vv
		}
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	k := base64.RawURLEncoding.EncodeToString(app.pub)
	type req struct {
		name    string
		auth    string
		headers map[string]string
		drop    string // header to leave out
		body    []byte
		url     string
		want    int
	}
	ok := "vapid t=" + app.jwt(t, good) + ", k=" + k
	cases := []req{
		{name: "accepted", auth: ok, want: 201},
		{name: "no authorization", want: 401},
		{name: "bearer scheme", auth: "Bearer " + app.jwt(t, good), want: 401},
		{name: "no k", auth: "vapid t=" + app.jwt(t, good), want: 401},
		{name: "another app's key", auth: "vapid t=" + other.jwt(t, good) + ", k=" + base64.RawURLEncoding.EncodeToString(other.pub), want: 403},
		{name: "signed by another key", auth: "vapid t=" + other.jwt(t, good) + ", k=" + k, want: 403},
		{name: "wrong aud", auth: "vapid t=" + app.jwt(t, with("aud", "https://push.example.net")) + ", k=" + k, want: 403},
		{name: "expired", auth: "vapid t=" + app.jwt(t, with("exp", now.Add(-time.Minute).Unix())) + ", k=" + k, want: 403},
		{name: "exp over 24 h", auth: "vapid t=" + app.jwt(t, with("exp", now.Add(25*time.Hour).Unix())) + ", k=" + k, want: 403},
		{name: "no exp", auth: "vapid t=" + app.jwt(t, with("exp", nil)) + ", k=" + k, want: 403},
		{name: "sub not a URI", auth: "vapid t=" + app.jwt(t, with("sub", "ops")) + ", k=" + k, want: 403},
		{name: "missing TTL", auth: ok, drop: "TTL", want: 400},
		{name: "negative TTL", auth: ok, headers: map[string]string{"TTL": "-1"}, want: 400},
		{name: "bad urgency", auth: ok, headers: map[string]string{"Urgency": "urgent"}, want: 400},
		{name: "topic too long", auth: ok, headers: map[string]string{"Topic": strings.Repeat("a", 33)}, want: 400},
		{name: "topic not base64url", auth: ok, headers: map[string]string{"Topic": "a+b"}, want: 400},
		{name: "aesgcm encoding", auth: ok, headers: map[string]string{"Content-Encoding": "aesgcm"}, want: 400},
		{name: "not a record", auth: ok, body: []byte("hello"), want: 400},
		{name: "oversize", auth: ok, body: record(t, 4097), want: 413},
		{name: "unknown subscription", auth: ok, url: e.URL() + "/push/nope", want: 404},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			body := tc.body
			if body == nil {
				body = record(t, 200)
			}
			u := tc.url
			if u == "" {
				u = sub.Endpoint
			}
			r, _ := http.NewRequest("POST", u, bytes.NewReader(body))
			h := map[string]string{"TTL": "60", "Content-Encoding": "aes128gcm", "Urgency": "high", "Topic": "t1"}
			for k, v := range tc.headers {
				h[k] = v
			}
			delete(h, tc.drop)
			for k, v := range h {
				r.Header.Set(k, v)
			}
			if tc.auth != "" {
				r.Header.Set("Authorization", tc.auth)
			}
			before := len(e.Pending(sub.ID))
			resp, err := c.Do(r)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.want)
			}
			after := len(e.Pending(sub.ID))
			if tc.want == 201 {
				if !strings.HasPrefix(resp.Header.Get("Location"), e.URL()+"/message/") || after != 1 {
					t.Fatalf("accepted: Location %q, %d pending", resp.Header.Get("Location"), after)
				}
			} else if after != before {
				t.Fatalf("a refused push changed the pending ones: %d → %d", before, after)
			}
		})
	}
}

// TestTopicReplacesPending: a push with the Topic of one still pending
// replaces it; once the browser connects both are gone from pending and
// it gets the newer one only; a push to the connected browser is
// delivered at once; a later unsubscribe answers 410.
func TestTopicReplacesPending(t *testing.T) {
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	e, c := start(t, clock)
	app := newSender(t)
	sub, _ := e.Subscribe(app.pub)
	// The browser that subscribed goes offline.
	mu.Lock()
	now = now.Add(DefaultConnectedGrace + time.Second)
	mu.Unlock()
	send := func(topic string) int {
		r, _ := http.NewRequest("POST", sub.Endpoint, bytes.NewReader(record(t, 150)))
		r.Header.Set("TTL", "600")
		r.Header.Set("Content-Encoding", "aes128gcm")
		if topic != "" {
			r.Header.Set("Topic", topic)
		}
		r.Header.Set("Authorization", "vapid t="+app.jwt(t, jwt.MapClaims{"aud": e.URL(), "exp": time.Now().Add(time.Hour).Unix(), "sub": "https://example.com/"})+", k="+base64.RawURLEncoding.EncodeToString(app.pub))
		resp, err := c.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, topic := range []string{"call-1", "", "call-1"} {
		if st := send(topic); st != 201 {
			t.Fatalf("push: %d", st)
		}
	}
	p := e.Pending(sub.ID)
	if len(p) != 2 || p[0].Topic != "" || p[1].Topic != "call-1" || e.Stats().Replaced != 1 {
		t.Fatalf("pending %+v, stats %+v", p, e.Stats())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m, err := e.Next(ctx, sub.ID, 1)
	if err != nil || m.Seq != 2 || m.Topic != "call-1" || len(e.Pending(sub.ID)) != 0 {
		t.Fatalf("second delivery %+v, %v", m, err)
	}
	// The browser has just been waiting: it is connected, and a push goes
	// to it at once instead of waiting (and being replaced) in pending.
	if st := send("call-1"); st != 201 || len(e.Pending(sub.ID)) != 0 {
		t.Fatalf("push to a connected browser: %d, pending %+v", st, e.Pending(sub.ID))
	}
	if m, err := e.Next(ctx, sub.ID, 2); err != nil || m.Seq != 3 {
		t.Fatalf("third delivery %+v, %v", m, err)
	}
	if err := e.Unsubscribe(sub.ID); err != nil {
		t.Fatal(err)
	}
	if st := send(""); st != http.StatusGone {
		t.Fatalf("push to an unsubscribed subscription: %d", st)
	}
}

// TestTTLExpiresPending: a pending push whose TTL runs out before the
// browser connects is dropped unread.
func TestTTLExpiresPending(t *testing.T) {
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	e, c := start(t, clock)
	app := newSender(t)
	sub, _ := e.Subscribe(app.pub)
	mu.Lock()
	now = now.Add(DefaultConnectedGrace + time.Second) // offline
	mu.Unlock()
	for _, ttl := range []string{"60", "3600"} {
		r, _ := http.NewRequest("POST", sub.Endpoint, bytes.NewReader(record(t, 120)))
		r.Header.Set("TTL", ttl)
		r.Header.Set("Content-Encoding", "aes128gcm")
		r.Header.Set("Authorization", "vapid t="+app.jwt(t, jwt.MapClaims{"aud": e.URL(), "exp": now.Add(time.Hour).Unix(), "sub": "mailto:a@example.com"})+", k="+base64.RawURLEncoding.EncodeToString(app.pub))
		resp, err := c.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 201 || resp.Header.Get("TTL") != ttl {
			t.Fatalf("TTL %s: %d, TTL %q", ttl, resp.StatusCode, resp.Header.Get("TTL"))
		}
	}
	mu.Lock()
	now = now.Add(61 * time.Second)
	mu.Unlock()
	if p := e.Pending(sub.ID); len(p) != 1 || p[0].TTL != 3600 || e.Stats().Expired != 1 {
		t.Fatalf("pending %+v, stats %+v", p, e.Stats())
	}
}
