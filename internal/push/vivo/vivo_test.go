package vivo

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	vivoemu "github.com/heraldim/herald/internal/emulator/vivo"
	"github.com/heraldim/herald/internal/push"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	appID     = "10004"
	appKey    = "25509283-3767-4b9e-83fe-b6e55ac6b123"
	appSecret = "s3cr3t-0000"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// start is 10:00 in UTC+8.
var start = time.Date(2026, 11, 27, 2, 0, 0, 0, time.UTC)

type fixture struct {
	emu   *vivoemu.Emulator
	p     *Provider
	clock *clock
}

// setup starts an emulator over TLS sharing a clock with a Provider;
// edit may change the Provider's Config.
func setup(t *testing.T, ecfg vivoemu.Config, edit func(*Config)) *fixture {
	t.Helper()
	c := &clock{t: start}
	ecfg.Now = c.Now
	emu, err := vivoemu.New(ecfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := emu.AddApp(vivoemu.App{ID: appID, Key: appKey, Secret: appSecret}); err != nil {
		t.Fatal(err)
	}
	if err := emu.Start(""); err != nil {
		t.Fatal(err)
	}
	cfg := Config{AppID: appID, AppKey: appKey, AppSecret: appSecret, BaseURL: emu.URL(), RootCAs: emu.CertPool(), Now: c.Now}
	if edit != nil {
		edit(&cfg)
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.Close()
		if err := emu.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return &fixture{emu: emu, p: p, clock: c}
}

// seq numbers the notifications; atomic: some tests send concurrently.
var seq atomic.Int64

func note(token string) push.Notification {
	return push.Notification{
		ID: "push-" + strconv.FormatInt(seq.Add(1), 10), Token: token, Kind: push.KindAlert, Priority: push.PriorityHigh,
		Title: "新消息", Content: "Alice: 晚上一起吃饭吗？", Payload: `{"conv":"c1","seq":42}`,
		Extra: map[string]string{"conv": "c1"},
	}
}

func TestSendDelivered(t *testing.T) {
	f := setup(t, vivoemu.Config{RequireAppID: true, RequireCategory: true}, nil)
	reg := f.emu.RegisterDevice(appID)
	n := note(reg)
	n.Expiration = start.Add(2 * time.Hour)
	res, err := f.p.Send(context.Background(), n)
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != push.Delivered || res.Status != 200 || res.VendorID == "" {
		t.Fatalf("result %+v", res)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	d, err := f.emu.Next(ctx, reg)
	if err != nil {
		t.Fatal(err)
	}
	m := d.Message
	checks := []struct {
		name      string
		got, want any
	}{
		{"taskId", d.TaskID, res.VendorID},
		{"requestId", m.RequestID, n.ID},
		{"appId", m.AppID, appID},
		{"title", m.Title, n.Title},
		{"content", m.Content, n.Content},
		{"classification", m.Classification, 1},
		{"category", m.Category, "IM"},
		{"notifyType", m.NotifyType, 4},
		{"skipType", m.SkipType, 1},
		{"timeToLive", m.TimeToLive, 7200},
		{"payload", m.ClientCustomMap["payload"], n.Payload},
		{"extra", m.ClientCustomMap["conv"], "c1"},
		{"pushMode", m.PushMode, 0},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestSendOptions(t *testing.T) {
	f := setup(t, vivoemu.Config{AnyHour: true}, func(c *Config) {
		c.Operation, c.Category, c.NotifyType = true, "SOCIAL", 2
		c.SkipType, c.SkipContent = 3, "intent://chat#Intent;end"
	})
	reg := f.emu.RegisterDevice(appID)
	n := note(reg)
	n.Expiration = start.Add(30 * 24 * time.Hour) // capped at 7 days
	if res, err := f.p.Send(context.Background(), n); err != nil || res.Outcome != push.Delivered {
		t.Fatalf("%+v %v", res, err)
	}
	m := f.emu.Deliveries(reg)[0].Message
	if m.Classification != 0 || m.Category != "SOCIAL" || m.NotifyType != 2 || m.SkipType != 3 ||
		m.SkipContent != "intent://chat#Intent;end" || m.TimeToLive != 604800 {
		t.Fatalf("message %+v", m)
	}
}

func TestTokenCached(t *testing.T) {
	f := setup(t, vivoemu.Config{}, nil)
	reg := f.emu.RegisterDevice(appID)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if res, err := f.p.Send(context.Background(), note(reg)); err != nil || res.Outcome != push.Delivered {
				t.Errorf("%+v %v", res, err)
			}
		})
	}
	wg.Wait()
	for range 4 {
		if res, err := f.p.Send(context.Background(), note(reg)); err != nil || res.Outcome != push.Delivered {
			t.Fatalf("%+v %v", res, err)
		}
	}
	if s := f.emu.Stats(); s.Auths != 1 || s.Accepted != 12 {
		t.Fatalf("stats %+v, want 1 auth and 12 accepted", s)
	}
}

func TestTokenRefresh(t *testing.T) {
	t.Run("after the auth-failure code", func(t *testing.T) {
		f := setup(t, vivoemu.Config{}, nil)
		reg := f.emu.RegisterDevice(appID)
		if res, _ := f.p.Send(context.Background(), note(reg)); res.Outcome != push.Delivered {
			t.Fatal(res)
		}
		f.emu.ExpireTokens()
		res, err := f.p.Send(context.Background(), note(reg))
		if err != nil || res.Outcome != push.AuthFailed || !strings.HasPrefix(res.Reason, "10000") {
			t.Fatalf("%+v %v", res, err)
		}
		if res, _ := f.p.Send(context.Background(), note(reg)); res.Outcome != push.Delivered {
			t.Fatalf("retry: %+v", res)
		}
		if s := f.emu.Stats(); s.Auths != 2 {
			t.Fatalf("stats %+v", s)
		}
	})
	t.Run("after an auth fault", func(t *testing.T) {
		f := setup(t, vivoemu.Config{}, nil)
		reg := f.emu.RegisterDevice(appID)
		if err := f.emu.SetFault(reg, vivoemu.Fault{Kind: vivoemu.FaultAuth, Times: 1}); err != nil {
			t.Fatal(err)
		}
		if res, _ := f.p.Send(context.Background(), note(reg)); res.Outcome != push.AuthFailed {
			t.Fatal(res)
		}
		if res, _ := f.p.Send(context.Background(), note(reg)); res.Outcome != push.Delivered {
			t.Fatal(res)
		}
		if s := f.emu.Stats(); s.Auths != 2 {
			t.Fatalf("stats %+v", s)
		}
	})
	t.Run("by age", func(t *testing.T) {
		f := setup(t, vivoemu.Config{}, func(c *Config) { c.TokenRefresh = 48 * time.Hour }) // capped at 23 h
		reg := f.emu.RegisterDevice(appID)
		steps := []struct {
			advance time.Duration
			auths   int
		}{{0, 1}, {22 * time.Hour, 1}, {59 * time.Minute, 1}, {time.Minute, 2}, {24 * time.Hour, 3}}
		for i, s := range steps {
			f.clock.Add(s.advance)
			if res, err := f.p.Send(context.Background(), note(reg)); err != nil || res.Outcome != push.Delivered {
				t.Fatalf("step %d: %+v %v", i, res, err)
			}
			if got := f.emu.Stats().Auths; got != s.auths {
				t.Fatalf("step %d: %d auths, want %d", i, got, s.auths)
			}
		}
	})
	t.Run("default hourly", func(t *testing.T) {
		f := setup(t, vivoemu.Config{}, nil)
		reg := f.emu.RegisterDevice(appID)
		for i, adv := range []time.Duration{0, 59 * time.Minute, 2 * time.Minute} {
			f.clock.Add(adv)
			if res, _ := f.p.Send(context.Background(), note(reg)); res.Outcome != push.Delivered {
				t.Fatalf("step %d: %+v", i, res)
			}
		}
		if got := f.emu.Stats().Auths; got != 2 {
			t.Fatalf("%d auths, want 2", got)
		}
	})
}

func TestOutcomes(t *testing.T) {
	f := setup(t, vivoemu.Config{}, nil)
	reg := f.emu.RegisterDevice(appID)
	gone := f.emu.RegisterDevice(appID)
	f.emu.Unregister(gone)
	midnight := time.Date(2026, 11, 27, 16, 0, 0, 0, time.UTC) // 00:00 UTC+8 on the 28th
	tests := []struct {
		name   string
		token  string
		fault  *vivoemu.Fault
		global bool
		edit   func(*push.Notification)
		want   push.Outcome
		status int
		until  time.Time
		reason string
	}{
		{name: "unknown regId", token: "v2-" + strings.Repeat("a", 51), want: push.DropDevice, status: 200, reason: "10302"},
		{name: "uninstalled", token: gone, want: push.DropDevice, status: 200, reason: "status 2"},
		{name: "invalid regId fault", token: reg, fault: &vivoemu.Fault{Kind: vivoemu.FaultInvalidRegID, Status: 3, Times: 1}, want: push.DropDevice, status: 200},
		{name: "not a test device", token: reg, fault: &vivoemu.Fault{Kind: vivoemu.FaultInvalidRegID, Status: 4, Times: 1}, want: push.Rejected, status: 200},
		{name: "server error", token: reg, fault: &vivoemu.Fault{Kind: vivoemu.FaultServerError, Times: 1}, global: true, want: push.Retry, status: 500},
		{name: "10040", token: reg, fault: &vivoemu.Fault{Kind: vivoemu.FaultCode, Code: 10040, Times: 1}, want: push.Retry, status: 200},
		{name: "daily quota", token: reg, fault: &vivoemu.Fault{Kind: vivoemu.FaultQuota, Times: 1}, want: push.QuotaExhausted, status: 200, until: midnight},
		{name: "10073", token: reg, fault: &vivoemu.Fault{Kind: vivoemu.FaultCode, Code: 10073, Times: 1}, want: push.QuotaExhausted, status: 200, until: midnight},
		{name: "10071", token: reg, fault: &vivoemu.Fault{Kind: vivoemu.FaultCode, Code: 10071, Times: 1}, want: push.Retry, status: 200},
		{name: "10094", token: reg, fault: &vivoemu.Fault{Kind: vivoemu.FaultCode, Code: 10094, Times: 1}, want: push.Rejected, status: 200},
		{name: "10206 on send", token: reg, fault: &vivoemu.Fault{Kind: vivoemu.FaultCode, Code: 10206, Times: 1}, want: push.Rejected, status: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.fault != nil {
				key := tt.token
				if tt.global {
					key = ""
				}
				if err := f.emu.SetFault(key, *tt.fault); err != nil {
					t.Fatal(err)
				}
			}
			n := note(tt.token)
			if tt.edit != nil {
				tt.edit(&n)
			}
			res, err := f.p.Send(context.Background(), n)
			if err != nil {
				t.Fatal(err)
			}
			if res.Outcome != tt.want || (tt.status != 0 && res.Status != tt.status) || !res.Until.Equal(tt.until) ||
				!strings.Contains(res.Reason, tt.reason) {
				t.Fatalf("result %+v, want %v status %d until %v", res, tt.want, tt.status, tt.until)
			}
			if tt.name == "10071" && res.RetryAfter != 21*time.Hour {
				t.Fatalf("RetryAfter %v, want 21h (to 07:00 UTC+8)", res.RetryAfter)
			}
		})
	}
}

func TestBodyRefusedByVivo(t *testing.T) {
	// vivo may require a category (UNCONFIRMED): with none, its field
	// error is a Rejected, not a retry.
	f := setup(t, vivoemu.Config{RequireCategory: true}, func(c *Config) { c.Category = "-" })
	reg := f.emu.RegisterDevice(appID)
	res, err := f.p.Send(context.Background(), note(reg))
	if err != nil || res.Outcome != push.Rejected {
		t.Fatalf("%+v %v", res, err)
	}
}

func TestRefusedBeforeSending(t *testing.T) {
	f := setup(t, vivoemu.Config{}, nil)
	reg := f.emu.RegisterDevice(appID)
	tests := []struct {
		name string
		edit func(*push.Notification)
		want error
	}{
		{"data", func(n *push.Notification) { n.Kind = push.KindData }, push.ErrInvalidNotification},
		{"voip", func(n *push.Notification) { n.Kind = push.KindVoIP }, push.ErrInvalidNotification},
		{"no token", func(n *push.Notification) { n.Token = "" }, push.ErrInvalidNotification},
		{"no ID", func(n *push.Notification) { n.ID = "" }, push.ErrInvalidNotification},
		{"ID of 65", func(n *push.Notification) { n.ID = strings.Repeat("i", 65) }, push.ErrInvalidNotification},
		{"no title", func(n *push.Notification) { n.Title = "" }, push.ErrInvalidNotification},
		{"no content", func(n *push.Notification) { n.Content = "" }, push.ErrInvalidNotification},
		{"extra uses payload", func(n *push.Notification) { n.Extra = map[string]string{"payload": "x"} }, push.ErrInvalidNotification},
		{"21 CJK title", func(n *push.Notification) { n.Title = strings.Repeat("消", 21) }, push.ErrPayloadTooLarge},
		{"41 latin title", func(n *push.Notification) { n.Title = strings.Repeat("a", 41) }, push.ErrPayloadTooLarge},
		{"51 CJK content", func(n *push.Notification) { n.Content = strings.Repeat("消", 51) }, push.ErrPayloadTooLarge},
		{"11 custom pairs", func(n *push.Notification) {
			n.Extra = map[string]string{}
			for i := range 10 {
				n.Extra["k"+strconv.Itoa(i)] = "v"
			}
		}, push.ErrPayloadTooLarge},
		{"payload over 1024", func(n *push.Notification) { n.Payload = strings.Repeat("p", 1020) }, push.ErrPayloadTooLarge},
		{"expired", func(n *push.Notification) { n.Expiration = start.Add(-time.Second) }, push.ErrExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := note(reg)
			tt.edit(&n)
			if _, err := f.p.Send(context.Background(), n); !errors.Is(err, tt.want) {
				t.Fatalf("err %v, want %v", err, tt.want)
			}
		})
	}
	if s := f.emu.Stats(); s.Auths != 0 || s.Sends != 0 {
		t.Fatalf("something was sent: %+v", s)
	}
	// The limits themselves pass.
	n := note(reg)
	n.Title, n.Content = strings.Repeat("消", 20), strings.Repeat("a", 100)
	n.Expiration = start.Add(time.Minute)
	if res, err := f.p.Send(context.Background(), n); err != nil || res.Outcome != push.Delivered {
		t.Fatalf("at the limits: %+v %v", res, err)
	}
}

// TestSendUnderMinimumTTL: a push with less than vivo's minimum
// timeToLive left (a call ring of 30 s) is sent with timeToLive 60, which
// vivo accepts, rather than refused.
func TestSendUnderMinimumTTL(t *testing.T) {
	f := setup(t, vivoemu.Config{}, nil)
	reg := f.emu.RegisterDevice(appID)
	n := note(reg)
	n.Expiration = start.Add(30 * time.Second)
	if res, err := f.p.Send(context.Background(), n); err != nil || res.Outcome != push.Delivered {
		t.Fatalf("30 s left: %+v %v", res, err)
	}
	ds := f.emu.Deliveries(reg)
	if len(ds) != 1 || ds[0].Message.TimeToLive != int(MinTTL/time.Second) {
		t.Fatalf("deliveries %+v, want one with timeToLive 60", ds)
	}
}

func TestNewCredential(t *testing.T) {
	const secret = "very-secret-value"
	tests := []struct {
		name string
		cfg  Config
		cred bool
	}{
		{"no appId", Config{AppKey: "k", AppSecret: secret}, true},
		{"appId not a number", Config{AppID: "app-1", AppKey: "k", AppSecret: secret}, true},
		{"no appKey", Config{AppID: "1", AppSecret: secret}, true},
		{"no appSecret", Config{AppID: "1", AppKey: "k"}, true},
		{"blank appSecret", Config{AppID: "1", AppKey: "k", AppSecret: "  "}, true},
		{"bad base URL", Config{AppID: "1", AppKey: "k", AppSecret: secret, BaseURL: "api-push.vivo.com.cn"}, false},
		{"bad notifyType", Config{AppID: "1", AppKey: "k", AppSecret: secret, NotifyType: 7}, false},
		{"skipType without content", Config{AppID: "1", AppKey: "k", AppSecret: secret, SkipType: 2}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg)
			if err == nil {
				t.Fatal("accepted")
			}
			if errors.Is(err, push.ErrCredential) != tt.cred {
				t.Fatalf("err %v: ErrCredential %v, want %v", err, !tt.cred, tt.cred)
			}
			if strings.Contains(err.Error(), secret) {
				t.Fatalf("error echoes the secret: %v", err)
			}
		})
	}
	p, err := New(Config{AppID: " 1 ", AppKey: "k", AppSecret: secret})
	if err != nil || p.AppID() != "1" {
		t.Fatalf("%v %v", p, err)
	}
	p.Close()
}

func TestCheck(t *testing.T) {
	f := setup(t, vivoemu.Config{}, nil)
	if err := f.p.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := f.p.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s := f.emu.Stats(); s.Auths != 2 {
		t.Fatalf("Check used the cache: %+v", s)
	}
	// The token Check fetched serves the next send.
	reg := f.emu.RegisterDevice(appID)
	if res, _ := f.p.Send(context.Background(), note(reg)); res.Outcome != push.Delivered || f.emu.Stats().Auths != 2 {
		t.Fatalf("%+v", res)
	}

	for _, tt := range []struct {
		name string
		edit func(*Config)
	}{
		{"wrong secret", func(c *Config) { c.AppSecret = "wrong" }},
		{"wrong key", func(c *Config) { c.AppKey = "wrong" }},
		{"unknown app", func(c *Config) { c.AppID = "999" }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := setup(t, vivoemu.Config{}, tt.edit)
			err := f.p.Check(context.Background())
			if !errors.Is(err, push.ErrCredential) {
				t.Fatalf("err %v", err)
			}
			// A send with that credential is AuthFailed.
			res, err := f.p.Send(context.Background(), note(f.emu.RegisterDevice(appID)))
			if err != nil || res.Outcome != push.AuthFailed || !strings.HasPrefix(res.Reason, "auth 102") {
				t.Fatalf("%+v %v", res, err)
			}
		})
	}
	t.Run("clock off by 11 minutes", func(t *testing.T) {
		f := setup(t, vivoemu.Config{}, nil)
		p, err := New(Config{AppID: appID, AppKey: appKey, AppSecret: appSecret, BaseURL: f.emu.URL(), RootCAs: f.emu.CertPool(),
			Now: func() time.Time { return f.clock.Now().Add(11 * time.Minute) }})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		if err := p.Check(context.Background()); !errors.Is(err, push.ErrCredential) || !strings.Contains(err.Error(), "10207") {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("auth too frequent", func(t *testing.T) {
		f := setup(t, vivoemu.Config{AuthRate: 1}, nil)
		if err := f.p.Check(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := f.p.Check(context.Background()); err == nil || errors.Is(err, push.ErrCredential) {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("no server", func(t *testing.T) {
		p, err := New(Config{AppID: appID, AppKey: appKey, AppSecret: appSecret, BaseURL: "http://127.0.0.1:1", Timeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		if err := p.Check(context.Background()); err == nil || errors.Is(err, push.ErrCredential) {
			t.Fatalf("err %v", err)
		}
		if _, err := p.Send(context.Background(), note("v2-"+strings.Repeat("a", 51))); err == nil {
			t.Fatal("Send without a server gave no error")
		}
	})
}
