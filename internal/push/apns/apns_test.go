package apns

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	apnsemu "github.com/heraldim/herald/internal/emulator/apns"
	"github.com/heraldim/herald/internal/push"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	teamID   = "TEAM000001"
	keyID    = "KEY0000001"
	bundleID = "com.example.chat"
)

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(t time.Time) *clock { return &clock{t: t} }

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// fixture is a running emulator with one team, app and key, and a
// provider pointed at it. The provider and the emulator have separate
// clocks, as a real server and Apple do.
type fixture struct {
	emu      *apnsemu.Emulator
	emuClock *clock
	clock    *clock
	p        *Provider
	keyPEM   []byte
}

var epoch = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func startEmulator(t *testing.T) (*apnsemu.Emulator, *clock) {
	t.Helper()
	c := newClock(epoch)
	emu, err := apnsemu.New(apnsemu.Config{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	if err := emu.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := emu.Close(); err != nil {
			t.Errorf("emulator close: %v", err)
		}
	})
	return emu, c
}

// setup starts an emulator and a token-auth provider; mod adjusts the
// provider's config.
func setup(t *testing.T, mod func(*Config)) *fixture {
	t.Helper()
	emu, emuClock := startEmulator(t)
	emu.AddApp(teamID, bundleID)
	keyPEM, err := emu.NewKey(teamID, keyID)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{emu: emu, emuClock: emuClock, clock: newClock(epoch), keyPEM: keyPEM}
	cfg := f.config()
	cfg.KeyPEM, cfg.KeyID, cfg.TeamID = keyPEM, keyID, teamID
	if mod != nil {
		mod(&cfg)
	}
	f.p = newProvider(t, cfg)
	return f
}

func (f *fixture) config() Config {
	return Config{
		ProductionURL:  f.emu.URL(apnsemu.Production),
		DevelopmentURL: f.emu.URL(apnsemu.Development),
		RootCAs:        f.emu.CertPool(),
		Now:            f.clock.Now,
	}
}

func newProvider(t *testing.T, cfg Config) *Provider {
	t.Helper()
	p, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(p.Close) // runs before the emulator's Close
	return p
}

func (f *fixture) send(t *testing.T, n push.Notification) push.Result {
	t.Helper()
	res, err := f.p.Send(context.Background(), n)
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	return res
}

// providerTokens returns the distinct provider tokens the emulator saw
// accepted or refused.
func (f *fixture) providerTokens() map[string]bool {
	seen := map[string]bool{}
	for _, r := range f.emu.Requests() {
		if r.ProviderToken != "" {
			seen[r.ProviderToken] = true
		}
	}
	return seen
}

func alert(token string, env push.Environment) push.Notification {
	badge := 3
	return push.Notification{
		ID:          "7f3c2b9a-1d2e-4f50-8a6b-0c1d2e3f4a5b",
		Token:       token,
		Environment: env,
		Kind:        push.KindAlert,
		Priority:    push.PriorityHigh,
		Topic:       bundleID,
		Title:       "Ann",
		Content:     "Are you there?",
		Payload:     `{"conv":"c1","seq":42}`,
		Badge:       &badge,
		Category:    "MESSAGE",
		CollapseID:  "conv-c1",
		Extra:       map[string]string{"sender": "ann"},
	}
}

func wantResult(t *testing.T, got push.Result, outcome push.Outcome, status int, reason string) {
	t.Helper()
	if got.Outcome != outcome || got.Status != status || got.Reason != reason {
		t.Fatalf("result %+v, want %s %d %q", got, outcome, status, reason)
	}
}

func TestAlert(t *testing.T) {
	f := setup(t, nil)
	tok := f.emu.RegisterDevice(bundleID, apnsemu.Production, false)
	n := alert(tok, push.Production)
	n.Expiration = f.clock.Now().Add(90*time.Minute + 500*time.Millisecond)

	res := f.send(t, n)
	wantResult(t, res, push.Delivered, 200, "")
	if res.VendorID != n.ID {
		t.Errorf("VendorID %q, want the apns-id %q", res.VendorID, n.ID)
	}
	ds := f.emu.Deliveries(tok)
	if len(ds) != 1 {
		t.Fatalf("%d deliveries", len(ds))
	}
	d := ds[0]
	if d.PushType != "alert" || d.Topic != bundleID || d.Priority != 10 || d.CollapseID != "conv-c1" || d.APNSID != n.ID {
		t.Errorf("delivery %s %s %d %q %q", d.PushType, d.Topic, d.Priority, d.CollapseID, d.APNSID)
	}
	// Rounded up, so APNs never drops it half a second early.
	if got, want := d.Header.Get("apns-expiration"), strconv.FormatInt(n.Expiration.Unix()+1, 10); got != want {
		t.Errorf("apns-expiration %q, want %q", got, want)
	}
	aps := d.Aps()
	alert, _ := aps["alert"].(map[string]any)
	if alert["title"] != "Ann" || alert["body"] != "Are you there?" {
		t.Errorf("alert %v", aps["alert"])
	}
	if aps["badge"] != float64(3) || aps["sound"] != "default" || aps["category"] != "MESSAGE" {
		t.Errorf("aps %v", aps)
	}
	if d.Payload[PayloadKey] != n.Payload || d.Payload["sender"] != "ann" {
		t.Errorf("custom data %v", d.Payload)
	}
}

func TestAlertWithoutExpirationUsesAPNsStorage(t *testing.T) {
	f := setup(t, nil)
	tok := f.emu.RegisterDevice(bundleID, apnsemu.Production, false)
	n := alert(tok, push.Production)
	n.ID = "job-17" // not a UUID: APNs makes one up
	n.Priority = push.PriorityNormal
	res := f.send(t, n)
	wantResult(t, res, push.Delivered, 200, "")
	d := f.emu.Deliveries(tok)[0]
	if _, ok := d.Header["Apns-Expiration"]; ok {
		t.Errorf("apns-expiration %q sent for a notification without expiration", d.Header.Get("apns-expiration"))
	}
	if _, ok := d.Header["Apns-Id"]; ok {
		t.Errorf("apns-id sent for a non-UUID ID")
	}
	if res.VendorID == "" || res.VendorID != d.APNSID {
		t.Errorf("VendorID %q, want APNs' %q", res.VendorID, d.APNSID)
	}
	if d.Priority != 5 {
		t.Errorf("priority %d for PriorityNormal", d.Priority)
	}
}

func TestBackground(t *testing.T) {
	f := setup(t, nil)
	tok := f.emu.RegisterDevice(bundleID, apnsemu.Development, false)
	n := push.Notification{Token: tok, Environment: push.Development, Kind: push.KindData,
		Priority: push.PriorityHigh, Topic: bundleID, Title: "ignored", Payload: "sync"}
	wantResult(t, f.send(t, n), push.Delivered, 200, "")
	d := f.emu.Deliveries(tok)[0]
	if d.PushType != "background" || d.Priority != 5 || d.Environment != apnsemu.Development {
		t.Errorf("delivery %s priority %d in %s", d.PushType, d.Priority, d.Environment)
	}
	aps := d.Aps()
	if aps["content-available"] != float64(1) || len(aps) != 1 {
		t.Errorf("aps %v, want only content-available:1", aps)
	}
	if d.Payload[PayloadKey] != "sync" {
		t.Errorf("payload %v", d.Payload)
	}
}

func TestVoIP(t *testing.T) {
	f := setup(t, nil)
	voip := f.emu.RegisterDevice(bundleID, apnsemu.Production, true)
	regular := f.emu.RegisterDevice(bundleID, apnsemu.Production, false)
	n := push.Notification{Token: voip, Environment: push.Production, Kind: push.KindVoIP,
		Topic: bundleID, Title: "Ann", Content: "Incoming call", Payload: strings.Repeat("c", 4500)}

	wantResult(t, f.send(t, n), push.Delivered, 200, "")
	d := f.emu.Deliveries(voip)[0]
	if d.PushType != "voip" || d.Topic != bundleID+".voip" || d.Priority != 10 {
		t.Errorf("delivery %s %s %d", d.PushType, d.Topic, d.Priority)
	}
	if d.Header.Get("apns-expiration") != "0" {
		t.Errorf("apns-expiration %q: a call push without expiration must not be stored", d.Header.Get("apns-expiration"))
	}
	if len(d.Body) <= 4096 {
		t.Fatalf("body of %d bytes does not test the VoIP limit", len(d.Body))
	}

	// The same size is too large for an alert, and more is too large for
	// VoIP too: both refused before sending.
	before := len(f.emu.Requests())
	a := n
	a.Token, a.Kind = regular, push.KindAlert
	if _, err := f.p.Send(context.Background(), a); !errors.Is(err, push.ErrPayloadTooLarge) {
		t.Errorf("alert of 4.5 KB: %v, want ErrPayloadTooLarge", err)
	}
	n.Payload = strings.Repeat("c", 5100)
	if _, err := f.p.Send(context.Background(), n); !errors.Is(err, push.ErrPayloadTooLarge) {
		t.Errorf("voip of 5.1 KB: %v, want ErrPayloadTooLarge", err)
	}
	if got := len(f.emu.Requests()); got != before {
		t.Errorf("the emulator saw %d requests for refused payloads", got-before)
	}

	// A regular token is not a PushKit token.
	n.Token, n.Payload = regular, ""
	wantResult(t, f.send(t, n), push.Rejected, 400, "DeviceTokenNotForTopic")
}

func TestEnvironmentRouting(t *testing.T) {
	f := setup(t, nil)
	dev := f.emu.RegisterDevice(bundleID, apnsemu.Development, false)
	wantResult(t, f.send(t, alert(dev, push.Production)), push.DropDevice, 400, "BadDeviceToken")
	wantResult(t, f.send(t, alert(dev, push.Development)), push.Delivered, 200, "")
	if d := f.emu.Deliveries(dev); len(d) != 1 || d[0].Environment != apnsemu.Development {
		t.Errorf("deliveries %+v", d)
	}
}

func TestUnregistered(t *testing.T) {
	f := setup(t, nil)
	tok := f.emu.RegisterDevice(bundleID, apnsemu.Production, false)
	f.emu.Unregister(tok)
	wantResult(t, f.send(t, alert(tok, push.Production)), push.DropDevice, 410, "Unregistered")
}

func TestRetries(t *testing.T) {
	f := setup(t, nil)
	tok := f.emu.RegisterDevice(bundleID, apnsemu.Production, false)
	tests := []struct {
		fault      apnsemu.Fault
		status     int
		reason     string
		retryAfter time.Duration
	}{
		{apnsemu.Fault{Kind: apnsemu.FaultThrottled, RetryAfter: 42 * time.Second}, 429, "TooManyRequests", 42 * time.Second},
		{apnsemu.Fault{Kind: apnsemu.FaultThrottled}, 429, "TooManyRequests", 0},
		{apnsemu.Fault{Kind: apnsemu.FaultInternalError}, 500, "InternalServerError", 0},
		{apnsemu.Fault{Kind: apnsemu.FaultUnavailable, RetryAfter: 2 * time.Minute}, 503, "ServiceUnavailable", 2 * time.Minute},
		{apnsemu.Fault{Kind: apnsemu.FaultShutdown}, 503, "Shutdown", 0},
	}
	for _, tt := range tests {
		t.Run(tt.reason, func(t *testing.T) {
			tt.fault.Times = 1
			f.emu.InjectFault(tok, tt.fault)
			res := f.send(t, alert(tok, push.Production))
			wantResult(t, res, push.Retry, tt.status, tt.reason)
			if res.RetryAfter != tt.retryAfter {
				t.Errorf("RetryAfter %s, want %s", res.RetryAfter, tt.retryAfter)
			}
			wantResult(t, f.send(t, alert(tok, push.Production)), push.Delivered, 200, "")
		})
	}
}

// An APNs whose clock is 31 minutes ahead of ours: at 30 minutes old by
// our clock the token is over an hour old to Apple (403
// ExpiredProviderToken). The push is Deferred with zero Until (send again
// now, not a job attempt), a new token is made at once (no 20-minute
// floor) and the push goes through with it. Over an hour ahead, the
// replacement is refused too: AuthFailed, and no token is made in a loop.
func TestExpiredProviderToken(t *testing.T) {
	f := setup(t, nil)
	tok := f.emu.RegisterDevice(bundleID, apnsemu.Production, false)
	wantResult(t, f.send(t, alert(tok, push.Production)), push.Delivered, 200, "")

	f.clock.Add(30 * time.Minute)
	f.emuClock.Add(61 * time.Minute)
	res := f.send(t, alert(tok, push.Production))
	wantResult(t, res, push.Deferred, 403, "ExpiredProviderToken")
	if !res.Until.IsZero() {
		t.Fatalf("Until %s, want zero (send again now)", res.Until)
	}
	if n := len(f.providerTokens()); n != 1 {
		t.Fatalf("%d provider tokens before the retry", n)
	}
	for range 3 {
		wantResult(t, f.send(t, alert(tok, push.Production)), push.Delivered, 200, "")
	}
	if n := len(f.providerTokens()); n != 2 {
		t.Fatalf("%d provider tokens, want 2 (one replacement)", n)
	}

	// Apple's clock jumps 40 more minutes ahead: the accepted token is
	// refused and replaced; its replacement is refused too (clock over an
	// hour behind): AuthFailed, and it stays the only new one.
	f.emuClock.Add(40 * time.Minute)
	wantResult(t, f.send(t, alert(tok, push.Production)), push.Deferred, 403, "ExpiredProviderToken")
	wantResult(t, f.send(t, alert(tok, push.Production)), push.AuthFailed, 403, "ExpiredProviderToken")
	wantResult(t, f.send(t, alert(tok, push.Production)), push.AuthFailed, 403, "ExpiredProviderToken")
	if n := len(f.providerTokens()); n != 3 {
		t.Fatalf("%d provider tokens, want 3", n)
	}
}

func TestProviderTokenReuse(t *testing.T) {
	f := setup(t, nil)
	tok := f.emu.RegisterDevice(bundleID, apnsemu.Production, false)
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for g := 0; g < 10; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 10; i++ {
				res, err := f.p.Send(context.Background(), alert(tok, push.Production))
				if err == nil && res.Outcome != push.Delivered {
					err = errors.New(res.Outcome.String() + " " + res.Reason)
				}
				if err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if got := len(f.emu.Deliveries(tok)); got != 100 {
		t.Fatalf("%d delivered", got)
	}
	if n := len(f.providerTokens()); n != 1 {
		t.Fatalf("%d distinct provider tokens over 100 pushes, want 1", n)
	}

	// Past the refresh age (50 min) a new token is made, and APNs accepts
	// it: more than 20 minutes after the first.
	f.clock.Add(51 * time.Minute)
	f.emuClock.Add(51 * time.Minute)
	wantResult(t, f.send(t, alert(tok, push.Production)), push.Delivered, 200, "")
	wantResult(t, f.send(t, alert(tok, push.Production)), push.Delivered, 200, "")
	if n := len(f.providerTokens()); n != 2 {
		t.Fatalf("%d provider tokens after the refresh age, want 2", n)
	}
}

func TestRefusedBeforeSending(t *testing.T) {
	f := setup(t, nil)
	tok := f.emu.RegisterDevice(bundleID, apnsemu.Production, false)
	big := alert(tok, push.Production)
	big.Payload = strings.Repeat("x", 4096)
	expired := alert(tok, push.Production)
	expired.Expiration = f.clock.Now().Add(-time.Second)
	justNow := alert(tok, push.Production)
	justNow.Expiration = f.clock.Now()

	mod := func(fn func(*push.Notification)) push.Notification {
		n := alert(tok, push.Production)
		fn(&n)
		return n
	}
	tests := []struct {
		name string
		n    push.Notification
		err  error
	}{
		{"payload too large", big, push.ErrPayloadTooLarge},
		{"expired", expired, push.ErrExpired},
		{"expiring now", justNow, push.ErrExpired},
		{"empty token", mod(func(n *push.Notification) { n.Token = "" }), push.ErrInvalidNotification},
		{"token not hex", mod(func(n *push.Notification) { n.Token = "zz" + tok[2:] }), push.ErrInvalidNotification},
		{"short token", mod(func(n *push.Notification) { n.Token = tok[:32] }), push.ErrInvalidNotification},
		{"empty topic", mod(func(n *push.Notification) { n.Topic = "" }), push.ErrInvalidNotification},
		{"topic with a space", mod(func(n *push.Notification) { n.Topic = "com.example chat" }), push.ErrInvalidNotification},
		{"no environment", mod(func(n *push.Notification) { n.Environment = "" }), push.ErrInvalidNotification},
		{"unknown kind", mod(func(n *push.Notification) { n.Kind = "sms" }), push.ErrInvalidNotification},
		{"unknown priority", mod(func(n *push.Notification) { n.Priority = "urgent" }), push.ErrInvalidNotification},
		{"collapse ID over 64 bytes", mod(func(n *push.Notification) { n.CollapseID = strings.Repeat("c", 65) }), push.ErrInvalidNotification},
		{"reserved extra key", mod(func(n *push.Notification) { n.Extra = map[string]string{"aps": "x"} }), push.ErrInvalidNotification},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.p.Send(context.Background(), tt.n)
			if !errors.Is(err, tt.err) {
				t.Fatalf("err %v, want %v", err, tt.err)
			}
		})
	}
	if n := len(f.emu.Requests()); n != 0 {
		t.Fatalf("the emulator saw %d requests", n)
	}
}

func TestCredentialValidation(t *testing.T) {
	emu, _ := startEmulator(t)
	good, err := emu.NewKey(teamID, keyID)
	if err != nil {
		t.Fatal(err)
	}
	certPEM, certKey, err := emu.IssueCertificate(apnsemu.CertificateRequest{TeamID: teamID, Topics: []string{bundleID}})
	if err != nil {
		t.Fatal(err)
	}
	expiredCert, expiredKey, err := emu.IssueCertificate(apnsemu.CertificateRequest{TeamID: teamID, Topics: []string{bundleID},
		NotBefore: time.Now().Add(-400 * 24 * time.Hour), NotAfter: time.Now().Add(-35 * 24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	_, otherCertKey, _ := emu.IssueCertificate(apnsemu.CertificateRequest{TeamID: teamID, Topics: []string{bundleID}})
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	sec1, _ := x509.MarshalECPrivateKey(mustP256(t))

	tests := []struct {
		name string
		cfg  Config
	}{
		{"no credential", Config{}},
		{"key that is not PEM", Config{KeyPEM: []byte("MIGTAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBHkwdwIBAQQg"), KeyID: keyID, TeamID: teamID}},
		{"PEM that is not a key", Config{KeyPEM: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte("garbage")}), KeyID: keyID, TeamID: teamID}},
		{"SEC1 key instead of PKCS#8", Config{KeyPEM: pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1}), KeyID: keyID, TeamID: teamID}},
		{"RSA key", Config{KeyPEM: pkcs8(t, rsaKey), KeyID: keyID, TeamID: teamID}},
		{"P-384 key", Config{KeyPEM: pkcs8(t, p384), KeyID: keyID, TeamID: teamID}},
		{"missing key", Config{KeyID: keyID, TeamID: teamID}},
		{"missing key ID", Config{KeyPEM: good, TeamID: teamID}},
		{"missing team ID", Config{KeyPEM: good, KeyID: keyID}},
		{"team ID with a space", Config{KeyPEM: good, KeyID: keyID, TeamID: "TEAM 00001"}},
		{"expired certificate", Config{CertPEM: expiredCert, CertKeyPEM: expiredKey}},
		{"certificate without key", Config{CertPEM: certPEM}},
		{"certificate with another key", Config{CertPEM: certPEM, CertKeyPEM: otherCertKey}},
		{"key and certificate", Config{KeyPEM: good, KeyID: keyID, TeamID: teamID, CertPEM: certPEM, CertKeyPEM: certKey}},
	}
	secrets := [][]byte{good, certKey, expiredKey, otherCertKey}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg)
			if !errors.Is(err, push.ErrCredential) {
				t.Fatalf("err %v, want ErrCredential", err)
			}
			for _, s := range secrets {
				if leaks(err.Error(), s) {
					t.Fatalf("error message contains key material: %v", err)
				}
			}
			t.Log(err)
		})
	}

	if _, err := New(Config{KeyPEM: good, KeyID: keyID, TeamID: teamID, TokenRefresh: 10 * time.Minute}); err == nil {
		t.Error("token refresh of 10 minutes accepted")
	}
	if _, err := New(Config{KeyPEM: good, KeyID: keyID, TeamID: teamID, TokenRefresh: time.Hour}); err == nil {
		t.Error("token refresh of 60 minutes accepted")
	}
	if _, err := New(Config{KeyPEM: good, KeyID: keyID, TeamID: teamID, ProductionURL: "http://127.0.0.1:1"}); err == nil {
		t.Error("plain http URL accepted")
	}
}

func mustP256(t *testing.T) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func pkcs8(t *testing.T, key any) []byte {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// leaks reports whether msg contains a line of a PEM's base64 body.
func leaks(msg string, pemBytes []byte) bool {
	for _, line := range strings.Split(string(pemBytes), "\n") {
		if len(line) >= 16 && !strings.HasPrefix(line, "-----") && strings.Contains(msg, line[:16]) {
			return true
		}
	}
	return false
}

func TestCheck(t *testing.T) {
	f := setup(t, nil)
	if err := f.p.Check(context.Background()); err != nil {
		t.Fatalf("Check with a good key: %v", err)
	}
	if n := len(f.providerTokens()); n != 1 {
		t.Errorf("Check used %d provider tokens", n)
	}
	if n := len(f.emu.Deliveries("")); n != 0 {
		t.Errorf("Check delivered %d pushes", n)
	}

	// Each new provider makes a new token for the same team: give the
	// emulator's 20-minute rule room before each.
	f.emuClock.Add(21 * time.Minute)
	withTopic := newProvider(t, withKey(f, func(c *Config) { c.CheckTopic = bundleID }))
	if err := withTopic.Check(context.Background()); err != nil {
		t.Errorf("Check with the app's topic: %v", err)
	}

	f.emuClock.Add(21 * time.Minute)
	otherTopic := newProvider(t, withKey(f, func(c *Config) { c.CheckTopic = "com.other.app" }))
	if err := otherTopic.Check(context.Background()); !errors.Is(err, push.ErrCredential) {
		t.Errorf("Check with another team's topic: %v, want ErrCredential", err)
	}

	f.emu.RevokeKey(keyID)
	revoked := newProvider(t, withKey(f, nil))
	err := revoked.Check(context.Background())
	if !errors.Is(err, push.ErrCredential) || !strings.Contains(err.Error(), "InvalidProviderToken") {
		t.Errorf("Check with a revoked key: %v", err)
	}
}

func withKey(f *fixture, mod func(*Config)) Config {
	cfg := f.config()
	cfg.KeyPEM, cfg.KeyID, cfg.TeamID = f.keyPEM, keyID, teamID
	if mod != nil {
		mod(&cfg)
	}
	return cfg
}

func TestCertificateAuth(t *testing.T) {
	emu, _ := startEmulator(t)
	f := &fixture{emu: emu, clock: newClock(time.Now())}
	certPEM, keyPEM, err := emu.IssueCertificate(apnsemu.CertificateRequest{TeamID: teamID, Topics: []string{bundleID, bundleID + ".voip"}})
	if err != nil {
		t.Fatal(err)
	}
	cfg := f.config()
	cfg.CertPEM, cfg.CertKeyPEM = certPEM, keyPEM
	p := newProvider(t, cfg)

	tok := emu.RegisterDevice(bundleID, apnsemu.Production, false)
	voip := emu.RegisterDevice(bundleID, apnsemu.Production, true)
	for _, n := range []push.Notification{
		alert(tok, push.Production),
		{Token: voip, Environment: push.Production, Kind: push.KindVoIP, Topic: bundleID, Title: "call"},
	} {
		res, err := p.Send(context.Background(), n)
		if err != nil {
			t.Fatal(err)
		}
		wantResult(t, res, push.Delivered, 200, "")
	}
	if err := p.Check(context.Background()); err != nil {
		t.Errorf("Check with a certificate: %v", err)
	}

	devCert, devKey, _ := emu.IssueCertificate(apnsemu.CertificateRequest{TeamID: teamID, Topics: []string{bundleID},
		Environments: []apnsemu.Environment{apnsemu.Development}})
	cfg.CertPEM, cfg.CertKeyPEM = devCert, devKey
	devOnly := newProvider(t, cfg)
	res, err := devOnly.Send(context.Background(), alert(tok, push.Production))
	if err != nil {
		t.Fatal(err)
	}
	wantResult(t, res, push.AuthFailed, 403, "BadCertificateEnvironment")
	if err := devOnly.Check(context.Background()); !errors.Is(err, push.ErrCredential) {
		t.Errorf("Check of a development certificate on both environments: %v", err)
	}
	cfg.CheckEnvironments = []push.Environment{push.Development}
	if err := newProvider(t, cfg).Check(context.Background()); err != nil {
		t.Errorf("Check of a development certificate on development: %v", err)
	}
}

func TestNoAnswer(t *testing.T) {
	f := setup(t, func(c *Config) { c.RequestTimeout = 300 * time.Millisecond })
	tok := f.emu.RegisterDevice(bundleID, apnsemu.Production, false)
	f.emu.InjectFault(tok, apnsemu.Fault{Kind: apnsemu.FaultSlow, Delay: 5 * time.Second})
	if _, err := f.p.Send(context.Background(), alert(tok, push.Production)); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("slow APNs: %v, want a deadline error", err)
	}
	f.emu.ClearFault(tok)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := f.p.Send(ctx, alert(tok, push.Production)); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}

	if err := f.emu.Close(); err != nil {
		t.Fatal(err)
	}
	res, err := f.p.Send(context.Background(), alert(tok, push.Production))
	if err == nil {
		t.Errorf("Send to a closed APNs returned %+v and no error", res)
	}
}

// Two apps of one team: with a shared TokenCache their Providers use one
// provider token; without, the second one's new token within 20 minutes is
// refused by APNs.
func TestTokenCacheAcrossProviders(t *testing.T) {
	f := setup(t, nil)
	f.emu.AddApp(teamID, "com.example.other")
	tok := f.emu.RegisterDevice("com.example.other", apnsemu.Production, false)
	n := alert(tok, push.Production)
	n.Topic = "com.example.other"

	cache := NewTokenCache(nil, nil)
	a := newProvider(t, withKey(f, func(c *Config) { c.Tokens = cache }))
	b := newProvider(t, withKey(f, func(c *Config) { c.Tokens = cache }))
	for _, p := range []*Provider{a, b, a} {
		res, err := p.Send(context.Background(), n)
		if err != nil {
			t.Fatal(err)
		}
		wantResult(t, res, push.Delivered, 200, "")
	}
	if got := len(f.providerTokens()); got != 1 {
		t.Fatalf("%d provider tokens with a shared cache, want 1", got)
	}

	// f.p has its own token source: a second token for the team, a second
	// later, within 20 minutes. It is Deferred (no job attempt) until APNs
	// can take it: 20 minutes after it was made, since the change in its
	// way came before.
	f.clock.Add(time.Second)
	f.emuClock.Add(time.Second)
	res, err := f.p.Send(context.Background(), n)
	if err != nil {
		t.Fatal(err)
	}
	wantResult(t, res, push.Deferred, 429, "TooManyProviderTokenUpdates")
	if want := epoch.Add(time.Second + MinTokenRefresh); !res.Until.Equal(want) {
		t.Fatalf("Until %s, want %s", res.Until, want)
	}
	// The token is kept, not refreshed, and works at Until.
	f.clock.Add(MinTokenRefresh - time.Second)
	f.emuClock.Add(MinTokenRefresh)
	wantResult(t, f.send(t, n), push.Delivered, 200, "")
	if got := len(f.providerTokens()); got != 2 {
		t.Fatalf("%d provider tokens, want 2 (the refused one kept)", got)
	}
}
