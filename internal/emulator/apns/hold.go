package apns

import (
	"net/http"
	"strings"
)

// hold is a HoldAnswer waiting for its push.
type hold struct {
	accepted chan struct{} // closed when the push was accepted
	release  chan struct{} // closed by the release function
}

// HoldAnswer holds APNs' answer to the next push accepted for token: the
// push is delivered to the device (recorded, in Deliveries and the tray)
// at once, as APNs does, but the 200 answer waits until release is called
// (or the sender gives up, or the emulator closes). accepted is closed
// once that push was delivered and its answer is being held. It lets a
// test act while a push is with the vendor and its sender has no outcome
// yet. A second HoldAnswer for token replaces the first, which is
// released.
func (e *Emulator) HoldAnswer(token string) (accepted <-chan struct{}, release func()) {
	h := &hold{accepted: make(chan struct{}), release: make(chan struct{})}
	key := strings.ToLower(token)
	e.mu.Lock()
	if old := e.holds[key]; old != nil {
		close(old.release)
	}
	e.holds[key] = h
	e.mu.Unlock()
	released := false
	return h.accepted, func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		if released {
			return
		}
		released = true
		if e.holds[key] == h {
			delete(e.holds, key)
		}
		select {
		case <-h.release: // replaced, already released
		default:
			close(h.release)
		}
	}
}

// holdAnswer waits, for an accepted push to token, until a HoldAnswer on
// it is released. The hold is spent on its first push.
func (e *Emulator) holdAnswer(r *http.Request, token string) {
	key := strings.ToLower(token)
	e.mu.Lock()
	h := e.holds[key]
	if h != nil {
		select {
		case <-h.accepted:
			h = nil // spent: a later push is answered at once
		default:
			close(h.accepted)
		}
	}
	e.mu.Unlock()
	if h == nil {
		return
	}
	select {
	case <-h.release:
	case <-r.Context().Done():
	case <-e.done:
	}
}
