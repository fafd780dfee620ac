package gateway

import (
	"slices"
	"time"

	"github.com/heraldim/herald/internal/protocol"
	"github.com/heraldim/herald/internal/route"
)

// UserSessions returns the user's live sessions on this node, oldest
// first.
func (h *Hub) UserSessions(appID, userID string) []route.SessionInfo {
	k := userKey{appID, userID}
	sh := h.shard(k)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	out := make([]route.SessionInfo, 0, len(sh.users[k]))
	for _, s := range sh.users[k] {
		out = append(out, route.SessionInfo{ID: route.SessionID(s.id), Platform: s.platform, DeviceID: s.deviceID, Since: s.since,
			PushID: s.currentPushID()})
	}
	return out
}

// KickUser closes every live session of the user on this node (server
// sessions included): each gets the kicked event with reason KickByServer,
// then close code CloseKickedByServer (do not reconnect). They leave the
// registry at once, so that the user is offline when KickUser returns. It
// returns how many it closed.
func (h *Hub) KickUser(appID, userID string) int {
	kicked := h.take(appID, userID, func(*Session) bool { return true })
	for _, s := range kicked {
		s.event(protocol.EventKicked, protocol.Kicked{Reason: protocol.KickByServer, Message: "kicked by the app's server"})
		s.closeWith(protocol.CloseKickedByServer, "kicked by the app's server")
		s.g.metrics.kicks.Inc()
	}
	return len(kicked)
}

// CloseRevoked closes the user's live sessions on this node whose token
// (the one they logged in or last renewed with) was issued before cutoff,
// with close code CloseTokenRevoked, and returns how many. Sessions of a
// newer token stay.
func (h *Hub) CloseRevoked(appID, userID string, cutoff time.Time) int {
	ms := cutoff.UnixMilli()
	closed := h.take(appID, userID, func(s *Session) bool { return s.tokenIat.Load() < ms })
	for _, s := range closed {
		s.closeWith(protocol.CloseTokenRevoked, "token revoked by the app's server")
	}
	return len(closed)
}

// take removes from the registry the user's sessions that match and
// returns them.
func (h *Hub) take(appID, userID string, match func(*Session) bool) []*Session {
	k := userKey{appID, userID}
	sh := h.shard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	list := sh.users[k]
	var taken []*Session
	keep := slices.DeleteFunc(slices.Clone(list), func(s *Session) bool {
		if match(s) {
			taken = append(taken, s)
			return true
		}
		return false
	})
	if len(keep) == 0 {
		delete(sh.users, k)
	} else {
		sh.users[k] = keep
	}
	return taken
}

// AppSessions counts an app's live sessions on this node: its users with
// at least one, and its sessions by platform. It reads every shard, so its
// cost grows with the node's sessions (all apps'): a read-locked walk of
// the registry, about a millisecond per hundred thousand sessions.
func (h *Hub) AppSessions(appID string) (users int, byPlatform map[string]int) {
	byPlatform = map[string]int{}
	for i := range h.shards {
		sh := &h.shards[i]
		sh.mu.RLock()
		for k, l := range sh.users {
			if k.app != appID || len(l) == 0 {
				continue
			}
			users++
			for _, s := range l {
				byPlatform[s.platform]++
			}
		}
		sh.mu.RUnlock()
	}
	return users, byPlatform
}
