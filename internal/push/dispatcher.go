package push

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// ErrVendorNotConfigured: the app has no credential for the vendor (or the
// environment), so its devices cannot be pushed.
var ErrVendorNotConfigured = errors.New("push: vendor not configured for the app")

// Providers finds the provider for an app's vendor and environment.
type Providers interface {
	Provider(ctx context.Context, appID string, v Vendor, env Environment) (Provider, error)
}

// Content is what a message's push config says (protocol.PushConfig's JSON).
type Content struct {
	Title       string `json:"title,omitempty"`
	Content     string `json:"content,omitempty"`
	Payload     string `json:"payload,omitempty"`
	ResourcesID string `json:"resourcesID,omitempty"`
	// EnableBadge (ZIMPushConfig enableBadge) asks for the app icon's
	// badge: the recipient's unread messages across its conversations
	// that are not in do-not-disturb, read when the push is sent, not
	// counting this push's message, plus BadgeIncrement (ZIM's
	// badgeIncrement: how much this push raises the badge). See BadgeOf.
	EnableBadge    bool `json:"enableBadge,omitempty"`
	BadgeIncrement int  `json:"badgeIncrement,omitempty"`
}

// CallGate is asked right before a call invitation's push (JobCallInvite)
// goes to the vendor: a job read before the invitee answered, or before the
// inviter cancelled, must not ring the device afterwards. Implementations
// answer from memory and never block for long.
type CallGate interface {
	// Ringing reports whether userID's invitation to call callID of app
	// appID is still unanswered, not cancelled and before its deadline.
	Ringing(appID, callID, userID string) bool
}

// RingClaimer is a CallGate that withdraws the rings it let through: at
// the last look before the vendor call the dispatcher asks ClaimRing
// instead of Ringing, and a true answer means that attempt j.Attempts+1
// of ring job j goes to the vendor now. When the invitation stops ringing
// afterwards (answer, reject, cancel, timeout), the gate plans a push with
// the ring's collapse ID (CallCollapseID) that replaces it. Checking and
// recording are one step, so that no ring passes unrecorded.
type RingClaimer interface {
	CallGate
	ClaimRing(j Job) bool
}

// CallExtraKey is the key of the call ID in a call push's custom data
// (Notification.Extra), so that the app can match the push to the call.
const CallExtraKey = "callID"

// DispatcherConfig tunes the dispatcher. Zero values take the defaults.
type DispatcherConfig struct {
	// Concurrency is the most pushes in flight per vendor. Default 64:
	// with a vendor a network round trip away, pushes per second are at
	// most Concurrency / round trip. Each vendor has its own queue (its
	// own read of due jobs and its own slots), so a slow vendor's backlog
	// never delays another vendor's pushes.
	Concurrency int
	// Poll is how often due jobs are looked for when nothing woke the
	// dispatcher. Default 200 ms.
	Poll time.Duration
	// Batch is the most jobs of one vendor claimed at once (never more
	// than the vendor's free slots). Default 256.
	Batch int
	// MaxAttempts is how many calls a job gets before it fails. Default 8.
	MaxAttempts int
	// BaseBackoff and MaxBackoff bound the exponential backoff between
	// retries (with jitter) when the vendor gave no Retry-After. Defaults
	// 1 s and 5 min.
	BaseBackoff time.Duration
	MaxBackoff  time.Duration
	// Owner is this node's ID (config.NodeID): the owner of the leases it
	// takes on jobs (Store.ClaimJobs), so that of several nodes on one
	// store each job is sent by one. Empty: a random ID, which is enough
	// for a store no other node uses.
	Owner string
	// Lease is how long a claimed job is this node's alone: it must
	// outlast one attempt, from the claim to its recorded outcome. The
	// longest vendor call is an FCM, Huawei, OPPO or vivo send that first
	// fetches an access token (one exchange of up to 15 s, then the send
	// of up to 15 s), the record's write is bounded by 10 s. A job
	// claimed ahead of a free slot (up to half the slots' worth) starts
	// only while at least half its lease is left, and is handed back
	// otherwise. Default 2 min: the 40 s an attempt takes at most fits
	// in the half a started job has left, with room. It is also how long
	// the jobs of a node that died wait before another node sends them.
	// A live node's claim that finds its own job still in flight past the
	// lease takes it again, renewing the lease, and leaves the attempt
	// alone.
	Lease time.Duration
	// Now is the clock; nil is time.Now.
	Now func() time.Time
	// Outcome, if set, is told of every job's final outcome (delivered,
	// failed, expired, dropped) once it is recorded (webhook events). It
	// must not block.
	Outcome func(j Job, f Finish)
}

// Dispatcher sends due push jobs through the vendors' providers and records
// every attempt. Jobs are durable: those pending when the process stops are
// sent after it restarts. Several dispatchers (nodes) may share one store:
// each claims jobs under a lease (Store.ClaimJobs), so each job is sent by
// one of them, and the jobs of one that died are sent by another once its
// leases end.
type Dispatcher struct {
	store     Store
	providers Providers
	cfg       DispatcherConfig
	log       *slog.Logger
	metrics   *dispatchMetrics
	outcomes  *outcomeMetrics // the statistics' counters (stats.go)

	// wakes and sems are per vendor (push.Vendors), made by NewDispatcher:
	// each vendor's reader waits on its own.
	wakes map[Vendor]chan struct{}
	sems  map[Vendor]chan struct{}

	results chan<- finished // set by Run, for handle

	// stopping is closed by Shutdown: the readers read no more jobs.
	stopping chan struct{}
	stopOnce sync.Once
	runMu    sync.Mutex
	runDone  chan struct{}      // closed when Run returns; nil before Run
	abort    context.CancelFunc // cancels the attempts in flight

	mu sync.Mutex
	// inflight holds the jobs whose attempt runs here. A claim never
	// returns a job whose lease runs, so this only guards against a job
	// whose lease ended while its attempt ran being claimed again by this
	// node and sent twice at once.
	inflight map[int64]bool
	failing  map[string]string // app/vendor/env -> why its credential fails
	// deferred maps app/vendor/env to a credential the vendor refuses for
	// a while (Deferred): its pushes wait until then.
	deferred map[string]deferral
	// zeroDeferred holds jobs whose last call was deferred without an end
	// (the provider refreshed its credential): a second such answer in a
	// row counts as AuthFailed, so that a credential refused again and
	// again cannot loop without end.
	zeroDeferred map[int64]bool
	// held maps app/vendor to the end of an exhausted vendor quota: until
	// then that vendor is not called for the app, its jobs wait.
	held map[string]time.Time

	resMu     sync.Mutex
	resources map[string]cachedResource // app/resourceID
	resGen    uint64                    // bumped by InvalidateResource

	gateMu sync.RWMutex
	gate   CallGate // nil: call invitation pushes are dropped
}

// SetCallGate installs the gate asked before each call invitation push.
// Without one, call invitation pushes are dropped: nothing can tell
// whether they still ring.
func (d *Dispatcher) SetCallGate(g CallGate) {
	d.gateMu.Lock()
	defer d.gateMu.Unlock()
	d.gate = g
}

// ringing asks the call gate whether job j's invitation still rings.
func (d *Dispatcher) ringing(j Job) bool {
	d.gateMu.RLock()
	g := d.gate
	d.gateMu.RUnlock()
	return g != nil && g.Ringing(j.AppID, j.CallID, j.UserID)
}

// claimRing is the last look before a ring goes to the vendor: a
// RingClaimer records that it goes.
func (d *Dispatcher) claimRing(j Job) bool {
	d.gateMu.RLock()
	g := d.gate
	d.gateMu.RUnlock()
	if c, ok := g.(RingClaimer); ok {
		return c.ClaimRing(j)
	}
	return g != nil && g.Ringing(j.AppID, j.CallID, j.UserID)
}

// resourceTTL bounds how long a cached resource (or its absence) is used:
// InvalidateResource clears this node's cache at once, and the TTL bounds
// how stale another node's copy can be.
const resourceTTL = time.Minute

// maxCachedResources bounds the cache: resourcesIDs come from clients'
// push configs, so unknown ones must not grow it without end. When full it
// is emptied (a reload costs one indexed read per resource).
const maxCachedResources = 10000

type cachedResource struct {
	res   Resource
	found bool
	at    time.Time
}

// NewDispatcher returns a dispatcher; it starts nothing until Run.
func NewDispatcher(store Store, providers Providers, cfg DispatcherConfig, log *slog.Logger, reg prometheus.Registerer) (*Dispatcher, error) {
	if store == nil || providers == nil || log == nil {
		return nil, errors.New("push: dispatcher: store, providers and logger are required")
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 64
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 200 * time.Millisecond
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 256
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 8
	}
	if cfg.BaseBackoff <= 0 {
		cfg.BaseBackoff = time.Second
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 5 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Lease <= 0 {
		cfg.Lease = DefaultLease
	}
	if cfg.Owner == "" {
		cfg.Owner = "dispatcher-" + strconv.FormatUint(rand.Uint64(), 16)
	}
	m, err := newDispatchMetrics(reg)
	if err != nil {
		return nil, err
	}
	om, err := newOutcomeMetrics(reg)
	if err != nil {
		return nil, err
	}
	d := &Dispatcher{store: store, providers: providers, cfg: cfg, log: log, metrics: m, outcomes: om,
		wakes: map[Vendor]chan struct{}{}, sems: map[Vendor]chan struct{}{}, stopping: make(chan struct{}),
		inflight: map[int64]bool{},
		failing:  map[string]string{}, deferred: map[string]deferral{}, zeroDeferred: map[int64]bool{},
		held: map[string]time.Time{}, resources: map[string]cachedResource{}}
	for _, v := range Vendors {
		d.wakes[v] = make(chan struct{}, 1)
		d.sems[v] = make(chan struct{}, cfg.Concurrency)
	}
	return d, nil
}

// DefaultLease is DispatcherConfig.Lease's default (see there).
const DefaultLease = 2 * time.Minute

// deferral is a credential refused until a time, with the vendor's reason.
type deferral struct {
	until  time.Time
	reason string
}

// Wake makes the dispatcher look for due jobs now (after a commit that
// planned some), for every vendor. It never blocks.
func (d *Dispatcher) Wake() {
	for _, v := range Vendors {
		d.wakeVendor(v)
	}
}

func (d *Dispatcher) wakeVendor(v Vendor) {
	select {
	case d.wakes[v] <- struct{}{}:
	default:
	}
}

// Deferred returns the credentials the vendors refuse for a while
// (Deferred answers), keyed app/vendor/environment, each as "until
// <RFC 3339 time>: <vendor's reason>" (for /readyz detail). Their pushes
// wait until then; a hold that ended is not listed.
func (d *Dispatcher) Deferred() map[string]string {
	now := d.cfg.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make(map[string]string, len(d.deferred))
	for k, df := range d.deferred {
		if !now.Before(df.until) {
			delete(d.deferred, k)
			continue
		}
		out[k] = "until " + df.until.UTC().Format(time.RFC3339) + ": " + df.reason
	}
	return out
}

// deferralAt returns the hold on credential key at now, if one is active.
func (d *Dispatcher) deferralAt(key string, now time.Time) (deferral, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	df, ok := d.deferred[key]
	if ok && !now.Before(df.until) {
		delete(d.deferred, key)
		ok = false
	}
	return df, ok
}

// holdCredential holds credential key's pushes until until, logging once
// per hold (pushes in flight when the hold began answer the same, and
// extend it silently).
func (d *Dispatcher) holdCredential(key string, j Job, dev Device, until time.Time, reason string) {
	now := d.cfg.Now()
	d.mu.Lock()
	df, active := d.deferred[key]
	active = active && now.Before(df.until)
	if !active || until.After(df.until) {
		d.deferred[key] = deferral{until: until, reason: reason}
	}
	d.mu.Unlock()
	if !active {
		d.log.Warn("push credential deferred by the vendor; holding its pushes", "app", j.AppID, "vendor", dev.Vendor,
			"environment", dev.Environment, "until", until, "reason", reason)
	}
}

// Failing returns the credentials that failed authentication, keyed
// app/vendor/environment, with the vendor's reason (for /readyz detail).
func (d *Dispatcher) Failing() map[string]string {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make(map[string]string, len(d.failing))
	for k, v := range d.failing {
		out[k] = v
	}
	return out
}

// ResetFailing forgets that an app's credential for vendor v failed, in
// every environment: called when the credential is replaced or removed, so
// that the failure of the old one is not reported against the new one.
func (d *Dispatcher) ResetFailing(appID string, v Vendor) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, env := range []Environment{Production, Development} {
		delete(d.failing, appID+"/"+string(v)+"/"+string(env))
	}
}

// InvalidateResource forgets the cached copy of an app's resource: called
// when it is created, replaced or deleted.
func (d *Dispatcher) InvalidateResource(appID, id string) {
	d.resMu.Lock()
	defer d.resMu.Unlock()
	delete(d.resources, appID+"/"+id)
	d.resGen++
}

// resource returns an app's resource from the cache or the store. found is
// false when the app has no such resource (or the store cannot look
// resources up).
func (d *Dispatcher) resource(ctx context.Context, appID, id string) (Resource, bool, error) {
	rl, ok := d.store.(ResourceLookup)
	if !ok {
		return Resource{}, false, nil
	}
	key := appID + "/" + id
	now := time.Now()
	d.resMu.Lock()
	c, ok := d.resources[key]
	gen := d.resGen
	d.resMu.Unlock()
	if ok && now.Sub(c.at) < resourceTTL {
		return c.res, c.found, nil
	}
	r, err := rl.Resource(ctx, appID, id)
	switch {
	case errors.Is(err, ErrNotFound):
	case err != nil:
		return Resource{}, false, err
	}
	c = cachedResource{res: r, found: err == nil, at: now}
	d.resMu.Lock()
	// A change committed while this read ran may not be in it: cache it
	// only when no invalidation came in between.
	if d.resGen == gen {
		if len(d.resources) >= maxCachedResources {
			clear(d.resources)
		}
		d.resources[key] = c
	}
	d.resMu.Unlock()
	return c.res, c.found, nil
}

// finished is an attempt's outcome on its way to the store.
type finished struct {
	Finish
	jobID  int64
	vendor Vendor
	job    *Job // for DispatcherConfig.Outcome
}

// Run dispatches until ctx ends or Shutdown drained it, then waits for the
// pushes in flight and records their outcomes. Ending ctx cancels the
// attempts in flight (they are retried after the next start); Shutdown
// lets them finish first.
//
// Each vendor has its own reader and its own Concurrency slots: a vendor
// whose pushes are slow fills only its own slots, and the others' jobs are
// read and sent meanwhile. Jobs of a vendor not in Vendors are never read.
//
// Outcomes are written by one recorder goroutine, many per transaction:
// a transaction per push made the single SQLite writer the pipeline's
// bottleneck. A job is leased to this node (Owner) from its claim until
// its outcome is stored, so that no other node sends it meanwhile.
func (d *Dispatcher) Run(ctx context.Context) error {
	// Attempts run on their own context: Shutdown stops the readers
	// without cancelling the pushes already with a vendor.
	sendCtx, abort := context.WithCancel(ctx)
	defer abort()
	done := make(chan struct{})
	defer close(done)
	d.runMu.Lock()
	d.runDone, d.abort = done, abort
	d.runMu.Unlock()

	results := make(chan finished, 4*d.cfg.Concurrency)
	recorded := make(chan struct{})
	go func() {
		defer close(recorded)
		d.record(results)
	}()
	d.results = results
	var attempts, readers sync.WaitGroup
	for _, v := range Vendors {
		readers.Add(1)
		go func() {
			defer readers.Done()
			d.read(ctx, sendCtx, v, &attempts)
		}()
	}
	readers.Wait()
	attempts.Wait()
	close(results)
	<-recorded
	return nil
}

// Shutdown drains the dispatcher: no more jobs are read, and the attempts
// in flight finish and have their outcomes recorded, so that a push the
// vendor is taking is not cancelled and sent again after a restart. When
// ctx ends first, the attempts left are cancelled (they stay pending and
// are retried after the next start) and ctx's error is returned. Run
// returns once the drain is over. Shutdown is idempotent; the dispatcher
// is not run again afterwards.
func (d *Dispatcher) Shutdown(ctx context.Context) error {
	d.stopOnce.Do(func() { close(d.stopping) })
	d.runMu.Lock()
	done, abort := d.runDone, d.abort
	d.runMu.Unlock()
	if done == nil {
		return nil // never ran: Run, if called now, returns at once
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	d.mu.Lock()
	left := len(d.inflight)
	d.mu.Unlock()
	d.log.Warn("push drain cut short: cancelling the attempts in flight; they are retried after the next start", "attempts", left)
	abort()
	<-done
	return fmt.Errorf("push: drain: %w", ctx.Err())
}

// Draining returns a channel closed once Shutdown began: from then on no
// job is read, and the attempts in flight finish.
func (d *Dispatcher) Draining() <-chan struct{} { return d.stopping }

func (d *Dispatcher) isStopping() bool {
	select {
	case <-d.stopping:
		return true
	default:
		return false
	}
}

// read is vendor v's reader: it claims v's due jobs and starts an
// attempt for each (on sendCtx) as slots free, until ctx ends or
// Shutdown. It claims up to half the slots ahead, so that a freed slot
// starts the next job at once instead of after a claim's round trip to
// the store (docs/benchmarks.md has what it measured). A job claimed ahead waits at most for one attempt in flight to
// end, and one whose lease is half gone before a slot frees is handed
// back instead of started, so that the lease still covers its attempt
// (DispatcherConfig.Lease).
func (d *Dispatcher) read(ctx, sendCtx context.Context, v Vendor, attempts *sync.WaitGroup) {
	sem, wake := d.sems[v], d.wakes[v]
	// The fewest jobs worth a claim on a wake while attempts run: a claim
	// per freed slot would cost a write per push. A poll claims for any
	// room, so that the last few slots are filled too.
	least := max(1, min(d.cfg.Batch, cap(sem)/8))
	ahead := cap(sem) / 2
	t := time.NewTicker(d.cfg.Poll)
	defer t.Stop()
	// Attempts run on workers that stay for the next job: a goroutine per
	// attempt grew its stack anew for every push (the HTTP/2 client and
	// the provider need several kilobytes), which cost a tenth of the
	// pipeline's CPU. work hands a job to an idle worker; a worker idle
	// for workerIdle, or whose reader has returned, ends.
	work, quit := make(chan Job), make(chan struct{})
	defer close(quit)
	worker := func(j Job) {
		defer attempts.Done()
		idle := time.NewTimer(workerIdle)
		defer idle.Stop()
		for {
			d.handle(sendCtx, j)
			<-sem
			d.wakeVendor(v) // a slot is free
			idle.Reset(workerIdle)
			select {
			case j = <-work:
			case <-quit:
				return
			case <-idle.C:
				return
			}
		}
	}
	// ready holds the jobs claimed and not started, oldest claim first,
	// with their leases' ends.
	type claimed struct {
		job   Job
		until time.Time
	}
	var ready []claimed
	defer func() {
		for _, c := range ready {
			d.release([]Job{c.job}) // stopping: back to the queue, unleased
		}
	}()
	// start starts ready jobs while slots are free (only this reader takes
	// v's slots) and reports how many started.
	start := func() int {
		n := 0
		for len(ready) > 0 && len(sem) < cap(sem) {
			c := ready[0]
			ready = ready[1:]
			if d.cfg.Now().After(c.until.Add(-d.cfg.Lease / 2)) {
				d.release([]Job{c.job})
				continue
			}
			sem <- struct{}{}
			n++
			select {
			case work <- c.job: // an idle worker takes it
			default:
				attempts.Add(1)
				go worker(c.job)
			}
		}
		if len(ready) == 0 {
			ready = nil // let the array go
		}
		return n
	}
	polled := true
	for {
		if ctx.Err() != nil || d.isStopping() {
			return
		}
		start()
		room := min(d.cfg.Batch, cap(sem)+ahead-len(sem)-len(ready))
		var jobs []Job
		var until time.Time
		if room >= least || (room > 0 && (polled || len(sem) == 0)) {
			now := d.cfg.Now()
			until = now.Add(d.cfg.Lease)
			var err error
			jobs, err = d.store.ClaimJobs(ctx, v, now, room, d.cfg.Owner, until)
			if err != nil && ctx.Err() == nil {
				d.log.Warn("claiming due push jobs", "vendor", v, "err", err)
			}
		}
		for _, j := range jobs {
			d.mu.Lock()
			busy := d.inflight[j.ID]
			if !busy {
				d.inflight[j.ID] = true
			}
			d.mu.Unlock()
			if !busy {
				ready = append(ready, claimed{j, until})
			}
		}
		if ctx.Err() != nil || d.isStopping() {
			return // no new attempt once stopping; the deferred release hands them back
		}
		started := start()
		left := cap(sem) + ahead - len(sem) - len(ready)
		if started > 0 && len(jobs) == room && left >= least {
			// A full claim and room left: more is probably due now.
			continue
		}
		polled = false
		select {
		case <-ctx.Done():
			return
		case <-d.stopping:
			return
		case <-t.C:
			polled = true
		case <-wake:
		}
	}
}

// workerIdle is how long an attempt's worker waits for the next job
// before it ends.
const workerIdle = 10 * time.Second

// release hands claimed jobs that will not be attempted back to the queue
// (their state as claimed, their leases ended) through the recorder, so
// that another node need not wait for the leases to run out.
func (d *Dispatcher) release(jobs []Job) {
	for _, j := range jobs {
		d.results <- finished{Finish: Finish{Attempt: Attempt{JobID: j.ID}, Attempts: j.Attempts, Status: JobPending,
			NotBefore: j.NotBefore, Reason: j.Reason, NoCall: true, Owner: d.cfg.Owner}, jobID: j.ID, vendor: j.Vendor}
	}
}

// recordBatch is the most outcomes written in one transaction.
const recordBatch = 256

// recordTimeout bounds the write of one batch of outcomes.
const recordTimeout = 10 * time.Second

// record writes outcomes from results in batches until results is closed,
// then marks their jobs no longer in flight. It outlives Run's context so
// that the outcomes of the last pushes are not lost at shutdown.
func (d *Dispatcher) record(results <-chan finished) {
	batch := make([]Finish, 0, recordBatch)
	done := make([]finished, 0, recordBatch)
	for {
		f, ok := <-results
		if !ok {
			return
		}
		batch, done = append(batch[:0], f.Finish), append(done[:0], f)
	fill:
		for len(batch) < recordBatch {
			select {
			case f, ok := <-results:
				if !ok {
					break fill
				}
				batch, done = append(batch, f.Finish), append(done, f)
			default:
				break fill
			}
		}
		// No longer in flight before the write: until it commits, the
		// leases keep the jobs from being claimed again, and right after
		// it they may be (a retry due at once).
		woken := map[Vendor]bool{}
		d.mu.Lock()
		for _, f := range done {
			delete(d.inflight, f.jobID)
			woken[f.vendor] = true
		}
		d.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), recordTimeout)
		if err := d.store.FinishAttempts(ctx, batch); err != nil {
			// The jobs stay pending and leased: they are attempted again
			// once their leases end, which a vendor tolerates better than a
			// lost push.
			d.log.Error("recording push attempts", "attempts", len(batch), "err", err)
		} else {
			for _, f := range done {
				d.outcomes.count(f.vendor, f.Finish)
				if d.cfg.Outcome != nil && f.job != nil && f.Status != JobPending && f.Status != JobHeld {
					d.cfg.Outcome(*f.job, f.Finish)
				}
			}
		}
		cancel()
		// Slots are free and retries due now (such as after an auth
		// failure) can be claimed without waiting for the next poll.
		for v := range woken {
			if d.wakes[v] != nil {
				d.wakeVendor(v)
			}
		}
	}
}

// handle makes one attempt at job j and hands its outcome to the recorder.
func (d *Dispatcher) handle(ctx context.Context, j Job) {
	now := d.cfg.Now()
	attempt := Attempt{JobID: j.ID, Attempt: j.Attempts + 1, At: now}
	var note string   // what the trace should know about how the push was built
	noCall := false   // set when the job is held back without calling the vendor
	keepZero := false // set when the call was deferred without an end
	sent := false     // set once the vendor was called
	finish := func(status JobStatus, notBefore time.Time, reason string) {
		if note != "" {
			reason = strings.TrimPrefix(reason+"; "+note, "; ")
		}
		attempt.Reason = reason
		if attempt.Outcome == "" {
			attempt.Outcome = string(status)
		}
		if !keepZero {
			d.mu.Lock()
			delete(d.zeroDeferred, j.ID)
			d.mu.Unlock()
		}
		d.metrics.jobs.WithLabelValues(string(j.Vendor), attempt.Outcome).Inc()
		d.results <- finished{Finish: Finish{Attempt: attempt, Attempts: attempt.Attempt, Status: status, NotBefore: notBefore,
			Reason: reason, NoCall: noCall, Sent: sent, Owner: d.cfg.Owner}, jobID: j.ID, vendor: j.Vendor, job: &j}
	}
	if !j.ExpiresAt.IsZero() && !now.Before(j.ExpiresAt) {
		finish(JobExpired, now, "expired before it was sent")
		return
	}
	if j.Device == nil {
		finish(JobDropped, now, "device unregistered")
		return
	}
	dev := *j.Device
	// The planning rule again (Eligible): the device may have been
	// unbound, taken by another user or switched off since.
	if why := Ineligible(dev, j.UserID); why != "" {
		finish(JobDropped, now, why)
		return
	}
	if j.ConfigErr != nil {
		finish(JobFailed, now, j.ConfigErr.Error())
		return
	}
	c := j.PushConfig
	p, err := d.providers.Provider(ctx, j.AppID, dev.Vendor, dev.Environment)
	if err != nil {
		finish(JobFailed, now, err.Error())
		return
	}
	quotaKey := j.AppID + "/" + string(dev.Vendor)
	d.mu.Lock()
	until, held := d.held[quotaKey]
	if held && !now.Before(until) {
		delete(d.held, quotaKey)
		held = false
	}
	d.mu.Unlock()
	if held {
		// The vendor said the app's quota is used up: do not call it again
		// before the quota resets.
		if !j.ExpiresAt.IsZero() && !until.Before(j.ExpiresAt) {
			finish(JobExpired, now, "held back: vendor quota exhausted until "+until.UTC().Format(time.RFC3339)+", after the push expires")
			return
		}
		attempt.Attempt, attempt.Outcome, noCall = j.Attempts, "held", true
		finish(JobPending, until, "held back: vendor quota exhausted until "+until.UTC().Format(time.RFC3339))
		return
	}
	credKey := j.AppID + "/" + string(dev.Vendor) + "/" + string(dev.Environment)
	if df, ok := d.deferralAt(credKey, now); ok {
		// The vendor refuses the credential until df.until, whatever the
		// push: do not call it before then.
		why := "held back: credential deferred until " + df.until.UTC().Format(time.RFC3339) + ": " + df.reason
		if !j.ExpiresAt.IsZero() && !df.until.Before(j.ExpiresAt) {
			finish(JobExpired, now, why+", after the push expires")
			return
		}
		attempt.Attempt, attempt.Outcome, noCall = j.Attempts, "held", true
		finish(JobPending, df.until, why)
		return
	}
	if j.Kind.Rings() && !d.ringing(j) {
		// Checked early to spare the resource lookup; checked again right
		// before the vendor call.
		finish(JobDropped, now, "call invitation no longer ringing")
		return
	}
	n, built, fail, err := d.Compose(ctx, j, dev, c)
	if built != "" {
		note = strings.TrimPrefix(note+"; "+built, "; ")
	}
	switch {
	case err != nil:
		finish(JobPending, now.Add(d.backoff(j.Attempts)), "store: "+err.Error())
		return
	case fail != "":
		finish(JobFailed, now, fail)
		return
	}
	if j.Kind.Rings() {
		// Last look before the vendor: the invitee may have answered (or
		// the inviter cancelled) since the job was read.
		if !d.claimRing(j) {
			finish(JobDropped, now, "call invitation no longer ringing")
			return
		}
	}
	start := time.Now()
	res, revoked, err := sendOrRevoke(ctx, p, j, n)
	if revoked {
		note = strings.TrimPrefix(note+"; removed with the vendor's revoke API", "; ")
	}
	sent = true
	attempt.Latency = time.Since(start)
	// Retries are timed from the end of the call: one that timed out after
	// 15 s must not be followed by an immediate resend.
	end := d.cfg.Now()
	attempt.Status = res.Status
	d.metrics.latency.WithLabelValues(string(j.Vendor)).Observe(attempt.Latency.Seconds())
	if err != nil {
		switch {
		case errors.Is(err, ErrExpired):
			finish(JobExpired, end, err.Error())
		case errors.Is(err, ErrPayloadTooLarge), errors.Is(err, ErrInvalidNotification), errors.Is(err, ErrCredential):
			finish(JobFailed, end, err.Error())
		default: // no answer: network trouble, retry
			d.retry(j, &attempt, end, 0, err.Error(), finish)
		}
		return
	}
	attempt.Outcome = res.Outcome.String()
	key := credKey
	if res.Outcome == Deferred {
		// Not one of the job's attempts: the vendor refused the
		// credential, not this push. Traced as a call all the same.
		attempt.Attempt = j.Attempts
		if res.Until.After(end) {
			d.holdCredential(key, j, dev, res.Until, res.Reason)
			why := "deferred: credential refused until " + res.Until.UTC().Format(time.RFC3339) + ": " + res.Reason
			if !j.ExpiresAt.IsZero() && !res.Until.Before(j.ExpiresAt) {
				finish(JobExpired, end, why+", after the push expires")
				return
			}
			finish(JobPending, res.Until, why)
			return
		}
		// No end: the provider refreshed its credential; retry at once,
		// but a second such answer in a row is a failing credential.
		d.mu.Lock()
		again := d.zeroDeferred[j.ID]
		d.zeroDeferred[j.ID] = !again
		d.mu.Unlock()
		if !again {
			keepZero = true
			finish(JobPending, end, "deferred: "+res.Reason+"; retrying at once with the refreshed credential")
			return
		}
		attempt.Attempt = j.Attempts + 1
		res.Outcome, attempt.Outcome = AuthFailed, AuthFailed.String()
		res.Reason += " (again after the credential was refreshed)"
	}
	switch res.Outcome {
	case Delivered:
		d.mu.Lock()
		delete(d.failing, key)
		d.mu.Unlock()
		finish(JobDelivered, end, res.VendorID)
	case DropDevice:
		if err := d.store.DeleteDevice(ctx, j.AppID, j.PushID, res.Reason); err != nil && !errors.Is(err, ErrNotFound) {
			d.log.Error("removing a device the vendor refused", "push_id", j.PushID, "err", err)
		}
		finish(JobDropped, end, res.Reason)
	case AuthFailed:
		// The provider refreshes its credential on this answer; one more
		// attempt tells a stale token from a failing credential.
		if j.Attempts == 0 {
			finish(JobPending, end, res.Reason)
			return
		}
		d.mu.Lock()
		d.failing[key] = res.Reason
		d.mu.Unlock()
		d.log.Error("push credential failing", "app", j.AppID, "vendor", dev.Vendor, "environment", dev.Environment, "reason", res.Reason)
		finish(JobFailed, end, "credential failing: "+res.Reason)
	case QuotaExhausted:
		until := res.Until
		if until.IsZero() {
			until = end.Add(time.Hour)
		}
		d.mu.Lock()
		d.held[quotaKey] = until
		d.mu.Unlock()
		d.log.Warn("vendor quota exhausted; holding the app's pushes", "app", j.AppID, "vendor", dev.Vendor, "until", until)
		finish(JobPending, until, "held: vendor quota exhausted until "+until.UTC().Format(time.RFC3339))
	case Retry:
		d.retry(j, &attempt, end, res.RetryAfter, res.Reason, finish)
	default: // Rejected
		finish(JobFailed, end, "rejected: "+res.Reason)
	}
}

// Compose builds the push of job j to device dev from the push config c,
// exactly as it goes to the vendor: the neutral notification, the options
// of the resource c names, the badge, the notification fallback of a vendor
// without pass-through messages, and a call's ring. It is the one place a
// push is built, so that the admin API's test push shows what the
// dispatcher would send. note says, for the trace, what was changed or
// could not apply; a non-empty fail means the job cannot be pushed at all
// (it fails); err is a store error (the job is retried).
func (d *Dispatcher) Compose(ctx context.Context, j Job, dev Device, c Content) (n Notification, note, fail string, err error) {
	n = notification(j, dev, c)
	if c.ResourcesID != "" {
		r, found, err := d.resource(ctx, j.AppID, c.ResourcesID)
		switch {
		case err != nil:
			return n, note, "", err
		case !found:
			note = fmt.Sprintf("resourcesID %q not found: default delivery options used", c.ResourcesID)
		default:
			note = applyResource(&n, dev, r.Spec)
			if r.Spec.Badge && j.UserID != "" {
				if uc, ok := d.store.(UnreadCounter); ok {
					total, err := uc.UnreadTotal(ctx, j.AppID, j.UserID)
					if err != nil {
						return n, note, "", err
					}
					badge := int(min(total, 1<<31-1))
					n.Badge = &badge
				}
			}
		}
	}
	if c.EnableBadge && j.UserID != "" {
		// ZIMPushConfig's badge overrides a resource's (BadgeOf).
		if bc, ok := d.store.(BadgeCounter); ok {
			others, err := bc.UnreadExcept(ctx, j.AppID, j.UserID, j.MessageID)
			if err != nil {
				return n, note, "", err
			}
			badge := BadgeOf(others, c.BadgeIncrement)
			n.Badge = &badge
		}
	}
	// Pass-through or notification, from the capability table: a vendor
	// that cannot hand data to the app gets the push as a notification when
	// there is something to show, and none at all otherwise.
	if n.Kind == KindData && !PassThrough(dev.Vendor) {
		if n.Title == "" && n.Content == "" {
			return n, note, fmt.Sprintf("%s has no pass-through messages and the push has no title or content to show", dev.Vendor), nil
		}
		n.Kind = KindAlert
		note = strings.TrimPrefix(note+"; "+string(dev.Vendor)+" has no pass-through messages: sent as a notification", "; ")
	}
	if j.Kind.Rings() {
		callRing(&n, dev)
	}
	// Last: cut what the vendor would refuse (a push config that passed
	// validation must be sendable), measured by the provider's encoder.
	if p, err := d.providers.Provider(ctx, j.AppID, dev.Vendor, dev.Environment); err == nil {
		if f, ok := p.(Fitter); ok {
			var cuts []string
			if n, cuts = f.Fit(n); len(cuts) > 0 {
				note = strings.TrimPrefix(note+"; "+strings.Join(cuts, "; "), "; ")
			}
		}
	}
	return n, note, "", nil
}

// retry schedules job j's next attempt after the wait (the vendor's, or
// the backoff when zero) counted from now, the end of attempt a; a job
// whose attempts are used up fails, with a log line and a metric.
func (d *Dispatcher) retry(j Job, a *Attempt, now time.Time, after time.Duration, reason string, finish func(JobStatus, time.Time, string)) {
	if a.Attempt >= d.cfg.MaxAttempts {
		d.log.Warn("push job gave up", "app", j.AppID, "vendor", j.Vendor, "push_id", j.PushID, "job", j.ID,
			"attempts", a.Attempt, "reason", reason)
		d.metrics.gaveUp.WithLabelValues(string(j.Vendor)).Inc()
		finish(JobFailed, now, fmt.Sprintf("gave up after %d attempts: %s", a.Attempt, reason))
		return
	}
	if after <= 0 {
		after = d.backoff(j.Attempts)
	}
	next := now.Add(after)
	if !j.ExpiresAt.IsZero() && !next.Before(j.ExpiresAt) {
		finish(JobExpired, now, "would expire before the next attempt: "+reason)
		return
	}
	if a.Outcome == "" {
		a.Outcome = Retry.String()
	}
	finish(JobPending, next, reason)
}

// backoff is the wait before attempt n+1: exponential from BaseBackoff,
// capped at MaxBackoff, drawn from its upper half (jitter) so that jobs
// failed together do not retry together.
func (d *Dispatcher) backoff(n int) time.Duration {
	b := d.cfg.BaseBackoff << min(n, 20)
	if b <= 0 || b > d.cfg.MaxBackoff {
		b = d.cfg.MaxBackoff
	}
	return b/2 + rand.N(b/2+1)
}

// notification builds the vendor-neutral push of job j to device dev.
func notification(j Job, dev Device, c Content) Notification {
	n := Notification{
		ID:          jobUUID(j.ID),
		Token:       dev.Token,
		Environment: dev.Environment,
		Kind:        KindAlert,
		Priority:    PriorityHigh,
		Topic:       dev.BundleID,
		Title:       c.Title,
		Content:     c.Content,
		Payload:     c.Payload,
		Expiration:  j.ExpiresAt,
	}
	if c.Title == "" && c.Content == "" {
		n.Kind = KindData
	}
	if j.CallID != "" {
		// A call's ring and the push withdrawing it share one replace key.
		n.Extra = map[string]string{CallExtraKey: j.CallID}
		n.CollapseID = CallCollapseID(j.CallID)
	}
	messageKey(&n, j)
	return n
}

// callRing makes n ring an incoming call with what each vendor offers for
// one, whatever the resource said of kind and priority:
//
//   - APNs: a PushKit VoIP push when the device has a VoIP token, else an
//     alert, priority 10.
//   - FCM: a high-priority data message (KindVoIP): the app builds the
//     call's full-screen notification itself (Android's calling-app
//     pattern) and removes it when the withdraw arrives; collapse_key is
//     the call's, so a withdraw replaces a ring FCM still holds.
//   - Huawei: KindVoIP, which the provider sends as a data message of
//     category VOIP with urgency HIGH when the credential holds the
//     self-classification entitlement, else as a notification (the only
//     form Huawei accepts without it).
//   - Xiaomi: KindVoIP, a notification on the app's private (IM) channel
//     (MiPush has no call class).
//   - OPPO and vivo: a notification of the IM class their providers send
//     (no pass-through, no call class); Honor likewise (no call class).
//   - HarmonyOS: KindVoIP, an in-app call message (push-type 10) when the
//     credential holds that entitlement, else a VOIP notification.
//
// Every one carries the call's collapse ID (set by notification), shared
// with the withdraw. The expiration stays the job's: the call's deadline.
func callRing(n *Notification, dev Device) {
	n.Priority = PriorityHigh
	switch dev.Vendor {
	case VendorAPNs:
		if dev.VoIPToken != "" {
			n.Kind, n.Token = KindVoIP, dev.VoIPToken
		}
	case VendorFCM, VendorHuawei, VendorHarmony:
		n.Kind = KindVoIP
	case VendorXiaomi:
		if n.Kind == KindAlert {
			n.Kind = KindVoIP
		}
	}
}

// applyResource sets the delivery options of resource spec on n for device
// dev's vendor. It returns a note for the trace when an option could not
// apply to this device (a VoIP push to a device without a VoIP token).
// A push without a title and content stays a data push: no resource makes
// an empty alert.
func applyResource(n *Notification, dev Device, spec ResourceSpec) string {
	switch dev.Vendor {
	case VendorAPNs:
		a := spec.APNs
		if a == nil {
			return ""
		}
		n.Sound, n.Category = a.Sound, a.Category
		switch a.PushType {
		case "background":
			n.Kind = KindData
		case "voip":
			if dev.VoIPToken == "" {
				return "resource asks for VoIP but the device has no VoIP token: sent as " + string(n.Kind)
			}
			n.Kind, n.Token = KindVoIP, dev.VoIPToken
		}
	case VendorFCM:
		f := spec.FCM
		if f == nil {
			return ""
		}
		n.ChannelID = f.ChannelID
		switch f.Priority {
		case "high":
			n.Priority = PriorityHigh
		case "normal":
			n.Priority = PriorityNormal
		}
		if f.Kind == "data" {
			n.Kind = KindData
		}
	default:
		o := spec.android()[dev.Vendor]
		if o == nil {
			return ""
		}
		if o.ChannelID != "" {
			n.ChannelID = o.ChannelID
		}
		if o.Kind == "data" {
			n.Kind = KindData
		}
	}
	return ""
}

// jobUUID formats a job ID as a UUID (APNs wants apns-id to be one), the
// same for every attempt of the job.
func jobUUID(id int64) string {
	u := uint64(id)
	return fmt.Sprintf("00000000-0000-4000-8000-%012x", u&0xffffffffffff)
}

type dispatchMetrics struct {
	jobs    *prometheus.CounterVec
	latency *prometheus.HistogramVec
	gaveUp  *prometheus.CounterVec
}

func newDispatchMetrics(reg prometheus.Registerer) (*dispatchMetrics, error) {
	m := &dispatchMetrics{
		jobs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_push_attempts_total", Help: "Push attempts by vendor and outcome.",
		}, []string{"vendor", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "herald_push_vendor_seconds", Help: "Time for a vendor to answer one push.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}, []string{"vendor"}),
		gaveUp: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_push_gave_up_total", Help: "Push jobs failed after their last attempt (MaxAttempts), by vendor.",
		}, []string{"vendor"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.jobs, m.latency, m.gaveUp} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("push: metrics: %w", err)
		}
	}
	return m, nil
}
