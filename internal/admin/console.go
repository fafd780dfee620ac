package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/heraldim/herald/internal/im"
	"github.com/heraldim/herald/internal/protocol"
	"github.com/heraldim/herald/internal/push"
)

// ConsoleDevices is what the console's device endpoints need of push
// persistence beyond DeviceStore (the SQLite store has both).
type ConsoleDevices interface {
	// UserDevices returns the devices bound to a user, by PushID.
	UserDevices(ctx context.Context, appID, userID string) ([]push.Device, error)
	// DeleteDevice removes a device, drops its pending jobs with reason
	// and records the removal as a device event; push.ErrNotFound if
	// there is none.
	DeleteDevice(ctx context.Context, appID, pushID, reason string) error
}

// ConsoleStats are the live figures of the console's overview: the hub's
// sessions (gateway.Hub), the messaging core's commit rate (im.Service)
// and the store's push queue and outcomes (the SQLite store).
type ConsoleStats interface {
	// AppSessions counts the app's users with a live session on this
	// node and its sessions by platform.
	AppSessions(appID string) (users int, byPlatform map[string]int)
	// CommittedLastMinute counts the app's messages this node committed
	// in the last 60 seconds.
	CommittedLastMinute(appID string) int
	// PushQueue counts the app's open jobs by vendor and status.
	PushQueue(ctx context.Context, appID string) ([]push.QueueCount, error)
	// PushOutcomes counts the app's recent attempts and ended jobs.
	PushOutcomes(ctx context.Context, appID string, now time.Time) ([]push.OutcomeCount, error)
}

// consoleRoutes are the endpoints the web console needs beyond the other
// groups: a user's devices and their removal, and the emulated phones.
func (h *Handler) consoleRoutes() []route {
	const p = "/v1/apps/{appID}"
	return []route{
		{"GET", p + "/users/{userID}/devices", h.userDevices, nil, deviceList{}},
		{"DELETE", p + "/users/{userID}/devices/{pushID}", h.deleteUserDevice, nil, nil},
		{"GET", p + "/emulator", h.emulatorStatus, nil, emulatorView{}},
		{"GET", p + "/overview", h.overview, nil, overviewReply{}},
		{"GET", p + "/push/explain", h.explain, nil, explainReply{}},
	}
}

// deviceView is one registered device as the console shows it. The vendor
// tokens are not shown: the PushID names the device.
type deviceView struct {
	PushID      string           `json:"pushID"`
	Vendor      push.Vendor      `json:"vendor"`
	Environment push.Environment `json:"environment"`
	Platform    string           `json:"platform"`
	BundleID    string           `json:"bundleID"`
	// UserID is the user the device is bound to ("" when unbound).
	UserID  string `json:"userID"`
	Bound   bool   `json:"bound"`
	Enabled bool   `json:"enabled"`
	// VoIP: the device registered a PushKit token beside its normal one.
	VoIP bool `json:"voip"`
	// Foreground is the iOS foreground presentation mask (1 alert, 2
	// sound, 4 badge).
	Foreground   int       `json:"foreground"`
	RegisteredAt time.Time `json:"registeredAt"`
	// UpdatedAt is the device's last registration, binding or switch
	// change: the store keeps no other "last seen".
	UpdatedAt time.Time `json:"updatedAt"`
}

type deviceList struct {
	UserID  string       `json:"userID"`
	Devices []deviceView `json:"devices"`
}

func viewDevice(d push.Device) deviceView {
	return deviceView{PushID: d.PushID, Vendor: d.Vendor, Environment: d.Environment, Platform: d.Platform,
		BundleID: d.BundleID, UserID: d.UserID, Bound: d.UserID != "", Enabled: d.Enabled, VoIP: d.VoIPToken != "",
		Foreground: d.Foreground, RegisteredAt: d.CreatedAt.UTC(), UpdatedAt: d.UpdatedAt.UTC()}
}

// consoleDevices returns the store's device listing, or unavailable.
func (h *Handler) consoleDevices() (ConsoleDevices, error) {
	cd, ok := h.d.Devices.(ConsoleDevices)
	if !ok {
		return nil, protocol.Errorf(protocol.CodeUnavailable, "the device endpoints are not available on this server")
	}
	return cd, nil
}

// userDevices lists the devices bound to a user (none for an unknown
// user: devices are bound by user ID, which need not be a stored user).
func (h *Handler) userDevices(w http.ResponseWriter, r *http.Request, app im.App) error {
	cd, err := h.consoleDevices()
	if err != nil {
		return err
	}
	user, err := pathUser(r)
	if err != nil {
		return err
	}
	ds, err := cd.UserDevices(r.Context(), app.ID, user)
	if err != nil {
		return fmt.Errorf("admin: user devices: %w", err)
	}
	reply := deviceList{UserID: user, Devices: make([]deviceView, 0, len(ds))}
	for _, d := range ds {
		reply.Devices = append(reply.Devices, viewDevice(d))
	}
	writeJSON(w, http.StatusOK, reply)
	return nil
}

// adminRemoved is the reason recorded for a device the admin removed (its
// device event and its dropped jobs).
const adminRemoved = "removed by admin"

// deleteUserDevice unregisters a device bound to the user, as the
// device's own unregisterPush does: the device goes, its pending jobs are
// dropped and a device event is recorded. 40400 when no such device is
// bound to the user.
func (h *Handler) deleteUserDevice(w http.ResponseWriter, r *http.Request, app im.App) error {
	cd, err := h.consoleDevices()
	if err != nil {
		return err
	}
	user, err := pathUser(r)
	if err != nil {
		return err
	}
	pushID := r.PathValue("pushID")
	if pushID == "" || len(pushID) > maxPushIDLen {
		return protocol.Errorf(protocol.CodeNotFound, "no device with this PushID is bound to the user")
	}
	dev, err := h.d.Devices.Device(r.Context(), app.ID, pushID)
	if errors.Is(err, push.ErrNotFound) || (err == nil && dev.UserID != user) {
		return protocol.Errorf(protocol.CodeNotFound, "no device with this PushID is bound to the user")
	}
	if err != nil {
		return fmt.Errorf("admin: delete device: %w", err)
	}
	if err := cd.DeleteDevice(r.Context(), app.ID, pushID, adminRemoved); err != nil && !errors.Is(err, push.ErrNotFound) {
		return fmt.Errorf("admin: delete device: %w", err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type emulatorView struct {
	// Emulating: the server runs every vendor's emulator in process
	// (herald serve --emulate) and its phones are under
	// /v1/apps/{appID}/emulator/phones/.
	Emulating bool `json:"emulating"`
	// PhonesPath is that path, empty when not emulating.
	PhonesPath string `json:"phonesPath"`
}

func (h *Handler) emulatorStatus(w http.ResponseWriter, r *http.Request, app im.App) error {
	v := emulatorView{}
	if h.phones(app.ID) != nil {
		v = emulatorView{Emulating: true, PhonesPath: "/v1/apps/" + app.ID + "/emulator/phones/"}
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

// SetEmulatedPhones mounts the emulated phones' HTTP API under
// /v1/apps/{appID}/emulator/phones/ for the one app whose pushes go
// through the emulators (the dev app of herald serve --emulate; its admin
// key required), so that the console reaches it on its own origin. Other
// apps, and every app after a nil handler, get 40400 there: the phones
// hold that app's device tokens.
func (h *Handler) SetEmulatedPhones(appID string, ph http.Handler) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.emulatedApp, h.emulated = appID, ph
	if ph == nil {
		h.emulatedApp = ""
	}
}

// phones returns the emulated phones' API if app's pushes go through it.
func (h *Handler) phones(appID string) http.Handler {
	h.mu.Lock()
	defer h.mu.Unlock()
	if appID == "" || appID != h.emulatedApp {
		return nil
	}
	return h.emulated
}

// servePhones forwards a request under /v1/apps/{appID}/emulator/phones/
// to the emulated phones' API with that prefix stripped.
func (h *Handler) servePhones(w http.ResponseWriter, r *http.Request, app im.App) error {
	ph := h.phones(app.ID)
	if ph == nil {
		return protocol.Errorf(protocol.CodeNotFound, "the server is not emulating phones (start it with herald serve --emulate)")
	}
	prefix := "/v1/apps/" + app.ID + "/emulator"
	r2 := r.Clone(r.Context())
	r2.URL.Path = strings.TrimPrefix(r.URL.Path, prefix)
	if r2.URL.Path == "" {
		r2.URL.Path = "/"
	}
	r2.URL.RawPath = ""
	r2.Header.Del("Authorization")
	ph.ServeHTTP(w, r2)
	return nil
}

// phonesPatterns are the mux patterns of the emulated phones' API.
var phonesPatterns = []string{"/v1/apps/{appID}/emulator/phones", "/v1/apps/{appID}/emulator/phones/"}

type overviewSessions struct {
	// Users with at least one live session on this node.
	Users int `json:"users"`
	// Sessions is their live sessions; ByPlatform splits them.
	Sessions   int            `json:"sessions"`
	ByPlatform map[string]int `json:"byPlatform"`
}

type queueView struct {
	Vendor push.Vendor    `json:"vendor"`
	Status push.JobStatus `json:"status"`
	Jobs   int            `json:"jobs"`
}

type outcomeView struct {
	Vendor push.Vendor `json:"vendor"`
	// Kind is "attempt" (a call to the vendor; Outcome its outcome) or
	// "job" (a job that ended; Outcome its status).
	Kind    string `json:"kind"`
	Outcome string `json:"outcome"`
	Last5m  int    `json:"last5m"`
	Last1h  int    `json:"last1h"`
}

type overviewReply struct {
	At       time.Time        `json:"at"`
	Sessions overviewSessions `json:"sessions"`
	// MessagesLastMinute is the app's messages committed by this node in
	// the last 60 seconds.
	MessagesLastMinute int           `json:"messagesLastMinute"`
	PushQueue          []queueView   `json:"pushQueue"`
	PushOutcomes       []outcomeView `json:"pushOutcomes"`
}

// overview is the console's live page: this app's figures only, cheap
// enough to poll every 2 s (docs/operations.md, "The console's
// overview").
func (h *Handler) overview(w http.ResponseWriter, r *http.Request, app im.App) error {
	cs := h.d.Console
	if cs == nil {
		return protocol.Errorf(protocol.CodeUnavailable, "the overview is not available on this server")
	}
	now := h.cfg.Now()
	users, byPlatform := cs.AppSessions(app.ID)
	reply := overviewReply{At: now.UTC(), Sessions: overviewSessions{Users: users, ByPlatform: byPlatform},
		MessagesLastMinute: cs.CommittedLastMinute(app.ID), PushQueue: []queueView{}, PushOutcomes: []outcomeView{}}
	for _, n := range byPlatform {
		reply.Sessions.Sessions += n
	}
	qs, err := cs.PushQueue(r.Context(), app.ID)
	if err != nil {
		return fmt.Errorf("admin: overview: %w", err)
	}
	for _, q := range qs {
		reply.PushQueue = append(reply.PushQueue, queueView{Vendor: q.Vendor, Status: q.Status, Jobs: q.Jobs})
	}
	outs, err := cs.PushOutcomes(r.Context(), app.ID, now)
	if err != nil {
		return fmt.Errorf("admin: overview: %w", err)
	}
	for _, o := range outs {
		reply.PushOutcomes = append(reply.PushOutcomes, outcomeView{Vendor: o.Vendor, Kind: o.Kind, Outcome: o.Outcome,
			Last5m: o.Last5m, Last1h: o.Last1h})
	}
	writeJSON(w, http.StatusOK, reply)
	return nil
}
