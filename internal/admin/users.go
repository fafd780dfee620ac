package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/heraldim/herald/internal/im"
	"github.com/heraldim/herald/internal/protocol"
	routepkg "github.com/heraldim/herald/internal/route"
)

// UserStore keeps the apps' users and their profiles (the store).
type UserStore interface {
	// PutUsers creates the users, or replaces the profile of those that
	// exist, in one transaction.
	PutUsers(ctx context.Context, appID string, us []im.UserProfile) error
	// User returns one user; im.ErrNotFound if there is none.
	User(ctx context.Context, appID, userID string) (im.User, error)
	// Users returns those of ids that are users of the app, in order.
	Users(ctx context.Context, appID string, ids []string) ([]im.User, error)
	// UpdateUser changes the fields of p that are set; im.ErrNotFound if
	// there is no such user.
	UpdateUser(ctx context.Context, appID, userID string, p im.UserPatch) (im.User, error)
	// DeleteUser removes the user, its devices and its pending push jobs;
	// im.ErrNotFound if there is no such user.
	DeleteUser(ctx context.Context, appID, userID string) error
	// RevokeTokens moves the user's token cutoff to before (never back)
	// and returns the cutoff in force; im.ErrNotFound if there is no such
	// user.
	RevokeTokens(ctx context.Context, appID, userID string, before time.Time) (time.Time, error)
}

// Sessions are the live sessions of this node (gateway.Hub): presence
// (route.Presence) and the controls that close sessions.
type Sessions interface {
	// UserSessions returns the user's live sessions.
	UserSessions(appID, userID string) []routepkg.SessionInfo
	// KickUser closes them all (kicked event, close 4008) and returns how
	// many.
	KickUser(appID, userID string) int
	// CloseRevoked closes those whose token was issued before cutoff
	// (close 4007) and returns how many.
	CloseRevoked(appID, userID string, cutoff time.Time) int
}

// UserCache is what the messaging core caches about users (im.Service):
// told after the store changed a user's tokens or removed it.
type UserCache interface {
	ForgetUser(appID, userID string)
}

// Profile field limits, in bytes of UTF-8.
const (
	maxNicknameBytes  = 256
	maxAvatarURLBytes = 2048
	maxExtraBytes     = 4096
	// maxUsersPerCall bounds an import's and a query's users.
	maxUsersPerCall = 100
)

// futureSlack is how far in the future a revocation's before may be: the
// backend's clock may run a little ahead of the server's.
const futureSlack = time.Minute

// userRoutes are the server API's user endpoints.
func (h *Handler) userRoutes() []route {
	const p = "/v1/apps/{appID}/users"
	return []route{
		{"POST", p + "/import", h.importUsers, []any{importRequest{}}, importReply{}},
		{"POST", p + "/query", h.queryUsers, []any{queryRequest{}}, queryReply{}},
		{"GET", p + "/{userID}", h.getUser, nil, userView{}},
		{"PATCH", p + "/{userID}", h.patchUser, []any{patchRequest{}}, userView{}},
		{"DELETE", p + "/{userID}", h.deleteUser, nil, nil},
		{"POST", p + "/{userID}/kick", h.kickUser, nil, kickReply{}},
		{"POST", p + "/{userID}/revoke-tokens", h.revokeTokens, []any{revokeRequest{}}, revokeReply{}},
	}
}

type importUser struct {
	UserID    string `json:"userID"`
	Nickname  string `json:"nickname"`
	AvatarURL string `json:"avatarURL"`
	Extra     string `json:"extra"`
}

type importRequest struct {
	Users []importUser `json:"users"`
}

// userError is one user of a batch call that was not applied or found.
type userError struct {
	UserID  string        `json:"userID"`
	Code    protocol.Code `json:"code"`
	Message string        `json:"message"`
}

type importReply struct {
	// ErrorUserList are the users not imported; the others were.
	ErrorUserList []userError `json:"errorUserList"`
}

type queryRequest struct {
	UserIDs []string `json:"userIDs"`
}

type queryReply struct {
	Users         []userView  `json:"users"`
	ErrorUserList []userError `json:"errorUserList"`
}

type sessionView struct {
	Platform string    `json:"platform"`
	DeviceID string    `json:"deviceID"`
	Since    time.Time `json:"since"`
}

type userView struct {
	UserID           string        `json:"userID"`
	Nickname         string        `json:"nickname"`
	AvatarURL        string        `json:"avatarURL"`
	Extra            string        `json:"extra"`
	CreatedAt        time.Time     `json:"createdAt"`
	UpdatedAt        time.Time     `json:"updatedAt"`
	TokensValidAfter *time.Time    `json:"tokensValidAfter,omitempty"`
	Online           bool          `json:"online"`
	Sessions         []sessionView `json:"sessions"`
	Devices          int           `json:"devices"`
}

type patchRequest struct {
	Nickname  *string `json:"nickname"`
	AvatarURL *string `json:"avatarURL"`
	Extra     *string `json:"extra"`
}

type kickReply struct {
	Sessions int `json:"sessions"`
}

type revokeRequest struct {
	// Before is Unix milliseconds or an RFC 3339 time; absent: now.
	Before json.RawMessage `json:"before"`
}

type revokeReply struct {
	TokensValidAfter time.Time `json:"tokensValidAfter"`
	SessionsClosed   int       `json:"sessionsClosed"`
}

// userInPath is the user ID of the path, once the user endpoints are
// known to be wired (usersReady).
func (h *Handler) userInPath(r *http.Request) (string, error) {
	if err := h.usersReady(); err != nil {
		return "", err
	}
	return pathUser(r)
}

// usersReady reports whether the user dependencies are wired.
func (h *Handler) usersReady() error {
	if h.d.Users == nil || h.d.Sessions == nil || h.d.UserCache == nil {
		return protocol.Errorf(protocol.CodeUnavailable, "the user endpoints are not available on this server")
	}
	return nil
}

// profileProblem says what is wrong with a profile's fields ("" if
// nothing).
func profileProblem(nickname, avatarURL, extra *string) string {
	check := func(v *string, name string, limit int) string {
		if v != nil && (len(*v) > limit || !utf8.ValidString(*v)) {
			return fmt.Sprintf("%s must be UTF-8 of at most %d bytes", name, limit)
		}
		return ""
	}
	for _, p := range []string{
		check(nickname, "nickname", maxNicknameBytes),
		check(avatarURL, "avatarURL", maxAvatarURLBytes),
		check(extra, "extra", maxExtraBytes),
	} {
		if p != "" {
			return p
		}
	}
	return ""
}

// importUsers creates or updates up to 100 users. Each invalid entry is
// reported in errorUserList (40004 a bad user ID, 40003 a bad field or a
// user ID given twice) and skipped; the others are applied together. A
// body that is not a list of 1 to 100 users changes nothing (40003).
func (h *Handler) importUsers(w http.ResponseWriter, r *http.Request, app im.App) error {
	if err := h.usersReady(); err != nil {
		return err
	}
	var req importRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	if len(req.Users) == 0 || len(req.Users) > maxUsersPerCall {
		return protocol.Errorf(protocol.CodeInvalidArgument, "users must list 1 to %d users", maxUsersPerCall)
	}
	reply := importReply{ErrorUserList: []userError{}}
	seen := make(map[string]bool, len(req.Users))
	ok := make([]im.UserProfile, 0, len(req.Users))
	for _, u := range req.Users {
		switch {
		case !protocol.ValidUserID(u.UserID):
			reply.ErrorUserList = append(reply.ErrorUserList, userErr(u.UserID, protocol.Errorf(protocol.CodeInvalidUserID, "")))
		case seen[u.UserID]:
			reply.ErrorUserList = append(reply.ErrorUserList, userErr(u.UserID, protocol.Errorf(protocol.CodeInvalidArgument, "user listed twice")))
		default:
			seen[u.UserID] = true
			if p := profileProblem(&u.Nickname, &u.AvatarURL, &u.Extra); p != "" {
				reply.ErrorUserList = append(reply.ErrorUserList, userErr(u.UserID, protocol.Errorf(protocol.CodeInvalidArgument, "%s", p)))
				continue
			}
			ok = append(ok, im.UserProfile{UserID: u.UserID, Nickname: u.Nickname, AvatarURL: u.AvatarURL, Extra: u.Extra})
		}
	}
	if len(ok) > 0 {
		if err := h.d.Users.PutUsers(r.Context(), app.ID, ok); err != nil {
			return fmt.Errorf("admin: import users: %w", err)
		}
	}
	writeJSON(w, http.StatusOK, reply)
	return nil
}

func userErr(id string, e *protocol.Error) userError {
	return userError{UserID: id, Code: e.Code, Message: e.Message}
}

// queryUsers returns up to 100 users by ID (a repeated one once); the
// unknown and invalid ones are in errorUserList (40401, 40004).
func (h *Handler) queryUsers(w http.ResponseWriter, r *http.Request, app im.App) error {
	if err := h.usersReady(); err != nil {
		return err
	}
	var req queryRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	if len(req.UserIDs) == 0 || len(req.UserIDs) > maxUsersPerCall {
		return protocol.Errorf(protocol.CodeInvalidArgument, "userIDs must list 1 to %d user IDs", maxUsersPerCall)
	}
	reply := queryReply{Users: []userView{}, ErrorUserList: []userError{}}
	valid := make([]string, 0, len(req.UserIDs))
	seen := make(map[string]bool, len(req.UserIDs))
	for _, id := range req.UserIDs {
		switch {
		case !protocol.ValidUserID(id):
			reply.ErrorUserList = append(reply.ErrorUserList, userErr(id, protocol.Errorf(protocol.CodeInvalidUserID, "")))
		case !seen[id]:
			seen[id] = true
			valid = append(valid, id)
		}
	}
	us, err := h.d.Users.Users(r.Context(), app.ID, valid)
	if err != nil {
		return fmt.Errorf("admin: query users: %w", err)
	}
	found := make(map[string]bool, len(us))
	for _, u := range us {
		found[u.UserID] = true
		reply.Users = append(reply.Users, h.userView(u))
	}
	for _, id := range valid {
		if !found[id] {
			reply.ErrorUserList = append(reply.ErrorUserList, userErr(id, protocol.Errorf(protocol.CodeUserNotFound, "")))
		}
	}
	writeJSON(w, http.StatusOK, reply)
	return nil
}

// userView is a user with its live sessions on this node.
func (h *Handler) userView(u im.User) userView {
	v := userView{UserID: u.UserID, Nickname: u.Nickname, AvatarURL: u.AvatarURL, Extra: u.Extra,
		CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt, Devices: u.Devices, Sessions: []sessionView{}}
	if v.UpdatedAt.IsZero() {
		v.UpdatedAt = u.CreatedAt
	}
	if !u.TokensValidAfter.IsZero() {
		t := u.TokensValidAfter
		v.TokensValidAfter = &t
	}
	for _, s := range h.d.Sessions.UserSessions(u.AppID, u.UserID) {
		v.Sessions = append(v.Sessions, sessionView{Platform: s.Platform, DeviceID: s.DeviceID, Since: s.Since.UTC()})
	}
	v.Online = len(v.Sessions) > 0
	return v
}

// pathUser returns the user ID of the path (40004 if it is not one).
func pathUser(r *http.Request) (string, error) {
	id := r.PathValue("userID")
	if !protocol.ValidUserID(id) {
		return "", protocol.Errorf(protocol.CodeInvalidUserID, "")
	}
	return id, nil
}

// notFound maps im.ErrNotFound to user_not_found.
func notFound(op string, err error) error {
	if errors.Is(err, im.ErrNotFound) {
		return protocol.Errorf(protocol.CodeUserNotFound, "")
	}
	return fmt.Errorf("admin: %s: %w", op, err)
}

func (h *Handler) getUser(w http.ResponseWriter, r *http.Request, app im.App) error {
	id, err := h.userInPath(r)
	if err != nil {
		return err
	}
	u, err := h.d.Users.User(r.Context(), app.ID, id)
	if err != nil {
		return notFound("get user", err)
	}
	writeJSON(w, http.StatusOK, h.userView(u))
	return nil
}

// patchUser changes the profile fields given (at least one).
func (h *Handler) patchUser(w http.ResponseWriter, r *http.Request, app im.App) error {
	id, err := h.userInPath(r)
	if err != nil {
		return err
	}
	var req patchRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	if req.Nickname == nil && req.AvatarURL == nil && req.Extra == nil {
		return protocol.Errorf(protocol.CodeInvalidArgument, "give at least one of nickname, avatarURL and extra")
	}
	if p := profileProblem(req.Nickname, req.AvatarURL, req.Extra); p != "" {
		return protocol.Errorf(protocol.CodeInvalidArgument, "%s", p)
	}
	u, err := h.d.Users.UpdateUser(r.Context(), app.ID, id, im.UserPatch{Nickname: req.Nickname, AvatarURL: req.AvatarURL, Extra: req.Extra})
	if err != nil {
		return notFound("update user", err)
	}
	writeJSON(w, http.StatusOK, h.userView(u))
	return nil
}

// deleteUser kicks the user's live sessions, then removes it with its
// devices, bindings and pending push jobs. Its messages stay in the
// history of the others.
func (h *Handler) deleteUser(w http.ResponseWriter, r *http.Request, app im.App) error {
	id, err := h.userInPath(r)
	if err != nil {
		return err
	}
	if _, err := h.d.Users.User(r.Context(), app.ID, id); err != nil {
		return notFound("delete user", err)
	}
	// Sessions first: a session that ends after the devices are gone has
	// nowhere to push what it owes.
	h.d.Sessions.KickUser(app.ID, id)
	if err := h.d.Users.DeleteUser(r.Context(), app.ID, id); err != nil {
		return notFound("delete user", err)
	}
	h.d.UserCache.ForgetUser(app.ID, id)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handler) kickUser(w http.ResponseWriter, r *http.Request, app im.App) error {
	id, err := h.userInPath(r)
	if err != nil {
		return err
	}
	if _, err := h.d.Users.User(r.Context(), app.ID, id); err != nil {
		return notFound("kick user", err)
	}
	writeJSON(w, http.StatusOK, kickReply{Sessions: h.d.Sessions.KickUser(app.ID, id)})
	return nil
}

// revokeTokens refuses from now on the user's tokens issued before
// "before" (default now) and closes its live sessions logged in with one.
func (h *Handler) revokeTokens(w http.ResponseWriter, r *http.Request, app im.App) error {
	id, err := h.userInPath(r)
	if err != nil {
		return err
	}
	var req revokeRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	now := h.cfg.Now()
	before, err := parseBefore(req.Before, now)
	if err != nil {
		return err
	}
	cutoff, err := h.d.Users.RevokeTokens(r.Context(), app.ID, id, before)
	if err != nil {
		return notFound("revoke tokens", err)
	}
	h.d.UserCache.ForgetUser(app.ID, id)
	closed := h.d.Sessions.CloseRevoked(app.ID, id, cutoff)
	writeJSON(w, http.StatusOK, revokeReply{TokensValidAfter: cutoff.UTC(), SessionsClosed: closed})
	return nil
}

// parseBefore reads a revocation's before: Unix milliseconds or an RFC
// 3339 time, absent or null for now, at most futureSlack ahead of now.
func parseBefore(raw json.RawMessage, now time.Time) (time.Time, error) {
	bad := protocol.Errorf(protocol.CodeInvalidArgument, "before must be Unix milliseconds or an RFC 3339 time, not after now")
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return now, nil
	}
	var t time.Time
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return time.Time{}, bad
		}
		p, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return time.Time{}, bad
		}
		t = p
	} else {
		ms, err := strconv.ParseInt(string(raw), 10, 64)
		if err != nil {
			return time.Time{}, bad
		}
		t = time.UnixMilli(ms)
	}
	if t.UnixMilli() <= 0 || t.After(now.Add(futureSlack)) {
		return time.Time{}, bad
	}
	return t, nil
}
