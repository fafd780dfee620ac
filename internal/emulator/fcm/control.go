package fcm

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/heraldim/herald/internal/emulator/control"
	"github.com/heraldim/herald/internal/emulator/inbox"
)

// MaxControlWait bounds a deliveries long-poll's wait parameter.
const MaxControlWait = control.MaxWait

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
	devs := control.Devices{Param: "token", Unknown: "unknown registration token", Known: e.knownDevice}
	mux.HandleFunc("DELETE /devices/{token}", devs.Uninstall(e.Unregister))
	mux.HandleFunc("GET /devices/{token}/deliveries", inbox.Handler(devs, e.log, controlDelivery))
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
type ControlDeliveries = control.Page[ControlDelivery]

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

func (e *Emulator) knownDevice(token string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.devices[token] != nil
}

func (e *Emulator) ctlRegister(w http.ResponseWriter, r *http.Request) {
	var req ctlRegisterRequest
	if err := control.Decode(r, &req); err != nil {
		control.Error(w, http.StatusBadRequest, "body: %v", err)
		return
	}
	if req.ProjectID == "" || req.PackageName == "" {
		control.Error(w, http.StatusBadRequest, "projectID and packageName are required")
		return
	}
	control.JSON(w, http.StatusCreated, map[string]string{"token": e.RegisterDevice(req.ProjectID, req.PackageName)})
}

// controlDelivery is the seq-th delivery of its device as the control
// API reports it.
func controlDelivery(seq int, d Delivery) ControlDelivery {
	return ControlDelivery{Seq: seq, Name: d.Name, Received: d.Received, Delivered: d.Delivered,
		Message: d.Raw, Dropped: d.Dropped, DropReason: d.DropReason}
}

func (e *Emulator) ctlFault(w http.ResponseWriter, r *http.Request) {
	var req ctlFaultRequest
	if err := control.Decode(r, &req); err != nil {
		control.Error(w, http.StatusBadRequest, "body: %v", err)
		return
	}
	f := Fault{Status: req.Status, Times: req.Times}
	var err error
	if f.RetryAfter, err = control.OptDuration(req.RetryAfter); err == nil {
		f.Delay, err = control.OptDuration(req.Delay)
	}
	if err == nil {
		err = e.SetFault(req.Token, f)
	}
	if err != nil {
		control.Error(w, http.StatusBadRequest, "fault: %v", err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
