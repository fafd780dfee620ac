package server_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/heraldim/herald/internal/config"
	apnsemu "github.com/heraldim/herald/internal/emulator/apns"
	"github.com/heraldim/herald/internal/protocol"
	"github.com/heraldim/herald/internal/push"
	"github.com/heraldim/herald/internal/testkit"
)

// callLeader waits until one of nodes (and only one) runs the calls, and
// returns it and the others.
func callLeader(t *testing.T, nodes []*testkit.Server) (leader *testkit.Server, others []*testkit.Server) {
	t.Helper()
	waitUntil(t, "a node leads the calls", func() bool {
		leader, others = nil, nil
		for _, n := range nodes {
			if n.Srv.ServesCalls() {
				if leader != nil {
					t.Fatalf("two nodes run the calls: %s and %s", leader.HTTP, n.HTTP)
				}
				leader = n
			} else {
				others = append(others, n)
			}
		}
		return leader != nil
	})
	return leader, others
}

// TestClusterCallAcrossNodes: an inviter on a node that does not run the
// calls invites a user on the leader and one on its own node; both ring,
// one accepts, the other rejects, and every session sees every change.
func TestClusterCallAcrossNodes(t *testing.T) {
	nodes := startNodes(t, 2, nil)
	leader, others := callLeader(t, nodes)
	other := others[0]
	known(t, leader, "bob", "carol")
	alice := callUser(t, other, "alice", "ios", "a1")
	bob := callUser(t, leader, "bob", "ios", "b1")
	carol := callUser(t, other, "carol", "android", "c1")
	waitUntil(t, "the leader sees carol online", func() bool { return leader.Online("carol") })
	waitUntil(t, "the other node sees bob online", func() bool { return other.Online("bob") })

	rep := invite(t, alice, protocol.CallInviteRequest{Invitees: []string{"bob", "carol"}, Timeout: 30, ExtendedData: "video"})
	if rep.CallID == "" || rep.Timeout != 30 || len(rep.ErrorInvitees) != 0 {
		t.Fatalf("reply %+v", rep)
	}
	for _, c := range []*testkit.Client{bob, carol} {
		ev := callEvent[protocol.CallInvitationReceived](t, c, protocol.EventCallInvitationReceived)
		if ev.CallID != rep.CallID || ev.Inviter != "alice" || ev.ExtendedData != "video" {
			t.Fatalf("ring %+v", ev)
		}
		wantStates(t, ev.Users, map[string]int{"alice": protocol.CallAccepted, "bob": protocol.CallReceived, "carol": protocol.CallReceived})
	}
	ev := callEvent[protocol.CallUserStateChanged](t, alice, protocol.EventCallUserStateChanged)
	wantStates(t, ev.Users, map[string]int{"bob": protocol.CallReceived, "carol": protocol.CallReceived})
	// Refusals keep their codes across the hop.
	if err := alice.Call(protocol.TypeCallAccept, protocol.CallRequest{CallID: rep.CallID}, nil); err == nil || err.Code != protocol.CodeNotCallInvitee {
		t.Fatalf("the inviter accepting: %v, want %d", err, protocol.CodeNotCallInvitee)
	}
	if err := alice.Call(protocol.TypeCallInfo, protocol.CallRequest{CallID: "nope"}, nil); err == nil || err.Code != protocol.CodeCallNotFound {
		t.Fatalf("info of no call: %v, want %d", err, protocol.CodeCallNotFound)
	}

	if err := bob.Call(protocol.TypeCallAccept, protocol.CallRequest{CallID: rep.CallID, ExtendedData: "hi"}, nil); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*testkit.Client{alice, bob, carol} {
		ev := callEvent[protocol.CallUserStateChanged](t, c, protocol.EventCallUserStateChanged)
		if len(ev.Users) != 1 || ev.Users[0].UserID != "bob" || ev.Users[0].State != protocol.CallAccepted {
			t.Fatalf("state change %+v", ev)
		}
	}
	if err := carol.Call(protocol.TypeCallReject, protocol.CallRequest{CallID: rep.CallID}, nil); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*testkit.Client{alice, bob, carol} {
		ev := callEvent[protocol.CallUserStateChanged](t, c, protocol.EventCallUserStateChanged)
		wantStates(t, ev.Users, map[string]int{"carol": protocol.CallRejected})
	}
	if err := carol.Call(protocol.TypeCallAccept, protocol.CallRequest{CallID: rep.CallID}, nil); err == nil || err.Code != protocol.CodeCallAnswered {
		t.Fatalf("accepting after rejecting, across nodes: %v, want %d", err, protocol.CodeCallAnswered)
	}
	info := callInfo(t, alice, rep.CallID)
	if !info.Ended {
		t.Fatalf("info %+v", info)
	}
	wantStates(t, info.Users, map[string]int{"alice": protocol.CallAccepted, "bob": protocol.CallAccepted, "carol": protocol.CallRejected})
}

// TestClusterCallLoginAndTimeout: an offline invitee that logs in on a
// node that does not run the calls rings there (the leader's LoggedIn
// events delivered by that node); the invitation times out on the fake
// clock, told on every node.
func TestClusterCallLoginAndTimeout(t *testing.T) {
	clk := clockwork.NewFakeClockAt(time.Now())
	nodes := startNodes(t, 2, func(c *config.Config) { c.Clock = clk })
	leader, others := callLeader(t, nodes)
	other := others[0]
	known(t, other, "bob", "dave")
	alice := callUser(t, leader, "alice", "ios", "a1")
	rep := invite(t, alice, protocol.CallInviteRequest{Invitees: []string{"bob", "dave"}, Timeout: 5})
	ev := callEvent[protocol.CallUserStateChanged](t, alice, protocol.EventCallUserStateChanged)
	wantStates(t, ev.Users, map[string]int{"bob": protocol.CallInviting, "dave": protocol.CallInviting})

	bob := callUser(t, other, "bob", "android", "b1")
	ring := callEvent[protocol.CallInvitationReceived](t, bob, protocol.EventCallInvitationReceived)
	if ring.CallID != rep.CallID || ring.Deadline != rep.Deadline {
		t.Fatalf("ring at login %+v (deadline %d)", ring, rep.Deadline)
	}
	wantStates(t, ring.Users, map[string]int{"bob": protocol.CallReceived})
	ev = callEvent[protocol.CallUserStateChanged](t, alice, protocol.EventCallUserStateChanged)
	wantStates(t, ev.Users, map[string]int{"bob": protocol.CallReceived})

	advancePast(clk, rep.Deadline)
	if to := callEvent[protocol.CallInvitationTimeout](t, bob, protocol.EventCallInvitationTimeout); to.CallID != rep.CallID {
		t.Fatalf("timeout %+v", to)
	}
	ev = callEvent[protocol.CallUserStateChanged](t, alice, protocol.EventCallUserStateChanged)
	wantStates(t, ev.Users, map[string]int{"bob": protocol.CallTimeout, "dave": protocol.CallTimeout})
	if err := bob.Call(protocol.TypeCallAccept, protocol.CallRequest{CallID: rep.CallID}, nil); err == nil || err.Code != protocol.CodeCallEnded {
		t.Fatalf("late accept: %v", err)
	}
}

// TestClusterCallFailover: the node that runs the calls stops; another
// takes over with the open calls loaded from the store: a call keeps its
// deadline and times out on time, one whose deadline passed while nobody
// led times out at once, and requests go through the new leader.
func TestClusterCallFailover(t *testing.T) {
	clk := clockwork.NewFakeClockAt(time.Now())
	nodes := startNodes(t, 3, func(c *config.Config) { c.Clock = clk })
	leader, others := callLeader(t, nodes)
	known(t, others[0], "bob", "carol", "erin")
	alice := callUser(t, others[0], "alice", "ios", "a1")
	bob := callUser(t, others[1], "bob", "android", "b1")
	waitUntil(t, "the inviter's node sees bob online", func() bool { return others[0].Online("bob") })
	long := invite(t, alice, protocol.CallInviteRequest{Invitees: []string{"bob", "carol"}, Timeout: 30})
	callEvent[protocol.CallInvitationReceived](t, bob, protocol.EventCallInvitationReceived)
	short := invite(t, alice, protocol.CallInviteRequest{Invitees: []string{"erin"}, Timeout: 2})

	leader.Stop(t)
	// Past the short call's deadline, probably before the next leader
	// loads: it times out as soon as a node leads.
	advancePast(clk, short.Deadline)
	next, _ := callLeader(t, others)
	info := waitCallState(t, alice, short.CallID, "erin", protocol.CallTimeout)
	if !info.Ended {
		t.Fatalf("short call after the failover %+v", info)
	}
	// The long call is still open, with its deadline.
	info = callInfo(t, alice, long.CallID)
	if info.Ended || info.Deadline != long.Deadline {
		t.Fatalf("long call after the failover %+v (deadline %d)", info, long.Deadline)
	}
	wantStates(t, info.Users, map[string]int{"bob": protocol.CallReceived, "carol": protocol.CallInviting})
	// Just before its deadline nothing times out; past it, it does.
	clk.Advance(clk.Until(time.UnixMilli(long.Deadline)) - 500*time.Millisecond)
	if info := callInfo(t, alice, long.CallID); info.Ended {
		t.Fatalf("long call ended before its deadline: %+v", info)
	}
	advancePast(clk, long.Deadline)
	if to := callEvent[protocol.CallInvitationTimeout](t, bob, protocol.EventCallInvitationTimeout); to.CallID != long.CallID {
		t.Fatalf("timeout %+v", to)
	}
	if late := clk.Since(time.UnixMilli(long.Deadline)); late < 0 || late > 2*time.Second {
		t.Fatalf("timed out %s after the deadline", late)
	}
	info = callInfo(t, alice, long.CallID)
	wantStates(t, info.Users, map[string]int{"bob": protocol.CallTimeout, "carol": protocol.CallTimeout})
	// The new leader takes new calls.
	rep := invite(t, alice, protocol.CallInviteRequest{Invitees: []string{"bob"}, Timeout: 30})
	if ring := callEvent[protocol.CallInvitationReceived](t, bob, protocol.EventCallInvitationReceived); ring.CallID != rep.CallID {
		t.Fatalf("ring %+v", ring)
	}
	if !next.Srv.ServesCalls() {
		t.Fatal("the new leader stopped leading")
	}
}

// waitCallState polls callInfo until user is in state st.
func waitCallState(t *testing.T, c *testkit.Client, callID, user string, st int) protocol.CallInfo {
	t.Helper()
	var info protocol.CallInfo
	waitUntil(t, fmt.Sprintf("%s in state %d", user, st), func() bool {
		var got protocol.CallInfo
		if err := c.Call(protocol.TypeCallInfo, protocol.CallRequest{CallID: callID}, &got); err != nil {
			return false // unavailable while nobody leads
		}
		info = got
		return states(got.Users)[user] == st
	})
	return info
}

// TestClusterCallRingGate: a ring push goes out from whichever node
// claims the job, through the leader's gate; the gate of a node that does
// not run the calls says what the leader says, and closes for an ended
// call.
func TestClusterCallRingGate(t *testing.T) {
	nodes := startNodes(t, 2, nil)
	leader, others := callLeader(t, nodes)
	other := others[0]
	em, key := startAPNsWith(t, leader, apnsemu.Config{})
	installAPNs(t, other, em, key)
	voipTok := em.RegisterDevice(bundle, apnsemu.Development, true)
	goOffline(t, other, "bob", protocol.PushRegistration{Vendor: "apns", Token: em.RegisterDevice(bundle, apnsemu.Development, false),
		VoIPToken: voipTok, Environment: "development", BundleID: bundle})
	known(t, other, "carol")
	alice := callUser(t, other, "alice", "android", "a1")
	rep := invite(t, alice, protocol.CallInviteRequest{Invitees: []string{"bob", "carol"}, Timeout: 60,
		PushConfig: &protocol.PushConfig{Title: "Alice", Content: "calling"}})
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if _, err := em.WaitDeliveries(ctx, voipTok, 1); err != nil {
		t.Fatalf("no ring push: %v (jobs %+v)", err, jobsFor(t, other, "bob"))
	}
	app := other.App.AppID
	for _, n := range nodes {
		if !n.Srv.CallGate().Ringing(app, rep.CallID, "bob") {
			t.Fatalf("node %s: the gate says bob's invitation does not ring", n.HTTP)
		}
	}
	if err := alice.Call(protocol.TypeCallCancel, protocol.CallCancelRequest{CallID: rep.CallID}, nil); err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		g := n.Srv.CallGate()
		if g.Ringing(app, rep.CallID, "bob") || g.ClaimRing(push.Job{ID: 1, AppID: app, CallID: rep.CallID, UserID: "bob"}) {
			t.Fatalf("node %s: the gate lets a ring of a cancelled call through", n.HTTP)
		}
	}
	// The next leader's gate holds the calls it loaded.
	rep2 := invite(t, alice, protocol.CallInviteRequest{Invitees: []string{"carol"}, Timeout: 60})
	if !other.Srv.CallGate().Ringing(app, rep2.CallID, "carol") {
		t.Fatal("the gate says carol's invitation does not ring")
	}
	leader.Stop(t)
	next, _ := callLeader(t, others) // the other node takes over
	if !next.Srv.CallGate().Ringing(app, rep2.CallID, "carol") {
		t.Fatal("after the failover, the gate says carol's invitation does not ring")
	}
}

// TestClusterCallRingWhenSessionEnds: an invitee rung on its live
// session on a node that does not run the calls, whose session there
// ends without an answer, gets its ring push: the end reaches the leader
// after the presence update that takes the user offline.
func TestClusterCallRingWhenSessionEnds(t *testing.T) {
	nodes := startNodes(t, 2, nil)
	leader, others := callLeader(t, nodes)
	other := others[0]
	em, key := startAPNsWith(t, leader, apnsemu.Config{})
	installAPNs(t, other, em, key)
	p := newRingPhone(em, true)
	alice := callUser(t, leader, "alice", "android", "a1")
	bob := p.login(t, other, testkit.Dial(t, other.URL), "bob")
	waitUntil(t, "the leader sees bob online", func() bool { return leader.Online("bob") })
	ends := watchCallEnds(t, leader)
	rep := invite(t, alice, protocol.CallInviteRequest{Invitees: []string{"bob"}, Timeout: 60, PushConfig: ringPC})
	callEvent[protocol.CallInvitationReceived](t, bob, protocol.EventCallInvitationReceived)
	if js := jobsFor(t, leader, "bob"); len(js) != 0 {
		t.Fatalf("bob was live, yet rung at the invitation: %+v", js)
	}
	bob.Close()
	ends.wait(1, wait)
	wantRings(t, leader, em, p, "bob", rep.CallID, 1)
	wantStates(t, callInfo(t, alice, rep.CallID).Users, map[string]int{"bob": protocol.CallInviting})
}
