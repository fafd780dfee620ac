package gateway

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/heraldim/herald/internal/im"
	"github.com/heraldim/herald/internal/protocol"
)

type itemKind uint8

const (
	kindFrame   itemKind = iota // an encoded frame: reply or event
	kindMessage                 // a message to deliver in conversation order
	kindSent                    // the sender's own message: advance, then reply
	kindSync                    // deliver what is not acknowledged, then reply or syncDone
	kindClose                   // close the connection after what came before
)

// prioControl ranks items that are never shed (replies, events, the
// sender's own message). Messages rank by their priority, 1 to 3.
const prioControl = 4

// maxInflight bounds the sends of one session waiting for their commit; past
// it the session's reader stops reading until commits catch up, which slows
// the client through TCP rather than growing memory.
const maxInflight = 1024

type item struct {
	kind  itemKind
	prio  int
	frame []byte
	msg   *im.Message
	// floor is, for a group message, the seq before which the member may
	// see nothing (it joined after): gap filling never reads below it.
	floor int64
	// kindSync: positions given by the client, the reply's request ID, and
	// whether this is the sync that follows login (answered with syncDone).
	positions []position
	replyID   string
	login     bool
	skip      bool // the login asked for no sync
	// kindClose
	code   int
	reason string
}

// position is a delivery position a sync request gave, resolved to its
// conversation key (and never below what the user may see).
type position struct {
	conv string
	seq  int64
}

// queue is a session's bounded outbound queue. When it is full, the lowest
// priority message below high is shed (its conversation is marked dirty so
// the writer fetches it from the store later); when nothing can be shed the
// session is too slow and overflow reports it.
type queue struct {
	mu     sync.Mutex
	items  []item
	max    int
	dirty  map[string]int64 // conversation -> seq before the first shed message
	closed bool
	// writing is set while a writer runs (from the push that started it
	// to the pop that found nothing); start starts one (nil: none, the
	// owner pops itself).
	writing bool
	start   func()
	shed    prometheus.Counter // may be nil
}

func newQueue(max int, shed prometheus.Counter) *queue {
	return &queue{max: max, shed: shed}
}

// push adds it; it returns false when the session must be closed as slow.
func (q *queue) push(it item) bool {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return true
	}
	ok := true
	switch {
	case len(q.items) < q.max:
		q.items = append(q.items, it)
	case it.prio == prioControl:
		// Replies and events are bounded by the client's own requests in
		// flight; allow them past the limit by that much before calling the
		// client slow.
		if len(q.items) < 2*q.max+maxInflight {
			q.items = append(q.items, it)
		} else {
			ok = false
		}
	default:
		ok = q.shedFor(it)
	}
	if ok && !q.writing && q.start != nil {
		q.writing = true
		q.start()
	}
	q.mu.Unlock()
	return ok
}

// shedFor makes room for message it by dropping the lowest-priority message
// below high (it itself included, oldest first among equals).
func (q *queue) shedFor(it item) bool {
	low, at := it.prio, -1
	for i := range q.items {
		if q.items[i].kind == kindMessage && q.items[i].prio < low {
			low, at = q.items[i].prio, i
		}
	}
	if low >= protocol.PriorityHigh {
		return false
	}
	if at < 0 {
		q.markDirty(it.msg)
		return true
	}
	q.markDirty(q.items[at].msg)
	copy(q.items[at:], q.items[at+1:])
	q.items[len(q.items)-1] = it
	return true
}

func (q *queue) markDirty(m *im.Message) {
	if q.shed != nil {
		q.shed.Inc()
	}
	if q.dirty == nil {
		q.dirty = map[string]int64{}
	}
	if prev, ok := q.dirty[m.ConvID]; !ok || m.Seq-1 < prev {
		q.dirty[m.ConvID] = m.Seq - 1
	}
}

// pop takes everything queued, or the dirty set when nothing is queued.
// A closed queue gives nothing. Giving nothing marks the writer done.
func (q *queue) pop(buf []item) ([]item, map[string]int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		q.writing = false
		return buf[:0], nil
	}
	if len(q.items) > 0 {
		buf = append(buf[:0], q.items...)
		clear(q.items)
		q.items = q.items[:0]
		return buf, nil
	}
	d := q.dirty
	q.dirty = nil
	if len(d) == 0 {
		q.writing = false
	}
	return buf[:0], d
}

// close refuses what comes next and stops pop. What is queued stays, for
// unwritten.
func (q *queue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
}

// unwritten calls fn for each message queued and not written (kept when
// the queue closed), and for each dirty conversation with the seq before
// its first shed message (m nil), once the session ended.
func (q *queue) unwritten(fn func(m *im.Message, conv string, before int64)) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for i := range q.items {
		if it := &q.items[i]; it.kind == kindMessage {
			fn(it.msg, it.msg.ConvID, it.msg.Seq-1)
		}
	}
	for conv, before := range q.dirty {
		fn(nil, conv, before)
	}
}
