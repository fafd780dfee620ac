package huawei

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	emu "github.com/heraldim/herald/internal/emulator/huawei"
	"github.com/heraldim/herald/internal/push"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	appID  = "101234567"
	secret = "0a1b2c3d4e5f60718293a4b5c6d7e8f9s3cr3t"
)

// clock is a settable clock shared by the provider and the emulator.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type fixture struct {
	emu   *emu.Emulator
	p     *Provider
	clock *clock
	token string
}

func setup(t *testing.T, mod func(*Config)) *fixture {
	t.Helper()
	clk := &clock{t: time.Date(2026, 3, 10, 15, 30, 0, 0, time.UTC)}
	e, err := emu.New(emu.Config{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Shutdown(context.Background()) })
	e.RegisterApp(appID, secret)
	cfg := Config{
		AppID: appID, ClientSecret: secret,
		BaseURL: e.URL(), TokenURL: e.TokenURL(), RootCAs: e.CertPool(),
		Now: clk.Now,
	}
	if mod != nil {
		mod(&cfg)
	}
	e.SetSelfClassified(appID, cfg.SelfClassified)
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return &fixture{emu: e, p: p, clock: clk, token: e.RegisterDevice(appID)}
}

func (f *fixture) send(t *testing.T, n push.Notification) push.Result {
	t.Helper()
	if n.Token == "" {
		n.Token = f.token
	}
	res, err := f.p.Send(context.Background(), n)
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	return res
}

func (f *fixture) next(t *testing.T) emu.Delivery {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	d, err := f.emu.Next(ctx, f.token)
	if err != nil {
		t.Fatalf("Next: %v", err)
	}
	return d
}

func dataOf(t *testing.T, d emu.Delivery) map[string]string {
	t.Helper()
	if d.Message.Data == nil {
		t.Fatal("no message.data")
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(*d.Message.Data), &m); err != nil {
		t.Fatalf("message.data is not a JSON object of strings: %v", err)
	}
	return m
}

func TestNewCredential(t *testing.T) {
	tests := []struct {
		name        string
		cfg         Config
		credential  bool
		mustNotShow string
	}{
		{"no app ID", Config{ClientSecret: "s"}, true, ""},
		{"app ID with a slash", Config{AppID: "10/1", ClientSecret: "s"}, true, ""},
		{"no secret", Config{AppID: appID}, true, ""},
		{"secret with a line break", Config{AppID: appID, ClientSecret: "topsecret\n"}, true, "topsecret"},
		{"bad base URL", Config{AppID: appID, ClientSecret: "s", BaseURL: "push-api.example"}, false, ""},
		{"bad token URL", Config{AppID: appID, ClientSecret: "s", TokenURL: "ftp://x/y"}, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg)
			if err == nil {
				t.Fatal("New accepted the config")
			}
			if got := errors.Is(err, push.ErrCredential); got != tt.credential {
				t.Errorf("errors.Is(ErrCredential) = %v, want %v (%v)", got, tt.credential, err)
			}
			if tt.mustNotShow != "" && strings.Contains(err.Error(), tt.mustNotShow) {
				t.Errorf("error shows the secret: %v", err)
			}
		})
	}
}

func TestAlertDelivered(t *testing.T) {
	f := setup(t, func(c *Config) { c.SelfClassified = true; c.BadgeClass = "com.example.chat.Main" })
	badge := 7
	res := f.send(t, push.Notification{
		ID: "job-1", Kind: push.KindAlert, Title: "Alice", Content: "hello", Payload: `{"conv":"c1"}`,
		Badge: &badge, ChannelID: "im", CollapseID: "conv-c1", Extra: map[string]string{"k": "v"},
		Expiration: f.clock.Now().Add(30 * 24 * time.Hour),
	})
	if res.Outcome != push.Delivered || res.VendorID == "" {
		t.Fatalf("result %+v, want Delivered with a requestId", res)
	}
	d := f.next(t)
	if d.Pass() {
		t.Fatal("an alert arrived as a pass-through message")
	}
	a := d.Message.Android
	n := a.Notification
	if n.Title != "Alice" || n.Body != "hello" || n.ChannelID != "im" || n.Importance != "NORMAL" || n.Tag != "conv-c1" {
		t.Errorf("notification %+v", n)
	}
	if n.ClickAction == nil || n.ClickAction.Type != 3 {
		t.Errorf("click_action %+v, want type 3", n.ClickAction)
	}
	if n.Badge == nil || n.Badge.SetNum == nil || *n.Badge.SetNum != 7 || n.Badge.Class != "com.example.chat.Main" {
		t.Errorf("badge %+v", n.Badge)
	}
	if a.TTL != "1296000s" {
		t.Errorf("ttl %q, want the 15-day cap", a.TTL)
	}
	if a.Category != "IM" {
		t.Errorf("category %q, want IM", a.Category)
	}
	data := dataOf(t, d)
	if data[DataKeyPushID] != "job-1" || data[DataKeyPayload] != `{"conv":"c1"}` || data["k"] != "v" {
		t.Errorf("data %v", data)
	}
}

func TestPassThrough(t *testing.T) {
	tests := []struct {
		name         string
		classified   bool
		n            push.Notification
		wantUrgency  string
		wantCategory string
	}{
		{"data normal", false, push.Notification{Kind: push.KindData, Title: "t", Content: "c", Payload: "p"}, "NORMAL", ""},
		{"data high", true, push.Notification{Kind: push.KindData, Priority: push.PriorityHigh, Content: "c"}, "HIGH", "IM"},
		{"voip", true, push.Notification{Kind: push.KindVoIP, Priority: push.PriorityNormal, Payload: "call"}, "HIGH", "VOIP"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := setup(t, func(c *Config) { c.SelfClassified = tt.classified })
			if res := f.send(t, tt.n); res.Outcome != push.Delivered {
				t.Fatalf("result %+v", res)
			}
			d := f.next(t)
			if !d.Pass() {
				t.Fatal("not a pass-through message")
			}
			if a := d.Message.Android; a.Urgency != tt.wantUrgency || a.Category != tt.wantCategory {
				t.Errorf("urgency %q category %q, want %q %q", a.Urgency, a.Category, tt.wantUrgency, tt.wantCategory)
			}
			data := dataOf(t, d)
			if tt.n.Title != "" && data[DataKeyTitle] != tt.n.Title || tt.n.Content != "" && data[DataKeyContent] != tt.n.Content {
				t.Errorf("data %v", data)
			}
		})
	}
}

func TestTokenCacheAndRefresh(t *testing.T) {
	f := setup(t, nil)
	alert := push.Notification{Kind: push.KindAlert, Title: "t", Content: "c"}
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			res, err := f.p.Send(context.Background(), push.Notification{Token: f.token, Kind: push.KindAlert, Title: "t", Content: "c"})
			if err != nil || res.Outcome != push.Delivered {
				t.Errorf("Send: %+v %v", res, err)
			}
		})
	}
	wg.Wait()
	if g := f.emu.Stats().TokenGrants; g != 1 {
		t.Fatalf("grants after 20 sends = %d, want 1", g)
	}

	// Near expiry: refreshed before the emulator would refuse it.
	f.clock.Advance(56 * time.Minute)
	if res := f.send(t, alert); res.Outcome != push.Delivered {
		t.Fatalf("after 56 min: %+v", res)
	}
	if g := f.emu.Stats().TokenGrants; g != 2 {
		t.Fatalf("grants after expiry = %d, want 2", g)
	}

	// 80200003: AuthFailed, the token is dropped, the retry fetches one.
	if err := f.emu.SetFault("", emu.Fault{Kind: emu.FaultAuthExpired, Times: 1}); err != nil {
		t.Fatal(err)
	}
	if res := f.send(t, alert); res.Outcome != push.AuthFailed || !strings.HasPrefix(res.Reason, "80200003") {
		t.Fatalf("auth expired: %+v", res)
	}
	if res := f.send(t, alert); res.Outcome != push.Delivered {
		t.Fatalf("retry: %+v", res)
	}
	if g := f.emu.Stats().TokenGrants; g != 3 {
		t.Fatalf("grants after 80200003 = %d, want 3", g)
	}
}

func TestOutcomes(t *testing.T) {
	alert := push.Notification{Kind: push.KindAlert, Title: "t", Content: "c"}
	tests := []struct {
		name    string
		prepare func(f *fixture)
		want    push.Outcome
		check   func(t *testing.T, f *fixture, r push.Result)
	}{
		{"uninstalled: 80300007", func(f *fixture) { f.emu.Unregister(f.token) }, push.DropDevice, nil},
		{"invalid token fault", func(f *fixture) {
			_ = f.emu.SetFault(f.token, emu.Fault{Kind: emu.FaultInvalidToken})
		}, push.DropDevice, nil},
		{"flow control", func(f *fixture) {
			_ = f.emu.SetFault("", emu.Fault{Kind: emu.FaultFlowControl, RetryAfter: 7 * time.Second})
		}, push.Retry, func(t *testing.T, _ *fixture, r push.Result) {
			if r.Status != 503 || r.RetryAfter != 7*time.Second {
				t.Errorf("result %+v, want 503 after 7s", r)
			}
		}},
		{"server error", func(f *fixture) {
			_ = f.emu.SetFault(f.token, emu.Fault{Kind: emu.FaultServerError})
		}, push.Retry, nil},
		{"daily quota", func(f *fixture) {
			_ = f.emu.SetFault(f.token, emu.Fault{Kind: emu.FaultDailyQuota})
		}, push.QuotaExhausted, func(t *testing.T, f *fixture, r push.Result) {
			// 15:30 UTC is 23:30 in China: the quota resets at 16:00 UTC.
			if want := time.Date(2026, 3, 10, 16, 0, 0, 0, time.UTC); !r.Until.Equal(want) {
				t.Errorf("Until %v, want %v", r.Until, want)
			}
		}},
		{"token of another app", func(f *fixture) { f.token = f.emu.RegisterDevice("109999999") }, push.DropDevice, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := setup(t, nil)
			tt.prepare(f)
			res := f.send(t, alert)
			if res.Outcome != tt.want {
				t.Fatalf("outcome %v (%+v), want %v", res.Outcome, res, tt.want)
			}
			if tt.check != nil {
				tt.check(t, f, res)
			}
		})
	}
}

func TestRefusedBeforeSending(t *testing.T) {
	f := setup(t, nil)
	tests := []struct {
		name string
		n    push.Notification
		want error
	}{
		{"too large", push.Notification{Kind: push.KindAlert, Title: "t", Content: strings.Repeat("x", 4000)}, push.ErrPayloadTooLarge},
		{"too large data", push.Notification{Kind: push.KindData, Payload: strings.Repeat("x", 4100)}, push.ErrPayloadTooLarge},
		{"expired", push.Notification{Kind: push.KindAlert, Title: "t", Content: "c", Expiration: f.clock.Now().Add(-time.Second)}, push.ErrExpired},
		{"no token", push.Notification{Token: "", Kind: push.KindAlert, Title: "t"}, push.ErrInvalidNotification},
		{"reserved extra", push.Notification{Kind: push.KindData, Extra: map[string]string{DataKeyPushID: "x"}}, push.ErrInvalidNotification},
		{"empty alert", push.Notification{Kind: push.KindAlert}, push.ErrInvalidNotification},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.name != "no token" {
				tt.n.Token = f.token
			}
			_, err := f.p.Send(context.Background(), tt.n)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err %v, want %v", err, tt.want)
			}
		})
	}
	if s := f.emu.Stats(); s.SendRequests != 0 || s.TokenGrants != 0 {
		t.Fatalf("stats %+v: something was sent", s)
	}
	// Just under the limit goes through: the provider's and the
	// emulator's counting agree.
	n := push.Notification{Token: f.token, Kind: push.KindData}
	for size := 4200; size > 3000; size -= 8 {
		n.Payload = strings.Repeat("y", size)
		res, err := f.p.Send(context.Background(), n)
		if errors.Is(err, push.ErrPayloadTooLarge) {
			continue
		}
		if err != nil || res.Outcome != push.Delivered {
			t.Fatalf("largest accepted payload %d: %+v %v", size, res, err)
		}
		break
	}
}

func TestOAuthRefusalAndCheck(t *testing.T) {
	f := setup(t, nil)
	if err := f.p.Check(context.Background()); err != nil {
		t.Fatalf("Check: %v", err)
	}
	if g := f.emu.Stats().TokenGrants; g != 1 {
		t.Fatalf("grants after Check = %d", g)
	}

	bad := setup(t, func(c *Config) { c.ClientSecret = "wrong-secret" })
	err := bad.p.Check(context.Background())
	if !errors.Is(err, push.ErrCredential) || strings.Contains(err.Error(), "wrong-secret") {
		t.Fatalf("Check with a wrong secret: %v", err)
	}
	res := bad.send(t, push.Notification{Kind: push.KindAlert, Title: "t", Content: "c"})
	if res.Outcome != push.AuthFailed || !strings.Contains(res.Reason, "oauth2 1101") {
		t.Fatalf("send with a wrong secret: %+v", res)
	}
}

func TestTranslate(t *testing.T) {
	p, err := New(Config{AppID: appID, ClientSecret: secret})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	partial := func(inner string) string {
		b, _ := json.Marshal(map[string]string{"code": "80100000", "msg": inner, "requestId": "r"})
		return string(b)
	}
	tests := []struct {
		name   string
		status int
		body   string
		want   push.Outcome
	}{
		{"success", 200, `{"code":"80000000","msg":"Success","requestId":"1"}`, push.Delivered},
		{"partial, ours listed", 200, partial(`{"success":1,"failure":1,"illegal_tokens":["tok"]}`), push.DropDevice},
		{"partial, not ours", 200, partial(`{"success":1,"failure":1,"illegal_tokens":["other"]}`), push.Delivered},
		{"partial, camel reasons", 200, partial(`{"illegalTokens":{"noPushTypeRight":["tok"]}}`), push.DropDevice},
		{"all invalid", 400, `{"code":"80300007","msg":"Invalid Token"}`, push.DropDevice},
		{"auth error", 401, `{"code":"80200001"}`, push.AuthFailed},
		{"token expired, status 200", 200, `{"code":"80200003"}`, push.AuthFailed},
		{"no permission", 403, `{"code":"80300002"}`, push.Rejected},
		{"high priority not allowed", 400, `{"code":"80300011"}`, push.Rejected},
		{"param error", 400, `{"code":"80100001"}`, push.Rejected},
		{"structure error", 400, `{"code":"80100003"}`, push.Rejected},
		{"internal", 500, `{"code":"81000001"}`, push.Retry},
		{"oauth service", 500, `{"code":"80600003"}`, push.Retry},
		{"flow control, odd body", 503, `<html>busy</html>`, push.Retry},
		{"bad gateway, no body", 502, ``, push.Retry},
		{"quota", 200, `{"code":"80300016"}`, push.QuotaExhausted},
		{"numeric code", 200, `{"code":80000000}`, push.Delivered},
		{"401 no code", 401, ``, push.AuthFailed},
		{"404 no code", 404, `not found`, push.Rejected},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := p.translate(tt.status, map[string][]string{}, []byte(tt.body), "tok", now)
			if res.Outcome != tt.want {
				t.Fatalf("outcome %v (%+v), want %v", res.Outcome, res, tt.want)
			}
		})
	}
}

func TestNextChinaMidnight(t *testing.T) {
	tests := []struct{ now, want time.Time }{
		{time.Date(2026, 3, 10, 15, 59, 0, 0, time.UTC), time.Date(2026, 3, 10, 16, 0, 0, 0, time.UTC)},
		{time.Date(2026, 3, 10, 16, 0, 0, 0, time.UTC), time.Date(2026, 3, 11, 16, 0, 0, 0, time.UTC)},
		{time.Date(2026, 12, 31, 20, 0, 0, 0, time.UTC), time.Date(2027, 1, 1, 16, 0, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		if got := nextChinaMidnight(tt.now); !got.Equal(tt.want) {
			t.Errorf("nextChinaMidnight(%v) = %v, want %v", tt.now, got, tt.want)
		}
	}
}
