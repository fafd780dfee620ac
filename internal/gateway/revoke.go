package gateway

import (
	"context"

	"github.com/heraldim/herald/internal/im"
	"github.com/heraldim/herald/internal/protocol"
)

// handleRevoke handles revokeMessage and reports whether f was one.
func (s *Session) handleRevoke(f protocol.Frame) bool {
	if f.Type != protocol.TypeRevokeMessage {
		return false
	}
	query(s, f, func(ctx context.Context, appID, userID string, req protocol.RevokeMessageRequest) (protocol.RevokeMessageReply, error) {
		out, err := s.g.svc.RevokeMessage(ctx, appID, userID, req)
		if err != nil {
			return protocol.RevokeMessageReply{}, err
		}
		return protocol.RevokeMessageReply{Message: im.ToWire(out.Msg, userID, false)}, nil
	})
	return true
}

// wireRevoked is messageRevokeReceived for ev's viewer.
func wireRevoked(ev im.MessageRevoked) protocol.MessageRevokeReceived {
	out := protocol.MessageRevokeReceived{MessageList: make([]protocol.Message, 0, len(ev.Messages))}
	for _, m := range ev.Messages {
		out.MessageList = append(out.MessageList, im.ToWire(m, ev.Viewer, false))
	}
	return out
}
