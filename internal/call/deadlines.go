package call

import (
	"container/heap"
	"time"
)

// deadline is a timer entry: call key's invitations are due at at.
type deadline struct {
	at  time.Time
	key callKey
}

// deadlines is a min-heap of timer entries: one timer goroutine serves
// every open call. Entries are never removed early; an entry whose call
// closed or was rescheduled is skipped when it comes up.
type deadlines struct{ h deadlineHeap }

func (d *deadlines) push(e deadline) { heap.Push(&d.h, e) }

func (d *deadlines) pop() deadline { return heap.Pop(&d.h).(deadline) }

func (d *deadlines) peek() (deadline, bool) {
	if len(d.h) == 0 {
		return deadline{}, false
	}
	return d.h[0], true
}

type deadlineHeap []deadline

func (h deadlineHeap) Len() int           { return len(h) }
func (h deadlineHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h deadlineHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *deadlineHeap) Push(x any)        { *h = append(*h, x.(deadline)) }
func (h *deadlineHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}
