package apns

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/heraldim/herald/internal/emulator/control"
)

// MaxControlWait bounds a deliveries long-poll's wait parameter.
const MaxControlWait = control.MaxWait

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
type ControlDeliveries = control.Page[ControlDelivery]

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
	// Badge is the number the app's icon shows (DeviceInfo.Badge).
	Badge *int `json:"badge,omitempty"`
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

func (e *Emulator) ctlRegister(w http.ResponseWriter, r *http.Request) {
	var req ctlRegisterRequest
	if err := control.Decode(r, &req); err != nil {
		control.Error(w, http.StatusBadRequest, "body: %v", err)
		return
	}
	if req.BundleID == "" {
		control.Error(w, http.StatusBadRequest, "bundleID is required")
		return
	}
	if req.Environment != Production && req.Environment != Development {
		control.Error(w, http.StatusBadRequest, "environment must be production or development")
		return
	}
	control.JSON(w, http.StatusCreated, map[string]string{"token": e.RegisterDevice(req.BundleID, req.Environment, req.VoIP)})
}

func (e *Emulator) ctlDevice(w http.ResponseWriter, r *http.Request) {
	d, ok := e.Device(r.PathValue("token"))
	if !ok {
		control.Error(w, http.StatusNotFound, "unknown device token")
		return
	}
	info := ctlDeviceInfo{BundleID: d.BundleID, Environment: d.Environment, VoIP: d.VoIP, Badge: d.Badge}
	if !d.Unregistered.IsZero() {
		info.Unregistered = &d.Unregistered
	}
	control.JSON(w, http.StatusOK, info)
}

func (e *Emulator) ctlUnregister(w http.ResponseWriter, r *http.Request) {
	if !e.Unregister(r.PathValue("token")) {
		control.Error(w, http.StatusNotFound, "unknown device token")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (e *Emulator) ctlDeliveries(w http.ResponseWriter, r *http.Request) {
	token := strings.ToLower(r.PathValue("token"))
	if _, ok := e.Device(token); !ok {
		control.Error(w, http.StatusNotFound, "unknown device token")
		return
	}
	after, wait, err := control.PollParams(r)
	if err != nil {
		control.Error(w, http.StatusBadRequest, "%v", err)
		return
	}
	control.LongPoll(w, r, e.done, after, wait, func(after int) ([]ControlDelivery, int, <-chan struct{}) {
		return e.deliveriesAfter(token, after)
	})
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
	if err := control.Decode(r, &req); err != nil {
		control.Error(w, http.StatusBadRequest, "body: %v", err)
		return
	}
	kind, ok := faultKinds[req.Kind]
	if !ok {
		control.Error(w, http.StatusBadRequest, "kind must be slow, throttled, internal, unavailable, shutdown or unregistered")
		return
	}
	f := Fault{Kind: kind, Times: req.Times}
	var err error
	if f.RetryAfter, err = control.OptDuration(req.RetryAfter); err == nil {
		f.Delay, err = control.OptDuration(req.Delay)
	}
	if err != nil || f.Times < 0 {
		control.Error(w, http.StatusBadRequest, "retryAfter and delay must be durations such as 2s, times 0 or more")
		return
	}
	e.InjectFault(req.Token, f)
	w.WriteHeader(http.StatusNoContent)
}
