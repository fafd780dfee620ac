package loadgen

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/heraldim/herald/internal/protocol"
)

// SyncResult is the outcome of a sync run.
type SyncResult struct {
	Messages int       `json:"messages"`
	Window   int       `json:"window"`
	Size     int       `json:"size"`
	Runs     []SyncRun `json:"runs"`
	// MedianMs, MinMs and MaxMs summarise the runs' SyncDoneMs.
	MedianMs float64 `json:"medianMs"`
	MinMs    float64 `json:"minMs"`
	MaxMs    float64 `json:"maxMs"`
}

// SyncRun is one measurement with a fresh sender and receiver.
type SyncRun struct {
	// FillSeconds is how long the sender took to have every message
	// committed (pipelined sends); FillPerSec the resulting rate.
	FillSeconds float64 `json:"fillSeconds"`
	FillPerSec  float64 `json:"fillPerSec"`
	// LoginReplyMs and SyncDoneMs run from writing the login request to its
	// reply and to the syncDone event.
	LoginReplyMs float64 `json:"loginReplyMs"`
	SyncDoneMs   float64 `json:"syncDoneMs"`
	// Received counts message events before syncDone; SyncDoneCount is the
	// count syncDone announced.
	Received      int `json:"received"`
	SyncDoneCount int `json:"syncDoneCount"`
	// Faults describes what was not as expected: every message, in
	// sequence order, once, marked offline.
	Faults []string `json:"faults,omitempty"`
}

func (r *SyncResult) problems() []string {
	var p []string
	for i, run := range r.Runs {
		for _, f := range run.Faults {
			p = append(p, fmt.Sprintf("sync run %d: %s", i+1, f))
		}
	}
	return p
}

func (e *engine) sync(ctx context.Context, u *Usage) (*SyncResult, error) {
	cfg := e.cfg
	res := &SyncResult{Messages: cfg.Messages, Window: cfg.Window, Size: cfg.Size}
	m := e.startMeter(ctx)
	var times []float64
	for r := range cfg.Repeat {
		run, err := e.syncOnce(ctx, r)
		if err != nil {
			return nil, err
		}
		e.logf("sync %d/%d: %d messages committed in %.2f s; login to syncDone %.1f ms", r+1, cfg.Repeat, cfg.Messages, run.FillSeconds, run.SyncDoneMs)
		res.Runs = append(res.Runs, run)
		times = append(times, run.SyncDoneMs)
	}
	m.stop(ctx, u)
	slices.Sort(times)
	res.MinMs, res.MaxMs = times[0], times[len(times)-1]
	if n := len(times); n%2 == 1 {
		res.MedianMs = times[n/2]
	} else {
		res.MedianMs = (times[n/2-1] + times[n/2]) / 2
	}
	return res, nil
}

func (e *engine) syncOnce(ctx context.Context, r int) (SyncRun, error) {
	cfg := e.cfg
	var run SyncRun
	sender, receiver := e.user("ys", r), e.user("yr", r)

	// Fill the offline receiver's queue with pipelined sends.
	window := make(chan struct{}, cfg.Window)
	var replied, failed atomic.Int64
	var firstErr atomic.Pointer[protocol.Error]
	conns, err := e.open(ctx, []string{sender}, func(int, *conn) func(*frame) {
		return func(f *frame) {
			if f.Type != protocol.TypeReply {
				return
			}
			if f.Error != nil {
				firstErr.CompareAndSwap(nil, f.Error)
				failed.Add(1)
			} else {
				replied.Add(1)
			}
			select {
			case <-window:
			default:
			}
		}
	})
	if err != nil {
		return run, err
	}
	sc := conns[0]
	// A server that stops answering would leave the loop below blocked on
	// the window: without a reply for a drain timeout, drop the connection.
	stopWatch := watchProgress(cfg.DrainTimeout, func() int64 { return replied.Load() + failed.Load() }, func() { sc.close(false) })
	defer stopWatch()
	fillStart := time.Now()
	var buf []byte
	for n := range int64(cfg.Messages) {
		select {
		case window <- struct{}{}:
		case <-ctx.Done():
			sc.close(true)
			return run, ctx.Err()
		case <-sc.done:
			return run, fmt.Errorf("loadgen: sync: the server stopped answering after %d of %d sends", replied.Load()+failed.Load(), cfg.Messages)
		}
		buf = appendSend(buf[:0], n, receiver, e.text)
		if err := sc.write(buf); err != nil {
			sc.close(true)
			return run, fmt.Errorf("loadgen: sync: send: %w", err)
		}
	}
	err = waitFor(ctx, cfg.DrainTimeout, func() bool { return replied.Load()+failed.Load() == int64(cfg.Messages) })
	stopWatch()
	sc.close(true)
	switch {
	case err != nil:
		return run, fmt.Errorf("loadgen: sync: %d of %d sends answered: %w", replied.Load()+failed.Load(), cfg.Messages, err)
	case failed.Load() > 0:
		return run, fmt.Errorf("loadgen: sync: %d sends failed, first with %w", failed.Load(), firstErr.Load())
	}
	run.FillSeconds = time.Since(fillStart).Seconds()
	run.FillPerSec = float64(cfg.Messages) / run.FillSeconds

	// Log the receiver in and time its sync.
	tok, err := e.mint(receiver)
	if err != nil {
		return run, err
	}
	rc, err := e.dial(ctx, receiver)
	if err != nil {
		return run, err
	}
	defer rc.close(false)
	var (
		nextSeq            = int64(1)
		seen               = make(map[int64]bool, cfg.Messages)
		dups, gaps, online int
	)
	onMsg := func(f *frame) {
		run.Received++
		seq := f.Data.ConversationSeq
		switch {
		case seen[seq]:
			dups++
		case seq != nextSeq:
			gaps++
		}
		seen[seq] = true
		nextSeq = seq + 1
		if !f.Data.Offline {
			online++
		}
	}
	t0 := time.Now()
	count, loginReply, err := rc.loginTimed(cfg.AppID, tok, onMsg, t0, cfg.DrainTimeout)
	if err != nil {
		return run, err
	}
	run.SyncDoneMs = ms(time.Since(t0))
	run.LoginReplyMs = ms(loginReply)
	run.SyncDoneCount = count

	if run.Received != cfg.Messages {
		run.Faults = append(run.Faults, fmt.Sprintf("received %d of %d messages", run.Received, cfg.Messages))
	}
	if count != cfg.Messages {
		run.Faults = append(run.Faults, fmt.Sprintf("syncDone announced %d messages, want %d", count, cfg.Messages))
	}
	if len(seen) != cfg.Messages && run.Received == cfg.Messages {
		run.Faults = append(run.Faults, fmt.Sprintf("%d distinct sequences, want %d", len(seen), cfg.Messages))
	}
	if dups > 0 {
		run.Faults = append(run.Faults, strconv.Itoa(dups)+" messages delivered twice")
	}
	if gaps > 0 {
		run.Faults = append(run.Faults, strconv.Itoa(gaps)+" messages out of sequence order")
	}
	if online > 0 {
		run.Faults = append(run.Faults, strconv.Itoa(online)+" synced messages not marked offline")
	}
	return run, nil
}

// loginTimed is login with its own deadline, returning also the time from
// t0 to the login reply.
func (c *conn) loginTimed(appID, tok string, onMsg func(*frame), t0 time.Time, timeout time.Duration) (int, time.Duration, error) {
	timer := time.AfterFunc(timeout, func() { _ = c.ws.CloseNow() })
	defer timer.Stop()
	var replyAt time.Duration
	count, err := c.loginWith(appID, tok, onMsg, func() { replyAt = time.Since(t0) })
	return count, replyAt, err
}
