package herald

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"testing"

	"github.com/heraldim/herald/internal/push"
	"github.com/heraldim/herald/internal/push/webpush"
	"github.com/heraldim/herald/internal/testkit"
)

// TestE2EWebPushKey: a login to an app with a Web Push provider hands the
// client the app's VAPID public key, and a browser subscription registers
// as a webpush device; a subscription with an http endpoint is refused.
func TestE2EWebPushKey(t *testing.T) {
	srv := testkit.Start(t, nil)
	priv, pub, err := webpush.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	p, err := webpush.New(webpush.Config{PrivateKey: priv, Subject: "mailto:ops@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	srv.Srv.Providers.Set(srv.App.AppID, push.VendorWebPush, push.Production, p)

	bob, _ := newE2EClient(t, srv, "browser", func(c *Config) { c.Platform = "web" })
	if bob.WebPushKey() != "" {
		t.Fatal("a key before login")
	}
	e2eLogin(t, srv, bob, "bob")
	if bob.WebPushKey() != pub {
		t.Fatalf("WebPushKey %q, want %q", bob.WebPushKey(), pub)
	}
	k, _ := ecdh.P256().GenerateKey(rand.Reader)
	sub := func(endpoint string) string {
		return fmt.Sprintf(`{"endpoint":%q,"keys":{"p256dh":%q,"auth":%q}}`, endpoint,
			base64.RawURLEncoding.EncodeToString(k.PublicKey().Bytes()), base64.RawURLEncoding.EncodeToString(make([]byte, 16)))
	}
	ctx := context.Background()
	if _, err := bob.RegisterPush(ctx, PushRegistration{Vendor: "webpush", Token: sub("http://push.example.com/s/1"), BundleID: "https://chat.example.com"}); !errors.Is(err, &Error{Code: CodeInvalidPushDevice}) {
		t.Fatalf("http endpoint: %v", err)
	}
	id, err := bob.RegisterPush(ctx, PushRegistration{Vendor: "webpush", Token: sub("https://push.example.com/s/1"), BundleID: "https://chat.example.com"})
	if err != nil || id == "" || id != bob.PushID() {
		t.Fatalf("RegisterPush: %q %v", id, err)
	}
	if user, on := boundTo(t, srv, id); user != "bob" || !on {
		t.Fatalf("device bound to %q, on %v", user, on)
	}
}
