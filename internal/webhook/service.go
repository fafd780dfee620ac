package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/heraldim/herald/internal/cluster"
)

// Options tunes the service. Zero values take the defaults.
type Options struct {
	// MaxAttempts is how many deliveries an event gets before it is dead.
	// Default 12: with the default backoff, about 20 hours of retries.
	MaxAttempts int
	// RetryBase and RetryMax bound the exponential backoff between
	// attempts (jittered in [d/2, d]). Defaults 1 min and 6 h.
	RetryBase time.Duration
	RetryMax  time.Duration
	// Timeout bounds one delivery. Default 10 s: a receiver should
	// answer at once and do its work later.
	Timeout time.Duration
	// PerApp is the most deliveries in flight per app. Default 4.
	PerApp int
	// FlushEvery is how often the events queued in memory (all but
	// message.sent) are written to the outbox. Default 100 ms: what a
	// crash may lose.
	FlushEvery time.Duration
	// MaxQueued bounds those queued events; more are dropped (counted).
	// Default 10000.
	MaxQueued int
	// Poll is the longest the worker waits without being woken. Default
	// 1 s.
	Poll time.Duration
	// Keep is how long delivered rows stay listed. Default 24 h.
	Keep time.Duration
	// Client sends the requests; nil: one without redirects.
	Client *http.Client
	// Now is the clock; nil: time.Now. Rand returns [0, 1) for jitter;
	// nil: math/rand.
	Now  func() time.Time
	Rand func() float64
	// Leader runs the delivery of the outbox on one node of a cluster:
	// every node writes the events it queued, and only the leader reads
	// the due rows and sends them. Nil: this node delivers (a node alone).
	Leader cluster.Leadership
	// Enqueued, if set, is called after this node wrote events to the
	// outbox (to wake the leader on another node: see Wake). It must not
	// block.
	Enqueued func()
}

// Service keeps the apps' configurations, queues events and delivers them.
// Create it with New, Load the configurations, then Run.
type Service struct {
	store   Store
	log     *slog.Logger
	opt     Options
	client  *http.Client
	metrics *metrics

	cfgMu sync.RWMutex
	cfgs  map[string]Config
	// putMu serializes configuration changes, so that the store write
	// happens without cfgMu (which every send reads).
	putMu sync.Mutex

	qMu    sync.Mutex
	queued []NewEvent
	flush  chan struct{}

	wake chan struct{}

	inMu     sync.Mutex
	inflight map[int64]bool
	perApp   map[string]int
	// freed holds the rows released since the current read of due rows
	// began (deliverLoop reads one at a time). That read may return
	// such a row as it was before its outcome was written: its snapshot
	// can be taken while the row is in flight and returned after the
	// release. take refuses those rows; the next read, which the release
	// wakes, sees their outcomes.
	freed map[int64]bool
}

// New returns a service; it starts nothing.
func New(store Store, opt Options, log *slog.Logger, reg prometheus.Registerer) (*Service, error) {
	if store == nil || log == nil {
		return nil, errors.New("webhook: store and logger are required")
	}
	if opt.MaxAttempts <= 0 {
		opt.MaxAttempts = 12
	}
	if opt.RetryBase <= 0 {
		opt.RetryBase = time.Minute
	}
	if opt.RetryMax <= 0 {
		opt.RetryMax = 6 * time.Hour
	}
	if opt.Timeout <= 0 {
		opt.Timeout = 10 * time.Second
	}
	if opt.PerApp <= 0 {
		opt.PerApp = 4
	}
	if opt.FlushEvery <= 0 {
		opt.FlushEvery = 100 * time.Millisecond
	}
	if opt.MaxQueued <= 0 {
		opt.MaxQueued = 10000
	}
	if opt.Poll <= 0 {
		opt.Poll = time.Second
	}
	if opt.Keep <= 0 {
		opt.Keep = 24 * time.Hour
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	client := opt.Client
	if client == nil {
		// No redirects: a receiver that moved answers 3xx, recorded as a
		// failure, rather than sending signed events to another host.
		client = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone(),
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	return &Service{store: store, log: log, opt: opt, client: client, metrics: m, cfgs: map[string]Config{},
		flush: make(chan struct{}, 1), wake: make(chan struct{}, 1),
		inflight: map[int64]bool{}, perApp: map[string]int{}, freed: map[int64]bool{}}, nil
}

// Load reads every app's configuration, replacing what was cached (at
// start, and in a cluster after the bus came back).
func (s *Service) Load(ctx context.Context) error {
	cs, err := s.store.Webhooks(ctx)
	if err != nil {
		return fmt.Errorf("webhook: load: %w", err)
	}
	cfgs := make(map[string]Config, len(cs))
	for _, c := range cs {
		cfgs[c.AppID] = c
	}
	s.cfgMu.Lock()
	defer s.cfgMu.Unlock()
	s.cfgs = cfgs
	return nil
}

// Reload reads the app's configuration again, after another node of a
// cluster changed it: the stored one replaces the cached one, or none is
// kept if it was deleted.
func (s *Service) Reload(ctx context.Context, appID string) error {
	cs, err := s.store.Webhooks(ctx)
	if err != nil {
		return fmt.Errorf("webhook: reload: %w", err)
	}
	s.cfgMu.Lock()
	defer s.cfgMu.Unlock()
	delete(s.cfgs, appID)
	for _, c := range cs {
		if c.AppID == appID {
			s.cfgs[appID] = c
		}
	}
	return nil
}

func (s *Service) config(appID string) (Config, bool) {
	s.cfgMu.RLock()
	defer s.cfgMu.RUnlock()
	c, ok := s.cfgs[appID]
	return c, ok
}

// Wants reports whether the app subscribed to event.
func (s *Service) Wants(appID, event string) bool {
	c, ok := s.config(appID)
	return ok && c.subscribed(event)
}

// WantsAfterSend reports whether the app subscribed to message.sent (the
// messaging core then writes the event with the message).
func (s *Service) WantsAfterSend(appID string) bool { return s.Wants(appID, EventMessageSent) }

// Committed wakes the worker after a commit wrote message.sent events.
func (s *Service) Committed() { s.enqueued() }

// enqueued wakes the worker, and the leader's through Options.Enqueued.
func (s *Service) enqueued() {
	s.Wake()
	if s.opt.Enqueued != nil {
		s.opt.Enqueued()
	}
}

// Wake makes the worker look for due events now.
func (s *Service) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Emit queues an event for the outbox when the app subscribed to it. It
// never blocks: the queue is written every FlushEvery, and an event over
// MaxQueued is dropped (herald_webhook_dropped_total).
func (s *Service) Emit(appID, event string, data any) {
	if !s.Wants(appID, event) {
		return
	}
	b, err := json.Marshal(data)
	if err != nil {
		s.log.Error("encoding webhook event", "event", event, "err", err)
		return
	}
	s.qMu.Lock()
	if len(s.queued) >= s.opt.MaxQueued {
		s.qMu.Unlock()
		s.metrics.dropped.Inc()
		return
	}
	s.queued = append(s.queued, NewEvent{AppID: appID, Event: event, Payload: b, CreatedAt: s.opt.Now()})
	s.qMu.Unlock()
}

// Run flushes queued events and delivers due ones until ctx ends; then it
// writes what is still queued and waits for the deliveries in flight
// (cancelled: their events stay pending and are sent after the next
// start, or by the next leader). With Options.Leader, this node delivers
// only while it leads; it writes its queued events all along.
func (s *Service) Run(ctx context.Context) error {
	flushDone := make(chan struct{})
	go func() {
		defer close(flushDone)
		s.flushLoop(ctx)
	}()
	if s.opt.Leader == nil {
		s.deliverTerm(ctx)
	} else {
		_ = s.opt.Leader.Run(ctx, s.deliverTerm) // returns nil when ctx is done
	}
	<-flushDone
	s.client.CloseIdleConnections()
	return nil
}

// deliverTerm delivers due events until ctx ends (the node stops or loses
// the leadership), then waits for the deliveries in flight and records
// their outcomes.
func (s *Service) deliverTerm(ctx context.Context) {
	var wg sync.WaitGroup
	results := make(chan Outcome, 256)
	recDone := make(chan struct{})
	go func() {
		defer close(recDone)
		s.record(results)
	}()
	s.deliverLoop(ctx, &wg, results)
	wg.Wait()
	close(results)
	<-recDone
}

func (s *Service) flushLoop(ctx context.Context) {
	t := time.NewTicker(s.opt.FlushEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			// The last events (a stop's session ends among them).
			fctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			s.flushQueued(fctx)
			cancel()
			return
		case <-t.C:
			s.flushQueued(ctx)
		}
	}
}

func (s *Service) flushQueued(ctx context.Context) {
	s.qMu.Lock()
	evs := s.queued
	s.queued = nil
	s.qMu.Unlock()
	if len(evs) == 0 {
		return
	}
	if _, err := s.store.EnqueueEvents(ctx, evs); err != nil {
		s.log.Error("writing webhook events; they are lost", "events", len(evs), "err", err)
		return
	}
	s.enqueued()
}

// deliverLoop reads due events and starts their deliveries.
func (s *Service) deliverLoop(ctx context.Context, wg *sync.WaitGroup, results chan<- Outcome) {
	var lastTrim, lastGauge time.Time
	for {
		now := s.opt.Now()
		s.beginRead()
		rows, err := s.store.DueEvents(ctx, now, 256, s.fullApps())
		if err != nil && ctx.Err() == nil {
			s.log.Error("reading due webhook events", "err", err)
		}
		for _, r := range rows {
			if !s.take(r) {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				results <- s.deliver(ctx, r)
			}()
		}
		if now.Sub(lastGauge) >= time.Second {
			lastGauge = now
			if n, err := s.store.PendingEvents(ctx); err == nil {
				s.metrics.pending.Set(float64(n))
			}
		}
		if now.Sub(lastTrim) > time.Hour {
			lastTrim = now
			if err := s.store.TrimEvents(ctx, now.Add(-s.opt.Keep)); err != nil && ctx.Err() == nil {
				s.log.Warn("trimming delivered webhook events", "err", err)
			}
		}
		wait := s.opt.Poll
		if next, err := s.store.NextDue(ctx); err == nil && !next.IsZero() {
			if d := next.Sub(s.opt.Now()); d > 0 && d < wait {
				wait = d
			}
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-s.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// fullApps returns the apps with PerApp deliveries in flight: their rows
// are not read, so that one app's backlog does not hide the others'.
func (s *Service) fullApps() []string {
	s.inMu.Lock()
	defer s.inMu.Unlock()
	var full []string
	for app, n := range s.perApp {
		if n >= s.opt.PerApp {
			full = append(full, app)
		}
	}
	return full
}

// beginRead is called as a read of due rows begins: the rows released
// before it have their outcomes written, which this read sees.
func (s *Service) beginRead() {
	s.inMu.Lock()
	defer s.inMu.Unlock()
	clear(s.freed)
}

// take marks r, read since the last beginRead, in flight if it is not
// in flight, was not released during the read (r may be stale: see
// freed), and its app has room.
func (s *Service) take(r Row) bool {
	s.inMu.Lock()
	defer s.inMu.Unlock()
	if s.inflight[r.ID] || s.freed[r.ID] || s.perApp[r.AppID] >= s.opt.PerApp {
		return false
	}
	s.inflight[r.ID] = true
	s.perApp[r.AppID]++
	return true
}

// record writes outcomes in batches, then releases their rows: a row is
// taken again only from a read that began once its outcome was written
// (see freed).
func (s *Service) record(results <-chan Outcome) {
	batch := make([]Outcome, 0, 64)
	for {
		o, ok := <-results
		if !ok {
			return
		}
		batch = append(batch[:0], o)
	fill:
		for len(batch) < cap(batch) {
			select {
			case o, ok := <-results:
				if !ok {
					break fill
				}
				batch = append(batch, o)
			default:
				break fill
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		var write []Outcome
		for _, o := range batch {
			if o.Status != "" { // "" : cancelled by the stop, left as it was
				write = append(write, o)
			}
		}
		if err := s.store.FinishEvents(ctx, write); err != nil {
			s.log.Error("recording webhook deliveries; they will be sent again", "events", len(write), "err", err)
		}
		cancel()
		s.inMu.Lock()
		for _, o := range batch {
			delete(s.inflight, o.ID)
			s.freed[o.ID] = true
			if s.perApp[o.appID]--; s.perApp[o.appID] <= 0 {
				delete(s.perApp, o.appID)
			}
		}
		s.inMu.Unlock()
		s.Wake()
	}
}

// envelope is the body of every event request.
type envelope struct {
	ID        string          `json:"id"`
	Event     string          `json:"event"`
	AppID     string          `json:"appID"`
	Timestamp int64           `json:"timestamp"`
	Data      json.RawMessage `json:"data"`
}

// EventID is the ID receivers see for outbox row id.
func EventID(id int64) string { return "evt_" + strconv.FormatInt(id, 10) }

// body builds r's request body.
func body(r Row) ([]byte, error) {
	data := json.RawMessage(r.Payload)
	ts := r.CreatedAt.UnixMilli()
	if r.Event == EventMessageSent {
		if r.Message == nil {
			return nil, errors.New("the message is no longer stored")
		}
		b, err := json.Marshal(r.Message)
		if err != nil {
			return nil, err
		}
		data, ts = b, r.Message.Timestamp
	}
	if len(data) == 0 {
		data = json.RawMessage("{}")
	}
	return json.Marshal(envelope{ID: RowEventID(r), Event: r.Event, AppID: r.AppID, Timestamp: ts, Data: data})
}

// deliver makes one attempt at r and returns its outcome (Status "" when
// ctx ended first: nothing to record). A message.sent batch row goes to
// deliverBatch.
func (s *Service) deliver(ctx context.Context, r Row) Outcome {
	if r.Size > 0 {
		return s.deliverBatch(ctx, r)
	}
	o := Outcome{ID: r.ID, Attempts: r.Attempts + 1, appID: r.AppID}
	c, ok := s.config(r.AppID)
	if !ok || c.URL == "" || !c.Enabled {
		// Kept: an app that turns its webhook back on gets them.
		o.Attempts = r.Attempts
		return s.failed(o, r, 0, "webhook disabled or removed")
	}
	b, err := body(r)
	if err != nil {
		o.Attempts = s.opt.MaxAttempts
		return s.failed(o, r, 0, err.Error())
	}
	status, reason, cancelled := s.post(ctx, c, RowEventID(r), r.Event, b)
	switch {
	case cancelled:
		return Outcome{ID: r.ID, appID: r.AppID}
	case reason != "":
		return s.failed(o, r, status, reason)
	}
	o.Status, o.LastStatus, o.DoneAt = StatusDelivered, status, s.opt.Now()
	s.metrics.delivered.WithLabelValues(r.Event).Inc()
	return o
}

// failed completes o (its Attempts counted) after a failed attempt at r:
// pending with the backoff, or dead at the last attempt.
func (s *Service) failed(o Outcome, r Row, status int, reason string) Outcome {
	o.LastStatus, o.LastError = status, reason
	s.metrics.failed.WithLabelValues(r.Event).Inc()
	if o.Attempts >= s.opt.MaxAttempts {
		o.Status, o.DoneAt = StatusDead, s.opt.Now()
		s.metrics.dead.Inc()
		s.log.Warn("webhook event given up", "app", r.AppID, "event", r.Event, "id", RowEventID(r), "attempts", o.Attempts, "reason", reason)
		return o
	}
	o.Status = StatusPending
	o.NextAt = s.opt.Now().Add(Backoff(s.opt.RetryBase, s.opt.RetryMax, o.Attempts, s.opt.Rand))
	return o
}

// post sends one signed event request: the HTTP status, and a reason when
// it failed; cancelled when ctx ended first.
func (s *Service) post(ctx context.Context, c Config, eventID, event string, b []byte) (status int, reason string, cancelled bool) {
	rctx, cancel := context.WithTimeout(ctx, s.opt.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, c.URL, bytes.NewReader(b))
	if err != nil {
		return 0, err.Error(), false
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Herald-Webhook/1")
	req.Header.Set(HeaderEventID, eventID)
	req.Header.Set(HeaderEvent, event)
	req.Header.Set(HeaderSignature, Sign(c.Secret, s.opt.Now(), b))
	resp, err := s.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return 0, "", true
		}
		return 0, trimErr(err), false
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, "HTTP " + strconv.Itoa(resp.StatusCode), false
	}
	return resp.StatusCode, "", false
}

// Batch progress is written every saveEvery delivered messages or
// saveAfter, whichever comes first: what a crash may deliver again.
const (
	saveEvery = 64
	saveAfter = time.Second
)

// deliverBatch delivers the messages of batch row r from its progress on,
// in order, one request each, and returns the row's outcome (Status ""
// when ctx ended first; the progress is written then).
//
// A failed message is retried on its own when the next one goes through:
// it is split off into its own row (pending, with the backoff) and the
// batch goes on. When the next one fails too, or the failed one is the
// batch's last, the receiver is taken to be down: the pass ends, and the
// batch row is retried from the failed message after the backoff (its
// Attempts are that message's); at the last attempt the batch's remaining
// messages are dead. A message that was delivered only after failed
// attempts is split off as a delivered row so that the listing shows its
// attempts; a message no longer stored is split off dead.
func (s *Service) deliverBatch(ctx context.Context, r Row) Outcome {
	o := Outcome{ID: r.ID, appID: r.AppID, Progress: r.Progress, Attempts: r.Attempts}
	ids, err := DecodeIDs(r.Payload)
	if err != nil || len(ids) != r.Size {
		o.Attempts = s.opt.MaxAttempts
		return s.failed(o, r, 0, "undecodable message ID list")
	}
	c, ok := s.config(r.AppID)
	if !ok || c.URL == "" || !c.Enabled {
		return s.failed(o, r, 0, "webhook disabled or removed")
	}
	p := min(r.Progress, len(ids))
	msgs, err := s.store.EventMessages(ctx, ids[p:])
	if err != nil {
		if ctx.Err() != nil {
			return Outcome{ID: r.ID, appID: r.AppID}
		}
		return s.failed(o, r, 0, "reading the messages: "+trimErr(err))
	}

	saved, lastSave := p, s.opt.Now()
	var splits []Split
	save := func(ctx context.Context) bool {
		if p == saved && len(splits) == 0 {
			return true
		}
		if err := s.store.AdvanceBatch(ctx, r.ID, p, splits); err != nil {
			s.log.Error("recording webhook batch progress; its messages will be sent again", "id", r.ID, "err", err)
			return false
		}
		saved, lastSave, splits = p, s.opt.Now(), nil
		return true
	}
	stopped := func() Outcome {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		save(sctx)
		return Outcome{ID: r.ID, appID: r.AppID}
	}
	split := func(id int64, attempts, status int, reason string) {
		so := s.failed(Outcome{Attempts: attempts}, r, status, reason)
		splits = append(splits, Split{MessageID: id, Outcome: so})
	}

	// held is the failed message waiting for the next one's outcome; gone
	// the messages no longer stored met meanwhile.
	held, heldAttempts := -1, 0
	var heldStatus int
	var heldReason string
	var gone []int
	headAttempts := r.Attempts // the attempts of ids[p] so far
	lastStatus := 0
	for i := p; i < len(ids); i++ {
		m := msgs[ids[i]]
		var b []byte
		if m != nil {
			if b, err = body(Row{Event: EventMessageSent, AppID: r.AppID, BatchID: r.ID, MessageID: m.ID, Message: m}); err != nil {
				m = nil // cannot be sent: as if gone
			}
		}
		if m == nil {
			gone = append(gone, i)
			if held < 0 {
				split(ids[i], s.opt.MaxAttempts, 0, "the message is no longer stored")
				p, gone = i+1, nil
				headAttempts = 0
			}
			continue
		}
		attempts := 0
		if i == p {
			attempts = headAttempts
		}
		status, reason, cancelled := s.post(ctx, c, MessageEventID(m.ID), EventMessageSent, b)
		if cancelled {
			return stopped()
		}
		if reason != "" {
			if held >= 0 || i == len(ids)-1 {
				// Two in a row, or the last: the batch waits from its
				// first undone message.
				if held < 0 {
					held, heldAttempts, heldStatus, heldReason = i, attempts+1, status, reason
				} else {
					s.metrics.failed.WithLabelValues(EventMessageSent).Inc() // tried again with the batch
				}
				break
			}
			held, heldAttempts, heldStatus, heldReason = i, attempts+1, status, reason
			continue
		}
		s.metrics.delivered.WithLabelValues(EventMessageSent).Inc()
		lastStatus = status
		if held >= 0 {
			// The receiver took this one: the held message is retried alone.
			split(ids[held], heldAttempts, heldStatus, heldReason)
			for _, g := range gone {
				split(ids[g], s.opt.MaxAttempts, 0, "the message is no longer stored")
			}
			held, gone = -1, nil
		} else if attempts > 0 {
			splits = append(splits, Split{MessageID: m.ID, Outcome: Outcome{Status: StatusDelivered,
				Attempts: attempts + 1, LastStatus: status, DoneAt: s.opt.Now()}})
		}
		p, headAttempts = i+1, 0
		if p-saved >= saveEvery || s.opt.Now().Sub(lastSave) >= saveAfter || len(splits) > 0 {
			if !save(ctx) && ctx.Err() != nil {
				return stopped()
			}
		}
	}
	if ctx.Err() != nil {
		return stopped()
	}
	if !save(ctx) {
		// Sent, not recorded: the whole rest again, soon.
		return Outcome{ID: r.ID, appID: r.AppID}
	}
	o.Progress = p
	if held >= 0 { // held == p: the batch's first undone message
		o.Attempts = heldAttempts
		o = s.failed(o, r, heldStatus, heldReason)
		if o.Status == StatusDead {
			s.metrics.dead.Add(float64(len(ids) - p - 1)) // the rest die with it
		}
		return o
	}
	o.Status, o.Attempts, o.LastStatus, o.LastError, o.DoneAt = StatusDelivered, 0, lastStatus, "", s.opt.Now()
	return o
}

func trimErr(err error) string {
	m := err.Error()
	if len(m) > 300 {
		m = m[:300]
	}
	return m
}
