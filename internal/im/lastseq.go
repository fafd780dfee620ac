package im

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// knownSeqsGeneration bounds knownSeqs: it holds between one and two
// generations of this many conversations (~100 bytes each).
const knownSeqsGeneration = 1 << 16

type convRef struct{ app, conv string }

// knownSeqs remembers, per conversation, a sequence number known to be
// committed, so that checking an acknowledgement against the
// conversation's last message rarely reads the store: a live message is
// acknowledged right after this node committed it. Every value is a lower
// bound of the conversation's last seq (seqs only grow), so a value from
// another node's commit being missing or old only costs a store read.
//
// It keeps two generations like the store's seq cache: lookups promote
// entries from the old one, and a full current one becomes the old one.
type knownSeqs struct {
	mu       sync.Mutex
	size     int
	cur, old map[convRef]int64
}

func newKnownSeqs(size int) *knownSeqs {
	return &knownSeqs{size: size, cur: make(map[convRef]int64)}
}

// get returns the highest seq known to be committed in k (0: none known).
func (c *knownSeqs) get(k convRef) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := c.cur[k]; ok {
		return v
	}
	v, ok := c.old[k]
	if ok {
		c.putLocked(k, v)
	}
	return v
}

// note records that seq is committed in k.
func (c *knownSeqs) note(k convRef, seq int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if seq > c.cur[k] {
		c.putLocked(k, max(seq, c.old[k]))
	}
}

func (c *knownSeqs) putLocked(k convRef, v int64) {
	if _, ok := c.cur[k]; !ok && len(c.cur) >= c.size {
		c.old, c.cur = c.cur, make(map[convRef]int64, c.size)
	}
	c.cur[k] = v
}

// lastSeqAtLeast returns the last seq of the user's conversation conv (a
// group's when group is set) when it may be below seq, or a lower bound of
// it that is at least seq: the caller only compares seq with it. A
// conversation without a message has last seq 0.
func (s *Service) lastSeqAtLeast(ctx context.Context, appID, userID, conv, group string, seq int64) (int64, error) {
	k := convRef{appID, conv}
	if last := s.known.get(k); last >= seq {
		return last, nil
	}
	var last int64
	if group != "" {
		g, err := s.store.Group(ctx, appID, group)
		switch {
		case errors.Is(err, ErrNotFound):
		case err != nil:
			return 0, fmt.Errorf("im: last seq: %w", err)
		default:
			last = g.LastSeq
		}
	} else {
		c, err := s.store.Conversation(ctx, appID, userID, conv)
		switch {
		case errors.Is(err, ErrNotFound):
		case err != nil:
			return 0, fmt.Errorf("im: last seq: %w", err)
		default:
			last = c.LastSeq
		}
	}
	s.known.note(k, last)
	return last, nil
}
