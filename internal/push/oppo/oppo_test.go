package oppo_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	emu "github.com/heraldim/herald/internal/emulator/oppo"
	"github.com/heraldim/herald/internal/push"
	"github.com/heraldim/herald/internal/push/oppo"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

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
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type env struct {
	e     *emu.Emulator
	p     *oppo.Provider
	clk   *clock
	app   emu.App
	regID string
}

// setup starts an emulator over TLS and a provider trusting its CA, both
// on one test clock (2026-03-01 10:00 UTC, 18:00 in Beijing).
func setup(t *testing.T, change func(*oppo.Config)) *env {
	t.Helper()
	clk := &clock{t: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)}
	e, err := emu.New(emu.Config{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(""); err != nil {
		t.Fatal(err)
	}
	app := e.CreateApp("com.example.chat", "im_private", "other")
	id, err := e.RegisterDevice(app.PackageName)
	if err != nil {
		t.Fatal(err)
	}
	cfg := oppo.Config{
		AppKey: app.AppKey, MasterSecret: app.MasterSecret, BaseURL: e.URL(), RootCAs: e.CertPool(),
		ChannelID: "im_private", Category: "IM", NotifyLevel: 2, Now: clk.Now,
	}
	if change != nil {
		change(&cfg)
	}
	p, err := oppo.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.Close()
		if err := e.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return &env{e: e, p: p, clk: clk, app: app, regID: id}
}

func (v *env) alert() push.Notification {
	return push.Notification{ID: "job-1", Token: v.regID, Kind: push.KindAlert, Topic: "com.example.chat",
		Title: "Alice", Content: "hello <you>", Payload: `{"conv":"c1","seq":7}`, Extra: map[string]string{"k": "v"}}
}

func (v *env) send(t *testing.T, n push.Notification) push.Result {
	t.Helper()
	res, err := v.p.Send(context.Background(), n)
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	return res
}

func TestDelivered(t *testing.T) {
	v := setup(t, nil)
	n := v.alert()
	n.Expiration = v.clk.Now().Add(2*time.Hour + 500*time.Millisecond)
	res := v.send(t, n)
	if res.Outcome != push.Delivered || res.Status != 200 || !strings.HasPrefix(res.VendorID, v.app.AppID+"-1-1-") {
		t.Fatalf("result %+v", res)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	d, err := v.e.Next(ctx, v.regID)
	if err != nil {
		t.Fatal(err)
	}
	got := d.Notification
	if d.MessageID != res.VendorID || got.Title != "Alice" || got.Content != "hello <you>" || got.ChannelID != "im_private" ||
		got.Category != "IM" || got.NotifyLevel != 2 || !got.OffLine || got.OffLineTTL != 7200 ||
		got.ClickActionType != 0 || got.AppMessageID != "job-1" {
		t.Fatalf("notification %+v", got)
	}
	var params map[string]string
	if err := json.Unmarshal([]byte(got.ActionParameters), &params); err != nil {
		t.Fatal(err)
	}
	if params[oppo.ParamPayload] != n.Payload || params[oppo.ParamPushID] != "job-1" || params["k"] != "v" {
		t.Fatalf("action_parameters %v", params)
	}

	// The notification's own channel wins; a 30-day expiration is capped.
	n.ChannelID, n.Expiration = "other", v.clk.Now().Add(30*24*time.Hour)
	v.send(t, n)
	if d, _ = v.e.Next(ctx, v.regID); d.Notification.ChannelID != "other" || d.Notification.OffLineTTL != 864000 {
		t.Fatalf("notification %+v", d.Notification)
	}
	// No expiration: no off_line_ttl.
	n.Expiration = time.Time{}
	v.send(t, n)
	if d, _ = v.e.Next(ctx, v.regID); d.Notification.OffLineTTL != 0 {
		t.Fatalf("notification %+v", d.Notification)
	}
}

func TestAuthTokenCache(t *testing.T) {
	v := setup(t, nil)
	for range 5 {
		if r := v.send(t, v.alert()); r.Outcome != push.Delivered {
			t.Fatalf("%+v", r)
		}
	}
	if s := v.e.Stats(); s.AuthGrants != 1 || s.Accepted != 5 {
		t.Fatalf("stats %+v", s)
	}

	// Code 11: AuthFailed and the token is dropped; the retry re-authenticates.
	if err := v.e.SetFault(v.regID, emu.Fault{Code: 11, Times: 1}); err != nil {
		t.Fatal(err)
	}
	if r := v.send(t, v.alert()); r.Outcome != push.AuthFailed || !strings.HasPrefix(r.Reason, "code 11") {
		t.Fatalf("%+v", r)
	}
	if r := v.send(t, v.alert()); r.Outcome != push.Delivered {
		t.Fatalf("%+v", r)
	}
	if s := v.e.Stats(); s.AuthGrants != 2 {
		t.Fatalf("after code 11: %+v", s)
	}

	// 23 h later the token is still used; before 24 h it is replaced.
	v.clk.Add(23 * time.Hour)
	v.send(t, v.alert())
	if s := v.e.Stats(); s.AuthGrants != 2 {
		t.Fatalf("at 23 h: %+v", s)
	}
	v.clk.Add(55 * time.Minute)
	if r := v.send(t, v.alert()); r.Outcome != push.Delivered {
		t.Fatalf("%+v", r)
	}
	if s := v.e.Stats(); s.AuthGrants != 3 {
		t.Fatalf("at 23 h 55: %+v", s)
	}

	// Concurrent sends without a token share one auth call.
	v.clk.Add(24 * time.Hour)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if r, err := v.p.Send(context.Background(), v.alert()); err != nil || r.Outcome != push.Delivered {
				t.Errorf("%+v %v", r, err)
			}
		})
	}
	wg.Wait()
	if s := v.e.Stats(); s.AuthGrants != 4 {
		t.Fatalf("concurrent: %+v", s)
	}
}

func TestOutcomes(t *testing.T) {
	v := setup(t, nil)
	midnight := time.Date(2026, 3, 1, 16, 0, 0, 0, time.UTC) // 2026-03-02 00:00 UTC+8
	tests := []struct {
		name  string
		fault emu.Fault
		token string // "" : the registered device
		want  push.Outcome
		until time.Time
	}{
		{name: "invalid regId fault", fault: emu.Fault{Code: 10000}, want: push.DropDevice},
		{name: "unknown regId", token: "CN_0123456789abcdef0123456789abcdef", want: push.DropDevice},
		{name: "malformed regId", token: "not-a-reg-id", want: push.DropDevice},
		{name: "flow control", fault: emu.Fault{Code: -2}, want: push.Retry},
		{name: "unavailable", fault: emu.Fault{Code: -1}, want: push.Retry},
		{name: "call limited", fault: emu.Fault{Code: 13}, want: push.Retry},
		{name: "frequency", fault: emu.Fault{Code: 55}, want: push.Retry},
		{name: "daily limit", fault: emu.Fault{Code: 33}, want: push.QuotaExhausted, until: midnight},
		{name: "HTTP 503", fault: emu.Fault{HTTPStatus: 503}, want: push.Retry},
		{name: "slow", fault: emu.Fault{Delay: 20 * time.Millisecond}, want: push.Delivered},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v.e.ClearFaults()
			if err := v.e.SetFault("", tt.fault); err != nil {
				t.Fatal(err)
			}
			n := v.alert()
			if tt.token != "" {
				n.Token = tt.token
			}
			r := v.send(t, n)
			if r.Outcome != tt.want || !r.Until.Equal(tt.until) {
				t.Fatalf("%+v, want %v until %v", r, tt.want, tt.until)
			}
		})
	}
	v.e.ClearFaults()
	v.e.Unregister(v.regID)
	if r := v.send(t, v.alert()); r.Outcome != push.DropDevice {
		t.Fatalf("uninstalled: %+v", r)
	}
}

func TestRejectedByEmulator(t *testing.T) {
	// A category the emulator does not know is a configuration error (67).
	v := setup(t, func(c *oppo.Config) { c.Category = "CHAT" })
	if r := v.send(t, v.alert()); r.Outcome != push.Rejected || !strings.HasPrefix(r.Reason, "code 67") {
		t.Fatalf("%+v", r)
	}
}

func TestRefusedBeforeSending(t *testing.T) {
	v := setup(t, nil)
	long := func(n int) string { return strings.Repeat("消", n) }
	tests := []struct {
		name   string
		change func(*push.Notification)
		want   error
	}{
		{"data", func(n *push.Notification) { n.Kind = push.KindData }, push.ErrInvalidNotification},
		{"voip", func(n *push.Notification) { n.Kind = push.KindVoIP }, push.ErrInvalidNotification},
		{"no token", func(n *push.Notification) { n.Token = "" }, push.ErrInvalidNotification},
		{"no title", func(n *push.Notification) { n.Title = "" }, push.ErrInvalidNotification},
		{"no content", func(n *push.Notification) { n.Content = "" }, push.ErrInvalidNotification},
		{"extra uses payload", func(n *push.Notification) { n.Extra = map[string]string{"payload": "x"} }, push.ErrInvalidNotification},
		{"title 51", func(n *push.Notification) { n.Title = long(51) }, push.ErrPayloadTooLarge},
		{"content 201", func(n *push.Notification) { n.Content = long(201) }, push.ErrPayloadTooLarge},
		{"payload over 4 KB", func(n *push.Notification) { n.Payload = strings.Repeat("x", 4096) }, push.ErrPayloadTooLarge},
		{"expired", func(n *push.Notification) { n.Expiration = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC) }, push.ErrExpired},
		{"expires in 0.5 s", func(n *push.Notification) { n.Expiration = time.Date(2026, 3, 1, 10, 0, 0, 5e8, time.UTC) }, push.ErrExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := v.alert()
			tt.change(&n)
			if _, err := v.p.Send(context.Background(), n); !errors.Is(err, tt.want) {
				t.Fatalf("err %v, want %v", err, tt.want)
			}
		})
	}
	// Limits are inclusive.
	n := v.alert()
	n.Title, n.Content = long(50), long(200)
	if r := v.send(t, n); r.Outcome != push.Delivered {
		t.Fatalf("%+v", r)
	}
	if s := v.e.Stats(); s.SendRequests != 1 || s.AuthGrants != 1 {
		t.Fatalf("refused pushes reached the emulator: %+v", s)
	}
}

func TestCredential(t *testing.T) {
	const secret = "s3cr3t-master"
	tests := []struct {
		name string
		cfg  oppo.Config
	}{
		{"no app key", oppo.Config{MasterSecret: secret}},
		{"no master secret", oppo.Config{AppKey: "k"}},
		{"secret with space", oppo.Config{AppKey: "k", MasterSecret: secret + " "}},
		{"secret with newline", oppo.Config{AppKey: "k", MasterSecret: secret + "\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := oppo.New(tt.cfg)
			if !errors.Is(err, push.ErrCredential) {
				t.Fatalf("err %v", err)
			}
			if strings.Contains(err.Error(), secret) {
				t.Fatalf("error echoes the secret: %v", err)
			}
		})
	}
	if _, err := oppo.New(oppo.Config{AppKey: "k", MasterSecret: "s", BaseURL: "ftp://x"}); err == nil {
		t.Fatal("ftp base URL accepted")
	}
}

func TestCheck(t *testing.T) {
	v := setup(t, nil)
	if err := v.p.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := v.p.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s := v.e.Stats(); s.AuthGrants != 2 {
		t.Fatalf("Check must authenticate each time: %+v", s)
	}
	// The token Check obtained serves the next Send.
	v.send(t, v.alert())
	if s := v.e.Stats(); s.AuthGrants != 2 {
		t.Fatalf("%+v", s)
	}

	for name, change := range map[string]func(*oppo.Config){
		"wrong secret":    func(c *oppo.Config) { c.MasterSecret = "wrong" },
		"unknown app key": func(c *oppo.Config) { c.AppKey = "unknown" },
	} {
		t.Run(name, func(t *testing.T) {
			w := setup(t, change)
			if err := w.p.Check(context.Background()); !errors.Is(err, push.ErrCredential) {
				t.Fatalf("Check: %v", err)
			}
			// Send reports the refusal as AuthFailed.
			if r := w.send(t, w.alert()); r.Outcome != push.AuthFailed || !strings.HasPrefix(r.Reason, "auth code 1") {
				t.Fatalf("%+v", r)
			}
		})
	}
}

func TestNoAnswer(t *testing.T) {
	v := setup(t, nil)
	if err := v.e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := v.p.Send(context.Background(), v.alert()); err == nil {
		t.Fatal("Send to a stopped server: no error")
	}
	if err := v.p.Check(context.Background()); err == nil || errors.Is(err, push.ErrCredential) {
		t.Fatalf("Check: %v", err)
	}
}
