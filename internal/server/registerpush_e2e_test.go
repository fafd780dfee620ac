package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	apnsemu "github.com/heraldim/herald/internal/emulator/apns"
	"github.com/heraldim/herald/internal/protocol"
	"github.com/heraldim/herald/internal/push"
	"github.com/heraldim/herald/internal/testkit"
)

// registerPush sends registerPush on c and returns the reply's PushID.
func registerPush(c *testkit.Client, reg protocol.PushRegistration) (string, *protocol.Error) {
	var r protocol.RegisterPushReply
	err := c.Call(protocol.TypeRegisterPush, reg, &r)
	return r.PushID, err
}

// dropAndWait closes c without logout, as a killed app's connection ends,
// and waits until user is offline.
func dropAndWait(t *testing.T, s *testkit.Server, c *testkit.Client, user string) {
	t.Helper()
	c.Close()
	deadline := time.Now().Add(wait)
	for s.Online(user) {
		if time.Now().After(deadline) {
			t.Fatalf("%s still online", user)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// deviceUser returns the user the device is bound to ("" for none) and
// whether its pushes are enabled.
func deviceUser(t *testing.T, s *testkit.Server, pushID string) (string, bool) {
	t.Helper()
	d, err := s.Srv.PushDevice(context.Background(), s.App.AppID, pushID)
	if err != nil {
		t.Fatalf("device %s: %v", pushID, err)
	}
	return d.UserID, d.Enabled
}

// deviceEvents returns the device's binding changes from the admin API's
// trace, oldest first, as "kind from>to".
func deviceEvents(t *testing.T, s *testkit.Server, pushID string) []string {
	t.Helper()
	st, b := adminCall(t, s, "GET", "/push/trace?pushID="+pushID, nil)
	if st != 200 {
		t.Fatalf("trace: %d %v", st, b)
	}
	evs, _ := b["deviceEvents"].([]any)
	out := make([]string, 0, len(evs))
	for i := len(evs) - 1; i >= 0; i-- {
		e, _ := evs[i].(map[string]any)
		out = append(out, fmt.Sprintf("%v %v>%v", e["kind"], orNone(e["fromUserID"]), orNone(e["toUserID"])))
	}
	return out
}

func orNone(v any) any {
	if v == nil {
		return "-"
	}
	return v
}

func wantEvents(t *testing.T, s *testkit.Server, pushID string, want ...string) {
	t.Helper()
	if got := deviceEvents(t, s, pushID); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("device %s events %q, want %q", pushID, got, want)
	}
}

// loginPlain logs user in on an iPhone without a push registration and
// waits for the login sync.
func loginPlain(t *testing.T, s *testkit.Server, user string) *testkit.Client {
	t.Helper()
	c := s.LoginAs(t, user, "ios", "phone-"+user)
	c.SyncDone(wait)
	return c
}

// TestRegisterPushAfterLogin: a device registered after login (the push
// SDK's registerPush) is bound as a login's push would bind it: the
// reply has its PushID, the trace shows the binding, and once the app is
// killed a message with a push config reaches the phone through APNs.
// Before login the request is not_logged_in, as every request.
func TestRegisterPushAfterLogin(t *testing.T) {
	s := testkit.Start(t, nil)
	em := startAPNs(t, s)
	tok := em.RegisterDevice(bundle, apnsemu.Development, false)
	reg := protocol.PushRegistration{Vendor: "apns", Token: tok, Environment: "development", BundleID: bundle}

	anon := testkit.Dial(t, s.URL)
	if _, err := registerPush(anon, reg); err == nil || err.Code != protocol.CodeNotLoggedIn {
		t.Fatalf("registerPush before login: %v", err)
	}

	bob := loginPlain(t, s, "bob")
	id, err := registerPush(bob, reg)
	if err != nil {
		t.Fatal(err)
	}
	if want := push.NewPushID(s.App.AppID, push.VendorAPNs, push.Development, tok); id != want {
		t.Fatalf("PushID %q, want %q", id, want)
	}
	if user, on := deviceUser(t, s, id); user != "bob" || !on {
		t.Fatalf("device bound to %q, enabled %v", user, on)
	}
	wantEvents(t, s, id, "bound ->bob")
	// Registering the same device again (with its PushID, as the SDK
	// reports it) changes nothing and records nothing.
	reg.PushID = id
	if again, err := registerPush(bob, reg); err != nil || again != id {
		t.Fatalf("again: %q %v", again, err)
	}
	wantEvents(t, s, id, "bound ->bob")

	dropAndWait(t, s, bob, "bob")
	alice := s.LoginAs(t, "alice", "server", "script")
	alice.SyncDone(wait)
	sendWithPush(t, alice, "bob", "m1", &protocol.PushConfig{Title: "Alice", Content: "hello"})
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	ds, werr := em.WaitDeliveries(ctx, tok, 1)
	if werr != nil {
		t.Fatalf("no push reached the device registered after login: %v (trace %+v)", werr, jobsFor(t, s, "bob"))
	}
	if alert, _ := ds[0].Aps()["alert"].(map[string]any); alert["title"] != "Alice" || alert["body"] != "hello" {
		t.Fatalf("APNs got %+v", ds[0])
	}
	waitJob(t, s, "bob", push.JobDelivered)
}

// TestRegisterPushDeviceInUse: registerPush of a device that another
// user's live session bound is device_in_use and changes nothing (the
// device stays that user's, the requester keeps the device it had);
// once that session ended the device moves, as at login.
func TestRegisterPushDeviceInUse(t *testing.T) {
	s := testkit.Start(t, nil)
	alice, phone := loginWithPush(t, s, "alice", "ee01")
	bob := loginPlain(t, s, "bob")
	own, err := registerPush(bob, protocol.PushRegistration{Vendor: "apns", Token: "ee02", Environment: "development", BundleID: bundle})
	if err != nil {
		t.Fatal(err)
	}
	taken := protocol.PushRegistration{Vendor: "apns", Token: "ee01", Environment: "development", BundleID: bundle}
	if _, err := registerPush(bob, taken); err == nil || err.Code != protocol.CodeDeviceInUse {
		t.Fatalf("registerPush of alice's live device: %v", err)
	}
	if user, _ := deviceUser(t, s, phone); user != "alice" {
		t.Fatalf("alice's device bound to %q after a refused registerPush", user)
	}
	if user, _ := deviceUser(t, s, own); user != "bob" {
		t.Fatalf("bob's own device bound to %q after his refused registerPush", user)
	}
	wantEvents(t, s, phone, "bound ->alice")

	// Bob's own device is still his claim: a third user cannot take it.
	carol := loginPlain(t, s, "carol")
	if _, err := registerPush(carol, protocol.PushRegistration{Vendor: "apns", Token: "ee02", Environment: "development", BundleID: bundle}); err == nil || err.Code != protocol.CodeDeviceInUse {
		t.Fatalf("carol took bob's device: %v", err)
	}

	dropAndWait(t, s, alice, "alice")
	id, err := registerPush(bob, taken)
	if err != nil || id != phone {
		t.Fatalf("registerPush once alice's session ended: %q %v", id, err)
	}
	wantEvents(t, s, phone, "bound ->alice", "rebound alice>bob")
	// The device bob replaced is unbound, and free for carol.
	if user, _ := deviceUser(t, s, own); user != "" {
		t.Fatalf("bob's replaced device still bound to %q", user)
	}
	if _, err := registerPush(carol, protocol.PushRegistration{Vendor: "apns", Token: "ee02", Environment: "development", BundleID: bundle}); err != nil {
		t.Fatalf("carol registering bob's replaced device: %v", err)
	}
}

// TestRegisterPushBadInputChangesNothing: a registration that login would
// refuse, or data of the wrong shape, is refused with its documented code,
// and the device the session had stays bound, enabled and pushed.
func TestRegisterPushBadInputChangesNothing(t *testing.T) {
	s := testkit.Start(t, nil)
	em := startAPNs(t, s)
	tok := em.RegisterDevice(bundle, apnsemu.Development, false)
	bob := loginPlain(t, s, "bob")
	id, err := registerPush(bob, protocol.PushRegistration{Vendor: "apns", Token: tok, Environment: "development", BundleID: bundle})
	if err != nil {
		t.Fatal(err)
	}
	for name, reg := range map[string]protocol.PushRegistration{
		"unknown vendor":                    {Vendor: "nokia", Token: "t", Environment: "production", BundleID: "b"},
		"unknown environment":               {Vendor: "apns", Token: "t", Environment: "staging", BundleID: "b"},
		"no token":                          {Vendor: "fcm", Environment: "production", BundleID: "b"},
		"no bundle":                         {Vendor: "fcm", Token: "t", Environment: "production"},
		"voip token on fcm":                 {Vendor: "fcm", Token: "t", VoIPToken: "v", Environment: "production", BundleID: "b"},
		"pushID of another":                 {Vendor: "apns", Token: "t", Environment: "production", BundleID: "b", PushID: push.NewPushID(s.App.AppID, push.VendorAPNs, push.Development, "t")},
		"own token, disabled, wrong pushID": {Vendor: "apns", Token: tok, Environment: "development", BundleID: bundle, Disabled: true, PushID: "Dother"},
		"empty":                             {},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := registerPush(bob, reg); err == nil || err.Code != protocol.CodeInvalidPushDevice {
				t.Fatalf("registerPush: %v, want %d", err, protocol.CodeInvalidPushDevice)
			}
		})
	}
	ch := bob.Expect("shape")
	bob.Send(protocol.TypeRegisterPush, "shape", json.RawMessage(`{"vendor":5}`))
	if f := bob.Wait(ch, wait); f.Error == nil || f.Error.Code != protocol.CodeBadFrame {
		t.Fatalf("registerPush with a number for vendor: %+v", f)
	}
	if user, on := deviceUser(t, s, id); user != "bob" || !on {
		t.Fatalf("after refused registrations the device is bound to %q, enabled %v", user, on)
	}
	wantEvents(t, s, id, "bound ->bob")

	// Logout still unbinds the device registered before the bad ones.
	dropAndWait(t, s, bob, "bob")
	alice := s.LoginAs(t, "alice", "server", "script")
	alice.SyncDone(wait)
	sendWithPush(t, alice, "bob", "m1", &protocol.PushConfig{Title: "Alice", Content: "still here"})
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if _, err := em.WaitDeliveries(ctx, tok, 1); err != nil {
		t.Fatalf("no push after refused registrations: %v", err)
	}
}

// TestRegisterPushReplacesDevice: a new token after a reinstall, then a
// switch of vendor: each registerPush unbinds the device the session had
// once the new one is bound, so only the newest gets the offline push.
func TestRegisterPushReplacesDevice(t *testing.T) {
	s := testkit.Start(t, nil)
	em := startAPNs(t, s)
	fcm := startFCM(t, s)
	tok1 := em.RegisterDevice(bundle, apnsemu.Development, false)
	tok2 := em.RegisterDevice(bundle, apnsemu.Development, false)
	ftok := fcm.RegisterDevice("herald-test", bundle)

	bob, id1 := loginWithPush(t, s, "bob", tok1)
	id2, err := registerPush(bob, protocol.PushRegistration{Vendor: "apns", Token: tok2, Environment: "development", BundleID: bundle})
	if err != nil || id2 == id1 {
		t.Fatalf("new token: %q %v", id2, err)
	}
	if user, _ := deviceUser(t, s, id1); user != "" {
		t.Fatalf("the replaced token's device is still bound to %q", user)
	}
	wantEvents(t, s, id1, "bound ->bob", "unbound bob>-")
	wantEvents(t, s, id2, "bound ->bob")

	id3, err := registerPush(bob, protocol.PushRegistration{Vendor: "fcm", Token: ftok, Environment: "production", BundleID: bundle})
	if err != nil || id3[0] != 'P' {
		t.Fatalf("switch to FCM: %q %v", id3, err)
	}
	if user, _ := deviceUser(t, s, id2); user != "" {
		t.Fatalf("the APNs device is still bound to %q after the switch to FCM", user)
	}
	wantEvents(t, s, id2, "bound ->bob", "unbound bob>-")

	dropAndWait(t, s, bob, "bob")
	alice := s.LoginAs(t, "alice", "server", "script")
	alice.SyncDone(wait)
	sendWithPush(t, alice, "bob", "m1", &protocol.PushConfig{Title: "Alice", Content: "hello"})
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if _, err := fcm.Next(ctx, ftok); err != nil {
		t.Fatalf("no push reached the FCM device: %v (trace %+v)", err, jobsFor(t, s, "bob"))
	}
	// The jobs are planned in the message's transaction: one, for the
	// newest device; the replaced ones got none.
	jobs := jobsFor(t, s, "bob")
	if len(jobs) != 1 || jobs[0].PushID != id3 {
		t.Fatalf("bob's jobs %+v, want one for %s", jobs, id3)
	}
	if n := len(em.Deliveries(tok1)) + len(em.Deliveries(tok2)); n != 0 {
		t.Fatalf("replaced APNs devices got %d pushes", n)
	}
}

// TestRegisterPushDisabled: registering the same device with disabled
// true switches its pushes off (setPushConfig) and keeps it bound; with
// disabled false they are on again.
func TestRegisterPushDisabled(t *testing.T) {
	s := testkit.Start(t, nil)
	em := startAPNs(t, s)
	tok := em.RegisterDevice(bundle, apnsemu.Development, false)
	reg := protocol.PushRegistration{Vendor: "apns", Token: tok, Environment: "development", BundleID: bundle}
	alice := s.LoginAs(t, "alice", "server", "script")
	alice.SyncDone(wait)

	bob := loginPlain(t, s, "bob")
	id, err := registerPush(bob, reg)
	if err != nil {
		t.Fatal(err)
	}
	reg.Disabled = true
	if off, err := registerPush(bob, reg); err != nil || off != id {
		t.Fatalf("disable: %q %v", off, err)
	}
	if user, on := deviceUser(t, s, id); user != "bob" || on {
		t.Fatalf("disabled device: bound to %q, enabled %v", user, on)
	}
	dropAndWait(t, s, bob, "bob")
	sendWithPush(t, alice, "bob", "m1", &protocol.PushConfig{Title: "Alice", Content: "while off"})
	if jobs := jobsFor(t, s, "bob"); len(jobs) != 0 {
		t.Fatalf("a disabled device was planned pushes: %+v", jobs)
	}

	bob = loginPlain(t, s, "bob")
	reg.Disabled = false
	if on, err := registerPush(bob, reg); err != nil || on != id {
		t.Fatalf("enable: %q %v", on, err)
	}
	dropAndWait(t, s, bob, "bob")
	sendWithPush(t, alice, "bob", "m2", &protocol.PushConfig{Title: "Alice", Content: "on again"})
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	ds, werr := em.WaitDeliveries(ctx, tok, 1)
	if werr != nil {
		t.Fatalf("no push after enabling again: %v", werr)
	}
	if alert, _ := ds[0].Aps()["alert"].(map[string]any); alert["body"] != "on again" {
		t.Fatalf("APNs got %+v", ds[0])
	}
	if n := len(em.Deliveries(tok)); n != 1 {
		t.Fatalf("%d deliveries, want 1 (none while off)", n)
	}
}

// TestRegisterPushLogoutUnbinds: logout unbinds the device registerPush
// bound (promise 6), and frees it for another user at once.
func TestRegisterPushLogoutUnbinds(t *testing.T) {
	s := testkit.Start(t, nil)
	sender := s.LoginAs(t, "sender", "server", "script")
	sender.SyncDone(wait)
	bob := loginPlain(t, s, "bob")
	reg := protocol.PushRegistration{Vendor: "apns", Token: "ff01", Environment: "development", BundleID: bundle}
	id, err := registerPush(bob, reg)
	if err != nil {
		t.Fatal(err)
	}
	if err := bob.Call(protocol.TypeLogout, struct{}{}, nil); err != nil {
		t.Fatal(err)
	}
	if user, _ := deviceUser(t, s, id); user != "" {
		t.Fatalf("device still bound to %q after logout", user)
	}
	wantEvents(t, s, id, "bound ->bob", "unbound bob>-")
	sendWithPush(t, sender, "bob", "m1", &protocol.PushConfig{Title: "t"})
	if jobs := jobsFor(t, s, "bob"); len(jobs) != 0 {
		t.Fatalf("bob logged out but his device was planned a push: %+v", jobs)
	}
	carol := loginPlain(t, s, "carol")
	if got, err := registerPush(carol, reg); err != nil || got != id {
		t.Fatalf("carol registering the device bob logged out of: %q %v", got, err)
	}
}

// TestUnregisterOwnDeviceReleasesClaim: after unregisterPush of the device
// the session registered, another user may register that token (the
// session holds no claim on a device that no longer exists), and logout
// unbinds nothing of it.
func TestUnregisterOwnDeviceReleasesClaim(t *testing.T) {
	s := testkit.Start(t, nil)
	bob := loginPlain(t, s, "bob")
	reg := protocol.PushRegistration{Vendor: "apns", Token: "ff02", Environment: "development", BundleID: bundle}
	id, err := registerPush(bob, reg)
	if err != nil {
		t.Fatal(err)
	}
	if err := bob.Call(protocol.TypeUnregisterPush, protocol.UnregisterPushRequest{PushID: id}, nil); err != nil {
		t.Fatal(err)
	}
	carol := loginPlain(t, s, "carol")
	if got, err := registerPush(carol, reg); err != nil || got != id {
		t.Fatalf("carol registering a token bob unregistered: %q %v", got, err)
	}
	if err := bob.Call(protocol.TypeLogout, struct{}{}, nil); err != nil {
		t.Fatal(err)
	}
	if user, _ := deviceUser(t, s, id); user != "carol" {
		t.Fatalf("device bound to %q, want carol", user)
	}
}
