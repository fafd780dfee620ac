package webpush_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/heraldim/herald/internal/emulator/local"
	webpushemu "github.com/heraldim/herald/internal/emulator/webpush"
	"github.com/heraldim/herald/internal/push"
	"github.com/heraldim/herald/internal/push/webpush"
)

type rig struct {
	em      *webpushemu.Emulator
	p       *webpush.Provider
	browser *local.Browser
}

func newRig(t *testing.T) rig {
	t.Helper()
	em, err := webpushemu.New(webpushemu.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := em.Start(""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = em.Shutdown(context.Background()) })
	ctl := httptest.NewServer(em.ControlHandler())
	t.Cleanup(ctl.Close)
	priv, pub, err := webpush.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	p, err := webpush.New(webpush.Config{PrivateKey: priv, Subject: "mailto:ops@example.com", RootCAs: em.CertPool()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	if p.PublicKey() != pub {
		t.Fatalf("public key %s, generated %s", p.PublicKey(), pub)
	}
	b, err := local.SubscribeBrowser(context.Background(), ctl.URL, pub, nil)
	if err != nil {
		t.Fatal(err)
	}
	return rig{em, p, b}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

// TestProviderDeliversToTheBrowser: a push accepted by the push service
// (201, Location as VendorID) is decrypted by the browser, which shows its
// title and content; the collapse ID is the Topic and the tag.
func TestProviderDeliversToTheBrowser(t *testing.T) {
	r := newRig(t)
	n := push.Notification{ID: "job-1", Token: r.browser.Token(), Kind: push.KindAlert, Priority: push.PriorityHigh,
		Title: "Alice", Content: "hi from alice", Payload: `{"chat":"alice"}`, CollapseID: "call-42",
		Extra: map[string]string{"callID": "42"}, Expiration: time.Now().Add(time.Minute)}
	res, err := r.p.Send(ctx(t), n)
	if err != nil || res.Outcome != push.Delivered || !strings.HasPrefix(res.VendorID, r.em.URL()+"/message/") {
		t.Fatalf("send: %+v, %v", res, err)
	}
	got, _, err := r.browser.Receive(ctx(t), 0)
	if err != nil || len(got) != 1 {
		t.Fatalf("browser got %+v, %v", got, err)
	}
	w := got[0]
	if w.Title != "Alice" || w.Content != "hi from alice" || w.Payload != n.Payload || w.Tag != "call-42" || w.Topic != "call-42" ||
		w.Urgency != "high" || w.Extras["callID"] != "42" || w.ID != "job-1" ||
		w.Extras[push.ReceiptExtraKey] != "job-1" {
		t.Fatalf("shown %+v", w)
	}
	if tray := r.browser.Tray(); len(tray) != 1 {
		t.Fatalf("tray %+v", tray)
	}
}

// TestProviderOutcomes: the push service's refusals become the
// dispatcher's outcomes, and pushes Web Push cannot carry are refused
// before sending.
func TestProviderOutcomes(t *testing.T) {
	r := newRig(t)
	tok := r.browser.Token()
	alert := push.Notification{ID: "j", Token: tok, Kind: push.KindAlert, Title: "t", Content: "c"}

	if err := r.em.SetFault(webpushemu.Fault{Status: 429, RetryAfter: 7, Times: 1}); err != nil {
		t.Fatal(err)
	}
	if res, err := r.p.Send(ctx(t), alert); err != nil || res.Outcome != push.Retry || res.RetryAfter != 7*time.Second {
		t.Fatalf("429: %+v, %v", res, err)
	}

	// Another app's VAPID key: the subscription is restricted to ours.
	priv, _, _ := webpush.GenerateKey()
	other, err := webpush.New(webpush.Config{PrivateKey: priv, Subject: "https://example.com/contact", RootCAs: r.em.CertPool()})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if res, err := other.Send(ctx(t), alert); err != nil || res.Outcome != push.AuthFailed || res.Status != 403 {
		t.Fatalf("another key: %+v, %v", res, err)
	}

	for name, n := range map[string]push.Notification{
		"data":      {Token: tok, Kind: push.KindData, Payload: "p"},
		"voip":      {Token: tok, Kind: push.KindVoIP},
		"bad token": {Token: `{"endpoint":"http://push.example.com/x"}`, Kind: push.KindAlert, Title: "t"},
		"extra key": {ID: "j", Token: tok, Kind: push.KindAlert, Title: "t", Extra: map[string]string{push.ReceiptExtraKey: "forged"}},
	} {
		if _, err := r.p.Send(ctx(t), n); !errors.Is(err, push.ErrInvalidNotification) {
			t.Errorf("%s: %v, want ErrInvalidNotification", name, err)
		}
	}
	big := alert
	big.Payload = strings.Repeat("x", webpush.MaxPlaintext)
	if _, err := r.p.Send(ctx(t), big); !errors.Is(err, push.ErrPayloadTooLarge) {
		t.Fatalf("oversize: %v", err)
	}
	fit, notes := r.p.Fit(big)
	if fit.Payload != "" || len(notes) == 0 {
		t.Fatalf("fit kept the payload: %v", notes)
	}
	if res, err := r.p.Send(ctx(t), fit); err != nil || res.Outcome != push.Delivered {
		t.Fatalf("fitted push: %+v, %v", res, err)
	}
	expired := alert
	expired.Expiration = time.Now().Add(-time.Second)
	if _, err := r.p.Send(ctx(t), expired); !errors.Is(err, push.ErrExpired) {
		t.Fatalf("expired: %v", err)
	}

	if err := r.browser.Unsubscribe(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if res, err := r.p.Send(ctx(t), alert); err != nil || res.Outcome != push.DropDevice || res.Status != 410 {
		t.Fatalf("unsubscribed: %+v, %v", res, err)
	}
}

// TestCredentialChecks: New refuses a missing or malformed key and a
// subject that is not mailto: or https:, as credential errors.
func TestCredentialChecks(t *testing.T) {
	priv, _, _ := webpush.GenerateKey()
	for name, cfg := range map[string]webpush.Config{
		"no key":      {Subject: "mailto:a@example.com"},
		"short key":   {PrivateKey: "AAAA", Subject: "mailto:a@example.com"},
		"no subject":  {PrivateKey: priv},
		"http":        {PrivateKey: priv, Subject: "http://example.com"},
		"bare mailto": {PrivateKey: priv, Subject: "mailto:ops"},
	} {
		if _, err := webpush.New(cfg); !errors.Is(err, push.ErrCredential) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestTopic: a collapse ID that is a valid Topic is kept; another becomes
// 32 base64url characters, the same each time.
func TestTopic(t *testing.T) {
	if got := webpush.Topic("call-42"); got != "call-42" {
		t.Fatal(got)
	}
	long := webpush.Topic("a collapse id with spaces")
	if len(long) != 32 || long != webpush.Topic("a collapse id with spaces") || strings.ContainsAny(long, " +/=") {
		t.Fatal(long)
	}
}
