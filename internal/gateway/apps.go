package gateway

import (
	"context"
	"sync/atomic"

	"github.com/heraldim/herald/internal/protocol"
)

// CloseApp closes every live session of an app on this node with close
// code 4006 (app disabled: do not reconnect) and returns how many it
// closed: the operator disabled or deleted the app, and its sessions must
// not outlive that. Callers first make new logins fail (the app's state in
// the store, the messaging core's cached copy dropped). A login that
// passed its check before that and registers after CloseApp looked at its
// shard is caught by recheckApp.
func (g *Gateway) CloseApp(ctx context.Context, appID string) int {
	// Counted before the sweep: a login registered too late for the sweep
	// sees the count changed (recheckApp).
	g.appCloses.n.Add(1)
	return g.hub.closeApp(ctx, appID)
}

// closeCount counts CloseApp calls.
type closeCount struct{ n atomic.Uint64 }

// Load returns the count.
func (c *closeCount) Load() uint64 { return c.n.Load() }

// recheckApp runs after a login registered s: when a CloseApp ran since
// before the login's token was checked (closes was the count then), the
// login may have been checked against the app's state before the change
// and missed the sweep; it is checked again and closed with 4006 if the
// app no longer exists or is disabled. Either the sweep saw s registered,
// or this sees the count changed (it is raised before the sweep).
func (s *Session) recheckApp(closes uint64, tok string) {
	if s.g.appCloses.Load() == closes {
		return
	}
	_, err := s.g.svc.Authenticate(s.ctx, s.appID, s.userID, tok)
	if err == nil {
		return
	}
	switch protocol.AsError(err).Code {
	case protocol.CodeAppDisabled, protocol.CodeAppUnknown:
		s.closeWith(protocol.CloseAppDisabled, "app disabled by the operator")
	}
}

func (h *Hub) closeApp(ctx context.Context, appID string) int {
	var list []*Session
	for i := range h.shards {
		if ctx.Err() != nil {
			break
		}
		sh := &h.shards[i]
		sh.mu.RLock()
		for k, ss := range sh.users {
			if k.app == appID {
				list = append(list, ss...)
			}
		}
		sh.mu.RUnlock()
	}
	for _, s := range list {
		s.closeWith(protocol.CloseAppDisabled, "app disabled by the operator")
	}
	return len(list)
}
