package fcm_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"go.uber.org/goleak"

	"github.com/heraldim/herald/internal/emulator/fcm"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	project = "emu-project"
	pkg     = "com.example.chat"
	email   = "sender@emu-project.iam.gserviceaccount.com"
	kid     = "kid-1"
	scope   = "https://www.googleapis.com/auth/firebase.messaging"
)

var (
	keysOnce         sync.Once
	key, otherKey    *rsa.PrivateKey
	errKeyGeneration error
)

func keys(t *testing.T) (*rsa.PrivateKey, *rsa.PrivateKey) {
	t.Helper()
	keysOnce.Do(func() {
		if key, errKeyGeneration = rsa.GenerateKey(rand.Reader, 2048); errKeyGeneration == nil {
			otherKey, errKeyGeneration = rsa.GenerateKey(rand.Reader, 2048)
		}
	})
	if errKeyGeneration != nil {
		t.Fatal(errKeyGeneration)
	}
	return key, otherKey
}

// clock is a settable clock for the emulator.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type env struct {
	emu    *fcm.Emulator
	clock  *clock
	client *http.Client
}

func newEnv(t *testing.T) *env {
	t.Helper()
	k, _ := keys(t)
	c := &clock{now: time.Now()}
	emu, err := fcm.New(fcm.Config{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	if err := emu.Start(""); err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: emu.CertPool()}, ForceAttemptHTTP2: true}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		if err := emu.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
	})
	if err := emu.AddServiceAccount(project, email, kid, &k.PublicKey); err != nil {
		t.Fatal(err)
	}
	return &env{emu: emu, clock: c, client: &http.Client{Transport: tr, Timeout: 10 * time.Second}}
}

// claims are an assertion's claims, valid unless a test changes them.
func (e *env) claims() jwt.MapClaims {
	now := e.clock.Now()
	return jwt.MapClaims{
		"iss": email, "scope": scope, "aud": e.emu.TokenURL(),
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
}

func sign(t *testing.T, method jwt.SigningMethod, k any, headerKid string, c jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, c)
	if headerKid != "" {
		tok.Header["kid"] = headerKid
	}
	s, err := tok.SignedString(k)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

type answer struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (e *env) do(t *testing.T, req *http.Request) answer {
	t.Helper()
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	a := answer{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	_ = json.Unmarshal(raw, &a.body)
	return a
}

func (e *env) tokenRequest(t *testing.T, form url.Values) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.emu.TokenURL(), strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return e.do(t, req)
}

func grantForm(assertion string) url.Values {
	return url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion": {assertion}}
}

// accessToken gets a token through the token endpoint.
func (e *env) accessToken(t *testing.T) string {
	t.Helper()
	k, _ := keys(t)
	a := e.tokenRequest(t, grantForm(sign(t, jwt.SigningMethodRS256, k, kid, e.claims())))
	tok, _ := a.body["access_token"].(string)
	if a.status != 200 || tok == "" {
		t.Fatalf("token endpoint: %d %s", a.status, a.raw)
	}
	return tok
}

func (e *env) send(t *testing.T, projectID, bearer, body string) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.emu.URL()+"/v1/projects/"+projectID+"/messages:send", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	return e.do(t, req)
}

// googleError reads Google's envelope: status, FcmError code, first field
// violation.
func (a answer) googleError() (status, fcmCode, field string) {
	ge, _ := a.body["error"].(map[string]any)
	status, _ = ge["status"].(string)
	details, _ := ge["details"].([]any)
	for _, d := range details {
		dm, _ := d.(map[string]any)
		switch dm["@type"] {
		case "type.googleapis.com/google.firebase.fcm.v1.FcmError":
			fcmCode, _ = dm["errorCode"].(string)
		case "type.googleapis.com/google.rpc.BadRequest":
			fv, _ := dm["fieldViolations"].([]any)
			if len(fv) > 0 {
				field, _ = fv[0].(map[string]any)["field"].(string)
			}
		}
	}
	return status, fcmCode, field
}

func TestTokenEndpoint(t *testing.T) {
	e := newEnv(t)
	k, other := keys(t)
	with := func(mod func(jwt.MapClaims)) jwt.MapClaims {
		c := e.claims()
		mod(c)
		return c
	}
	cases := []struct {
		name      string
		form      url.Values
		status    int
		errorCode string
		descHas   string
	}{
		{"good", grantForm(sign(t, jwt.SigningMethodRS256, k, kid, e.claims())), 200, "", ""},
		{"no kid is fine", grantForm(sign(t, jwt.SigningMethodRS256, k, "", e.claims())), 200, "", ""},
		{"cloud-platform scope", grantForm(sign(t, jwt.SigningMethodRS256, k, kid, with(func(c jwt.MapClaims) {
			c["scope"] = "openid https://www.googleapis.com/auth/cloud-platform"
		}))), 200, "", ""},
		{"signed by another key", grantForm(sign(t, jwt.SigningMethodRS256, other, kid, e.claims())), 400, "invalid_grant", "Invalid JWT Signature."},
		{"kid of another key", grantForm(sign(t, jwt.SigningMethodRS256, k, "kid-2", e.claims())), 400, "invalid_grant", "Invalid JWT Signature."},
		{"HS256", grantForm(sign(t, jwt.SigningMethodHS256, []byte("secret"), kid, e.claims())), 400, "invalid_grant", "Invalid JWT Signature."},
		{"RS512", grantForm(sign(t, jwt.SigningMethodRS512, k, kid, e.claims())), 400, "invalid_grant", "Invalid JWT Signature."},
		{"garbage", grantForm("not.a.jwt"), 400, "invalid_grant", "Invalid JWT"},
		{"unknown account", grantForm(sign(t, jwt.SigningMethodRS256, k, kid, with(func(c jwt.MapClaims) {
			c["iss"] = "nobody@x.iam.gserviceaccount.com"
		}))), 400, "invalid_grant", "account not found"},
		{"wrong audience", grantForm(sign(t, jwt.SigningMethodRS256, k, kid, with(func(c jwt.MapClaims) {
			c["aud"] = "https://oauth2.googleapis.com/token"
		}))), 400, "invalid_grant", "audience"},
		{"longer than an hour", grantForm(sign(t, jwt.SigningMethodRS256, k, kid, with(func(c jwt.MapClaims) {
			c["exp"] = e.clock.Now().Add(61 * time.Minute).Unix()
		}))), 400, "invalid_grant", "short-lived"},
		{"expired", grantForm(sign(t, jwt.SigningMethodRS256, k, kid, with(func(c jwt.MapClaims) {
			c["iat"], c["exp"] = e.clock.Now().Add(-2*time.Hour).Unix(), e.clock.Now().Add(-time.Hour).Unix()
		}))), 400, "invalid_grant", "short-lived"},
		{"issued in the future", grantForm(sign(t, jwt.SigningMethodRS256, k, kid, with(func(c jwt.MapClaims) {
			c["iat"], c["exp"] = e.clock.Now().Add(time.Hour).Unix(), e.clock.Now().Add(90*time.Minute).Unix()
		}))), 400, "invalid_grant", "short-lived"},
		{"no iat", grantForm(sign(t, jwt.SigningMethodRS256, k, kid, with(func(c jwt.MapClaims) { delete(c, "iat") }))), 400, "invalid_grant", "short-lived"},
		{"no scope", grantForm(sign(t, jwt.SigningMethodRS256, k, kid, with(func(c jwt.MapClaims) { delete(c, "scope") }))), 400, "invalid_scope", "missing scope"},
		{"scope without messaging", grantForm(sign(t, jwt.SigningMethodRS256, k, kid, with(func(c jwt.MapClaims) {
			c["scope"] = "https://www.googleapis.com/auth/devstorage.read_only"
		}))), 400, "invalid_scope", "Invalid OAuth scope"},
		{"impersonation", grantForm(sign(t, jwt.SigningMethodRS256, k, kid, with(func(c jwt.MapClaims) { c["sub"] = "user@example.com" }))), 401, "unauthorized_client", ""},
		{"wrong grant type", url.Values{"grant_type": {"client_credentials"}, "assertion": {"x"}}, 400, "unsupported_grant_type", ""},
		{"no assertion", url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}}, 400, "invalid_request", "assertion"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := e.tokenRequest(t, c.form)
			if a.status != c.status {
				t.Fatalf("status %d, want %d: %s", a.status, c.status, a.raw)
			}
			if c.status == 200 {
				if a.body["token_type"] != "Bearer" || a.body["expires_in"] != float64(3599) || a.body["access_token"] == "" {
					t.Errorf("grant = %s", a.raw)
				}
				return
			}
			desc, _ := a.body["error_description"].(string)
			if a.body["error"] != c.errorCode || !strings.Contains(desc, c.descHas) {
				t.Errorf("refusal = %s, want %s with %q", a.raw, c.errorCode, c.descHas)
			}
		})
	}
	if s := e.emu.Stats(); s.TokenGrants != 3 || s.TokenRefusals != len(cases)-3 {
		t.Errorf("stats = %+v", s)
	}

	t.Run("GET", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, e.emu.TokenURL(), nil)
		if a := e.do(t, req); a.status != http.StatusMethodNotAllowed {
			t.Errorf("GET /token: %d", a.status)
		}
	})
	t.Run("JSON body", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, e.emu.TokenURL(), strings.NewReader(`{}`))
		req.Header.Set("Content-Type", "application/json")
		if a := e.do(t, req); a.status != 400 || a.body["error"] != "invalid_request" {
			t.Errorf("JSON body: %d %s", a.status, a.raw)
		}
	})
}

func TestSendChecks(t *testing.T) {
	e := newEnv(t)
	bearer := e.accessToken(t)
	tok := e.emu.RegisterDevice(project, pkg)
	gone := e.emu.RegisterDevice(project, pkg)
	e.emu.Unregister(gone)
	foreign := e.emu.RegisterDevice("other-project", pkg)
	msg := func(fields string) string { return `{"message":{"token":"` + tok + `"` + fields + `}}` }
	big := strings.Repeat("x", 4096) // with the key, one byte over

	cases := []struct {
		name     string
		project  string
		bearer   string
		body     string
		status   int
		gStatus  string
		fcmCode  string
		field    string
		msgHas   string
		accepted bool
	}{
		{name: "minimal", body: msg(``), status: 200, accepted: true},
		{name: "full alert", body: msg(`,"notification":{"title":"t","body":"b"},"data":{"k":"v"},
			"android":{"priority":"HIGH","ttl":"3600s","collapse_key":"c","restricted_package_name":"` + pkg + `",
			"notification":{"channel_id":"ch","sound":"default","notification_count":2,"color":"#ff0000","visibility":"PRIVATE"}}`),
			status: 200, accepted: true},
		{name: "lowerCamelCase names", body: `{"validateOnly":false,"message":{"token":"` + tok + `","android":{"collapseKey":"c","restrictedPackageName":"` + pkg + `","notification":{"channelId":"x","notificationCount":"3"}}}}`,
			status: 200, accepted: true},
		{name: "lowercase priority", body: msg(`,"android":{"priority":"high"}`), status: 200, accepted: true},
		{name: "fractional ttl", body: msg(`,"android":{"ttl":"3.5s"}`), status: 200, accepted: true},
		{name: "ttl 0s", body: msg(`,"android":{"ttl":"0s"}`), status: 200, accepted: true},
		{name: "ttl at the maximum", body: msg(`,"android":{"ttl":"2419200s"}`), status: 200, accepted: true},
		{name: "no bearer", bearer: "-", body: msg(``), status: 401, gStatus: "UNAUTHENTICATED", msgHas: "missing required authentication"},
		{name: "unknown bearer", bearer: "ya29.nope", body: msg(``), status: 401, gStatus: "UNAUTHENTICATED", msgHas: "invalid authentication credentials"},
		{name: "unknown project", project: "no-such-project", body: msg(``), status: 404, gStatus: "NOT_FOUND"},
		{name: "project of another account", project: "other-project", body: msg(``), status: 403, gStatus: "PERMISSION_DENIED"},
		{name: "not JSON", body: `{"message":`, status: 400, gStatus: "INVALID_ARGUMENT"},
		{name: "not an object", body: `[1]`, status: 400, gStatus: "INVALID_ARGUMENT"},
		{name: "unknown top-level field", body: `{"message":{"token":"` + tok + `"},"dry_run":true}`, status: 400, gStatus: "INVALID_ARGUMENT", msgHas: `Unknown name "dry_run"`},
		{name: "unknown message field", body: msg(`,"priority":"high"`), status: 400, gStatus: "INVALID_ARGUMENT", field: "message", msgHas: `Unknown name "priority" at 'message'`},
		{name: "unknown android field", body: msg(`,"android":{"time_to_live":60}`), status: 400, field: "message.android", msgHas: "time_to_live"},
		{name: "no message", body: `{"validate_only":true}`, status: 400, field: "message"},
		{name: "no target", body: `{"message":{"data":{"a":"b"}}}`, status: 400, field: "message", msgHas: "Recipient of the message is not set."},
		{name: "empty token", body: `{"message":{"token":""}}`, status: 400, field: "message.token"},
		{name: "two targets", body: msg(`,"topic":"news"`), status: 400, field: "message", msgHas: "oneof field 'target' is already set"},
		{name: "non-string data value", body: msg(`,"data":{"a":"1","b":2}`), status: 400, gStatus: "INVALID_ARGUMENT", field: "message.data[1].value", msgHas: "(TYPE_STRING), 2"},
		{name: "non-string android data value", body: msg(`,"android":{"data":{"a":true}}`), status: 400, field: "message.android.data[0].value"},
		{name: "reserved data key", body: msg(`,"data":{"google.c.a":"1"}`), status: 400, field: "message.data"},
		{name: "from data key", body: msg(`,"data":{"from":"me"}`), status: 400, field: "message.data"},
		{name: "bad priority", body: msg(`,"android":{"priority":"URGENT"}`), status: 400, field: "message.android.priority"},
		{name: "ttl in hours", body: msg(`,"android":{"ttl":"1h"}`), status: 400, field: "message.android.ttl"},
		{name: "ttl as a number", body: msg(`,"android":{"ttl":60}`), status: 400, field: "message.android.ttl"},
		{name: "negative ttl", body: msg(`,"android":{"ttl":"-5s"}`), status: 400, field: "message.android.ttl"},
		{name: "ttl over 28 days", body: msg(`,"android":{"ttl":"2419201s"}`), status: 400, field: "message.android.ttl"},
		{name: "bad color", body: msg(`,"android":{"notification":{"color":"red"}}`), status: 400, field: "message.android.notification.color"},
		{name: "title not a string", body: msg(`,"notification":{"title":5}`), status: 400, field: "message.notification.title"},
		{name: "too big", body: msg(`,"data":{"k":"` + big + `"}`), status: 400, field: "message", msgHas: "too big"},
		{name: "unknown token", body: `{"message":{"token":"bk3RNwTe3H0:CI2k_HHwgIpoDKCIZvvDMExUdFQ3P1"}}`, status: 400, gStatus: "INVALID_ARGUMENT", fcmCode: "INVALID_ARGUMENT", msgHas: "not a valid FCM registration token"},
		{name: "unregistered token", body: `{"message":{"token":"` + gone + `"}}`, status: 404, gStatus: "NOT_FOUND", fcmCode: "UNREGISTERED"},
		{name: "token of another project", body: `{"message":{"token":"` + foreign + `"}}`, status: 403, gStatus: "PERMISSION_DENIED", fcmCode: "SENDER_ID_MISMATCH"},
		{name: "token of another app", body: msg(`,"android":{"restricted_package_name":"com.other"}`), status: 400, field: "message.android.restricted_package_name"},
		{name: "topic", body: `{"message":{"topic":"news","data":{"a":"b"}}}`, status: 200},
		{name: "bad topic", body: `{"message":{"topic":"news and weather"}}`, status: 400, field: "message.topic"},
		{name: "topic message over 2048", body: `{"message":{"topic":"news","data":{"k":"` + strings.Repeat("y", 2100) + `"}}}`, status: 400, msgHas: "too big"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, b := c.project, c.bearer
			if p == "" {
				p = project
			}
			switch b {
			case "":
				b = bearer
			case "-":
				b = ""
			}
			before := len(e.emu.Deliveries(tok))
			a := e.send(t, p, b, c.body)
			if a.status != c.status {
				t.Fatalf("status %d, want %d: %s", a.status, c.status, a.raw)
			}
			gs, code, field := a.googleError()
			if c.status == 200 {
				if name, _ := a.body["name"].(string); !strings.HasPrefix(name, "projects/"+project+"/messages/0:") {
					t.Errorf("name = %q", name)
				}
			} else {
				if gs == "" || a.body["error"].(map[string]any)["code"] != float64(c.status) {
					t.Errorf("not Google's envelope: %s", a.raw)
				}
				if (c.gStatus != "" && gs != c.gStatus) || code != c.fcmCode || (c.field != "" && field != c.field) {
					t.Errorf("error = %s, want status %q errorCode %q field %q", a.raw, c.gStatus, c.fcmCode, c.field)
				}
				if m, _ := a.body["error"].(map[string]any)["message"].(string); !strings.Contains(m, c.msgHas) {
					t.Errorf("error message %q lacks %q", m, c.msgHas)
				}
			}
			if got := len(e.emu.Deliveries(tok)) - before; (got == 1) != c.accepted {
				t.Errorf("%d new deliveries for the token, accepted = %v", got, c.accepted)
			}
		})
	}
}

func TestDeliveryRecord(t *testing.T) {
	e := newEnv(t)
	bearer := e.accessToken(t)
	tok := e.emu.RegisterDevice(project, pkg)
	got := make(chan fcm.Delivery, 1)
	go func() {
		d, err := e.emu.Next(context.Background(), tok)
		if err != nil {
			t.Error(err)
		}
		got <- d
	}()
	a := e.send(t, project, bearer, `{"message":{"token":"`+tok+`","notification":{"title":"Hi","body":"there"},
		"data":{"payload":"{\"c\":1}"},"android":{"priority":"normal","ttl":"60s","notification":{"channel_id":"msgs"}}}}`)
	if a.status != 200 {
		t.Fatalf("%d %s", a.status, a.raw)
	}
	var d fcm.Delivery
	select {
	case d = <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("Next did not return")
	}
	m := d.Message
	ttl, ok := m.TTL()
	if d.Name != a.body["name"] || d.Token != tok || d.Dropped || d.Delivered.IsZero() ||
		m.Notification.Title != "Hi" || m.Data["payload"] != `{"c":1}` ||
		m.Android.Priority != "NORMAL" || !ok || ttl != time.Minute || m.Android.Notification.ChannelID != "msgs" {
		t.Errorf("delivery = %+v", d)
	}
	if !json.Valid(d.Raw) {
		t.Errorf("raw = %s", d.Raw)
	}

	t.Run("validate_only delivers nothing", func(t *testing.T) {
		a := e.send(t, project, bearer, `{"validate_only":true,"message":{"token":"`+tok+`"}}`)
		if a.status != 200 || a.body["name"] != "projects/"+project+"/messages/fake_message_id" {
			t.Fatalf("%d %s", a.status, a.raw)
		}
		if n := len(e.emu.Deliveries(tok)); n != 1 {
			t.Errorf("%d deliveries", n)
		}
	})
	t.Run("Next ends with the context", func(t *testing.T) {
		c, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		if _, err := e.emu.Next(c, tok); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Next = %v", err)
		}
	})
}

func TestAccessTokenExpiry(t *testing.T) {
	e := newEnv(t)
	tok := e.emu.RegisterDevice(project, pkg)
	body := `{"message":{"token":"` + tok + `"}}`

	bearer := e.accessToken(t)
	e.emu.ExpireAccessTokens()
	if a := e.send(t, project, bearer, body); a.status != 401 {
		t.Fatalf("expired by ExpireAccessTokens: %d", a.status)
	}
	bearer = e.accessToken(t)
	if a := e.send(t, project, bearer, body); a.status != 200 {
		t.Fatalf("fresh token: %d %s", a.status, a.raw)
	}
	e.clock.Add(3599 * time.Second)
	a := e.send(t, project, bearer, body)
	if a.status != 401 || a.header.Get("WWW-Authenticate") == "" {
		t.Fatalf("after an hour: %d %v", a.status, a.header)
	}
}

func TestFaults(t *testing.T) {
	e := newEnv(t)
	bearer := e.accessToken(t)
	tok := e.emu.RegisterDevice(project, pkg)
	other := e.emu.RegisterDevice(project, pkg)
	body := func(tk string) string { return `{"message":{"token":"` + tk + `"}}` }

	if err := e.emu.SetFault(tok, fcm.Fault{Status: 429, RetryAfter: 1500 * time.Millisecond, Times: 1}); err != nil {
		t.Fatal(err)
	}
	a := e.send(t, project, bearer, body(tok))
	if _, code, _ := a.googleError(); a.status != 429 || code != "QUOTA_EXCEEDED" || a.header.Get("Retry-After") != "2" {
		t.Fatalf("throttled: %d %v %s", a.status, a.header, a.raw)
	}
	if !strings.Contains(a.raw, "google.rpc.QuotaFailure") {
		t.Errorf("no QuotaFailure detail: %s", a.raw)
	}
	if a := e.send(t, project, bearer, body(tok)); a.status != 200 {
		t.Fatalf("after the one throttled send: %d", a.status)
	}

	if err := e.emu.SetFault("", fcm.Fault{Status: 503, RetryAfter: 10 * time.Second}); err != nil {
		t.Fatal(err)
	}
	for _, tk := range []string{tok, other, "unknown"} {
		a := e.send(t, project, bearer, body(tk))
		if _, code, _ := a.googleError(); a.status != 503 || code != "UNAVAILABLE" || a.header.Get("Retry-After") != "10" {
			t.Fatalf("global outage: %d %v %s", a.status, a.header, a.raw)
		}
	}
	e.emu.ClearFaults()

	if err := e.emu.SetFault(other, fcm.Fault{Status: 500}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if a := e.send(t, project, bearer, body(other)); a.status != 500 || a.header.Get("Retry-After") != "" {
			t.Fatalf("internal: %d %v", a.status, a.header)
		}
	}
	if a := e.send(t, project, bearer, body(tok)); a.status != 200 {
		t.Fatalf("a fault of one token hit another: %d", a.status)
	}
	e.emu.ClearFaults()

	if err := e.emu.SetFault(tok, fcm.Fault{Delay: 300 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if a := e.send(t, project, bearer, body(tok)); a.status != 200 || time.Since(start) < 300*time.Millisecond {
		t.Fatalf("slow: %d after %v", a.status, time.Since(start))
	}
	if err := e.emu.SetFault(tok, fcm.Fault{Status: 404}); err == nil {
		t.Error("SetFault accepted status 404")
	}
}

func TestOfflineDevice(t *testing.T) {
	e := newEnv(t)
	bearer := e.accessToken(t)
	tok := e.emu.RegisterDevice(project, pkg)
	send := func(android string) {
		t.Helper()
		if a := e.send(t, project, bearer, `{"message":{"token":"`+tok+`","android":`+android+`}}`); a.status != 200 {
			t.Fatalf("%d %s", a.status, a.raw)
		}
	}
	if err := e.emu.SetOnline(tok, false); err != nil {
		t.Fatal(err)
	}
	send(`{"ttl":"0s"}`)                       // now or never: dropped at once
	send(`{"ttl":"60s"}`)                      // will run out
	send(`{"ttl":"7200s","collapse_key":"c"}`) // replaced by the next one
	send(`{"ttl":"7200s","collapse_key":"c"}`)
	send(`{}`) // default storage
	if d := e.emu.Deliveries(tok); len(d) != 2 || !d[0].Dropped || !d[1].Dropped {
		t.Fatalf("while offline: %+v", d)
	}
	if n := len(e.emu.Held(tok)); n != 3 {
		t.Fatalf("held %d, want 3", n)
	}
	e.clock.Add(2 * time.Minute)
	if err := e.emu.SetOnline(tok, true); err != nil {
		t.Fatal(err)
	}
	d := e.emu.Deliveries(tok)
	if len(d) != 5 {
		t.Fatalf("%d records, want 5", len(d))
	}
	wantDropped := []bool{true, true, true, false, false}
	for i, w := range wantDropped {
		if d[i].Dropped != w || (d[i].Delivered.IsZero() != w) {
			t.Errorf("record %d: dropped %v (%s), delivered %v; want dropped %v", i, d[i].Dropped, d[i].DropReason, d[i].Delivered, w)
		}
	}
	if !strings.Contains(d[2].DropReason, "ttl") {
		t.Errorf("record 2 reason %q", d[2].DropReason)
	}
	if err := e.emu.SetOnline("nope", true); err == nil {
		t.Error("SetOnline of an unknown token")
	}
}

func TestCreateServiceAccount(t *testing.T) {
	e := newEnv(t)
	raw, err := e.emu.CreateServiceAccount("created")
	if err != nil {
		t.Fatal(err)
	}
	var sa map[string]string
	if err := json.Unmarshal(raw, &sa); err != nil {
		t.Fatal(err)
	}
	if sa["type"] != "service_account" || sa["project_id"] != "created" || sa["token_uri"] != e.emu.TokenURL() ||
		!strings.Contains(sa["private_key"], "BEGIN PRIVATE KEY") || sa["client_email"] == "" {
		t.Fatalf("key file = %s", raw)
	}
	k, err := jwt.ParseRSAPrivateKeyFromPEM([]byte(sa["private_key"]))
	if err != nil {
		t.Fatal(err)
	}
	now := e.clock.Now()
	a := e.tokenRequest(t, grantForm(sign(t, jwt.SigningMethodRS256, k, sa["private_key_id"], jwt.MapClaims{
		"iss": sa["client_email"], "scope": scope, "aud": sa["token_uri"],
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	})))
	if a.status != 200 {
		t.Fatalf("grant with the created account: %d %s", a.status, a.raw)
	}
}

func TestLifecycle(t *testing.T) {
	emu, err := fcm.New(fcm.Config{PlainHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- emu.Run(ctx, "127.0.0.1:0") }()
	deadline := time.Now().Add(5 * time.Second)
	for emu.URL() == "" && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if !strings.HasPrefix(emu.URL(), "http://127.0.0.1:") {
		t.Fatalf("URL = %q", emu.URL())
	}
	resp, err := http.Post(emu.URL()+"/v1/projects/p/messages:send", "application/json", bytes.NewReader([]byte(`{}`)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("no bearer over plain HTTP: %d", resp.StatusCode)
	}
	http.DefaultClient.CloseIdleConnections()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := emu.Shutdown(context.Background()); err != nil {
		t.Errorf("second Shutdown: %v", err)
	}
	if err := emu.Start(""); err == nil {
		t.Error("Start after Shutdown succeeded")
	}
	if _, err := emu.Next(context.Background(), "x"); !errors.Is(err, fcm.ErrClosed) {
		t.Errorf("Next after Shutdown = %v", err)
	}
}

func TestTransportAndRoutes(t *testing.T) {
	e := newEnv(t)
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(e.emu.CACertPEM()) {
		t.Fatal("CACertPEM holds no certificate")
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get(e.emu.URL() + "/v1/nothing/here")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.ProtoMajor != 2 || resp.StatusCode != 404 || resp.TLS == nil {
		t.Errorf("GET unknown path: %s %d", resp.Proto, resp.StatusCode)
	}
	req, _ := http.NewRequest(http.MethodGet, e.emu.URL()+"/v1/projects/"+project+"/messages:send", nil)
	if a := e.do(t, req); a.status != 404 {
		t.Errorf("GET messages:send: %d", a.status)
	}
}

func TestProjectsAndAccounts(t *testing.T) {
	e := newEnv(t)
	bearer := e.accessToken(t)
	tok := e.emu.RegisterDevice(project, pkg)
	body := `{"message":{"token":"` + tok + `","apns":{"payload":{"aps":{}}},"webpush":{"headers":{}},"fcm_options":{"analytics_label":"x"}}}`
	if a := e.send(t, project, bearer, body); a.status != 200 {
		t.Fatalf("apns/webpush blocks: %d %s", a.status, a.raw)
	}
	if a := e.send(t, project, bearer, `{"message":{"token":"`+tok+`","apns":"x"}}`); a.status != 400 {
		t.Errorf("apns not an object: %d", a.status)
	}
	e.emu.AddProject("empty-project")
	if a := e.send(t, "empty-project", bearer, body); a.status != 403 {
		t.Errorf("existing project of another account: %d %s", a.status, a.raw)
	}
	e.emu.RemoveServiceAccount(email)
	if a := e.send(t, project, bearer, body); a.status != 401 {
		t.Errorf("token of a removed account: %d", a.status)
	}
	k, _ := keys(t)
	a := e.tokenRequest(t, grantForm(sign(t, jwt.SigningMethodRS256, k, kid, e.claims())))
	if a.status != 400 || a.body["error"] != "invalid_grant" {
		t.Errorf("grant for a removed account: %d %s", a.status, a.raw)
	}
	if err := e.emu.AddServiceAccount("p2", "x@p2.iam.gserviceaccount.com", "", nil); err == nil {
		t.Error("AddServiceAccount without a key")
	}
}

func TestUnregisterWhileHeld(t *testing.T) {
	e := newEnv(t)
	bearer := e.accessToken(t)
	tok := e.emu.RegisterDevice(project, pkg)
	if err := e.emu.SetOnline(tok, false); err != nil {
		t.Fatal(err)
	}
	if a := e.send(t, project, bearer, `{"message":{"token":"`+tok+`"}}`); a.status != 200 {
		t.Fatalf("%d", a.status)
	}
	e.emu.Unregister(tok)
	d := e.emu.Deliveries(tok)
	if len(d) != 1 || !d[0].Dropped || d[0].DropReason != "token unregistered" {
		t.Fatalf("deliveries = %+v", d)
	}
	if a := e.send(t, project, bearer, `{"message":{"token":"`+tok+`"}}`); a.status != 404 {
		t.Errorf("send after Unregister: %d", a.status)
	}
}
