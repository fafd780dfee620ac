package admin

import (
	"context"
	"net/http"

	"github.com/heraldim/herald/internal/im"
	"github.com/heraldim/herald/internal/protocol"
)

// MessageRevoker is what the server API's revoke needs of the messaging
// core (im.Service.RevokeMessageAs).
type MessageRevoker interface {
	RevokeMessageAs(ctx context.Context, appID, messageID, operatedUserID string, cfg protocol.MessageRevokeConfig) (im.RevokeOutcome, error)
}

// revokeRoutes is the server API's message revoke: any message of the
// app, whoever sent it and whenever.
func (h *Handler) revokeRoutes() []route {
	return []route{
		{"POST", "/v1/apps/{appID}/messages/{messageID}/revoke", h.revokeMessage, []any{messageRevokeRequest{}}, messageRevokeReply{}},
	}
}

// messageRevokeRequest is ZIMMessageRevokeConfig and, optionally, the
// user recorded as the one who revoked (operatedUserID).
type messageRevokeRequest struct {
	OperatedUserID string `json:"operatedUserID,omitempty"`
	protocol.MessageRevokeConfig
}

// messageRevokeReply is the revoke marker (as its sender sees it) and what
// the revoke did to the message's pushes.
type messageRevokeReply struct {
	Message protocol.Message `json:"message"`
	// DroppedPushes counts the push jobs not yet sent that were dropped;
	// WithdrawPushes the pushes planned to withdraw notifications shown.
	DroppedPushes  int `json:"droppedPushes"`
	WithdrawPushes int `json:"withdrawPushes"`
}

func (h *Handler) revokeMessage(w http.ResponseWriter, r *http.Request, app im.App) error {
	svc, ok := h.d.Messages.(MessageRevoker)
	if !ok {
		return protocol.Errorf(protocol.CodeUnavailable, "messaging is not running")
	}
	var req messageRevokeRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	out, err := svc.RevokeMessageAs(r.Context(), app.ID, r.PathValue("messageID"), req.OperatedUserID, req.MessageRevokeConfig)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, messageRevokeReply{Message: im.ToWire(out.Msg, out.Msg.Sender, false),
		DroppedPushes: out.Dropped, WithdrawPushes: out.Withdraws})
	return nil
}
