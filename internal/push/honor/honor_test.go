package honor

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	emu "github.com/heraldim/herald/internal/emulator/honor"
	"github.com/heraldim/herald/internal/push"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	appID    = "104436289"
	clientID = "1893471560928374"
	secret   = "d2b1c0e9f8a7b6c5d4e3f2a1b0c9d8e7s3cr3t"
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
	if err := e.RegisterApp(emu.App{AppID: appID, ClientID: clientID, ClientSecret: secret}); err != nil {
		t.Fatal(err)
	}
	cfg := Config{AppID: appID, ClientID: clientID, ClientSecret: secret,
		BaseURL: e.URL(), TokenURL: e.TokenURL(), RootCAs: e.CertPool(), Now: clk.Now}
	if mod != nil {
		mod(&cfg)
	}
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

// TestAlert: a notification message reaches the phone's tray with what
// Honor documents: title, body, clickAction, the IM importance and the
// custom data as a JSON string.
func TestAlert(t *testing.T) {
	f := setup(t, func(c *Config) { c.BadgeClass = "com.example.chat.MainActivity" })
	badge := 3
	res := f.send(t, push.Notification{ID: "job-1", Kind: push.KindAlert, Title: "Alice", Content: "hi",
		Payload: `{"conv":"c1"}`, Badge: &badge, Extra: map[string]string{"k": "v"},
		Expiration: f.clock.Now().Add(90 * time.Minute)})
	if res.Outcome != push.Delivered || res.VendorID == "" || res.Status != 200 {
		t.Fatalf("result %+v", res)
	}
	ds := f.emu.Deliveries(f.token)
	if len(ds) != 1 || ds[0].RequestID != res.VendorID {
		t.Fatalf("deliveries %+v, want one with requestId %s", ds, res.VendorID)
	}
	m := ds[0].Message
	an := m.Android.Notification
	if an.Title != "Alice" || an.Body != "hi" || an.ClickAction.Type != 3 || an.Importance != "NORMAL" ||
		an.Badge == nil || *an.Badge.SetNum != 3 || an.Badge.BadgeClass != "com.example.chat.MainActivity" {
		t.Fatalf("android.notification %+v", an)
	}
	if *m.Android.TTL != "5400s" {
		t.Fatalf("ttl %q", *m.Android.TTL)
	}
	var data map[string]string
	if err := json.Unmarshal([]byte(*m.Data), &data); err != nil || data[DataKeyPayload] != `{"conv":"c1"}` || data[DataKeyPushID] != "job-1" || data["k"] != "v" {
		t.Fatalf("data %v %v", data, err)
	}
	if tr := f.emu.Tray(f.token); len(tr) != 1 || tr[0].Title != "Alice" {
		t.Fatalf("tray %+v", tr)
	}
}

// TestData: a data push is a pass-through message: no notification, the
// title and content in data.
func TestData(t *testing.T) {
	f := setup(t, nil)
	if res := f.send(t, push.Notification{Kind: push.KindData, Title: "t", Content: "c", Payload: "p"}); res.Outcome != push.Delivered {
		t.Fatalf("result %+v", res)
	}
	d := f.emu.Deliveries(f.token)[0]
	if !d.Pass() {
		t.Fatalf("not a pass-through message: %s", d.Raw)
	}
	var data map[string]string
	_ = json.Unmarshal([]byte(*d.Message.Data), &data)
	if data[DataKeyTitle] != "t" || data[DataKeyContent] != "c" || data[DataKeyPayload] != "p" {
		t.Fatalf("data %v", data)
	}
	if len(f.emu.Tray(f.token)) != 0 {
		t.Fatal("a pass-through message shows in the tray")
	}
}

// TestCollapse: pushes with one collapse ID replace each other in the tray.
func TestCollapse(t *testing.T) {
	f := setup(t, nil)
	for _, c := range []string{"one", "two"} {
		f.send(t, push.Notification{Kind: push.KindAlert, Title: "call", Content: c, CollapseID: "call-7"})
	}
	f.send(t, push.Notification{Kind: push.KindAlert, Title: "other", Content: "x"})
	tr := f.emu.Tray(f.token)
	if len(tr) != 2 || tr[0].Body != "two" || tr[1].Title != "other" {
		t.Fatalf("tray %+v", tr)
	}
}

// TestDeadTokens: an uninstalled app's token (expireTokens), a token
// Honor does not know (failTokens) and one of no token's form (80300007)
// all remove the device.
func TestDeadTokens(t *testing.T) {
	f := setup(t, nil)
	alert := push.Notification{Kind: push.KindAlert, Title: "t", Content: "c"}
	f.emu.Unregister(f.token)
	if res := f.send(t, alert); res.Outcome != push.DropDevice || res.Status != 200 {
		t.Fatalf("uninstalled: %+v", res)
	}
	alert.Token = "BAEAAAAAB" + strings.Repeat("x", 90)
	if res := f.send(t, alert); res.Outcome != push.DropDevice {
		t.Fatalf("unknown: %+v", res)
	}
	alert.Token = "not a token"
	if res := f.send(t, alert); res.Outcome != push.DropDevice || !strings.HasPrefix(res.Reason, "80300007") {
		t.Fatalf("malformed: %+v", res)
	}
	other := f.emu.RegisterDevice("999999")
	alert.Token = other
	if res := f.send(t, alert); res.Outcome != push.DropDevice {
		t.Fatalf("another app's token: %+v", res)
	}
	if n := len(f.emu.Deliveries(other)); n != 0 {
		t.Fatalf("another app's device got %d", n)
	}
}

// TestAccessTokenRenewal: one token serves sends until shortly before
// it expires; an expired one that Honor refuses (80200003) is dropped and
// the retry fetches a new one.
func TestAccessTokenRenewal(t *testing.T) {
	f := setup(t, nil)
	alert := push.Notification{Kind: push.KindAlert, Title: "t", Content: "c"}
	for range 3 {
		if res := f.send(t, alert); res.Outcome != push.Delivered {
			t.Fatalf("%+v", res)
		}
	}
	if g := f.emu.Stats().TokenGrants; g != 1 {
		t.Fatalf("grants %d, want 1", g)
	}
	f.clock.Advance(56 * time.Minute) // within the five minutes before expiry
	if res := f.send(t, alert); res.Outcome != push.Delivered {
		t.Fatalf("%+v", res)
	}
	if g := f.emu.Stats().TokenGrants; g != 2 {
		t.Fatalf("grants after 56 min %d, want 2", g)
	}
	f.emu.ExpireAccessTokens()
	res := f.send(t, alert)
	if res.Outcome != push.AuthFailed || !strings.HasPrefix(res.Reason, "80200003") || res.Status != 401 {
		t.Fatalf("expired token: %+v", res)
	}
	if res := f.send(t, alert); res.Outcome != push.Delivered {
		t.Fatalf("retry: %+v", res)
	}
	if g := f.emu.Stats().TokenGrants; g != 3 {
		t.Fatalf("grants after 80200003 %d, want 3", g)
	}
}

// TestBadCredential: a wrong secret is AuthFailed at the token endpoint
// and Check says the credential is refused.
func TestBadCredential(t *testing.T) {
	f := setup(t, func(c *Config) { c.ClientSecret = "wrong" })
	res := f.send(t, push.Notification{Kind: push.KindAlert, Title: "t", Content: "c"})
	if res.Outcome != push.AuthFailed || !strings.Contains(res.Reason, "invalid_client") {
		t.Fatalf("%+v", res)
	}
	if err := f.p.Check(context.Background()); !errors.Is(err, push.ErrCredential) {
		t.Fatalf("Check: %v", err)
	}
	if _, err := New(Config{AppID: appID, ClientID: clientID, ClientSecret: "a b"}); !errors.Is(err, push.ErrCredential) || strings.Contains(err.Error(), "a b") {
		t.Fatalf("blank secret: %v", err)
	}
	if _, err := New(Config{AppID: "a/b", ClientID: clientID, ClientSecret: secret}); !errors.Is(err, push.ErrCredential) {
		t.Fatalf("app ID with a slash: %v", err)
	}
}

// TestFaults: flow control and server errors are retried, the daily
// quota holds pushes until midnight in UTC+8.
func TestFaults(t *testing.T) {
	f := setup(t, nil)
	alert := push.Notification{Kind: push.KindAlert, Title: "t", Content: "c"}
	for _, c := range []struct {
		fault emu.Fault
		want  push.Outcome
	}{
		{emu.Fault{Kind: emu.FaultFlowControl, RetryAfter: 7 * time.Second, Times: 1}, push.Retry},
		{emu.Fault{Kind: emu.FaultServerError, Times: 1}, push.Retry},
		{emu.Fault{Kind: emu.FaultDailyQuota, Times: 1}, push.QuotaExhausted},
	} {
		if err := f.emu.SetFault("", c.fault); err != nil {
			t.Fatal(err)
		}
		res := f.send(t, alert)
		if res.Outcome != c.want {
			t.Fatalf("%s: %+v", c.fault.Kind, res)
		}
		switch c.fault.Kind {
		case emu.FaultFlowControl:
			if res.RetryAfter != 7*time.Second {
				t.Fatalf("flow control retry after %s", res.RetryAfter)
			}
		case emu.FaultDailyQuota:
			if want := time.Date(2026, 3, 11, 0, 0, 0, 0, chinaTime); !res.Until.Equal(want) {
				t.Fatalf("quota until %s, want %s", res.Until, want)
			}
		}
	}
	if res := f.send(t, alert); res.Outcome != push.Delivered {
		t.Fatalf("after the faults: %+v", res)
	}
}

// TestLimits: an expired push and one over the size limit are not sent;
// Fit cuts one to what the emulator accepts; the ttl is capped at 15 days.
func TestLimits(t *testing.T) {
	f := setup(t, nil)
	_, err := f.p.Send(context.Background(), push.Notification{Token: f.token, Kind: push.KindAlert, Title: "t", Content: "c",
		Expiration: f.clock.Now().Add(-time.Second)})
	if !errors.Is(err, push.ErrExpired) {
		t.Fatalf("expired: %v", err)
	}
	big := push.Notification{Token: f.token, Kind: push.KindAlert, Title: "t", Content: strings.Repeat("长", 2000), Payload: strings.Repeat("p", 500)}
	if _, err := f.p.Send(context.Background(), big); !errors.Is(err, push.ErrPayloadTooLarge) {
		t.Fatalf("too large: %v", err)
	}
	cut, notes := f.p.Fit(big)
	if len(notes) == 0 || cut.Extra[push.TruncatedKey] == "" {
		t.Fatalf("Fit cut nothing: %v", notes)
	}
	if res := f.send(t, cut); res.Outcome != push.Delivered {
		t.Fatalf("fitted push: %+v", res)
	}
	f.send(t, push.Notification{Kind: push.KindAlert, Title: "t", Content: "c", Expiration: f.clock.Now().Add(40 * 24 * time.Hour)})
	ds := f.emu.Deliveries(f.token)
	if ttl := *ds[len(ds)-1].Message.Android.TTL; ttl != "1296000s" {
		t.Fatalf("ttl %s, want the 15-day cap", ttl)
	}
	if _, err := f.p.Send(context.Background(), push.Notification{Token: f.token, Kind: push.KindAlert}); !errors.Is(err, push.ErrInvalidNotification) {
		t.Fatalf("empty alert: %v", err)
	}
	if _, err := f.p.Send(context.Background(), push.Notification{Token: f.token, Kind: push.KindData, Title: "t",
		Extra: map[string]string{DataKeyPushID: "x"}}); !errors.Is(err, push.ErrInvalidNotification) {
		t.Fatalf("extra key of Herald's: %v", err)
	}
}
