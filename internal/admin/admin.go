// Package admin serves Herald's authenticated admin REST API under
// /v1/apps/{appID}/: an app's vendor push credentials, test pushes to one
// device (the console's "online debugging"), the delivery trace, and
// device bindings for app backends that use push on its own.
//
// Every request carries the admin key of the app named in its path
// (Authorization: Bearer <admin key>); a request for one app never reads or
// changes another's data. Errors use the catalogue of internal/protocol:
// {"code": 40105, "message": "..."} with the code's HTTP status. Bad input
// changes nothing. docs/openapi.yaml describes every endpoint.
package admin

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/heraldim/herald/internal/im"
	"github.com/heraldim/herald/internal/protocol"
	"github.com/heraldim/herald/internal/push"
	"github.com/heraldim/herald/internal/push/apns"
)

// Apps finds an app (for its admin key).
type Apps interface {
	// App returns an app; im.ErrNotFound if there is none.
	App(ctx context.Context, id string) (im.App, error)
}

// CredentialStore keeps the apps' vendor credentials.
type CredentialStore interface {
	// PutCredential stores c, replacing the app's credential for c.Vendor.
	PutCredential(ctx context.Context, c push.Credential) error
	// Credentials returns an app's credentials; every app's when appID is
	// empty.
	Credentials(ctx context.Context, appID string) ([]push.Credential, error)
	// DeleteCredential removes one; push.ErrNotFound if there is none.
	DeleteCredential(ctx context.Context, appID string, v push.Vendor) error
}

// DeviceStore is what the admin API needs of push persistence.
type DeviceStore interface {
	Device(ctx context.Context, appID, pushID string) (push.Device, error)
	RegisterDevice(ctx context.Context, d push.Device) error
	UnbindDevice(ctx context.Context, appID, pushID, userID string) error
	Trace(ctx context.Context, f push.TraceFilter) ([]push.Job, [][]push.Attempt, error)
}

// Providers is the running node's provider set (push.ProviderSet).
type Providers interface {
	push.Providers
	// Set installs, or with nil removes, an app's provider for a vendor
	// and environment.
	Set(appID string, v push.Vendor, env push.Environment, p push.Provider)
}

// Failures reports the credentials the dispatcher found failing
// (push.Dispatcher).
type Failures interface {
	// Failing returns reasons keyed app/vendor/environment.
	Failing() map[string]string
	// ResetFailing forgets an app's vendor's failures.
	ResetFailing(appID string, v push.Vendor)
}

// ResourceStore keeps the apps' push resources.
type ResourceStore interface {
	// PutResource stores r, replacing the app's resource with its ID.
	PutResource(ctx context.Context, r push.Resource) error
	// Resource returns one; push.ErrNotFound if there is none.
	Resource(ctx context.Context, appID, id string) (push.Resource, error)
	// Resources returns an app's resources by ID.
	Resources(ctx context.Context, appID string) ([]push.Resource, error)
	// DeleteResource removes one; push.ErrNotFound if there is none.
	DeleteResource(ctx context.Context, appID, id string) error
	// PlanIntent writes a pending push job for every eligible device of
	// the intent's targets (push.Eligible) in one transaction and returns
	// the jobs' IDs.
	PlanIntent(ctx context.Context, in push.Intent) ([]int64, error)
}

// Dispatch is what the admin API tells the running dispatcher
// (push.Dispatcher).
type Dispatch interface {
	// Wake makes it look for due jobs now.
	Wake()
	// InvalidateResource drops its cached copy of a resource.
	InvalidateResource(appID, id string)
	// Compose builds the push of job j to device dev from push config c
	// exactly as the dispatcher would send it (push.Dispatcher.Compose):
	// note says what was changed or could not apply, a non-empty fail
	// that it cannot be pushed at all, err is a store error.
	Compose(ctx context.Context, j push.Job, dev push.Device, c push.Content) (n push.Notification, note, fail string, err error)
}

// Deps are the handler's dependencies; all are required but
// ProviderTokens and AccessTokens.
type Deps struct {
	Apps        Apps
	Credentials CredentialStore
	Devices     DeviceStore
	Resources   ResourceStore
	Providers   Providers
	Failures    Failures
	Dispatch    Dispatch
	Log         *slog.Logger
	// ProviderTokens persists the APNs provider tokens and shares them with
	// every process on the store, so that a restart or a second node reuses
	// the token APNs knows. Nil: each process keeps its own in memory (and
	// a restart within 20 minutes is refused by APNs for a while).
	ProviderTokens apns.TokenStore
	// AccessTokens shares the access tokens of FCM, Huawei, OPPO, vivo
	// and Honor with every node on the store (the vendors limit how often
	// they are fetched). Nil: each provider keeps its own in memory.
	AccessTokens push.TokenStore
	// Messages is the messaging core, for the server API's message
	// endpoints. Nil: they answer unavailable.
	Messages Messages
	// Users, Sessions and UserCache serve the user endpoints (users.go),
	// all three or none: without them those endpoints answer unavailable.
	Users     UserStore
	Sessions  Sessions
	UserCache UserCache
	// Webhooks manages the apps' webhooks (webhook.Service). Nil: the
	// webhook endpoints answer not_found.
	Webhooks Webhooks
	// CredentialEvents, when set, is told after an app's push credential
	// was stored or removed here, so that the other nodes of a cluster
	// install the change too (Handler.ReloadProviders).
	CredentialEvents CredentialEvents
	// Tenants and OperatorKey serve the operator's endpoints under
	// /v1/admin (creating and managing apps); without both every request
	// there is refused (operator_unauthorized). Events, when set, is told
	// of every change of an app.
	Tenants     TenantStore
	OperatorKey string
	Events      AppEvents
	// Groups serves the group endpoints (the IM service). Nil: they answer
	// unavailable.
	Groups Groups
	// Console serves the console's overview (console.go). Nil: it answers
	// unavailable.
	Console ConsoleStats
	// Stats reads the push statistics (stats.go). Nil: they answer
	// unavailable.
	Stats push.StatsStore
}

// Config tunes the handler. Zero values take the defaults.
type Config struct {
	// VendorTimeout bounds a test push or a credential check, which wait
	// for the vendor while the admin's request is open. Default 30 s: two
	// provider timeouts' worth of a slow handshake, below common proxy
	// timeouts (60 s).
	VendorTimeout time.Duration
	// Now is the clock (certificate expiry in listings). Nil: time.Now.
	Now func() time.Time
	// RateLimit limits each app's requests, after its admin key was
	// checked (limit.Keyed, keyed by app ID): over it, 429 rate_limited
	// with Retry-After. Nil: no limit.
	RateLimit RateLimiter
}

// RateLimiter takes one request of key, or says when to retry
// (limit.Keyed).
type RateLimiter interface {
	Allow(key string) (retryAfter time.Duration, ok bool)
}

// Handler serves the admin API. It owns the providers built from stored
// credentials and installs them in Deps.Providers.
type Handler struct {
	d      Deps
	cfg    Config
	tokens *apns.TokenCache

	// writeMu serializes credential changes, so that the stored
	// credential and the installed provider always match.
	writeMu sync.Mutex

	mu   sync.Mutex
	live map[liveKey]*liveProvider
	// emulated is the emulated phones' API (SetEmulatedPhones); nil when
	// not emulating. Guarded by mu.
	emulated    http.Handler
	emulatedApp string

	// tenantMu serializes the operator's changes of apps (read, change,
	// write).
	tenantMu sync.Mutex
}

type liveKey struct {
	app    string
	vendor push.Vendor
}

// liveProvider is a provider built from a stored credential, or the error
// that kept it from being built when the stored credential no longer works
// (a certificate that expired while the server was down).
type liveProvider struct {
	p    push.Provider
	envs []push.Environment
	err  string
}

// New returns a handler; it starts nothing.
func New(d Deps, cfg Config) (*Handler, error) {
	if d.Apps == nil || d.Credentials == nil || d.Devices == nil || d.Providers == nil || d.Failures == nil ||
		d.Resources == nil || d.Dispatch == nil || d.Log == nil {
		return nil, errors.New("admin: every dependency is required")
	}
	if (d.Users == nil) != (d.Sessions == nil) || (d.Users == nil) != (d.UserCache == nil) {
		return nil, errors.New("admin: Users, Sessions and UserCache go together")
	}
	if cfg.VendorTimeout <= 0 {
		cfg.VendorTimeout = 30 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	// One token cache for every app: APNs counts provider-token changes
	// per team, and two apps (or a replaced credential) may share a key.
	tokens := apns.NewTokenCache(d.ProviderTokens, d.Log)
	return &Handler{d: d, cfg: cfg, tokens: tokens, live: map[liveKey]*liveProvider{}}, nil
}

// route is one endpoint of the API: its method and path pattern, its
// handler, and the Go types of its JSON request bodies and of its 200
// answer (nil for none), which docs/openapi.yaml must describe
// (TestOpenAPIMatchesHandlers).
type route struct {
	method, path string
	fn           endpoint
	requests     []any
	reply        any
}

// authKind is the key a route takes.
type authKind int

const (
	authApp      authKind = iota // the admin key of the app in the path
	authOperator                 // the operator key (paths under /v1/admin/)
)

// auth is the key rt takes: the operator's under operatorPrefix.
func (rt route) auth() authKind {
	if strings.HasPrefix(rt.path, operatorPrefix) {
		return authOperator
	}
	return authApp
}

// routes are the API's endpoints, one group per area (each in its own
// file).
func (h *Handler) routes() []route {
	var rs []route
	for _, group := range [][]route{
		h.pushRoutes(),
		h.appRoutes(),
		h.userRoutes(),
		h.groupRoutes(),
		h.messageRoutes(),
		h.revokeRoutes(),
		h.webhookRoutes(),
		h.consoleRoutes(),
		h.statsRoutes(),
	} {
		rs = append(rs, group...)
	}
	return rs
}

// pushRoutes are the push endpoints: credentials, test pushes, trace,
// bindings, resources and pushes without a message.
func (h *Handler) pushRoutes() []route {
	const p = "/v1/apps/{appID}/push"
	return []route{
		{"GET", p + "/credentials", h.listCredentials, nil, credentialList{}},
		{"PUT", p + "/credentials/{vendor}", h.putCredential,
			[]any{apnsConfig{}, fcmConfig{}, huaweiConfig{}, xiaomiConfig{}, oppoConfig{}, vivoConfig{}, honorConfig{}, webpushConfig{}}, credentialView{}},
		{"DELETE", p + "/credentials/{vendor}", h.deleteCredential, nil, nil},
		{"POST", p + "/credentials/{vendor}/check", h.checkCredential, nil, checkReply{}},
		{"POST", p + "/test", h.testPush, []any{testPushRequest{}}, testPushReply{}},
		{"GET", p + "/trace", h.trace, nil, traceReply{}},
		{"POST", p + "/devices", h.registerDevice, []any{deviceRegisterRequest{}}, bindRequest{}},
		{"POST", p + "/bindings", h.bind, []any{bindRequest{}}, bindRequest{}},
		{"DELETE", p + "/bindings/{pushID}", h.unbind, nil, nil},
		{"GET", p + "/resources", h.listResources, nil, resourceList{}},
		{"GET", p + "/resources/{resourceID}", h.getResource, nil, resourceView{}},
		{"PUT", p + "/resources/{resourceID}", h.putResource, []any{push.ResourceSpec{}}, resourceView{}},
		{"DELETE", p + "/resources/{resourceID}", h.deleteResource, nil, nil},
		{"POST", p + "/send", h.send, []any{sendRequest{}}, sendReply{}},
	}
}

// Register mounts the API's routes on mux.
func (h *Handler) Register(mux *http.ServeMux) {
	for _, rt := range h.routes() {
		mux.Handle(rt.method+" "+rt.path, h.authed(rt.auth(), rt.fn))
	}
	// The emulated phones' API, any method and path below (console.go).
	for _, p := range phonesPatterns {
		mux.Handle(p, h.authed(authApp, h.servePhones))
	}
	mux.HandleFunc("/v1/apps/", func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, protocol.Errorf(protocol.CodeNotFound, "no such endpoint (or method)"))
	})
	mux.HandleFunc(operatorPrefix, func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, protocol.Errorf(protocol.CodeNotFound, "no such endpoint (or method)"))
	})
}

// Close releases the connections of the providers the handler built.
func (h *Handler) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for k, lp := range h.live {
		closeProvider(lp.p)
		delete(h.live, k)
	}
}

// endpoint is an authenticated handler: it answers with an error from the
// catalogue, or writes its own success.
type endpoint func(w http.ResponseWriter, r *http.Request, app im.App) error

// authed checks the admin key of the app in the path (or the operator key,
// for operator routes: fn then gets no app), then runs fn.
func (h *Handler) authed(kind authKind, fn endpoint) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var app im.App
		var err error
		if kind == authOperator {
			err = h.operator(r)
		} else {
			app, err = h.authenticate(r)
		}
		if err == nil {
			err = h.limit(w, app.ID)
		}
		if err == nil {
			err = fn(w, r, app)
		}
		if err == nil {
			return
		}
		var pe *protocol.Error
		if !errors.As(err, &pe) {
			if r.Context().Err() == nil {
				h.d.Log.Error("admin request failed", "method", r.Method, "path", r.URL.Path, "err", err)
			}
			pe = protocol.Errorf(protocol.CodeInternal, "")
		}
		if pe.Code == protocol.CodeAdminUnauthorized || pe.Code == protocol.CodeOperatorUnauthorized {
			w.Header().Set("WWW-Authenticate", `Bearer realm="herald"`)
		}
		writeError(w, pe)
	})
}

// limit takes one request from the app's REST rate, or returns
// rate_limited with its Retry-After header set (in whole seconds, rounded
// up; retryAfterMs in the body is exact). Only authenticated requests
// count: a stranger cannot use up an app's budget.
func (h *Handler) limit(w http.ResponseWriter, appID string) error {
	if h.cfg.RateLimit == nil {
		return nil
	}
	after, ok := h.cfg.RateLimit.Allow(appID)
	if ok {
		return nil
	}
	secs := max(1, int64((after+time.Second-1)/time.Second))
	w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	return protocol.Errorf(protocol.CodeRateLimited, "over the app's REST request rate; retry after %s", after.Round(time.Millisecond)).WithRetryAfter(after)
}

// authenticate returns the app in the path when the request carries its
// admin key. An unknown app and a wrong key get the same answer, after the
// same constant-time comparison, so that app IDs cannot be probed. The
// previous admin key works until its rotation's overlap ends. A disabled
// app answers app_disabled, to its admin key only.
func (h *Handler) authenticate(r *http.Request) (im.App, error) {
	unauthorized := protocol.Errorf(protocol.CodeAdminUnauthorized, "")
	appID := r.PathValue("appID")
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if appID == "" || len(appID) > 128 {
		return im.App{}, unauthorized
	}
	app, err := h.d.Apps.App(r.Context(), appID)
	if err != nil && !errors.Is(err, im.ErrNotFound) {
		return im.App{}, fmt.Errorf("admin: app: %w", err)
	}
	// Compare digests: equal lengths, so the comparison's time says
	// nothing about the key's length either.
	a := sha256.Sum256([]byte(got))
	match := 0
	for _, key := range app.AdminKeys(h.cfg.Now()) {
		b := sha256.Sum256([]byte(key))
		match |= subtle.ConstantTimeCompare(a[:], b[:])
	}
	if match != 1 || !ok || err != nil || app.AdminKey == "" {
		return im.App{}, unauthorized
	}
	if app.Disabled() {
		return im.App{}, protocol.Errorf(protocol.CodeAppDisabled, "")
	}
	return app, nil
}

// maxBody bounds request bodies: credentials are a few KB (a service
// account is about 2.3 KB, a certificate chain with its key under 10 KB).
const maxBody = 256 << 10

// decode reads a JSON object into v, refusing unknown fields, trailing data
// and bodies over maxBody.
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return protocol.Errorf(protocol.CodeInvalidArgument, "body over %d bytes", maxBody)
		}
		return protocol.Errorf(protocol.CodeInvalidArgument, "body is not a JSON object of the documented shape: %s", jsonProblem(err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return protocol.Errorf(protocol.CodeInvalidArgument, "body has data after its JSON object")
	}
	return nil
}

// jsonProblem describes a decoding error without echoing the input (a
// syntax error's text is only an offset; a type error names the field).
func jsonProblem(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("invalid JSON at byte %d", se.Offset)
	case errors.As(err, &te):
		return fmt.Sprintf("field %q must be %s", te.Field, te.Type)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "empty or truncated body"
	case strings.HasPrefix(err.Error(), "json: unknown field"):
		return strings.TrimPrefix(err.Error(), "json: ")
	}
	return "unreadable"
}

// writeJSON writes a response; a client gone before it is written is no
// error of ours.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, e *protocol.Error) {
	writeJSON(w, e.Code.HTTPStatus(), e)
}

// vendorTimeout is the context for a call that waits for a vendor.
func (h *Handler) vendorTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, h.cfg.VendorTimeout)
}
