package apns

import (
	"context"
	"net/http"
	"sync"
)

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
