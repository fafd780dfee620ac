package gateway

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/heraldim/herald/internal/im"
)

// Weak-network push (im/weak.go): a session that registered a push device
// keeps, for each conversation, the messages with a push config from
// others that it was handed live (not by a sync: a login that syncs a
// backlog must not turn it into a burst of notifications; the session's
// end still owes those, late.go) and has not acknowledged, and the deadline of
// the oldest: handed at t, due at t + Config.WeakPushAfter. The reaper's
// once-a-second tick (Gateway.reap) loads each session's earliest
// deadline (one atomic read) and, once it passed, reports the overdue
// conversations to the messaging core, which pushes them to the device.
// No timer per message: the cost is one map entry per conversation with
// messages in flight, and one atomic read per session and second.
//
// An acknowledgement of everything handed in a conversation removes its
// entry (the push is suppressed); one of a part moves the entry's start
// and gives the rest a fresh window, since the client is evidently
// receiving. A reported entry is removed: what is handed later starts a
// new one. The report is once per message and device anyway (the store's
// "once" planning).
type weakState struct {
	mu    sync.Mutex
	convs map[string]weakEntry
	// due is the earliest deadline of convs in Unix nanoseconds (0: none),
	// read by the reaper without the lock.
	due atomic.Int64
}

type weakEntry struct {
	from, to int64 // seqs (from, to] handed and not acknowledged
	due      int64 // Unix nanoseconds
}

// weakHanded records, before it is written, that m (which owesPush) is
// handed. Writer goroutine.
func (s *Session) weakHanded(m *im.Message) {
	after := s.g.cfg.WeakPushAfter
	if after <= 0 || s.currentPushID() == "" {
		return
	}
	w := &s.weak
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.convs == nil {
		w.convs = map[string]weakEntry{}
	}
	e, ok := w.convs[m.ConvID]
	if !ok {
		e = weakEntry{from: m.Seq - 1, due: s.g.cfg.Clock.Now().Add(after).UnixNano()}
	}
	e.from = min(e.from, m.Seq-1)
	e.to = max(e.to, m.Seq)
	w.convs[m.ConvID] = e
	w.resetDueLocked()
}

// weakAcked applies an acknowledgement of conv up to seq. Reader
// goroutine.
func (s *Session) weakAcked(conv string, seq int64) {
	w := &s.weak
	if w.due.Load() == 0 {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	e, ok := w.convs[conv]
	switch {
	case !ok || seq <= e.from:
		return
	case seq >= e.to:
		delete(w.convs, conv)
	default:
		e.from = seq
		e.due = s.g.cfg.Clock.Now().Add(s.g.cfg.WeakPushAfter).UnixNano()
		w.convs[conv] = e
	}
	w.resetDueLocked()
}

func (w *weakState) resetDueLocked() {
	var due int64
	for _, e := range w.convs {
		if due == 0 || e.due < due {
			due = e.due
		}
	}
	w.due.Store(due)
}

// checkWeak reports s's overdue conversations at now. Reaper goroutine.
func (g *Gateway) checkWeak(s *Session, now time.Time) {
	w := &s.weak
	if due := w.due.Load(); due == 0 || now.UnixNano() < due {
		return
	}
	w.mu.Lock()
	spans := map[string]im.WeakSpan{}
	for conv, e := range w.convs {
		if now.UnixNano() >= e.due {
			spans[conv] = im.WeakSpan{From: e.from, To: e.to}
			delete(w.convs, conv)
		}
	}
	w.resetDueLocked()
	w.mu.Unlock()
	if len(spans) > 0 {
		g.svc.WeakNetwork(im.WeakPush{AppID: s.appID, UserID: s.userID, DeviceID: s.deviceID, PushID: s.currentPushID(),
			Platform: s.platform, Spans: spans})
	}
}
