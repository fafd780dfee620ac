package main

import (
	"context"
	"errors"
	"testing"
	"time"

	apnsemu "github.com/heraldim/herald/internal/emulator/apns"
	"github.com/heraldim/herald/internal/protocol"
	"github.com/heraldim/herald/internal/push"
	"github.com/heraldim/herald/internal/push/apns"
	"github.com/heraldim/herald/internal/testkit"
)

// TestCLIPush: a test push to a registered device prints the vendor's
// answer; an unknown PushID exits 3 with the server's code.
func TestCLIPush(t *testing.T) {
	srv := testkit.Start(t, nil)
	em, err := apnsemu.New(apnsemu.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := em.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { em.Close() })
	em.AddApp("TEAM123456", "com.example.chat")
	key, err := em.NewKey("TEAM123456", "KEY1234567")
	if err != nil {
		t.Fatal(err)
	}
	p, err := apns.New(apns.Config{ProductionURL: em.URL(apnsemu.Production), DevelopmentURL: em.URL(apnsemu.Development),
		KeyPEM: key, KeyID: "KEY1234567", TeamID: "TEAM123456", RootCAs: em.CertPool()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	srv.Srv.Providers.Set(srv.App.AppID, push.VendorAPNs, push.Development, p)

	tok := em.RegisterDevice("com.example.chat", apnsemu.Development, false)
	c := testkit.Dial(t, srv.URL)
	var r protocol.LoginReply
	if perr := c.Call(protocol.TypeLogin, protocol.LoginRequest{AppID: srv.App.AppID, UserID: "bob", Token: srv.Token(t, "bob", time.Hour),
		Platform: "ios", DeviceID: "phone", Push: &protocol.PushRegistration{Vendor: "apns", Token: tok, Environment: "development", BundleID: "com.example.chat"}}, &r); perr != nil {
		t.Fatal(perr)
	}

	common := []string{"push", "--server", srv.HTTP, "--data", srv.DataDir}
	var out syncBuffer
	if _, err := runCLI(context.Background(), &out, append(common, "--push-id", r.PushID, "--title", "T", "--content", "C")...); err != nil {
		t.Fatal(err)
	}
	lines := jsonLinesOf(t, out.String())
	if len(lines) != 1 || lines[0]["outcome"] != "delivered" || lines[0]["vendorID"] == "" {
		t.Fatalf("push printed %v", lines)
	}
	if ds := em.Deliveries(tok); len(ds) != 1 {
		t.Fatalf("emulator saw %d deliveries", len(ds))
	}

	var out2 syncBuffer
	stderr, err := runCLI(context.Background(), &out2, append(common, "--push-id", "Pnope", "--title", "T")...)
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != exitServerError {
		t.Fatalf("unknown PushID: err %v stderr %q", err, stderr)
	}
}

func TestHTTPBase(t *testing.T) {
	for in, want := range map[string]string{
		"ws://127.0.0.1:8080/v1/ws": "http://127.0.0.1:8080",
		"wss://h.example:443":       "https://h.example:443",
		"127.0.0.1:8080":            "http://127.0.0.1:8080",
		"https://h.example":         "https://h.example",
	} {
		if got, err := httpBase(in); err != nil || got != want {
			t.Errorf("httpBase(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"ftp://x", "http://"} {
		if _, err := httpBase(bad); err == nil {
			t.Errorf("httpBase(%q) accepted", bad)
		}
	}
}
