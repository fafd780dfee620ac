package gateway

import (
	"github.com/heraldim/herald/internal/protocol"
	"github.com/heraldim/herald/internal/route"
)

// RemoteSessions tells a user's live sessions on the other nodes of a
// cluster (bus.Bus), as last reported: the login's max-sessions-per-user
// cap counts them.
type RemoteSessions interface {
	RemoteSessions(appID, userID string) []route.SessionInfo
}

// Users calls f for every user with a live session on this node (each
// once, outside the registry's locks).
func (h *Hub) Users(f func(appID, userID string)) {
	var keys []userKey
	for i := range h.shards {
		sh := &h.shards[i]
		sh.mu.RLock()
		for k, l := range sh.users {
			if len(l) > 0 {
				keys = append(keys, k)
			}
		}
		sh.mu.RUnlock()
	}
	for _, k := range keys {
		f(k.app, k.user)
	}
}

// KickDisplaced kicks the user's sessions on this node that a newer
// session on another node displaces under the multi-login policy, as a
// login on this node would (kicked event, close 4001), and returns how
// many. Newer is a later login time, or the same with the greater session
// ID, so that two nodes with simultaneous logins keep the same one.
func (g *Gateway) KickDisplaced(appID, userID string, remote []route.SessionInfo) int {
	newer := func(r route.SessionInfo, s *Session) bool {
		if c := r.Since.Compare(s.since); c != 0 {
			return c > 0
		}
		return string(r.ID) > s.id
	}
	kicked := g.hub.take(appID, userID, func(s *Session) bool {
		for _, r := range remote {
			if displaces(g.cfg.MultiLogin, r.Platform, s.platform) && newer(r, s) {
				return true
			}
		}
		return false
	})
	for _, s := range kicked {
		s.kickedByLogin()
	}
	return len(kicked)
}

// kickedByLogin closes s, displaced by a newer login of its user.
func (s *Session) kickedByLogin() {
	reason := protocol.KickSamePlatform
	if s.g.cfg.MultiLogin == PolicySingle {
		reason = protocol.KickSingleLogin
	}
	s.event(protocol.EventKicked, protocol.Kicked{Reason: reason, Message: "logged in on another device"})
	s.closeWith(protocol.CloseKicked, "kicked: logged in elsewhere")
	s.g.metrics.kicks.Inc()
}

// reserve holds a login's place under max-sessions-per-user (Hub.reserve),
// counting the user's sessions on the other nodes of a cluster that the
// login would not displace, as last reported: two logins on two nodes at
// the same moment may both pass.
func (g *Gateway) reserve(appID, userID, platform string) bool {
	limit := g.cfg.MaxSessionsPerUser
	if limit > 0 {
		if limit -= g.remoteKept(appID, userID, platform); limit <= 0 {
			return false
		}
	}
	return g.hub.reserve(appID, userID, platform, g.cfg.MultiLogin, limit)
}

// remoteKept counts the user's sessions on other nodes that a login on
// platform would not displace.
func (g *Gateway) remoteKept(appID, userID, platform string) int {
	if g.cfg.Remote == nil {
		return 0
	}
	n := 0
	for _, r := range g.cfg.Remote.RemoteSessions(appID, userID) {
		if !displaces(g.cfg.MultiLogin, platform, r.Platform) {
			n++
		}
	}
	return n
}
