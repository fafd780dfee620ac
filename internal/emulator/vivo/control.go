package vivo

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
// process (herald device, a test in another language) can play a phone or
// the vivo console. It is plain HTTP JSON, meant for its own loopback
// listener, never for the vivo listener (a sender must not be able to
// register devices):
//
//	POST   /apps                     {"appId","appKey","appSecret"} → 204
//	POST   /devices                  {"appId","test"} → 201 {"regId"}
//	DELETE /devices/{regId}          uninstall (then 10302, status 2) → 204
//	GET    /devices/{regId}/deliveries?after=N&wait=5s
//	       → {"deliveries":[...],"next":M}: the regId's pushes after the
//	       first N, waiting up to wait (at most MaxControlWait) for one when
//	       there is none yet; pass next as the following call's after.
//	POST   /faults                   {"regId","kind","code","status","delay","times"} → 204
//	DELETE /faults                   clear every fault → 204
//
// Fault kinds are "" (slow only), "invalid_regid", "auth", "quota",
// "server_error", "code" and "lost_answer" (accepted, never answered); durations are Go durations ("2s"). Errors
// answer {"error": message} with 400 or 404.
func (e *Emulator) ControlHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /apps", e.ctlApp)
	mux.HandleFunc("POST /devices", e.ctlRegister)
	devs := control.Devices{Param: "regId", Unknown: "unknown regId", Known: e.knownDevice}
	mux.HandleFunc("DELETE /devices/{regId}", devs.Uninstall(e.Unregister))
	mux.HandleFunc("GET /devices/{regId}/deliveries", inbox.Handler(devs, e.log, controlDelivery))
	mux.HandleFunc("POST /faults", e.ctlFault)
	mux.HandleFunc("DELETE /faults", func(w http.ResponseWriter, _ *http.Request) {
		e.ClearFaults()
		w.WriteHeader(http.StatusNoContent)
	})
	return mux
}

// ControlDelivery is a push as the control API reports it.
type ControlDelivery struct {
	// Seq is the push's number for its regId, from 1.
	Seq       int       `json:"seq"`
	TaskID    string    `json:"taskId"`
	RequestID string    `json:"requestId"`
	Received  time.Time `json:"received"`
	// Message is the /message/send body as sent.
	Message json.RawMessage `json:"message"`
}

// ControlDeliveries is the answer of GET /devices/{regId}/deliveries.
type ControlDeliveries = control.Page[ControlDelivery]

func (e *Emulator) ctlApp(w http.ResponseWriter, r *http.Request) {
	var req struct {
		AppID     string `json:"appId"`
		AppKey    string `json:"appKey"`
		AppSecret string `json:"appSecret"`
	}
	if err := control.Decode(r, &req); err != nil {
		control.Error(w, http.StatusBadRequest, "body: %v", err)
		return
	}
	if err := e.AddApp(App{ID: req.AppID, Key: req.AppKey, Secret: req.AppSecret}); err != nil {
		control.Error(w, http.StatusBadRequest, "%v", err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (e *Emulator) ctlRegister(w http.ResponseWriter, r *http.Request) {
	var req struct {
		AppID string `json:"appId"`
		Test  bool   `json:"test"`
	}
	if err := control.Decode(r, &req); err != nil {
		control.Error(w, http.StatusBadRequest, "body: %v", err)
		return
	}
	if !isDigits(req.AppID) {
		control.Error(w, http.StatusBadRequest, "appId is required and numeric")
		return
	}
	id := e.RegisterDevice(req.AppID)
	if req.Test {
		_ = e.SetTestDevice(id, true)
	}
	control.JSON(w, http.StatusCreated, map[string]string{"regId": id})
}

// controlDelivery is the seq-th delivery of its device as the control
// API reports it.
func controlDelivery(seq int, d Delivery) ControlDelivery {
	return ControlDelivery{Seq: seq, TaskID: d.TaskID, RequestID: d.RequestID, Received: d.Received, Message: d.Raw}
}

func (e *Emulator) ctlFault(w http.ResponseWriter, r *http.Request) {
	var req struct {
		RegID  string `json:"regId"`
		Kind   string `json:"kind"`
		Code   int    `json:"code"`
		Status int    `json:"status"`
		Delay  string `json:"delay"`
		Times  int    `json:"times"`
	}
	if err := control.Decode(r, &req); err != nil {
		control.Error(w, http.StatusBadRequest, "body: %v", err)
		return
	}
	f := Fault{Kind: FaultKind(req.Kind), Code: req.Code, Status: req.Status, Times: req.Times}
	var err error
	if f.Delay, err = control.OptDuration(req.Delay); err == nil {
		err = e.SetFault(req.RegID, f)
	}
	if err != nil {
		control.Error(w, http.StatusBadRequest, "fault: %v", err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
