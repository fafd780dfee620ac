package server_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldim/herald/internal/im"
	"github.com/heraldim/herald/internal/protocol"
	"github.com/heraldim/herald/internal/push"
	"github.com/heraldim/herald/internal/store/sqlstore"
	"github.com/heraldim/herald/internal/testkit"
	"github.com/heraldim/herald/internal/webhook"
)

// countingReceiver is a webhook endpoint that counts, by event ID, the
// events it answered 200. A request that comes while it is held is never
// answered: it waits until its sender gives up (and records no delivery).
type countingReceiver struct {
	srv *httptest.Server

	mu       sync.Mutex
	answered map[string]int
	hold     bool
	held     int           // requests kept so far
	closed   chan struct{} // at the test's end
}

func newCountingReceiver(t *testing.T) *countingReceiver {
	r := &countingReceiver{answered: map[string]int{}, closed: make(chan struct{})}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		hold := r.hold
		if hold {
			r.held++
		}
		r.mu.Unlock()
		if hold {
			select {
			case <-r.closed:
			case <-req.Context().Done():
			}
			return
		}
		r.mu.Lock()
		r.answered[req.Header.Get(webhook.HeaderEventID)]++
		r.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(func() {
		close(r.closed)
		r.srv.Close()
	})
	return r
}

// holdAll makes the receiver keep the requests that come from now on.
func (r *countingReceiver) holdAll() { r.setHold(true) }

// answer makes the receiver answer the requests that come from now on
// (those it keeps stay kept).
func (r *countingReceiver) answer() { r.setHold(false) }

func (r *countingReceiver) setHold(h bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.hold = h
}

func (r *countingReceiver) heldCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.held
}

func (r *countingReceiver) counts() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]int, len(r.answered))
	for id, n := range r.answered {
		out[id] = n
	}
	return out
}

// waitAnswered waits until every event of ids was answered.
func (r *countingReceiver) waitAnswered(t *testing.T, ids []string) {
	t.Helper()
	waitUntil(t, fmt.Sprintf("%d webhook events answered", len(ids)), func() bool {
		c := r.counts()
		for _, id := range ids {
			if c[id] == 0 {
				return false
			}
		}
		return true
	})
}

// leaders waits until one of a and b leads the loop lead picks, and
// returns the leader and the other node.
func leaders(t *testing.T, a, b *testkit.Server, lead func(webhooks, groupPushes bool) bool) (leader, follower *testkit.Server) {
	t.Helper()
	waitUntil(t, "a node leads", func() bool { return lead(a.Srv.WorkersLeading()) || lead(b.Srv.WorkersLeading()) })
	if lead(a.Srv.WorkersLeading()) {
		return a, b
	}
	return b, a
}

func leadsWebhooks(w, _ bool) bool    { return w }
func leadsGroupPushes(_, g bool) bool { return g }

// TestClusterWebhooksDeliveredOnce: two nodes write message.sent events
// to the one outbox; only the leader delivers, so each event reaches the
// receiver once. The leader stops while its deliveries are held: the other
// node takes the leadership and delivers those and the rest, each once.
func TestClusterWebhooksDeliveredOnce(t *testing.T) {
	a, b := startCluster(t)
	r := newCountingReceiver(t)
	body := map[string]any{"url": r.srv.URL + "/events", "events": []string{"message.sent"}}
	// On both nodes, so that neither waits for the broadcast to reload.
	mustAdmin(t, a, 200, "PUT", "/webhooks", body)
	mustAdmin(t, b, 200, "PUT", "/webhooks", body)
	leader, follower := leaders(t, a, b, leadsWebhooks)
	if w, _ := follower.Srv.WorkersLeading(); w {
		t.Fatal("both nodes lead the webhook delivery")
	}

	send := func(s *testkit.Server, user, prefix string, n int) []string {
		c := s.LoginAs(t, user, "web", "w-"+user)
		c.SyncDone(wait)
		defer c.Close()
		ids := make([]string, 0, n)
		for i := range n {
			reply, err := c.SendText("bob", fmt.Sprintf("%s%d", prefix, i), "hi")
			if err != nil {
				t.Fatal(err)
			}
			id, perr := strconv.ParseInt(reply.MessageID, 10, 64)
			if perr != nil {
				t.Fatalf("message ID %q: %v", reply.MessageID, perr)
			}
			ids = append(ids, webhook.MessageEventID(id))
		}
		return ids
	}
	// Events written on both nodes, delivered by the leader.
	ids := append(send(leader, "alice", "l", 10), send(follower, "carol", "f", 10)...)
	r.waitAnswered(t, ids)

	// The receiver keeps what comes now; the leader stops with those
	// deliveries in flight (cancelled: they stay pending, and the other
	// node, leading next, sends them again, once).
	r.holdAll()
	more := append(send(leader, "alice", "l2-", 5), send(follower, "carol", "f2-", 5)...)
	// The leader fills its 4 deliveries in flight for the app (the
	// webhook service's PerApp) with kept requests, and starts no other.
	waitUntil(t, "the leader's deliveries held", func() bool { return r.heldCount() >= 4 })
	// Those stay kept; what comes next is answered: the other node's
	// deliveries once it leads.
	r.answer()
	leader.Stop(t)
	more = append(more, send(follower, "carol", "f3-", 5)...)
	waitUntil(t, "the other node leads", func() bool { w, _ := follower.Srv.WorkersLeading(); return w })
	ids = append(ids, more...)
	r.waitAnswered(t, ids)
	follower.Stop(t) // nothing is in flight any more once it stopped
	c := r.counts()
	for _, id := range ids {
		if c[id] != 1 {
			t.Errorf("event %s answered %d times, want once", id, c[id])
		}
	}
	if len(c) != len(ids) {
		t.Errorf("the receiver answered %d events, want %d: %v", len(c), len(ids), c)
	}
}

// TestClusterGroupPushesPlannedOnce: group messages sent on both nodes
// have each offline member's push planned once (one job per message and
// device); when the leader is gone mid-message (its first page planned),
// the other node plans the rest, and only the rest.
func TestClusterGroupPushesPlannedOnce(t *testing.T) {
	a, b, pg := startClusterPG(t)
	reg := func(u string) protocol.PushRegistration {
		return protocol.PushRegistration{Vendor: "apns", Token: strings.Repeat(fmt.Sprintf("%02x", len(u)), 32), Environment: "development", BundleID: bundle}
	}
	for _, u := range []string{"bob", "carol"} {
		goOffline(t, a, u, reg(u))
		waitUntil(t, u+" offline on b", func() bool { return !b.Online(u) })
	}
	alice := member(t, a, "alice")
	dave := member(t, b, "dave")
	mustOK(t, "create", alice.Call(protocol.TypeGroupCreate, protocol.GroupCreateRequest{GroupID: "team", Name: "Team", Members: []string{"bob", "carol", "dave"}}, nil))
	event[protocol.GroupStateChanged](t, dave, protocol.EventGroupStateChanged)
	const perNode = 5
	for i := range perNode {
		for _, c := range []*testkit.Client{alice, dave} {
			_, err := sendGroup(t, c, "team", fmt.Sprintf("p%d", i), "standup", &protocol.PushConfig{Title: "Team", Content: "standup"})
			mustOK(t, "send", err)
		}
	}
	ctx := context.Background()
	st, err := sqlstore.OpenPostgres(ctx, sqlstore.PostgresConfig{URL: pg, MaxConns: 2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	planned := func() bool {
		fs, err := st.GroupFanouts(ctx, 10)
		if err != nil {
			t.Fatal(err)
		}
		return len(fs) == 0
	}
	jobsPerMessage := func(s *testkit.Server, user string) map[int64]int {
		n := map[int64]int{}
		for _, j := range jobsFor(t, s, user) {
			n[j.MessageID]++
		}
		return n
	}
	waitUntil(t, "every group push planned", func() bool {
		return planned() && len(jobsPerMessage(a, "bob")) == 2*perNode && len(jobsPerMessage(a, "carol")) == 2*perNode
	})
	for _, u := range []string{"bob", "carol"} {
		for id, n := range jobsPerMessage(a, u) {
			if n != 1 {
				t.Errorf("%s has %d jobs for message %d, want one", u, n, id)
			}
		}
	}
	for _, u := range []string{"alice", "dave"} {
		if jobs := jobsFor(t, a, u); len(jobs) != 0 {
			t.Errorf("%s (sender or online) has push jobs %+v", u, jobs)
		}
	}

	// The leader stops; the group message it was planning is left as a
	// leader that died after its first page leaves it: planned up to bob.
	leader, follower := leaders(t, a, b, leadsGroupPushes)
	alice.Close()
	dave.Close()
	leader.Stop(t)
	now := time.Now()
	m := &im.Message{AppID: a.App.AppID, ID: now.UnixNano() >> 10, ConvID: im.GroupConvID("team"), ConvType: protocol.ConversationGroup,
		Sender: "alice", Recipient: "team", Type: protocol.MessageText, Text: "resumed", Priority: 2, LocalID: "r1",
		CreatedAt: now, PushConfig: &push.Content{Title: "Team", Content: "resumed"}, GroupPush: true, PushExpires: now.Add(time.Hour)}
	if _, err := st.AppendMessages(ctx, []*im.Message{m}); err != nil {
		t.Fatal(err)
	}
	fs, err := st.GroupFanouts(ctx, 10)
	if err != nil || len(fs) != 1 {
		t.Fatalf("fanouts %+v %v", fs, err)
	}
	if err := st.PlanGroupPush(ctx, fs[0], nil, "bob"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the other node plans the rest", func() bool {
		return planned() && jobsPerMessage(follower, "carol")[m.ID] == 1
	})
	if _, g := follower.Srv.WorkersLeading(); !g {
		t.Error("the remaining node does not lead the group pushes")
	}
	if n := jobsPerMessage(follower, "bob")[m.ID]; n != 0 {
		t.Errorf("bob, planned before the leader stopped, has %d jobs for the resumed message", n)
	}
	if n := len(jobsPerMessage(follower, "carol")); n != 2*perNode+1 {
		t.Errorf("carol has jobs for %d messages, want %d", n, 2*perNode+1)
	}
}
