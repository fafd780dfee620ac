package push_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/heraldim/herald/internal/im"
	"github.com/heraldim/herald/internal/push"
	"github.com/heraldim/herald/internal/store/sqlstore"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeProvider answers with scripted results and records what it was sent.
type fakeProvider struct {
	mu      sync.Mutex
	script  []push.Result // consumed in order; then Delivered
	sent    []push.Notification
	calls   atomic.Int32
	sentNow chan struct{}
}

func (p *fakeProvider) Send(_ context.Context, n push.Notification) (push.Result, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls.Add(1)
	p.sent = append(p.sent, n)
	r := push.Result{Outcome: push.Delivered, Status: 200, VendorID: "v-1"}
	if len(p.script) > 0 {
		r, p.script = p.script[0], p.script[1:]
	}
	select {
	case p.sentNow <- struct{}{}:
	default:
	}
	return r, nil
}

// logBuffer collects a dispatcher's log lines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// lines returns the log lines that contain every one of parts.
func (l *logBuffer) lines(parts ...string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
next:
	for _, line := range strings.Split(l.b.String(), "\n") {
		for _, p := range parts {
			if !strings.Contains(line, p) {
				continue next
			}
		}
		out = append(out, line)
	}
	return out
}

type providers struct {
	p          push.Provider
	configured bool
}

func (ps providers) Provider(context.Context, string, push.Vendor, push.Environment) (push.Provider, error) {
	if !ps.configured {
		return nil, push.ErrVendorNotConfigured
	}
	return ps.p, nil
}

type fixture struct {
	logs  *logBuffer
	reg   *prometheus.Registry
	store *sqlstore.Store
	clock atomic.Pointer[time.Time]
	prov  *fakeProvider
	disp  *push.Dispatcher
	dev   push.Device
	msgID int64
}

func newFixture(t *testing.T, configured bool) *fixture {
	t.Helper()
	st, err := sqlstore.Open(t.Context(), sqlstore.Config{Path: filepath.Join(t.TempDir(), "h.db")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.CreateApp(t.Context(), im.App{ID: "app", Name: "app", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	f := &fixture{store: st, prov: &fakeProvider{sentNow: make(chan struct{}, 100)}, logs: &logBuffer{}, reg: prometheus.NewRegistry()}
	now := time.Now()
	f.clock.Store(&now)
	f.dev = push.Device{AppID: "app", PushID: push.NewPushID("app", push.VendorAPNs, push.Development, "tok"),
		Vendor: push.VendorAPNs, Token: "tok", Environment: push.Development, BundleID: "com.example", UserID: "bob", Enabled: true}
	if err := st.RegisterDevice(t.Context(), f.dev); err != nil {
		t.Fatal(err)
	}
	f.disp, err = push.NewDispatcher(st, providers{f.prov, configured}, push.DispatcherConfig{
		Poll: 5 * time.Millisecond, MaxAttempts: 3, BaseBackoff: time.Minute,
		Now: func() time.Time { return *f.clock.Load() },
	}, slog.New(slog.NewTextHandler(f.logs, nil)), f.reg)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) advance(d time.Duration) {
	n := f.clock.Load().Add(d)
	f.clock.Store(&n)
}

// plan commits a message from alice to bob with a push config and a push
// job for bob, expiring after ttl.
func (f *fixture) plan(t *testing.T, ttl time.Duration) {
	t.Helper()
	f.msgID++
	now := *f.clock.Load()
	m := &im.Message{AppID: "app", ID: f.msgID, ConvID: im.PeerConvID("alice", "bob"), Sender: "alice", Recipient: "bob",
		Type: 1, Text: "hi", Priority: 2, CreatedAt: now, PushConfig: &push.Content{Title: "Alice", Content: "hi", Payload: "p1"},
		PushUsers: []string{"bob"}, PushExpires: now.Add(ttl)}
	if _, err := f.store.AppendMessages(t.Context(), []*im.Message{m}); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) run(t *testing.T) func() {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = f.disp.Run(ctx); close(done) }()
	return func() { cancel(); <-done }
}

// waitJob waits until bob's newest job reaches status.
func (f *fixture) waitJob(t *testing.T, status push.JobStatus) (push.Job, []push.Attempt) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		jobs, attempts, err := f.store.Trace(t.Context(), push.TraceFilter{AppID: "app", UserID: "bob"})
		if err != nil {
			t.Fatal(err)
		}
		if len(jobs) > 0 && jobs[0].Status == status {
			return jobs[0], attempts[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("job never reached %s: %+v", status, jobs)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestDispatchDelivers(t *testing.T) {
	f := newFixture(t, true)
	f.plan(t, time.Hour)
	defer f.run(t)()
	j, attempts := f.waitJob(t, push.JobDelivered)
	if len(attempts) != 1 || attempts[0].Outcome != "delivered" || j.Reason != "v-1" {
		t.Fatalf("job %+v attempts %+v", j, attempts)
	}
	n := f.prov.sent[0]
	if n.Token != "tok" || n.Topic != "com.example" || n.Title != "Alice" || n.Content != "hi" || n.Payload != "p1" ||
		n.Kind != push.KindAlert || n.Environment != push.Development || !n.Expiration.Equal(j.ExpiresAt) {
		t.Fatalf("notification %+v", n)
	}
}

func TestDispatchRetriesHonouringRetryAfter(t *testing.T) {
	f := newFixture(t, true)
	f.prov.script = []push.Result{
		{Outcome: push.Retry, Status: 429, Reason: "TooManyRequests", RetryAfter: 30 * time.Second},
		{Outcome: push.Retry, Status: 503, Reason: "ServiceUnavailable"},
	}
	f.plan(t, time.Hour)
	defer f.run(t)()
	<-f.prov.sentNow
	j, _ := f.waitJob(t, push.JobPending)
	for j.Attempts != 1 {
		j, _ = f.waitJob(t, push.JobPending)
	}
	if got := j.NotBefore.Sub(*f.clock.Load()); got < 29*time.Second || got > 31*time.Second {
		t.Fatalf("next attempt in %s, want the vendor's 30 s", got)
	}
	time.Sleep(50 * time.Millisecond)
	if c := f.prov.calls.Load(); c != 1 {
		t.Fatalf("retried before Retry-After: %d calls", c)
	}
	f.advance(31 * time.Second)
	<-f.prov.sentNow // second attempt: 503 without Retry-After -> backoff (30-60 s from a 1 min base)
	// The jump below is the attempt's whole lease (2 min): made before the
	// second outcome is stored, it would let the next claim take the job
	// with the first outcome's state while that write is on its way, and
	// send it twice (as for any attempt that outlasts its lease).
	for j.Attempts != 2 {
		j, _ = f.waitJob(t, push.JobPending)
	}
	f.advance(2 * time.Minute)
	j, attempts := f.waitJob(t, push.JobDelivered)
	if len(attempts) != 3 || j.Attempts != 3 {
		t.Fatalf("attempts %+v", attempts)
	}
}

func TestDispatchDropsDeviceOnBadToken(t *testing.T) {
	f := newFixture(t, true)
	f.prov.script = []push.Result{{Outcome: push.DropDevice, Status: 410, Reason: "Unregistered"}}
	f.plan(t, time.Hour)
	defer f.run(t)()
	f.waitJob(t, push.JobDropped)
	if _, err := f.store.Device(t.Context(), "app", f.dev.PushID); err == nil {
		t.Fatal("the vendor said the token is dead but the device remains")
	}
	if c := f.prov.calls.Load(); c != 1 {
		t.Fatalf("a dead token was retried: %d calls", c)
	}
}

func TestDispatchNeverSendsExpiredOrRebound(t *testing.T) {
	f := newFixture(t, true)
	f.plan(t, time.Minute)
	f.advance(2 * time.Minute) // past its expiry before the dispatcher runs
	stop := f.run(t)
	f.waitJob(t, push.JobExpired)
	stop()

	f.plan(t, time.Hour)
	rebound := f.dev
	rebound.UserID = "carol" // bob logged out, carol logged in on the phone
	if err := f.store.RegisterDevice(t.Context(), rebound); err != nil {
		t.Fatal(err)
	}
	defer f.run(t)()
	j, _ := f.waitJob(t, push.JobDropped)
	if j.Reason != "device no longer bound to the recipient" {
		t.Fatalf("reason %q", j.Reason)
	}
	if c := f.prov.calls.Load(); c != 0 {
		t.Fatalf("provider called %d times for an expired or rebound job", c)
	}
}

func TestDispatchAuthFailureRetriedOnceThenCredentialFailing(t *testing.T) {
	f := newFixture(t, true)
	f.prov.script = []push.Result{
		{Outcome: push.AuthFailed, Status: 403, Reason: "ExpiredProviderToken"},
		{Outcome: push.AuthFailed, Status: 403, Reason: "InvalidProviderToken"},
	}
	f.plan(t, time.Hour)
	defer f.run(t)()
	j, attempts := f.waitJob(t, push.JobFailed)
	if len(attempts) != 2 || j.Reason != "credential failing: InvalidProviderToken" {
		t.Fatalf("job %+v attempts %+v", j, attempts)
	}
	if why := f.disp.Failing()["app/apns/development"]; why != "InvalidProviderToken" {
		t.Fatalf("failing credentials: %v", f.disp.Failing())
	}
	// A replaced credential starts with a clean record; other apps' and
	// vendors' stay.
	f.disp.ResetFailing("other", push.VendorAPNs)
	f.disp.ResetFailing("app", push.VendorFCM)
	if len(f.disp.Failing()) != 1 {
		t.Fatalf("reset of another app or vendor cleared: %v", f.disp.Failing())
	}
	f.disp.ResetFailing("app", push.VendorAPNs)
	if len(f.disp.Failing()) != 0 {
		t.Fatalf("after reset: %v", f.disp.Failing())
	}
}

func TestDispatchGivesUpAfterMaxAttempts(t *testing.T) {
	f := newFixture(t, true)
	f.prov.script = []push.Result{{Outcome: push.Retry, RetryAfter: time.Second}, {Outcome: push.Retry, RetryAfter: time.Second}, {Outcome: push.Retry, RetryAfter: time.Second}}
	f.plan(t, time.Hour)
	defer f.run(t)()
	for range 2 {
		<-f.prov.sentNow
		f.waitJob(t, push.JobPending)
		time.Sleep(20 * time.Millisecond)
		f.advance(2 * time.Second)
	}
	j, _ := f.waitJob(t, push.JobFailed)
	if j.Attempts != 3 {
		t.Fatalf("attempts %d, want 3", j.Attempts)
	}
	// Giving up is a log line at Warn and a metric, not only a row.
	if l := f.logs.lines("level=WARN", "push job gave up", "app=app", "vendor=apns", "push_id="+f.dev.PushID,
		fmt.Sprintf("job=%d", j.ID), "reason="); len(l) != 1 {
		t.Fatalf("give-up log lines %q in %q", l, f.logs.lines())
	}
	if n := counter(t, f.reg, "herald_push_gave_up_total", "apns"); n != 1 {
		t.Fatalf("herald_push_gave_up_total{vendor=apns} = %v", n)
	}
}

// counter returns the value of a counter with label vendor=v.
func counter(t *testing.T, reg *prometheus.Registry, name string, v push.Vendor) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "vendor" && l.GetValue() == string(v) {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

func TestDispatchVendorNotConfigured(t *testing.T) {
	f := newFixture(t, false)
	f.plan(t, time.Hour)
	defer f.run(t)()
	j, _ := f.waitJob(t, push.JobFailed)
	if j.Reason != push.ErrVendorNotConfigured.Error() {
		t.Fatalf("reason %q", j.Reason)
	}
}

// TestDispatchQuotaHoldsTheVendor: after a vendor says the app's quota is
// used up, the dispatcher stops calling it for the app until the reset,
// saying so in the trace, then sends everything held.
func TestDispatchQuotaHoldsTheVendor(t *testing.T) {
	f := newFixture(t, true)
	reset := f.clock.Load().Add(time.Hour)
	f.prov.script = []push.Result{{Outcome: push.QuotaExhausted, Status: 200, Reason: "daily quota", Until: reset}}
	f.plan(t, 3*time.Hour)
	stop := f.run(t)
	<-f.prov.sentNow
	f.waitJob(t, push.JobPending)
	f.plan(t, 3*time.Hour) // a second push while the quota is exhausted
	deadline := time.Now().Add(10 * time.Second)
	for {
		jobs, attempts, err := f.store.Trace(t.Context(), push.TraceFilter{AppID: "app", UserID: "bob"})
		if err != nil {
			t.Fatal(err)
		}
		if len(jobs) == 2 && strings.HasPrefix(jobs[0].Reason, "held back: vendor quota exhausted until") {
			if len(attempts[0]) != 0 || jobs[0].Attempts != 0 || !jobs[0].NotBefore.Equal(reset.Truncate(time.Millisecond)) {
				t.Fatalf("held job %+v attempts %+v", jobs[0], attempts[0])
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("second job not held: %+v", jobs)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if c := f.prov.calls.Load(); c != 1 {
		t.Fatalf("the vendor was called %d times during the exhausted quota", c)
	}
	stop()
	f.advance(time.Hour + time.Second)
	defer f.run(t)()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		jobs, _, _ := f.store.Trace(t.Context(), push.TraceFilter{AppID: "app", UserID: "bob"})
		if len(jobs) == 2 && jobs[0].Status == push.JobDelivered && jobs[1].Status == push.JobDelivered {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("held jobs not sent after the reset: %+v", jobs)
		}
	}
}

// TestDispatchNoPassThroughVendor: a data-only push (nothing to show) to a
// vendor without pass-through messages fails with the reason, without a
// vendor call.
func TestDispatchNoPassThroughVendor(t *testing.T) {
	f := newFixture(t, true)
	ctx := t.Context()
	if err := f.store.DeleteDevice(ctx, "app", f.dev.PushID, "test"); err != nil {
		t.Fatal(err)
	}
	d := push.Device{AppID: "app", PushID: push.NewPushID("app", push.VendorOPPO, push.Production, "otok"),
		Vendor: push.VendorOPPO, Token: "otok", Environment: push.Production, BundleID: "com.example", UserID: "bob", Enabled: true}
	if err := f.store.RegisterDevice(ctx, d); err != nil {
		t.Fatal(err)
	}
	now := *f.clock.Load()
	m := &im.Message{AppID: "app", ID: 99, ConvID: im.PeerConvID("alice", "bob"), Sender: "alice", Recipient: "bob",
		Type: 1, Text: "hi", Priority: 2, CreatedAt: now, PushConfig: &push.Content{Payload: "only data"},
		PushUsers: []string{"bob"}, PushExpires: now.Add(time.Hour)}
	if _, err := f.store.AppendMessages(ctx, []*im.Message{m}); err != nil {
		t.Fatal(err)
	}
	defer f.run(t)()
	j, _ := f.waitJob(t, push.JobFailed)
	if !strings.Contains(j.Reason, "oppo has no pass-through messages") {
		t.Fatalf("reason %q", j.Reason)
	}
	if c := f.prov.calls.Load(); c != 0 {
		t.Fatalf("vendor called %d times", c)
	}
}
