package fcm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// defaultStorage is how long FCM keeps a message without ttl: four weeks.
const defaultStorage = 28 * 24 * time.Hour

// device is an app instance registered with the emulator.
type device struct {
	token        string
	projectID    string
	packageName  string
	unregistered bool
	offline      bool
	held         []Delivery // accepted while offline, in order
}

// Delivery is the fate of one accepted message.
type Delivery struct {
	// Name is the message name the sender was given.
	Name      string
	ProjectID string
	// Token is the target token; "" for a topic or condition, whose
	// deliveries are listed under "/topics/<name>" or "condition:<expr>".
	Token   string
	Message Message
	// Raw is the "message" object as sent.
	Raw json.RawMessage
	// Received is when the emulator accepted the message.
	Received time.Time
	// Delivered is when the device got it; zero when Dropped.
	Delivered time.Time
	// Dropped is set when FCM would never deliver it; DropReason says why
	// (ttl run out while offline, replaced by a newer message with the same
	// collapse_key, token unregistered while held).
	Dropped    bool
	DropReason string
}

// RegisterDevice plays an app's first start: it returns a new token for
// packageName's instance in projectID (which then exists), shaped like
// FCM's ("<instance id>:APA91b<...>"). The device is online.
func (e *Emulator) RegisterDevice(projectID, packageName string) string {
	tok := randomToken(16)[:22] + ":APA91b" + randomToken(100)
	e.mu.Lock()
	defer e.mu.Unlock()
	e.projects[projectID] = true
	e.devices[tok] = &device{token: tok, projectID: projectID, packageName: packageName}
	return tok
}

// Unregister plays the app's uninstall: sends to token get 404
// UNREGISTERED from now on, and messages held for it are dropped.
func (e *Emulator) Unregister(token string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	d := e.devices[token]
	if d == nil || d.unregistered {
		return
	}
	d.unregistered = true
	for _, h := range d.held {
		h.Dropped, h.DropReason = true, "token unregistered"
		e.log.Record(token, h)
	}
	d.held = nil
}

// SetOnline connects (true) or disconnects (false) a device. Coming
// online delivers the held messages still within their ttl and drops the
// others. An unknown token is an error.
func (e *Emulator) SetOnline(token string, online bool) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	d := e.devices[token]
	if d == nil {
		return fmt.Errorf("fcm emulator: unknown token %.12s…", token)
	}
	d.offline = !online
	if !online {
		return nil
	}
	now := e.now()
	for _, h := range d.held {
		storage := defaultStorage
		if ttl, ok := h.Message.TTL(); ok {
			storage = ttl
		}
		if now.Before(h.Received.Add(storage)) {
			h.Delivered = now
		} else {
			h.Dropped, h.DropReason = true, "ttl ran out while the device was offline"
		}
		e.log.Record(token, h)
	}
	d.held = nil
	return nil
}

// accept hands an accepted message to its device (nil for topics and
// conditions) under the FCM store-and-forward model of the package
// comment. Called with e.mu held.
func (e *Emulator) accept(key string, dev *device, dl Delivery) {
	if dev == nil || !dev.offline {
		dl.Delivered = dl.Received
		e.log.Record(key, dl)
		return
	}
	if ttl, ok := dl.Message.TTL(); ok && ttl == 0 {
		dl.Dropped, dl.DropReason = true, "ttl 0s and the device is offline"
		e.log.Record(key, dl)
		return
	}
	if a := dl.Message.Android; a != nil && a.CollapseKey != "" {
		kept := dev.held[:0]
		for _, h := range dev.held {
			if h.Message.Android != nil && h.Message.Android.CollapseKey == a.CollapseKey {
				h.Dropped, h.DropReason = true, "replaced by a newer message with collapse_key "+a.CollapseKey
				e.log.Record(key, h)
				continue
			}
			kept = append(kept, h)
		}
		dev.held = kept
	}
	dev.held = append(dev.held, dl)
}

// Deliveries returns every delivered or dropped message of token (or
// "/topics/<name>", "condition:<expr>"), oldest first. Messages held for
// an offline device appear when it comes online.
func (e *Emulator) Deliveries(token string) []Delivery {
	return e.log.Deliveries(token)
}

// Held returns the messages held for an offline device, oldest first.
func (e *Emulator) Held(token string) []Delivery {
	e.mu.Lock()
	defer e.mu.Unlock()
	if d := e.devices[token]; d != nil {
		return append([]Delivery(nil), d.held...)
	}
	return nil
}

// Next returns token's oldest record that Next has not returned yet,
// waiting for one until ctx ends or the emulator shuts down (ErrClosed).
func (e *Emulator) Next(ctx context.Context, token string) (Delivery, error) {
	return e.log.Next(ctx, token)
}

// Fault is a failure to play on sends, for a token or for all of them.
type Fault struct {
	// Status is the error answered: 429 (QUOTA_EXCEEDED), 500 (INTERNAL)
	// or 503 (UNAVAILABLE); 0 answers normally after Delay.
	Status int
	// RetryAfter, when positive, is sent as Retry-After (whole seconds,
	// rounded up).
	RetryAfter time.Duration
	// Delay holds the answer back this long (a slow FCM).
	Delay time.Duration
	// Times is how many sends the fault applies to; 0: until cleared.
	Times int
}

// SetFault plays f on sends to token, or on every send when token is ""
// (checked before the body is read, as a front end would). It replaces
// the token's previous fault.
func (e *Emulator) SetFault(token string, f Fault) error {
	switch f.Status {
	case 0, http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusServiceUnavailable:
	default:
		return fmt.Errorf("fcm emulator: fault status %d: want 0, 429, 500 or 503", f.Status)
	}
	if f.Times < 0 || f.Delay < 0 || f.RetryAfter < 0 {
		return errors.New("fcm emulator: negative fault parameter")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.faults.Set(token, f, f.Times)
	return nil
}

// ClearFaults removes every fault.
func (e *Emulator) ClearFaults() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.faults.Clear()
}

// takeFault returns the fault for key and counts one use of it.
func (e *Emulator) takeFault(key string) *Fault {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.faults.Take(key)
}

// playFault waits the fault's delay and returns its error, if any; nil
// error means carry on. A client that gives up or a shutdown ends the wait.
func (e *Emulator) playFault(r *http.Request, f *Fault, subject string) *apiError {
	if f.Delay > 0 {
		t := time.NewTimer(f.Delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
		case <-e.life.Done():
		}
	}
	switch f.Status {
	case http.StatusTooManyRequests:
		return errQuota(subject, f.RetryAfter)
	case http.StatusInternalServerError, http.StatusServiceUnavailable:
		return errServer(f.Status, f.RetryAfter)
	}
	return nil
}
