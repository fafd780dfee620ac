package harmony

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/heraldim/herald/internal/emulator/control"
	"github.com/heraldim/herald/internal/emulator/inbox"
)

// ControlHandler returns the emulator's control API, so that another
// process (herald device, the phones API) can play a HarmonyOS phone. It
// is plain HTTP JSON for its own loopback listener, never the vendor one:
//
//	POST   /devices                  {"projectID"} → 201 {"token"}
//	DELETE /devices/{token}          uninstall (Push Kit then answers 80300007) → 204
//	GET    /devices/{token}/deliveries?after=N&wait=5s
//	       → {"deliveries":[...],"next":M}
//	POST   /faults                   {"token","kind","retryAfter","delay","times"} → 204
//	DELETE /faults                   clear every fault → 204
//
// Errors answer {"error": message} with 400 or 404.
func (e *Emulator) ControlHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /devices", e.ctlRegister)
	devs := control.Devices{Param: "token", Unknown: "unknown token", Known: e.knownDevice}
	mux.HandleFunc("DELETE /devices/{token}", devs.Uninstall(e.Uninstall))
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
	// Seq is the delivery's number for its token, from 1.
	Seq       int       `json:"seq"`
	RequestID string    `json:"requestId"`
	Received  time.Time `json:"received"`
	// PushType is the push-type header ("0" alert, "6" background, "10"
	// in-app call); Category the notification's category as treated.
	PushType string `json:"pushType"`
	Category string `json:"category,omitempty"`
	// Body is the request body as sent.
	Body json.RawMessage `json:"body"`
}

// ControlDeliveries is the answer of GET /devices/{token}/deliveries.
type ControlDeliveries = control.Page[ControlDelivery]

func (e *Emulator) ctlRegister(w http.ResponseWriter, r *http.Request) {
	var req struct {
		ProjectID string `json:"projectID"`
	}
	if err := control.Decode(r, &req); err != nil {
		control.Error(w, http.StatusBadRequest, "body: %v", err)
		return
	}
	if req.ProjectID == "" {
		control.Error(w, http.StatusBadRequest, "projectID is required")
		return
	}
	control.JSON(w, http.StatusCreated, map[string]string{"token": e.RegisterDevice(req.ProjectID)})
}

// controlDelivery is the seq-th delivery of its token as the control API
// reports it.
func controlDelivery(seq int, d Delivery) ControlDelivery {
	return ControlDelivery{Seq: seq, RequestID: d.RequestID, Received: d.Received,
		PushType: d.PushType, Category: d.Category, Body: d.Raw}
}

func (e *Emulator) ctlFault(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Token      string `json:"token"`
		Kind       string `json:"kind"`
		RetryAfter string `json:"retryAfter"`
		Delay      string `json:"delay"`
		Times      int    `json:"times"`
	}
	if err := control.Decode(r, &req); err != nil {
		control.Error(w, http.StatusBadRequest, "body: %v", err)
		return
	}
	f := Fault{Kind: FaultKind(req.Kind), Times: req.Times}
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
