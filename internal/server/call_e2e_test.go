package server_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/heraldim/herald/internal/config"
	apnsemu "github.com/heraldim/herald/internal/emulator/apns"
	"github.com/heraldim/herald/internal/protocol"
	"github.com/heraldim/herald/internal/push"
	"github.com/heraldim/herald/internal/testkit"
)

// callUser logs user in on platform and device and skips its login sync.
func callUser(t *testing.T, s *testkit.Server, user, platform, device string) *testkit.Client {
	t.Helper()
	c := s.LoginAs(t, user, platform, device)
	return c
}

// callEvent returns c's next call event (skipping sync and messages, and
// state changes when typ is another event), which must be of type typ,
// decoded into a T.
func callEvent[T any](t *testing.T, c *testkit.Client, typ string) T {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		f := c.Next(time.Until(deadline))
		if !strings.HasPrefix(f.Type, "call") ||
			(f.Type == protocol.EventCallUserStateChanged && typ != protocol.EventCallUserStateChanged) {
			continue
		}
		if f.Type != typ {
			t.Fatalf("want %s, got %s %s", typ, f.Type, f.Data)
		}
		var v T
		if err := json.Unmarshal(f.Data, &v); err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// noCallEvent fails if a call event arrives within d.
func noCallEvent(t *testing.T, c *testkit.Client, d time.Duration) {
	t.Helper()
	end := time.After(d)
	for {
		select {
		case f := <-c.Events:
			if strings.HasPrefix(f.Type, "call") {
				t.Fatalf("unexpected %s %s", f.Type, f.Data)
			}
		case <-end:
			return
		}
	}
}

func invite(t *testing.T, c *testkit.Client, r protocol.CallInviteRequest) protocol.CallInviteReply {
	t.Helper()
	var rep protocol.CallInviteReply
	if err := c.Call(protocol.TypeCallInvite, r, &rep); err != nil {
		t.Fatalf("callInvite: %v", err)
	}
	return rep
}

func callInfo(t *testing.T, c *testkit.Client, id string) protocol.CallInfo {
	t.Helper()
	var info protocol.CallInfo
	if err := c.Call(protocol.TypeCallInfo, protocol.CallRequest{CallID: id}, &info); err != nil {
		t.Fatalf("callInfo: %v", err)
	}
	return info
}

// states maps users to their states.
func states(us []protocol.CallUser) map[string]int {
	m := map[string]int{}
	for _, u := range us {
		m[u.UserID] = u.State
	}
	return m
}

func wantStates(t *testing.T, got []protocol.CallUser, want map[string]int) {
	t.Helper()
	g := states(got)
	for u, st := range want {
		if g[u] != st {
			t.Fatalf("states %v, want %v", g, want)
		}
	}
}

// known makes users known to the server (logged in once).
func known(t *testing.T, s *testkit.Server, users ...string) {
	t.Helper()
	for _, u := range users {
		c := s.LoginAs(t, u, "web", "w-"+u)
		c.Close()
	}
	for _, u := range users {
		deadline := time.Now().Add(wait)
		for s.Online(u) {
			if time.Now().After(deadline) {
				t.Fatalf("%s still online", u)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// TestCallInviteAcceptReject: online invitees ring (state received); an
// answer on one device reaches the user's other device and the inviter;
// answering twice is refused; the call closes when nobody rings.
func TestCallInviteAcceptReject(t *testing.T) {
	s := testkit.Start(t, nil)
	alice := callUser(t, s, "alice", "ios", "a1")
	bobPhone := callUser(t, s, "bob", "ios", "b1")
	bobDesk := callUser(t, s, "bob", "macos", "b2")
	carol := callUser(t, s, "carol", "android", "c1")

	rep := invite(t, alice, protocol.CallInviteRequest{Invitees: []string{"bob", "carol"}, Timeout: 30, ExtendedData: "video"})
	if rep.CallID == "" || rep.Timeout != 30 || len(rep.ErrorInvitees) != 0 {
		t.Fatalf("reply %+v", rep)
	}
	if left := time.Until(time.UnixMilli(rep.Deadline)); left < 28*time.Second || left > 31*time.Second {
		t.Fatalf("deadline %s away", left)
	}
	for _, c := range []*testkit.Client{bobPhone, bobDesk, carol} {
		ev := callEvent[protocol.CallInvitationReceived](t, c, protocol.EventCallInvitationReceived)
		if ev.CallID != rep.CallID || ev.Inviter != "alice" || ev.ExtendedData != "video" || ev.Timeout < 29 || ev.Timeout > 30 {
			t.Fatalf("ring %+v", ev)
		}
		wantStates(t, ev.Users, map[string]int{"alice": protocol.CallAccepted, "bob": protocol.CallReceived, "carol": protocol.CallReceived})
	}
	ev := callEvent[protocol.CallUserStateChanged](t, alice, protocol.EventCallUserStateChanged)
	wantStates(t, ev.Users, map[string]int{"bob": protocol.CallReceived, "carol": protocol.CallReceived})

	if err := bobPhone.Call(protocol.TypeCallAccept, protocol.CallRequest{CallID: rep.CallID, ExtendedData: "hi"}, nil); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*testkit.Client{alice, bobPhone, bobDesk, carol} {
		ev := callEvent[protocol.CallUserStateChanged](t, c, protocol.EventCallUserStateChanged)
		if len(ev.Users) != 1 || ev.Users[0].UserID != "bob" || ev.Users[0].State != protocol.CallAccepted || ev.Users[0].ExtendedData != "hi" {
			t.Fatalf("state change %+v", ev)
		}
	}
	// Answering again, on either device, either way.
	for _, typ := range []string{protocol.TypeCallAccept, protocol.TypeCallReject} {
		if err := bobDesk.Call(typ, protocol.CallRequest{CallID: rep.CallID}, nil); err == nil || err.Code != protocol.CodeCallAnswered {
			t.Fatalf("%s twice: %v", typ, err)
		}
	}
	if err := carol.Call(protocol.TypeCallReject, protocol.CallRequest{CallID: rep.CallID}, nil); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*testkit.Client{alice, bobPhone, carol} {
		ev := callEvent[protocol.CallUserStateChanged](t, c, protocol.EventCallUserStateChanged)
		wantStates(t, ev.Users, map[string]int{"carol": protocol.CallRejected})
	}
	info := callInfo(t, alice, rep.CallID)
	if !info.Ended || info.Inviter != "alice" {
		t.Fatalf("info %+v", info)
	}
	wantStates(t, info.Users, map[string]int{"alice": protocol.CallAccepted, "bob": protocol.CallAccepted, "carol": protocol.CallRejected})
	// Closed: no timeout comes later.
	noCallEvent(t, bobPhone, 200*time.Millisecond)
}

// TestCallTimeout: unanswered invitations time out at the deadline; a late
// answer is refused; a login after the deadline rings nothing.
func TestCallTimeout(t *testing.T) {
	s, clk := testkit.StartFake(t, nil)
	known(t, s, "dave")
	alice := callUser(t, s, "alice", "ios", "a1")
	bob := callUser(t, s, "bob", "ios", "b1")
	rep := invite(t, alice, protocol.CallInviteRequest{Invitees: []string{"bob", "dave"}, Timeout: 1})
	callEvent[protocol.CallInvitationReceived](t, bob, protocol.EventCallInvitationReceived)
	callEvent[protocol.CallUserStateChanged](t, alice, protocol.EventCallUserStateChanged)

	advancePast(clk, rep.Deadline)
	to := callEvent[protocol.CallInvitationTimeout](t, bob, protocol.EventCallInvitationTimeout)
	if to.CallID != rep.CallID {
		t.Fatalf("timeout %+v", to)
	}
	if late := clk.Since(time.UnixMilli(rep.Deadline)); late < 0 || late > 2*time.Second {
		t.Fatalf("timeout %s after the deadline", late)
	}
	ev := callEvent[protocol.CallUserStateChanged](t, alice, protocol.EventCallUserStateChanged)
	wantStates(t, ev.Users, map[string]int{"bob": protocol.CallTimeout, "dave": protocol.CallTimeout})
	if err := bob.Call(protocol.TypeCallAccept, protocol.CallRequest{CallID: rep.CallID}, nil); err == nil || err.Code != protocol.CodeCallEnded {
		t.Fatalf("late accept: %v", err)
	}
	dave := callUser(t, s, "dave", "android", "d1")
	noCallEvent(t, dave, 300*time.Millisecond)
}

// TestCallLoginBeforeDeadline: an offline invitee that logs in before the
// deadline rings with the time left, and the inviter sees it received.
func TestCallLoginBeforeDeadline(t *testing.T) {
	s, clk := testkit.StartFake(t, nil)
	known(t, s, "bob")
	alice := callUser(t, s, "alice", "ios", "a1")
	rep := invite(t, alice, protocol.CallInviteRequest{Invitees: []string{"bob"}, Timeout: 5})
	ev := callEvent[protocol.CallUserStateChanged](t, alice, protocol.EventCallUserStateChanged)
	wantStates(t, ev.Users, map[string]int{"bob": protocol.CallInviting})
	clk.Advance(1100 * time.Millisecond)

	bob := callUser(t, s, "bob", "android", "b1")
	ring := callEvent[protocol.CallInvitationReceived](t, bob, protocol.EventCallInvitationReceived)
	if ring.CallID != rep.CallID || ring.Timeout < 1 || ring.Timeout > 4 || ring.Deadline != rep.Deadline {
		t.Fatalf("ring at login %+v (deadline %d)", ring, rep.Deadline)
	}
	wantStates(t, ring.Users, map[string]int{"bob": protocol.CallReceived})
	ev = callEvent[protocol.CallUserStateChanged](t, alice, protocol.EventCallUserStateChanged)
	wantStates(t, ev.Users, map[string]int{"bob": protocol.CallReceived})

	// After a cancel, a login rings nothing.
	if err := alice.Call(protocol.TypeCallCancel, protocol.CallCancelRequest{CallID: rep.CallID}, nil); err != nil {
		t.Fatal(err)
	}
	callEvent[protocol.CallInvitationCancelled](t, bob, protocol.EventCallInvitationCancelled)
	bob2 := callUser(t, s, "bob", "ios", "b2")
	noCallEvent(t, bob2, 300*time.Millisecond)
}

// callAPNs starts an APNs emulator for the server and takes user offline
// with an iOS device (with a VoIP token when voip), returning the tokens.
func callAPNs(t *testing.T, s *testkit.Server, user string, voip bool) (em *apnsemu.Emulator, tok, voipTok string) {
	t.Helper()
	em = startAPNs(t, s)
	tok = em.RegisterDevice(bundle, apnsemu.Development, false)
	reg := protocol.PushRegistration{Vendor: "apns", Token: tok, Environment: "development", BundleID: bundle}
	if voip {
		voipTok = em.RegisterDevice(bundle, apnsemu.Development, true)
		reg.VoIPToken = voipTok
	}
	goOffline(t, s, user, reg)
	return em, tok, voipTok
}

func waitCallJobs(t *testing.T, s *testkit.Server, user string, n int, status push.JobStatus) []push.Job {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		jobs := jobsFor(t, s, user)
		got := 0
		for _, j := range jobs {
			if j.Status == status {
				got++
			}
		}
		if got >= n {
			return jobs
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: want %d jobs %s, have %+v", user, n, status, jobs)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestCallVoIPPush: an offline iOS invitee with a VoIP token gets a PushKit
// push: topic <bundle>.voip, push type voip, priority 10, expiring at the
// call's deadline, with the call ID for the app.
func TestCallVoIPPush(t *testing.T) {
	s := testkit.Start(t, nil)
	em, tok, voipTok := callAPNs(t, s, "bob", true)
	alice := callUser(t, s, "alice", "android", "a1")
	rep := invite(t, alice, protocol.CallInviteRequest{Invitees: []string{"bob"}, Timeout: 60,
		PushConfig: &protocol.PushConfig{Title: "Alice", Content: "calling", Payload: "p"}})
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	ds, err := em.WaitDeliveries(ctx, voipTok, 1)
	if err != nil {
		t.Fatalf("no VoIP push: %v (jobs %+v)", err, jobsFor(t, s, "bob"))
	}
	d := ds[0]
	deadlineSecs := (rep.Deadline + 999) / 1000
	if d.Topic != bundle+".voip" || d.PushType != "voip" || d.Priority != 10 || d.Expiration.Unix() != deadlineSecs ||
		d.Payload[push.CallExtraKey] != rep.CallID || d.Payload["payload"] != "p" {
		t.Fatalf("VoIP push %+v (deadline %d)", d, rep.Deadline)
	}
	if n := len(em.Deliveries(tok)); n != 0 {
		t.Fatalf("%d pushes to the alert token too", n)
	}
	j := waitJob(t, s, "bob", push.JobDelivered)
	if j.Kind != push.JobCallInvite || j.CallID != rep.CallID || j.ExpiresAt.UnixMilli() != rep.Deadline {
		t.Fatalf("job %+v", j)
	}
}

// TestCallAlertPushWithoutVoIP: without a VoIP token the ring is an alert.
func TestCallAlertPushWithoutVoIP(t *testing.T) {
	s := testkit.Start(t, nil)
	em, tok, _ := callAPNs(t, s, "bob", false)
	alice := callUser(t, s, "alice", "android", "a1")
	rep := invite(t, alice, protocol.CallInviteRequest{Invitees: []string{"bob"}, Timeout: 60,
		PushConfig: &protocol.PushConfig{Title: "Alice", Content: "calling"}})
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	ds, err := em.WaitDeliveries(ctx, tok, 1)
	if err != nil {
		t.Fatalf("no alert: %v (jobs %+v)", err, jobsFor(t, s, "bob"))
	}
	d := ds[0]
	alert, _ := d.Aps()["alert"].(map[string]any)
	if d.Topic != bundle || d.PushType != "alert" || d.Priority != 10 || alert["title"] != "Alice" ||
		d.Expiration.Unix() != (rep.Deadline+999)/1000 || d.Payload[push.CallExtraKey] != rep.CallID {
		t.Fatalf("alert %+v", d)
	}
}

// TestCallFCMPush: on Android the ring is high priority with a ttl no
// longer than the time left.
func TestCallFCMPush(t *testing.T) {
	s := testkit.Start(t, nil)
	em := startFCM(t, s)
	tok := em.RegisterDevice("herald-test", bundle)
	goOffline(t, s, "bob", protocol.PushRegistration{Vendor: "fcm", Token: tok, Environment: "production", BundleID: bundle})

	alice := callUser(t, s, "alice", "ios", "a1")
	rep := invite(t, alice, protocol.CallInviteRequest{Invitees: []string{"bob"}, Timeout: 45,
		PushConfig: &protocol.PushConfig{Title: "Alice", Content: "calling"}})
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	d, err := em.Next(ctx, tok)
	if err != nil {
		t.Fatalf("no FCM push: %v (jobs %+v)", err, jobsFor(t, s, "bob"))
	}
	ttl, ok := d.Message.TTL()
	left := time.Until(time.UnixMilli(rep.Deadline)) + time.Second
	if d.Message.Android == nil || d.Message.Android.Priority != "HIGH" || !ok || ttl > left || ttl < 40*time.Second ||
		d.Message.Data[push.CallExtraKey] != rep.CallID {
		t.Fatalf("FCM push %+v (ttl %s, %s left)", d.Message, ttl, left)
	}
}

// TestCallCancel: the inviter cancels; invitees get the event; the
// pending ring push is dropped and never sent; with a push config a cancel
// alert reaches the offline invitee's device.
func TestCallCancel(t *testing.T) {
	for _, withPush := range []bool{false, true} {
		name := "NoCancelPush"
		if withPush {
			name = "CancelPush"
		}
		t.Run(name, func(t *testing.T) {
			s, clk := testkit.StartFake(t, nil)
			em, tok, voipTok := callAPNs(t, s, "dave", true)
			// The ring stays pending: APNs is unavailable for the VoIP token.
			em.InjectFault(voipTok, apnsemu.Fault{Kind: apnsemu.FaultUnavailable, RetryAfter: time.Second})
			alice := callUser(t, s, "alice", "android", "a1")
			bob := callUser(t, s, "bob", "ios", "b1")
			rep := invite(t, alice, protocol.CallInviteRequest{Invitees: []string{"bob", "dave"}, Timeout: 60,
				PushConfig: &protocol.PushConfig{Title: "Alice", Content: "calling"}})
			callEvent[protocol.CallInvitationReceived](t, bob, protocol.EventCallInvitationReceived)
			callEvent[protocol.CallUserStateChanged](t, alice, protocol.EventCallUserStateChanged)
			// One attempt failed; the job waits for its retry.
			deadline := time.Now().Add(wait)
			for {
				jobs := jobsFor(t, s, "dave")
				if len(jobs) == 1 && jobs[0].Attempts == 1 && jobs[0].Status == push.JobPending {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("ring not retried: %+v", jobs)
				}
				time.Sleep(10 * time.Millisecond)
			}

			if err := bob.Call(protocol.TypeCallCancel, protocol.CallCancelRequest{CallID: rep.CallID}, nil); err == nil || err.Code != protocol.CodePermissionDenied {
				t.Fatalf("cancel by an invitee: %v", err)
			}
			req := protocol.CallCancelRequest{CallID: rep.CallID, ExtendedData: "sorry"}
			if withPush {
				req.PushConfig = &protocol.PushConfig{Title: "Alice", Content: "missed call"}
			}
			if err := alice.Call(protocol.TypeCallCancel, req, nil); err != nil {
				t.Fatal(err)
			}
			c := callEvent[protocol.CallInvitationCancelled](t, bob, protocol.EventCallInvitationCancelled)
			if c.CallID != rep.CallID || c.Inviter != "alice" || c.ExtendedData != "sorry" {
				t.Fatalf("cancelled %+v", c)
			}
			ev := callEvent[protocol.CallUserStateChanged](t, alice, protocol.EventCallUserStateChanged)
			wantStates(t, ev.Users, map[string]int{"bob": protocol.CallCancelled, "dave": protocol.CallCancelled})
			em.ClearFault(voipTok)

			if withPush {
				ctx, cancel := context.WithTimeout(context.Background(), wait)
				defer cancel()
				ds, err := em.WaitDeliveries(ctx, tok, 1)
				if err != nil {
					t.Fatalf("no cancel push: %v (jobs %+v)", err, jobsFor(t, s, "dave"))
				}
				if alert, _ := ds[0].Aps()["alert"].(map[string]any); ds[0].PushType != "alert" || alert["body"] != "missed call" || ds[0].Payload[push.CallExtraKey] != rep.CallID {
					t.Fatalf("cancel push %+v", ds[0])
				}
			}
			clk.Advance(1500 * time.Millisecond) // past the ring's retry time
			waitFor(t, "the ring job settled", func() bool { return noPendingJob(jobsFor(t, s, "dave")) })
			if n := len(em.Deliveries(voipTok)); n != 0 {
				t.Fatalf("%d ring pushes after the cancel", n)
			}
			for _, j := range jobsFor(t, s, "dave") {
				if j.Kind == push.JobCallInvite && j.Status != push.JobDropped {
					t.Fatalf("ring job %+v", j)
				}
			}
			if !withPush && len(em.Deliveries(tok)) != 0 {
				t.Fatal("a cancel push without a push config")
			}
			if err := alice.Call(protocol.TypeCallCancel, protocol.CallCancelRequest{CallID: rep.CallID}, nil); err == nil || err.Code != protocol.CodeCallEnded {
				t.Fatalf("cancel twice: %v", err)
			}
		})
	}
}

// TestCallNoPushAfterAnswer: a ring push not yet with the vendor when the
// invitee answers elsewhere is dropped in the answer's transaction and
// never sent (nor withdrawn: it reached no phone).
func TestCallNoPushAfterAnswer(t *testing.T) {
	s := testkit.Start(t, nil)
	em, tok, voipTok := callAPNs(t, s, "bob", true)
	// The first attempt fails and APNs asks for a retry long after the
	// answer: the ring waits in the store.
	em.InjectFault(voipTok, apnsemu.Fault{Kind: apnsemu.FaultUnavailable, RetryAfter: 50 * time.Second})
	alice := callUser(t, s, "alice", "android", "a1")
	rep := invite(t, alice, protocol.CallInviteRequest{Invitees: []string{"bob"}, Timeout: 60,
		PushConfig: &protocol.PushConfig{Title: "Alice", Content: "calling"}})
	waitFor(t, "the ring's failed attempt", func() bool {
		jobs := jobsFor(t, s, "bob")
		return len(jobs) == 1 && jobs[0].Attempts == 1 && jobs[0].Status == push.JobPending
	})
	bobDesk := callUser(t, s, "bob", "macos", "b2")
	callEvent[protocol.CallInvitationReceived](t, bobDesk, protocol.EventCallInvitationReceived)
	if err := bobDesk.Call(protocol.TypeCallAccept, protocol.CallRequest{CallID: rep.CallID}, nil); err != nil {
		t.Fatal(err)
	}
	// Committed with the answer: the ring is dropped, nothing replaces it.
	jobs := jobsFor(t, s, "bob")
	if len(jobs) != 1 || jobs[0].Kind != push.JobCallInvite || jobs[0].Status != push.JobDropped || jobs[0].Reason != "call accepted" {
		t.Fatalf("jobs after the answer %+v", jobs)
	}
	if n, m := len(em.Deliveries(voipTok)), len(em.Deliveries(tok)); n != 0 || m != 0 {
		t.Fatalf("%d ring pushes, %d alerts", n, m)
	}
}

// TestCallRingWithVendorWithdrawn: a ring already with the vendor (APNs
// accepted it, its answer not back yet) when the invitee answers, rejects
// or the invitation times out is replaced by a withdraw push with the same
// apns-collapse-id, and no ring goes out after. The emulator holds its
// answer to the ring, so the answer lands exactly while the ring is with
// the vendor.
func TestCallRingWithVendorWithdrawn(t *testing.T) {
	for _, tt := range []struct {
		name    string
		timeout int
		act     func(t *testing.T, clk *clockwork.FakeClock, desk *testkit.Client, rep protocol.CallInviteReply)
		content string
	}{
		{"accept", 60, func(t *testing.T, _ *clockwork.FakeClock, desk *testkit.Client, rep protocol.CallInviteReply) {
			if err := desk.Call(protocol.TypeCallAccept, protocol.CallRequest{CallID: rep.CallID}, nil); err != nil {
				t.Fatal(err)
			}
		}, "Answered on another device"},
		{"reject", 60, func(t *testing.T, _ *clockwork.FakeClock, desk *testkit.Client, rep protocol.CallInviteReply) {
			if err := desk.Call(protocol.TypeCallReject, protocol.CallRequest{CallID: rep.CallID}, nil); err != nil {
				t.Fatal(err)
			}
		}, "Declined"},
		{"timeout", 2, func(t *testing.T, clk *clockwork.FakeClock, desk *testkit.Client, rep protocol.CallInviteReply) {
			advancePast(clk, rep.Deadline)
			if to := callEvent[protocol.CallInvitationTimeout](t, desk, protocol.EventCallInvitationTimeout); to.CallID != rep.CallID {
				t.Fatalf("timeout %+v", to)
			}
		}, "Missed call"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, clk := testkit.StartFake(t, nil)
			em, tok, voipTok := callAPNs(t, s, "bob", true)
			accepted, release := em.HoldAnswer(voipTok)
			defer release()
			alice := callUser(t, s, "alice", "android", "a1")
			rep := invite(t, alice, protocol.CallInviteRequest{Invitees: []string{"bob"}, Timeout: tt.timeout,
				PushConfig: &protocol.PushConfig{Title: "Alice", Content: "calling", Payload: "p"}})
			select {
			case <-accepted:
			case <-time.After(wait):
				t.Fatalf("the ring never reached APNs (jobs %+v)", jobsFor(t, s, "bob"))
			}
			bobDesk := callUser(t, s, "bob", "macos", "b2")
			callEvent[protocol.CallInvitationReceived](t, bobDesk, protocol.EventCallInvitationReceived)
			tt.act(t, clk, bobDesk, rep)
			release()

			ctx, cancel := context.WithTimeout(context.Background(), wait)
			defer cancel()
			ws, err := em.WaitDeliveries(ctx, tok, 1)
			if err != nil {
				t.Fatalf("no withdraw push: %v (jobs %+v)", err, jobsFor(t, s, "bob"))
			}
			rings := em.Deliveries(voipTok)
			key := push.CallCollapseID(rep.CallID)
			w := ws[0]
			alert, _ := w.Aps()["alert"].(map[string]any)
			if len(rings) != 1 || rings[0].CollapseID != key || w.CollapseID != key || w.PushType != "alert" ||
				alert["title"] != "Alice" || alert["body"] != tt.content || w.Payload[push.CallExtraKey] != rep.CallID || w.Payload["payload"] != "p" {
				t.Fatalf("ring %+v, withdraw %+v (key %s)", rings, w, key)
			}
			// Every job settled, each attempt's outcome recorded (the
			// ring's was dropped in the store while its attempt was in
			// flight): the ring delivered, the withdraw too, and nothing
			// else left to go out.
			waitFor(t, "every job settled", func() bool {
				for _, j := range jobsFor(t, s, "bob") {
					if j.Status == push.JobPending || j.Attempts == 0 {
						return false
					}
				}
				return true
			})
			kinds := map[push.JobKind]push.JobStatus{}
			for _, j := range jobsFor(t, s, "bob") {
				kinds[j.Kind] = j.Status
			}
			if len(kinds) != 2 || kinds[push.JobCallInvite] != push.JobDelivered || kinds[push.JobCallCancel] != push.JobDelivered {
				t.Fatalf("jobs %+v", jobsFor(t, s, "bob"))
			}
			if n, m := len(em.Deliveries(voipTok)), len(em.Deliveries(tok)); n != 1 || m != 1 {
				t.Fatalf("%d rings, %d alerts", n, m)
			}
			if tray := em.Tray(tok); len(tray) != 1 || tray[0].Body != tt.content {
				t.Fatalf("tray %+v", tray)
			}
		})
	}
}

// waitFor waits until cond holds (the store and emulators change
// asynchronously to the test), failing after the test's wait.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// callRingCase is one vendor's phone for TestCallRingPerVendor: its setup
// makes bob offline with it and returns the tray, the number of pushes it
// got, and a check of the ring (the first push) as the vendor got it.
type callRingCase struct {
	name  string
	setup func(t *testing.T, s *testkit.Server) (tray func() []string, count func() int, ring func(t *testing.T, callID string))
}

var callRingCases = []callRingCase{
	{"apns", func(t *testing.T, s *testkit.Server) (func() []string, func() int, func(*testing.T, string)) {
		em, tok, _ := callAPNs(t, s, "bob", false)
		return func() (out []string) {
				for _, it := range em.Tray(tok) {
					out = append(out, it.Title+"|"+it.Body)
				}
				return out
			}, func() int { return len(em.Deliveries(tok)) }, func(t *testing.T, callID string) {
				d := em.Deliveries(tok)[0]
				if d.PushType != "alert" || d.Priority != 10 || d.CollapseID != push.CallCollapseID(callID) {
					t.Fatalf("ring %+v", d)
				}
			}
	}},
	{"fcm", func(t *testing.T, s *testkit.Server) (func() []string, func() int, func(*testing.T, string)) {
		em := startFCM(t, s)
		tok := em.RegisterDevice("herald-test", bundle)
		goOffline(t, s, "bob", protocol.PushRegistration{Vendor: "fcm", Token: tok, Environment: "production", BundleID: bundle})
		return func() (out []string) {
				for _, it := range em.Tray(tok) {
					out = append(out, it.Title+"|"+it.Body)
				}
				return out
			}, func() int { return len(em.Deliveries(tok)) }, func(t *testing.T, callID string) {
				m := em.Deliveries(tok)[0].Message
				// A high-priority data message: the app draws the call.
				if m.Notification != nil || m.Android == nil || m.Android.Notification != nil || m.Android.Priority != "HIGH" ||
					m.Android.CollapseKey != push.CallCollapseID(callID) || m.Data[push.CallExtraKey] != callID || m.Data["title"] != "Alice" {
					t.Fatalf("ring %+v", m)
				}
			}
	}},
	androidCallCase("huawei", false, `"importance":"NORMAL"`, `"notify_id":`, `"tag":"call-`),
	androidCallCase("huawei", true, `"urgency":"HIGH"`, `"category":"VOIP"`),
	androidCallCase("xiaomi", false, "notify_id=", "extra.channel_id=im", "pass_through=0"),
	androidCallCase("oppo", false, `"notify_id":`, `"channel_id":"im"`),
	androidCallCase("vivo", false, `"notifyId":`, `"classification":1`, `"category":"IM"`),
	androidCallCase("honor", false, `"importance":"NORMAL"`, `"notifyId":`, `"tag":"call-`),
}

// androidCallCase is the case of an Android vendor of androidVendors (with
// the self-classification entitlement when classified); the ring as the
// vendor got it must contain each of want.
func androidCallCase(vendor string, classified bool, want ...string) callRingCase {
	name := vendor
	if classified {
		name += "-classified"
	}
	return callRingCase{name, func(t *testing.T, s *testkit.Server) (func() []string, func() int, func(*testing.T, string)) {
		var rig vendorRig
		for _, v := range androidVendors {
			if v.name == vendor {
				rig = v.setup(t, s)
			}
		}
		cred := rig.cred
		if classified {
			cred["selfClassified"] = true
			rig.selfClassify()
		}
		if st, b := adminCall(t, s, "PUT", "/push/credentials/"+vendor, cred); st != 200 {
			t.Fatalf("PUT credential: %d %v", st, b)
		}
		goOffline(t, s, "bob", protocol.PushRegistration{Vendor: vendor, Token: rig.token, Environment: "production", BundleID: pkg})
		return rig.tray, rig.count, func(t *testing.T, callID string) {
			raw := rig.raws()[0]
			for _, w := range want {
				if !strings.Contains(raw, w) {
					t.Fatalf("ring %s: no %s", raw, w)
				}
			}
			if classified && strings.Contains(raw, `"notification"`) {
				t.Fatalf("ring %s is a notification", raw)
			}
		}
	}}
}

// TestCallRingPerVendor: an offline invitee's ring is what its vendor
// offers for an incoming call (APNs alert without a VoIP token, FCM
// high-priority data, Huawei VOIP data with the entitlement and a
// notification without it, Xiaomi on the private channel, vivo's system
// IM class) and carries the call's replace key; the inviter's cancel
// shares it, so after the cancel the phone's tray shows one notification:
// the cancel.
func TestCallRingPerVendor(t *testing.T) {
	for _, c := range callRingCases {
		t.Run(c.name, func(t *testing.T) {
			s := testkit.Start(t, nil)
			tray, count, ring := c.setup(t, s)
			alice := callUser(t, s, "alice", "ios", "a1")
			rep := invite(t, alice, protocol.CallInviteRequest{Invitees: []string{"bob"}, Timeout: 120,
				PushConfig: &protocol.PushConfig{Title: "Alice", Content: "calling"}})
			waitFor(t, "the ring", func() bool { return count() == 1 })
			ring(t, rep.CallID)
			if err := alice.Call(protocol.TypeCallCancel, protocol.CallCancelRequest{CallID: rep.CallID,
				PushConfig: &protocol.PushConfig{Title: "Alice", Content: "missed call"}}, nil); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the cancel push", func() bool { return count() == 2 })
			if got := tray(); len(got) != 1 || got[0] != "Alice|missed call" {
				t.Fatalf("tray after the cancel %q (jobs %+v)", got, jobsFor(t, s, "bob"))
			}
		})
	}
}

// TestCallNoPushAfterDeadline: a ring push that could not be sent before
// the deadline is never sent after it.
func TestCallNoPushAfterDeadline(t *testing.T) {
	s, clk := testkit.StartFake(t, nil)
	em, _, voipTok := callAPNs(t, s, "bob", true)
	// The first attempt fails and APNs asks for a retry after the deadline.
	em.InjectFault(voipTok, apnsemu.Fault{Kind: apnsemu.FaultUnavailable, RetryAfter: 2 * time.Second, Times: 1})
	alice := callUser(t, s, "alice", "android", "a1")
	rep := invite(t, alice, protocol.CallInviteRequest{Invitees: []string{"bob"}, Timeout: 1,
		PushConfig: &protocol.PushConfig{Title: "Alice", Content: "calling"}})
	callEvent[protocol.CallUserStateChanged](t, alice, protocol.EventCallUserStateChanged)
	waitFor(t, "the failed ring push", func() bool { return len(jobsFor(t, s, "bob")) > 0 && jobsFor(t, s, "bob")[0].Attempts > 0 })
	advancePast(clk, rep.Deadline)
	ev := callEvent[protocol.CallUserStateChanged](t, alice, protocol.EventCallUserStateChanged)
	wantStates(t, ev.Users, map[string]int{"bob": protocol.CallTimeout})
	clk.Advance(2 * time.Second) // the dispatcher's backoff (1 s base) passed
	waitFor(t, "the ring job settled", func() bool { return noPendingJob(jobsFor(t, s, "bob")) })
	if n := len(em.Deliveries(voipTok)); n != 0 {
		t.Fatalf("%d ring pushes after the deadline", n)
	}
	for _, j := range jobsFor(t, s, "bob") {
		if j.Status == push.JobPending || j.Status == push.JobDelivered {
			t.Fatalf("job %+v", j)
		}
	}
}

// TestCallDeadlineSurvivesRestart: a call's deadline fires at its time
// after a restart on the same data, and the ring push left pending is not
// sent after it.
func TestCallDeadlineSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	s1, clk := testkit.StartFake(t, func(c *config.Config) { c.DataDir = dir })
	em, key := startAPNsWith(t, s1, apnsemu.Config{TokenUpdateInterval: time.Millisecond})
	voipTok := em.RegisterDevice(bundle, apnsemu.Development, true)
	goOffline(t, s1, "bob", protocol.PushRegistration{Vendor: "apns", Token: em.RegisterDevice(bundle, apnsemu.Development, false),
		VoIPToken: voipTok, Environment: "development", BundleID: bundle})
	em.InjectFault(voipTok, apnsemu.Fault{Kind: apnsemu.FaultUnavailable, RetryAfter: time.Second})
	known(t, s1, "carol")
	alice := callUser(t, s1, "alice", "android", "a1")
	rep := invite(t, alice, protocol.CallInviteRequest{Invitees: []string{"bob", "carol"}, Timeout: 4,
		PushConfig: &protocol.PushConfig{Title: "Alice", Content: "calling"}})
	waitCallJobs(t, s1, "bob", 1, push.JobPending)
	s1.Stop(t)

	s2 := testkit.StartBefore(t, func(c *config.Config) { c.DataDir, c.Clock = dir, clk }, func(s *testkit.Server) { installAPNs(t, s, em, key) })
	alice = callUser(t, s2, "alice", "android", "a1")
	carol := callUser(t, s2, "carol", "ios", "c1")
	ring := callEvent[protocol.CallInvitationReceived](t, carol, protocol.EventCallInvitationReceived)
	if ring.CallID != rep.CallID {
		t.Fatalf("ring after restart %+v", ring)
	}
	advancePast(clk, rep.Deadline)
	to := callEvent[protocol.CallInvitationTimeout](t, carol, protocol.EventCallInvitationTimeout)
	if to.CallID != rep.CallID {
		t.Fatalf("timeout %+v", to)
	}
	if d := clk.Since(time.UnixMilli(rep.Deadline)); d < 0 || d > 2*time.Second {
		t.Fatalf("timed out %s after the deadline", d)
	}
	em.ClearFault(voipTok)
	info := callInfo(t, alice, rep.CallID)
	wantStates(t, info.Users, map[string]int{"bob": protocol.CallTimeout, "carol": protocol.CallTimeout})
	if !info.Ended {
		t.Fatalf("info %+v", info)
	}
	clk.Advance(1500 * time.Millisecond) // a retry of the ring push came due
	waitFor(t, "the ring job settled", func() bool { return noPendingJob(jobsFor(t, s2, "bob")) })
	if n := len(em.Deliveries(voipTok)); n != 0 {
		t.Fatalf("%d stale ring pushes", n)
	}
}

// noPendingJob reports whether none of jobs waits to be sent (the
// dispatcher settled them).
func noPendingJob(jobs []push.Job) bool {
	for _, j := range jobs {
		if j.Status == push.JobPending {
			return false
		}
	}
	return true
}

// waitClockUsers waits until the server's timers on clk are armed: the
// gateway's reaper ticker and the calls' deadline timer.
func waitClockUsers(t *testing.T, clk *clockwork.FakeClock) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), wait)
	defer cancel()
	if err := clk.BlockUntilContext(ctx, 2); err != nil {
		t.Fatalf("the server's timers: %v", err)
	}
}

// advancePast moves clk just past the deadline (unix milliseconds, which
// the server's deadline may exceed by less than a millisecond), firing the
// timers due by then.
func advancePast(clk *clockwork.FakeClock, deadline int64) {
	clk.Advance(clk.Until(time.UnixMilli(deadline)) + 10*time.Millisecond)
}

// TestCallDeadlinePassedWhileDown: a deadline that passed while the server
// was down fires at once at the next start.
func TestCallDeadlinePassedWhileDown(t *testing.T) {
	dir := t.TempDir()
	s1, clk := testkit.StartFake(t, func(c *config.Config) { c.DataDir = dir })
	known(t, s1, "bob")
	alice := callUser(t, s1, "alice", "android", "a1")
	rep := invite(t, alice, protocol.CallInviteRequest{Invitees: []string{"bob"}, Timeout: 1})
	s1.Stop(t)
	clk.Advance(clk.Until(time.UnixMilli(rep.Deadline)) + 100*time.Millisecond)
	s2 := testkit.Start(t, func(c *config.Config) { c.DataDir, c.Clock = dir, clk })
	alice = callUser(t, s2, "alice", "android", "a1")
	info := callInfo(t, alice, rep.CallID)
	wantStates(t, info.Users, map[string]int{"bob": protocol.CallTimeout})
	bob := callUser(t, s2, "bob", "ios", "b1")
	noCallEvent(t, bob, 300*time.Millisecond)
}

// TestCallAdvanced: advanced mode lets a participant invite more users,
// users join and quit, and the call ends for everyone.
func TestCallAdvanced(t *testing.T) {
	s := testkit.Start(t, nil)
	alice := callUser(t, s, "alice", "ios", "a1")
	bob := callUser(t, s, "bob", "ios", "b1")
	carol := callUser(t, s, "carol", "ios", "c1")
	rep := invite(t, alice, protocol.CallInviteRequest{Invitees: []string{"bob"}, Mode: protocol.CallModeAdvanced, Timeout: 30})
	callEvent[protocol.CallInvitationReceived](t, bob, protocol.EventCallInvitationReceived)
	callEvent[protocol.CallUserStateChanged](t, alice, protocol.EventCallUserStateChanged)
	if err := bob.Call(protocol.TypeCallAccept, protocol.CallRequest{CallID: rep.CallID}, nil); err != nil {
		t.Fatal(err)
	}
	callEvent[protocol.CallUserStateChanged](t, alice, protocol.EventCallUserStateChanged)
	callEvent[protocol.CallUserStateChanged](t, bob, protocol.EventCallUserStateChanged)

	// Not in the call yet: carol cannot invite.
	if err := carol.Call(protocol.TypeCallingInvite, protocol.CallingInviteRequest{CallID: rep.CallID, Invitees: []string{"alice"}}, nil); err == nil || err.Code != protocol.CodeNotCallInvitee {
		t.Fatalf("callingInvite by a stranger: %v", err)
	}
	var r2 protocol.CallInviteReply
	if err := bob.Call(protocol.TypeCallingInvite, protocol.CallingInviteRequest{CallID: rep.CallID, Invitees: []string{"carol", "alice"}, Timeout: 20}, &r2); err != nil {
		t.Fatal(err)
	}
	if len(r2.ErrorInvitees) != 1 || r2.ErrorInvitees[0].UserID != "alice" || r2.ErrorInvitees[0].Code != protocol.CodeInvalidInvitees {
		t.Fatalf("callingInvite reply %+v", r2)
	}
	ring := callEvent[protocol.CallInvitationReceived](t, carol, protocol.EventCallInvitationReceived)
	if ring.Inviter != "bob" || ring.Timeout > 20 {
		t.Fatalf("ring %+v", ring)
	}
	var info protocol.CallInfo
	if err := carol.Call(protocol.TypeCallJoin, protocol.CallRequest{CallID: rep.CallID}, &info); err != nil {
		t.Fatal(err)
	}
	wantStates(t, info.Users, map[string]int{"alice": protocol.CallAccepted, "bob": protocol.CallAccepted, "carol": protocol.CallAccepted})
	if err := alice.Call(protocol.TypeCallQuit, protocol.CallRequest{CallID: rep.CallID}, nil); err != nil {
		t.Fatal(err)
	}
	if err := bob.Call(protocol.TypeCallEnd, protocol.CallRequest{CallID: rep.CallID, ExtendedData: "bye"}, nil); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*testkit.Client{bob, carol} {
		deadline := time.Now().Add(wait)
		for {
			f := c.Next(time.Until(deadline))
			if f.Type != protocol.EventCallInvitationEnded {
				continue
			}
			var e protocol.CallInvitationEnded
			_ = json.Unmarshal(f.Data, &e)
			if e.OperatedBy != "bob" || e.ExtendedData != "bye" {
				t.Fatalf("ended %+v", e)
			}
			break
		}
	}
	if err := carol.Call(protocol.TypeCallQuit, protocol.CallRequest{CallID: rep.CallID}, nil); err == nil || err.Code != protocol.CodeCallEnded {
		t.Fatalf("quit after the end: %v", err)
	}
	if info := callInfo(t, alice, rep.CallID); !info.Ended {
		t.Fatalf("info %+v", info)
	}
}

// TestCallBadInput: every bad input gets its documented code and changes
// nothing (the invitee is not rung, states stay).
func TestCallBadInput(t *testing.T) {
	s := testkit.Start(t, nil)
	alice := callUser(t, s, "alice", "ios", "a1")
	bob := callUser(t, s, "bob", "ios", "b1")
	carol := callUser(t, s, "carol", "ios", "c1")
	rep := invite(t, alice, protocol.CallInviteRequest{Invitees: []string{"bob"}, Timeout: 60})
	callEvent[protocol.CallInvitationReceived](t, bob, protocol.EventCallInvitationReceived)
	callEvent[protocol.CallUserStateChanged](t, alice, protocol.EventCallUserStateChanged)

	many := make([]string, protocol.MaxCallInvitees+1)
	for i := range many {
		many[i] = "u" + strings.Repeat("x", i+1)
	}
	tests := []struct {
		name string
		c    *testkit.Client
		typ  string
		data any
		code protocol.Code
	}{
		{"invite oneself", alice, protocol.TypeCallInvite, protocol.CallInviteRequest{Invitees: []string{"alice"}}, protocol.CodeInvalidInvitees},
		{"no invitees", alice, protocol.TypeCallInvite, protocol.CallInviteRequest{}, protocol.CodeInvalidInvitees},
		{"too many invitees", alice, protocol.TypeCallInvite, protocol.CallInviteRequest{Invitees: many}, protocol.CodeInvalidInvitees},
		{"unknown users only", alice, protocol.TypeCallInvite, protocol.CallInviteRequest{Invitees: []string{"nobody", "ghost"}}, protocol.CodeUserNotFound},
		{"timeout too long", alice, protocol.TypeCallInvite, protocol.CallInviteRequest{Invitees: []string{"carol"}, Timeout: protocol.MaxCallTimeout + 1}, protocol.CodeInvalidTimeout},
		{"negative timeout", alice, protocol.TypeCallInvite, protocol.CallInviteRequest{Invitees: []string{"carol"}, Timeout: -1}, protocol.CodeInvalidTimeout},
		{"bad mode", alice, protocol.TypeCallInvite, protocol.CallInviteRequest{Invitees: []string{"carol"}, Mode: 7}, protocol.CodeInvalidArgument},
		{"accept uninvited", carol, protocol.TypeCallAccept, protocol.CallRequest{CallID: rep.CallID}, protocol.CodeNotCallInvitee},
		{"reject uninvited", carol, protocol.TypeCallReject, protocol.CallRequest{CallID: rep.CallID}, protocol.CodeNotCallInvitee},
		{"inviter accepts", alice, protocol.TypeCallAccept, protocol.CallRequest{CallID: rep.CallID}, protocol.CodeNotCallInvitee},
		{"accept unknown call", bob, protocol.TypeCallAccept, protocol.CallRequest{CallID: "nosuchcall"}, protocol.CodeCallNotFound},
		{"accept without call ID", bob, protocol.TypeCallAccept, protocol.CallRequest{}, protocol.CodeInvalidArgument},
		{"cancel someone else's call", carol, protocol.TypeCallCancel, protocol.CallCancelRequest{CallID: rep.CallID}, protocol.CodePermissionDenied},
		{"cancel by invitee", bob, protocol.TypeCallCancel, protocol.CallCancelRequest{CallID: rep.CallID}, protocol.CodePermissionDenied},
		{"info by stranger", carol, protocol.TypeCallInfo, protocol.CallRequest{CallID: rep.CallID}, protocol.CodeNotCallInvitee},
		{"quit a general call", alice, protocol.TypeCallQuit, protocol.CallRequest{CallID: rep.CallID}, protocol.CodeInvalidArgument},
		{"callingInvite a general call", alice, protocol.TypeCallingInvite, protocol.CallingInviteRequest{CallID: rep.CallID, Invitees: []string{"carol"}}, protocol.CodeInvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.c.Call(tt.typ, tt.data, nil)
			if err == nil || err.Code != tt.code {
				t.Fatalf("got %v, want code %d", err, tt.code)
			}
		})
	}
	noCallEvent(t, carol, 100*time.Millisecond)
	noCallEvent(t, bob, 100*time.Millisecond)
	info := callInfo(t, alice, rep.CallID)
	if info.Ended || len(info.Users) != 2 {
		t.Fatalf("info %+v", info)
	}
	wantStates(t, info.Users, map[string]int{"alice": protocol.CallAccepted, "bob": protocol.CallReceived})

	// Unknown users beside a known one: invited, the others reported.
	r2 := invite(t, alice, protocol.CallInviteRequest{Invitees: []string{"ghost", "carol"}, Timeout: 60})
	if len(r2.ErrorInvitees) != 1 || r2.ErrorInvitees[0].UserID != "ghost" || r2.ErrorInvitees[0].Code != protocol.CodeUserNotFound {
		t.Fatalf("reply %+v", r2)
	}
	callEvent[protocol.CallInvitationReceived](t, carol, protocol.EventCallInvitationReceived)
}

// TestCallMetrics: calls started and open are exposed at /metrics.
func TestCallMetrics(t *testing.T) {
	s := testkit.Start(t, nil)
	alice := callUser(t, s, "alice", "ios", "a1")
	bob := callUser(t, s, "bob", "ios", "b1")
	rep := invite(t, alice, protocol.CallInviteRequest{Invitees: []string{"bob"}, Timeout: 30})
	if started, open := s.Metric(t, "herald_calls_started_total"), s.Metric(t, "herald_calls_open"); started != 1 || open != 1 {
		t.Fatalf("after the invite: started %v, open %v", started, open)
	}
	if err := bob.Call(protocol.TypeCallAccept, protocol.CallRequest{CallID: rep.CallID}, nil); err != nil {
		t.Fatal(err)
	}
	if open := s.Metric(t, "herald_calls_open"); open != 0 {
		t.Fatalf("a general call with everyone answered is still open: %v", open)
	}
}
