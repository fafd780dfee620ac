package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/heraldim/herald/internal/config"
	apnsemu "github.com/heraldim/herald/internal/emulator/apns"
	fcmemu "github.com/heraldim/herald/internal/emulator/fcm"
	vivoemu "github.com/heraldim/herald/internal/emulator/vivo"
	"github.com/heraldim/herald/internal/protocol"
	"github.com/heraldim/herald/internal/push"
	"github.com/heraldim/herald/internal/push/vivo"
	"github.com/heraldim/herald/internal/testkit"
)

// rigOf returns the Android vendor rig named name.
func rigOf(t *testing.T, s *testkit.Server, name string) vendorRig {
	t.Helper()
	for _, v := range androidVendors {
		if v.name == name {
			return v.setup(t, s)
		}
	}
	t.Fatalf("no rig %s", name)
	return vendorRig{}
}

// TestSlowVendorDelaysNoOther: FCM holds its answers with every FCM slot
// taken and more FCM pushes waiting; a Huawei push is taken by Huawei
// meanwhile, while FCM still holds.
func TestSlowVendorDelaysNoOther(t *testing.T) {
	s := testkit.Start(t, func(c *config.Config) { c.PushConcurrency = 2 })
	fcm := startFCM(t, s)
	ftok := fcm.RegisterDevice("herald-test", bundle)
	goOffline(t, s, "bob", protocol.PushRegistration{Vendor: "fcm", Token: ftok, Environment: "production", BundleID: bundle})
	// FCM answers nothing to bob's phone until the client gives up (15 s)
	// or the emulator stops.
	if err := fcm.SetFault(ftok, fcmemu.Fault{Delay: time.Hour}); err != nil {
		t.Fatal(err)
	}
	hw := rigOf(t, s, "huawei")
	p := hw.provider(t)
	t.Cleanup(func() { p.(interface{ Close() }).Close() })
	s.Srv.Providers.Set(s.App.AppID, push.VendorHuawei, push.Production, p)
	goOffline(t, s, "carol", protocol.PushRegistration{Vendor: "huawei", Token: hw.token, Environment: "production", BundleID: pkg})

	sender := s.LoginAs(t, "alice", "server", "script")
	sender.SyncDone(wait)
	for i := range 8 { // four times FCM's slots
		sendWithPush(t, sender, "bob", fmt.Sprintf("b%d", i), &protocol.PushConfig{Title: "to bob", Content: "c"})
	}
	deadline := time.Now().Add(wait)
	for fcm.Stats().SendRequests < 2 { // the emulator's count is the event
		if time.Now().After(deadline) {
			t.Fatalf("FCM got %d sends, want its 2 slots' worth", fcm.Stats().SendRequests)
		}
		time.Sleep(5 * time.Millisecond)
	}
	sendWithPush(t, sender, "carol", "c1", &protocol.PushConfig{Title: "to carol", Content: "c"})
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if _, err := hw.next(ctx); err != nil {
		t.Fatalf("the Huawei push waited behind FCM's: %v (trace %+v)", err, jobsFor(t, s, "carol"))
	}
	if st := fcm.Stats(); st.SendRequests != 2 || len(fcm.Deliveries(ftok)) != 0 {
		t.Fatalf("FCM was not holding its slots meanwhile: %+v, %d delivered", st, len(fcm.Deliveries(ftok)))
	}
}

// TestGracefulStopDrainsPushesInFlight: 64 pushes are with APNs, which has
// not answered, when the server is stopped gracefully; APNs answers during
// the stop. The outcomes are recorded before the stop ends, so after a
// restart on the same data nothing is sent again: APNs saw each push once.
func TestGracefulStopDrainsPushesInFlight(t *testing.T) {
	dir := t.TempDir()
	s1 := testkit.Start(t, func(c *config.Config) { c.DataDir = dir })
	em, key := startAPNsWith(t, s1, apnsemu.Config{TokenUpdateInterval: time.Millisecond})
	tok := em.RegisterDevice(bundle, apnsemu.Development, false)
	goOffline(t, s1, "bob", protocol.PushRegistration{Vendor: "apns", Token: tok, Environment: "development", BundleID: bundle})
	em.Hold()
	sender := s1.LoginAs(t, "alice", "server", "script")
	sender.SyncDone(wait)
	const n = 64 // push-concurrency's default: every slot in flight
	for i := range n {
		sendWithPush(t, sender, "bob", fmt.Sprintf("m%d", i), &protocol.PushConfig{Title: "t", Content: fmt.Sprint(i)})
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := em.WaitHeld(ctx, n); err != nil {
		t.Fatalf("APNs holds %d pushes, want %d: %v", em.Held(), n, err)
	}
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		s1.Stop(t)
	}()
	select {
	case <-s1.Srv.PushDraining():
	case <-ctx.Done():
		t.Fatal("the stop never drained the push dispatcher")
	}
	em.Release() // APNs answers the pushes it holds, during the stop
	<-stopped

	s2 := testkit.Start(t, func(c *config.Config) { c.DataDir = dir })
	jobs := jobsFor(t, s2, "bob")
	delivered := 0
	for _, j := range jobs {
		if j.Status == push.JobDelivered && j.Attempts == 1 {
			delivered++
		}
	}
	if len(jobs) != n || delivered != n {
		t.Fatalf("after the restart %d of %d jobs delivered at the first attempt: %+v", delivered, len(jobs), jobs)
	}
	installAPNs(t, s2, em, key)
	ids := map[string]int{}
	for _, d := range em.Deliveries(tok) {
		ids[d.APNSID]++
	}
	if len(ids) != n || len(em.Deliveries(tok)) != n {
		t.Fatalf("APNs delivered %d pushes with %d distinct apns-ids, want each of %d once", len(em.Deliveries(tok)), len(ids), n)
	}
}

// TestVivoLostAnswerRetriedWithSameRequestID: vivo takes a push but its
// answer never comes back (the provider times out); the retry carries the
// same requestId, so vivo answers as the first time and the phone gets the
// push once.
func TestVivoLostAnswerRetriedWithSameRequestID(t *testing.T) {
	s := testkit.Start(t, nil)
	em := startVivo(t, s)
	reg := em.RegisterDevice("10004")
	// A short client timeout so the lost answer is given up on quickly;
	// nothing is asserted about time.
	p, err := vivo.New(vivo.Config{AppID: "10004", AppKey: "vivo-key", AppSecret: "vivo-secret", BaseURL: em.URL(),
		RootCAs: em.CertPool(), Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	s.Srv.Providers.Set(s.App.AppID, push.VendorVivo, push.Production, p)
	if err := em.SetFault(reg, vivoemu.Fault{Kind: vivoemu.FaultLostAnswer, Times: 1}); err != nil {
		t.Fatal(err)
	}
	goOffline(t, s, "bob", protocol.PushRegistration{Vendor: "vivo", Token: reg, Environment: "production", BundleID: pkg})
	sender := s.LoginAs(t, "alice", "server", "script")
	sender.SyncDone(wait)
	sendWithPush(t, sender, "bob", "m1", &protocol.PushConfig{Title: "Alice", Content: "hello"})
	j := waitJob(t, s, "bob", push.JobDelivered)
	if j.Attempts != 2 {
		t.Fatalf("job %+v: want the lost answer's attempt and its retry", j)
	}
	if n, st := len(em.Deliveries(reg)), em.Stats(); n != 1 || st.Duplicates != 1 || j.Reason != em.Deliveries(reg)[0].TaskID {
		t.Fatalf("vivo delivered %d (want 1), stats %+v, job reason %q", n, st, j.Reason)
	}
}

// deferringProvider answers every push with a Deferred credential until
// a time, as the APNs provider does on TooManyProviderTokenUpdates.
type deferringProvider struct{ until time.Time }

func (p deferringProvider) Send(context.Context, push.Notification) (push.Result, error) {
	return push.Result{Outcome: push.Deferred, Status: 429, Reason: "TooManyProviderTokenUpdates", Until: p.until}, nil
}

// TestDeferredCredentialShownInReadyz: a credential the vendor refuses for
// a while is listed in /readyz with its end and reason, the node stays
// ready, and the push waits without using up an attempt.
func TestDeferredCredentialShownInReadyz(t *testing.T) {
	s := testkit.Start(t, nil)
	until := time.Now().Add(20 * time.Minute).Truncate(time.Second)
	s.Srv.Providers.Set(s.App.AppID, push.VendorAPNs, push.Development, deferringProvider{until: until})
	goOffline(t, s, "bob", protocol.PushRegistration{Vendor: "apns", Token: "0a0b0c0d", Environment: "development", BundleID: bundle})
	sender := s.LoginAs(t, "alice", "server", "script")
	sender.SyncDone(wait)
	sendWithPush(t, sender, "bob", "m1", &protocol.PushConfig{Title: "t", Content: "c"})
	j := waitReason(t, s, "bob", "deferred: credential refused until")
	if j.Status != push.JobPending || j.Attempts != 0 || !j.NotBefore.Equal(until) {
		t.Fatalf("deferred job %+v", j)
	}
	resp, err := http.Get(s.HTTP + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Status   string            `json:"status"`
		Deferred map[string]string `json:"pushCredentialsDeferred"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	want := "until " + until.UTC().Format(time.RFC3339) + ": TooManyProviderTokenUpdates"
	if resp.StatusCode != http.StatusOK || body.Status != "ok" || body.Deferred[s.App.AppID+"/apns/development"] != want {
		t.Fatalf("/readyz %d %+v", resp.StatusCode, body)
	}
}
