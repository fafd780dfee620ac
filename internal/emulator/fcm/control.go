package fcm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// MaxControlWait bounds a deliveries long-poll's wait parameter.
const MaxControlWait = time.Minute

// ControlHandler returns the emulator's control API, so that another
// process (herald device, a test in another language) can play a phone.
// It is plain HTTP JSON, meant for its own loopback listener, never for
// the FCM listener (a sender must not be able to register devices):
//
//	POST   /devices                  {"projectID","packageName"} → 201 {"token"}
//	DELETE /devices/{token}          uninstall (FCM then answers 404 UNREGISTERED) → 204
//	GET    /devices/{token}/deliveries?after=N&wait=5s
//	       → {"deliveries":[...],"next":M}: token's records (delivered or
//	       dropped) after the first N, waiting up to wait (at most
//	       MaxControlWait) for one when there is none yet; pass next as the
//	       following call's after.
//	POST   /faults                   {"token","status","retryAfter","delay","times"} → 204
//	DELETE /faults                   clear every fault → 204
//
// Fault statuses are 0 (only slow), 429, 500 and 503; durations are Go
// durations ("2s"). Errors answer {"error": message} with 400 or 404.
func (e *Emulator) ControlHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /devices", e.ctlRegister)
	mux.HandleFunc("DELETE /devices/{token}", e.ctlUnregister)
	mux.HandleFunc("GET /devices/{token}/deliveries", e.ctlDeliveries)
	mux.HandleFunc("POST /faults", e.ctlFault)
	mux.HandleFunc("DELETE /faults", func(w http.ResponseWriter, _ *http.Request) {
		e.ClearFaults()
		w.WriteHeader(http.StatusNoContent)
	})
	return mux
}

// ControlDelivery is a record as the control API reports it.
type ControlDelivery struct {
	// Seq is the record's number for its token, from 1.
	Seq       int       `json:"seq"`
	Name      string    `json:"name"`
	Received  time.Time `json:"received"`
	Delivered time.Time `json:"delivered,omitzero"`
	// Message is the "message" object as sent.
	Message    json.RawMessage `json:"message"`
	Dropped    bool            `json:"dropped,omitempty"`
	DropReason string          `json:"dropReason,omitempty"`
}

// ControlDeliveries is the answer of GET /devices/{token}/deliveries.
type ControlDeliveries struct {
	Deliveries []ControlDelivery `json:"deliveries"`
	// Next is the after parameter of the following call.
	Next int `json:"next"`
}

type ctlRegisterRequest struct {
	ProjectID   string `json:"projectID"`
	PackageName string `json:"packageName"`
}

type ctlFaultRequest struct {
	Token      string `json:"token"`
	Status     int    `json:"status"`
	RetryAfter string `json:"retryAfter"`
	Delay      string `json:"delay"`
	Times      int    `json:"times"`
}

func ctlJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func ctlError(w http.ResponseWriter, status int, format string, args ...any) {
	ctlJSON(w, status, map[string]string{"error": fmt.Sprintf(format, args...)})
}

func decodeStrict(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<16))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

func (e *Emulator) knownDevice(token string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.devices[token] != nil
}

func (e *Emulator) ctlRegister(w http.ResponseWriter, r *http.Request) {
	var req ctlRegisterRequest
	if err := decodeStrict(r, &req); err != nil {
		ctlError(w, http.StatusBadRequest, "body: %v", err)
		return
	}
	if req.ProjectID == "" || req.PackageName == "" {
		ctlError(w, http.StatusBadRequest, "projectID and packageName are required")
		return
	}
	ctlJSON(w, http.StatusCreated, map[string]string{"token": e.RegisterDevice(req.ProjectID, req.PackageName)})
}

func (e *Emulator) ctlUnregister(w http.ResponseWriter, r *http.Request) {
	tok := r.PathValue("token")
	if !e.knownDevice(tok) {
		ctlError(w, http.StatusNotFound, "unknown registration token")
		return
	}
	e.Unregister(tok)
	w.WriteHeader(http.StatusNoContent)
}

func (e *Emulator) ctlDeliveries(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	if !e.knownDevice(token) {
		ctlError(w, http.StatusNotFound, "unknown registration token")
		return
	}
	q := r.URL.Query()
	after := 0
	if s := q.Get("after"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			ctlError(w, http.StatusBadRequest, "after must be a count (0 or more)")
			return
		}
		after = n
	}
	var wait time.Duration
	if s := q.Get("wait"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			ctlError(w, http.StatusBadRequest, "wait must be a duration such as 5s")
			return
		}
		wait = min(d, MaxControlWait)
	}
	ctx, cancel := context.WithTimeout(r.Context(), wait)
	defer cancel()
	for {
		out, next, changed := e.recordsAfter(token, after)
		if len(out) > 0 || wait == 0 {
			ctlJSON(w, http.StatusOK, ControlDeliveries{Deliveries: out, Next: next})
			return
		}
		select {
		case <-changed:
			continue
		case <-ctx.Done():
		case <-e.done:
		}
		ctlJSON(w, http.StatusOK, ControlDeliveries{Deliveries: []ControlDelivery{}, Next: next})
		return
	}
}

// recordsAfter returns token's records beyond the first after, the count
// to resume from, and the channel closed at the next record.
func (e *Emulator) recordsAfter(token string, after int) ([]ControlDelivery, int, chan struct{}) {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := []ControlDelivery{}
	l := e.logs[token]
	if l == nil {
		return out, after, e.changed
	}
	for i := after; i < len(l.records); i++ {
		d := l.records[i]
		out = append(out, ControlDelivery{Seq: i + 1, Name: d.Name, Received: d.Received, Delivered: d.Delivered,
			Message: d.Raw, Dropped: d.Dropped, DropReason: d.DropReason})
	}
	return out, max(after, len(l.records)), e.changed
}

func (e *Emulator) ctlFault(w http.ResponseWriter, r *http.Request) {
	var req ctlFaultRequest
	if err := decodeStrict(r, &req); err != nil {
		ctlError(w, http.StatusBadRequest, "body: %v", err)
		return
	}
	f := Fault{Status: req.Status, Times: req.Times}
	var err error
	if f.RetryAfter, err = optDuration(req.RetryAfter); err == nil {
		f.Delay, err = optDuration(req.Delay)
	}
	if err == nil {
		err = e.SetFault(req.Token, f)
	}
	if err != nil {
		ctlError(w, http.StatusBadRequest, "fault: %v", err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func optDuration(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err == nil && d < 0 {
		err = errors.New("negative duration " + s)
	}
	return d, err
}
