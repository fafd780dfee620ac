package gateway

import (
	"encoding/json"
	"hash/maphash"
	"sync"

	"github.com/heraldim/herald/internal/call"
	"github.com/heraldim/herald/internal/im"
	"github.com/heraldim/herald/internal/route"
)

// Kick policies (config multi-login).
const (
	PolicyPlatform = "platform" // one session per user and platform
	PolicySingle   = "single"   // one session per user
	PolicyMulti    = "multi"    // no kicks
)

// PlatformServer is exempt from kicks: backends and scripts may hold any
// number of sessions of a user without disturbing its devices.
const PlatformServer = "server"

const hubShards = 64

type userKey struct{ app, user string }

// Hub is the registry of logged-in sessions by app and user. It implements
// im.Router, call.Hub, route.Presence and route.Events for one node,
// knowing sessions by their IDs (route.SessionID) at its edges. The registry is sharded so that routing from the
// commit goroutine rarely waits on logins.
type Hub struct {
	seed   maphash.Seed
	shards [hubShards]hubShard
}

type hubShard struct {
	mu    sync.RWMutex
	users map[userKey][]*Session
	// pending counts, per user, the logins holding a place (reserve)
	// that are not registered yet.
	pending map[userKey]int
}

var (
	_ im.Router      = (*Hub)(nil)
	_ call.Hub       = (*Hub)(nil)
	_ route.Presence = (*Hub)(nil)
	_ route.Events   = (*Hub)(nil)
)

// NewHub returns an empty registry.
func NewHub() *Hub {
	h := &Hub{seed: maphash.MakeSeed()}
	for i := range h.shards {
		h.shards[i].users = map[userKey][]*Session{}
		h.shards[i].pending = map[userKey]int{}
	}
	return h
}

func (h *Hub) shard(k userKey) *hubShard {
	var mh maphash.Hash
	mh.SetSeed(h.seed)
	mh.WriteString(k.app)
	mh.WriteByte(0)
	mh.WriteString(k.user)
	return &h.shards[mh.Sum64()%hubShards]
}

// register adds s under policy and returns the sessions it displaces.
func (h *Hub) register(s *Session, policy string) (kicked []*Session) {
	k := userKey{s.appID, s.userID}
	sh := h.shard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	list := sh.users[k]
	keep := make([]*Session, 0, len(list)+1)
	for _, o := range list {
		if displaces(policy, s.platform, o.platform) {
			kicked = append(kicked, o)
			continue
		}
		keep = append(keep, o)
	}
	sh.users[k] = append(keep, s)
	return kicked
}

func displaces(policy, newPlatform, oldPlatform string) bool {
	if newPlatform == PlatformServer || oldPlatform == PlatformServer {
		return false
	}
	switch policy {
	case PolicySingle:
		return true
	case PolicyPlatform:
		return newPlatform == oldPlatform
	}
	return false
}

// unregister removes s if it is registered.
func (h *Hub) unregister(s *Session) {
	k := userKey{s.appID, s.userID}
	sh := h.shard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	list := sh.users[k]
	for i, o := range list {
		if o == s {
			list = append(list[:i:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(sh.users, k)
	} else {
		sh.users[k] = list
	}
}

// reserve holds a place for a login of the user on platform when, after
// the kicks that login makes under policy, fewer than limit of the user's
// sessions would remain, counting the other logins holding a place. A
// limit of 0 or less always holds one. Every reserve that returned true
// is followed by one unreserve, after register.
func (h *Hub) reserve(appID, userID, platform, policy string, limit int) bool {
	k := userKey{appID, userID}
	sh := h.shard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if limit > 0 {
		n := sh.pending[k]
		for _, o := range sh.users[k] {
			if !displaces(policy, platform, o.platform) {
				n++
			}
		}
		if n >= limit {
			return false
		}
	}
	sh.pending[k]++
	return true
}

// unreserve gives back a place reserve held.
func (h *Hub) unreserve(appID, userID string) {
	k := userKey{appID, userID}
	sh := h.shard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.pending[k]--; sh.pending[k] <= 0 {
		delete(sh.pending, k)
	}
}

// Online reports whether the user has a live session on this node.
func (h *Hub) Online(appID, userID string) bool {
	k := userKey{appID, userID}
	sh := h.shard(k)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	return len(sh.users[k]) > 0
}

// Sessions returns the number of logged-in sessions.
func (h *Hub) Sessions() int {
	n := 0
	for i := range h.shards {
		sh := &h.shards[i]
		sh.mu.RLock()
		for _, l := range sh.users {
			n += len(l)
		}
		sh.mu.RUnlock()
	}
	return n
}

// Route hands m to the live sessions of its sender and recipient, except
// the one whose ID is origin. It never blocks: each session's queue
// decides what to shed.
func (h *Hub) Route(m *im.Message, origin route.SessionID) {
	h.routeTo(userKey{m.AppID, m.Recipient}, m, origin)
	h.routeTo(userKey{m.AppID, m.Sender}, m, origin)
}

func (h *Hub) routeTo(k userKey, m *im.Message, origin route.SessionID) {
	sh := h.shard(k)
	sh.mu.RLock()
	list := sh.users[k]
	for _, s := range list {
		if origin != route.NoSession && route.SessionID(s.id) == origin {
			continue
		}
		s.enqueueMessage(m)
	}
	sh.mu.RUnlock()
}

// RouteGroup hands group message m to the live sessions of members, except
// the one whose ID is origin. It never blocks.
func (h *Hub) RouteGroup(m *im.Message, members []im.Recipient, origin route.SessionID) {
	for _, r := range members {
		if m.Seq > 0 && r.Floor >= m.Seq {
			continue // joined after m was sent
		}
		k := userKey{m.AppID, r.UserID}
		sh := h.shard(k)
		sh.mu.RLock()
		for _, s := range sh.users[k] {
			if origin != route.NoSession && route.SessionID(s.id) == origin {
				continue
			}
			s.push(item{kind: kindMessage, prio: m.Priority, msg: m, floor: r.Floor})
		}
		sh.mu.RUnlock()
	}
}

// GroupEvent implements im.Router: SendEvent of ev on the wire.
func (h *Hub) GroupEvent(appID, userID string, ev im.GroupEvent) {
	typ, v := WireGroupEvent(ev)
	h.SendEvent(appID, userID, typ, v)
}

// CallEvent implements call.Hub: SendEvent of ev on the wire.
func (h *Hub) CallEvent(appID, userID string, ev call.Event) {
	typ, v := WireCallEvent(ev)
	h.SendEvent(appID, userID, typ, v)
}

// SendEvent writes an event to every live session of the user on this
// node. It never blocks: a session that cannot take it is closed as slow
// (events are not stored; a reconnecting client queries the state).
func (h *Hub) SendEvent(appID, userID, typ string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		return
	}
	frame := encodeFrame(typ, "", b)
	k := userKey{appID, userID}
	sh := h.shard(k)
	sh.mu.RLock()
	for _, s := range sh.users[k] {
		s.enqueueFrame(frame)
	}
	sh.mu.RUnlock()
}
