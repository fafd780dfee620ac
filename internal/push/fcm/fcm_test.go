package fcm

// These tests are in-package rather than in fcm_test: Go refuses to import
// a path with a "vendor" element ("use of vendored package not allowed"),
// so not even an external test package can import this one at
// internal/push/fcm.

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	fcmemu "github.com/heraldim/herald/internal/emulator/fcm"
	"github.com/heraldim/herald/internal/push"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	project = "herald-test"
	pkg     = "com.example.chat"
	email   = "pusher@herald-test.iam.gserviceaccount.com"
	keyID   = "0123456789abcdef"
)

// One RSA key for the package: generating 2048-bit keys is slow.
var (
	keyOnce sync.Once
	testKey *rsa.PrivateKey
)

func rsaKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	keyOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		testKey = k
	})
	return testKey
}

func pkcs8PEM(t *testing.T, key any) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

// serviceAccountJSON writes a key file the way the Firebase console does.
func serviceAccountJSON(t *testing.T, fields map[string]string) []byte {
	t.Helper()
	b, err := json.Marshal(fields)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func accountFields(t *testing.T, tokenURI string) map[string]string {
	return map[string]string{
		"type":           "service_account",
		"project_id":     project,
		"private_key_id": keyID,
		"private_key":    pkcs8PEM(t, rsaKey(t)),
		"client_email":   email,
		"client_id":      "1234567890",
		"token_uri":      tokenURI,
	}
}

type env struct {
	emu *fcmemu.Emulator
	p   *Provider
}

// newEnv starts an emulator knowing the test's service account and a
// provider pointed at it through the key file's token_uri.
func newEnv(t *testing.T, mod func(*Config)) *env {
	t.Helper()
	emu, err := fcmemu.New(fcmemu.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := emu.Start(""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := emu.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
	})
	if err := emu.AddServiceAccount(project, email, keyID, &rsaKey(t).PublicKey); err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		ServiceAccountJSON: serviceAccountJSON(t, accountFields(t, emu.TokenURL())),
		BaseURL:            emu.URL(),
		RootCAs:            emu.CertPool(),
	}
	if mod != nil {
		mod(&cfg)
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return &env{emu: emu, p: p}
}

func (e *env) device() string { return e.emu.RegisterDevice(project, pkg) }

func alert(token string) push.Notification {
	return push.Notification{
		ID: "job-1", Token: token, Kind: push.KindAlert, Topic: pkg,
		Title: "Ada", Content: "hello <&> there", Payload: `{"conv":"c1"}`,
	}
}

func testCtx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

func mustSend(t *testing.T, p *Provider, n push.Notification) push.Result {
	t.Helper()
	res, err := p.Send(testCtx(t), n)
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	return res
}

func lastDelivery(t *testing.T, emu *fcmemu.Emulator, token string) fcmemu.Delivery {
	t.Helper()
	d, err := emu.Next(testCtx(t), token)
	if err != nil {
		t.Fatalf("Next: %v", err)
	}
	return d
}

func TestMessageShape(t *testing.T) {
	e := newEnv(t, nil)
	badge := 3
	cases := []struct {
		name  string
		n     func(tok string) push.Notification
		check func(t *testing.T, m fcmemu.Message)
	}{{
		name: "alert",
		n: func(tok string) push.Notification {
			n := alert(tok)
			n.ChannelID, n.CollapseID, n.Badge = "messages", "conv-c1", &badge
			n.Extra = map[string]string{"sender": "ada"}
			return n
		},
		check: func(t *testing.T, m fcmemu.Message) {
			if m.Notification == nil || m.Notification.Title != "Ada" || m.Notification.Body != "hello <&> there" {
				t.Errorf("notification = %+v", m.Notification)
			}
			a := m.Android
			if a == nil || a.Priority != "HIGH" || a.CollapseKey != "conv-c1" || a.RestrictedPackageName != pkg || a.TTL != "" {
				t.Fatalf("android = %+v", a)
			}
			an := a.Notification
			if an == nil || an.ChannelID != "messages" || an.Sound != "default" || an.NotificationCount == nil || *an.NotificationCount != 3 {
				t.Errorf("android.notification = %+v", an)
			}
			want := map[string]string{"payload": `{"conv":"c1"}`, "push_id": "job-1", "sender": "ada"}
			if !equalMaps(m.Data, want) {
				t.Errorf("data = %v, want %v", m.Data, want)
			}
		},
	}, {
		name: "data",
		n: func(tok string) push.Notification {
			n := alert(tok)
			n.Kind, n.Sound = push.KindData, "ring"
			n.Extra = map[string]string{"n": "42", "empty": ""}
			return n
		},
		check: func(t *testing.T, m fcmemu.Message) {
			if m.Notification != nil || m.Android == nil || m.Android.Notification != nil {
				t.Fatalf("a data message has a notification block: %+v %+v", m.Notification, m.Android)
			}
			if m.Android.Priority != "NORMAL" {
				t.Errorf("priority = %q, want NORMAL", m.Android.Priority)
			}
			want := map[string]string{"payload": `{"conv":"c1"}`, "push_id": "job-1", "title": "Ada",
				"content": "hello <&> there", "n": "42", "empty": ""}
			if !equalMaps(m.Data, want) {
				t.Errorf("data = %v, want %v", m.Data, want)
			}
		},
	}, {
		name: "data high",
		n: func(tok string) push.Notification {
			n := alert(tok)
			n.Kind, n.Priority = push.KindData, push.PriorityHigh
			return n
		},
		check: func(t *testing.T, m fcmemu.Message) {
			if m.Android.Priority != "HIGH" {
				t.Errorf("priority = %q, want HIGH", m.Android.Priority)
			}
		},
	}, {
		name: "alert normal",
		n: func(tok string) push.Notification {
			n := alert(tok)
			n.Priority, n.Sound = push.PriorityNormal, "chime"
			return n
		},
		check: func(t *testing.T, m fcmemu.Message) {
			if m.Android.Priority != "NORMAL" || m.Android.Notification.Sound != "chime" {
				t.Errorf("android = %+v %+v", m.Android, m.Android.Notification)
			}
		},
	}, {
		name: "voip is a high data message",
		n: func(tok string) push.Notification {
			n := alert(tok)
			n.Kind, n.Priority = push.KindVoIP, push.PriorityNormal
			return n
		},
		check: func(t *testing.T, m fcmemu.Message) {
			if m.Notification != nil || m.Android.Priority != "HIGH" || m.Data["payload"] == "" {
				t.Errorf("voip message = %+v %+v", m.Notification, m.Android)
			}
		},
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tok := e.device()
			res := mustSend(t, e.p, c.n(tok))
			if res.Outcome != push.Delivered || res.Status != http.StatusOK ||
				!strings.HasPrefix(res.VendorID, "projects/"+project+"/messages/") {
				t.Fatalf("result = %+v", res)
			}
			d := lastDelivery(t, e.emu, tok)
			if d.Name != res.VendorID {
				t.Errorf("delivery %q, VendorID %q", d.Name, res.VendorID)
			}
			c.check(t, d.Message)
		})
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestTTLFromExpiration(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	e := newEnv(t, func(c *Config) { c.Now = func() time.Time { return now } })
	cases := []struct {
		name    string
		exp     time.Time
		wantTTL string
	}{
		{"none", time.Time{}, ""},
		{"seconds", now.Add(90 * time.Second), "90s"},
		{"rounded down", now.Add(90*time.Second + 900*time.Millisecond), "90s"},
		{"under a second", now.Add(400 * time.Millisecond), "0s"},
		{"capped at 28 days", now.Add(60 * 24 * time.Hour), "2419200s"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tok := e.device()
			n := alert(tok)
			n.Expiration = c.exp
			if res := mustSend(t, e.p, n); res.Outcome != push.Delivered {
				t.Fatalf("result = %+v", res)
			}
			if got := lastDelivery(t, e.emu, tok).Message.Android.TTL; got != c.wantTTL {
				t.Errorf("ttl = %q, want %q", got, c.wantTTL)
			}
		})
	}
}

func TestOutcomes(t *testing.T) {
	e := newEnv(t, nil)
	cases := []struct {
		name      string
		setup     func(t *testing.T, tok string) push.Notification
		outcome   push.Outcome
		status    int
		retry     time.Duration
		reasonHas string
	}{{
		name: "unregistered",
		setup: func(t *testing.T, tok string) push.Notification {
			e.emu.Unregister(tok)
			return alert(tok)
		},
		outcome: push.DropDevice, status: 404, reasonHas: "UNREGISTERED",
	}, {
		name: "token never issued",
		setup: func(t *testing.T, tok string) push.Notification {
			return alert("bk3RNwTe3H0:CI2k_HHwgIpoDKCIZvvDMExUdFQ3P1")
		},
		outcome: push.DropDevice, status: 400, reasonHas: "not a valid FCM registration token",
	}, {
		name: "token of another project",
		setup: func(t *testing.T, tok string) push.Notification {
			return alert(e.emu.RegisterDevice("someone-else", pkg))
		},
		outcome: push.DropDevice, status: 403, reasonHas: "SENDER_ID_MISMATCH",
	}, {
		name: "token of another app is a configuration error, not a dead device",
		setup: func(t *testing.T, tok string) push.Notification {
			n := alert(tok)
			n.Topic = "com.example.other"
			return n
		},
		outcome: push.Rejected, status: 400, reasonHas: "restricted",
	}, {
		name: "quota exceeded with Retry-After",
		setup: func(t *testing.T, tok string) push.Notification {
			setFault(t, e.emu, tok, fcmemu.Fault{Status: 429, RetryAfter: 30 * time.Second})
			return alert(tok)
		},
		outcome: push.Retry, status: 429, retry: 30 * time.Second, reasonHas: "QUOTA_EXCEEDED",
	}, {
		name: "quota exceeded without Retry-After waits a minute",
		setup: func(t *testing.T, tok string) push.Notification {
			setFault(t, e.emu, tok, fcmemu.Fault{Status: 429})
			return alert(tok)
		},
		outcome: push.Retry, status: 429, retry: time.Minute,
	}, {
		name: "internal error",
		setup: func(t *testing.T, tok string) push.Notification {
			setFault(t, e.emu, tok, fcmemu.Fault{Status: 500})
			return alert(tok)
		},
		outcome: push.Retry, status: 500, reasonHas: "INTERNAL",
	}, {
		name: "unavailable with Retry-After",
		setup: func(t *testing.T, tok string) push.Notification {
			setFault(t, e.emu, "", fcmemu.Fault{Status: 503, RetryAfter: 7 * time.Second, Times: 1})
			return alert(tok)
		},
		outcome: push.Retry, status: 503, retry: 7 * time.Second, reasonHas: "UNAVAILABLE",
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Cleanup(e.emu.ClearFaults)
			n := c.setup(t, e.device())
			res := mustSend(t, e.p, n)
			if res.Outcome != c.outcome || res.Status != c.status || res.RetryAfter != c.retry {
				t.Fatalf("result = %+v, want %v %d retry %v", res, c.outcome, c.status, c.retry)
			}
			if !strings.Contains(res.Reason, c.reasonHas) {
				t.Errorf("reason %q lacks %q", res.Reason, c.reasonHas)
			}
		})
	}
}

func setFault(t *testing.T, emu *fcmemu.Emulator, tok string, f fcmemu.Fault) {
	t.Helper()
	if err := emu.SetFault(tok, f); err != nil {
		t.Fatal(err)
	}
}

func TestRetryThenDelivered(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.device()
	setFault(t, e.emu, tok, fcmemu.Fault{Status: 503, Times: 2})
	for i, want := range []push.Outcome{push.Retry, push.Retry, push.Delivered} {
		if res := mustSend(t, e.p, alert(tok)); res.Outcome != want {
			t.Fatalf("attempt %d: %+v, want %v", i+1, res, want)
		}
	}
}

func TestAccessTokenReused(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.device()
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for range 40 { // concurrent first sends share one token exchange
		wg.Go(func() {
			res, err := e.p.Send(context.Background(), alert(tok))
			if err == nil && res.Outcome != push.Delivered {
				err = errors.New(res.Reason)
			}
			if err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for range 20 {
		mustSend(t, e.p, alert(tok))
	}
	if s := e.emu.Stats(); s.TokenGrants != 1 || s.Accepted != 60 {
		t.Errorf("stats = %+v, want 1 grant for 60 sends", s)
	}
}

func TestAccessTokenExpiredMidway(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.device()
	if res := mustSend(t, e.p, alert(tok)); res.Outcome != push.Delivered {
		t.Fatalf("first send: %+v", res)
	}
	e.emu.ExpireAccessTokens()
	res := mustSend(t, e.p, alert(tok))
	if res.Outcome != push.AuthFailed || res.Status != 401 {
		t.Fatalf("send with an expired token: %+v, want AuthFailed 401", res)
	}
	if res := mustSend(t, e.p, alert(tok)); res.Outcome != push.Delivered {
		t.Fatalf("retry after AuthFailed: %+v, want Delivered", res)
	}
	if g := e.emu.Stats().TokenGrants; g != 2 {
		t.Errorf("token grants = %d, want 2", g)
	}
}

func TestAccessTokenRefreshedBeforeExpiry(t *testing.T) {
	now := time.Now()
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	e := newEnv(t, func(c *Config) { c.Now = clock })
	tok := e.device()
	mustSend(t, e.p, alert(tok))
	mu.Lock()
	now = now.Add(3599*time.Second - 59*time.Second) // inside the last minute
	mu.Unlock()
	if res := mustSend(t, e.p, alert(tok)); res.Outcome != push.Delivered {
		t.Fatalf("%+v", res)
	}
	if g := e.emu.Stats().TokenGrants; g != 2 {
		t.Errorf("token grants = %d, want 2 (refreshed a minute before expiry)", g)
	}
}

func TestRefusedBeforeSending(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.device()
	big := alert(tok)
	big.Payload = strings.Repeat("x", 4000)
	expired := alert(tok)
	expired.Expiration = time.Now().Add(-time.Second)
	cases := []struct {
		name string
		n    push.Notification
		want error
	}{
		{"payload too large", big, push.ErrPayloadTooLarge},
		{"expired", expired, push.ErrExpired},
		{"empty token", alert(""), push.ErrInvalidNotification},
		{"unknown kind", func() push.Notification { n := alert(tok); n.Kind = "smoke"; return n }(), push.ErrInvalidNotification},
		{"unknown priority", func() push.Notification { n := alert(tok); n.Priority = "urgent"; return n }(), push.ErrInvalidNotification},
		{"alert without text", func() push.Notification { n := alert(tok); n.Title, n.Content = "", ""; return n }(), push.ErrInvalidNotification},
		{"reserved data key", func() push.Notification {
			n := alert(tok)
			n.Extra = map[string]string{"google.sent_time": "1"}
			return n
		}(), push.ErrInvalidNotification},
		{"Herald's data key", func() push.Notification {
			n := alert(tok)
			n.Extra = map[string]string{"payload": "2"}
			return n
		}(), push.ErrInvalidNotification},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, err := e.p.Send(testCtx(t), c.n)
			if !errors.Is(err, c.want) {
				t.Fatalf("Send = %+v, %v; want %v", res, err, c.want)
			}
		})
	}
	if s := e.emu.Stats(); s.SendRequests != 0 || s.TokenGrants != 0 {
		t.Errorf("stats = %+v: something was sent", s)
	}
}

func TestPayloadJustFits(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.device()
	n := alert(tok)
	// Find the largest payload the provider sends; FCM's limit must take it.
	lo, hi := 0, maxBody
	for lo < hi {
		mid := (lo + hi + 1) / 2
		n.Payload = strings.Repeat("y", mid)
		res, err := e.p.Send(testCtx(t), n)
		switch {
		case errors.Is(err, push.ErrPayloadTooLarge):
			hi = mid - 1
		case err != nil || res.Outcome != push.Delivered:
			t.Fatalf("payload of %d bytes: %+v, %v", mid, res, err)
		default:
			lo = mid
		}
	}
	if lo < 3500 {
		t.Errorf("largest payload sent is %d bytes: the overhead counted is too large", lo)
	}
}

// maxBody is MaxBodyBytes, for the search above.
const maxBody = MaxBodyBytes

func TestSlowFCMTimesOut(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Timeout = 200 * time.Millisecond })
	tok := e.device()
	mustSend(t, e.p, alert(tok)) // token fetched before the slowness
	setFault(t, e.emu, tok, fcmemu.Fault{Delay: 5 * time.Second})
	res, err := e.p.Send(testCtx(t), alert(tok))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Send = %+v, %v; want a deadline error and no result", res, err)
	}
}

func TestTokenEndpointRefusal(t *testing.T) {
	e := newEnv(t, nil)
	e.emu.RemoveServiceAccount(email)
	res := mustSend(t, e.p, alert(e.device()))
	if res.Outcome != push.AuthFailed || res.Status != 400 || !strings.Contains(res.Reason, "invalid_grant") {
		t.Fatalf("result = %+v, want AuthFailed 400 invalid_grant", res)
	}
}

func TestCheck(t *testing.T) {
	t.Run("ok", func(t *testing.T) {
		e := newEnv(t, nil)
		if err := e.p.Check(testCtx(t)); err != nil {
			t.Fatal(err)
		}
		if s := e.emu.Stats(); s.TokenGrants != 1 || s.Accepted != 1 {
			t.Errorf("stats = %+v, want one grant and one validate-only send", s)
		}
		if d := e.emu.Deliveries("/topics/herald-credential-check"); len(d) != 0 {
			t.Errorf("validate_only delivered %d messages", len(d))
		}
	})
	t.Run("key not the account's", func(t *testing.T) {
		e := newEnv(t, nil)
		other, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		e.emu.RemoveServiceAccount(email)
		if err := e.emu.AddServiceAccount(project, email, "", &other.PublicKey); err != nil {
			t.Fatal(err)
		}
		err = e.p.Check(testCtx(t))
		if !errors.Is(err, push.ErrCredential) || !strings.Contains(err.Error(), "Invalid JWT Signature") {
			t.Fatalf("Check = %v, want ErrCredential for a bad signature", err)
		}
	})
	t.Run("account of another project", func(t *testing.T) {
		e := newEnv(t, nil)
		e.emu.RemoveServiceAccount(email)
		if err := e.emu.AddServiceAccount("elsewhere", email, keyID, &rsaKey(t).PublicKey); err != nil {
			t.Fatal(err)
		}
		e.emu.AddProject(project)
		if err := e.p.Check(testCtx(t)); !errors.Is(err, push.ErrCredential) {
			t.Fatalf("Check = %v, want ErrCredential (403 on the validate-only send)", err)
		}
	})
	t.Run("token endpoint down", func(t *testing.T) {
		e := newEnv(t, func(c *Config) { c.TokenURL = "https://127.0.0.1:1/token" })
		err := e.p.Check(testCtx(t))
		if err == nil || errors.Is(err, push.ErrCredential) {
			t.Fatalf("Check = %v, want a network error that is not ErrCredential", err)
		}
	})
}

func TestCredentialValidation(t *testing.T) {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	good := accountFields(t, "")
	keyBody := strings.Split(good["private_key"], "\n")[1] // a line of the key's base64
	with := func(k, v string) []byte {
		f := accountFields(t, "")
		if v == "<delete>" {
			delete(f, k)
		} else {
			f[k] = v
		}
		return serviceAccountJSON(t, f)
	}
	cases := []struct {
		name string
		json []byte
		want string
	}{
		{"empty", nil, "no service account JSON"},
		{"not JSON", []byte(`{"type":"service_account","private_key":"` + keyBody), "not valid JSON"},
		{"wrong type", with("type", "authorized_user"), `type is "authorized_user"`},
		{"no private key", with("private_key", "<delete>"), "private_key is missing"},
		{"no client email", with("client_email", ""), "client_email is missing"},
		{"no project", with("project_id", "<delete>"), "project_id is missing"},
		{"not PEM", with("private_key", keyBody), "not PEM-encoded"},
		{"bad PEM content", with("private_key", "-----BEGIN PRIVATE KEY-----\n"+keyBody[:40]+"\n-----END PRIVATE KEY-----\n"), "does not parse"},
		{"not RSA", with("private_key", pkcs8PEM(t, ec)), "not an RSA key"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := New(Config{ServiceAccountJSON: c.json})
			if !errors.Is(err, push.ErrCredential) {
				t.Fatalf("New = %v, want ErrCredential", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q lacks %q", err, c.want)
			}
			if strings.Contains(err.Error(), keyBody[:16]) || strings.Contains(err.Error(), "BEGIN") {
				t.Errorf("error echoes the key: %q", err)
			}
		})
	}
	t.Run("PKCS#1 accepted", func(t *testing.T) {
		f := accountFields(t, "")
		f["private_key"] = string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey(t))}))
		p, err := New(Config{ServiceAccountJSON: serviceAccountJSON(t, f)})
		if err != nil {
			t.Fatal(err)
		}
		if p.ProjectID() != project {
			t.Errorf("project = %q", p.ProjectID())
		}
	})
	t.Run("bad base URL", func(t *testing.T) {
		_, err := New(Config{ServiceAccountJSON: serviceAccountJSON(t, good), BaseURL: "fcm.googleapis.com"})
		if err == nil || errors.Is(err, push.ErrCredential) {
			t.Fatalf("New = %v, want a configuration error", err)
		}
	})
}

func TestUntrustedServer(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.RootCAs = nil }) // system roots do not know the emulator's CA
	res, err := e.p.Send(testCtx(t), alert(e.device()))
	if err == nil {
		t.Fatalf("Send = %+v, want a TLS error", res)
	}
}
