package bus

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	natsserver "github.com/nats-io/nats-server/v2/server"
	"go.uber.org/goleak"

	"github.com/heraldim/herald/internal/im"
	"github.com/heraldim/herald/internal/route"
	"github.com/heraldim/herald/internal/route/routetest"
)

// Every bus and server a test starts is closed by its cleanup; nothing of
// them may keep running.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// natsURL is the NATS server of a test: HERALD_TEST_NATS when set (with
// a fresh subject prefix per test, so tests share it), else an embedded
// server of the test's own.
func natsURL(t testing.TB) string {
	t.Helper()
	if u := os.Getenv("HERALD_TEST_NATS"); u != "" {
		return u
	}
	return embedded(t)
}

func embedded(t testing.TB) string {
	t.Helper()
	s, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("embedded nats-server not ready")
	}
	t.Cleanup(s.Shutdown)
	return s.ClientURL()
}

func randHex(t testing.TB) string {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// cluster is n bus nodes on one NATS server, each over a fake registry.
type cluster struct {
	t      testing.TB
	nodes  []*Bus
	locals []*fakeLocal
	next   int
}

// newCluster starts n nodes; heartbeats every 50 ms (expiry 150 ms) keep
// the tests short.
func newCluster(t testing.TB, url string, n int, clock clockwork.Clock) *cluster {
	return newClusterBeat(t, url, n, clock, 50*time.Millisecond)
}

func newClusterBeat(t testing.TB, url string, n int, clock clockwork.Clock, heartbeat time.Duration) *cluster {
	t.Helper()
	prefix := "ht" + randHex(t)
	c := &cluster{t: t}
	for i := range n {
		l := newFakeLocal()
		b, err := New(Config{URL: url, NodeID: "n" + string(rune('a'+i)), Prefix: prefix, Clock: clock,
			Heartbeat: heartbeat, Displaced: l.displaced}, l, quiet)
		if err != nil {
			t.Fatal(err)
		}
		l.bus = b
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err = b.Connect(ctx)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		runCtx, stop := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); _ = b.Run(runCtx) }()
		t.Cleanup(func() { stop(); <-done; _ = b.Close() })
		c.nodes, c.locals = append(c.nodes, b), append(c.locals, l)
	}
	c.waitFor("every node hears every other", func() bool {
		for _, b := range c.nodes {
			if len(b.Nodes()) != n-1 {
				return false
			}
		}
		return true
	})
	return c
}

// waitFor polls cond until it holds (what the bus promises is eventual:
// an update is on its way), failing after a generous bound.
func (c *cluster) waitFor(what string, cond func() bool) {
	c.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			for i, b := range c.nodes {
				b.mu.RLock()
				for n, p := range b.nodes {
					c.t.Logf("node %d: peer %s seq %d syncing %v users %v", i, n, p.seq, p.syncing, p.users)
				}
				b.mu.RUnlock()
			}
			c.t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// sees reports whether every node reports as the user's remote sessions
// exactly those the other nodes' registries hold.
func (c *cluster) sees(appID, userID string) bool {
	for i, b := range c.nodes {
		var want, got []route.SessionID
		for j, l := range c.locals {
			if j != i {
				for _, s := range l.UserSessions(appID, userID) {
					want = append(want, s.ID)
				}
			}
		}
		for _, s := range b.RemoteSessions(appID, userID) {
			got = append(got, s.ID)
		}
		slices.Sort(want)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			return false
		}
	}
	return true
}

// login registers a session on node i and waits until the cluster knows.
func (c *cluster) login(i int, appID, userID, platform string) *fakeSession {
	c.t.Helper()
	s := c.locals[i].login(appID, userID, platform)
	c.nodes[i].UserChanged(appID, userID)
	c.waitFor("the cluster sees "+userID+"'s sessions", func() bool { return c.sees(appID, userID) })
	return s
}

func (c *cluster) logout(s *fakeSession) {
	c.t.Helper()
	i := slices.Index(c.locals, s.l)
	s.l.logout(s)
	c.nodes[i].UserChanged(s.app, s.user)
	c.waitFor("the cluster sees "+s.user+"'s sessions", func() bool { return c.sees(s.app, s.user) })
}

// clusterNode is the contract's Node: calls go to node 0, logins go
// round-robin over the nodes, so that a user's sessions spread.
type clusterNode struct {
	*Bus
	c *cluster
}

func (n clusterNode) Login(t *testing.T, appID, userID, platform string) routetest.Session {
	i := n.c.next % len(n.c.nodes)
	n.c.next++
	return clusterSession{n.c, n.c.login(i, appID, userID, platform)}
}

func (n clusterNode) Settle(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.Bus.Settle(ctx); err != nil {
		t.Fatal(err)
	}
}

type clusterSession struct {
	c *cluster
	s *fakeSession
}

func (s clusterSession) ID() route.SessionID       { return s.s.id }
func (s clusterSession) Logout()                   { s.c.logout(s.s) }
func (s clusterSession) Received() []routetest.Got { return s.s.take() }

// TestContract runs the routing contract against three nodes, each
// holding some of the sessions.
func TestContract(t *testing.T) {
	url := natsURL(t)
	for _, n := range []int{2, 3} {
		t.Run(string(rune('0'+n))+"nodes", func(t *testing.T) {
			routetest.Run(t, func(t *testing.T) routetest.Node {
				c := newCluster(t, url, n, nil)
				return clusterNode{c.nodes[0], c}
			})
		})
	}
}

// TestUserOnTwoNodes: one user's sessions on two nodes both get a message
// sent from a third, and each gets it once.
func TestUserOnTwoNodes(t *testing.T) {
	c := newCluster(t, natsURL(t), 3, nil)
	s1 := c.login(1, "app", "bob", "ios")
	s2 := c.login(2, "app", "bob", "web")
	if !c.nodes[0].Online("app", "bob") {
		t.Fatal("bob offline on the node without his sessions")
	}
	c.nodes[0].Route(&im.Message{AppID: "app", ID: 9, ConvID: "c", Seq: 1, Sender: "alice", Recipient: "bob"}, route.NoSession)
	if err := c.nodes[0].Settle(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, s := range []*fakeSession{s1, s2} {
		if got := s.take(); !slices.Equal(got, []routetest.Got{{MsgID: 9}}) {
			t.Errorf("session %s got %+v", s.id, got)
		}
	}
}

// TestPresenceExpires: a node whose connection closes without a goodbye
// stays in presence until Expiry passes on the others' clocks, then its
// users are offline.
func TestPresenceExpires(t *testing.T) {
	clock := clockwork.NewFakeClock()
	c := newCluster(t, natsURL(t), 2, clock)
	c.login(1, "app", "bob", "ios")
	c.nodes[1].nc.Close() // dies: no goodbye
	clock.Advance(c.nodes[0].cfg.Expiry / 2)
	c.nodes[0].expire(clock.Now())
	if !c.nodes[0].Online("app", "bob") {
		t.Fatal("bob offline before the expiry")
	}
	clock.Advance(c.nodes[0].cfg.Expiry)
	c.nodes[0].expire(clock.Now())
	if c.nodes[0].Online("app", "bob") || len(c.nodes[0].Nodes()) != 0 {
		t.Fatal("bob still online after his node expired")
	}
}

// TestNodeLostReportsSessions: a node dropped for its silence is reported
// with its users' sessions there; one that says goodbye is not.
func TestNodeLostReportsSessions(t *testing.T) {
	clock := clockwork.NewFakeClock()
	c := newCluster(t, natsURL(t), 3, clock)
	lost := make(chan []LostUser, 4)
	c.nodes[0].cfg.NodeLost = func(node string, us []LostUser) {
		if node != c.nodes[1].cfg.NodeID {
			t.Errorf("lost %s, want %s", node, c.nodes[1].cfg.NodeID)
		}
		lost <- us
	}
	c.login(1, "app", "bob", "ios")
	c.login(1, "app", "bob", "android")
	c.login(2, "app", "carol", "ios")
	_ = c.nodes[2].Close() // goodbye: not lost
	c.waitFor("carol offline after her node left", func() bool { return !c.nodes[0].Online("app", "carol") })
	c.nodes[1].nc.Close() // dies: no goodbye
	clock.Advance(2 * c.nodes[0].cfg.Expiry)
	c.nodes[0].expire(clock.Now())
	select {
	case us := <-lost:
		if len(us) != 1 || us[0].AppID != "app" || us[0].UserID != "bob" || len(us[0].Sessions) != 2 {
			t.Fatalf("lost %+v, want bob's two sessions", us)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the silent node was not reported lost")
	}
	select {
	case us := <-lost:
		t.Fatalf("reported again: %+v", us)
	default:
	}
}

// TestGoodbye: a node that closes cleanly is dropped at once.
func TestGoodbye(t *testing.T) {
	c := newCluster(t, natsURL(t), 2, nil)
	c.login(1, "app", "bob", "ios")
	_ = c.nodes[1].Close()
	c.waitFor("bob offline after his node left", func() bool { return !c.nodes[0].Online("app", "bob") })
}

// TestGapResyncs: an update lost on the way (numbers skip) is repaired by
// a snapshot of the node's state.
func TestGapResyncs(t *testing.T) {
	c := newCluster(t, natsURL(t), 2, nil)
	s := c.locals[1].login("app", "bob", "ios")
	c.nodes[1].seqMu.Lock()
	c.nodes[1].seq++ // as if an update had been published and lost
	c.nodes[1].seqMu.Unlock()
	c.nodes[1].heartbeat()
	c.waitFor("the snapshot brought bob", func() bool { return c.sees("app", "bob") })
	_ = s
}

// TestKickAcrossNodes: a login on one node reaches the Displaced hook of
// the node with the user's older session.
func TestKickAcrossNodes(t *testing.T) {
	c := newCluster(t, natsURL(t), 2, nil)
	old := c.login(0, "app", "bob", "ios")
	c.login(1, "app", "bob", "ios")
	c.waitFor("the old session kicked", func() bool { return c.locals[0].wasKicked(old.id) })
}

// TestBroadcast: a control message reaches the handler on every other
// node, not the sender's.
func TestBroadcast(t *testing.T) {
	c := newCluster(t, natsURL(t), 3, nil)
	var mu sync.Mutex
	got := map[int]Control{}
	for i, b := range c.nodes {
		b.Handle("forgetApp", func(ctl Control) { mu.Lock(); got[i] = ctl; mu.Unlock() })
	}
	c.nodes[0].Broadcast(Control{Op: "forgetApp", AppID: "app"})
	c.waitFor("nodes 1 and 2 got it", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return got[1].AppID == "app" && got[2].AppID == "app"
	})
	mu.Lock()
	defer mu.Unlock()
	if _, ok := got[0]; ok {
		t.Fatal("the sender got its own broadcast")
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	for _, cfg := range []Config{{NodeID: "a"}, {URL: "nats://x"}, {URL: "nats://x", NodeID: "a.b"},
		{URL: "nats://x", NodeID: "a", Heartbeat: time.Second, Expiry: time.Second}} {
		if _, err := New(cfg, newFakeLocal(), quiet); err == nil {
			t.Errorf("New(%+v) = nil error", cfg)
		}
	}
}

// fakeLocal is a registry without connections: sessions record what they
// are handed.
type fakeLocal struct {
	bus *Bus

	mu     sync.Mutex
	users  map[userKey][]*fakeSession
	kicked []route.SessionID
}

func newFakeLocal() *fakeLocal { return &fakeLocal{users: map[userKey][]*fakeSession{}} }

type fakeSession struct {
	l                   *fakeLocal
	id                  route.SessionID
	app, user, platform string
	since               time.Time
	mu                  sync.Mutex
	got                 []routetest.Got
}

func (l *fakeLocal) login(appID, userID, platform string) *fakeSession {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	s := &fakeSession{l: l, id: route.SessionID(hex.EncodeToString(b)), app: appID, user: userID, platform: platform, since: time.Now()}
	l.mu.Lock()
	defer l.mu.Unlock()
	k := userKey{appID, userID}
	l.users[k] = append(l.users[k], s)
	return s
}

func (l *fakeLocal) logout(s *fakeSession) {
	l.mu.Lock()
	defer l.mu.Unlock()
	k := userKey{s.app, s.user}
	l.users[k] = slices.DeleteFunc(l.users[k], func(o *fakeSession) bool { return o == s })
	if len(l.users[k]) == 0 {
		delete(l.users, k)
	}
}

func (l *fakeLocal) sessions(appID, userID string) []*fakeSession {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.users[userKey{appID, userID}])
}

func (s *fakeSession) add(g routetest.Got) { s.mu.Lock(); s.got = append(s.got, g); s.mu.Unlock() }

func (s *fakeSession) take() []routetest.Got {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.got
	s.got = nil
	return g
}

func (l *fakeLocal) Online(appID, userID string) bool { return len(l.sessions(appID, userID)) > 0 }

func (l *fakeLocal) UserSessions(appID, userID string) []route.SessionInfo {
	var out []route.SessionInfo
	for _, s := range l.sessions(appID, userID) {
		out = append(out, route.SessionInfo{ID: s.id, Platform: s.platform, Since: s.since})
	}
	return out
}

func (l *fakeLocal) Users(f func(appID, userID string)) {
	l.mu.Lock()
	keys := make([]userKey, 0, len(l.users))
	for k := range l.users {
		keys = append(keys, k)
	}
	l.mu.Unlock()
	for _, k := range keys {
		f(k.app, k.user)
	}
}

func (l *fakeLocal) Route(m *im.Message, origin route.SessionID) {
	for _, u := range []string{m.Recipient, m.Sender} {
		for _, s := range l.sessions(m.AppID, u) {
			if s.id != origin {
				s.add(routetest.Got{MsgID: m.ID})
			}
		}
	}
}

func (l *fakeLocal) RouteGroup(m *im.Message, members []im.Recipient, origin route.SessionID) {
	for _, r := range members {
		if m.Seq > 0 && r.Floor >= m.Seq {
			continue
		}
		for _, s := range l.sessions(m.AppID, r.UserID) {
			if s.id != origin {
				s.add(routetest.Got{MsgID: m.ID, Floor: r.Floor})
			}
		}
	}
}

func (l *fakeLocal) SendEvent(appID, userID, typ string, v any) {
	if _, err := json.Marshal(v); err != nil {
		return
	}
	for _, s := range l.sessions(appID, userID) {
		s.add(routetest.Got{Event: typ})
	}
}

// displaced kicks, as a one-session-per-platform policy would, the
// local sessions older than a remote one on the same platform.
func (l *fakeLocal) displaced(appID, userID string, remote []route.SessionInfo) {
	for _, s := range l.sessions(appID, userID) {
		for _, r := range remote {
			if r.Platform == s.platform && r.Since.After(s.since) {
				l.logout(s)
				l.mu.Lock()
				l.kicked = append(l.kicked, s.id)
				l.mu.Unlock()
				l.bus.UserChanged(appID, userID) // as the gateway's session end does
				break
			}
		}
	}
}

func (l *fakeLocal) wasKicked(id route.SessionID) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Contains(l.kicked, id)
}
