package gateway

import (
	"context"
	"errors"
	"strings"

	"github.com/heraldim/herald/internal/protocol"
	"github.com/heraldim/herald/internal/push"
)

// Receipts records the push receipts sessions report (push.Receipts).
type Receipts interface {
	Report(ctx context.Context, appID, userID, kind, ref string) (duplicate bool, err error)
}

// pushReceipt answers a pushReceipt frame: the logged-in user's receipt.
func (s *Session) pushReceipt(ctx context.Context, appID, userID string, req protocol.PushReceiptRequest) (protocol.PushReceiptReply, error) {
	if s.g.cfg.Receipts == nil {
		return protocol.PushReceiptReply{}, protocol.Errorf(protocol.CodeUnavailable, "push receipts are not recorded by this server")
	}
	dup, err := s.g.cfg.Receipts.Report(ctx, appID, userID, req.Kind, req.PushJobID)
	if err != nil {
		return protocol.PushReceiptReply{}, ReceiptError(err)
	}
	return protocol.PushReceiptReply{Duplicate: dup}, nil
}

// ReceiptError maps push.Receipts.Report's errors to the catalogue (the
// WebSocket frame's and POST /v1/push/receipts'); others are internal.
func ReceiptError(err error) error {
	switch {
	case errors.Is(err, push.ErrBadReceipt):
		return protocol.Errorf(protocol.CodeInvalidReceipt, "%s", strings.TrimPrefix(err.Error(), "push: invalid receipt: "))
	case errors.Is(err, push.ErrReceiptUnsupported):
		return protocol.Errorf(protocol.CodeReceiptUnsupported, "%s", strings.TrimPrefix(err.Error(), "push: the vendor raises no such callback: "))
	case errors.Is(err, push.ErrNotFound):
		return protocol.Errorf(protocol.CodePushNotFound, "")
	}
	return err
}
