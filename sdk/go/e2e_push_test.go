package herald

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/heraldim/herald/internal/config"
	"github.com/heraldim/herald/internal/push"
	"github.com/heraldim/herald/internal/testkit"
)

// boundTo returns the user srv has the device bound to ("" for none) and
// whether its pushes are on.
func boundTo(t *testing.T, srv *testkit.Server, pushID string) (string, bool) {
	t.Helper()
	d, err := srv.Srv.PushDevice(context.Background(), srv.App.AppID, pushID)
	if err != nil {
		t.Fatalf("device %s: %v", pushID, err)
	}
	return d.UserID, d.Enabled
}

// TestE2ERegisterPush: RegisterPush after login binds the device and
// updates PushID; a bad registration changes nothing; a new token
// replaces the login's device (unbound at once) and is what every later
// login carries, the reconnect after a server restart and a new Login
// included, with its disabled switch; Logout unbinds it.
func TestE2ERegisterPush(t *testing.T) {
	dir := t.TempDir()
	srv := testkit.Start(t, func(c *config.Config) { c.DataDir = dir; c.ShutdownGrace = time.Second })
	addr := strings.TrimPrefix(srv.HTTP, "http://")
	old := PushRegistration{Vendor: "apns", Token: "a1a1", Debug: true, BundleID: "com.example.chat"}
	bob, r := newE2EClient(t, srv, "phone", func(c *Config) { c.Platform = "ios"; c.Push = &old })
	ctx := context.Background()

	if _, err := bob.RegisterPush(ctx, old); !errors.Is(err, ErrNotLoggedIn) {
		t.Fatalf("RegisterPush before login: %v", err)
	}
	e2eLogin(t, srv, bob, "bob")
	oldID := bob.PushID()
	if want := push.NewPushID(srv.App.AppID, push.VendorAPNs, push.Development, "a1a1"); oldID != want {
		t.Fatalf("PushID after login %q, want %q", oldID, want)
	}

	_, err := bob.RegisterPush(ctx, PushRegistration{Vendor: "nokia", Token: "x", BundleID: "b"})
	if !errors.Is(err, &Error{Code: CodeInvalidPushDevice}) {
		t.Fatalf("bad registration: %v", err)
	}
	if bob.PushID() != oldID {
		t.Fatalf("PushID changed to %q by a refused registration", bob.PushID())
	}
	if user, _ := boundTo(t, srv, oldID); user != "bob" {
		t.Fatalf("the login's device bound to %q after a refused registration", user)
	}

	// A new token after a reinstall, with pushes switched off.
	reg := PushRegistration{Vendor: "fcm", Token: "f2f2", BundleID: "com.example.chat", Disabled: true}
	newID, err := bob.RegisterPush(ctx, reg)
	if err != nil {
		t.Fatal(err)
	}
	if want := push.NewPushID(srv.App.AppID, push.VendorFCM, push.Production, "f2f2"); newID != want || bob.PushID() != newID {
		t.Fatalf("RegisterPush returned %q, PushID %q, want %q", newID, bob.PushID(), want)
	}
	if user, on := boundTo(t, srv, newID); user != "bob" || on {
		t.Fatalf("new device bound to %q, enabled %v", user, on)
	}
	if user, _ := boundTo(t, srv, oldID); user != "" {
		t.Fatalf("the replaced device is still bound to %q", user)
	}

	// The reconnect after a restart logs in with the new registration: the
	// old device stays unbound, the new one bound and still off.
	srv.Stop(t)
	eventually(t, "reconnecting", func() bool { return r.hasState(ConnectionStateReconnecting, ConnectionEventLoginInterrupted) })
	srv2 := testkit.Start(t, func(c *config.Config) { c.DataDir = dir; c.Addr = addr })
	eventually(t, "reconnected", func() bool { return bob.ConnectionState() == ConnectionStateConnected })
	if user, _ := boundTo(t, srv2, oldID); user != "" {
		t.Fatalf("the reconnect bound the replaced device again (to %q)", user)
	}
	if user, on := boundTo(t, srv2, newID); user != "bob" || on {
		t.Fatalf("after the reconnect the new device is bound to %q, enabled %v", user, on)
	}

	// Switched on again; Logout unbinds it; a new Login binds it again.
	reg.Disabled = false
	if id, err := bob.RegisterPush(ctx, reg); err != nil || id != newID {
		t.Fatalf("enable: %q %v", id, err)
	}
	if _, on := boundTo(t, srv2, newID); !on {
		t.Fatal("still disabled")
	}
	if err := bob.Logout(ctx); err != nil {
		t.Fatal(err)
	}
	if user, _ := boundTo(t, srv2, newID); user != "" {
		t.Fatalf("device bound to %q after Logout", user)
	}
	e2eLogin(t, srv2, bob, "bob")
	if user, on := boundTo(t, srv2, newID); user != "bob" || !on || bob.PushID() != newID {
		t.Fatalf("after a new Login the device is bound to %q, enabled %v, PushID %q", user, on, bob.PushID())
	}
	if user, _ := boundTo(t, srv2, oldID); user != "" {
		t.Fatalf("a new Login bound the replaced device (to %q)", user)
	}
}

// TestE2ERegisterPushDeviceInUse: a device bound by another user's live
// session is refused with CodeDeviceInUse, and PushID stays as it was.
func TestE2ERegisterPushDeviceInUse(t *testing.T) {
	srv := testkit.Start(t, nil)
	phone := PushRegistration{Vendor: "apns", Token: "c3c3", Debug: true, BundleID: "com.example.chat"}
	alice, _ := newE2EClient(t, srv, "alice-phone", func(c *Config) { c.Platform = "ios"; c.Push = &phone })
	e2eLogin(t, srv, alice, "alice")
	bob, _ := newE2EClient(t, srv, "bob-phone", func(c *Config) { c.Platform = "ios" })
	e2eLogin(t, srv, bob, "bob")
	if _, err := bob.RegisterPush(context.Background(), phone); !errors.Is(err, &Error{Code: CodeDeviceInUse}) {
		t.Fatalf("RegisterPush of alice's live device: %v", err)
	}
	if bob.PushID() != "" {
		t.Fatalf("PushID %q after a refused registration", bob.PushID())
	}
	if user, _ := boundTo(t, srv, alice.PushID()); user != "alice" {
		t.Fatalf("alice's device bound to %q", user)
	}
}
