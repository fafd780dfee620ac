package loadgen

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// pingTick is how often the heartbeat goroutine wakes; each tick pings the
// share of sessions that spreads one ping per session over the heartbeat
// interval the server asked for.
const pingTick = 100 * time.Millisecond

// IdleResult is the outcome of an idle run.
type IdleResult struct {
	Sessions int `json:"sessions"`
	// FileLimit is this process's open-file limit after raising it.
	FileLimit uint64 `json:"fileLimit"`
	// OpenSeconds is how long dialling and logging in every session took;
	// LoginsPerSec the resulting rate.
	OpenSeconds  float64 `json:"openSeconds"`
	LoginsPerSec float64 `json:"loginsPerSec"`
	// HeldSeconds is how long the sessions were held, heartbeating, before
	// the second measurement.
	HeldSeconds float64 `json:"heldSeconds"`
	// RSSSource says where the server's resident memory was read:
	// "/proc/<pid>/status" or "/metrics".
	RSSSource     string  `json:"rssSource"`
	RSSBefore     int64   `json:"rssBefore"`
	RSSAfter      int64   `json:"rssAfter"`
	RSSPerSession float64 `json:"rssPerSession"`
	// The Go runtime's view, from /metrics (zero when unavailable). Heap in
	// use counts garbage not yet collected as well.
	HeapPerSession       float64 `json:"heapPerSession"`
	StackPerSession      float64 `json:"stackPerSession"`
	GoroutinesPerSession float64 `json:"goroutinesPerSession"`
	// ServerSessions is the server's herald_sessions gauge at the end (-1
	// when unavailable); Dropped counts sessions that ended during the hold.
	ServerSessions float64 `json:"serverSessions"`
	Dropped        int     `json:"dropped"`
}

func (r *IdleResult) problems() []string {
	var p []string
	if r.Dropped > 0 {
		p = append(p, fmt.Sprintf("%d sessions ended while idle", r.Dropped))
	}
	if r.ServerSessions >= 0 && r.ServerSessions < float64(r.Sessions) {
		p = append(p, fmt.Sprintf("the server counts %.0f sessions, want at least %d", r.ServerSessions, r.Sessions))
	}
	return p
}

// serverMemory is one reading of the server's memory.
type serverMemory struct {
	rss                     int64
	heap, stack, goroutines float64
	sessions                float64
	haveMetrics             bool
}

func (e *engine) readServerMemory(ctx context.Context) (serverMemory, string, error) {
	var sm serverMemory
	if e.cfg.BeforeMeasure != nil {
		e.cfg.BeforeMeasure()
	}
	metrics, merr := e.scrape(ctx)
	if merr == nil {
		sm.haveMetrics = true
		sm.heap, sm.stack, sm.goroutines = metrics[metricHeapInuse], metrics[metricStackInuse], metrics[metricGoroutines]
		sm.sessions = -1
		if v, ok := metrics[metricSessions]; ok {
			sm.sessions = v
		}
	}
	if e.cfg.PID > 0 {
		rss, err := procRSS(e.cfg.PID)
		if err != nil {
			return sm, "", err
		}
		sm.rss = rss
		return sm, fmt.Sprintf("/proc/%d/status", e.cfg.PID), nil
	}
	if merr != nil {
		return sm, "", fmt.Errorf("loadgen: idle: no --pid and %w", merr)
	}
	v, ok := metrics[metricRSS]
	if !ok {
		return sm, "", fmt.Errorf("loadgen: idle: no --pid and the server's /metrics has no %s", metricRSS)
	}
	sm.rss = int64(v)
	return sm, "/metrics", nil
}

// sessionSet is the idle sessions opened so far, for the heartbeat goroutine.
type sessionSet struct {
	mu    sync.Mutex
	conns []*conn
}

func (s *sessionSet) add(c *conn) {
	s.mu.Lock()
	s.conns = append(s.conns, c)
	s.mu.Unlock()
}

// heartbeat pings every session once per its heartbeat interval, spread
// evenly, until stop is closed.
func (s *sessionSet) heartbeat(stop <-chan struct{}) {
	t := time.NewTicker(pingTick)
	defer t.Stop()
	next := 0
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		s.mu.Lock()
		conns := s.conns
		s.mu.Unlock()
		if len(conns) == 0 {
			continue
		}
		interval := conns[0].heartbeat
		if interval <= 0 {
			interval = 10 * time.Second
		}
		n := (len(conns)*int(pingTick) + int(interval) - 1) / int(interval)
		for range n {
			if next >= len(conns) {
				next = 0
			}
			_ = conns[next].write(pingFrame)
			next++
		}
	}
}

func (e *engine) idle(ctx context.Context, u *Usage) (*IdleResult, error) {
	cfg := e.cfg
	res := &IdleResult{Sessions: cfg.Sessions}
	limit, err := RaiseFileLimit()
	if err == nil {
		res.FileLimit = limit
		if need := uint64(cfg.Sessions) + 64; limit < need {
			return nil, fmt.Errorf("loadgen: idle: %d sessions need about %d open files, and the hard limit is %d: raise it (ulimit -Hn, limits.conf)", cfg.Sessions, need, limit)
		}
	}
	before, source, err := e.readServerMemory(ctx)
	if err != nil {
		return nil, err
	}
	res.RSSSource = source

	users := make([]string, cfg.Sessions)
	for i := range users {
		users[i] = e.user("i", i)
	}
	var set sessionSet
	stop := make(chan struct{})
	hbDone := make(chan struct{})
	e.goLabelled(func() {
		defer close(hbDone)
		set.heartbeat(stop)
	})
	var stopOnce sync.Once
	stopHeartbeat := func() {
		stopOnce.Do(func() {
			close(stop)
			<-hbDone
		})
	}
	defer stopHeartbeat()

	e.logf("idle: opening %d sessions (open-file limit %d)", cfg.Sessions, res.FileLimit)
	m := e.startMeter(ctx)
	start := time.Now()
	conns, err := e.open(ctx, users, func(_ int, c *conn) func(*frame) {
		set.add(c)
		return nil
	})
	if err != nil {
		return nil, err
	}
	defer closeAll(conns)
	res.OpenSeconds = time.Since(start).Seconds()
	res.LoginsPerSec = float64(cfg.Sessions) / res.OpenSeconds
	e.logf("idle: %d sessions open in %.1f s; holding them for %s", cfg.Sessions, res.OpenSeconds, cfg.Duration)

	held := time.Now()
	select {
	case <-time.After(cfg.Duration):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	res.HeldSeconds = time.Since(held).Seconds()
	after, _, err := e.readServerMemory(ctx)
	if err != nil {
		return nil, err
	}
	m.stop(ctx, u)
	stopHeartbeat()
	for _, c := range conns {
		select {
		case <-c.done:
			res.Dropped++
		default:
		}
	}

	n := float64(cfg.Sessions)
	res.RSSBefore, res.RSSAfter = before.rss, after.rss
	res.RSSPerSession = float64(after.rss-before.rss) / n
	res.ServerSessions = -1
	if before.haveMetrics && after.haveMetrics {
		res.HeapPerSession = (after.heap - before.heap) / n
		res.StackPerSession = (after.stack - before.stack) / n
		res.GoroutinesPerSession = (after.goroutines - before.goroutines) / n
		res.ServerSessions = after.sessions
	}
	e.logf("idle: closing %d sessions", cfg.Sessions)
	return res, nil
}
