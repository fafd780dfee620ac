package gateway

import (
	"context"

	"github.com/heraldim/herald/internal/protocol"
)

// CloseApp closes every live session of an app on this node with close
// code 4006 (app disabled: do not reconnect) and returns how many it
// closed: the operator disabled or deleted the app, and its sessions must
// not outlive that. Callers first make new logins fail (the app's state in
// the store, the messaging core's cached copy dropped); a login whose
// check passed just before that and that registers after CloseApp looked
// at its shard is not closed.
func (g *Gateway) CloseApp(ctx context.Context, appID string) int {
	return g.hub.closeApp(ctx, appID)
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
