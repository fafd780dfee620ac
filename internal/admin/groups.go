package admin

import (
	"context"
	"net/http"
	"strconv"

	"github.com/heraldim/herald/internal/gateway"
	"github.com/heraldim/herald/internal/im"
	"github.com/heraldim/herald/internal/protocol"
)

// Groups is what the server API's group endpoints need of the IM service
// (im.Service): its group changes made as the app's server (im.AppServer),
// which sends the members the same events as the WebSocket requests do.
type Groups interface {
	CreateGroupAs(ctx context.Context, appID string, a im.Actor, owner string, req im.GroupCreate) (im.GroupResult, error)
	GroupInfoAs(ctx context.Context, appID string, a im.Actor, req im.GroupRef) (im.GroupResult, error)
	GroupMembersAs(ctx context.Context, appID string, a im.Actor, req im.GroupPage) (im.GroupMembersPage, error)
	InviteToGroupAs(ctx context.Context, appID string, a im.Actor, req im.GroupUsers) (im.GroupUsersResult, error)
	KickFromGroupAs(ctx context.Context, appID string, a im.Actor, req im.GroupUsers) (im.GroupUsersResult, error)
	DismissGroupAs(ctx context.Context, appID string, a im.Actor, req im.GroupRef) (struct{}, error)
	SetGroupJoinModeAs(ctx context.Context, appID string, a im.Actor, req im.GroupSetJoinMode) (struct{}, error)
	TransferGroupAs(ctx context.Context, appID string, a im.Actor, req im.GroupTransfer) (struct{}, error)
	GroupApplicationListAs(ctx context.Context, appID string, a im.Actor, req im.GroupPage) (im.JoinRequestPage, error)
	DecideGroupApplicationAs(ctx context.Context, appID string, a im.Actor, req im.GroupApplicationRef, accept bool) (im.JoinRequest, error)
}

// groupRoutes are the server API's group endpoints.
func (h *Handler) groupRoutes() []route {
	const p = "/v1/apps/{appID}/groups"
	return []route{
		{"POST", p, h.createGroup, []any{groupCreateRequest{}}, groupCreateReply{}},
		{"GET", p + "/{groupID}", h.getGroup, nil, groupView{}},
		{"DELETE", p + "/{groupID}", h.dismissGroup, nil, nil},
		{"POST", p + "/{groupID}/members", h.addGroupMembers, []any{groupUsersRequest{}}, protocol.GroupUsersReply{}},
		{"POST", p + "/{groupID}/members/remove", h.removeGroupMembers, []any{groupUsersRequest{}}, protocol.GroupUsersReply{}},
		{"PUT", p + "/{groupID}/join-mode", h.setGroupJoinMode, []any{joinModeRequest{}}, nil},
		{"PUT", p + "/{groupID}/owner", h.transferGroup, []any{ownerRequest{}}, nil},
		{"GET", p + "/{groupID}/applications", h.groupApplications, nil, protocol.GroupApplicationListReply{}},
		{"POST", p + "/{groupID}/applications/{userID}/accept", h.acceptApplication, nil, protocol.GroupApplication{}},
		{"POST", p + "/{groupID}/applications/{userID}/reject", h.rejectApplication, nil, protocol.GroupApplication{}},
	}
}

// groupCreateRequest creates a group for an owner; the owner and the
// members need not have logged in yet.
type groupCreateRequest struct {
	GroupID      string   `json:"groupID,omitempty"`
	Name         string   `json:"name"`
	ExtendedData string   `json:"extendedData,omitempty"`
	Owner        string   `json:"ownerUserID"`
	Members      []string `json:"members,omitempty"`
	JoinMode     *int     `json:"joinMode,omitempty"`
}

// groupCreateReply is the group created and the members that could not be
// added.
type groupCreateReply struct {
	Group         protocol.Group            `json:"group"`
	ErrorUserList []protocol.GroupErrorUser `json:"errorUserList,omitempty"`
}

// groupView is a group and a page of its members.
type groupView struct {
	Group   protocol.Group         `json:"group"`
	Members []protocol.GroupMember `json:"members"`
	Next    string                 `json:"next,omitempty"`
}

type groupUsersRequest struct {
	UserIDs []string `json:"userIDs"`
}

type joinModeRequest struct {
	JoinMode *int `json:"joinMode"`
}

type ownerRequest struct {
	ToUserID string `json:"toUserID"`
}

// groups is the IM service, or an error when the handler was built
// without it.
func (h *Handler) groups() (Groups, error) {
	if h.d.Groups == nil {
		return nil, protocol.Errorf(protocol.CodeUnavailable, "groups are not served here")
	}
	return h.d.Groups, nil
}

// page reads the count and next query parameters.
func page(r *http.Request) (int, string, error) {
	q := r.URL.Query()
	n := 0
	if s := q.Get("count"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil || n <= 0 {
			return 0, "", protocol.Errorf(protocol.CodeInvalidArgument, "count must be a positive integer")
		}
	}
	return n, q.Get("next"), nil
}

func (h *Handler) createGroup(w http.ResponseWriter, r *http.Request, app im.App) error {
	g, err := h.groups()
	if err != nil {
		return err
	}
	var req groupCreateRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	rep, err := g.CreateGroupAs(r.Context(), app.ID, im.AppServer(), req.Owner, im.GroupCreate{
		GroupID: req.GroupID, Name: req.Name, ExtendedData: req.ExtendedData, Members: req.Members, JoinMode: req.JoinMode,
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, groupCreateReply{Group: gateway.WireGroup(rep.Group, 0), ErrorUserList: gateway.WireUserErrors(rep.ErrorUsers)})
	return nil
}

func (h *Handler) getGroup(w http.ResponseWriter, r *http.Request, app im.App) error {
	g, err := h.groups()
	if err != nil {
		return err
	}
	n, next, err := page(r)
	if err != nil {
		return err
	}
	id := r.PathValue("groupID")
	info, err := g.GroupInfoAs(r.Context(), app.ID, im.AppServer(), im.GroupRef{GroupID: id})
	if err != nil {
		return err
	}
	ms, err := g.GroupMembersAs(r.Context(), app.ID, im.AppServer(), im.GroupPage{GroupID: id, Count: n, Next: next})
	if err != nil {
		return err
	}
	wms := gateway.WireGroupMembers(ms)
	writeJSON(w, http.StatusOK, groupView{Group: gateway.WireGroup(info.Group, info.MyRole), Members: wms.Members, Next: wms.Next})
	return nil
}

func (h *Handler) dismissGroup(w http.ResponseWriter, r *http.Request, app im.App) error {
	g, err := h.groups()
	if err != nil {
		return err
	}
	if _, err := g.DismissGroupAs(r.Context(), app.ID, im.AppServer(), im.GroupRef{GroupID: r.PathValue("groupID")}); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// groupUsers runs an add or a remove of the users in the body.
func (h *Handler) groupUsers(w http.ResponseWriter, r *http.Request, app im.App, add bool) error {
	g, err := h.groups()
	if err != nil {
		return err
	}
	var req groupUsersRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	fn := g.KickFromGroupAs
	if add {
		fn = g.InviteToGroupAs
	}
	rep, err := fn(r.Context(), app.ID, im.AppServer(), im.GroupUsers{GroupID: r.PathValue("groupID"), UserIDs: req.UserIDs})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, gateway.WireGroupUsers(rep))
	return nil
}

func (h *Handler) addGroupMembers(w http.ResponseWriter, r *http.Request, app im.App) error {
	return h.groupUsers(w, r, app, true)
}

func (h *Handler) removeGroupMembers(w http.ResponseWriter, r *http.Request, app im.App) error {
	return h.groupUsers(w, r, app, false)
}

func (h *Handler) setGroupJoinMode(w http.ResponseWriter, r *http.Request, app im.App) error {
	g, err := h.groups()
	if err != nil {
		return err
	}
	var req joinModeRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	if req.JoinMode == nil {
		return protocol.JoinModeError()
	}
	if _, err := g.SetGroupJoinModeAs(r.Context(), app.ID, im.AppServer(),
		im.GroupSetJoinMode{GroupID: r.PathValue("groupID"), JoinMode: *req.JoinMode}); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handler) transferGroup(w http.ResponseWriter, r *http.Request, app im.App) error {
	g, err := h.groups()
	if err != nil {
		return err
	}
	var req ownerRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	if _, err := g.TransferGroupAs(r.Context(), app.ID, im.AppServer(),
		im.GroupTransfer{GroupID: r.PathValue("groupID"), ToUserID: req.ToUserID}); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handler) groupApplications(w http.ResponseWriter, r *http.Request, app im.App) error {
	g, err := h.groups()
	if err != nil {
		return err
	}
	n, next, err := page(r)
	if err != nil {
		return err
	}
	rep, err := g.GroupApplicationListAs(r.Context(), app.ID, im.AppServer(),
		im.GroupPage{GroupID: r.PathValue("groupID"), Count: n, Next: next})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, gateway.WireJoinRequests(rep))
	return nil
}

func (h *Handler) decideApplication(w http.ResponseWriter, r *http.Request, app im.App, accept bool) error {
	g, err := h.groups()
	if err != nil {
		return err
	}
	rep, err := g.DecideGroupApplicationAs(r.Context(), app.ID, im.AppServer(),
		im.GroupApplicationRef{GroupID: r.PathValue("groupID"), UserID: r.PathValue("userID")}, accept)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, gateway.WireApplication(rep))
	return nil
}

func (h *Handler) acceptApplication(w http.ResponseWriter, r *http.Request, app im.App) error {
	return h.decideApplication(w, r, app, true)
}

func (h *Handler) rejectApplication(w http.ResponseWriter, r *http.Request, app im.App) error {
	return h.decideApplication(w, r, app, false)
}
