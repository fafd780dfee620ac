package apns

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	teamID   = "TEAM000001"
	keyID    = "KEY0000001"
	bundleID = "com.example.chat"
)

// clock is a settable clock shared by a test and the emulator.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// fixture is a started emulator with one team, app and key.
type fixture struct {
	emu    *Emulator
	clock  *clock
	key    *ecdsa.PrivateKey
	client *http.Client

	mu   sync.Mutex
	jwts map[int64]string // one token per iat: ECDSA signatures are randomized
}

func start(t *testing.T, cfg Config) *fixture {
	t.Helper()
	c := &clock{t: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)}
	if cfg.Now == nil {
		cfg.Now = c.Now
	}
	emu, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	emu.AddApp(teamID, bundleID)
	if err := emu.AddKey(teamID, keyID, &key.PublicKey); err != nil {
		t.Fatal(err)
	}
	if err := emu.Start(); err != nil {
		t.Fatal(err)
	}
	f := &fixture{emu: emu, clock: c, key: key, client: h2Client(emu.CertPool(), nil)}
	t.Cleanup(func() {
		f.client.CloseIdleConnections()
		if err := emu.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return f
}

func h2Client(roots *x509.CertPool, certs []tls.Certificate) *http.Client {
	var p http.Protocols
	p.SetHTTP2(true)
	return &http.Client{Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots, Certificates: certs},
		Protocols:       &p,
	}}
}

// signJWT builds an ES256 JWT by hand (header and claims as given).
func signJWT(t *testing.T, key *ecdsa.PrivateKey, header, claims string) string {
	t.Helper()
	enc := base64.RawURLEncoding
	input := enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(claims))
	digest := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, key, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return input + "." + enc.EncodeToString(sig)
}

func (f *fixture) jwt(t *testing.T, iat time.Time) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if tok, ok := f.jwts[iat.Unix()]; ok {
		return tok
	}
	if f.jwts == nil {
		f.jwts = map[int64]string{}
	}
	tok := signJWT(t, f.key, `{"alg":"ES256","kid":"`+keyID+`"}`, `{"iss":"`+teamID+`","iat":`+strconv.FormatInt(iat.Unix(), 10)+`}`)
	f.jwts[iat.Unix()] = tok
	return tok
}

type rawReq struct {
	env    Environment
	method string
	path   string
	header http.Header
	body   []byte
}

type rawResp struct {
	status    int
	reason    string
	timestamp int64
	header    http.Header
}

func (f *fixture) do(t *testing.T, client *http.Client, r rawReq) rawResp {
	t.Helper()
	if client == nil {
		client = f.client
	}
	req, err := http.NewRequest(r.method, f.emu.URL(r.env)+r.path, bytes.NewReader(r.body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = r.header
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("request: %v", err)
	}
	defer resp.Body.Close()
	if resp.ProtoMajor != 2 {
		t.Fatalf("answered over %s, want HTTP/2", resp.Proto)
	}
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := rawResp{status: resp.StatusCode, header: resp.Header}
	if len(raw) > 0 {
		var body struct {
			Reason    string `json:"reason"`
			Timestamp int64  `json:"timestamp"`
		}
		if err := json.Unmarshal(raw, &body); err != nil {
			t.Fatalf("body %q: %v", raw, err)
		}
		out.reason, out.timestamp = body.Reason, body.Timestamp
	}
	if resp.StatusCode == 200 && len(raw) != 0 {
		t.Errorf("200 with a body: %q", raw)
	}
	if resp.Header.Get("apns-id") == "" {
		t.Errorf("no apns-id header on %d", resp.StatusCode)
	}
	return out
}

// alert is a valid alert request to token on env.
func (f *fixture) alert(t *testing.T, env Environment, token string) rawReq {
	h := http.Header{}
	h.Set("authorization", "bearer "+f.jwt(t, f.clock.Now()))
	h.Set("apns-topic", bundleID)
	h.Set("apns-push-type", "alert")
	h.Set("apns-priority", "10")
	return rawReq{env: env, method: http.MethodPost, path: "/3/device/" + token, header: h,
		body: []byte(`{"aps":{"alert":{"title":"Ann","body":"hi"}}}`)}
}

func TestChecks(t *testing.T) {
	f := start(t, Config{})
	prod := f.emu.RegisterDevice(bundleID, Production, false)
	dev := f.emu.RegisterDevice(bundleID, Development, false)
	voip := f.emu.RegisterDevice(bundleID, Production, true)
	gone := f.emu.RegisterDevice(bundleID, Production, false)
	f.emu.Unregister(gone)
	otherKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := f.clock.Now()

	tests := []struct {
		name   string
		token  string
		mod    func(r *rawReq)
		status int
		reason string
	}{
		{"valid alert", prod, nil, 200, ""},
		{"GET", prod, func(r *rawReq) { r.method = http.MethodGet }, 405, "MethodNotAllowed"},
		{"bad path", prod, func(r *rawReq) { r.path = "/3/devices/" + prod }, 404, "BadPath"},
		{"extra path segment", prod, func(r *rawReq) { r.path += "/x" }, 404, "BadPath"},
		{"empty token", "", nil, 400, "MissingDeviceToken"},
		{"duplicate topic", prod, func(r *rawReq) { r.header.Add("apns-topic", bundleID) }, 400, "DuplicateHeaders"},
		{"missing topic", prod, func(r *rawReq) { r.header.Del("apns-topic") }, 400, "MissingTopic"},
		{"malformed topic", prod, func(r *rawReq) { r.header.Set("apns-topic", "com example") }, 400, "BadTopic"},
		{"topic of another team", prod, func(r *rawReq) { r.header.Set("apns-topic", "com.other.app") }, 400, "TopicDisallowed"},
		{"missing push type", prod, func(r *rawReq) { r.header.Del("apns-push-type") }, 400, "InvalidPushType"},
		{"unknown push type", prod, func(r *rawReq) { r.header.Set("apns-push-type", "banana") }, 400, "InvalidPushType"},
		{"voip push to bundle topic", prod, func(r *rawReq) { r.header.Set("apns-push-type", "voip") }, 400, "InvalidPushType"},
		{"alert push to voip topic", voip, func(r *rawReq) { r.header.Set("apns-topic", bundleID+".voip") }, 400, "InvalidPushType"},
		{"background at priority 10", prod, func(r *rawReq) {
			r.header.Set("apns-push-type", "background")
			r.body = []byte(`{"aps":{"content-available":1}}`)
		}, 400, "BadPriority"},
		{"background at default priority", prod, func(r *rawReq) {
			r.header.Set("apns-push-type", "background")
			r.header.Del("apns-priority")
			r.body = []byte(`{"aps":{"content-available":1}}`)
		}, 400, "BadPriority"},
		{"background at priority 5", prod, func(r *rawReq) {
			r.header.Set("apns-push-type", "background")
			r.header.Set("apns-priority", "5")
			r.body = []byte(`{"aps":{"content-available":1}}`)
		}, 200, ""},
		{"priority 7", prod, func(r *rawReq) { r.header.Set("apns-priority", "7") }, 400, "BadPriority"},
		{"expiration not a number", prod, func(r *rawReq) { r.header.Set("apns-expiration", "soon") }, 400, "BadExpirationDate"},
		{"negative expiration", prod, func(r *rawReq) { r.header.Set("apns-expiration", "-5") }, 400, "BadExpirationDate"},
		{"collapse id of 64 bytes", prod, func(r *rawReq) { r.header.Set("apns-collapse-id", strings.Repeat("c", 64)) }, 200, ""},
		{"collapse id of 65 bytes", prod, func(r *rawReq) { r.header.Set("apns-collapse-id", strings.Repeat("c", 65)) }, 400, "BadCollapseId"},
		{"uppercase apns-id", prod, func(r *rawReq) { r.header.Set("apns-id", "123E4567-E89B-12D3-A456-4266554400A0") }, 400, "BadMessageId"},
		{"apns-id not a uuid", prod, func(r *rawReq) { r.header.Set("apns-id", "job-42") }, 400, "BadMessageId"},
		{"no credential", prod, func(r *rawReq) { r.header.Del("authorization") }, 403, "MissingProviderToken"},
		{"not a bearer", prod, func(r *rawReq) { r.header.Set("authorization", "basic abc") }, 403, "MissingProviderToken"},
		{"garbage JWT", prod, func(r *rawReq) { r.header.Set("authorization", "bearer a.b.c") }, 403, "InvalidProviderToken"},
		{"JWT signed by another key", prod, func(r *rawReq) {
			r.header.Set("authorization", "bearer "+signJWT(t, otherKey, `{"alg":"ES256","kid":"`+keyID+`"}`, `{"iss":"`+teamID+`","iat":`+strconv.FormatInt(now.Unix(), 10)+`}`))
		}, 403, "InvalidProviderToken"},
		{"JWT from an unknown key", prod, func(r *rawReq) {
			r.header.Set("authorization", "bearer "+signJWT(t, otherKey, `{"alg":"ES256","kid":"KEY9999999"}`, `{"iss":"`+teamID+`","iat":`+strconv.FormatInt(now.Unix(), 10)+`}`))
		}, 403, "InvalidProviderToken"},
		{"JWT of another team", prod, func(r *rawReq) {
			r.header.Set("authorization", "bearer "+signJWT(t, f.key, `{"alg":"ES256","kid":"`+keyID+`"}`, `{"iss":"TEAM999999","iat":`+strconv.FormatInt(now.Unix(), 10)+`}`))
		}, 403, "InvalidProviderToken"},
		{"JWT with alg HS256", prod, func(r *rawReq) {
			r.header.Set("authorization", "bearer "+signJWT(t, f.key, `{"alg":"HS256","kid":"`+keyID+`"}`, `{"iss":"`+teamID+`","iat":`+strconv.FormatInt(now.Unix(), 10)+`}`))
		}, 403, "InvalidProviderToken"},
		{"JWT without iat", prod, func(r *rawReq) {
			r.header.Set("authorization", "bearer "+signJWT(t, f.key, `{"alg":"ES256","kid":"`+keyID+`"}`, `{"iss":"`+teamID+`"}`))
		}, 403, "InvalidProviderToken"},
		{"JWT older than an hour", prod, func(r *rawReq) {
			r.header.Set("authorization", "bearer "+f.jwt(t, now.Add(-61*time.Minute)))
		}, 403, "ExpiredProviderToken"},
		{"JWT issued in the future", prod, func(r *rawReq) {
			r.header.Set("authorization", "bearer "+f.jwt(t, now.Add(5*time.Minute)))
		}, 403, "InvalidProviderToken"},
		{"token not hex", "zz" + prod[2:], nil, 400, "BadDeviceToken"},
		{"token of odd length", prod[1:], nil, 400, "BadDeviceToken"},
		{"token never issued", strings.Repeat("0", 64), nil, 400, "BadDeviceToken"},
		{"development token on production", dev, nil, 400, "BadDeviceToken"},
		{"voip token for the alert topic", voip, nil, 400, "DeviceTokenNotForTopic"},
		{"empty body", prod, func(r *rawReq) { r.body = nil }, 400, "PayloadEmpty"},
		{"body not JSON", prod, func(r *rawReq) { r.body = []byte(`{"aps":`) }, 400, "BadPayload"},
		{"body without aps", prod, func(r *rawReq) { r.body = []byte(`{"alert":"hi"}`) }, 400, "BadPayload"},
		{"badge 0", prod, func(r *rawReq) { r.body = []byte(`{"aps":{"alert":"hi","badge":0}}`) }, 200, ""},
		{"badge not a number", prod, func(r *rawReq) { r.body = []byte(`{"aps":{"alert":"hi","badge":"3"}}`) }, 400, "BadPayload"},
		{"negative badge", prod, func(r *rawReq) { r.body = []byte(`{"aps":{"alert":"hi","badge":-1}}`) }, 400, "BadPayload"},
		{"fractional badge", prod, func(r *rawReq) { r.body = []byte(`{"aps":{"alert":"hi","badge":1.5}}`) }, 400, "BadPayload"},
		{"body of 4096 bytes", prod, func(r *rawReq) { r.body = padded(4096) }, 200, ""},
		{"body of 4097 bytes", prod, func(r *rawReq) { r.body = padded(4097) }, 413, "PayloadTooLarge"},
		{"body over 4096 bytes only once escaped", prod, func(r *rawReq) {
			// 2100 quotes: 2100 characters decoded, 4200 bytes as sent.
			r.body = []byte(`{"aps":{"alert":"x"},"p":"` + strings.Repeat(`\"`, 2100) + `"}`)
		}, 413, "PayloadTooLarge"},
		{"unregistered token", gone, nil, 410, "Unregistered"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Same JWT as the other cases: only the first one counts as
			// the team's token.
			r := f.alert(t, Production, tt.token)
			if tt.mod != nil {
				tt.mod(&r)
			}
			got := f.do(t, nil, r)
			if got.status != tt.status || got.reason != tt.reason {
				t.Fatalf("got %d %q, want %d %q", got.status, got.reason, tt.status, tt.reason)
			}
			if tt.status == 410 && got.timestamp != now.UnixMilli() {
				t.Errorf("410 timestamp %d, want %d (ms)", got.timestamp, now.UnixMilli())
			}
		})
	}
}

// padded returns a valid alert payload of exactly n bytes.
func padded(n int) []byte {
	base := `{"aps":{"alert":"x"},"p":""}`
	return []byte(base[:len(base)-2] + strings.Repeat("a", n-len(base)) + `"}`)
}

func TestVoIP(t *testing.T) {
	f := start(t, Config{})
	voip := f.emu.RegisterDevice(bundleID, Production, true)
	for _, tt := range []struct {
		size   int
		status int
	}{{5000, 200}, {5120, 200}, {5121, 413}} {
		r := f.alert(t, Production, voip)
		r.header.Set("apns-push-type", "voip")
		r.header.Set("apns-topic", bundleID+".voip")
		r.body = padded(tt.size)
		if got := f.do(t, nil, r); got.status != tt.status {
			t.Errorf("voip body of %d bytes: %d %q, want %d", tt.size, got.status, got.reason, tt.status)
		}
	}
	d := f.emu.Deliveries(voip)
	if len(d) != 2 || d[0].PushType != "voip" || d[0].Topic != bundleID+".voip" {
		t.Fatalf("deliveries %+v", d)
	}
}

func TestTooFrequentTokenUpdates(t *testing.T) {
	f := start(t, Config{})
	tok := f.emu.RegisterDevice(bundleID, Production, false)
	t0 := f.clock.Now()
	first := f.jwt(t, t0)
	second := f.jwt(t, t0.Add(time.Second))

	send := func(jwt string) rawResp {
		r := f.alert(t, Production, tok)
		r.header.Set("authorization", "bearer "+jwt)
		return f.do(t, nil, r)
	}
	if got := send(first); got.status != 200 {
		t.Fatalf("first token: %d %s", got.status, got.reason)
	}
	f.clock.Add(time.Minute)
	if got := send(second); got.status != 429 || got.reason != "TooManyProviderTokenUpdates" {
		t.Fatalf("new token after 1 min: %d %q, want 429 TooManyProviderTokenUpdates", got.status, got.reason)
	}
	if got := send(first); got.status != 200 {
		t.Fatalf("the adopted token still works: %d %s", got.status, got.reason)
	}
	f.clock.Add(20 * time.Minute)
	if got := send(second); got.status != 200 {
		t.Fatalf("new token after 21 min: %d %s", got.status, got.reason)
	}
	if got := send(first); got.status != 200 {
		t.Fatalf("the previous token, not expired yet, still works: %d %s", got.status, got.reason)
	}
}

func TestExpiration(t *testing.T) {
	f := start(t, Config{})
	tok := f.emu.RegisterDevice(bundleID, Development, false)
	now := f.clock.Now()
	for _, tt := range []struct {
		exp     string
		dropped bool
	}{
		{"0", false}, // deliver once, now: the device is online
		{strconv.FormatInt(now.Add(time.Hour).Unix(), 10), false},
		{strconv.FormatInt(now.Unix(), 10), false},
		{strconv.FormatInt(now.Add(-time.Second).Unix(), 10), true},
	} {
		r := f.alert(t, Development, tok)
		r.header.Set("apns-expiration", tt.exp)
		got := f.do(t, nil, r)
		if got.status != 200 {
			t.Fatalf("expiration %s: %d %s", tt.exp, got.status, got.reason)
		}
		if got.header.Get("apns-unique-id") == "" {
			t.Errorf("development answer without apns-unique-id")
		}
	}
	if n := len(f.emu.Deliveries(tok)); n != 3 {
		t.Errorf("%d delivered, want 3", n)
	}
	dropped := f.emu.Dropped(tok)
	if len(dropped) != 1 || dropped[0].DropReason != "expired" {
		t.Errorf("dropped %+v, want one expired", dropped)
	}
}

func TestFaults(t *testing.T) {
	f := start(t, Config{})
	tok := f.emu.RegisterDevice(bundleID, Production, false)
	other := f.emu.RegisterDevice(bundleID, Production, false)

	f.emu.InjectFault(tok, Fault{Kind: FaultThrottled, RetryAfter: 30 * time.Second, Times: 1})
	got := f.do(t, nil, f.alert(t, Production, tok))
	if got.status != 429 || got.reason != "TooManyRequests" || got.header.Get("Retry-After") != "30" {
		t.Fatalf("throttled: %d %q Retry-After %q", got.status, got.reason, got.header.Get("Retry-After"))
	}
	if got := f.do(t, nil, f.alert(t, Production, tok)); got.status != 200 {
		t.Fatalf("a one-shot fault must clear: %d %s", got.status, got.reason)
	}
	if got := f.do(t, nil, f.alert(t, Production, other)); got.status != 200 {
		t.Fatalf("a token fault must not touch other tokens: %d", got.status)
	}

	for _, tt := range []struct {
		kind   FaultKind
		status int
		reason string
	}{
		{FaultInternalError, 500, "InternalServerError"},
		{FaultUnavailable, 503, "ServiceUnavailable"},
		{FaultShutdown, 503, "Shutdown"},
		{FaultUnregistered, 410, "Unregistered"},
	} {
		f.emu.InjectFault("", Fault{Kind: tt.kind})
		for _, token := range []string{tok, other} {
			got := f.do(t, nil, f.alert(t, Production, token))
			if got.status != tt.status || got.reason != tt.reason {
				t.Errorf("global fault %d: %d %q, want %d %q", tt.kind, got.status, got.reason, tt.status, tt.reason)
			}
		}
		f.emu.ClearFault("")
	}

	// A server error answers before the credential is even looked at.
	f.emu.InjectFault(tok, Fault{Kind: FaultInternalError})
	r := f.alert(t, Production, tok)
	r.header.Del("authorization")
	if got := f.do(t, nil, r); got.status != 500 {
		t.Errorf("500 fault without credential: %d %s", got.status, got.reason)
	}
	f.emu.ClearFault(tok)

	f.emu.InjectFault(tok, Fault{Kind: FaultSlow, Delay: 200 * time.Millisecond, Times: 1})
	start := time.Now()
	if got := f.do(t, nil, f.alert(t, Production, tok)); got.status != 200 {
		t.Fatalf("slow: %d", got.status)
	}
	if el := time.Since(start); el < 200*time.Millisecond {
		t.Errorf("slow fault answered after %s", el)
	}
}

func TestCertificateAuth(t *testing.T) {
	f := start(t, Config{})
	tok := f.emu.RegisterDevice(bundleID, Production, false)
	clientFor := func(certPEM, keyPEM []byte) *http.Client {
		cert, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			t.Fatal(err)
		}
		c := h2Client(f.emu.CertPool(), []tls.Certificate{cert})
		t.Cleanup(c.CloseIdleConnections)
		return c
	}
	noAuth := func() rawReq {
		r := f.alert(t, Production, tok)
		r.header.Del("authorization")
		return r
	}

	single, singleKey, err := f.emu.IssueCertificate(CertificateRequest{TeamID: teamID, Topics: []string{bundleID}})
	if err != nil {
		t.Fatal(err)
	}
	c := clientFor(single, singleKey)
	r := noAuth()
	r.header.Del("apns-topic") // a single-topic certificate implies it
	if got := f.do(t, c, r); got.status != 200 {
		t.Fatalf("single-topic certificate: %d %s", got.status, got.reason)
	}
	r = noAuth()
	r.header.Set("apns-topic", bundleID+".voip")
	r.header.Set("apns-push-type", "voip")
	if got := f.do(t, c, r); got.status != 400 || got.reason != "TopicDisallowed" {
		t.Errorf("topic outside the certificate: %d %q", got.status, got.reason)
	}

	multi, multiKey, _ := f.emu.IssueCertificate(CertificateRequest{TeamID: teamID, Topics: []string{bundleID, bundleID + ".voip"}})
	r = noAuth()
	r.header.Del("apns-topic")
	if got := f.do(t, clientFor(multi, multiKey), r); got.status != 400 || got.reason != "MissingTopic" {
		t.Errorf("multi-topic certificate without topic: %d %q", got.status, got.reason)
	}

	devOnly, devKey, _ := f.emu.IssueCertificate(CertificateRequest{TeamID: teamID, Topics: []string{bundleID}, Environments: []Environment{Development}})
	if got := f.do(t, clientFor(devOnly, devKey), noAuth()); got.status != 403 || got.reason != "BadCertificateEnvironment" {
		t.Errorf("development certificate on production: %d %q", got.status, got.reason)
	}

	if err := f.emu.RevokeCertificate(single); err != nil {
		t.Fatal(err)
	}
	if got := f.do(t, c, noAuth()); got.status != 403 || got.reason != "BadCertificate" {
		t.Errorf("revoked certificate: %d %q", got.status, got.reason)
	}

	expired, expiredKey, _ := f.emu.IssueCertificate(CertificateRequest{TeamID: teamID, Topics: []string{bundleID},
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)})
	req, _ := http.NewRequest(http.MethodPost, f.emu.URL(Production)+"/3/device/"+tok, bytes.NewReader([]byte(`{"aps":{}}`)))
	if resp, err := clientFor(expired, expiredKey).Do(req); err == nil {
		resp.Body.Close()
		t.Errorf("an expired client certificate passed the TLS handshake: %d", resp.StatusCode)
	}
}

func TestHTTP1Refused(t *testing.T) {
	f := start(t, Config{})
	var p http.Protocols
	p.SetHTTP1(true)
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: f.emu.CertPool()}, Protocols: &p}}
	defer c.CloseIdleConnections()
	req, _ := http.NewRequest(http.MethodPost, f.emu.URL(Production)+"/3/device/00", strings.NewReader(`{}`))
	if resp, err := c.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("HTTP/1.1 answered %d; APNs speaks HTTP/2 only", resp.StatusCode)
	}
}

func TestRecording(t *testing.T) {
	f := start(t, Config{})
	tok := f.emu.RegisterDevice(bundleID, Production, false)
	var hooked []Delivery
	var mu sync.Mutex
	f.emu.OnDelivery(func(d Delivery) { mu.Lock(); hooked = append(hooked, d); mu.Unlock() })

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	waited := make(chan []Delivery, 1)
	go func() {
		d, err := f.emu.WaitDeliveries(ctx, tok, 2)
		if err != nil {
			t.Error(err)
		}
		waited <- d
	}()

	id := "123e4567-e89b-12d3-a456-426655440000"
	r := f.alert(t, Production, tok)
	r.header.Set("apns-id", id)
	r.header.Set("apns-collapse-id", "conv-1")
	got := f.do(t, nil, r)
	if got.header.Get("apns-id") != id {
		t.Errorf("apns-id %q, want the request's echoed", got.header.Get("apns-id"))
	}
	if got.header.Get("apns-unique-id") != "" {
		t.Errorf("apns-unique-id in production")
	}
	f.do(t, nil, f.alert(t, Production, tok))

	d := <-waited
	if len(d) != 2 {
		t.Fatalf("waited for %d deliveries", len(d))
	}
	if d[0].APNSID != id || d[0].CollapseID != "conv-1" || d[0].Priority != 10 || d[0].TeamID != teamID {
		t.Errorf("delivery %+v", d[0])
	}
	if title := d[0].Aps()["alert"].(map[string]any)["title"]; title != "Ann" {
		t.Errorf("title %v", title)
	}
	if d[0].Header.Get("Authorization") != "" {
		t.Error("the provider token is kept in the delivery record")
	}
	mu.Lock()
	if len(hooked) != 2 {
		t.Errorf("OnDelivery saw %d", len(hooked))
	}
	mu.Unlock()

	reqs := f.emu.Requests()
	if len(reqs) != 2 || reqs[0].ProviderToken == "" || reqs[0].KeyID != keyID {
		t.Errorf("request log %+v", reqs)
	}
	if _, err := f.emu.WaitDeliveries(ctxDone(), tok, 3); err == nil {
		t.Error("WaitDeliveries returned without the deliveries")
	}
}

func ctxDone() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

func TestLifecycle(t *testing.T) {
	emu, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "ca.pem")
	if err := emu.WriteCA(path); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := pem.Decode(raw); b == nil || b.Type != "CERTIFICATE" || !bytes.Equal(raw, emu.CAPEM()) {
		t.Fatal("WriteCA did not write the CA PEM")
	}
	if emu.URL(Production) != "" {
		t.Error("URL before Start")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- emu.Run(ctx) }()
	deadline := time.Now().Add(5 * time.Second)
	for emu.URL(Development) == "" && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if !strings.HasPrefix(emu.URL(Development), "https://127.0.0.1:") || emu.URL(Development) == emu.URL(Production) {
		t.Errorf("URLs %q %q", emu.URL(Production), emu.URL(Development))
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := emu.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := emu.Start(); err == nil {
		t.Error("Start after Close")
	}
}

func TestCloseCutsSlowRequests(t *testing.T) {
	emu, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := emu.Start(); err != nil {
		t.Fatal(err)
	}
	emu.InjectFault("", Fault{Kind: FaultSlow, Delay: time.Hour})
	c := h2Client(emu.CertPool(), nil)
	defer c.CloseIdleConnections()
	errc := make(chan error, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, emu.URL(Production)+"/3/device/00", strings.NewReader(`{}`))
		resp, err := c.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	// Wait until the request is parked in its delay.
	time.Sleep(100 * time.Millisecond)
	closed := make(chan error, 1)
	go func() { closed <- emu.Close() }()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close hung on a slow request")
	}
	<-errc
}

// TestBadgeShownOnDevice: a delivered aps.badge sets the icon's number,
// a notification without one leaves it, 0 clears it.
func TestBadgeShownOnDevice(t *testing.T) {
	f := start(t, Config{})
	tok := f.emu.RegisterDevice(bundleID, Production, false)
	if d, _ := f.emu.Device(tok); d.Badge != nil {
		t.Fatalf("badge %v before any push", *d.Badge)
	}
	for _, tt := range []struct {
		body string
		want int
	}{{`{"aps":{"alert":"a","badge":4}}`, 4}, {`{"aps":{"alert":"b"}}`, 4}, {`{"aps":{"alert":"c","badge":0}}`, 0}} {
		r := f.alert(t, Production, tok)
		r.body = []byte(tt.body)
		if got := f.do(t, nil, r); got.status != 200 {
			t.Fatalf("%s: %d %q", tt.body, got.status, got.reason)
		}
		if d, _ := f.emu.Device(tok); d.Badge == nil || *d.Badge != tt.want {
			t.Fatalf("after %s the icon shows %v, want %d", tt.body, d.Badge, tt.want)
		}
	}
}
