package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/heraldim/herald/internal/config"
	apnsemu "github.com/heraldim/herald/internal/emulator/apns"
	fcmemu "github.com/heraldim/herald/internal/emulator/fcm"
	"github.com/heraldim/herald/internal/protocol"
	"github.com/heraldim/herald/internal/push"
	"github.com/heraldim/herald/internal/push/apns"
	"github.com/heraldim/herald/internal/push/fcm"
	"github.com/heraldim/herald/internal/testkit"
)

const bundle = "com.example.chat"

// startAPNs runs an APNs emulator with one team key for bundle and installs
// a provider for it in the server's dev app, for both environments.
func startAPNs(t *testing.T, s *testkit.Server) *apnsemu.Emulator {
	t.Helper()
	em, _ := startAPNsWith(t, s, apnsemu.Config{})
	return em
}

// startAPNsWith is startAPNs with an emulator configuration; it also
// returns the team key.
func startAPNsWith(t *testing.T, s *testkit.Server, cfg apnsemu.Config) (*apnsemu.Emulator, []byte) {
	t.Helper()
	em, err := apnsemu.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := em.Start(); err != nil {
		t.Fatal(err)
	}
	shutDownAfter(t, s, em.Shutdown)
	em.AddApp("TEAM123456", bundle)
	key, err := em.NewKey("TEAM123456", "KEY1234567")
	if err != nil {
		t.Fatal(err)
	}
	installAPNs(t, s, em, key)
	return em, key
}

// installAPNs installs in s a provider for the emulator's team key.
func installAPNs(t testing.TB, s *testkit.Server, em *apnsemu.Emulator, key []byte) {
	t.Helper()
	p, err := apns.New(apns.Config{
		ProductionURL: em.URL(apnsemu.Production), DevelopmentURL: em.URL(apnsemu.Development),
		KeyPEM: key, KeyID: "KEY1234567", TeamID: "TEAM123456", RootCAs: em.CertPool(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	s.Srv.Providers.Set(s.App.AppID, push.VendorAPNs, push.Development, p)
	s.Srv.Providers.Set(s.App.AppID, push.VendorAPNs, push.Production, p)
}

// startFCM runs an FCM emulator with project herald-test and installs a
// provider for it in the server's dev app (production).
func startFCM(t *testing.T, s *testkit.Server) *fcmemu.Emulator {
	t.Helper()
	em, err := fcmemu.New(fcmemu.Config{})
	serveEmulator(t, s, em, err)
	em.AddProject("herald-test")
	sa, err := em.CreateServiceAccount("herald-test")
	if err != nil {
		t.Fatal(err)
	}
	p, err := fcm.New(fcm.Config{ServiceAccountJSON: sa, BaseURL: em.URL(), TokenURL: em.TokenURL(), RootCAs: em.CertPool()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	s.Srv.Providers.Set(s.App.AppID, push.VendorFCM, push.Production, p)
	return em
}

// goOffline logs user in with a push registration, then drops the
// connection the way a frozen or killed app does (no logout).
func goOffline(t testing.TB, s *testkit.Server, user string, reg protocol.PushRegistration) string {
	t.Helper()
	c := testkit.Dial(t, s.URL)
	var r protocol.LoginReply
	if err := c.Call(protocol.TypeLogin, protocol.LoginRequest{AppID: s.App.AppID, UserID: user,
		Token: s.Token(t, user, time.Hour), Platform: "ios", DeviceID: "phone-" + user, Push: &reg}, &r); err != nil {
		t.Fatal(err)
	}
	c.SyncDone(wait)
	c.Close()
	deadline := time.Now().Add(wait)
	for s.Online(user) {
		if time.Now().After(deadline) {
			t.Fatalf("%s still online", user)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return r.PushID
}

func waitJob(t *testing.T, s *testkit.Server, user string, status push.JobStatus) push.Job {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		jobs := jobsFor(t, s, user)
		if len(jobs) > 0 && jobs[0].Status == status {
			return jobs[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s's newest job never reached %s: %+v", user, status, jobs)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestSeedScenarioOneIOS: bob's iPhone (debug build) is offline; alice's
// message with a push config reaches APNs' sandbox as an alert with the
// title, content and payload; when bob logs in he gets the message itself.
func TestSeedScenarioOneIOS(t *testing.T) {
	s := testkit.Start(t, nil)
	em := startAPNs(t, s)
	tok := em.RegisterDevice(bundle, apnsemu.Development, false)
	goOffline(t, s, "bob", protocol.PushRegistration{Vendor: "apns", Token: tok, Environment: "development", BundleID: bundle})

	alice := s.LoginAs(t, "alice", "android", "a")
	alice.SyncDone(wait)
	sendWithPush(t, alice, "bob", "m1", &protocol.PushConfig{Title: "Alice", Content: "hello", Payload: `{"chat":"alice"}`})

	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	ds, err := em.WaitDeliveries(ctx, tok, 1)
	if err != nil {
		t.Fatalf("no push reached APNs: %v (trace %+v)", err, jobsFor(t, s, "bob"))
	}
	d := ds[0]
	alert, _ := d.Aps()["alert"].(map[string]any)
	if d.Environment != apnsemu.Development || d.Topic != bundle || d.PushType != "alert" ||
		alert["title"] != "Alice" || alert["body"] != "hello" || d.Payload["payload"] != `{"chat":"alice"}` {
		t.Fatalf("APNs got %+v", d)
	}
	waitJob(t, s, "bob", push.JobDelivered)

	bob := s.LoginAs(t, "bob", "ios", "phone-bob")
	if msgs, n := bob.SyncDone(wait); n != 1 || msgs[0].Text != "hi" {
		t.Fatalf("bob synced %+v", msgs)
	}
}

// TestDebugPushIDNeverReachesProduction: a release build's token registered
// as a debug (development) device is pushed through the sandbox only; APNs
// refuses it there and the device is removed, never tried on production.
func TestDebugPushIDNeverReachesProduction(t *testing.T) {
	s := testkit.Start(t, nil)
	em := startAPNs(t, s)
	tok := em.RegisterDevice(bundle, apnsemu.Production, false)
	pushID := goOffline(t, s, "bob", protocol.PushRegistration{Vendor: "apns", Token: tok, Environment: "development", BundleID: bundle})
	if pushID[0] != 'D' {
		t.Fatalf("PushID %s does not carry development", pushID)
	}
	sender := s.LoginAs(t, "alice", "server", "script")
	sender.SyncDone(wait)
	sendWithPush(t, sender, "bob", "m1", &protocol.PushConfig{Title: "t", Content: "c"})
	j := waitJob(t, s, "bob", push.JobDropped)
	if j.Reason != apns.ReasonBadDeviceToken {
		t.Fatalf("job dropped for %q", j.Reason)
	}
	for _, r := range em.Requests() {
		if r.Environment == apnsemu.Production {
			t.Fatalf("a development PushID was pushed to production: %+v", r)
		}
	}
	if len(em.Deliveries(tok)) != 0 {
		t.Fatal("delivered")
	}
}

// TestSeedScenarioOneAndroid: the same through FCM.
func TestSeedScenarioOneAndroid(t *testing.T) {
	s := testkit.Start(t, nil)
	em := startFCM(t, s)
	tok := em.RegisterDevice("herald-test", bundle)
	goOffline(t, s, "bob", protocol.PushRegistration{Vendor: "fcm", Token: tok, Environment: "production", BundleID: bundle})

	alice := s.LoginAs(t, "alice", "ios", "a")
	alice.SyncDone(wait)
	sendWithPush(t, alice, "bob", "m1", &protocol.PushConfig{Title: "Alice", Content: "hello", Payload: "p1"})
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	d, err := em.Next(ctx, tok)
	if err != nil {
		t.Fatalf("no push reached FCM: %v (trace %+v)", err, jobsFor(t, s, "bob"))
	}
	if n := d.Message.Notification; n == nil || n.Title != "Alice" || n.Body != "hello" || d.Message.Data["payload"] != "p1" {
		t.Fatalf("FCM got %+v", d.Message)
	}
	waitJob(t, s, "bob", push.JobDelivered)
}

// TestPendingPushSurvivesRestart: a push that APNs could not take (503,
// retried later) is in the store when the server stops; the next server
// on the same data sends it.
func TestPendingPushSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	s1, clk := testkit.StartFake(t, func(c *config.Config) { c.DataDir = dir })
	// The restarted server signs a new provider token at once; Apple
	// accepts that, while the emulator by default enforces Apple's "at most
	// every 20 minutes" per team.
	em, key := startAPNsWith(t, s1, apnsemu.Config{TokenUpdateInterval: time.Millisecond})
	tok := em.RegisterDevice(bundle, apnsemu.Development, false)
	goOffline(t, s1, "bob", protocol.PushRegistration{Vendor: "apns", Token: tok, Environment: "development", BundleID: bundle})
	em.InjectFault("", apnsemu.Fault{Kind: apnsemu.FaultUnavailable, RetryAfter: 2 * time.Second})
	sender := s1.LoginAs(t, "alice", "server", "script")
	sender.SyncDone(wait)
	sendWithPush(t, sender, "bob", "m1", &protocol.PushConfig{Title: "while down", Content: "c"})
	deadline := time.Now().Add(wait)
	for {
		jobs := jobsFor(t, s1, "bob")
		if len(jobs) == 1 && jobs[0].Attempts == 1 && jobs[0].Status == push.JobPending {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no retry scheduled: %+v", jobs)
		}
		time.Sleep(10 * time.Millisecond)
	}
	s1.Stop(t)
	em.ClearFault("")

	s2 := testkit.StartBefore(t, func(c *config.Config) { c.DataDir, c.Clock = dir, clk }, func(s *testkit.Server) { installAPNs(t, s, em, key) })
	clk.Advance(2 * time.Second) // the retry APNs asked for came due
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	ds, err := em.WaitDeliveries(ctx, tok, 1)
	if err != nil {
		t.Fatalf("the pending push was not sent after the restart: %v (trace %+v)", err, jobsFor(t, s2, "bob"))
	}
	if alert, _ := ds[0].Aps()["alert"].(map[string]any); alert["title"] != "while down" {
		t.Fatalf("delivered %+v", ds[0].Payload)
	}
	if j := waitJob(t, s2, "bob", push.JobDelivered); j.Attempts != 2 {
		t.Fatalf("attempts %d, want 2", j.Attempts)
	}
}

// TestFailingCredentialShownInReadyz: a revoked APNs key fails twice (the
// second attempt after the provider's refresh) and is reported in /readyz
// detail, while the node stays ready.
func TestFailingCredentialShownInReadyz(t *testing.T) {
	s := testkit.Start(t, nil)
	em := startAPNs(t, s)
	tok := em.RegisterDevice(bundle, apnsemu.Development, false)
	goOffline(t, s, "bob", protocol.PushRegistration{Vendor: "apns", Token: tok, Environment: "development", BundleID: bundle})
	em.RevokeKey("KEY1234567")
	sender := s.LoginAs(t, "alice", "server", "script")
	sender.SyncDone(wait)
	sendWithPush(t, sender, "bob", "m1", &protocol.PushConfig{Title: "t", Content: "c"})
	waitJob(t, s, "bob", push.JobFailed)

	resp, err := http.Get(s.HTTP + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Status  string            `json:"status"`
		Failing map[string]string `json:"pushCredentialsFailing"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || body.Status != "ok" || body.Failing[s.App.AppID+"/apns/development"] != apns.ReasonInvalidProviderToken {
		t.Fatalf("/readyz %d %+v", resp.StatusCode, body)
	}
}
