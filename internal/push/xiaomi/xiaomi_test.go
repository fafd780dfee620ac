package xiaomi_test

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	miemu "github.com/heraldim/herald/internal/emulator/xiaomi"
	"github.com/heraldim/herald/internal/push"
	"github.com/heraldim/herald/internal/push/xiaomi"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	pkg     = "im.herald.app"
	secret  = "c2VjcmV0LWFwcC1zZWNyZXQ="
	channel = "im_private"
)

// setup starts a TLS emulator with one app and one device, and a provider
// trusting it.
func setup(t *testing.T, mutate func(*xiaomi.Config)) (*miemu.Emulator, *xiaomi.Provider, string) {
	t.Helper()
	emu, err := miemu.New(miemu.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := emu.AddApp(pkg, secret, channel); err != nil {
		t.Fatal(err)
	}
	if err := emu.Start(""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = emu.Shutdown(context.Background()) })
	cfg := xiaomi.Config{AppSecret: secret, PackageName: pkg, ChannelID: channel, BaseURL: emu.URL(), RootCAs: emu.CertPool()}
	if mutate != nil {
		mutate(&cfg)
	}
	p, err := xiaomi.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return emu, p, emu.RegisterDevice(pkg)
}

func alert(token string) push.Notification {
	return push.Notification{
		ID: "job-1", Token: token, Kind: push.KindAlert, Topic: pkg,
		Title: "Alice", Content: "Lunch at noon?", Payload: `{"conv":"c1","seq":7}`,
		CollapseID: "42", Expiration: time.Now().Add(time.Hour),
		Extra: map[string]string{"conv": "c1"},
	}
}

func TestSendNotificationDelivered(t *testing.T) {
	emu, p, regid := setup(t, nil)
	n := alert(regid)
	n.Title = strings.Repeat("长", 80) // cut below MiPush's 50-character limit
	res, err := p.Send(context.Background(), n)
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != push.Delivered || res.VendorID == "" || res.Status != http.StatusOK {
		t.Fatalf("result %+v", res)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	d, err := emu.Next(ctx, regid)
	if err != nil {
		t.Fatal(err)
	}
	ttl, _ := strconv.ParseInt(d.TTLMillis, 10, 64)
	checks := []struct {
		name      string
		got, want any
	}{
		{"msg id", d.MsgID, res.VendorID},
		{"package", d.PackageName, pkg},
		{"pass-through", d.PassThrough, false},
		{"title runes", len([]rune(d.Title)), 49},
		{"description", d.Description, "Lunch at noon?"},
		{"payload", d.Payload, `{"conv":"c1","seq":7}`},
		{"notify_type", d.NotifyType, "-1"},
		{"notify_id", d.NotifyID, "42"},
		{"channel", d.ChannelID, channel},
		{"extra.channel_id", d.Extra["channel_id"], channel},
		{"extra.conv", d.Extra["conv"], "c1"},
		{"ttl about an hour", ttl > 3590000 && ttl <= 3600000, true},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestSendPassThroughAndDefaults(t *testing.T) {
	emu, p, regid := setup(t, nil)
	n := push.Notification{ID: "job-2", Token: regid, Kind: push.KindData, Payload: "sync:7",
		CollapseID: "conversation-c1", ChannelID: "", Expiration: time.Now().Add(30 * 24 * time.Hour)}
	res, err := p.Send(context.Background(), n)
	if err != nil || res.Outcome != push.Delivered {
		t.Fatalf("result %+v, %v", res, err)
	}
	d := emu.Deliveries(regid)[0]
	if !d.PassThrough || d.Payload != "sync:7" || d.PackageName != pkg || d.NotifyType != "" {
		t.Errorf("delivery %+v", d)
	}
	if d.TTLMillis != "1209600000" {
		t.Errorf("ttl %s, want capped at two weeks", d.TTLMillis)
	}
	if id, err := strconv.ParseInt(d.NotifyID, 10, 64); err != nil || id < 0 || id > 1<<31-1 {
		t.Errorf("notify_id %q for a non-numeric collapse id", d.NotifyID)
	}
}

func TestSendOutcomes(t *testing.T) {
	tests := []struct {
		name  string
		fault *miemu.Fault // on the device's regid
		setup func(emu *miemu.Emulator, regid string)
		cfg   func(*xiaomi.Config)
		want  push.Outcome
	}{
		{name: "invalid regid fault", fault: &miemu.Fault{Kind: miemu.FaultInvalidRegID}, want: push.DropDevice},
		{name: "uninstalled", setup: func(emu *miemu.Emulator, regid string) { emu.Unregister(regid) }, want: push.DropDevice},
		{name: "wrong secret", cfg: func(c *xiaomi.Config) { c.AppSecret = "wrong" }, want: push.AuthFailed},
		{name: "auth fault", fault: &miemu.Fault{Kind: miemu.FaultAuth}, want: push.AuthFailed},
		{name: "too frequent", fault: &miemu.Fault{Kind: miemu.FaultTooFrequent}, want: push.Retry},
		{name: "server error", fault: &miemu.Fault{Kind: miemu.FaultServerError}, want: push.Retry},
		{name: "daily quota", fault: &miemu.Fault{Kind: miemu.FaultDailyQuota}, want: push.QuotaExhausted},
		{name: "unknown channel", cfg: func(c *xiaomi.Config) { c.ChannelID = "marketing" }, want: push.Rejected},
		{name: "wrong package", setup: nil, cfg: func(c *xiaomi.Config) { c.PackageName = "other.app" }, want: push.Rejected},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			emu, p, regid := setup(t, tt.cfg)
			if tt.fault != nil {
				if err := emu.SetFault(regid, *tt.fault); err != nil {
					t.Fatal(err)
				}
			}
			if tt.setup != nil {
				tt.setup(emu, regid)
			}
			n := alert(regid)
			if tt.name == "wrong package" {
				n.Topic = ""
			}
			res, err := p.Send(context.Background(), n)
			if err != nil {
				t.Fatal(err)
			}
			if res.Outcome != tt.want {
				t.Fatalf("outcome %v (%+v), want %v", res.Outcome, res, tt.want)
			}
			if tt.want == push.QuotaExhausted {
				cst := time.FixedZone("CST", 8*3600)
				u := res.Until.In(cst)
				if u.Hour() != 0 || u.Minute() != 0 || !res.Until.After(time.Now()) || time.Until(res.Until) > 24*time.Hour {
					t.Errorf("Until %v is not the next midnight UTC+8", res.Until)
				}
			}
			if len(emu.Deliveries(regid)) != 0 {
				t.Error("a refused push was recorded")
			}
		})
	}
}

func TestSendRefusedBeforeSending(t *testing.T) {
	tests := []struct {
		name string
		edit func(*push.Notification)
		want error
	}{
		{"expired", func(n *push.Notification) { n.Expiration = time.Now().Add(-time.Second) }, push.ErrExpired},
		{"payload too large", func(n *push.Notification) { n.Payload = strings.Repeat("x", 4097) }, push.ErrPayloadTooLarge},
		{"no token", func(n *push.Notification) { n.Token = "" }, push.ErrInvalidNotification},
		{"blank title", func(n *push.Notification) { n.Title = " " }, push.ErrInvalidNotification},
		{"extra channel_id", func(n *push.Notification) { n.Extra = map[string]string{"channel_id": "x"} }, push.ErrInvalidNotification},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			emu, p, regid := setup(t, nil)
			if err := emu.SetFault("", miemu.Fault{Kind: miemu.FaultServerError}); err != nil {
				t.Fatal(err) // any request that gets through would be visible
			}
			n := alert(regid)
			tt.edit(&n)
			res, err := p.Send(context.Background(), n)
			if !errors.Is(err, tt.want) || res.Outcome != 0 {
				t.Fatalf("got %+v, %v; want %v", res, err, tt.want)
			}
			if len(emu.Deliveries(regid)) != 0 {
				t.Error("sent")
			}
		})
	}
}

func TestNewValidatesCredential(t *testing.T) {
	for _, cfg := range []xiaomi.Config{
		{AppSecret: "", PackageName: pkg},
		{AppSecret: "  ", PackageName: pkg},
		{AppSecret: "abc\ndef", PackageName: pkg},
		{AppSecret: secret, PackageName: ""},
	} {
		_, err := xiaomi.New(cfg)
		if !errors.Is(err, push.ErrCredential) {
			t.Errorf("%q/%q: err %v, want ErrCredential", cfg.AppSecret, cfg.PackageName, err)
		}
		if err != nil && strings.TrimSpace(cfg.AppSecret) != "" && strings.Contains(err.Error(), cfg.AppSecret) {
			t.Errorf("error echoes the secret: %v", err)
		}
	}
	if _, err := xiaomi.New(xiaomi.Config{AppSecret: secret, PackageName: pkg, BaseURL: "ftp://x"}); err == nil {
		t.Error("ftp base URL accepted")
	}
}

func TestCheck(t *testing.T) {
	_, p, _ := setup(t, nil)
	if err := p.Check(context.Background()); err != nil {
		t.Fatalf("Check: %v", err)
	}
	_, bad, _ := setup(t, func(c *xiaomi.Config) { c.AppSecret = "wrong-secret" })
	err := bad.Check(context.Background())
	if !errors.Is(err, push.ErrCredential) {
		t.Fatalf("Check with a wrong secret: %v", err)
	}
	if strings.Contains(err.Error(), "wrong-secret") {
		t.Errorf("error echoes the secret: %v", err)
	}
	_, other, _ := setup(t, func(c *xiaomi.Config) { c.PackageName = "other.app" })
	if err := other.Check(context.Background()); err == nil || errors.Is(err, push.ErrCredential) {
		t.Errorf("Check of another package: %v", err)
	}
}

func TestSendNoAnswer(t *testing.T) {
	emu, p, regid := setup(t, func(c *xiaomi.Config) { c.Timeout = 100 * time.Millisecond })
	if err := emu.SetFault(regid, miemu.Fault{Kind: miemu.FaultSlow, Delay: 2 * time.Second}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Send(context.Background(), alert(regid)); err == nil {
		t.Fatal("no error without an answer")
	}
}
