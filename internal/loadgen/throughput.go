package loadgen

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heraldim/herald/internal/protocol"
)

// ackEvery is how many messages a receiver takes between cumulative acks.
const ackEvery = 100

// ThroughputResult is the outcome of a throughput run.
type ThroughputResult struct {
	Pairs  int `json:"pairs"`
	Window int `json:"window"`
	Size   int `json:"size"`
	// Seconds is the measured window: from the first send until sending
	// stopped (Duration, or the last of Count sends).
	Seconds float64 `json:"seconds"`
	// Sent, Persisted and Delivered count, within the window, sends written,
	// successful send replies (each one a committed message) and messages
	// received by the receivers.
	Sent      int64 `json:"sent"`
	Persisted int64 `json:"persisted"`
	Delivered int64 `json:"delivered"`
	// PersistedPerSec and DeliveredPerSec are the window's rates.
	PersistedPerSec float64 `json:"persistedPerSec"`
	DeliveredPerSec float64 `json:"deliveredPerSec"`
	// DrainSeconds is how long after sending stopped the last reply and
	// delivery arrived; EndToEndPerSec is every delivered message over the
	// whole time from the first send to the last delivery.
	DrainSeconds   float64 `json:"drainSeconds"`
	EndToEndPerSec float64 `json:"endToEndPerSec"`
	// Check is the delivery check over everything sent, after the drain.
	Check DeliveryCheck `json:"check"`
}

// DeliveryCheck compares, per pair, the messages acknowledged to the sender
// (by a successful send reply with their conversation sequence) with what
// the receiver got: each exactly once, in sequence order, with the content
// the reply's sequence belongs to.
type DeliveryCheck struct {
	Written      int64 `json:"written"`
	Acknowledged int64 `json:"acknowledged"`
	Received     int64 `json:"received"`
	// Missing: acknowledged but not received by the end of the drain.
	Missing int64 `json:"missing"`
	// Duplicates: a sequence received again.
	Duplicates int64 `json:"duplicates"`
	// OutOfOrder: a message received after a later one of its conversation.
	OutOfOrder int64 `json:"outOfOrder"`
	// Mismatched: the receiver got another message at an acknowledged
	// sequence than the one the reply gave that sequence to.
	Mismatched int64 `json:"mismatched"`
	// Unreplied: written sends with no reply by the end of the drain.
	Unreplied int64 `json:"unreplied"`
	// ReplyErrors counts send replies with an error, by code name.
	ReplyErrors map[string]int64 `json:"replyErrors,omitempty"`
}

func (c *DeliveryCheck) problems() []string {
	var p []string
	add := func(n int64, what string) {
		if n > 0 {
			p = append(p, fmt.Sprintf("%d %s", n, what))
		}
	}
	add(c.Missing, "acknowledged messages never delivered")
	add(c.Duplicates, "messages delivered more than once")
	add(c.OutOfOrder, "messages delivered out of order")
	add(c.Mismatched, "sequence numbers delivered with another message's content")
	add(c.Unreplied, "sends without a reply")
	for code, n := range c.ReplyErrors {
		add(n, "send replies with error "+code)
	}
	return p
}

// tpPair is one sender/receiver pair of a throughput run. Fields marked
// "sender reader" or "receiver reader" are owned by that connection's reader
// goroutine and read by others only after it ended.
type tpPair struct {
	sender, receiver string
	sc, rc           *conn
	window           chan struct{}

	sent    atomic.Int64
	replied atomic.Int64 // successful replies
	failed  atomic.Int64 // error replies
	maxSeq  atomic.Int64 // highest sequence acknowledged by a reply

	replySeq  []int64          // sender reader: send n -> its sequence (0: none)
	errCodes  map[string]int64 // sender reader
	delivered atomic.Int64
	lastSeq   atomic.Int64
	recvLocal []int64 // receiver reader: seq-1 -> send n received (-1: none)
	dups, ooo int64   // receiver reader
	ackBuf    []byte  // receiver reader
	lastAck   int64   // receiver reader
}

func (p *tpPair) onReply(f *frame) {
	if f.Type != protocol.TypeReply {
		return
	}
	n, err := strconv.ParseInt(f.ID, 10, 64)
	if err != nil || n < 0 {
		return
	}
	if f.Error != nil {
		if p.errCodes == nil {
			p.errCodes = map[string]int64{}
		}
		p.errCodes[f.Error.Code.Name()]++
		p.failed.Add(1)
	} else {
		seq := f.Data.ConversationSeq
		for int64(len(p.replySeq)) <= n {
			p.replySeq = append(p.replySeq, 0)
		}
		p.replySeq[n] = seq
		if seq > p.maxSeq.Load() {
			p.maxSeq.Store(seq)
		}
		p.replied.Add(1)
	}
	select {
	case <-p.window:
	default:
	}
}

func (p *tpPair) onMessage(f *frame) {
	if f.Type != protocol.EventMessage {
		return
	}
	seq := f.Data.ConversationSeq
	n, err := strconv.ParseInt(f.Data.LocalMessageID, 10, 64)
	if err != nil {
		n = -2 // not one of ours: will mismatch
	}
	last := p.lastSeq.Load()
	switch {
	case seq == last+1:
		p.recvLocal = append(p.recvLocal, n)
	case seq <= 0:
		p.ooo++
		return
	case seq <= last:
		if p.recvLocal[seq-1] == -1 {
			p.recvLocal[seq-1] = n // late after a gap
			p.delivered.Add(1)
		} else {
			p.dups++
		}
		return
	default:
		p.ooo++
		for s := last + 1; s < seq; s++ {
			p.recvLocal = append(p.recvLocal, -1)
		}
		p.recvLocal = append(p.recvLocal, n)
	}
	p.lastSeq.Store(seq)
	p.delivered.Add(1)
	if seq-p.lastAck >= ackEvery {
		p.lastAck = seq
		p.ackBuf = appendAck(p.ackBuf[:0], p.sender, seq)
		_ = p.rc.write(p.ackBuf)
	}
}

// check compares replies with deliveries; both readers must have ended.
func (p *tpPair) check(c *DeliveryCheck) {
	written := p.sent.Load()
	c.Written += written
	c.Received += p.delivered.Load()
	c.Duplicates += p.dups
	c.OutOfOrder += p.ooo
	c.Unreplied += written - p.replied.Load() - p.failed.Load()
	for code, n := range p.errCodes {
		if c.ReplyErrors == nil {
			c.ReplyErrors = map[string]int64{}
		}
		c.ReplyErrors[code] += n
	}
	for n, seq := range p.replySeq {
		if seq == 0 {
			continue
		}
		c.Acknowledged++
		switch {
		case seq > int64(len(p.recvLocal)) || p.recvLocal[seq-1] == -1:
			c.Missing++
		case p.recvLocal[seq-1] != int64(n):
			c.Mismatched++
		}
	}
}

func (e *engine) throughput(ctx context.Context, u *Usage) (*ThroughputResult, error) {
	cfg := e.cfg
	pairs := make([]*tpPair, cfg.Pairs)
	users := make([]string, 0, 2*cfg.Pairs)
	for i := range pairs {
		pairs[i] = &tpPair{sender: e.user("s", i), receiver: e.user("r", i), window: make(chan struct{}, cfg.Window)}
		users = append(users, pairs[i].receiver, pairs[i].sender)
	}
	e.logf("throughput: logging in %d receivers and %d senders", cfg.Pairs, cfg.Pairs)
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

	budget := atomic.Int64{}
	budget.Store(math.MaxInt64)
	if cfg.Count > 0 {
		budget.Store(int64(cfg.Count))
	}
	limit := cfg.Duration
	if limit == 0 {
		limit = MaxDuration // a Count-only run is bounded all the same
	}
	runCtx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	e.logf("throughput: sending for %s", describeLimit(cfg))
	m := e.startMeter(ctx)
	start := time.Now()
	var wg sync.WaitGroup
	for _, p := range pairs {
		wg.Add(1)
		e.goLabelled(func() {
			defer wg.Done()
			e.sendWindowed(runCtx, p, &budget)
		})
	}
	sendersDone := make(chan struct{})
	go func() { wg.Wait(); close(sendersDone) }()
	select {
	case <-sendersDone:
	case <-runCtx.Done():
	}
	window := time.Since(start)
	res := &ThroughputResult{Pairs: cfg.Pairs, Window: cfg.Window, Size: cfg.Size, Seconds: window.Seconds()}
	for _, p := range pairs {
		res.Sent += p.sent.Load()
		res.Persisted += p.replied.Load()
		res.Delivered += p.delivered.Load()
	}
	// A sender blocked in a write (server not reading) ends when the server
	// reads or, after the drain timeout, when its connection is closed.
	select {
	case <-sendersDone:
	case <-time.After(cfg.DrainTimeout):
		closeAll(conns)
		<-sendersDone
	}

	e.logf("throughput: waiting for the last replies and deliveries")
	drainErr := waitFor(ctx, cfg.DrainTimeout, func() bool {
		for _, p := range pairs {
			if p.replied.Load()+p.failed.Load() < p.sent.Load() || p.lastSeq.Load() < p.maxSeq.Load() {
				return false
			}
		}
		return true
	})
	total := time.Since(start)
	m.stop(ctx, u)
	if drainErr != nil && drainErr != errDrain {
		return nil, drainErr
	}
	closeAll(conns)

	res.PersistedPerSec = float64(res.Persisted) / window.Seconds()
	res.DeliveredPerSec = float64(res.Delivered) / window.Seconds()
	res.DrainSeconds = (total - window).Seconds()
	for _, p := range pairs {
		p.check(&res.Check)
	}
	res.EndToEndPerSec = float64(res.Check.Received) / total.Seconds()
	return res, nil
}

// sendWindowed writes sends from p's sender until ctx ends or the shared
// budget is spent, keeping at most cap(p.window) without a reply.
func (e *engine) sendWindowed(ctx context.Context, p *tpPair, budget *atomic.Int64) {
	var buf []byte
	for n := int64(0); ; n++ {
		select {
		case p.window <- struct{}{}:
		case <-ctx.Done():
			return
		}
		if ctx.Err() != nil || budget.Add(-1) < 0 {
			return
		}
		buf = appendSend(buf[:0], n, p.receiver, e.text)
		p.sent.Add(1)
		if err := p.sc.write(buf); err != nil {
			return
		}
	}
}

func describeLimit(cfg Config) string {
	switch {
	case cfg.Count > 0 && cfg.Duration > 0:
		return fmt.Sprintf("%s or %d messages", cfg.Duration, cfg.Count)
	case cfg.Count > 0:
		return fmt.Sprintf("%d messages", cfg.Count)
	}
	return cfg.Duration.String()
}
