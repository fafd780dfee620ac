package im

import (
	"sync"
	"time"
)

// idEpoch is the origin of message IDs' timestamps (2024-01-01 UTC), which
// leaves 41 bits of milliseconds for about 69 years.
var idEpoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()

// IDGen makes message IDs: 41 bits of milliseconds since 2024, 10 bits of
// node number, 12 bits of counter. IDs of one node increase strictly; IDs of
// all nodes are unique and ordered by time to the millisecond, so an ID also
// orders conversation lists.
type IDGen struct {
	mu     sync.Mutex
	node   int64
	lastMs int64
	seq    int64
	now    func() time.Time
}

// NewIDGen returns a generator for node (0-1023). now is the clock.
func NewIDGen(node int, now func() time.Time) *IDGen {
	return &IDGen{node: int64(node) & 0x3ff, now: now}
}

// Next returns the next ID and the millisecond it was made in.
func (g *IDGen) Next() (int64, time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	ms := g.now().UnixMilli() - idEpoch
	if ms <= g.lastMs {
		// Same millisecond, or the clock stepped back: keep counting from the
		// last millisecond so IDs never repeat or go backwards.
		ms = g.lastMs
		g.seq++
		if g.seq > 0xfff {
			ms++
			g.seq = 0
		}
	} else {
		g.seq = 0
	}
	g.lastMs = ms
	return ms<<22 | g.node<<12 | g.seq, time.UnixMilli(ms + idEpoch)
}
