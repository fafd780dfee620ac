package xiaomi

import (
	"net/http"
	"net/url"
	"time"

	"github.com/heraldim/herald/internal/emulator/control"
	"github.com/heraldim/herald/internal/emulator/inbox"
)

// ControlHandler returns the emulator's control API, so that another
// process (herald device, a test in another language) can play a phone.
// It is plain HTTP JSON, meant for its own loopback listener, never for
// the MiPush listener (a sender must not be able to register devices):
//
//	POST   /devices                  {"packageName"} → 201 {"regid"}
//	DELETE /devices/{token}          uninstall (sends then list it in
//	                                 bad_regids) → 204
//	GET    /devices/{token}/deliveries?after=N&wait=5s
//	       → {"deliveries":[...],"next":M}: the regId's deliveries after
//	       the first N, waiting up to wait (at most control.MaxWait) for
//	       one when there is none yet; pass next as the following after.
//	POST   /faults                   {"regid","kind","delay","times"} → 204
//	DELETE /faults                   clear every fault → 204
//
// Fault kinds are those of FaultKind ("slow", "invalid_regid", "auth",
// "too_frequent", "daily_quota", "server_error"); regid "" applies to
// every send; delay is a Go duration ("2s"). Errors answer {"error":
// message} with 400 or 404.
func (e *Emulator) ControlHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /devices", e.ctlRegister)
	devs := control.Devices{Param: "token", Unknown: "unknown regid", Known: e.knownDevice}
	mux.HandleFunc("DELETE /devices/{token}", devs.Uninstall(e.Unregister))
	mux.HandleFunc("GET /devices/{token}/deliveries", inbox.Handler(devs, e.log, controlDelivery))
	mux.HandleFunc("POST /faults", e.ctlFault)
	mux.HandleFunc("DELETE /faults", func(w http.ResponseWriter, _ *http.Request) {
		e.ClearFaults()
		w.WriteHeader(http.StatusNoContent)
	})
	return mux
}

// ControlDelivery is a delivery as the control API reports it.
type ControlDelivery struct {
	// Seq is the delivery's number for its regId, from 1.
	Seq         int               `json:"seq"`
	MsgID       string            `json:"msgID"`
	PackageName string            `json:"packageName"`
	PassThrough bool              `json:"passThrough"`
	Title       string            `json:"title,omitempty"`
	Description string            `json:"description,omitempty"`
	Payload     string            `json:"payload,omitempty"`
	NotifyID    string            `json:"notifyID,omitempty"`
	ChannelID   string            `json:"channelID,omitempty"`
	Extra       map[string]string `json:"extra,omitempty"`
	// Form is the request's parameters as received.
	Form     url.Values `json:"form"`
	Received time.Time  `json:"received"`
}

// ControlDeliveries is the answer of GET /devices/{token}/deliveries.
type ControlDeliveries = control.Page[ControlDelivery]

func (e *Emulator) ctlRegister(w http.ResponseWriter, r *http.Request) {
	var req struct {
		PackageName string `json:"packageName"`
	}
	if err := control.Decode(r, &req); err != nil {
		control.Error(w, http.StatusBadRequest, "body: %v", err)
		return
	}
	if req.PackageName == "" {
		control.Error(w, http.StatusBadRequest, "packageName is required")
		return
	}
	control.JSON(w, http.StatusCreated, map[string]string{"regid": e.RegisterDevice(req.PackageName)})
}

// controlDelivery is the seq-th delivery of its device as the control
// API reports it.
func controlDelivery(seq int, d Delivery) ControlDelivery {
	return ControlDelivery{Seq: seq, MsgID: d.MsgID, PackageName: d.PackageName,
		PassThrough: d.PassThrough, Title: d.Title, Description: d.Description, Payload: d.Payload,
		NotifyID: d.NotifyID, ChannelID: d.ChannelID, Extra: d.Extra, Form: d.Form, Received: d.Received}
}

func (e *Emulator) ctlFault(w http.ResponseWriter, r *http.Request) {
	var req struct {
		RegID string `json:"regid"`
		Kind  string `json:"kind"`
		Delay string `json:"delay"`
		Times int    `json:"times"`
	}
	if err := control.Decode(r, &req); err != nil {
		control.Error(w, http.StatusBadRequest, "body: %v", err)
		return
	}
	f := Fault{Kind: FaultKind(req.Kind), Times: req.Times}
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
