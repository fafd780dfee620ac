package bus

import (
	"encoding/json"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/heraldim/herald/internal/route"
)

// Presence is shared as per-node state, not per-session keys in a store:
// each node publishes, after a login or a session end, the user's whole
// set of sessions on that node (so an update replaces, and applying it
// twice changes nothing), numbered in the node's order. A heartbeat
// carries the last number; a receiver that sees a number it has not
// applied asks the node for a snapshot. Nothing is stored, so nothing
// goes stale when a node dies: its heartbeats stop and the others drop
// it after Expiry. (A stored table with a TTL, e.g. a key-value bucket,
// would need a renewal per session or a sweep per node; this needs one
// small heartbeat per node.)

// Presence message kinds.
const (
	kindUser = "user" // the user's sessions on the node now
	kindBeat = "beat" // alive, last update Seq
	kindBye  = "bye"  // the node is leaving
)

type update struct {
	Kind     string              `json:"k"`
	Node     string              `json:"n"`
	Seq      uint64              `json:"s,omitempty"`
	AppID    string              `json:"a,omitempty"`
	UserID   string              `json:"u,omitempty"`
	Sessions []route.SessionInfo `json:"ss,omitempty"`
}

// snapshot is a node's reply on its sync subject.
type snapshot struct {
	Node  string       `json:"n"`
	Seq   uint64       `json:"s"`
	Users []userStatus `json:"us"`
}

type userStatus struct {
	AppID    string              `json:"a"`
	UserID   string              `json:"u"`
	Sessions []route.SessionInfo `json:"ss"`
}

// UserChanged tells the other nodes the user's sessions on this node now
// (after a login or a session end on this node). The gateway's presence
// hook calls it; it must follow the registry's change.
func (b *Bus) UserChanged(appID, userID string) {
	b.seqMu.Lock()
	defer b.seqMu.Unlock()
	b.seq++
	b.publish(b.subject("presence"), update{Kind: kindUser, Node: b.cfg.NodeID, Seq: b.seq,
		AppID: appID, UserID: userID, Sessions: b.local.UserSessions(appID, userID)})
}

func (b *Bus) heartbeat() {
	b.seqMu.Lock()
	defer b.seqMu.Unlock()
	b.publish(b.subject("presence"), update{Kind: kindBeat, Node: b.cfg.NodeID, Seq: b.seq})
}

// users lists this node's users with sessions; the Local may tell (the
// gateway's Hub does), else the bus keeps what it published.
type userLister interface {
	Users(func(appID, userID string))
}

func (b *Bus) onSync(msg *nats.Msg) {
	b.seqMu.Lock()
	snap := snapshot{Node: b.cfg.NodeID, Seq: b.seq}
	if l, ok := b.local.(userLister); ok {
		l.Users(func(appID, userID string) {
			snap.Users = append(snap.Users, userStatus{appID, userID, b.local.UserSessions(appID, userID)})
		})
	}
	b.seqMu.Unlock()
	data, err := json.Marshal(snap)
	if err != nil {
		return
	}
	_ = msg.Respond(data)
}

func (b *Bus) onPresence(msg *nats.Msg) {
	var u update
	if err := json.Unmarshal(msg.Data, &u); err != nil || u.Node == "" {
		b.log.Warn("bus: a presence update that does not decode", "err", err)
		return
	}
	if u.Node == b.cfg.NodeID {
		return
	}
	now := b.cfg.Clock.Now()
	b.mu.Lock()
	if u.Kind == kindBye {
		b.dropLocked(u.Node)
		b.mu.Unlock()
		return
	}
	p := b.nodes[u.Node]
	isNew := p == nil
	if isNew {
		p = &peer{users: map[userKey]struct{}{}}
		b.nodes[u.Node] = p
	}
	p.lastSeen = now
	askSync := false
	var displaced *update
	switch {
	case p.syncing:
		if u.Kind == kindUser {
			p.pending = append(p.pending, u)
		}
	case u.Kind == kindUser && u.Seq == p.seq+1 && !isNew:
		p.seq = u.Seq
		b.applyLocked(u.Node, p, u.AppID, u.UserID, u.Sessions)
		displaced = &u
	case u.Seq > p.seq || isNew:
		// A gap, or a node first heard of: its state comes whole.
		p.syncing = true
		if u.Kind == kindUser {
			p.pending = append(p.pending, u)
		}
		askSync = true
	}
	b.mu.Unlock()
	if displaced != nil && b.cfg.Displaced != nil && len(displaced.Sessions) > 0 {
		b.cfg.Displaced(displaced.AppID, displaced.UserID, displaced.Sessions)
	}
	if isNew {
		b.heartbeat() // a node joining hears of this one at once, not a heartbeat later
	}
	if askSync {
		go b.sync(u.Node)
	}
}

// sync asks node for its snapshot and applies it with the updates that
// came meanwhile. A node that does not answer stays syncing until the
// next heartbeat or its expiry.
func (b *Bus) sync(node string) {
	reply, err := b.nc.Request(b.subject("sync", node), nil, 2*b.cfg.Heartbeat+time.Second)
	var snap snapshot
	if err == nil {
		err = json.Unmarshal(reply.Data, &snap)
	}
	b.mu.Lock()
	p := b.nodes[node]
	if p == nil {
		b.mu.Unlock()
		return
	}
	if err != nil {
		p.syncing = false // the next heartbeat asks again
		p.pending = nil
		b.mu.Unlock()
		b.log.Warn("bus: presence snapshot", "node", node, "err", err)
		return
	}
	for k := range p.users {
		b.setLocked(node, p, k, nil)
	}
	for _, us := range snap.Users {
		b.setLocked(node, p, userKey{us.AppID, us.UserID}, us.Sessions)
	}
	p.seq = snap.Seq
	for _, u := range p.pending {
		if u.Seq > p.seq {
			b.applyLocked(node, p, u.AppID, u.UserID, u.Sessions)
			p.seq = u.Seq
		}
	}
	p.pending, p.syncing = nil, false
	b.mu.Unlock()
	if b.cfg.Displaced != nil {
		for _, us := range snap.Users {
			b.cfg.Displaced(us.AppID, us.UserID, us.Sessions)
		}
	}
}

func (b *Bus) applyLocked(node string, p *peer, appID, userID string, ss []route.SessionInfo) {
	b.setLocked(node, p, userKey{appID, userID}, ss)
}

func (b *Bus) setLocked(node string, p *peer, k userKey, ss []route.SessionInfo) {
	if len(ss) == 0 {
		delete(p.users, k)
		if m := b.remote[k]; m != nil {
			delete(m, node)
			if len(m) == 0 {
				delete(b.remote, k)
			}
		}
		return
	}
	p.users[k] = struct{}{}
	m := b.remote[k]
	if m == nil {
		m = map[string][]route.SessionInfo{}
		b.remote[k] = m
	}
	m[node] = ss
}

func (b *Bus) dropLocked(node string) {
	p := b.nodes[node]
	if p == nil {
		return
	}
	for k := range p.users {
		b.setLocked(node, p, k, nil)
	}
	delete(b.nodes, node)
}

// expire drops the nodes not heard from for Expiry, and reports their
// sessions to NodeLost.
func (b *Bus) expire(now time.Time) {
	lost := map[string][]LostUser{}
	b.mu.Lock()
	for n, p := range b.nodes {
		if now.Sub(p.lastSeen) > b.cfg.Expiry {
			b.log.Warn("bus: node silent, its sessions dropped from presence", "node", n, "silent", now.Sub(p.lastSeen))
			if b.cfg.NodeLost != nil {
				us := make([]LostUser, 0, len(p.users))
				for k := range p.users {
					us = append(us, LostUser{AppID: k.app, UserID: k.user, Sessions: b.remote[k][n]})
				}
				lost[n] = us
			}
			b.dropLocked(n)
		}
	}
	b.mu.Unlock()
	for n, us := range lost {
		b.cfg.NodeLost(n, us)
	}
}

// Nodes returns the other nodes this node hears from.
func (b *Bus) Nodes() []string {
	b.mu.RLock()
	defer b.mu.RUnlock()
	out := make([]string, 0, len(b.nodes))
	for n := range b.nodes {
		out = append(out, n)
	}
	return out
}

// presenceSeq is the number of this node's last presence update.
func (b *Bus) presenceSeq() uint64 {
	b.seqMu.Lock()
	defer b.seqMu.Unlock()
	return b.seq
}

// awaitPresence waits until node's presence updates up to seq are applied
// here (or node is not known here, or timeout passed), so that what this
// node reads of the user's presence is at least as new as a message of
// node's sent after those updates: the bus handles each subscription on
// its own goroutine, so a message on another subject may overtake them.
func (b *Bus) awaitPresence(node string, seq uint64, timeout time.Duration) {
	if node == "" || node == b.cfg.NodeID {
		return
	}
	end := time.Now().Add(timeout)
	for {
		b.mu.RLock()
		p := b.nodes[node]
		done := p == nil || p.seq >= seq
		b.mu.RUnlock()
		if done || time.Now().After(end) {
			return
		}
		time.Sleep(time.Millisecond)
	}
}
