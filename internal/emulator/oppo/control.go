package oppo

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
// the OPPO listener (a sender must not be able to register devices):
//
//	POST   /apps                     {"packageName","appKey","masterSecret","channels"}
//	                                 → 201 {"appId","appKey","masterSecret","packageName"}
//	                                 (keys made up when empty)
//	POST   /devices                  {"app"} (app key or package name) → 201 {"token"}
//	DELETE /devices/{token}          uninstall (OPPO then answers 10000) → 204
//	GET    /devices/{token}/deliveries?after=N&wait=5s
//	       → {"deliveries":[...],"next":M}: the token's accepted messages
//	       after the first N, waiting up to wait (at most MaxControlWait)
//	       for one when there is none yet; pass next as the following
//	       call's after.
//	POST   /faults                   {"token","code","httpStatus","delay","times"} → 204
//	DELETE /faults                   clear every fault → 204
//
// Fault codes are those of Fault (10000, 11, -1, -2, 13, 33, 55, or 0 for
// only slow); token "" applies to every unicast. Durations are Go
// durations ("2s"). Errors answer {"error": message} with 400 or 404.
func (e *Emulator) ControlHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /apps", e.ctlApp)
	mux.HandleFunc("POST /devices", e.ctlRegister)
	devs := control.Devices{Param: "token", Unknown: "unknown registration ID", Known: e.knownDevice}
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
	MessageID string    `json:"messageId"`
	Received  time.Time `json:"received"`
	// Notification is the notification as the emulator read it.
	Notification Notification `json:"notification"`
	// Message is the "message" JSON as sent.
	Message json.RawMessage `json:"message"`
}

// ControlDeliveries is the answer of GET /devices/{token}/deliveries.
type ControlDeliveries = control.Page[ControlDelivery]

type ctlAppRequest struct {
	PackageName  string   `json:"packageName"`
	AppKey       string   `json:"appKey"`
	MasterSecret string   `json:"masterSecret"`
	Channels     []string `json:"channels"`
}

type ctlFaultRequest struct {
	Token      string `json:"token"`
	Code       int    `json:"code"`
	HTTPStatus int    `json:"httpStatus"`
	Delay      string `json:"delay"`
	Times      int    `json:"times"`
}

func (e *Emulator) ctlApp(w http.ResponseWriter, r *http.Request) {
	var req ctlAppRequest
	if err := control.Decode(r, &req); err != nil {
		control.Error(w, http.StatusBadRequest, "body: %v", err)
		return
	}
	var app App
	if req.AppKey == "" && req.MasterSecret == "" {
		app = e.CreateApp(req.PackageName, req.Channels...)
	} else {
		app = App{AppKey: req.AppKey, MasterSecret: req.MasterSecret, PackageName: req.PackageName, Channels: req.Channels}
		if err := e.AddApp(app); err != nil {
			control.Error(w, http.StatusBadRequest, "%v", err)
			return
		}
		e.mu.Lock()
		app = *e.apps[app.AppKey]
		e.mu.Unlock()
	}
	control.JSON(w, http.StatusCreated, map[string]string{"appId": app.AppID, "appKey": app.AppKey,
		"masterSecret": app.MasterSecret, "packageName": app.PackageName})
}

func (e *Emulator) ctlRegister(w http.ResponseWriter, r *http.Request) {
	var req struct {
		App string `json:"app"`
	}
	if err := control.Decode(r, &req); err != nil {
		control.Error(w, http.StatusBadRequest, "body: %v", err)
		return
	}
	id, err := e.RegisterDevice(req.App)
	if err != nil {
		control.Error(w, http.StatusNotFound, "%v", err)
		return
	}
	control.JSON(w, http.StatusCreated, map[string]string{"token": id})
}

func (e *Emulator) knownDevice(regID string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.devices[regID] != nil
}

// controlDelivery is the seq-th delivery of its device as the control
// API reports it.
func controlDelivery(seq int, d Delivery) ControlDelivery {
	return ControlDelivery{Seq: seq, MessageID: d.MessageID, Received: d.Received,
		Notification: d.Notification, Message: d.Raw}
}

func (e *Emulator) ctlFault(w http.ResponseWriter, r *http.Request) {
	var req ctlFaultRequest
	if err := control.Decode(r, &req); err != nil {
		control.Error(w, http.StatusBadRequest, "body: %v", err)
		return
	}
	f := Fault{Code: req.Code, HTTPStatus: req.HTTPStatus, Times: req.Times}
	var err error
	if f.Delay, err = control.OptDuration(req.Delay); err == nil {
		err = e.SetFault(req.Token, f)
	}
	if err != nil {
		control.Error(w, http.StatusBadRequest, "fault: %v", err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
