// Package bus routes between the nodes of a cluster over NATS. A Bus wraps
// this node's session registry (the gateway's Hub, Local here) and
// implements im.Router, route.Presence and route.Events for the whole
// cluster: sessions on this node are served by the registry directly,
// sessions on other nodes get what is theirs through their node's
// subject, and every node knows which users have sessions where.
//
// Everything on the bus is core NATS, at most once, on purpose: the store
// and sync are the durable path. A message a node misses live is synced
// by the client (it is committed before it is routed); an event missed is
// one the client reads again at reconnect; presence is soft state rebuilt
// from the live nodes (each node's sequence numbers reveal a lost update,
// which a snapshot repairs); a kick or an invalidation lost with a node's
// connection is the one thing that waits for that node to reconnect
// (NATS reconnects and the node asks for snapshots again) — see Subjects.
//
// Subjects, under Config.Prefix (default "herald"):
//
//	<p>.node.<id>      deliveries to node id's sessions (messages, group
//	                   messages, events): one publish per node that has a
//	                   recipient, never per session.
//	<p>.presence       each node's user-state updates (the user's sessions
//	                   on that node after a login or a session end),
//	                   heartbeats (every Heartbeat, with the node's last
//	                   update number) and its goodbye.
//	<p>.sync.<id>      request/reply: node id's full presence snapshot, for
//	                   a node that joined or found a gap in id's updates.
//	<p>.ctl            broadcasts of kicks, token revocations, app closes
//	                   and cache invalidations (Control).
//
// A node not heard from for Expiry (default three heartbeats) is dropped
// from presence: a node that dies without a goodbye is offline for the
// cluster within Expiry, and its users get offline pushes again.
package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/nats-io/nats.go"

	"github.com/heraldim/herald/internal/im"
	"github.com/heraldim/herald/internal/route"
)

// Local is this node's session registry (the gateway's Hub): what the bus
// hands to this node's sessions, and where it reads them.
type Local interface {
	// Route and RouteGroup are im.Router's.
	Route(m *im.Message, origin route.SessionID)
	RouteGroup(m *im.Message, members []im.Recipient, origin route.SessionID)
	route.Presence
	route.Events
}

// Config tunes a Bus.
type Config struct {
	// URL is the NATS server (nats://host:4222, comma-separated for
	// several).
	URL string
	// NodeID names this node on the bus; unique among the running nodes
	// (a restarted node should take a new one). Required; no dots,
	// spaces or wildcards (it is a subject token).
	NodeID string
	// Prefix is the first token of every subject. Default "herald";
	// clusters sharing a NATS server need distinct prefixes.
	Prefix string
	// Heartbeat is how often the node tells the others it is alive.
	// Default 1 s.
	Heartbeat time.Duration
	// Expiry is how long a silent node stays in presence. Default three
	// heartbeats: one lost heartbeat is not a death.
	Expiry time.Duration
	// Clock measures heartbeats and expiry; nil is the real clock.
	Clock clockwork.Clock
	// Displaced, if set, is called when another node reports the user's
	// sessions there: the gateway kicks this node's sessions that those
	// newer sessions displace under its multi-login policy. It must not
	// block.
	Displaced func(appID, userID string, remote []route.SessionInfo)
	// Reconnected, if set, is called after the connection to NATS came
	// back: broadcasts sent meanwhile were missed, so the node drops its
	// caches. It runs on a NATS goroutine.
	Reconnected func()
	// NodeLost, if set, is called when a node is dropped for its silence
	// (not when it said goodbye), with the sessions it had: they ended
	// without their node reporting it. It must not block.
	NodeLost func(node string, lost []LostUser)
}

// LostUser is a user's sessions on a node that was dropped for its
// silence.
type LostUser struct {
	AppID, UserID string
	Sessions      []route.SessionInfo
}

// Errors of New.
var (
	ErrConfig = errors.New("bus: bad config")
)

type userKey struct{ app, user string }

// Bus is one node's side of the cluster's routing. Create it with New,
// Connect it, Run its heartbeat, Close it at shutdown.
type Bus struct {
	cfg   Config
	local Local
	log   *slog.Logger

	nc   *nats.Conn
	subs []*nats.Subscription

	mu sync.RWMutex
	// remote: per user, its sessions per other node.
	remote map[userKey]map[string][]route.SessionInfo
	nodes  map[string]*peer

	seqMu sync.Mutex // orders this node's updates: seq and publish together
	seq   uint64

	ctlMu    sync.RWMutex
	handlers map[string]func(Control)

	failures atomic.Uint64 // publishes that failed

	closeOnce sync.Once
}

// peer is what this node knows of another node.
type peer struct {
	seq      uint64    // last update applied
	lastSeen time.Time // last message of any kind from it
	users    map[userKey]struct{}
	// syncing holds updates that arrived while a snapshot was asked for,
	// replayed past its number.
	syncing bool
	pending []update
}

// New checks cfg and returns a Bus not yet connected. It starts nothing.
func New(cfg Config, local Local, log *slog.Logger) (*Bus, error) {
	if cfg.URL == "" {
		return nil, fmt.Errorf("%w: no URL", ErrConfig)
	}
	if cfg.NodeID == "" || strings.ContainsAny(cfg.NodeID, ". \t*>") {
		return nil, fmt.Errorf("%w: node ID %q: want a non-empty token without dots, spaces, * or >", ErrConfig, cfg.NodeID)
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "herald"
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = time.Second
	}
	if cfg.Expiry <= 0 {
		cfg.Expiry = 3 * cfg.Heartbeat
	}
	if cfg.Expiry <= cfg.Heartbeat {
		return nil, fmt.Errorf("%w: expiry %v not above the heartbeat %v", ErrConfig, cfg.Expiry, cfg.Heartbeat)
	}
	if cfg.Clock == nil {
		cfg.Clock = clockwork.NewRealClock()
	}
	return &Bus{cfg: cfg, local: local, log: log,
		remote: map[userKey]map[string][]route.SessionInfo{}, nodes: map[string]*peer{},
		handlers: map[string]func(Control){}}, nil
}

func (b *Bus) subject(parts ...string) string {
	return b.cfg.Prefix + "." + strings.Join(parts, ".")
}

// Connect connects to NATS, subscribes and says hello (a heartbeat, which
// makes the other nodes ask for this node's snapshot, and asks them for
// theirs as their heartbeats arrive). NATS's own goroutines run from here
// until Close.
func (b *Bus) Connect(ctx context.Context) error {
	opts := []nats.Option{nats.Name("herald " + b.cfg.NodeID), nats.MaxReconnects(-1),
		nats.ReconnectHandler(func(*nats.Conn) {
			b.log.Info("bus reconnected")
			if b.cfg.Reconnected != nil {
				b.cfg.Reconnected()
			}
			b.heartbeat() // the others resync this node's presence if they dropped it
		}),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				b.log.Warn("bus disconnected", "err", err)
			}
		})}
	if d, ok := ctx.Deadline(); ok {
		opts = append(opts, nats.Timeout(time.Until(d)))
	}
	nc, err := nats.Connect(b.cfg.URL, opts...)
	if err != nil {
		return fmt.Errorf("bus: connect %s: %w", b.cfg.URL, err)
	}
	b.nc = nc
	for subj, h := range map[string]nats.MsgHandler{
		b.subject("node", b.cfg.NodeID): b.onDelivery,
		b.subject("presence"):           b.onPresence,
		b.subject("sync", b.cfg.NodeID): b.onSync,
		b.subject("ctl"):                b.onControl,
	} {
		sub, err := nc.Subscribe(subj, h)
		if err != nil {
			nc.Close()
			return fmt.Errorf("bus: subscribe %s: %w", subj, err)
		}
		b.subs = append(b.subs, sub)
	}
	if err := nc.FlushWithContext(ctx); err != nil {
		nc.Close()
		return fmt.Errorf("bus: flush: %w", err)
	}
	b.heartbeat()
	return nil
}

// Run sends heartbeats and drops silent nodes until ctx ends.
func (b *Bus) Run(ctx context.Context) error {
	t := b.cfg.Clock.NewTicker(b.cfg.Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.Chan():
			b.heartbeat()
			b.expire(b.cfg.Clock.Now())
		}
	}
}

// Close says goodbye (the other nodes drop this node's sessions at once)
// and closes the connection. It is idempotent.
func (b *Bus) Close() error {
	b.closeOnce.Do(func() {
		if b.nc == nil {
			return
		}
		b.publish(b.subject("presence"), update{Kind: kindBye, Node: b.cfg.NodeID})
		_ = b.nc.Flush()
		b.nc.Close()
	})
	return nil
}

func (b *Bus) publish(subj string, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		b.log.Error("bus: encoding", "subject", subj, "err", err)
		return
	}
	b.publishData(subj, data)
}

// publishData publishes, counting a failure (a closed connection, or the
// reconnect buffer full while NATS is away) rather than logging each:
// while the bus is down every delivery fails.
func (b *Bus) publishData(subj string, data []byte) {
	if b.nc == nil {
		return
	}
	if err := b.nc.Publish(subj, data); err != nil {
		if b.failures.Add(1) == 1 {
			b.log.Warn("bus: publish failed (further failures are counted, not logged)", "subject", subj, "err", err)
		}
	}
}

// PublishFailures counts the publishes that failed (deliveries, presence
// updates and broadcasts not sent).
func (b *Bus) PublishFailures() uint64 { return b.failures.Load() }

// remoteNodes returns the other nodes with sessions of the users.
func (b *Bus) remoteNodes(appID string, users ...string) []string {
	b.mu.RLock()
	defer b.mu.RUnlock()
	var out []string
	for _, u := range users {
		for n := range b.remote[userKey{appID, u}] {
			if !slices.Contains(out, n) {
				out = append(out, n)
			}
		}
	}
	return out
}

// Online reports whether the user has a live session on any node: this
// node's registry, then the presence table kept current by the other
// nodes' updates (no network on the call).
func (b *Bus) Online(appID, userID string) bool {
	if b.local.Online(appID, userID) {
		return true
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	return len(b.remote[userKey{appID, userID}]) > 0
}

// UserSessions returns the user's live sessions on every node, oldest
// first.
func (b *Bus) UserSessions(appID, userID string) []route.SessionInfo {
	out := b.local.UserSessions(appID, userID)
	out = append(out, b.RemoteSessions(appID, userID)...)
	slices.SortStableFunc(out, func(x, y route.SessionInfo) int { return x.Since.Compare(y.Since) })
	return out
}

// RemoteSessions returns the user's live sessions on the other nodes, as
// last reported.
func (b *Bus) RemoteSessions(appID, userID string) []route.SessionInfo {
	b.mu.RLock()
	defer b.mu.RUnlock()
	var out []route.SessionInfo
	for _, ss := range b.remote[userKey{appID, userID}] {
		out = append(out, ss...)
	}
	return out
}

// Route hands m to this node's sessions and to every other node with a
// session of its sender or recipient. It never blocks.
func (b *Bus) Route(m *im.Message, origin route.SessionID) {
	b.local.Route(m, origin)
	nodes := b.remoteNodes(m.AppID, m.Recipient, m.Sender)
	if len(nodes) == 0 {
		return
	}
	data, err := json.Marshal(delivery{Kind: kindRoute, Msg: m, Origin: origin})
	if err != nil {
		b.log.Error("bus: encoding a delivery", "err", err)
		return
	}
	for _, n := range nodes {
		b.publishData(b.subject("node", n), data)
	}
}

// RouteGroup hands m to this node's sessions of members and, per other
// node, to the members with sessions there. It never blocks.
func (b *Bus) RouteGroup(m *im.Message, members []im.Recipient, origin route.SessionID) {
	b.local.RouteGroup(m, members, origin)
	per := map[string][]im.Recipient{}
	b.mu.RLock()
	for _, r := range members {
		if m.Seq > 0 && r.Floor >= m.Seq {
			continue
		}
		for n := range b.remote[userKey{m.AppID, r.UserID}] {
			per[n] = append(per[n], r)
		}
	}
	b.mu.RUnlock()
	for n, rs := range per {
		b.publish(b.subject("node", n), delivery{Kind: kindGroup, Msg: m, Members: rs, Origin: origin})
	}
}

// SendEvent writes an event to the user's sessions on every node. It
// never blocks.
func (b *Bus) SendEvent(appID, userID, typ string, v any) {
	b.local.SendEvent(appID, userID, typ, v)
	nodes := b.remoteNodes(appID, userID)
	if len(nodes) == 0 {
		return
	}
	payload, err := json.Marshal(v)
	if err != nil {
		return
	}
	data, err := json.Marshal(delivery{Kind: kindEvent, AppID: appID, UserID: userID, Event: typ, Payload: payload})
	if err != nil {
		return
	}
	for _, n := range nodes {
		b.publishData(b.subject("node", n), data)
	}
}

// Delivery kinds.
const (
	kindRoute = "route"
	kindGroup = "group"
	kindEvent = "event"
	kindPing  = "ping" // answered after every delivery before it (Settle)
)

// delivery is one publish to a node's subject.
type delivery struct {
	Kind    string          `json:"k"`
	Msg     *im.Message     `json:"m,omitempty"`
	Members []im.Recipient  `json:"r,omitempty"`
	Origin  route.SessionID `json:"o,omitempty"`
	AppID   string          `json:"a,omitempty"`
	UserID  string          `json:"u,omitempty"`
	Event   string          `json:"e,omitempty"`
	Payload json.RawMessage `json:"p,omitempty"`
}

func (b *Bus) onDelivery(msg *nats.Msg) {
	var d delivery
	if err := json.Unmarshal(msg.Data, &d); err != nil {
		b.log.Warn("bus: a delivery that does not decode", "err", err)
		return
	}
	switch d.Kind {
	case kindRoute:
		if d.Msg != nil {
			b.local.Route(d.Msg, d.Origin)
		}
	case kindGroup:
		if d.Msg != nil {
			b.local.RouteGroup(d.Msg, d.Members, d.Origin)
		}
	case kindEvent:
		b.local.SendEvent(d.AppID, d.UserID, d.Event, d.Payload)
	case kindPing:
		_ = msg.Respond(nil)
	}
}

// Settle waits until every delivery this node published so far to the
// nodes it knows has been handed to their registries (a node's deliveries
// are handled in order, so a ping answered comes after them), or ctx
// ends.
func (b *Bus) Settle(ctx context.Context) error {
	data, _ := json.Marshal(delivery{Kind: kindPing})
	for _, n := range b.Nodes() {
		if _, err := b.nc.RequestWithContext(ctx, b.subject("node", n), data); err != nil {
			return fmt.Errorf("bus: settle %s: %w", n, err)
		}
	}
	return nil
}
