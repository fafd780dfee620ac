package honor

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/heraldim/herald/internal/emulator/control"
	"github.com/heraldim/herald/internal/emulator/inbox"
)

// ControlHandler returns the emulator's control API, so that another
// process (herald device, a test in another language) can play a phone.
// It is plain HTTP JSON for its own loopback listener, never for the
// vendor listener (a sender must not be able to register devices):
//
//	POST   /apps                     {"appID","clientID","clientSecret"} → 204
//	POST   /devices                  {"appID"} → 201 {"token"}
//	DELETE /devices/{token}          uninstall (sends then list it in expireTokens) → 204
//	GET    /devices/{token}/deliveries?after=N&wait=5s
//	       → {"deliveries":[...],"next":M}: the token's deliveries after the
//	       first N, waiting up to wait (at most control.MaxWait) for one
//	       when there is none yet; pass next as the following call's after.
//	POST   /faults                   {"token","kind","retryAfter","delay","times"} → 204
//	DELETE /faults                   clear every fault → 204
//	POST   /access-tokens/expire     end every access token issued → 204
//
// Fault kinds are those of FaultKind; durations are Go durations ("2s").
// Errors answer {"error": message} with 400 or 404.
func (e *Emulator) ControlHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /apps", e.ctlApp)
	mux.HandleFunc("POST /devices", e.ctlRegister)
	devs := control.Devices{Param: "token", Unknown: "unknown token", Known: e.knownDevice}
	mux.HandleFunc("DELETE /devices/{token}", devs.Uninstall(e.Unregister))
	mux.HandleFunc("GET /devices/{token}/deliveries", inbox.Handler(devs, e.log, controlDelivery))
	mux.HandleFunc("POST /faults", e.ctlFault)
	mux.HandleFunc("DELETE /faults", func(w http.ResponseWriter, _ *http.Request) {
		e.ClearFaults()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /access-tokens/expire", func(w http.ResponseWriter, _ *http.Request) {
		e.ExpireAccessTokens()
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
	// PassThrough tells a pass-through message from a notification message.
	PassThrough bool `json:"passThrough"`
	// Message is the body as sent.
	Message json.RawMessage `json:"message"`
}

// ControlDeliveries is the answer of GET /devices/{token}/deliveries.
type ControlDeliveries = control.Page[ControlDelivery]

func (e *Emulator) ctlApp(w http.ResponseWriter, r *http.Request) {
	var req struct {
		AppID        string `json:"appID"`
		ClientID     string `json:"clientID"`
		ClientSecret string `json:"clientSecret"`
	}
	if err := control.Decode(r, &req); err != nil {
		control.Error(w, http.StatusBadRequest, "body: %v", err)
		return
	}
	if err := e.RegisterApp(App(req)); err != nil {
		control.Error(w, http.StatusBadRequest, "%v", err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (e *Emulator) ctlRegister(w http.ResponseWriter, r *http.Request) {
	var req struct {
		AppID string `json:"appID"`
	}
	if err := control.Decode(r, &req); err != nil {
		control.Error(w, http.StatusBadRequest, "body: %v", err)
		return
	}
	if req.AppID == "" {
		control.Error(w, http.StatusBadRequest, "appID is required")
		return
	}
	control.JSON(w, http.StatusCreated, map[string]string{"token": e.RegisterDevice(req.AppID)})
}

// controlDelivery is the seq-th delivery of its token as the control API
// reports it.
func controlDelivery(seq int, d Delivery) ControlDelivery {
	return ControlDelivery{Seq: seq, RequestID: d.RequestID, Received: d.Received,
		PassThrough: d.Pass(), Message: d.Raw}
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
