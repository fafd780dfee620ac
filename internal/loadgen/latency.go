package loadgen

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heraldim/herald/internal/protocol"
)

// Percentiles summarises a histogram in milliseconds.
type Percentiles struct {
	Count  uint64  `json:"count"`
	MinMs  float64 `json:"minMs"`
	MeanMs float64 `json:"meanMs"`
	P50Ms  float64 `json:"p50Ms"`
	P90Ms  float64 `json:"p90Ms"`
	P99Ms  float64 `json:"p99Ms"`
	P999Ms float64 `json:"p999Ms"`
	MaxMs  float64 `json:"maxMs"`
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func summarise(h *Histogram) Percentiles {
	return Percentiles{
		Count: h.Count(), MinMs: ms(h.Min()), MeanMs: ms(h.Mean()),
		P50Ms: ms(h.Percentile(50)), P90Ms: ms(h.Percentile(90)), P99Ms: ms(h.Percentile(99)),
		P999Ms: ms(h.Percentile(99.9)), MaxMs: ms(h.Max()),
	}
}

// LatencyResult is the outcome of a latency run.
type LatencyResult struct {
	Pairs   int     `json:"pairs"`
	Size    int     `json:"size"`
	Seconds float64 `json:"seconds"`
	// TargetPerSec is the rate asked for; OfferedPerSec the rate at which
	// sends were actually written (planned sends over the time until the
	// last was written, at least the duration). RateReached is false when
	// the offered rate fell short by more than 3%.
	TargetPerSec  float64 `json:"targetPerSec"`
	OfferedPerSec float64 `json:"offeredPerSec"`
	RateReached   bool    `json:"rateReached"`
	Planned       int64   `json:"planned"`
	Written       int64   `json:"written"`
	Received      int64   `json:"received"`
	// Lost: written, not answered with an error, and not received by the end
	// of the drain.
	Lost        int64            `json:"lost"`
	Duplicates  int64            `json:"duplicates"`
	OutOfOrder  int64            `json:"outOfOrder"`
	ReplyErrors map[string]int64 `json:"replyErrors,omitempty"`
	// Latency runs from each send's scheduled time to its delivery: a send
	// the load generator wrote late is charged its lateness, so that a
	// stalled server cannot hide its stall by slowing the offered load
	// (coordinated omission).
	Latency Percentiles `json:"latency"`
	// FromWrite runs from the moment the send was written to delivery.
	FromWrite Percentiles `json:"fromWrite"`
	// Reply runs from the write to the send's reply (commit latency as the
	// sender sees it).
	Reply Percentiles `json:"reply"`
	// Lag is how late sends were written against the schedule.
	Lag Percentiles `json:"lag"`
}

func (r *LatencyResult) problems() []string {
	var p []string
	if r.Lost > 0 {
		p = append(p, fmt.Sprintf("%d messages lost", r.Lost))
	}
	if r.Duplicates > 0 {
		p = append(p, fmt.Sprintf("%d messages delivered more than once", r.Duplicates))
	}
	if r.OutOfOrder > 0 {
		p = append(p, fmt.Sprintf("%d messages delivered out of order", r.OutOfOrder))
	}
	for code, n := range r.ReplyErrors {
		p = append(p, fmt.Sprintf("%d send replies with error %s", n, code))
	}
	return p
}

func (r *LatencyResult) warnings() []string {
	if r.RateReached {
		return nil
	}
	return []string{fmt.Sprintf("offered rate not reached: %.0f/s of %.0f/s (sends were written late: the load generator ran short of CPU or the server pushed back); latencies are measured from the scheduled send times and include that delay",
		r.OfferedPerSec, r.TargetPerSec)}
}

// latPair is one pair of a latency run. Times are nanoseconds since base
// (monotonic). Send k is scheduled at *start + offset + k*interval, start
// being set once every session is logged in; writeAt[k] is when it was
// written.
type latPair struct {
	sender, receiver string
	sc, rc           *conn
	base             time.Time
	start            *atomic.Int64
	offset, interval float64
	writeAt          []atomic.Int64
	written          atomic.Int64
	lastWrite        time.Duration // sender goroutine
	lag              *Histogram    // sender goroutine

	reply    *Histogram       // sender reader
	errCodes map[string]int64 // sender reader
	failed   atomic.Int64

	received         atomic.Int64
	sched, fromWrite *Histogram // receiver reader
	lastSeq, lastAck int64      // receiver reader
	dups, outOfOrder int64      // receiver reader
	ackBuf           []byte     // receiver reader
}

func (p *latPair) due(k int64) time.Duration {
	return time.Duration(float64(p.start.Load()) + p.offset + float64(k)*p.interval)
}

func (p *latPair) onReply(f *frame) {
	if f.Type != protocol.TypeReply {
		return
	}
	now := time.Since(p.base)
	n, err := strconv.ParseInt(f.ID, 10, 64)
	if err != nil || n < 0 || n >= int64(len(p.writeAt)) {
		return
	}
	if f.Error != nil {
		if p.errCodes == nil {
			p.errCodes = map[string]int64{}
		}
		p.errCodes[f.Error.Code.Name()]++
		p.failed.Add(1)
		return
	}
	if w := p.writeAt[n].Load(); w > 0 {
		p.reply.Record(now - time.Duration(w))
	}
}

func (p *latPair) onMessage(f *frame) {
	if f.Type != protocol.EventMessage {
		return
	}
	now := time.Since(p.base)
	k, err := strconv.ParseInt(f.Data.LocalMessageID, 10, 64)
	if err != nil || k < 0 || k >= int64(len(p.writeAt)) {
		return
	}
	p.sched.Record(now - p.due(k))
	if w := p.writeAt[k].Load(); w > 0 {
		p.fromWrite.Record(now - time.Duration(w))
	}
	seq := f.Data.ConversationSeq
	switch {
	case seq <= p.lastSeq:
		p.dups++
		return
	case seq > p.lastSeq+1:
		p.outOfOrder++
	}
	p.lastSeq = seq
	p.received.Add(1)
	if seq-p.lastAck >= ackEvery {
		p.lastAck = seq
		p.ackBuf = appendAck(p.ackBuf[:0], p.sender, seq)
		_ = p.rc.write(p.ackBuf)
	}
}

// run writes the pair's sends on schedule; a send that is due is written at
// once, however many replies are outstanding (open loop).
func (p *latPair) run(ctx context.Context, text string) {
	var buf []byte
	for k := range int64(len(p.writeAt)) {
		if ctx.Err() != nil {
			return
		}
		due := p.due(k)
		if d := due - time.Since(p.base); d > 0 {
			time.Sleep(d)
		}
		now := time.Since(p.base)
		p.writeAt[k].Store(max(int64(now), 1))
		p.lag.Record(now - due)
		buf = appendSend(buf[:0], k, p.receiver, text)
		p.written.Add(1)
		p.lastWrite = now
		if err := p.sc.write(buf); err != nil {
			return
		}
	}
}

func (e *engine) latency(ctx context.Context, u *Usage) (*LatencyResult, error) {
	cfg := e.cfg
	P := cfg.Pairs
	interval := float64(time.Second) * float64(P) / float64(cfg.Rate)
	base := time.Now()
	var start atomic.Int64
	pairs := make([]*latPair, P)
	users := make([]string, 0, 2*P)
	var planned int64
	for i := range pairs {
		p := &latPair{
			sender: e.user("s", i), receiver: e.user("r", i), base: base, start: &start,
			offset: interval * float64(i) / float64(P), interval: interval,
			lag: NewHistogram(), reply: NewHistogram(), sched: NewHistogram(), fromWrite: NewHistogram(),
		}
		// Sends whose scheduled time falls within the duration.
		n := int64((float64(cfg.Duration)-p.offset)/interval) + 1
		if float64(n-1)*interval+p.offset >= float64(cfg.Duration) {
			n--
		}
		p.writeAt = make([]atomic.Int64, max(n, 0))
		planned += int64(len(p.writeAt))
		pairs[i] = p
		users = append(users, p.receiver, p.sender)
	}
	e.logf("latency: logging in %d receivers and %d senders", P, P)
	conns, err := e.open(ctx, users, func(i int, c *conn) func(*frame) {
		p := pairs[i/2]
		if i%2 == 0 {
			p.rc = c
			return p.onMessage
		}
		p.sc = c
		return p.onReply
	})
	if err != nil {
		return nil, err
	}
	defer closeAll(conns)

	e.logf("latency: %d msgs/s for %s (%d sends, open loop)", cfg.Rate, cfg.Duration, planned)
	m := e.startMeter(ctx)
	start.Store(int64(time.Since(base) + 10*time.Millisecond))
	var wg sync.WaitGroup
	for _, p := range pairs {
		wg.Add(1)
		e.goLabelled(func() {
			defer wg.Done()
			p.run(ctx, e.text)
		})
	}
	sendersDone := make(chan struct{})
	go func() { wg.Wait(); close(sendersDone) }()
	// A sender blocked in a write (server not reading) is released by
	// closing the connections once the schedule is over by a drain timeout.
	select {
	case <-sendersDone:
	case <-time.After(cfg.Duration + cfg.DrainTimeout):
		closeAll(conns)
		<-sendersDone
	}
	var written, lastWrite int64
	for _, p := range pairs {
		written += p.written.Load()
		lastWrite = max(lastWrite, int64(p.lastWrite))
	}
	e.logf("latency: waiting for the last deliveries")
	drainErr := waitFor(ctx, cfg.DrainTimeout, func() bool {
		for _, p := range pairs {
			if p.received.Load()+p.failed.Load() < p.written.Load() {
				return false
			}
		}
		return true
	})
	m.stop(ctx, u)
	if drainErr != nil && drainErr != errDrain {
		return nil, drainErr
	}
	closeAll(conns)

	res := &LatencyResult{Pairs: P, Size: cfg.Size, Seconds: cfg.Duration.Seconds(), Planned: planned, Written: written}
	res.TargetPerSec = float64(planned) / cfg.Duration.Seconds()
	span := max(time.Duration(lastWrite-start.Load()), cfg.Duration)
	res.OfferedPerSec = float64(written) / span.Seconds()
	res.RateReached = written == planned && res.OfferedPerSec >= 0.97*res.TargetPerSec
	all, fromWrite, reply, lag := NewHistogram(), NewHistogram(), NewHistogram(), NewHistogram()
	for _, p := range pairs {
		res.Received += p.received.Load()
		res.Lost += p.written.Load() - p.received.Load() - p.failed.Load()
		res.Duplicates += p.dups
		res.OutOfOrder += p.outOfOrder
		for code, n := range p.errCodes {
			if res.ReplyErrors == nil {
				res.ReplyErrors = map[string]int64{}
			}
			res.ReplyErrors[code] += n
		}
		all.Merge(p.sched)
		fromWrite.Merge(p.fromWrite)
		reply.Merge(p.reply)
		lag.Merge(p.lag)
	}
	res.Latency, res.FromWrite, res.Reply, res.Lag = summarise(all), summarise(fromWrite), summarise(reply), summarise(lag)
	return res, nil
}
