package push_test

import (
	"context"
	"errors"
	"log/slog"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/heraldim/herald/internal/push"
)

// gateProvider holds every Send until release is closed (or the Send's
// context ends), telling entered about each.
type gateProvider struct {
	entered chan push.Notification
	release chan struct{}
	cut     chan error // the context error of Sends that were cancelled
}

func newGate() *gateProvider {
	return &gateProvider{entered: make(chan push.Notification, 1000), release: make(chan struct{}), cut: make(chan error, 1000)}
}

func (g *gateProvider) Send(ctx context.Context, n push.Notification) (push.Result, error) {
	g.entered <- n
	select {
	case <-g.release:
		return push.Result{Outcome: push.Delivered, Status: 200, VendorID: "held-" + n.ID}, nil
	case <-ctx.Done():
		g.cut <- ctx.Err()
		return push.Result{}, ctx.Err()
	}
}

// vendorProviders gives each vendor its own provider.
type vendorProviders map[push.Vendor]push.Provider

func (vp vendorProviders) Provider(_ context.Context, _ string, v push.Vendor, _ push.Environment) (push.Provider, error) {
	if p := vp[v]; p != nil {
		return p, nil
	}
	return nil, push.ErrVendorNotConfigured
}

// useProviders replaces the fixture's dispatcher with one on ps.
func (f *fixture) useProviders(t *testing.T, ps push.Providers, cfg push.DispatcherConfig) {
	t.Helper()
	cfg.Now = func() time.Time { return *f.clock.Load() }
	if cfg.Poll == 0 {
		cfg.Poll = 5 * time.Millisecond
	}
	d, err := push.NewDispatcher(f.store, ps, cfg, slog.New(slog.NewTextHandler(f.logs, nil)), nil)
	if err != nil {
		t.Fatal(err)
	}
	f.disp = d
}

// addDevice registers a device of vendor v for bob.
func (f *fixture) addDevice(t *testing.T, v push.Vendor, token string) push.Device {
	t.Helper()
	d := push.Device{AppID: "app", PushID: push.NewPushID("app", v, push.Production, token), Vendor: v, Token: token,
		Environment: push.Production, BundleID: "com.example", UserID: "bob", Enabled: true}
	if err := f.store.RegisterDevice(t.Context(), d); err != nil {
		t.Fatal(err)
	}
	return d
}

// jobs returns bob's jobs on device pushID, newest first, with attempts.
func (f *fixture) jobsOf(t *testing.T, pushID string) ([]push.Job, [][]push.Attempt) {
	t.Helper()
	jobs, attempts, err := f.store.Trace(t.Context(), push.TraceFilter{AppID: "app", PushID: pushID})
	if err != nil {
		t.Fatal(err)
	}
	return jobs, attempts
}

// waitFor polls cond (the store is the event here) until it holds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestDispatchSlowVendorDelaysNoOther: a vendor whose pushes hang fills its
// own slots, with more of its jobs waiting; another vendor's push is sent
// meanwhile.
func TestDispatchSlowVendorDelaysNoOther(t *testing.T) {
	f := newFixture(t, true)
	if err := f.store.DeleteDevice(t.Context(), "app", f.dev.PushID, "test"); err != nil {
		t.Fatal(err)
	}
	slow := newGate()
	fast := &fakeProvider{sentNow: make(chan struct{}, 10)}
	f.useProviders(t, vendorProviders{push.VendorFCM: slow, push.VendorHuawei: fast}, push.DispatcherConfig{Concurrency: 2, Batch: 4})
	f.addDevice(t, push.VendorFCM, "fcm-token")
	for range 6 { // three times the FCM slots: FCM has a backlog
		f.plan(t, time.Hour)
	}
	defer close(slow.release)
	defer f.run(t)()
	for range 2 {
		<-slow.entered
	}
	// FCM's two slots hang and four FCM jobs wait; now a push to bob's
	// Huawei phone (and one more to his FCM one).
	f.addDevice(t, push.VendorHuawei, "huawei-token")
	f.plan(t, time.Hour)
	f.disp.Wake()
	select {
	case <-fast.sentNow:
	case <-time.After(10 * time.Second):
		t.Fatal("the Huawei push waited behind FCM's hanging pushes")
	}
	if len(slow.entered) != 0 {
		t.Fatalf("FCM got more pushes than its slots")
	}
}

// TestDispatchBackoffFromEndOfAttempt: a call that took 15 s (a timeout)
// is retried after the backoff counted from its end, not from its start;
// and every attempt of a job carries the same ID (apns-id, vivo requestId:
// the vendors' idempotency keys).
func TestDispatchBackoffFromEndOfAttempt(t *testing.T) {
	f := newFixture(t, true)
	slow := &clockProvider{f: f, took: 15 * time.Second, errs: []error{errors.New("context deadline exceeded")}}
	// A 2 s base: the first backoff is 1-2 s, well inside the 15 s call.
	f.useProviders(t, vendorProviders{push.VendorAPNs: slow}, push.DispatcherConfig{MaxAttempts: 3, BaseBackoff: 2 * time.Second})
	f.plan(t, time.Hour)
	stop := f.run(t)
	j, _ := f.waitJob(t, push.JobPending)
	for j.Attempts != 1 {
		j, _ = f.waitJob(t, push.JobPending)
	}
	end := *f.clock.Load()
	if !j.NotBefore.After(end) {
		t.Fatalf("next attempt at %s, not after the end of the 15 s call (%s): an immediate resend", j.NotBefore, end)
	}
	if got := j.NotBefore.Sub(end); got < time.Second-time.Millisecond || got > 2*time.Second {
		t.Fatalf("next attempt %s after the call ended, want the 1-2 s backoff", got)
	}
	stop()
	f.advance(3 * time.Second)
	defer f.run(t)()
	f.waitJob(t, push.JobDelivered)
	ids := slow.ids()
	uuid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	if len(ids) != 2 || ids[0] != ids[1] || !uuid.MatchString(ids[0]) {
		t.Fatalf("IDs of the job's attempts %q: want one UUID, the same each time", ids)
	}
}

// clockProvider moves the fixture's clock by took during each Send, then
// answers with the next of errs (Delivered when none is left).
type clockProvider struct {
	f    *fixture
	took time.Duration
	errs []error
	sent []string
}

func (c *clockProvider) Send(_ context.Context, n push.Notification) (push.Result, error) {
	c.f.advance(c.took)
	c.sent = append(c.sent, n.ID)
	if len(c.errs) > 0 {
		err := c.errs[0]
		c.errs = c.errs[1:]
		return push.Result{}, err
	}
	return push.Result{Outcome: push.Delivered, Status: 200}, nil
}

func (c *clockProvider) ids() []string { return append([]string(nil), c.sent...) }

// TestDispatchDeferredHoldsTheCredential: a Deferred answer holds every
// push of the app, vendor and environment until Until, without calling the
// vendor and without using up attempts; the deferral is in the trace, in
// Deferred() and logged once.
func TestDispatchDeferredHoldsTheCredential(t *testing.T) {
	f := newFixture(t, true)
	until := f.clock.Load().Add(20 * time.Minute)
	f.prov.script = []push.Result{{Outcome: push.Deferred, Status: 429, Reason: "TooManyProviderTokenUpdates", Until: until}}
	f.plan(t, 3*time.Hour)
	stop := f.run(t)
	<-f.prov.sentNow
	waitFor(t, "the deferral recorded", func() bool {
		jobs, _ := f.jobsOf(t, f.dev.PushID)
		return len(jobs) == 1 && strings.HasPrefix(jobs[0].Reason, "deferred:")
	})
	f.plan(t, 3*time.Hour) // a second push while the credential is refused
	waitFor(t, "the second push held", func() bool {
		jobs, _ := f.jobsOf(t, f.dev.PushID)
		return len(jobs) == 2 && strings.HasPrefix(jobs[0].Reason, "held back: credential deferred until")
	})
	jobs, attempts := f.jobsOf(t, f.dev.PushID)
	first, held := jobs[1], jobs[0]
	if first.Attempts != 0 || !first.NotBefore.Equal(until.Truncate(time.Millisecond)) || len(attempts[1]) != 1 ||
		attempts[1][0].Outcome != "deferred" || attempts[1][0].Status != 429 {
		t.Fatalf("deferred job %+v attempts %+v", first, attempts[1])
	}
	if held.Attempts != 0 || len(attempts[0]) != 0 || !held.NotBefore.Equal(until.Truncate(time.Millisecond)) {
		t.Fatalf("held job %+v attempts %+v", held, attempts[0])
	}
	if c := f.prov.calls.Load(); c != 1 {
		t.Fatalf("the vendor was called %d times during the deferral", c)
	}
	if got := f.disp.Deferred()["app/apns/development"]; got != "until "+until.UTC().Format(time.RFC3339)+": TooManyProviderTokenUpdates" {
		t.Fatalf("Deferred() = %v", f.disp.Deferred())
	}
	if l := f.logs.lines("level=WARN", "push credential deferred", "app=app", "vendor=apns", "environment=development", "until="); len(l) != 1 {
		t.Fatalf("deferral log lines %q", l)
	}
	stop()
	f.advance(20*time.Minute + time.Second)
	if len(f.disp.Deferred()) != 0 {
		t.Fatalf("Deferred() after the hold: %v", f.disp.Deferred())
	}
	defer f.run(t)()
	waitFor(t, "both sent after the hold", func() bool {
		jobs, _ := f.jobsOf(t, f.dev.PushID)
		return len(jobs) == 2 && jobs[0].Status == push.JobDelivered && jobs[1].Status == push.JobDelivered
	})
	jobs, attempts = f.jobsOf(t, f.dev.PushID)
	if jobs[1].Attempts != 1 || len(attempts[1]) != 2 || attempts[1][1].Attempt != 2 || attempts[1][1].Outcome != "delivered" {
		t.Fatalf("after the hold: %+v %+v", jobs[1], attempts[1])
	}
}

// TestDispatchZeroUntilDeferral: a deferral without an end is retried at
// once and is not an attempt; a second in a row counts as AuthFailed, so a
// credential refused for ever fails instead of looping.
func TestDispatchZeroUntilDeferral(t *testing.T) {
	t.Run("then delivered", func(t *testing.T) {
		f := newFixture(t, true)
		f.prov.script = []push.Result{{Outcome: push.Deferred, Status: 403, Reason: "ExpiredProviderToken"}}
		f.plan(t, time.Hour)
		defer f.run(t)()
		j, attempts := f.waitJob(t, push.JobDelivered)
		if j.Attempts != 1 || len(attempts) != 2 || attempts[0].Outcome != "deferred" || attempts[1].Outcome != "delivered" {
			t.Fatalf("job %+v attempts %+v", j, attempts)
		}
	})
	t.Run("for ever", func(t *testing.T) {
		f := newFixture(t, true)
		for range 10 {
			f.prov.script = append(f.prov.script, push.Result{Outcome: push.Deferred, Status: 403, Reason: "ExpiredProviderToken"})
		}
		f.plan(t, time.Hour)
		defer f.run(t)()
		j, attempts := f.waitJob(t, push.JobFailed)
		var outcomes []string
		for _, a := range attempts {
			outcomes = append(outcomes, a.Outcome)
		}
		// deferred, auth_failed (the provider's one refresh), deferred,
		// auth_failed again: the credential fails.
		if j.Attempts != 2 || strings.Join(outcomes, ",") != "deferred,auth_failed,deferred,auth_failed" ||
			!strings.HasPrefix(j.Reason, "credential failing: ExpiredProviderToken") {
			t.Fatalf("job %+v outcomes %v", j, outcomes)
		}
		if c := f.prov.calls.Load(); c != 4 {
			t.Fatalf("%d calls", c)
		}
		if f.disp.Failing()["app/apns/development"] == "" {
			t.Fatalf("Failing() = %v", f.disp.Failing())
		}
	})
}

// TestDispatchShutdownDrains: Shutdown reads no more jobs, lets the pushes
// in flight finish and records them; cut short, it cancels them and they
// stay pending.
func TestDispatchShutdownDrains(t *testing.T) {
	t.Run("drained", func(t *testing.T) {
		f := newFixture(t, true)
		gate := newGate()
		f.useProviders(t, vendorProviders{push.VendorAPNs: gate}, push.DispatcherConfig{Concurrency: 4})
		for range 4 {
			f.plan(t, time.Hour)
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		runDone := make(chan error, 1)
		go func() { runDone <- f.disp.Run(ctx) }()
		for range 4 {
			<-gate.entered
		}
		shut := make(chan error, 1)
		go func() {
			sctx, scancel := context.WithTimeout(context.Background(), time.Minute)
			defer scancel()
			shut <- f.disp.Shutdown(sctx)
		}()
		<-f.disp.Draining()
		f.plan(t, time.Hour) // planned during the drain: stays for the next start
		f.disp.Wake()
		close(gate.release)
		if err := <-shut; err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
		if err := <-runDone; err != nil {
			t.Fatal(err)
		}
		jobs, _ := f.jobsOf(t, f.dev.PushID)
		delivered := 0
		for _, j := range jobs {
			if j.Status == push.JobDelivered {
				delivered++
			}
		}
		if delivered != 4 || jobs[0].Status != push.JobPending || jobs[0].Attempts != 0 || len(gate.cut) != 0 || len(gate.entered) != 0 {
			t.Fatalf("after the drain: %d delivered, newest %+v, %d cut, %d more sent", delivered, jobs[0], len(gate.cut), len(gate.entered))
		}
		if err := f.disp.Shutdown(context.Background()); err != nil {
			t.Fatalf("second Shutdown: %v", err)
		}
	})
	t.Run("cut short", func(t *testing.T) {
		f := newFixture(t, true)
		gate := newGate()
		f.useProviders(t, vendorProviders{push.VendorAPNs: gate}, push.DispatcherConfig{})
		f.plan(t, time.Hour)
		runDone := make(chan error, 1)
		go func() { runDone <- f.disp.Run(context.Background()) }()
		<-gate.entered
		sctx, scancel := context.WithCancel(context.Background())
		scancel()
		if err := f.disp.Shutdown(sctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("Shutdown past its bound: %v", err)
		}
		<-runDone
		if err := <-gate.cut; !errors.Is(err, context.Canceled) {
			t.Fatalf("cut: %v", err)
		}
		j, _ := f.waitJob(t, push.JobPending)
		if j.Attempts != 1 {
			t.Fatalf("cut job %+v", j)
		}
	})
}
