package local

import (
	"context"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/heraldim/herald/internal/emulator/control"
	"github.com/heraldim/herald/internal/push"
)

// Phones serves the phones API: emulated phones for programs that are not
// written in Go (the TypeScript SDK's tests and demos, a page in a
// browser), which use a phone as their push token source without
// re-implementing what the vendors' SDKs do. A phone is a Device
// registered with a vendor emulator of the manifest, exactly as
// RegisterDevice does, and watched from its creation to its deletion as
// Watch does: each delivery is decoded the vendor's way and the seed's
// callback table (push.CapabilityOf, Reactions) says what the phone does
// with it in its current app state. The API only exposes that engine.
// docs/emulated-phone.md is its user's guide.
//
// The API is JSON over HTTP on a loopback listener of its own (the
// manifest's phones.url). Every answer carries
// Access-Control-Allow-Origin: * and OPTIONS preflights are answered, so
// that a page of any origin can use it. Errors are {"error": "..."}; an
// unknown phone is 404 everywhere, a bad body or parameter 400 (changing
// nothing), a vendor emulator that failed 502, a POST during Close 503.
// The events are Event values: the Reactions to each push, and
// notificationClicked after a click.
//
//	POST   /phones             {"vendor":"apns|fcm|huawei|xiaomi|oppo|vivo",
//	                           "debug":false, "voip":false,
//	                           "permissions":["huawei-high-priority-pass-through"],
//	                           "state":"background"} → 201 PhoneInfo.
//	                           debug: a development build (APNs sandbox,
//	                           development PushID); voip: also a PushKit
//	                           token (APNs only); permissions: vendor
//	                           permissions the app holds (each must be one
//	                           of the vendor's); state: the app state,
//	                           default background.
//	GET    /phones/{id}        → 200 PhoneInfo (with the current state, and
//	                           watchError when watching ended on an error).
//	PUT    /phones/{id}/state  {"state":"foreground|background|killed"} →
//	                           200 {"state":...}: the pushes the phone
//	                           receives from then on meet the new state.
//	GET    /phones/{id}/events?after=N&wait=25s → 200
//	                           {"deliveries":[Event...],"next":M}: the
//	                           phone's events after the first N, at once
//	                           when there are some, else when one comes,
//	                           wait passes (at most control.MaxWait) or the
//	                           phone is deleted; pass M as the next after.
//	POST   /phones/{id}/click  {"seq":N} → 200 Event: the user taps the
//	                           notification of notificationDisplayed event
//	                           with seq N; a notificationClicked event is
//	                           appended to the phone's events. 404 when the
//	                           phone displayed no such notification or it
//	                           was tapped already (a tapped notification
//	                           leaves the tray) or replaced by a later one
//	                           (the vendor emulator's tray, e.g. a call's
//	                           ring by its withdraw push). The app state is
//	                           not changed.
//	DELETE /phones/{id}        → 204: stop watching and forget the phone.
//	                           Its tokens stay registered at the vendor,
//	                           as those of a phone switched off.
type Phones struct {
	m Manifest
	// tray returns the vendor emulator's tray of a token: the message IDs
	// (Event.MessageID) of the notifications it shows, as the vendor's
	// replace keys left them. Nil: no tray (nothing is ever replaced).
	tray   func(v push.Vendor, token string) map[string]bool
	client *http.Client
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	phones  map[string]*phone
	n       int
	closing bool
}

// PhoneInfo is a phone as POST /phones and GET /phones/{id} answer it.
type PhoneInfo struct {
	PhoneID string `json:"phoneID"`
	Vendor  string `json:"vendor"`
	Token   string `json:"token"`
	// VoIPToken is the PushKit token (APNs phones created with voip).
	VoIPToken   string   `json:"voipToken,omitempty"`
	BundleID    string   `json:"bundleID"`
	Environment string   `json:"environment"`
	Platform    string   `json:"platform"` // ios, android or web
	State       string   `json:"state"`
	Permissions []string `json:"permissions"`
	// WatchError says why the phone stopped watching its deliveries
	// (e.g. the vendor emulator no longer knows it); empty while it
	// watches.
	WatchError string `json:"watchError,omitempty"`
}

// phone is one emulated phone.
type phone struct {
	info   PhoneInfo // State and WatchError are kept below
	dev    *Device
	cancel context.CancelFunc
	// gone is closed when the phone is deleted (ending its events
	// long-polls); done when its watch has returned.
	gone, done chan struct{}

	mu        sync.Mutex
	state     push.AppState
	watchErr  string
	events    []Event
	changed   chan struct{} // closed at the next event
	displayed map[int]Event // notificationDisplayed by seq, until tapped
}

// newPhones makes the phones API for the emulators of m, whose trays tray
// reads. It starts no goroutine: each phone's watch starts with the phone.
func newPhones(m Manifest, tray func(v push.Vendor, token string) map[string]bool) *Phones {
	ctx, cancel := context.WithCancel(context.Background())
	return &Phones{m: m, tray: tray, client: &http.Client{Transport: &http.Transport{}}, ctx: ctx, cancel: cancel,
		phones: make(map[string]*phone)}
}

// Handler serves the API, CORS included.
func (p *Phones) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /phones", p.create)
	mux.HandleFunc("GET /phones/{id}", p.withPhone(p.get))
	mux.HandleFunc("DELETE /phones/{id}", p.withPhone(p.delete))
	mux.HandleFunc("PUT /phones/{id}/state", p.withPhone(p.setState))
	mux.HandleFunc("GET /phones/{id}/events", p.withPhone(p.events))
	mux.HandleFunc("POST /phones/{id}/click", p.withPhone(p.click))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		control.Error(w, http.StatusNotFound, "no endpoint %s %s", r.Method, r.URL.Path)
	})
	return cors(mux)
}

// cors lets a page of any origin call h: every answer allows any origin,
// and a preflight (OPTIONS) is answered here with the methods and header
// the API uses. Chrome's Private Network Access preflight (a public page
// calling loopback) is allowed too.
func cors(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Access-Control-Allow-Origin", "*")
		if r.Method == http.MethodOptions {
			hd.Set("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE")
			hd.Set("Access-Control-Allow-Headers", "Content-Type")
			hd.Set("Access-Control-Max-Age", "600")
			if r.Header.Get("Access-Control-Request-Private-Network") == "true" {
				hd.Set("Access-Control-Allow-Private-Network", "true")
			}
			w.WriteHeader(http.StatusNoContent)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// withPhone looks up the path's phone: 404 when unknown.
func (p *Phones) withPhone(h func(http.ResponseWriter, *http.Request, *phone)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		p.mu.Lock()
		ph := p.phones[id]
		p.mu.Unlock()
		if ph == nil {
			control.Error(w, http.StatusNotFound, "no phone %q", id)
			return
		}
		h(w, r, ph)
	}
}

// PlatformOf is the OS of a vendor's phone (the login platform): iOS for
// APNs, a browser ("web") for Web Push, HarmonyOS for harmony, Android
// for the rest.
func PlatformOf(v push.Vendor) string {
	switch v {
	case push.VendorAPNs:
		return "ios"
	case push.VendorWebPush:
		return "web"
	}
	if v == push.VendorHarmony {
		return "harmonyos"
	}
	return "android"
}

// permissions maps each vendor permission to its vendor: the permissions
// the capability table makes a callback depend on.
func permissions() map[string]push.Vendor {
	out := make(map[string]push.Vendor)
	for _, v := range push.Vendors {
		for _, s := range push.AppStates {
			if c, err := push.CapabilityOf(v, s); err == nil && c.ThroughMessageNeedsPermission != "" {
				out[c.ThroughMessageNeedsPermission] = v
			}
		}
	}
	return out
}

func (p *Phones) create(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Vendor      string   `json:"vendor"`
		Debug       bool     `json:"debug"`
		VoIP        bool     `json:"voip"`
		Permissions []string `json:"permissions"`
		State       string   `json:"state"`
	}
	if err := control.Decode(r, &req); err != nil {
		control.Error(w, http.StatusBadRequest, "body: %v", err)
		return
	}
	v := push.Vendor(req.Vendor)
	if !slices.Contains(push.Vendors, v) {
		control.Error(w, http.StatusBadRequest, "vendor %q: want apns, fcm, huawei, xiaomi, oppo, vivo, harmony or honor", req.Vendor)
		return
	}
	if req.VoIP && v != push.VendorAPNs {
		control.Error(w, http.StatusBadRequest, "voip: VoIP (PushKit) pushes are APNs only, not %s", v)
		return
	}
	if req.State == "" {
		req.State = string(push.StateBackground)
	}
	st, err := push.ParseAppState(req.State)
	if err != nil {
		control.Error(w, http.StatusBadRequest, "state %q: want foreground, background or killed", req.State)
		return
	}
	granted := make(map[string]bool, len(req.Permissions))
	known := permissions()
	for _, perm := range req.Permissions {
		switch pv, ok := known[perm]; {
		case !ok:
			names := slices.Sorted(maps.Keys(known))
			control.Error(w, http.StatusBadRequest, "permission %q: no vendor has it (known: %s)", perm, strings.Join(names, ", "))
			return
		case pv != v:
			control.Error(w, http.StatusBadRequest, "permission %q is %s's, not %s's", perm, pv, v)
			return
		}
		granted[perm] = true
	}
	dev, err := RegisterDevice(r.Context(), p.m, v, req.Debug, req.VoIP, p.client)
	if err != nil {
		control.Error(w, http.StatusBadGateway, "%v", err)
		return
	}
	dev.Permissions = granted
	perms := make([]string, 0, len(granted))
	for perm := range granted {
		perms = append(perms, perm)
	}
	slices.Sort(perms)

	p.mu.Lock()
	if p.closing {
		p.mu.Unlock()
		control.Error(w, http.StatusServiceUnavailable, "the emulators are shutting down")
		return
	}
	p.n++
	id := "phone-" + strconv.Itoa(p.n)
	ctx, cancel := context.WithCancel(p.ctx)
	ph := &phone{
		info: PhoneInfo{PhoneID: id, Vendor: string(v), Token: dev.Token, VoIPToken: dev.VoIPToken, BundleID: dev.BundleID,
			Environment: string(dev.Environment), Platform: PlatformOf(v), Permissions: perms},
		dev: dev, cancel: cancel, gone: make(chan struct{}), done: make(chan struct{}),
		state: st, changed: make(chan struct{}), displayed: make(map[int]Event),
	}
	p.phones[id] = ph
	p.wg.Add(1)
	p.mu.Unlock()
	go func() {
		defer p.wg.Done()
		defer close(ph.done)
		if err := dev.Watch(ctx, ph.appState, ph.emit); err != nil {
			ph.mu.Lock()
			ph.watchErr = err.Error()
			ph.mu.Unlock()
		}
	}()
	control.JSON(w, http.StatusCreated, ph.snapshot())
}

// appState is the phone's app state, asked by Watch at each push.
func (ph *phone) appState() push.AppState {
	ph.mu.Lock()
	defer ph.mu.Unlock()
	return ph.state
}

// emit appends e to the phone's events and wakes their long-polls.
func (ph *phone) emit(e Event) {
	ph.mu.Lock()
	defer ph.mu.Unlock()
	ph.events = append(ph.events, e)
	if e.Event == EventNotificationDisplayed {
		ph.displayed[e.Seq] = e
	}
	close(ph.changed)
	ph.changed = make(chan struct{})
}

func (ph *phone) snapshot() PhoneInfo {
	ph.mu.Lock()
	defer ph.mu.Unlock()
	info := ph.info
	info.State, info.WatchError = string(ph.state), ph.watchErr
	return info
}

func (p *Phones) get(w http.ResponseWriter, _ *http.Request, ph *phone) {
	control.JSON(w, http.StatusOK, ph.snapshot())
}

func (p *Phones) setState(w http.ResponseWriter, r *http.Request, ph *phone) {
	var req struct {
		State string `json:"state"`
	}
	if err := control.Decode(r, &req); err != nil {
		control.Error(w, http.StatusBadRequest, "body: %v", err)
		return
	}
	st, err := push.ParseAppState(req.State)
	if err != nil {
		control.Error(w, http.StatusBadRequest, "state %q: want foreground, background or killed", req.State)
		return
	}
	ph.mu.Lock()
	ph.state = st
	ph.mu.Unlock()
	control.JSON(w, http.StatusOK, map[string]string{"state": string(st)})
}

func (p *Phones) events(w http.ResponseWriter, r *http.Request, ph *phone) {
	after, wait, err := control.PollParams(r)
	if err != nil {
		control.Error(w, http.StatusBadRequest, "%v", err)
		return
	}
	control.LongPoll(w, r, ph.gone, after, wait, func(after int) ([]Event, int, <-chan struct{}) {
		ph.mu.Lock()
		defer ph.mu.Unlock()
		from := min(after, len(ph.events))
		return slices.Clone(ph.events[from:]), len(ph.events), ph.changed
	})
}

func (p *Phones) click(w http.ResponseWriter, r *http.Request, ph *phone) {
	var req struct {
		Seq int `json:"seq"`
	}
	if err := control.Decode(r, &req); err != nil {
		control.Error(w, http.StatusBadRequest, "body: %v", err)
		return
	}
	if req.Seq < 1 {
		control.Error(w, http.StatusBadRequest, "seq must be the seq of a notificationDisplayed event (1 or more)")
		return
	}
	ph.mu.Lock()
	ev, ok := ph.displayed[req.Seq]
	// A notification a later one replaced (the same collapse ID: a
	// withdrawn call ring) is no longer in the tray.
	if ok && ph.dev.browser != nil && !ph.dev.browserTrayIDs()[ev.MessageID] {
		delete(ph.displayed, req.Seq)
		ok = false
	}
	if ok && ph.dev.browser == nil && p.tray != nil && !p.tray(ph.dev.Vendor, ph.dev.Token)[ev.MessageID] {
		delete(ph.displayed, req.Seq)
		ok = false
	}
	if !ok {
		ph.mu.Unlock()
		control.Error(w, http.StatusNotFound, "phone %s shows no notification with seq %d", ph.info.PhoneID, req.Seq)
		return
	}
	delete(ph.displayed, req.Seq)
	ev.Event = EventNotificationClicked
	ph.mu.Unlock()
	ph.emit(ev)
	control.JSON(w, http.StatusOK, ev)
}

func (p *Phones) delete(w http.ResponseWriter, _ *http.Request, ph *phone) {
	p.mu.Lock()
	if p.phones[ph.info.PhoneID] != ph { // deleted meanwhile
		p.mu.Unlock()
		control.Error(w, http.StatusNotFound, "no phone %q", ph.info.PhoneID)
		return
	}
	delete(p.phones, ph.info.PhoneID)
	p.mu.Unlock()
	ph.stop()
	w.WriteHeader(http.StatusNoContent)
}

// stop ends the phone's watch and its events long-polls, and waits for
// the watch.
func (ph *phone) stop() {
	ph.cancel()
	close(ph.gone)
	<-ph.done
}

// Close stops every phone and refuses new ones; it waits for the
// watches. It is idempotent.
func (p *Phones) Close() {
	p.mu.Lock()
	p.closing = true
	phones := p.phones
	p.phones = map[string]*phone{}
	p.mu.Unlock()
	for _, ph := range phones {
		ph.stop()
	}
	p.cancel()
	p.wg.Wait()
	p.client.CloseIdleConnections()
}

// trayIDs is Phones.tray for the running emulators: the message IDs of
// what the vendor emulator's tray shows for token.
func (e *Emulators) trayIDs(v push.Vendor, token string) map[string]bool {
	ids := make(map[string]bool)
	switch v {
	case push.VendorAPNs:
		for _, it := range e.APNs.Tray(token) {
			ids[it.APNSID] = true
		}
	case push.VendorFCM:
		for _, it := range e.FCM.Tray(token) {
			ids[it.Name] = true
		}
	case push.VendorHuawei:
		for _, it := range e.Huawei.Tray(token) {
			ids[it.RequestID] = true
		}
	case push.VendorXiaomi:
		for _, it := range e.Xiaomi.Tray(token) {
			ids[it.MsgID] = true
		}
	case push.VendorOPPO:
		for _, it := range e.OPPO.Tray(token) {
			ids[it.MessageID] = true
		}
	case push.VendorVivo:
		for _, it := range e.Vivo.Tray(token) {
			ids[it.TaskID] = true
		}
	case push.VendorHarmony:
		return e.harmonyTrayIDs(token)
	case push.VendorHonor:
		e.honorTray(token, ids)
	}
	return ids
}
