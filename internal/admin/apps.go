package admin

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/heraldim/herald/internal/im"
	"github.com/heraldim/herald/internal/protocol"
	"github.com/heraldim/herald/internal/push"
)

// TenantStore is what the operator's endpoints need of the store.
type TenantStore interface {
	// CreateApp stores a new app; im.ErrConflict if the ID exists or
	// belonged to a deleted app.
	CreateApp(ctx context.Context, a im.App) error
	// App returns an app; im.ErrNotFound if there is none.
	App(ctx context.Context, id string) (im.App, error)
	// Apps returns up to limit apps with IDs after after, by ID.
	Apps(ctx context.Context, after string, limit int) ([]im.App, error)
	// UpdateApp stores a's name, credentials and state; im.ErrNotFound if
	// the app does not exist.
	UpdateApp(ctx context.Context, a im.App) error
	// DeleteApp removes the app and every row of it; im.ErrNotFound if
	// there is none.
	DeleteApp(ctx context.Context, id string, at time.Time) error
}

// AppEvents carries the changes of apps to the parts of the node that
// hold them beyond the store.
type AppEvents interface {
	// AppChanged: an app's credentials or state changed, or it was
	// deleted; cached copies must be dropped.
	AppChanged(appID string)
	// AppDisabled: the app was disabled (or is being deleted); its live
	// sessions must be closed. Called after AppChanged. It returns how
	// many it closed.
	AppDisabled(ctx context.Context, appID string) int
	// AppDeleting: the app's rows are about to be deleted (its sessions
	// were closed); what is held for it in memory (unwritten
	// acknowledgements, open calls) must go, so that nothing writes rows
	// of it again.
	AppDeleting(appID string)
}

// Rotation overlaps: how long the previous secret or admin key keeps
// working after a rotation, so that clients and backends move to the new
// one without an outage.
const (
	// DefaultOverlap is a day: time for an app's backend to be deployed
	// with the new value.
	DefaultOverlap = 24 * time.Hour
	// MaxOverlap is the longest token lifetime (token.MaxTTL): any token
	// minted before the rotation may still be used to its end.
	MaxOverlap = 30 * 24 * time.Hour
)

// App list paging: 100 apps unless asked, at most 1000.
const (
	defaultAppLimit = 100
	maxAppLimit     = 1000
)

// maxAppIDLen and maxAppNameLen bound an app's ID and name.
const (
	maxAppIDLen   = 64
	maxAppNameLen = 128
)

// operatorPrefix is the path prefix of the operator's endpoints: they take
// the operator key instead of an app's admin key.
const operatorPrefix = "/v1/admin/"

// appRoutes are the operator's endpoints on the apps (tenants).
func (h *Handler) appRoutes() []route {
	const p = "/v1/admin/apps"
	return []route{
		{"POST", p, h.createApp, []any{appCreateRequest{}}, appCreated{}},
		{"GET", p, h.listApps, nil, appList{}},
		{"GET", p + "/{appID}", h.showApp, nil, appView{}},
		{"POST", p + "/{appID}/rotate", h.rotateApp, []any{rotateRequest{}}, rotateReply{}},
		{"POST", p + "/{appID}/disable", h.disableApp, nil, disableReply{}},
		{"POST", p + "/{appID}/enable", h.enableApp, nil, appView{}},
		{"DELETE", p + "/{appID}", h.deleteApp, nil, nil},
	}
}

type appCreateRequest struct {
	// ID is optional: the server picks one when it is empty.
	ID   string `json:"id,omitempty"`
	Name string `json:"name"`
}

// appView is an app as the operator sees it: never its secrets.
type appView struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Disabled   bool       `json:"disabled"`
	DisabledAt *time.Time `json:"disabledAt,omitempty"`
	CreatedAt  time.Time  `json:"createdAt"`
	UpdatedAt  time.Time  `json:"updatedAt"`
	// PreviousSecretUntil and PreviousAdminKeyUntil are when the values
	// replaced by the last rotations stop being accepted (absent when
	// none is accepted any more).
	PreviousSecretUntil   *time.Time `json:"previousSecretUntil,omitempty"`
	PreviousAdminKeyUntil *time.Time `json:"previousAdminKeyUntil,omitempty"`
}

// appCreated is a new app with its credentials, shown this once.
type appCreated struct {
	appView
	Secret   string `json:"secret"`
	AdminKey string `json:"adminKey"`
}

type appList struct {
	Apps []appView `json:"apps"`
	// Next is the after parameter of the next page; empty on the last.
	Next string `json:"next,omitempty"`
}

type rotateRequest struct {
	// Which is "secret" (the server secret that signs login tokens) or
	// "adminKey".
	Which string `json:"which"`
	// OverlapSeconds is how long the previous value keeps working; absent:
	// DefaultOverlap, 0: refused at once (a leaked value).
	OverlapSeconds *int64 `json:"overlapSeconds,omitempty"`
}

// rotateReply is the app after a rotation with the new value, shown this
// once.
type rotateReply struct {
	appView
	Secret   string `json:"secret,omitempty"`
	AdminKey string `json:"adminKey,omitempty"`
}

type disableReply struct {
	appView
	// SessionsClosed is the number of live sessions closed (close code
	// 4006).
	SessionsClosed int `json:"sessionsClosed"`
}

func (h *Handler) viewOf(a im.App) appView {
	v := appView{ID: a.ID, Name: a.Name, Disabled: a.Disabled(), CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt}
	now := h.cfg.Now()
	if a.Disabled() {
		t := a.DisabledAt
		v.DisabledAt = &t
	}
	if a.PrevSecret != "" && now.Before(a.PrevSecretUntil) {
		t := a.PrevSecretUntil
		v.PreviousSecretUntil = &t
	}
	if a.PrevAdminKey != "" && now.Before(a.PrevAdminKeyUntil) {
		t := a.PrevAdminKeyUntil
		v.PreviousAdminKeyUntil = &t
	}
	return v
}

// operator checks the operator key, in constant time. With no operator key
// configured every request is refused.
func (h *Handler) operator(r *http.Request) error {
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	a, b := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(h.d.OperatorKey))
	if subtle.ConstantTimeCompare(a[:], b[:]) != 1 || !ok || h.d.OperatorKey == "" || h.d.Tenants == nil {
		return protocol.Errorf(protocol.CodeOperatorUnauthorized, "")
	}
	return nil
}

// validAppID: 1 to 64 characters of A-Z a-z 0-9 _ - . starting with a
// letter or digit.
func validAppID(id string) bool {
	if id == "" || len(id) > maxAppIDLen {
		return false
	}
	for i, c := range id {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case i > 0 && (c == '_' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return true
}

// validAppName: 1 to 128 characters of UTF-8 without control characters.
func validAppName(n string) bool {
	if strings.TrimSpace(n) == "" || utf8.RuneCountInString(n) > maxAppNameLen || !utf8.ValidString(n) {
		return false
	}
	return strings.IndexFunc(n, unicode.IsControl) < 0
}

// randomHex returns n random bytes in hex.
func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("admin: random: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// newSecret and newAdminKey are fresh credentials, as long as the
// development app's.
func newSecret() (string, error)   { return randomHex(32) }
func newAdminKey() (string, error) { return randomHex(24) }

func (h *Handler) createApp(w http.ResponseWriter, r *http.Request, _ im.App) error {
	var req appCreateRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	if !validAppName(req.Name) {
		return protocol.Errorf(protocol.CodeInvalidArgument, "name must be 1 to %d characters without control characters", maxAppNameLen)
	}
	if req.ID != "" && !validAppID(req.ID) {
		return protocol.Errorf(protocol.CodeInvalidArgument, "id must be 1 to %d characters of A-Z a-z 0-9 _ - . starting with a letter or digit", maxAppIDLen)
	}
	id := req.ID
	if id == "" {
		suffix, err := randomHex(8)
		if err != nil {
			return err
		}
		id = "app-" + suffix
	}
	secret, err := newSecret()
	if err != nil {
		return err
	}
	key, err := newAdminKey()
	if err != nil {
		return err
	}
	now := h.cfg.Now().UTC().Truncate(time.Millisecond)
	a := im.App{ID: id, Name: req.Name, Secret: secret, AdminKey: key, CreatedAt: now, UpdatedAt: now}
	err = h.d.Tenants.CreateApp(r.Context(), a)
	if errors.Is(err, im.ErrConflict) {
		return protocol.Errorf(protocol.CodeInvalidArgument, "id %q is taken (by an app, or by a deleted one: IDs are never reused)", id)
	}
	if err != nil {
		return fmt.Errorf("admin: create app: %w", err)
	}
	h.d.Log.Info("app created", "app", id, "name", req.Name)
	writeJSON(w, http.StatusOK, appCreated{appView: h.viewOf(a), Secret: secret, AdminKey: key})
	return nil
}

func (h *Handler) listApps(w http.ResponseWriter, r *http.Request, _ im.App) error {
	q := r.URL.Query()
	limit := defaultAppLimit
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxAppLimit {
			return protocol.Errorf(protocol.CodeInvalidArgument, "limit must be 1 to %d", maxAppLimit)
		}
		limit = n
	}
	// One more than asked tells whether there is a next page.
	apps, err := h.d.Tenants.Apps(r.Context(), q.Get("after"), limit+1)
	if err != nil {
		return fmt.Errorf("admin: list apps: %w", err)
	}
	out := appList{Apps: []appView{}}
	if len(apps) > limit {
		apps = apps[:limit]
		out.Next = apps[limit-1].ID
	}
	for _, a := range apps {
		out.Apps = append(out.Apps, h.viewOf(a))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// pathApp returns the app named in the path; not_found if there is none.
func (h *Handler) pathApp(r *http.Request) (im.App, error) {
	id := r.PathValue("appID")
	if !validAppID(id) {
		return im.App{}, protocol.Errorf(protocol.CodeNotFound, "no such app")
	}
	a, err := h.d.Tenants.App(r.Context(), id)
	if errors.Is(err, im.ErrNotFound) {
		return im.App{}, protocol.Errorf(protocol.CodeNotFound, "no such app")
	}
	if err != nil {
		return im.App{}, fmt.Errorf("admin: app: %w", err)
	}
	return a, nil
}

func (h *Handler) showApp(w http.ResponseWriter, r *http.Request, _ im.App) error {
	a, err := h.pathApp(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, h.viewOf(a))
	return nil
}

// changeApp reads the app in the path, applies fn and stores the result,
// with every change of an app serialized, then tells the node. fn returns
// false when nothing changes (nothing is written).
func (h *Handler) changeApp(r *http.Request, fn func(a *im.App) (bool, error)) (im.App, error) {
	h.tenantMu.Lock()
	defer h.tenantMu.Unlock()
	a, err := h.pathApp(r)
	if err != nil {
		return im.App{}, err
	}
	changed, err := fn(&a)
	if err != nil || !changed {
		return a, err
	}
	a.UpdatedAt = h.cfg.Now().UTC().Truncate(time.Millisecond)
	if err := h.d.Tenants.UpdateApp(r.Context(), a); errors.Is(err, im.ErrNotFound) {
		return im.App{}, protocol.Errorf(protocol.CodeNotFound, "no such app")
	} else if err != nil {
		return im.App{}, fmt.Errorf("admin: update app: %w", err)
	}
	if h.d.Events != nil {
		h.d.Events.AppChanged(a.ID)
	}
	return a, nil
}

func (h *Handler) rotateApp(w http.ResponseWriter, r *http.Request, _ im.App) error {
	var req rotateRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	if req.Which != "secret" && req.Which != "adminKey" {
		return protocol.Errorf(protocol.CodeInvalidArgument, `which must be "secret" or "adminKey"`)
	}
	overlap := DefaultOverlap
	if req.OverlapSeconds != nil {
		if *req.OverlapSeconds < 0 || *req.OverlapSeconds > int64(MaxOverlap/time.Second) {
			return protocol.Errorf(protocol.CodeInvalidArgument, "overlapSeconds must be 0 to %d", int64(MaxOverlap/time.Second))
		}
		overlap = time.Duration(*req.OverlapSeconds) * time.Second
	}
	var fresh string
	a, err := h.changeApp(r, func(a *im.App) (bool, error) {
		var err error
		if req.Which == "secret" {
			fresh, err = newSecret()
		} else {
			fresh, err = newAdminKey()
		}
		if err != nil {
			return false, err
		}
		until := h.cfg.Now().Add(overlap).UTC().Truncate(time.Millisecond)
		if req.Which == "secret" {
			a.PrevSecret, a.PrevSecretUntil, a.Secret = a.Secret, until, fresh
		} else {
			a.PrevAdminKey, a.PrevAdminKeyUntil, a.AdminKey = a.AdminKey, until, fresh
		}
		return true, nil
	})
	if err != nil {
		return err
	}
	h.d.Log.Info("app credential rotated", "app", a.ID, "which", req.Which, "overlap", overlap)
	out := rotateReply{appView: h.viewOf(a)}
	if req.Which == "secret" {
		out.Secret = fresh
	} else {
		out.AdminKey = fresh
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (h *Handler) disableApp(w http.ResponseWriter, r *http.Request, _ im.App) error {
	a, err := h.changeApp(r, func(a *im.App) (bool, error) {
		if a.Disabled() {
			return false, nil
		}
		a.DisabledAt = h.cfg.Now().UTC().Truncate(time.Millisecond)
		return true, nil
	})
	if err != nil {
		return err
	}
	// Closed whether or not this request disabled it: a retry after a
	// failure half-way still closes what is left.
	closed := 0
	if h.d.Events != nil {
		closed = h.d.Events.AppDisabled(r.Context(), a.ID)
	}
	h.d.Log.Info("app disabled", "app", a.ID, "sessions_closed", closed)
	writeJSON(w, http.StatusOK, disableReply{appView: h.viewOf(a), SessionsClosed: closed})
	return nil
}

func (h *Handler) enableApp(w http.ResponseWriter, r *http.Request, _ im.App) error {
	a, err := h.changeApp(r, func(a *im.App) (bool, error) {
		if !a.Disabled() {
			return false, nil
		}
		a.DisabledAt = time.Time{}
		return true, nil
	})
	if err != nil {
		return err
	}
	h.d.Log.Info("app enabled", "app", a.ID)
	writeJSON(w, http.StatusOK, h.viewOf(a))
	return nil
}

// deleteApp removes a disabled app with all its data. An enabled app is
// refused: disabling first closes its sessions and lets the operator
// check that nothing still uses it.
func (h *Handler) deleteApp(w http.ResponseWriter, r *http.Request, _ im.App) error {
	h.tenantMu.Lock()
	defer h.tenantMu.Unlock()
	a, err := h.pathApp(r)
	if err != nil {
		return err
	}
	if !a.Disabled() {
		return protocol.Errorf(protocol.CodeInvalidArgument, "app %s is enabled: disable it first (POST /v1/admin/apps/%s/disable)", a.ID, a.ID)
	}
	// Under writeMu, so that no credential of the app is installed
	// between the deletion and the removal of its providers.
	h.writeMu.Lock()
	defer h.writeMu.Unlock()
	if h.d.Events != nil {
		// Any session left (a login racing the disabling) goes first.
		h.d.Events.AppDisabled(r.Context(), a.ID)
		h.d.Events.AppDeleting(a.ID)
	}
	err = h.d.Tenants.DeleteApp(r.Context(), a.ID, h.cfg.Now())
	if errors.Is(err, im.ErrNotFound) {
		return protocol.Errorf(protocol.CodeNotFound, "no such app")
	}
	if err != nil {
		return fmt.Errorf("admin: delete app: %w", err)
	}
	h.dropProviders(a.ID)
	if h.d.Events != nil {
		h.d.Events.AppChanged(a.ID)
	}
	h.d.Log.Info("app deleted", "app", a.ID)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// dropProviders removes the push providers of a deleted app.
func (h *Handler) dropProviders(appID string) {
	h.mu.Lock()
	var vendors []push.Vendor
	for k := range h.live {
		if k.app == appID {
			vendors = append(vendors, k.vendor)
		}
	}
	h.mu.Unlock()
	for _, v := range vendors {
		h.install(appID, v, nil)
		h.d.Failures.ResetFailing(appID, v)
	}
}
