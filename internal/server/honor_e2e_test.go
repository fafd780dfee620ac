package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	honoremu "github.com/heraldim/herald/internal/emulator/honor"
	"github.com/heraldim/herald/internal/protocol"
	"github.com/heraldim/herald/internal/push"
	"github.com/heraldim/herald/internal/push/honor"
	"github.com/heraldim/herald/internal/testkit"
)

// The rigs' Honor app: its App ID and OAuth client.
var honorApp = honoremu.App{AppID: "104436289", ClientID: "1893471560928374", ClientSecret: "honor-secret"}

// startHonor starts an Honor emulator, stopped with the test, with the
// rigs' app registered.
func startHonor(t testing.TB, s *testkit.Server) *honoremu.Emulator {
	em, err := honoremu.New(honoremu.Config{})
	serveEmulator(t, s, em, err)
	if err := em.RegisterApp(honorApp); err != nil {
		t.Fatal(err)
	}
	return em
}

// honorCredential is the admin API's body for em's app.
func honorCredential(em *honoremu.Emulator) map[string]any {
	return map[string]any{"appID": honorApp.AppID, "clientID": honorApp.ClientID, "clientSecret": honorApp.ClientSecret,
		"baseURL": em.URL(), "tokenURL": em.TokenURL(), "caPEM": string(em.CACertPEM())}
}

// honorRig is Honor's vendorRig (androidVendors).
func honorRig(t testing.TB, s *testkit.Server) vendorRig {
	em := startHonor(t, s)
	tok := em.RegisterDevice(honorApp.AppID)
	return vendorRig{
		cred:  honorCredential(em),
		token: tok,
		next: func(ctx context.Context) (string, error) {
			d, err := em.Next(ctx, tok)
			return string(d.Raw), err
		},
		count: func() int { return len(em.Deliveries(tok)) },
		shown: func(ctx context.Context) (shown, error) {
			d, err := em.Next(ctx, tok)
			if err != nil || d.Message.Android == nil || d.Message.Android.Notification == nil {
				return shown{}, err
			}
			return pushKitShown(d.Message.Android.Notification.Title, d.Message.Android.Notification.Body, d.Message.Data)
		},
		tray: func() (out []string) {
			for _, it := range em.Tray(tok) {
				out = append(out, it.Title+"|"+it.Body)
			}
			return out
		},
		raws: func() (out []string) {
			for _, d := range em.Deliveries(tok) {
				out = append(out, string(d.Raw))
			}
			return out
		},
		provider: func(t testing.TB) push.Provider {
			p, err := honor.New(honor.Config{AppID: honorApp.AppID, ClientID: honorApp.ClientID, ClientSecret: honorApp.ClientSecret,
				BaseURL: em.URL(), TokenURL: em.TokenURL(), RootCAs: em.CertPool()})
			if err != nil {
				t.Fatal(err)
			}
			return p
		},
	}
}

// TestHonorPushEndToEnd: an Honor device registered at login is pushed an
// offline message through the credential set by the admin API and the
// notification lands in the phone's tray; an access token Honor says has
// expired is renewed and the push still delivered; an uninstalled app's
// token removes the device.
func TestHonorPushEndToEnd(t *testing.T) {
	s := testkit.Start(t, nil)
	em := startHonor(t, s)
	tok := em.RegisterDevice(honorApp.AppID)
	if st, b := adminCall(t, s, "PUT", "/push/credentials/honor", honorCredential(em)); st != 200 || b["vendor"] != "honor" ||
		b["clientID"] != honorApp.ClientID || b["clientSecret"] != nil {
		t.Fatalf("PUT credential: %d %v", st, b)
	}
	pushID := goOffline(t, s, "bob", protocol.PushRegistration{Vendor: "honor", Token: tok, Environment: "production", BundleID: pkg})
	if d, err := s.Srv.PushDevice(context.Background(), s.App.AppID, pushID); err != nil || d.UserID != "bob" || d.Vendor != push.VendorHonor {
		t.Fatalf("device after login: %+v %v", d, err)
	}
	sender := s.LoginAs(t, "alice", "server", "script")
	sender.SyncDone(wait)

	// 1. An offline message is shown in the tray.
	sendWithPush(t, sender, "bob", "m1", &protocol.PushConfig{Title: "Alice", Content: "hi from alice", Payload: "p1"})
	waitFor(t, "the first push", func() bool { return len(em.Deliveries(tok)) == 1 })
	waitJob(t, s, "bob", push.JobDelivered)
	if tr := em.Tray(tok); len(tr) != 1 || tr[0].Title != "Alice" || tr[0].Body != "hi from alice" {
		t.Fatalf("tray %+v", tr)
	}
	var data map[string]string
	if d := em.Deliveries(tok)[0]; d.Message.Data == nil || json.Unmarshal([]byte(*d.Message.Data), &data) != nil || data["payload"] != "p1" {
		t.Fatalf("delivery %s", d.Raw)
	}
	if g := em.Stats().TokenGrants; g != 1 {
		t.Fatalf("token grants %d", g)
	}

	// 2. Honor ends the access token: the push is retried with a new one.
	em.ExpireAccessTokens()
	sendWithPush(t, sender, "bob", "m2", &protocol.PushConfig{Title: "Alice", Content: "second"})
	waitFor(t, "the push after the token expired", func() bool { return len(em.Deliveries(tok)) == 2 })
	if j := waitJob(t, s, "bob", push.JobDelivered); j.Attempts < 2 {
		t.Fatalf("job %+v: delivered without the refused attempt", j)
	}
	if g := em.Stats().TokenGrants; g != 2 {
		t.Fatalf("token grants %d, want 2: one renewal", g)
	}
	if tr := em.Tray(tok); len(tr) != 2 || tr[1].Body != "second" {
		t.Fatalf("tray %+v", tr)
	}

	// 3. The app is uninstalled: Honor lists the token as expired, the
	// device is removed and nothing more is sent to it.
	em.Unregister(tok)
	sendWithPush(t, sender, "bob", "m3", &protocol.PushConfig{Title: "Alice", Content: "third"})
	j := waitJob(t, s, "bob", push.JobDropped)
	if _, err := s.Srv.PushDevice(context.Background(), s.App.AppID, pushID); !errors.Is(err, push.ErrNotFound) {
		t.Fatalf("device after the expired token: %v (job %+v)", err, j)
	}
	// The job is written with the message (promise 4): once the send is
	// acknowledged, a push planned for m4 would be in the trace.
	jobs := len(jobsFor(t, s, "bob"))
	sendWithPush(t, sender, "bob", "m4", &protocol.PushConfig{Title: "Alice", Content: "fourth"})
	if n := len(jobsFor(t, s, "bob")); n != jobs {
		t.Fatalf("%d jobs after m4, want %d: a push planned for the removed device", n, jobs)
	}
	bob := s.LoginAs(t, "bob", "android", "phone-2")
	if _, n := bob.SyncDone(wait); n != 4 {
		t.Fatalf("bob synced %d messages, want 4", n)
	}
	if len(em.Deliveries(tok)) != 2 {
		t.Fatalf("pushed to the removed device: %d deliveries", len(em.Deliveries(tok)))
	}
}
