// Package inbox holds the per-device bookkeeping the vendor emulators
// share: the log of what each device was delivered (with Next for tests
// and the control API's long poll) and the table of faults to play.
// What is vendor-specific (token forms, answers, trays) stays in each
// emulator.
package inbox

import (
	"context"
	"net/http"
	"sync"

	"github.com/heraldim/herald/internal/emulator/control"
)

// Log is the deliveries of each device (by key: a token, a regId),
// oldest first. It is guarded by its owner's mutex, given to NewLog, so
// that a delivery is recorded in the same critical section as the
// owner's other state changes: Record, Wake, Len and Snapshot are called
// with that mutex held; Deliveries, Next and Handler take it themselves.
type Log[D any] struct {
	mu     sync.Locker
	done   <-chan struct{}
	closed error

	logs    map[string][]D
	taken   map[string]int // per key: records Next returned
	changed chan struct{}  // closed and replaced at each record
}

// NewLog returns an empty log guarded by mu. Next and Handler stop
// waiting when done is closed (the emulator shuts down); Next then
// returns closed.
func NewLog[D any](mu sync.Locker, done <-chan struct{}, closed error) *Log[D] {
	return &Log[D]{mu: mu, done: done, closed: closed,
		logs: make(map[string][]D), taken: make(map[string]int), changed: make(chan struct{})}
}

// Record appends d to key's log and wakes waiters. Called with the
// owner's mutex held.
func (l *Log[D]) Record(key string, d D) {
	l.logs[key] = append(l.logs[key], d)
	l.Wake()
}

// Wake wakes waiters without recording, for an owner whose other state
// (a revoke) changes what they wait for. Called with the owner's mutex
// held.
func (l *Log[D]) Wake() {
	close(l.changed)
	l.changed = make(chan struct{})
}

// Len is the number of key's deliveries. Called with the owner's mutex
// held.
func (l *Log[D]) Len(key string) int { return len(l.logs[key]) }

// Snapshot returns a copy of key's deliveries, oldest first. Called with
// the owner's mutex held.
func (l *Log[D]) Snapshot(key string) []D {
	if l.logs[key] == nil {
		return nil
	}
	return append([]D(nil), l.logs[key]...)
}

// Deliveries returns a copy of key's deliveries, oldest first.
func (l *Log[D]) Deliveries(key string) []D {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.Snapshot(key)
}

// Next returns key's oldest delivery Next has not returned yet, waiting
// until ctx ends (its error) or the owner shuts down (NewLog's closed).
func (l *Log[D]) Next(ctx context.Context, key string) (D, error) {
	for {
		l.mu.Lock()
		if n := l.taken[key]; n < len(l.logs[key]) {
			d := l.logs[key][n]
			l.taken[key] = n + 1
			l.mu.Unlock()
			return d, nil
		}
		changed := l.changed
		l.mu.Unlock()
		var zero D
		select {
		case <-changed:
		case <-ctx.Done():
			return zero, ctx.Err()
		case <-l.done:
			return zero, l.closed
		}
	}
}

// after returns key's deliveries beyond the first n as conv makes them
// (seq counts from 1), the count to resume from, and the channel closed
// at the next record.
func after[D, C any](l *Log[D], key string, n int, conv func(seq int, d D) C) ([]C, int, <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := []C{}
	ds := l.logs[key]
	for i := n; i < len(ds); i++ {
		out = append(out, conv(i+1, ds[i]))
	}
	return out, max(n, len(ds)), l.changed
}

// Handler returns the handler of a control API's
// GET /devices/{id}/deliveries: 404 for a device devs does not know, else
// serveLog for it.
func Handler[D, C any](devs control.Devices, l *Log[D], conv func(seq int, d D) C) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if id, ok := devs.ID(w, r); ok {
			serveLog(w, r, l, id, conv)
		}
	}
}

// serveLog answers a control API's GET /devices/{token}/deliveries for key:
// the poll parameters of control.PollParams (400 when malformed), then
// control.LongPoll over key's deliveries as conv reports them.
func serveLog[D, C any](w http.ResponseWriter, r *http.Request, l *Log[D], key string, conv func(seq int, d D) C) {
	n, wait, err := control.PollParams(r)
	if err != nil {
		control.Error(w, http.StatusBadRequest, "%v", err)
		return
	}
	control.LongPoll(w, r, l.done, n, wait, func(n int) ([]C, int, <-chan struct{}) {
		return after(l, key, n, conv)
	})
}
