package server

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/heraldim/herald/internal/gateway"
	"github.com/heraldim/herald/internal/protocol"
	"github.com/heraldim/herald/internal/token"
)

// maxReceiptBody bounds a receipt's body: three short strings.
const maxReceiptBody = 4 << 10

// receiptRequest is the body of POST /v1/push/receipts: the user the
// login token in Authorization is for, and the receipt (as in the
// pushReceipt frame).
type receiptRequest struct {
	UserID string `json:"userID"`
	protocol.PushReceiptRequest
}

// serveReceipt records a receipt reported over HTTP, for an app that is
// not logged in yet (a click that launched it): authenticated by the
// user's login token (Authorization: Bearer <token>), whose app it is for;
// the same checks and answers as the pushReceipt frame.
func (s *Server) serveReceipt(w http.ResponseWriter, r *http.Request) {
	fail := func(err error) {
		pe := protocol.AsError(err)
		if pe.Code == protocol.CodeInternal {
			s.log.Error("push receipt failed", "err", err)
		}
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, pe.Code.HTTPStatus(), pe)
	}
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || tok == "" {
		fail(protocol.Errorf(protocol.CodeTokenInvalid, "Authorization: Bearer <login token> is required"))
		return
	}
	appID, err := token.AppID(tok)
	if err != nil {
		fail(protocol.Errorf(protocol.CodeTokenInvalid, ""))
		return
	}
	var req receiptRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxReceiptBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		fail(protocol.Errorf(protocol.CodeInvalidArgument, "body is not a JSON object of the documented shape"))
		return
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		fail(protocol.Errorf(protocol.CodeInvalidArgument, "body has data after its JSON object"))
		return
	}
	if _, err := s.svc.Authenticate(r.Context(), appID, req.UserID, tok); err != nil {
		fail(err)
		return
	}
	dup, err := s.receipts.Report(r.Context(), appID, req.UserID, req.Kind, req.PushJobID)
	if err != nil {
		fail(gateway.ReceiptError(err))
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, protocol.PushReceiptReply{Duplicate: dup})
}
