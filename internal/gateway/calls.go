package gateway

import (
	"context"
	"encoding/json"

	"github.com/heraldim/herald/internal/protocol"
)

// Calls is what the gateway needs from the call invitation service.
type Calls interface {
	// Request handles one call request (a protocol.TypeCall* frame type)
	// of a logged-in user and returns its reply payload. Errors are
	// *protocol.Error for the client; others are internal.
	Request(ctx context.Context, appID, userID, typ string, data json.RawMessage) (any, error)
	// LoggedIn delivers the invitations still ringing for the user to one
	// session that just logged in, through deliver (an event type and its
	// payload), and marks them received.
	LoggedIn(ctx context.Context, appID, userID string, deliver func(typ string, v any))
	// SessionEnded reports a logged-in session of the user that ended
	// without a logout, for the rings it may owe; it must not block.
	SessionEnded(appID, userID string)
}

// handleCall handles the call request types and reports whether f was one.
func (s *Session) handleCall(f protocol.Frame) bool {
	if !protocol.IsCallType(f.Type) {
		return false
	}
	if s.g.calls == nil {
		s.replyErr(f.ID, protocol.Errorf(protocol.CodeUnavailable, "calls are not enabled on this server"))
		return true
	}
	r, err := s.g.calls.Request(s.ctx, s.appID, s.userID, f.Type, f.Data)
	s.answer(f.ID, r, err)
	return true
}
