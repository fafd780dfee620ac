package webpush

import (
	"encoding/base64"
	"net/http"
	"strings"
	"time"

	"github.com/heraldim/herald/internal/emulator/control"
)

// ControlHandler returns the emulator's control API, so that another
// process (herald device, the phones API, a test in another language) can
// play a browser. It is plain HTTP JSON, meant for its own loopback
// listener, never for the push service's (a sender must not be able to
// subscribe):
//
//	POST   /subscriptions  {"applicationServerKey": base64url} → 201 {"id","endpoint"}
//	DELETE /subscriptions/{id}   unsubscribe (then 410) → 204
//	GET    /subscriptions/{id}/pending → {"messages":[...]}: not yet delivered
//	GET    /subscriptions/{id}/deliveries?after=N&wait=5s
//	       the browser connects: the pending pushes are delivered; answers
//	       {"deliveries":[...],"next":M} with the delivered pushes after the
//	       first N, waiting up to wait (at most control.MaxWait) for one
//	POST   /faults  {"subscription","status","retryAfter","times"} → 204
//	DELETE /faults  → 204
//
// A message is {"seq","id","ttl","urgency","topic","received","body"},
// body in base64url: the browser decrypts it. Errors answer {"error":
// message} with 400 or 404.
func (e *Emulator) ControlHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /subscriptions", e.ctlSubscribe)
	mux.HandleFunc("DELETE /subscriptions/{id}", func(w http.ResponseWriter, r *http.Request) {
		if err := e.Unsubscribe(r.PathValue("id")); err != nil {
			control.Error(w, http.StatusNotFound, "%v", err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /subscriptions/{id}/pending", func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		if !e.known(id) {
			control.Error(w, http.StatusNotFound, "unknown subscription")
			return
		}
		out := []ControlMessage{}
		for _, m := range e.Pending(id) {
			out = append(out, controlMessage(m))
		}
		control.JSON(w, http.StatusOK, map[string]any{"messages": out})
	})
	mux.HandleFunc("GET /subscriptions/{id}/deliveries", e.ctlDeliveries)
	mux.HandleFunc("POST /faults", func(w http.ResponseWriter, r *http.Request) {
		var f struct {
			Subscription string `json:"subscription"`
			Status       int    `json:"status"`
			RetryAfter   int    `json:"retryAfter"`
			Times        int    `json:"times"`
		}
		if err := control.Decode(r, &f); err != nil {
			control.Error(w, http.StatusBadRequest, "body: %v", err)
			return
		}
		if err := e.SetFault(Fault(f)); err != nil {
			control.Error(w, http.StatusBadRequest, "%v", err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("DELETE /faults", func(w http.ResponseWriter, _ *http.Request) {
		e.ClearFaults()
		w.WriteHeader(http.StatusNoContent)
	})
	return mux
}

// ControlMessage is a push as the control API reports it.
type ControlMessage struct {
	Seq      int       `json:"seq"`
	ID       string    `json:"id"`
	TTL      int       `json:"ttl"`
	Urgency  string    `json:"urgency,omitempty"`
	Topic    string    `json:"topic,omitempty"`
	Received time.Time `json:"received"`
	// Body is the encrypted body, base64url.
	Body string `json:"body"`
}

// ControlDeliveries is the answer of GET /subscriptions/{id}/deliveries.
type ControlDeliveries = control.Page[ControlMessage]

func controlMessage(m Message) ControlMessage {
	return ControlMessage{Seq: m.Seq, ID: m.ID, TTL: m.TTL, Urgency: m.Urgency, Topic: m.Topic, Received: m.Received,
		Body: base64.RawURLEncoding.EncodeToString(m.Body)}
}

func (e *Emulator) ctlSubscribe(w http.ResponseWriter, r *http.Request) {
	var req struct {
		ApplicationServerKey string `json:"applicationServerKey"`
	}
	if err := control.Decode(r, &req); err != nil {
		control.Error(w, http.StatusBadRequest, "body: %v", err)
		return
	}
	key, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(req.ApplicationServerKey, "="))
	if err != nil {
		control.Error(w, http.StatusBadRequest, "applicationServerKey: not base64url")
		return
	}
	s, err := e.Subscribe(key)
	if err != nil {
		control.Error(w, http.StatusBadRequest, "%v", err)
		return
	}
	control.JSON(w, http.StatusCreated, map[string]string{"id": s.ID, "endpoint": s.Endpoint})
}

func (e *Emulator) ctlDeliveries(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !e.known(id) {
		control.Error(w, http.StatusNotFound, "unknown subscription")
		return
	}
	after, wait, err := control.PollParams(r)
	if err != nil {
		control.Error(w, http.StatusBadRequest, "%v", err)
		return
	}
	e.waitBegins(id)
	defer e.waitEnds(id)
	control.LongPoll(w, r, e.life.Done(), after, wait, func(after int) ([]ControlMessage, int, <-chan struct{}) {
		e.mu.Lock()
		defer e.mu.Unlock()
		msgs, next := e.connect(e.subs[id], after)
		out := make([]ControlMessage, 0, len(msgs))
		for _, m := range msgs {
			out = append(out, controlMessage(m))
		}
		return out, next, e.changed
	})
}
