package admin

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/heraldim/herald/internal/im"
	"github.com/heraldim/herald/internal/protocol"
	"github.com/heraldim/herald/internal/push"
)

// maxPushIDLen bounds PushIDs in requests (Herald's are 25 characters).
const maxPushIDLen = 128

// maxTestPayload bounds a test push's payload before any vendor is asked:
// no vendor takes more than 5 KB. Between the message limit
// (protocol.MaxPushPayloadBytes) and this, the vendor's own limit decides,
// which is what a developer testing sizes wants to learn.
const maxTestPayload = 8 << 10

type testPushRequest struct {
	PushID      string `json:"pushID"`
	Title       string `json:"title"`
	Content     string `json:"content"`
	Payload     string `json:"payload"`
	ResourcesID string `json:"resourcesID"`
}

// testPushReply is the answer of a test push: the dispatcher's decision
// (Outcome "failed" with Reason when the push cannot be sent at all, as a
// job of it would fail), else the vendor's answer. Note says how the push
// was built (a resource not found, a data push sent as a notification).
type testPushReply struct {
	PushID       string           `json:"pushID"`
	Vendor       push.Vendor      `json:"vendor"`
	Environment  push.Environment `json:"environment"`
	Kind         push.Kind        `json:"kind"`
	Outcome      string           `json:"outcome"`
	Status       int              `json:"status"`
	Reason       string           `json:"reason,omitempty"`
	Note         string           `json:"note,omitempty"`
	VendorID     string           `json:"vendorID,omitempty"`
	RetryAfterMs int64            `json:"retryAfterMs,omitempty"`
	LatencyMs    int64            `json:"latencyMs"`
}

// outcomeFailed is a test push's outcome when the dispatcher would fail
// its job without calling the vendor.
const outcomeFailed = "failed"

// testPush sends one push to one device synchronously, built as the
// dispatcher builds a job's push (push.Dispatcher.Compose: the resource,
// the badge, the notification fallback of vendors without pass-through
// messages) and through the provider it would use, and returns the
// dispatcher's decision and the vendor's answer. It writes no push job and
// changes no device: a drop_device answer is reported, and the next real
// push removes the device.
func (h *Handler) testPush(w http.ResponseWriter, r *http.Request, app im.App) error {
	var req testPushRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	switch {
	case req.PushID == "" || len(req.PushID) > maxPushIDLen:
		return protocol.Errorf(protocol.CodeInvalidArgument, "pushID must be 1 to %d characters", maxPushIDLen)
	case len(req.Title) > protocol.MaxPushTitleBytes || !utf8.ValidString(req.Title):
		return protocol.Errorf(protocol.CodeInvalidPushConfig, "title over %d bytes or not UTF-8", protocol.MaxPushTitleBytes)
	case len(req.Content) > protocol.MaxPushContentBytes || !utf8.ValidString(req.Content):
		return protocol.Errorf(protocol.CodeInvalidPushConfig, "content over %d bytes or not UTF-8", protocol.MaxPushContentBytes)
	case !utf8.ValidString(req.Payload):
		return protocol.Errorf(protocol.CodeInvalidPushConfig, "payload is not UTF-8")
	case len(req.Payload) > maxTestPayload:
		return protocol.Errorf(protocol.CodePushTooLarge, "payload over %d bytes", maxTestPayload)
	case req.ResourcesID != "" && !protocol.ValidResourceID(req.ResourcesID):
		return protocol.Errorf(protocol.CodeInvalidPushConfig, "resourcesID must be 1 to %d characters of A-Z a-z 0-9 _-.@+=", protocol.MaxPushResourceIDLen)
	}
	dev, err := h.d.Devices.Device(r.Context(), app.ID, req.PushID)
	if errors.Is(err, push.ErrNotFound) {
		return protocol.Errorf(protocol.CodeNotFound, "unknown PushID")
	}
	if err != nil {
		return fmt.Errorf("admin: test push: %w", err)
	}
	p, err := h.d.Providers.Provider(r.Context(), app.ID, dev.Vendor, dev.Environment)
	if errors.Is(err, push.ErrVendorNotConfigured) {
		return protocol.Errorf(protocol.CodeVendorNotConfigured, "the app has no %s credential for %s devices", dev.Vendor, dev.Environment)
	}
	if err != nil {
		return fmt.Errorf("admin: test push: %w", err)
	}
	job := push.Job{AppID: app.ID, UserID: dev.UserID, PushID: dev.PushID, Vendor: dev.Vendor}
	n, note, fail, err := h.d.Dispatch.Compose(r.Context(), job, dev, push.Content{
		Title: req.Title, Content: req.Content, Payload: req.Payload, ResourcesID: req.ResourcesID})
	if err != nil {
		return fmt.Errorf("admin: test push: %w", err)
	}
	reply := testPushReply{PushID: dev.PushID, Vendor: dev.Vendor, Environment: dev.Environment, Kind: n.Kind, Note: note}
	if fail != "" {
		reply.Outcome, reply.Reason = outcomeFailed, fail
		writeJSON(w, http.StatusOK, reply)
		return nil
	}
	// A fresh ID each time: job 0's would repeat, and vendors with an
	// idempotency key (vivo requestId, OPPO app_message_id) would drop the
	// second test push as a duplicate.
	n.ID = newUUID()
	ctx, cancel := h.vendorTimeout(r.Context())
	defer cancel()
	start := time.Now()
	res, err := p.Send(ctx, n)
	latency := time.Since(start)
	switch {
	case errors.Is(err, push.ErrPayloadTooLarge):
		return protocol.Errorf(protocol.CodePushTooLarge, "%s", err.Error())
	case errors.Is(err, push.ErrInvalidNotification):
		return protocol.Errorf(protocol.CodeInvalidArgument, "%s", err.Error())
	case errors.Is(err, push.ErrCredential):
		return protocol.Errorf(protocol.CodeInvalidCredential, "%s", err.Error())
	case err != nil:
		return protocol.Errorf(protocol.CodeVendorUnreachable, "%s did not answer: %s", dev.Vendor, err.Error())
	}
	reply.Outcome, reply.Status, reply.Reason, reply.VendorID = res.Outcome.String(), res.Status, res.Reason, res.VendorID
	reply.RetryAfterMs, reply.LatencyMs = res.RetryAfter.Milliseconds(), latency.Milliseconds()
	writeJSON(w, http.StatusOK, reply)
	return nil
}

// newUUID returns a random (version 4) UUID: APNs wants apns-id to be one.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// Trace limits: 50 jobs unless asked, at most 500 (each job costs a query
// for its attempts).
const (
	defaultTraceLimit = 50
	maxTraceLimit     = 500
)

type attemptView struct {
	Attempt   int       `json:"attempt"`
	At        time.Time `json:"at"`
	Outcome   string    `json:"outcome"`
	Status    int       `json:"status"`
	Reason    string    `json:"reason,omitempty"`
	LatencyMs int64     `json:"latencyMs"`
}

// jobView is a push job in a trace. Its IDs are decimal strings, as the
// protocol's message IDs: a JavaScript number cannot hold every 64-bit
// integer, and the console would show (and look up) a rounded one.
type jobView struct {
	ID           string         `json:"id"`
	MessageID    string         `json:"messageID"`
	Kind         push.JobKind   `json:"kind,omitempty"`
	CallID       string         `json:"callID,omitempty"`
	UserID       string         `json:"userID"`
	PushID       string         `json:"pushID"`
	Vendor       push.Vendor    `json:"vendor"`
	Status       push.JobStatus `json:"status"`
	Reason       string         `json:"reason,omitempty"`
	AttemptCount int            `json:"attemptCount"`
	NotBefore    time.Time      `json:"notBefore"`
	ExpiresAt    *time.Time     `json:"expiresAt,omitempty"`
	CreatedAt    time.Time      `json:"createdAt"`
	UpdatedAt    time.Time      `json:"updatedAt"`
	PushConfig   push.Content   `json:"pushConfig"`
	Attempts     []attemptView  `json:"attempts"`
}

// traceReply is the answer of GET .../trace.
type traceReply struct {
	Jobs []jobView `json:"jobs"`
	// DeviceEvents are a device's binding changes, newest first: only in
	// the trace by pushID.
	DeviceEvents []deviceEventView `json:"deviceEvents,omitempty"`
}

// trace returns the push jobs of a user, a device or a message, newest
// first, with every call made to a vendor for each; a device's trace also
// has its binding changes, newest first (deviceEvents).
func (h *Handler) trace(w http.ResponseWriter, r *http.Request, app im.App) error {
	q := r.URL.Query()
	f := push.TraceFilter{AppID: app.ID, UserID: q.Get("userID"), PushID: q.Get("pushID"), Limit: defaultTraceLimit}
	given := 0
	for _, k := range []string{"userID", "pushID", "messageID"} {
		if q.Get(k) != "" {
			given++
		}
	}
	if given != 1 {
		return protocol.Errorf(protocol.CodeInvalidArgument, "give exactly one of userID, pushID and messageID")
	}
	if s := q.Get("messageID"); s != "" {
		id, err := strconv.ParseInt(s, 10, 64)
		if err != nil || id <= 0 {
			return protocol.Errorf(protocol.CodeInvalidArgument, "messageID must be a positive integer")
		}
		f.MessageID = id
	}
	if f.UserID != "" && !protocol.ValidUserID(f.UserID) {
		return protocol.Errorf(protocol.CodeInvalidUserID, "")
	}
	if len(f.PushID) > maxPushIDLen {
		return protocol.Errorf(protocol.CodeInvalidArgument, "pushID must be 1 to %d characters", maxPushIDLen)
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxTraceLimit {
			return protocol.Errorf(protocol.CodeInvalidArgument, "limit must be 1 to %d", maxTraceLimit)
		}
		f.Limit = n
	}
	jobs, attempts, err := h.d.Devices.Trace(r.Context(), f)
	if err != nil {
		return fmt.Errorf("admin: trace: %w", err)
	}
	out := jobViews(jobs, attempts)
	reply := traceReply{Jobs: out}
	if f.PushID != "" {
		// A device's trace shows who it was bound to when: a rebind
		// moves its pushes to another user.
		if log, ok := h.d.Devices.(push.DeviceEventLog); ok {
			es, err := log.DeviceEvents(r.Context(), app.ID, f.PushID, f.Limit)
			if err != nil {
				return fmt.Errorf("admin: trace: %w", err)
			}
			reply.DeviceEvents = make([]deviceEventView, len(es))
			for i, e := range es {
				reply.DeviceEvents[i] = deviceEventView{At: e.At, Kind: e.Kind, FromUserID: e.FromUser, ToUserID: e.ToUser, Reason: e.Reason}
			}
		}
	}
	writeJSON(w, http.StatusOK, reply)
	return nil
}

// deviceEventView is one change of a device's binding in the trace.
type deviceEventView struct {
	At         time.Time            `json:"at"`
	Kind       push.DeviceEventKind `json:"kind"`
	FromUserID string               `json:"fromUserID,omitempty"`
	ToUserID   string               `json:"toUserID,omitempty"`
	Reason     string               `json:"reason,omitempty"`
}

type bindRequest struct {
	PushID string `json:"pushID"`
	UserID string `json:"userID"`
}

// deviceRegisterRequest registers a device from the app's server, as the
// device's own login or registerPush would: for apps that use push on its
// own, and for the console's simulated phones.
type deviceRegisterRequest struct {
	Vendor      string `json:"vendor"`
	Token       string `json:"token"`
	VoIPToken   string `json:"voipToken,omitempty"`
	Environment string `json:"environment"`
	// Platform defaults to ios for APNs and android for the others.
	Platform string `json:"platform,omitempty"`
	BundleID string `json:"bundleID"`
	// UserID, when given, binds the device to that user (taking it from
	// any other); empty leaves its binding as it was.
	UserID   string `json:"userID,omitempty"`
	Disabled bool   `json:"disabled,omitempty"`
}

// registerDevice registers (or updates) a device and answers its PushID.
func (h *Handler) registerDevice(w http.ResponseWriter, r *http.Request, app im.App) error {
	var req deviceRegisterRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	if req.Platform == "" {
		req.Platform = "android"
		if push.Vendor(req.Vendor) == push.VendorAPNs {
			req.Platform = "ios"
		}
		if push.Vendor(req.Vendor) == push.VendorWebPush {
			req.Platform = "web"
		}
	}
	if !protocol.ValidPlatform(req.Platform) {
		return protocol.Errorf(protocol.CodeInvalidArgument, "platform %q is not one of the documented platforms", req.Platform)
	}
	if req.UserID != "" && !protocol.ValidUserID(req.UserID) {
		return protocol.Errorf(protocol.CodeInvalidUserID, "")
	}
	reg := push.Registration{Vendor: push.Vendor(req.Vendor), Token: req.Token, VoIPToken: req.VoIPToken,
		Environment: push.Environment(req.Environment), Platform: req.Platform, BundleID: req.BundleID, Enabled: !req.Disabled}
	dev, err := reg.Device(app.ID, req.UserID)
	if err != nil {
		return protocol.Errorf(protocol.CodeInvalidPushDevice, "%s", strings.TrimPrefix(err.Error(), push.ErrInvalidRegistration.Error()+": "))
	}
	if err := h.d.Devices.RegisterDevice(r.Context(), dev); err != nil {
		return fmt.Errorf("admin: register device: %w", err)
	}
	stored, err := h.d.Devices.Device(r.Context(), app.ID, dev.PushID)
	if err != nil {
		return fmt.Errorf("admin: register device: %w", err)
	}
	writeJSON(w, http.StatusOK, bindRequest{PushID: stored.PushID, UserID: stored.UserID})
	return nil
}

// bind binds a registered device to a user, taking it from any user it
// was bound to (a device is bound to one user at a time).
func (h *Handler) bind(w http.ResponseWriter, r *http.Request, app im.App) error {
	var req bindRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	if req.PushID == "" || len(req.PushID) > maxPushIDLen {
		return protocol.Errorf(protocol.CodeInvalidArgument, "pushID must be 1 to %d characters", maxPushIDLen)
	}
	if !protocol.ValidUserID(req.UserID) {
		return protocol.Errorf(protocol.CodeInvalidUserID, "")
	}
	dev, err := h.d.Devices.Device(r.Context(), app.ID, req.PushID)
	if errors.Is(err, push.ErrNotFound) {
		return protocol.Errorf(protocol.CodeNotFound, "unknown PushID: a device registers itself before it can be bound")
	}
	if err != nil {
		return fmt.Errorf("admin: bind: %w", err)
	}
	dev.UserID = req.UserID
	if err := h.d.Devices.RegisterDevice(r.Context(), dev); err != nil {
		return fmt.Errorf("admin: bind: %w", err)
	}
	writeJSON(w, http.StatusOK, bindRequest{PushID: dev.PushID, UserID: dev.UserID})
	return nil
}

// unbind removes a device's binding: to anyone, or with ?userID= only if
// it is bound to that user (what a logout does). The device stays
// registered; unbinding an unbound device succeeds.
func (h *Handler) unbind(w http.ResponseWriter, r *http.Request, app im.App) error {
	pushID, user := r.PathValue("pushID"), r.URL.Query().Get("userID")
	if user != "" && !protocol.ValidUserID(user) {
		return protocol.Errorf(protocol.CodeInvalidUserID, "")
	}
	if len(pushID) > maxPushIDLen {
		return protocol.Errorf(protocol.CodeNotFound, "unknown PushID")
	}
	dev, err := h.d.Devices.Device(r.Context(), app.ID, pushID)
	if errors.Is(err, push.ErrNotFound) {
		return protocol.Errorf(protocol.CodeNotFound, "unknown PushID")
	}
	if err != nil {
		return fmt.Errorf("admin: unbind: %w", err)
	}
	if user == "" {
		user = dev.UserID
	}
	if user != "" {
		if err := h.d.Devices.UnbindDevice(r.Context(), app.ID, pushID, user); err != nil && !errors.Is(err, push.ErrNotFound) {
			return fmt.Errorf("admin: unbind: %w", err)
		}
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// jobViews shows jobs with their attempts (attempts[i] are jobs[i]'s).
func jobViews(jobs []push.Job, attempts [][]push.Attempt) []jobView {
	out := make([]jobView, len(jobs))
	for i, j := range jobs {
		v := jobView{ID: strconv.FormatInt(j.ID, 10), MessageID: strconv.FormatInt(j.MessageID, 10), Kind: j.Kind, CallID: j.CallID, UserID: j.UserID, PushID: j.PushID, Vendor: j.Vendor,
			Status: j.Status, Reason: j.Reason, AttemptCount: j.Attempts, NotBefore: j.NotBefore,
			CreatedAt: j.CreatedAt, UpdatedAt: j.UpdatedAt, Attempts: []attemptView{}}
		if !j.ExpiresAt.IsZero() {
			exp := j.ExpiresAt
			v.ExpiresAt = &exp
		}
		// The push config was validated when its message was sent; an
		// unreadable one shows empty here and failed its job already.
		v.PushConfig = j.PushConfig
		for _, a := range attempts[i] {
			v.Attempts = append(v.Attempts, attemptView{Attempt: a.Attempt, At: a.At, Outcome: a.Outcome,
				Status: a.Status, Reason: a.Reason, LatencyMs: a.Latency.Milliseconds()})
		}
		out[i] = v
	}
	return out
}
