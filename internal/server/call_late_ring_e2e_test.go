package server_test

import (
	"context"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/heraldim/herald/internal/config"
	apnsemu "github.com/heraldim/herald/internal/emulator/apns"
	"github.com/heraldim/herald/internal/protocol"
	"github.com/heraldim/herald/internal/push"
	"github.com/heraldim/herald/internal/testkit"
)

// The tests of this file are promise 4 for call invitees that still
// counted as live at the invitation: an invitee whose last session ends
// without a logout while its invitation (with a push config) still rings
// has its devices rung then, once per device, and the ring is withdrawn as
// any other when the invitation stops ringing.

// watchCallEnds starts counting the call service's checks of ended
// sessions from now (server.CallSessionEndsChecked).
func watchCallEnds(t *testing.T, s *testkit.Server) *endChecks {
	return newEndChecks(t, s.Srv.CallSessionEndsChecked, " for rings")
}

// ringPhone is an iPhone of user registered with em: its alert token, and
// its VoIP token when voip.
type ringPhone struct {
	tok, voipTok string
	reg          protocol.PushRegistration
}

func newRingPhone(em *apnsemu.Emulator, voip bool) ringPhone {
	p := ringPhone{tok: em.RegisterDevice(bundle, apnsemu.Development, false)}
	p.reg = protocol.PushRegistration{Vendor: "apns", Token: p.tok, Environment: "development", BundleID: bundle}
	if voip {
		p.voipTok = em.RegisterDevice(bundle, apnsemu.Development, true)
		p.reg.VoIPToken = p.voipTok
	}
	return p
}

// ringTok is the token the phone's rings go to.
func (p ringPhone) ringTok() string {
	if p.voipTok != "" {
		return p.voipTok
	}
	return p.tok
}

// login logs user in from the phone on c and skips its login sync.
func (p ringPhone) login(t *testing.T, s *testkit.Server, c *testkit.Client, user string) *testkit.Client {
	t.Helper()
	reg := p.reg
	if err := c.Call(protocol.TypeLogin, protocol.LoginRequest{AppID: s.App.AppID, UserID: user,
		Token: s.Token(t, user, time.Hour), Platform: "ios", DeviceID: "phone-" + user, Push: &reg}, nil); err != nil {
		t.Fatalf("login %s: %v", user, err)
	}
	c.SyncDone(wait)
	return c
}

// ringJobs returns user's ring jobs of call id.
func ringJobs(t *testing.T, s *testkit.Server, user, id string) []push.Job {
	t.Helper()
	var out []push.Job
	for _, j := range jobsFor(t, s, user) {
		if j.CallID == id && j.Kind == push.JobCallInvite {
			out = append(out, j)
		}
	}
	return out
}

// wantRings waits for n rings to reach the phone and checks that exactly
// n ring jobs of the call exist and the phone got nothing else.
func wantRings(t *testing.T, s *testkit.Server, em *apnsemu.Emulator, p ringPhone, user, id string, n int) []apnsemu.Delivery {
	t.Helper()
	if n > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		if _, err := em.WaitDeliveries(ctx, p.ringTok(), n); err != nil {
			t.Fatalf("%d rings did not reach the phone: %v (jobs %+v)", n, err, jobsFor(t, s, user))
		}
	}
	if js := jobsFor(t, s, user); len(js) != n {
		t.Fatalf("%s has %d push jobs, want %d rings: %+v", user, len(js), n, js)
	}
	ds := em.Deliveries(p.ringTok())
	if len(ds) != n {
		t.Fatalf("the phone got %d rings, want %d", len(ds), n)
	}
	if p.voipTok != "" && len(em.Deliveries(p.tok)) != 0 {
		t.Fatalf("alerts with a VoIP token: %+v", em.Deliveries(p.tok))
	}
	for _, d := range ds {
		if d.Payload[push.CallExtraKey] != id || d.CollapseID != push.CallCollapseID(id) {
			t.Fatalf("ring %+v of call %s", d, id)
		}
	}
	return ds
}

var ringPC = &protocol.PushConfig{Title: "Alice", Content: "calling", Payload: "p"}

// TestCallRingWhenSessionEnds: (a) an invitee rung on its live session that
// closes without answering gets exactly one ring push (VoIP with a VoIP
// token, else an alert), becomes inviting, is delivered the invitation
// again at its next login and is not rung twice when that session dies
// too; (b) one that answered, (f) an invitation without a push config and
// (g) one that timed out before the end are not rung.
func TestCallRingWhenSessionEnds(t *testing.T) {
	for _, voip := range []bool{true, false} {
		name := "alert"
		if voip {
			name = "voip"
		}
		t.Run("unanswered/"+name, func(t *testing.T) {
			s := testkit.Start(t, nil)
			em := startAPNs(t, s)
			p := newRingPhone(em, voip)
			alice := callUser(t, s, "alice", "android", "a1")
			bob := p.login(t, s, testkit.Dial(t, s.URL), "bob")
			ends := watchCallEnds(t, s)
			rep := invite(t, alice, protocol.CallInviteRequest{Invitees: []string{"bob"}, Timeout: 60, PushConfig: ringPC})
			callEvent[protocol.CallInvitationReceived](t, bob, protocol.EventCallInvitationReceived)
			if js := jobsFor(t, s, "bob"); len(js) != 0 {
				t.Fatalf("bob was live, yet rung at the invitation: %+v", js)
			}
			bob.Close()
			ends.wait(1, wait)
			ds := wantRings(t, s, em, p, "bob", rep.CallID, 1)
			if voip && ds[0].PushType != "voip" || !voip && ds[0].PushType != "alert" {
				t.Fatalf("ring %+v", ds[0])
			}
			if j := ringJobs(t, s, "bob", rep.CallID); len(j) != 1 || j[0].ExpiresAt.UnixMilli() != rep.Deadline {
				t.Fatalf("ring jobs %+v (deadline %d)", j, rep.Deadline)
			}
			st := callEvent[protocol.CallUserStateChanged](t, alice, protocol.EventCallUserStateChanged)
			for st.CallID != rep.CallID || states(st.Users)["bob"] != protocol.CallInviting {
				st = callEvent[protocol.CallUserStateChanged](t, alice, protocol.EventCallUserStateChanged)
			}
			wantStates(t, callInfo(t, alice, rep.CallID).Users, map[string]int{"bob": protocol.CallInviting})
			// The next login rings the session again; its end owes no
			// second ring to the phone.
			bob = p.login(t, s, testkit.Dial(t, s.URL), "bob")
			if ev := callEvent[protocol.CallInvitationReceived](t, bob, protocol.EventCallInvitationReceived); ev.CallID != rep.CallID {
				t.Fatalf("login ring %+v", ev)
			}
			wantStates(t, callInfo(t, alice, rep.CallID).Users, map[string]int{"bob": protocol.CallReceived})
			bob.Close()
			ends.wait(1, wait)
			wantRings(t, s, em, p, "bob", rep.CallID, 1)
			wantStates(t, callInfo(t, alice, rep.CallID).Users, map[string]int{"bob": protocol.CallInviting})
		})
	}
	for _, tt := range []struct {
		name string
		// run invites bob (live on the phone) from alice and ends bob's
		// session as the case says.
		run func(t *testing.T, s *testkit.Server, alice, bob *testkit.Client)
	}{
		{"accepted", func(t *testing.T, s *testkit.Server, alice, bob *testkit.Client) {
			// Carol keeps the call open.
			rep := invite(t, alice, protocol.CallInviteRequest{Invitees: []string{"bob", "carol"}, Timeout: 60, PushConfig: ringPC})
			callEvent[protocol.CallInvitationReceived](t, bob, protocol.EventCallInvitationReceived)
			mustOK(t, "accept", bob.Call(protocol.TypeCallAccept, protocol.CallRequest{CallID: rep.CallID}, nil))
		}},
		{"rejected", func(t *testing.T, s *testkit.Server, alice, bob *testkit.Client) {
			rep := invite(t, alice, protocol.CallInviteRequest{Invitees: []string{"bob", "carol"}, Timeout: 60, PushConfig: ringPC})
			callEvent[protocol.CallInvitationReceived](t, bob, protocol.EventCallInvitationReceived)
			mustOK(t, "reject", bob.Call(protocol.TypeCallReject, protocol.CallRequest{CallID: rep.CallID}, nil))
		}},
		{"no push config", func(t *testing.T, s *testkit.Server, alice, bob *testkit.Client) {
			invite(t, alice, protocol.CallInviteRequest{Invitees: []string{"bob"}, Timeout: 60})
			callEvent[protocol.CallInvitationReceived](t, bob, protocol.EventCallInvitationReceived)
		}},
		{"deadline passed", func(t *testing.T, s *testkit.Server, alice, bob *testkit.Client) {
			rep := invite(t, alice, protocol.CallInviteRequest{Invitees: []string{"bob"}, Timeout: 1, PushConfig: ringPC})
			callEvent[protocol.CallInvitationReceived](t, bob, protocol.EventCallInvitationReceived)
			advancePast(s.Clock.(*clockwork.FakeClock), rep.Deadline)
			if to := callEvent[protocol.CallInvitationTimeout](t, bob, protocol.EventCallInvitationTimeout); to.CallID != rep.CallID {
				t.Fatalf("timeout %+v", to)
			}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := testkit.StartFake(t, nil)
			em := startAPNs(t, s)
			p := newRingPhone(em, true)
			known(t, s, "carol")
			alice := callUser(t, s, "alice", "android", "a1")
			bob := p.login(t, s, testkit.Dial(t, s.URL), "bob")
			ends := watchCallEnds(t, s)
			tt.run(t, s, alice, bob)
			bob.Close()
			ends.wait(1, wait)
			if js := jobsFor(t, s, "bob"); len(js) != 0 {
				t.Fatalf("bob was rung: %+v", js)
			}
			if n, m := len(em.Deliveries(p.voipTok)), len(em.Deliveries(p.tok)); n != 0 || m != 0 {
				t.Fatalf("%d rings, %d alerts", n, m)
			}
		})
	}
}

// TestCallRingFrozenAppAtHeartbeatTimeout: (c) an app frozen in the
// background still counts as live at the invitation; it is rung once the
// heartbeat window ends its session.
func TestCallRingFrozenAppAtHeartbeatTimeout(t *testing.T) {
	s, clk := testkit.StartFake(t, func(c *config.Config) {
		c.HeartbeatInterval = time.Second
		c.OfflineAfter = 2 * time.Second
	})
	em := startAPNs(t, s)
	p := newRingPhone(em, true)
	alice := callUser(t, s, "alice", "android", "a1")
	c, freeze := testkit.DialFreezable(t, s.URL)
	p.login(t, s, c, "bob")
	ends := watchCallEnds(t, s)
	freeze()
	rep := invite(t, alice, protocol.CallInviteRequest{Invitees: []string{"bob"}, Timeout: 60, PushConfig: ringPC})
	if js := jobsFor(t, s, "bob"); len(js) != 0 || !s.Online("bob") {
		t.Fatalf("bob counted live at the invitation: want no ring then, got %+v", js)
	}
	wantStates(t, callInfo(t, alice, rep.CallID).Users, map[string]int{"bob": protocol.CallReceived})
	// The heartbeat window (2 s) and a reaper tick (1 s) pass on the
	// server's clock once its ticker is armed; the close handshake's bound
	// (2 s) is real time.
	waitClockUsers(t, clk)
	clk.Advance(2*time.Second + time.Second)
	ends.wait(1, 2*time.Second+wait)
	wantRings(t, s, em, p, "bob", rep.CallID, 1)
}

// TestCallRingOtherSessionLive: (d) while another session of the invitee
// lives, an ended one rings nothing; the last one's end rings the phone.
func TestCallRingOtherSessionLive(t *testing.T) {
	s := testkit.Start(t, nil)
	em := startAPNs(t, s)
	p := newRingPhone(em, true)
	alice := callUser(t, s, "alice", "android", "a1")
	bob := p.login(t, s, testkit.Dial(t, s.URL), "bob")
	desk := callUser(t, s, "bob", "macos", "desk")
	desk.SyncDone(wait)
	ends := watchCallEnds(t, s)
	rep := invite(t, alice, protocol.CallInviteRequest{Invitees: []string{"bob"}, Timeout: 60, PushConfig: ringPC})
	callEvent[protocol.CallInvitationReceived](t, bob, protocol.EventCallInvitationReceived)
	callEvent[protocol.CallInvitationReceived](t, desk, protocol.EventCallInvitationReceived)
	bob.Close()
	ends.wait(1, wait)
	wantRings(t, s, em, p, "bob", rep.CallID, 0)
	wantStates(t, callInfo(t, alice, rep.CallID).Users, map[string]int{"bob": protocol.CallReceived})
	desk.Close()
	ends.wait(1, wait)
	wantRings(t, s, em, p, "bob", rep.CallID, 1)
}

// TestCallLateRingWithdrawn: (e) a ring that went out at a session's end
// is replaced, with its replace key, when the inviter cancels: by the
// cancel's push with a push config, else by the withdraw.
func TestCallLateRingWithdrawn(t *testing.T) {
	for _, tt := range []struct {
		name    string
		cancel  *protocol.PushConfig
		title   string
		content string
	}{
		{"cancel with a push config", &protocol.PushConfig{Title: "Alice", Content: "cancelled by Alice"}, "Alice", "cancelled by Alice"},
		{"cancel without", nil, "Alice", "Call cancelled"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := testkit.Start(t, nil)
			em := startAPNs(t, s)
			p := newRingPhone(em, true)
			alice := callUser(t, s, "alice", "android", "a1")
			bob := p.login(t, s, testkit.Dial(t, s.URL), "bob")
			ends := watchCallEnds(t, s)
			rep := invite(t, alice, protocol.CallInviteRequest{Invitees: []string{"bob"}, Timeout: 60, PushConfig: ringPC})
			callEvent[protocol.CallInvitationReceived](t, bob, protocol.EventCallInvitationReceived)
			bob.Close()
			ends.wait(1, wait)
			wantRings(t, s, em, p, "bob", rep.CallID, 1)
			waitCallJobs(t, s, "bob", 1, push.JobDelivered)
			mustOK(t, "cancel", alice.Call(protocol.TypeCallCancel, protocol.CallCancelRequest{CallID: rep.CallID, PushConfig: tt.cancel}, nil))
			ctx, cancel := context.WithTimeout(context.Background(), wait)
			defer cancel()
			ws, err := em.WaitDeliveries(ctx, p.tok, 1)
			if err != nil {
				t.Fatalf("no push replaced the ring: %v (jobs %+v)", err, jobsFor(t, s, "bob"))
			}
			key := push.CallCollapseID(rep.CallID)
			w := ws[0]
			title, body := alertOf(t, w)
			if w.CollapseID != key || w.PushType != "alert" || title != tt.title || body != tt.content || w.Payload[push.CallExtraKey] != rep.CallID {
				t.Fatalf("withdraw %+v %q %q (key %s)", w, title, body, key)
			}
			if rings := em.Deliveries(p.voipTok); len(rings) != 1 || rings[0].CollapseID != key {
				t.Fatalf("rings %+v", rings)
			}
			waitFor(t, "the withdraw delivered", func() bool {
				for _, j := range jobsFor(t, s, "bob") {
					if j.Kind == push.JobCallCancel && j.Status == push.JobDelivered {
						return true
					}
				}
				return false
			})
			if n, m := len(em.Deliveries(p.voipTok)), len(em.Deliveries(p.tok)); n != 1 || m != 1 {
				t.Fatalf("%d rings, %d alerts", n, m)
			}
		})
	}
}

// TestCallRingOwedAtRestart: a server stop ends the sessions too; the
// check of an invitee's ended session runs before the store closes, so
// its ring is planned (once) and the invitee is inviting across the
// restart.
func TestCallRingOwedAtRestart(t *testing.T) {
	dir := t.TempDir()
	s1 := testkit.Start(t, func(c *config.Config) { c.DataDir = dir })
	em := startAPNs(t, s1)
	p := newRingPhone(em, true)
	alice := callUser(t, s1, "alice", "android", "a1")
	bob := p.login(t, s1, testkit.Dial(t, s1.URL), "bob")
	rep := invite(t, alice, protocol.CallInviteRequest{Invitees: []string{"bob"}, Timeout: 60, PushConfig: ringPC})
	callEvent[protocol.CallInvitationReceived](t, bob, protocol.EventCallInvitationReceived)
	s1.Stop(t)

	s2 := testkit.Start(t, func(c *config.Config) { c.DataDir = dir })
	if js := ringJobs(t, s2, "bob", rep.CallID); len(js) != 1 || js[0].ExpiresAt.UnixMilli() != rep.Deadline {
		t.Fatalf("ring jobs after the restart %+v", js)
	}
	alice = callUser(t, s2, "alice", "android", "a1")
	wantStates(t, callInfo(t, alice, rep.CallID).Users, map[string]int{"bob": protocol.CallInviting})
}
