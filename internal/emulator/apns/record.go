package apns

import (
	"context"
	"net/http"
	"strings"
	"time"
)

// Request is one request the emulator answered, accepted or not.
type Request struct {
	Time        time.Time   // when it was answered, by the emulator's clock
	Environment Environment // the listener it came in on
	Method      string
	Path        string
	Token       string // the device token from the path ("" if none)
	Status      int    // the HTTP status answered
	Reason      string // APNs' reason; "" on 200
	APNSID      string // the apns-id answered
	// TeamID and KeyID say who authenticated (TeamID alone with a
	// certificate); empty when authentication failed or was not reached.
	TeamID string
	KeyID  string
	// ProviderToken is the raw bearer JWT presented, accepted or not, so
	// that tests can count the distinct tokens a provider made.
	ProviderToken string
}

// Delivery is a push APNs accepted for a device: delivered to it, or
// dropped because it had expired on arrival.
type Delivery struct {
	Token       string      // the device token, as in the request path
	Environment Environment // the environment it was sent to
	Received    time.Time   // by the emulator's clock
	// Topic, PushType and Priority are the effective values (topic and
	// priority defaulted as APNs does when absent).
	Topic    string
	PushType string
	Priority int
	// APNSID is the apns-id answered; CollapseID the apns-collapse-id.
	APNSID     string
	CollapseID string
	// Expiration is apns-expiration: zero time when absent, the Unix epoch
	// when "0" (deliver now or never).
	Expiration time.Time
	// Header holds the request's headers (the authorization header
	// removed).
	Header http.Header
	// Payload is the decoded body; Body the raw bytes.
	Payload map[string]any
	Body    []byte
	// TeamID is the team whose credential sent it.
	TeamID string
	// Dropped is set when the push was accepted but never delivered;
	// DropReason says why ("expired").
	Dropped    bool
	DropReason string
}

// Aps returns the payload's "aps" dictionary.
func (d Delivery) Aps() map[string]any {
	aps, _ := d.Payload["aps"].(map[string]any)
	return aps
}

// deliveries is one token's record.
type deliveries struct {
	delivered []Delivery
	dropped   []Delivery
	count     int // delivered since start, beyond the retained ones too
}

func (e *Emulator) logRequest(r Request) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.log) >= e.cfg.MaxRecords {
		e.log = append(e.log[:0], e.log[len(e.log)-e.cfg.MaxRecords+1:]...)
	}
	e.log = append(e.log, r)
}

func (e *Emulator) record(d Delivery) {
	e.mu.Lock()
	key := strings.ToLower(d.Token)
	rec := e.delivered[key]
	if rec == nil {
		rec = &deliveries{}
		e.delivered[key] = rec
	}
	list := &rec.delivered
	if d.Dropped {
		list = &rec.dropped
	} else {
		rec.count++
		e.showBadge(key, d)
	}
	if len(*list) >= e.cfg.MaxRecords {
		*list = append((*list)[:0], (*list)[len(*list)-e.cfg.MaxRecords+1:]...)
	}
	*list = append(*list, d)
	close(e.changed)
	e.changed = make(chan struct{})
	hook := e.onDelivery
	e.mu.Unlock()
	if hook != nil {
		hook(d)
	}
}

// Requests returns the request log, oldest first.
func (e *Emulator) Requests() []Request {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]Request(nil), e.log...)
}

// Deliveries returns the pushes delivered to token, oldest first; token ""
// returns every token's.
func (e *Emulator) Deliveries(token string) []Delivery {
	return e.collect(token, func(r *deliveries) []Delivery { return r.delivered })
}

// Dropped returns the pushes APNs accepted for token but never delivered
// (expired on arrival); token "" returns every token's.
func (e *Emulator) Dropped(token string) []Delivery {
	return e.collect(token, func(r *deliveries) []Delivery { return r.dropped })
}

func (e *Emulator) collect(token string, pick func(*deliveries) []Delivery) []Delivery {
	e.mu.Lock()
	defer e.mu.Unlock()
	if token != "" {
		if r := e.delivered[strings.ToLower(token)]; r != nil {
			return append([]Delivery(nil), pick(r)...)
		}
		return nil
	}
	var all []Delivery
	for _, r := range e.delivered {
		all = append(all, pick(r)...)
	}
	return all
}

// WaitDeliveries waits until at least n pushes have been delivered to token
// since the emulator was made, and returns the retained ones. It returns
// ctx's error if that does not happen first. Counting from the start (not
// "the next one") means a push that arrived before the call is not missed.
func (e *Emulator) WaitDeliveries(ctx context.Context, token string, n int) ([]Delivery, error) {
	key := strings.ToLower(token)
	for {
		e.mu.Lock()
		r := e.delivered[key]
		if r != nil && r.count >= n {
			out := append([]Delivery(nil), r.delivered...)
			e.mu.Unlock()
			return out, nil
		}
		changed := e.changed
		e.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// OnDelivery sets a function called with every accepted push (delivered or
// dropped), after it is recorded and before APNs' answer is sent. It runs
// on the request's goroutine: it must not block. Nil removes it.
func (e *Emulator) OnDelivery(fn func(Delivery)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.onDelivery = fn
}
