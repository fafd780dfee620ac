package apns

import (
	"context"
	"net/http"
	"strings"
	"sync"
)

// Two controls hold APNs back, for tests of what a sender does while a push
// is with the vendor: Hold parks every request before it is processed (the
// push is not yet accepted), HoldAnswer processes one token's next push and
// holds only its answer (the push is accepted and shown, its sender does
// not know yet).

// holdState parks requests while a hold is on (Hold, Release).
type holdState struct {
	mu      sync.Mutex
	on      chan struct{} // closed by Release; nil when no hold is on
	held    int           // requests parked now
	changed chan struct{} // closed and replaced when held changes
}

// Hold makes the emulator keep every request from now on, once its body is
// read, until Release: a vendor that has the push but has not answered
// yet. A request whose client gives up while held is still processed on
// Release (delivered when valid), as APNs processes a request it received
// in full; only its answer is lost. Close also ends a hold.
func (e *Emulator) Hold() {
	e.hold.mu.Lock()
	defer e.hold.mu.Unlock()
	if e.hold.on == nil {
		e.hold.on = make(chan struct{})
	}
}

// Release lets the held requests go on and ends the hold.
func (e *Emulator) Release() {
	e.hold.mu.Lock()
	defer e.hold.mu.Unlock()
	if e.hold.on != nil {
		close(e.hold.on)
		e.hold.on = nil
	}
}

// Held returns how many requests are held now.
func (e *Emulator) Held() int {
	e.hold.mu.Lock()
	defer e.hold.mu.Unlock()
	return e.hold.held
}

// WaitHeld waits until at least n requests are held, or ctx ends.
func (e *Emulator) WaitHeld(ctx context.Context, n int) error {
	for {
		e.hold.mu.Lock()
		if e.hold.held >= n {
			e.hold.mu.Unlock()
			return nil
		}
		if e.hold.changed == nil {
			e.hold.changed = make(chan struct{})
		}
		ch := e.hold.changed
		e.hold.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// park keeps request r while a hold is on. It returns false when the
// emulator closed meanwhile (nothing more is done with r).
func (e *Emulator) park(_ *http.Request) bool {
	e.hold.mu.Lock()
	on := e.hold.on
	if on == nil {
		e.hold.mu.Unlock()
		return true
	}
	e.hold.held++
	e.hold.notify()
	e.hold.mu.Unlock()
	ok := true
	select {
	case <-on:
	case <-e.done:
		ok = false
	}
	e.hold.mu.Lock()
	e.hold.held--
	e.hold.notify()
	e.hold.mu.Unlock()
	return ok
}

// notify wakes WaitHeld; called with mu held.
func (h *holdState) notify() {
	if h.changed != nil {
		close(h.changed)
		h.changed = nil
	}
}

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
