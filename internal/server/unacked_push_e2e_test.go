package server_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/heraldim/herald/internal/config"
	apnsemu "github.com/heraldim/herald/internal/emulator/apns"
	"github.com/heraldim/herald/internal/protocol"
	"github.com/heraldim/herald/internal/push"
	"github.com/heraldim/herald/internal/testkit"
)

// The tests of this file are promise 4 for recipients that still counted
// as live when their message was committed: a message with a push config
// written to a session that ends without acknowledging it is pushed when
// the session ends, once per device, and never when the message was
// acknowledged, another session of the user lives, or the user logged out.

// endChecks waits for the server's checks of ended sessions: the
// messaging service's (server.SessionEndsChecked, watchEnds) or the call
// service's (server.CallSessionEndsChecked, watchCallEnds).
type endChecks struct {
	t     *testing.T
	count func() (uint64, <-chan struct{})
	what  string
	base  uint64
}

// watchEnds starts counting the messaging service's checks from now.
func watchEnds(t *testing.T, s *testkit.Server) *endChecks {
	return newEndChecks(t, s.Srv.SessionEndsChecked, "")
}

func newEndChecks(t *testing.T, count func() (uint64, <-chan struct{}), what string) *endChecks {
	n, _ := count()
	return &endChecks{t: t, count: count, what: what, base: n}
}

// wait waits until n sessions ended since the watch began (or the last
// wait) were checked.
func (e *endChecks) wait(n uint64, within time.Duration) {
	e.t.Helper()
	timeout := time.After(within)
	for {
		got, changed := e.count()
		if got >= e.base+n {
			e.base += n
			return
		}
		select {
		case <-changed:
		case <-timeout:
			e.t.Fatalf("%d of %d ended sessions checked%s within %s", got-e.base, n, e.what, within)
		}
	}
}

// phone logs user in from an iPhone (development build) registered with
// the APNs emulator and returns the client and the device's token.
func phone(t *testing.T, s *testkit.Server, em *apnsemu.Emulator, user, device string) (*testkit.Client, string) {
	t.Helper()
	tok := em.RegisterDevice(bundle, apnsemu.Development, false)
	return phoneWith(t, s, testkit.Dial(t, s.URL), user, device, tok), tok
}

// phoneWith logs user in on c with the APNs device token tok.
func phoneWith(t *testing.T, s *testkit.Server, c *testkit.Client, user, device, tok string) *testkit.Client {
	t.Helper()
	if err := c.Call(protocol.TypeLogin, protocol.LoginRequest{AppID: s.App.AppID, UserID: user,
		Token: s.Token(t, user, time.Hour), Platform: "ios", DeviceID: device,
		Push: &protocol.PushRegistration{Vendor: "apns", Token: tok, Environment: "development", BundleID: bundle}}, nil); err != nil {
		t.Fatalf("login %s: %v", user, err)
	}
	return c
}

// ack acknowledges a conversation up to seq and waits for the reply.
func ack(t *testing.T, c *testkit.Client, conv string, convType int, seq int64) {
	t.Helper()
	if err := c.Call(protocol.TypeAck, protocol.AckRequest{Acks: []protocol.AckPosition{{ConversationID: conv, ConversationType: convType, Seq: seq}}}, nil); err != nil {
		t.Fatalf("ack: %v", err)
	}
}

// wantPushes waits for want pushes to reach tok and checks that user has
// exactly want push jobs, all delivered: no further push can come.
func wantPushes(t *testing.T, s *testkit.Server, em *apnsemu.Emulator, tok, user string, want int) []apnsemu.Delivery {
	t.Helper()
	if want > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		if _, err := em.WaitDeliveries(ctx, tok, want); err != nil {
			t.Fatalf("%d pushes did not reach the device: %v (jobs %+v)", want, err, jobsFor(t, s, user))
		}
	}
	// Every check ran: the jobs are all there will be, one push each.
	jobs := jobsFor(t, s, user)
	if len(jobs) != want {
		t.Fatalf("%s has %d push jobs, want %d: %+v", user, len(jobs), want, jobs)
	}
	for _, j := range jobs {
		if j.Status == push.JobFailed || j.Status == push.JobDropped {
			t.Fatalf("job %+v", j)
		}
	}
	ds := em.Deliveries(tok)
	if len(ds) != want {
		t.Fatalf("the device got %d pushes, want %d", len(ds), want)
	}
	return ds
}

func alertOf(t *testing.T, d apnsemu.Delivery) (title, body string) {
	t.Helper()
	var p struct {
		APS struct {
			Alert struct {
				Title string `json:"title"`
				Body  string `json:"body"`
			} `json:"alert"`
		} `json:"aps"`
	}
	if err := json.Unmarshal(d.Body, &p); err != nil {
		t.Fatalf("push payload %s: %v", d.Body, err)
	}
	return p.APS.Alert.Title, p.APS.Alert.Body
}

func TestUnackedMessagePushedWhenSessionEnds(t *testing.T) {
	pc := func(content string) *protocol.PushConfig {
		return &protocol.PushConfig{Title: "Alice", Content: content}
	}
	cases := []struct {
		name string
		// run gets bob logged in and synced on the phone with tok, sends
		// to him from alice, ends bob's sessions as the case says, and
		// waits on ends for their checks.
		run  func(t *testing.T, s *testkit.Server, em *apnsemu.Emulator, ends *endChecks, alice, bob *testkit.Client, tok string)
		want []string // pushes' contents
	}{
		{"closed abruptly after the message, never acked", func(t *testing.T, s *testkit.Server, em *apnsemu.Emulator, ends *endChecks, alice, bob *testkit.Client, tok string) {
			sendWithPush(t, alice, "bob", "m1", pc("one"))
			if jobs := jobsFor(t, s, "bob"); len(jobs) != 0 {
				t.Fatalf("bob was live, yet planned at the commit: %+v", jobs)
			}
			nextMessage(t, bob)
			bob.Close()
			ends.wait(1, wait)
		}, []string{"one"}},
		{"acked, then closed", func(t *testing.T, s *testkit.Server, em *apnsemu.Emulator, ends *endChecks, alice, bob *testkit.Client, tok string) {
			sendWithPush(t, alice, "bob", "m1", pc("one"))
			m := nextMessage(t, bob)
			ack(t, bob, "alice", protocol.ConversationPeer, m.ConversationSeq)
			bob.Close()
			ends.wait(1, wait)
		}, nil},
		{"the first acked, the second not", func(t *testing.T, s *testkit.Server, em *apnsemu.Emulator, ends *endChecks, alice, bob *testkit.Client, tok string) {
			sendWithPush(t, alice, "bob", "m1", pc("one"))
			m := nextMessage(t, bob)
			ack(t, bob, "alice", protocol.ConversationPeer, m.ConversationSeq)
			sendWithPush(t, alice, "bob", "m2", pc("two"))
			sendWithPush(t, alice, "bob", "m3", nil) // no push config: never pushed
			nextMessage(t, bob)
			nextMessage(t, bob)
			bob.Close()
			ends.wait(1, wait)
		}, []string{"two"}},
		{"another session of the user lives", func(t *testing.T, s *testkit.Server, em *apnsemu.Emulator, ends *endChecks, alice, bob *testkit.Client, tok string) {
			desk := s.LoginAs(t, "bob", "macos", "desk")
			desk.SyncDone(wait)
			sendWithPush(t, alice, "bob", "m1", pc("one"))
			nextMessage(t, bob)
			m := nextMessage(t, desk)
			bob.Close()
			ends.wait(1, wait)
			if jobs := jobsFor(t, s, "bob"); len(jobs) != 0 {
				t.Fatalf("pushed while bob's desktop was live: %+v", jobs)
			}
			// The desktop shows it; its end owes nothing either.
			ack(t, desk, "alice", protocol.ConversationPeer, m.ConversationSeq)
			desk.Close()
			ends.wait(1, wait)
		}, nil},
		{"another device of the user acknowledged it", func(t *testing.T, s *testkit.Server, em *apnsemu.Emulator, ends *endChecks, alice, bob *testkit.Client, tok string) {
			desk := s.LoginAs(t, "bob", "macos", "desk")
			desk.SyncDone(wait)
			sendWithPush(t, alice, "bob", "m1", pc("one"))
			nextMessage(t, bob)
			m := nextMessage(t, desk)
			ack(t, desk, "alice", protocol.ConversationPeer, m.ConversationSeq)
			desk.Close()
			ends.wait(1, wait)
			// The phone, last to go, never acknowledged it: the user saw it
			// on the desktop all the same.
			bob.Close()
			ends.wait(1, wait)
		}, nil},
		{"kicked by a login elsewhere", func(t *testing.T, s *testkit.Server, em *apnsemu.Emulator, ends *endChecks, alice, bob *testkit.Client, tok string) {
			sendWithPush(t, alice, "bob", "m1", pc("one"))
			nextMessage(t, bob)
			other := s.LoginAs(t, "bob", "ios", "other-phone") // same platform: kicks the first
			if code := bob.CloseCode(wait); code != int(protocol.CloseKicked) {
				t.Fatalf("close %d, want kicked", code)
			}
			ends.wait(1, wait) // the user is live on the other phone
			if jobs := jobsFor(t, s, "bob"); len(jobs) != 0 {
				t.Fatalf("pushed while bob was live on his other phone: %+v", jobs)
			}
			ms, _ := other.SyncDone(wait)
			if len(ms) != 1 {
				t.Fatalf("the other phone's sync: %+v", ms)
			}
			ack(t, other, "alice", protocol.ConversationPeer, ms[0].ConversationSeq)
			other.Close()
			ends.wait(1, wait)
		}, nil},
		{"planned at the commit, then synced and dropped unacked", func(t *testing.T, s *testkit.Server, em *apnsemu.Emulator, ends *endChecks, alice, bob *testkit.Client, tok string) {
			bob.Close()
			ends.wait(1, wait) // offline from here on
			sendWithPush(t, alice, "bob", "m1", pc("one"))
			if jobs := jobsFor(t, s, "bob"); len(jobs) != 1 {
				t.Fatalf("bob offline: want the push planned at the commit, got %+v", jobs)
			}
			ctx, cancel := context.WithTimeout(context.Background(), wait)
			defer cancel()
			if _, err := em.WaitDeliveries(ctx, tok, 1); err != nil {
				t.Fatal(err)
			}
			// The login sync hands it again; the session dies unacked.
			bob = phoneWith(t, s, testkit.Dial(t, s.URL), "bob", "phone", tok)
			if ms, _ := bob.SyncDone(wait); len(ms) != 1 || !ms[0].Offline {
				t.Fatalf("login sync: %+v", ms)
			}
			bob.Close()
			ends.wait(1, wait)
		}, []string{"one"}},
		{"logged out", func(t *testing.T, s *testkit.Server, em *apnsemu.Emulator, ends *endChecks, alice, bob *testkit.Client, tok string) {
			sendWithPush(t, alice, "bob", "m1", pc("one"))
			nextMessage(t, bob)
			if err := bob.Call(protocol.TypeLogout, struct{}{}, nil); err != nil {
				t.Fatal(err)
			}
			bob.CloseCode(wait) // a logout owes nothing, and is not checked
		}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := testkit.Start(t, nil)
			em := startAPNs(t, s)
			tok := em.RegisterDevice(bundle, apnsemu.Development, false)
			alice := s.LoginAs(t, "alice", "server", "script")
			alice.SyncDone(wait)
			// Bob's iPhone, logged in and synced: what each case plays with.
			bob := phoneWith(t, s, testkit.Dial(t, s.URL), "bob", "phone", tok)
			bob.SyncDone(wait)
			tc.run(t, s, em, watchEnds(t, s), alice, bob, tok)
			ds := wantPushes(t, s, em, tok, "bob", len(tc.want))
			for i, d := range ds {
				if title, body := alertOf(t, d); title != "Alice" || body != tc.want[i] {
					t.Errorf("push %d: %q %q, want Alice %q", i, title, body, tc.want[i])
				}
			}
		})
	}
}

// TestFrozenAppPushedAtHeartbeatTimeout: an app frozen in the background
// reads nothing and answers no ping; a message sent to it while it still
// counts as live is pushed once the heartbeat window ends its session.
func TestFrozenAppPushedAtHeartbeatTimeout(t *testing.T) {
	s, clk := testkit.StartFake(t, func(c *config.Config) {
		c.HeartbeatInterval = time.Second
		c.OfflineAfter = 2 * time.Second
	})
	em := startAPNs(t, s)
	tok := em.RegisterDevice(bundle, apnsemu.Development, false)
	alice := s.LoginAs(t, "alice", "server", "script")
	alice.SyncDone(wait)
	c, freeze := testkit.DialFreezable(t, s.URL)
	bob := phoneWith(t, s, c, "bob", "phone", tok)
	bob.SyncDone(wait)
	ends := watchEnds(t, s)
	freeze()
	sendWithPush(t, alice, "bob", "m1", &protocol.PushConfig{Title: "Alice", Content: "frozen"})
	if jobs := jobsFor(t, s, "bob"); len(jobs) != 0 || !s.Online("bob") {
		t.Fatalf("bob counted live at the commit: want no push planned then, got %+v", jobs)
	}
	// The heartbeat window (2 s) and a reaper tick (1 s) pass on the
	// server's clock; the close handshake's bound (2 s) is real time.
	waitClockUsers(t, clk)
	clk.Advance(2*time.Second + time.Second)
	ends.wait(1, 2*time.Second+wait)
	ds := wantPushes(t, s, em, tok, "bob", 1)
	if _, body := alertOf(t, ds[0]); body != "frozen" {
		t.Fatalf("push %q", body)
	}
}

// TestUnackedGroupMessagePushedWhenSessionEnds: the same for a group
// message, by the members rule: a member who joined after the message gets
// nothing for it.
func TestUnackedGroupMessagePushedWhenSessionEnds(t *testing.T) {
	s := testkit.Start(t, nil)
	em := startAPNs(t, s)
	alice := member(t, s, "alice")
	bob, bobTok := phone(t, s, em, "bob", "bob-phone")
	bob.SyncDone(wait)
	carol, carolTok := phone(t, s, em, "carol", "carol-phone")
	carol.SyncDone(wait)
	mustOK(t, "create", alice.Call(protocol.TypeGroupCreate, protocol.GroupCreateRequest{GroupID: "g1", Name: "g", Members: []string{"bob"}, JoinMode: joinMode(protocol.JoinModeAny)}, nil))
	_, err := sendGroup(t, alice, "g1", "g-m1", "hi", &protocol.PushConfig{Title: "g1", Content: "to the group"})
	mustOK(t, "send", err)
	nextMessage(t, bob)
	mustOK(t, "join", carol.Call(protocol.TypeGroupJoin, protocol.GroupRequest{GroupID: "g1"}, nil))

	ends := watchEnds(t, s)
	bob.Close()
	carol.Close()
	ends.wait(2, wait)
	if ds := wantPushes(t, s, em, bobTok, "bob", 1); len(ds) == 1 {
		if title, body := alertOf(t, ds[0]); title != "g1" || body != "to the group" {
			t.Fatalf("bob's push %q %q", title, body)
		}
	}
	wantPushes(t, s, em, carolTok, "carol", 0)
	if jobs := jobsFor(t, s, "alice"); len(jobs) != 0 {
		t.Fatalf("the sender was pushed its own message: %+v", jobs)
	}
}

// TestUnackedPushPlannedAtShutdown: a server restart (close 1012) ends a
// session that never acknowledged its message; the push is planned before
// the store closes and sent, once, by this server or the next one.
func TestUnackedPushPlannedAtShutdown(t *testing.T) {
	dir := t.TempDir()
	s1 := testkit.Start(t, func(c *config.Config) { c.DataDir = dir })
	em, key := startAPNsWith(t, s1, apnsemu.Config{TokenUpdateInterval: time.Millisecond})
	tok := em.RegisterDevice(bundle, apnsemu.Development, false)
	alice := s1.LoginAs(t, "alice", "server", "script")
	alice.SyncDone(wait)
	bob := phoneWith(t, s1, testkit.Dial(t, s1.URL), "bob", "phone", tok)
	bob.SyncDone(wait)
	sendWithPush(t, alice, "bob", "m1", &protocol.PushConfig{Title: "Alice", Content: "restart"})
	nextMessage(t, bob)
	s1.Stop(t)
	if code := bob.CloseCode(wait); code != int(protocol.CloseServerRestart) {
		t.Fatalf("close %d, want 1012", code)
	}

	// The provider is there before the restarted server reads its pending
	// jobs, as a start loads the stored credentials first.
	s2 := testkit.StartBefore(t, func(c *config.Config) { c.DataDir = dir }, func(s *testkit.Server) { installAPNs(t, s, em, key) })
	ds := wantPushes(t, s2, em, tok, "bob", 1)
	if _, body := alertOf(t, ds[0]); body != "restart" {
		t.Fatalf("push %q", body)
	}
}
