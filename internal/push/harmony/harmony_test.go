package harmony

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	emu "github.com/heraldim/herald/internal/emulator/harmony"
	"github.com/heraldim/herald/internal/push"
)

const project = "101653523863785276"

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type fixture struct {
	emu   *emu.Emulator
	p     *Provider
	sa    []byte
	token string
	clock *clock
}

func setup(t *testing.T, mod func(*Config)) *fixture {
	t.Helper()
	f := &fixture{clock: &clock{t: time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)}}
	e, err := emu.New(emu.Config{Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Shutdown(context.Background()) })
	f.emu = e
	if f.sa, err = e.NewServiceAccount(project); err != nil {
		t.Fatal(err)
	}
	e.SetSelfClassified(project, true)
	cfg := Config{ServiceAccountJSON: f.sa, BaseURL: e.URL(), RootCAs: e.CertPool(), Now: f.clock.Now}
	if mod != nil {
		mod(&cfg)
	}
	if f.p, err = New(cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.p.Close)
	f.token = e.RegisterDevice(project)
	return f
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

func TestAlertDelivered(t *testing.T) {
	f := setup(t, nil)
	badge := 3
	res := f.send(t, push.Notification{ID: "job-1", Kind: push.KindAlert, Title: "Alice", Content: "hi",
		Payload: `{"conv":"c1"}`, Badge: &badge, CollapseID: "conv-c1", Extra: map[string]string{"k": "v"},
		Environment: push.Production, Expiration: f.clock.Now().Add(10 * time.Minute)})
	if res.Outcome != push.Delivered || res.VendorID == "" {
		t.Fatalf("result %+v", res)
	}
	ds := f.emu.Deliveries(f.token)
	if len(ds) != 1 {
		t.Fatalf("%d deliveries", len(ds))
	}
	d := ds[0]
	n := d.Notification
	if d.PushType != "0" || n == nil || n.Category != "IM" || n.Title != "Alice" || n.Body != "hi" || *n.ClickAction.ActionType != 0 {
		t.Fatalf("delivery %+v %+v", d, n)
	}
	if n.ClickAction.Data[DataKeyPayload] != `{"conv":"c1"}` || n.ClickAction.Data[DataKeyPushID] != "job-1" || n.ClickAction.Data["k"] != "v" {
		t.Fatalf("click data %+v", n.ClickAction.Data)
	}
	if n.Badge == nil || *n.Badge.SetNum != 3 || n.NotifyID == nil || *n.NotifyID != push.NumericCollapseID("conv-c1") {
		t.Fatalf("badge/notifyId %+v", n)
	}
	if d.Options == nil || *d.Options.TTL != 600 || d.Options.TestMessage {
		t.Fatalf("options %+v", d.Options)
	}
	// The same JWT serves the next send.
	f.send(t, push.Notification{Kind: push.KindAlert, Title: "Alice", Content: "again"})
	if tray := f.emu.Tray(f.token); len(tray) != 2 {
		t.Fatalf("tray %+v", tray)
	}
}

func TestDevelopmentIsTestMessage(t *testing.T) {
	f := setup(t, nil)
	f.send(t, push.Notification{Kind: push.KindAlert, Title: "a", Content: "b", Environment: push.Development})
	if d := f.emu.Deliveries(f.token)[0]; d.Options == nil || !d.Options.TestMessage {
		t.Fatalf("development device: options %+v", d.Options)
	}
}

func TestDataAndVoIP(t *testing.T) {
	f := setup(t, nil)
	f.send(t, push.Notification{ID: "j", Kind: push.KindData, Title: "t", Content: "c", Payload: "p"})
	d := f.emu.Deliveries(f.token)[0]
	var data map[string]string
	if d.PushType != "6" || d.ExtraData == nil || json.Unmarshal([]byte(*d.ExtraData), &data) != nil ||
		data[DataKeyTitle] != "t" || data[DataKeyContent] != "c" || data[DataKeyPayload] != "p" || data[DataKeyPushID] != "j" {
		t.Fatalf("background delivery %+v", d)
	}

	// Without the in-app call entitlement a VoIP push rings as a VOIP
	// notification.
	f.send(t, push.Notification{Kind: push.KindVoIP, Title: "Alice", Content: "calling"})
	d = f.emu.Deliveries(f.token)[1]
	if d.PushType != "0" || d.Notification.Category != "VOIP" {
		t.Fatalf("VoIP without the entitlement %+v", d)
	}

	// With it (both sides), push-type 10.
	g := setup(t, func(c *Config) { c.CallRight = true })
	g.emu.SetCallRight(project, true)
	g.send(t, push.Notification{Kind: push.KindVoIP, Title: "Alice", Content: "calling", Payload: "call-1"})
	d = g.emu.Deliveries(g.token)[0]
	if d.PushType != "10" || d.ExtraData == nil || !strings.Contains(*d.ExtraData, "call-1") {
		t.Fatalf("call message %+v", d)
	}
	// The app claims the entitlement but Huawei did not grant it: a
	// configuration alert, the device kept.
	g.emu.SetCallRight(project, false)
	if res := g.send(t, push.Notification{Kind: push.KindVoIP, Title: "A", Content: "c"}); res.Outcome != push.Rejected ||
		!strings.Contains(res.Reason, "noPushTypeRight") {
		t.Fatalf("call without the granted entitlement: %+v", res)
	}
}

func TestInvalidTokenDropsDevice(t *testing.T) {
	f := setup(t, nil)
	f.emu.Uninstall(f.token)
	res := f.send(t, push.Notification{Kind: push.KindAlert, Title: "a", Content: "b"})
	if res.Outcome != push.DropDevice || !strings.HasPrefix(res.Reason, "80300007") {
		t.Fatalf("uninstalled: %+v", res)
	}
	res = f.send(t, push.Notification{Token: "not-a-token", Kind: push.KindAlert, Title: "a", Content: "b"})
	if res.Outcome != push.DropDevice || !strings.Contains(res.Reason, "tokenFormatError") {
		t.Fatalf("malformed: %+v", res)
	}
	// A token of another project is a configuration matter: kept.
	other := f.emu.RegisterDevice("another")
	res = f.send(t, push.Notification{Token: other, Kind: push.KindAlert, Title: "a", Content: "b"})
	if res.Outcome != push.Rejected || !strings.Contains(res.Reason, "noRight") {
		t.Fatalf("other project's token: %+v", res)
	}
}

func TestJWTRefreshedAndRefused(t *testing.T) {
	f := setup(t, nil)
	alert := push.Notification{Kind: push.KindAlert, Title: "a", Content: "b"}
	if res := f.send(t, alert); res.Outcome != push.Delivered {
		t.Fatalf("%+v", res)
	}
	// An hour later the cached JWT would be expired: a new one is signed
	// before it is.
	f.clock.Advance(58 * time.Minute)
	if res := f.send(t, alert); res.Outcome != push.Delivered {
		t.Fatalf("after 58 min: %+v", res)
	}
	// Push Kit says the JWT expired: AuthFailed, and the retry signs anew.
	if err := f.emu.SetFault("", emu.Fault{Kind: emu.FaultJWTExpired, Times: 1}); err != nil {
		t.Fatal(err)
	}
	first, _ := f.p.token(f.clock.Now())
	if res := f.send(t, alert); res.Outcome != push.AuthFailed || !strings.HasPrefix(res.Reason, "80200005") {
		t.Fatalf("JWT expired: %+v", res)
	}
	f.clock.Advance(time.Second)
	if res := f.send(t, alert); res.Outcome != push.Delivered {
		t.Fatalf("retry: %+v", res)
	}
	if again, _ := f.p.token(f.clock.Now()); again == first {
		t.Fatal("the refused JWT was reused")
	}
	// A revoked key: AuthFailed every time; Check says the key is refused.
	var sa struct {
		KeyID string `json:"key_id"`
	}
	_ = json.Unmarshal(f.sa, &sa)
	if err := f.p.Check(context.Background()); err != nil {
		t.Fatalf("Check: %v", err)
	}
	f.emu.RevokeServiceAccount(sa.KeyID)
	if res := f.send(t, alert); res.Outcome != push.AuthFailed {
		t.Fatalf("revoked key: %+v", res)
	}
	if err := f.p.Check(context.Background()); !errors.Is(err, push.ErrCredential) {
		t.Fatalf("Check with a revoked key: %v", err)
	}
}

func TestRetryAndRejected(t *testing.T) {
	f := setup(t, nil)
	alert := push.Notification{Kind: push.KindAlert, Title: "a", Content: "b"}
	if err := f.emu.SetFault("", emu.Fault{Kind: emu.FaultFlowControl, Times: 1, RetryAfter: 7 * time.Second}); err != nil {
		t.Fatal(err)
	}
	if res := f.send(t, alert); res.Outcome != push.Retry || res.RetryAfter != 7*time.Second || res.Status != 503 {
		t.Fatalf("flow control: %+v", res)
	}
	if err := f.emu.SetFault(f.token, emu.Fault{Kind: emu.FaultServerError, Times: 1}); err != nil {
		t.Fatal(err)
	}
	if res := f.send(t, alert); res.Outcome != push.Retry || !strings.HasPrefix(res.Reason, "81000001") {
		t.Fatalf("server error: %+v", res)
	}
	// The emulator is not modelled on the provider: a category it does
	// not know is refused by it (the provider checks its own list at New).
	if _, err := New(Config{ServiceAccountJSON: f.sa, Category: "CHAT"}); err == nil {
		t.Fatal("unknown category accepted")
	}
}

func TestRefusedBeforeSending(t *testing.T) {
	f := setup(t, nil)
	cases := []struct {
		n    push.Notification
		want error
	}{
		{push.Notification{Kind: push.KindAlert, Title: "a"}, push.ErrInvalidNotification},
		{push.Notification{Kind: push.KindAlert, Content: "b"}, push.ErrInvalidNotification},
		{push.Notification{Kind: "weird", Title: "a", Content: "b"}, push.ErrInvalidNotification},
		{push.Notification{Kind: push.KindAlert, Title: "a", Content: "b", Extra: map[string]string{DataKeyPushID: "x"}}, push.ErrInvalidNotification},
		{push.Notification{Kind: push.KindAlert, Title: "a", Content: "b", Expiration: f.clock.Now().Add(-time.Second)}, push.ErrExpired},
		{push.Notification{Kind: push.KindAlert, Title: "a", Content: strings.Repeat("x", 5000)}, push.ErrPayloadTooLarge},
	}
	for _, c := range cases {
		c.n.Token = f.token
		if _, err := f.p.Send(context.Background(), c.n); !errors.Is(err, c.want) {
			t.Errorf("%+v: %v, want %v", c.n.Kind, err, c.want)
		}
	}
	if s := f.emu.Stats(); s.SendRequests != 0 {
		t.Fatalf("%d requests reached Push Kit", s.SendRequests)
	}
	// Fit cuts what Send refuses to what the emulator accepts.
	big := push.Notification{Token: f.token, Kind: push.KindAlert, Title: "a", Content: strings.Repeat("内容", 2000), Payload: "p"}
	fitted, notes := f.p.Fit(big)
	if len(notes) == 0 {
		t.Fatal("nothing cut")
	}
	if res := f.send(t, fitted); res.Outcome != push.Delivered {
		t.Fatalf("fitted: %+v", res)
	}
}

func TestCredentialErrors(t *testing.T) {
	f := setup(t, nil)
	var sa map[string]any
	_ = json.Unmarshal(f.sa, &sa)
	mut := func(k string, v any) []byte {
		m := map[string]any{}
		for kk, vv := range sa {
			m[kk] = vv
		}
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		b, _ := json.Marshal(m)
		return b
	}
	for name, raw := range map[string][]byte{
		"empty":         nil,
		"not JSON":      []byte("{"),
		"no project":    mut("project_id", nil),
		"no key_id":     mut("key_id", nil),
		"no sub":        mut("sub_account", nil),
		"no key":        mut("private_key", nil),
		"key not PEM":   mut("private_key", "abc"),
		"key not a key": mut("private_key", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"),
	} {
		_, err := New(Config{ServiceAccountJSON: raw})
		if !errors.Is(err, push.ErrCredential) {
			t.Errorf("%s: %v", name, err)
		}
		if err != nil && strings.Contains(err.Error(), "BEGIN") {
			t.Errorf("%s: the error quotes the key: %v", name, err)
		}
	}
}
