package apns

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// MaxControlWait bounds a deliveries long-poll's wait parameter.
const MaxControlWait = time.Minute

// ControlHandler returns the emulator's control API, so that another
// process (herald device, a test in another language) can play a phone.
// It is plain HTTP JSON, meant for its own loopback listener, never for
// the APNs listeners (a provider must not be able to register devices):
//
//	POST   /devices                  {"bundleID","environment","voip"} → 201 {"token"}
//	DELETE /devices/{token}          unregister (APNs then answers 410) → 204
//	GET    /devices/{token}          → {"bundleID","environment","voip","unregistered"}
//	GET    /devices/{token}/deliveries?after=N&wait=5s
//	       → {"deliveries":[...],"next":M}: the pushes delivered to token
//	       after the first N (N counts from the emulator's start), waiting
//	       up to wait (at most MaxControlWait) for one when there is none
//	       yet; pass next as the following call's after.
//	POST   /faults                   {"token","kind","retryAfter","delay","times"} → 204
//	DELETE /faults?token=T           clear token's fault ("" the global one) → 204
//
// Fault kinds: slow, throttled, internal, unavailable, shutdown,
// unregistered; durations are Go durations ("2s"). Errors answer
// {"error": message} with 400 or 404.
func (e *Emulator) ControlHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /devices", e.ctlRegister)
	mux.HandleFunc("GET /devices/{token}", e.ctlDevice)
	mux.HandleFunc("DELETE /devices/{token}", e.ctlUnregister)
	mux.HandleFunc("GET /devices/{token}/deliveries", e.ctlDeliveries)
	mux.HandleFunc("POST /faults", e.ctlFault)
	mux.HandleFunc("DELETE /faults", func(w http.ResponseWriter, r *http.Request) {
		e.ClearFault(r.URL.Query().Get("token"))
		w.WriteHeader(http.StatusNoContent)
	})
	return mux
}

// ControlDelivery is a delivery as the control API reports it.
type ControlDelivery struct {
	// Seq is the delivery's number for its token, from 1 since the
	// emulator's start.
	Seq         int         `json:"seq"`
	Environment Environment `json:"environment"`
	Received    time.Time   `json:"received"`
	Topic       string      `json:"topic"`
	PushType    string      `json:"pushType"`
	Priority    int         `json:"priority"`
	APNSID      string      `json:"apnsID"`
	CollapseID  string      `json:"collapseID,omitempty"`
	// Payload is the request body as sent.
	Payload json.RawMessage `json:"payload"`
}

// ControlDeliveries is the answer of GET /devices/{token}/deliveries.
type ControlDeliveries struct {
	Deliveries []ControlDelivery `json:"deliveries"`
	// Next is the after parameter of the following call.
	Next int `json:"next"`
}

type ctlRegisterRequest struct {
	BundleID    string      `json:"bundleID"`
	Environment Environment `json:"environment"`
	VoIP        bool        `json:"voip"`
}

type ctlDeviceInfo struct {
	BundleID     string      `json:"bundleID"`
	Environment  Environment `json:"environment"`
	VoIP         bool        `json:"voip"`
	Unregistered *time.Time  `json:"unregistered,omitempty"`
}

type ctlFaultRequest struct {
	Token      string `json:"token"`
	Kind       string `json:"kind"`
	RetryAfter string `json:"retryAfter"`
	Delay      string `json:"delay"`
	Times      int    `json:"times"`
}

var faultKinds = map[string]FaultKind{
	"slow": FaultSlow, "throttled": FaultThrottled, "internal": FaultInternalError,
	"unavailable": FaultUnavailable, "shutdown": FaultShutdown, "unregistered": FaultUnregistered,
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

func (e *Emulator) ctlRegister(w http.ResponseWriter, r *http.Request) {
	var req ctlRegisterRequest
	if err := decodeStrict(r, &req); err != nil {
		ctlError(w, http.StatusBadRequest, "body: %v", err)
		return
	}
	if req.BundleID == "" {
		ctlError(w, http.StatusBadRequest, "bundleID is required")
		return
	}
	if req.Environment != Production && req.Environment != Development {
		ctlError(w, http.StatusBadRequest, "environment must be production or development")
		return
	}
	ctlJSON(w, http.StatusCreated, map[string]string{"token": e.RegisterDevice(req.BundleID, req.Environment, req.VoIP)})
}

func (e *Emulator) ctlDevice(w http.ResponseWriter, r *http.Request) {
	d, ok := e.Device(r.PathValue("token"))
	if !ok {
		ctlError(w, http.StatusNotFound, "unknown device token")
		return
	}
	info := ctlDeviceInfo{BundleID: d.BundleID, Environment: d.Environment, VoIP: d.VoIP}
	if !d.Unregistered.IsZero() {
		info.Unregistered = &d.Unregistered
	}
	ctlJSON(w, http.StatusOK, info)
}

func (e *Emulator) ctlUnregister(w http.ResponseWriter, r *http.Request) {
	if !e.Unregister(r.PathValue("token")) {
		ctlError(w, http.StatusNotFound, "unknown device token")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (e *Emulator) ctlDeliveries(w http.ResponseWriter, r *http.Request) {
	token := strings.ToLower(r.PathValue("token"))
	if _, ok := e.Device(token); !ok {
		ctlError(w, http.StatusNotFound, "unknown device token")
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
		out, next, changed := e.deliveriesAfter(token, after)
		if len(out) > 0 || wait == 0 {
			ctlJSON(w, http.StatusOK, ControlDeliveries{Deliveries: out, Next: next})
			return
		}
		select {
		case <-changed:
		case <-ctx.Done():
			ctlJSON(w, http.StatusOK, ControlDeliveries{Deliveries: []ControlDelivery{}, Next: next})
			return
		case <-e.done:
			ctlJSON(w, http.StatusOK, ControlDeliveries{Deliveries: []ControlDelivery{}, Next: next})
			return
		}
	}
}

// deliveriesAfter returns the retained deliveries to token beyond the
// first after, the count to resume from, and the channel closed at the
// next record.
func (e *Emulator) deliveriesAfter(token string, after int) ([]ControlDelivery, int, chan struct{}) {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := []ControlDelivery{}
	rec := e.delivered[token]
	if rec == nil {
		return out, after, e.changed
	}
	first := rec.count - len(rec.delivered) // sequence of the oldest retained, minus one
	for i, d := range rec.delivered {
		seq := first + i + 1
		if seq <= after {
			continue
		}
		out = append(out, ControlDelivery{Seq: seq, Environment: d.Environment, Received: d.Received,
			Topic: d.Topic, PushType: d.PushType, Priority: d.Priority, APNSID: d.APNSID,
			CollapseID: d.CollapseID, Payload: json.RawMessage(d.Body)})
	}
	return out, max(after, rec.count), e.changed
}

func (e *Emulator) ctlFault(w http.ResponseWriter, r *http.Request) {
	var req ctlFaultRequest
	if err := decodeStrict(r, &req); err != nil {
		ctlError(w, http.StatusBadRequest, "body: %v", err)
		return
	}
	kind, ok := faultKinds[req.Kind]
	if !ok {
		ctlError(w, http.StatusBadRequest, "kind must be slow, throttled, internal, unavailable, shutdown or unregistered")
		return
	}
	f := Fault{Kind: kind, Times: req.Times}
	var err error
	if f.RetryAfter, err = optDuration(req.RetryAfter); err == nil {
		f.Delay, err = optDuration(req.Delay)
	}
	if err != nil || f.Times < 0 {
		ctlError(w, http.StatusBadRequest, "retryAfter and delay must be durations such as 2s, times 0 or more")
		return
	}
	e.InjectFault(req.Token, f)
	w.WriteHeader(http.StatusNoContent)
}

func optDuration(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err == nil && d < 0 {
		err = errors.New("negative")
	}
	return d, err
}
