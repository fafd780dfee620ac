package push_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldim/herald/internal/push"
	"github.com/heraldim/herald/internal/store/sqlstore"
)

// countingProvider delivers every push and counts the sends of each
// notification ID (the job's).
type countingProvider struct {
	mu   sync.Mutex
	sent map[string]int
}

func (p *countingProvider) Send(_ context.Context, n push.Notification) (push.Result, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sent[n.ID]++
	return push.Result{Outcome: push.Delivered, Status: 200, VendorID: "v"}, nil
}

// node is a second dispatcher on the fixture's store, as another node
// would run it: its own owner and provider, the same clock.
func (f *fixture) node(t *testing.T, store push.Store, owner string, p push.Provider, cfg push.DispatcherConfig) (*push.Dispatcher, func()) {
	t.Helper()
	cfg.Owner, cfg.Now = owner, func() time.Time { return *f.clock.Load() }
	if cfg.Poll == 0 {
		cfg.Poll = 5 * time.Millisecond
	}
	d, err := push.NewDispatcher(store, providers{p, true}, cfg, slog.New(slog.NewTextHandler(f.logs, nil)), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = d.Run(ctx); close(done) }()
	return d, func() { cancel(); <-done }
}

// TestTwoDispatchersSendEachJobOnce: two nodes' dispatchers on one store
// send each of many jobs exactly once between them.
func TestTwoDispatchersSendEachJobOnce(t *testing.T) {
	f := newFixture(t, true)
	const n = 100
	for range n {
		f.plan(t, time.Hour)
	}
	a, b := &countingProvider{sent: map[string]int{}}, &countingProvider{sent: map[string]int{}}
	cfg := push.DispatcherConfig{Concurrency: 8, Batch: 8}
	_, stopA := f.node(t, f.store, "node-a", a, cfg)
	_, stopB := f.node(t, f.store, "node-b", b, cfg)
	deadline := time.Now().Add(30 * time.Second)
	for {
		jobs, _, err := f.store.Trace(t.Context(), push.TraceFilter{AppID: "app", UserID: "bob", Limit: n + 1})
		if err != nil {
			t.Fatal(err)
		}
		left := 0
		for _, j := range jobs {
			if j.Status != push.JobDelivered {
				left++
			}
		}
		if len(jobs) == n && left == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d jobs not delivered; warnings: %q", left, n, f.logs.lines("level=WARN"))
		}
		time.Sleep(5 * time.Millisecond)
	}
	stopA()
	stopB()
	total := 0
	for id, c := range a.sent {
		if c != 1 || b.sent[id] != 0 {
			t.Errorf("job %s sent %d times by node a and %d by node b", id, c, b.sent[id])
		}
		total += c
	}
	for id, c := range b.sent {
		if c != 1 {
			t.Errorf("job %s sent %d times by node b", id, c)
		}
		total += c
	}
	if total != n {
		t.Fatalf("%d sends for %d jobs", total, n)
	}
	t.Logf("node a sent %d, node b %d", len(a.sent), len(b.sent))
}

// deadStore is the store of a node that dies right after its vendor calls:
// no outcome it records reaches the database.
type deadStore struct{ *sqlstore.Store }

func (deadStore) FinishAttempts(context.Context, []push.Finish) error { return nil }

// TestDeadDispatcherLeaseExpires: a node that claimed a job and stopped
// without recording it holds it until its lease ends; then another node
// sends it.
func TestDeadDispatcherLeaseExpires(t *testing.T) {
	f := newFixture(t, true)
	f.plan(t, time.Hour)
	gate := newGate()
	lease := time.Minute
	_, stopA := f.node(t, deadStore{f.store}, "node-a", gate, push.DispatcherConfig{Lease: lease})
	<-gate.entered
	stopA() // its context ends: the call is cut, and the outcome never stored

	now := *f.clock.Load()
	if js, err := f.store.ClaimJobs(t.Context(), push.VendorAPNs, now, 10, "probe", now.Add(time.Second)); err != nil || len(js) != 0 {
		t.Fatalf("claimed a job under a running lease: %v %+v", err, js)
	}
	b := &countingProvider{sent: map[string]int{}}
	_, stopB := f.node(t, f.store, "node-b", b, push.DispatcherConfig{Lease: lease})
	defer stopB()
	f.advance(lease)
	j, attempts := f.waitJob(t, push.JobDelivered)
	if len(attempts) != 1 || attempts[0].Outcome != "delivered" {
		t.Fatalf("job %+v attempts %+v", j, attempts)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.sent) != 1 {
		t.Fatalf("node b sent %v", b.sent)
	}
}

// cutOffStore is the store of a node that loses its way to the database
// after its first claim that took a job: it claims nothing more (its
// outcomes still reach the database, late).
type cutOffStore struct {
	*sqlstore.Store
	mu  sync.Mutex
	cut bool
}

func (s *cutOffStore) ClaimJobs(ctx context.Context, v push.Vendor, now time.Time, limit int, owner string, until time.Time) ([]push.Job, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cut {
		return nil, nil
	}
	js, err := s.Store.ClaimJobs(ctx, v, now, limit, owner, until)
	s.cut = len(js) > 0
	return js, err
}

// reclaimStore counts the claims that took a job already in flight on
// the node: the job's ID appears in taken again.
type reclaimStore struct {
	*sqlstore.Store
	mu     sync.Mutex
	taken  map[int64]int
	again  chan struct{}
	signal sync.Once
}

func (s *reclaimStore) ClaimJobs(ctx context.Context, v push.Vendor, now time.Time, limit int, owner string, until time.Time) ([]push.Job, error) {
	js, err := s.Store.ClaimJobs(ctx, v, now, limit, owner, until)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, j := range js {
		if s.taken[j.ID]++; s.taken[j.ID] > 1 {
			s.signal.Do(func() { close(s.again) })
		}
	}
	return js, err
}

// TestInFlightJobKeepsItsLease: an attempt that outlasts its lease on a
// node that still claims keeps the job: the node's next claim takes it
// again (renewing the lease) and skips it as in flight, so no other node
// sends it meanwhile; it is sent once, and its outcome recorded.
func TestInFlightJobKeepsItsLease(t *testing.T) {
	f := newFixture(t, true)
	f.plan(t, time.Hour)
	gate := newGate()
	lease := time.Minute
	st := &reclaimStore{Store: f.store, taken: map[int64]int{}, again: make(chan struct{})}
	_, stopA := f.node(t, st, "node-a", gate, push.DispatcherConfig{Lease: lease})
	defer stopA()
	<-gate.entered
	f.advance(lease + time.Second)
	select {
	case <-st.again:
	case <-time.After(10 * time.Second):
		t.Fatal("node a never claimed its job in flight again")
	}
	now := *f.clock.Load()
	if js, err := f.store.ClaimJobs(t.Context(), push.VendorAPNs, now, 10, "node-b", now.Add(lease)); err != nil || len(js) != 0 {
		t.Fatalf("another node claimed a job in flight on a live node: %v %+v", err, js)
	}
	close(gate.release)
	j, attempts := f.waitJob(t, push.JobDelivered)
	if len(attempts) != 1 || strings.Contains(attempts[0].Reason, "lease lost") {
		t.Fatalf("job %+v attempts %+v", j, attempts)
	}
}

// TestStaleFinisherDoesNotOverwrite: a node whose vendor call outlasted
// its lease, while another node claimed the job and recorded a retry,
// finishes late: the job keeps the new owner's state, and the late call
// is traced as such.
func TestStaleFinisherDoesNotOverwrite(t *testing.T) {
	f := newFixture(t, true)
	f.plan(t, time.Hour)
	gate := newGate()
	lease := time.Minute
	// Node a is cut off from the store after its claim: otherwise its next
	// claim would take the job again and renew the lease
	// (TestInFlightJobKeepsItsLease).
	_, stopA := f.node(t, &cutOffStore{Store: f.store}, "node-a", gate, push.DispatcherConfig{Lease: lease})
	defer stopA()
	<-gate.entered

	retry := &fakeProvider{sentNow: make(chan struct{}, 10), script: []push.Result{{Outcome: push.Retry, Status: 503, Reason: "node b's retry"}}}
	_, stopB := f.node(t, f.store, "node-b", retry, push.DispatcherConfig{Lease: lease, BaseBackoff: time.Hour})
	f.advance(lease)
	<-retry.sentNow
	waitFor(t, "node b's retry recorded", func() bool {
		jobs, _ := f.jobsOf(t, f.dev.PushID)
		return len(jobs) == 1 && jobs[0].Attempts == 1 && strings.Contains(jobs[0].Reason, "node b's retry")
	})
	stopB()

	close(gate.release) // node a's call ends: delivered, but too late
	waitFor(t, "node a's late call traced", func() bool {
		_, attempts := f.jobsOf(t, f.dev.PushID)
		return len(attempts) == 1 && len(attempts[0]) == 2
	})
	jobs, attempts := f.jobsOf(t, f.dev.PushID)
	if j := jobs[0]; j.Status != push.JobPending || j.Attempts != 1 || !strings.Contains(j.Reason, "node b's retry") {
		t.Fatalf("the stale finisher overwrote node b's state: %+v", j)
	}
	late := attempts[0][1]
	if late.Outcome != "delivered" || !strings.Contains(late.Reason, "lease lost") {
		t.Fatalf("node a's late call traced as %+v", late)
	}
}

// TestClaimedAheadKeepsItsLease: with every slot taken, the reader claims
// jobs ahead (half the slots), which no other node can then take; one
// whose lease is half gone when a slot frees is handed back and claimed
// anew rather than started on a lease that may not cover its attempt.
// Every job is sent once.
func TestClaimedAheadKeepsItsLease(t *testing.T) {
	f := newFixture(t, true)
	for range 3 {
		f.plan(t, time.Hour)
	}
	gate := newGate()
	lease := time.Minute
	st := &reclaimStore{Store: f.store, taken: map[int64]int{}, again: make(chan struct{})}
	_, stop := f.node(t, st, "node-a", gate, push.DispatcherConfig{Lease: lease, Concurrency: 2})
	defer stop()
	first := map[string]bool{}
	for range 2 {
		first[(<-gate.entered).ID] = true
	}
	waitFor(t, "the third job claimed ahead", func() bool {
		st.mu.Lock()
		defer st.mu.Unlock()
		return len(st.taken) == 3
	})
	now := *f.clock.Load()
	if js, err := f.store.ClaimJobs(t.Context(), push.VendorAPNs, now, 10, "node-b", now.Add(lease)); err != nil || len(js) != 0 {
		t.Fatalf("another node claimed a job claimed ahead: %v %+v", err, js)
	}
	f.advance(lease/2 + time.Second)
	close(gate.release)
	select {
	case <-st.again:
	case <-time.After(10 * time.Second):
		t.Fatal("the job claimed ahead was not handed back and claimed anew")
	}
	n := <-gate.entered
	if first[n.ID] {
		t.Fatalf("job %s sent twice", n.ID)
	}
	waitFor(t, "all three delivered, once each", func() bool {
		jobs, attempts := f.jobsOf(t, f.dev.PushID)
		for i, j := range jobs {
			if j.Status != push.JobDelivered || len(attempts[i]) != 1 {
				return false
			}
		}
		return len(jobs) == 3
	})
	if len(gate.entered) != 0 {
		t.Fatalf("%d more sends", len(gate.entered))
	}
}
