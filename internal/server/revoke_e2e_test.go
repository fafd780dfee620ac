package server_test

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/heraldim/herald/internal/config"
	apnsemu "github.com/heraldim/herald/internal/emulator/apns"
	"github.com/heraldim/herald/internal/protocol"
	"github.com/heraldim/herald/internal/push"
	"github.com/heraldim/herald/internal/testkit"
)

// longSessions keeps sessions live while a test's fake clock jumps past
// the revoke window.
func longSessions(c *config.Config) { c.OfflineAfter = 24 * time.Hour }

// revokeEvent waits for c's next messageRevokeReceived, skipping other
// frames.
func revokeEvent(t *testing.T, c *testkit.Client) protocol.MessageRevokeReceived {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		f := c.Next(time.Until(deadline))
		if f.Type == "" {
			t.Fatal("no messageRevokeReceived")
		}
		if f.Type != protocol.EventMessageRevokeReceived {
			continue
		}
		var ev protocol.MessageRevokeReceived
		if err := json.Unmarshal(f.Data, &ev); err != nil {
			t.Fatal(err)
		}
		return ev
	}
}

// wantMarker checks that m is the revoke marker of message id.
func wantMarker(t *testing.T, what string, m protocol.Message, id string, status int, by string) {
	t.Helper()
	if m.MessageID != id || m.Type != protocol.MessageRevoke || m.Text != "" || len(m.Data) != 0 || m.RevokeFields == nil ||
		m.RevokeStatus != status || m.OperatedUserID != by || m.OriginalMessageType != protocol.MessageText || m.RevokeTimestamp == 0 {
		t.Fatalf("%s: %+v (revoke %+v), want the revoke marker of %s by %q with status %d", what, m, m.RevokeFields, id, by, status)
	}
}

func mustID(t *testing.T, s string) int64 {
	t.Helper()
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func revoke(c *testkit.Client, conv string, convType int, id string, cfg protocol.MessageRevokeConfig) (protocol.RevokeMessageReply, *protocol.Error) {
	var r protocol.RevokeMessageReply
	err := c.Call(protocol.TypeRevokeMessage, protocol.RevokeMessageRequest{ConversationID: conv, ConversationType: convType, MessageID: id, Config: cfg}, &r)
	return r, err
}

// TestRevokeReachesEveryoneLiveAndBySync: alice revokes a message to bob;
// bob's live device and alice's other device get messageRevokeReceived;
// a device of bob's that syncs later, history and the conversation list
// give the marker in the message's place; a second revoke is refused.
func TestRevokeReachesEveryoneLiveAndBySync(t *testing.T) {
	s := testkit.Start(t, nil)
	alice := s.LoginAs(t, "alice", "ios", "a1")
	alice2 := s.LoginAs(t, "alice", "web", "a2")
	bob := s.LoginAs(t, "bob", "android", "b1")
	for _, c := range []*testkit.Client{alice, alice2, bob} {
		c.SyncDone(wait)
	}
	r, err := alice.SendText("bob", "l1", "oops")
	if err != nil {
		t.Fatal(err)
	}
	if m := bob.Message(wait); m.Text != "oops" {
		t.Fatalf("bob got %+v", m)
	}
	alice2.Message(wait)
	rep, err := revoke(alice, "bob", 0, r.MessageID, protocol.MessageRevokeConfig{RevokeExtendedData: "why"})
	if err != nil {
		t.Fatal(err)
	}
	wantMarker(t, "reply", rep.Message, r.MessageID, protocol.RevokeStatusSelf, "alice")
	if rep.Message.RevokeExtendedData != "why" || rep.Message.ConversationSeq != r.ConversationSeq || rep.Message.Timestamp != r.Timestamp {
		t.Fatalf("reply %+v", rep.Message)
	}
	ev := revokeEvent(t, bob)
	if len(ev.MessageList) != 1 || ev.MessageList[0].ConversationID != "alice" {
		t.Fatalf("bob's event %+v", ev)
	}
	wantMarker(t, "bob's event", ev.MessageList[0], r.MessageID, protocol.RevokeStatusSelf, "alice")
	ev = revokeEvent(t, alice2)
	if len(ev.MessageList) != 1 || ev.MessageList[0].ConversationID != "bob" {
		t.Fatalf("alice's other device's event %+v", ev)
	}

	bob2 := s.LoginAs(t, "bob", "ios", "b2")
	msgs, n := bob2.SyncDone(wait)
	if n != 1 || len(msgs) != 1 {
		t.Fatalf("bob's new device synced %d: %+v", n, msgs)
	}
	wantMarker(t, "sync", msgs[0], r.MessageID, protocol.RevokeStatusSelf, "alice")
	var h protocol.HistoryReply
	if err := bob2.Call(protocol.TypeHistory, protocol.HistoryRequest{ConversationID: "alice"}, &h); err != nil {
		t.Fatal(err)
	}
	if len(h.Messages) != 1 {
		t.Fatalf("history %+v", h)
	}
	wantMarker(t, "history", h.Messages[0], r.MessageID, protocol.RevokeStatusSelf, "alice")
	var cl protocol.ConversationListReply
	if err := bob2.Call(protocol.TypeConversationList, protocol.ConversationListRequest{}, &cl); err != nil {
		t.Fatal(err)
	}
	if len(cl.Conversations) != 1 || cl.Conversations[0].LastMessage == nil || cl.Conversations[0].UnreadMessageCount != 1 {
		t.Fatalf("conversation list %+v", cl)
	}
	wantMarker(t, "last message", *cl.Conversations[0].LastMessage, r.MessageID, protocol.RevokeStatusSelf, "alice")

	if _, err := revoke(alice, "bob", 0, r.MessageID, protocol.MessageRevokeConfig{RevokeExtendedData: "again"}); err == nil || err.Code != protocol.CodeMessageAlreadyRevoked {
		t.Fatalf("second revoke: %v", err)
	}
	if err := bob2.Call(protocol.TypeHistory, protocol.HistoryRequest{ConversationID: "alice"}, &h); err != nil || h.Messages[0].RevokeExtendedData != "why" {
		t.Fatalf("after the second revoke: %v %+v", err, h)
	}
}

// TestRevokeForbiddenChangesNothing: revokes that are not allowed get
// their codes, and the message stays as it was.
func TestRevokeForbiddenChangesNothing(t *testing.T) {
	s, clk := testkit.StartFake(t, longSessions)
	alice := s.LoginAs(t, "alice", "ios", "a1")
	bob := s.LoginAs(t, "bob", "android", "b1")
	carol := s.LoginAs(t, "carol", "android", "c1")
	for _, c := range []*testkit.Client{alice, bob, carol} {
		c.SyncDone(wait)
	}
	r, perr := alice.SendText("bob", "l1", "keep me")
	if perr != nil {
		t.Fatal(perr)
	}
	bob.Message(wait)
	cases := []struct {
		name string
		c    *testkit.Client
		conv string
		id   string
		cfg  protocol.MessageRevokeConfig
		code protocol.Code
	}{
		{"the recipient", bob, "alice", r.MessageID, protocol.MessageRevokeConfig{}, protocol.CodeRevokeNotAllowed},
		{"not in the conversation", carol, "alice", r.MessageID, protocol.MessageRevokeConfig{}, protocol.CodeMessageNotFound},
		{"unknown message", alice, "bob", "12345", protocol.MessageRevokeConfig{}, protocol.CodeMessageNotFound},
		{"not an ID", alice, "bob", "x1", protocol.MessageRevokeConfig{}, protocol.CodeInvalidArgument},
		{"extended data too long", alice, "bob", r.MessageID, protocol.MessageRevokeConfig{RevokeExtendedData: string(make([]byte, 1025))}, protocol.CodeInvalidArgument},
		{"bad push config", alice, "bob", r.MessageID, protocol.MessageRevokeConfig{PushConfig: &protocol.PushConfig{Title: string(make([]byte, 300))}}, protocol.CodeInvalidPushConfig},
	}
	for _, tc := range cases {
		if _, err := revoke(tc.c, tc.conv, 0, tc.id, tc.cfg); err == nil || err.Code != tc.code {
			t.Errorf("%s: %v, want %d", tc.name, err, tc.code)
		}
	}
	clk.Advance(2*time.Minute + time.Second)
	if _, err := revoke(alice, "bob", 0, r.MessageID, protocol.MessageRevokeConfig{}); err == nil || err.Code != protocol.CodeRevokeWindowPassed {
		t.Fatalf("after the window: %v", err)
	}
	bob.NoEvent(200 * time.Millisecond)
	var h protocol.HistoryReply
	if err := bob.Call(protocol.TypeHistory, protocol.HistoryRequest{ConversationID: "alice"}, &h); err != nil {
		t.Fatal(err)
	}
	if len(h.Messages) != 1 || h.Messages[0].Text != "keep me" || h.Messages[0].RevokeFields != nil {
		t.Fatalf("history after refused revokes %+v", h)
	}
	// The server API may revoke it still.
	st, b := adminCall(t, s, "POST", "/messages/"+r.MessageID+"/revoke", map[string]any{"operatedUserID": "moderator"})
	if st != 200 {
		t.Fatalf("server revoke: %d %v", st, b)
	}
	wantMarker(t, "bob's event", revokeEvent(t, bob).MessageList[0], r.MessageID, protocol.RevokeStatusServerAPI, "moderator")
	if st, b := adminCall(t, s, "POST", "/messages/"+r.MessageID+"/revoke", map[string]any{}); st != 409 || b["code"] != float64(protocol.CodeMessageAlreadyRevoked) {
		t.Fatalf("server revoke again: %d %v", st, b)
	}
	if st, b := adminCall(t, s, "POST", "/messages/999/revoke", map[string]any{}); st != 404 || b["code"] != float64(protocol.CodeMessageNotFound) {
		t.Fatalf("server revoke of no message: %d %v", st, b)
	}
}

// TestRevokeInGroup: a member may not revoke another's message; the
// owner may, at any time, and every member gets the event.
func TestRevokeInGroup(t *testing.T) {
	s, clk := testkit.StartFake(t, longSessions)
	owner := s.LoginAs(t, "alice", "ios", "a1")
	bob := s.LoginAs(t, "bob", "android", "b1")
	carol := s.LoginAs(t, "carol", "android", "c1")
	for _, c := range []*testkit.Client{owner, bob, carol} {
		c.SyncDone(wait)
	}
	if err := owner.Call(protocol.TypeGroupCreate, protocol.GroupCreateRequest{GroupID: "g1", Name: "Team", Members: []string{"bob", "carol"}}, nil); err != nil {
		t.Fatal(err)
	}
	var r protocol.SendReply
	if err := bob.Call(protocol.TypeSend, protocol.SendRequest{ConversationID: "g1", ConversationType: 2, LocalMessageID: "g-1", Type: 1, Text: "in the group"}, &r); err != nil {
		t.Fatal(err)
	}
	if _, err := revoke(carol, "g1", 2, r.MessageID, protocol.MessageRevokeConfig{}); err == nil || err.Code != protocol.CodeRevokeNotAllowed {
		t.Fatalf("a member's revoke: %v", err)
	}
	clk.Advance(time.Hour)
	rep, err := revoke(owner, "g1", 2, r.MessageID, protocol.MessageRevokeConfig{})
	if err != nil {
		t.Fatal(err)
	}
	wantMarker(t, "owner's reply", rep.Message, r.MessageID, protocol.RevokeStatusGroupOwner, "alice")
	for _, c := range []*testkit.Client{bob, carol} {
		ev := revokeEvent(t, c)
		if len(ev.MessageList) != 1 || ev.MessageList[0].ConversationID != "g1" {
			t.Fatalf("member's event %+v", ev)
		}
		wantMarker(t, "member's event", ev.MessageList[0], r.MessageID, protocol.RevokeStatusGroupOwner, "alice")
	}
}

// TestRevokeDropsPendingPush: a push waiting for its retry when the
// message is revoked is dropped and never reaches the phone, while the
// next message's push does.
func TestRevokeDropsPendingPush(t *testing.T) {
	s := testkit.Start(t, nil)
	em := startAPNs(t, s)
	tok := em.RegisterDevice(bundle, apnsemu.Development, false)
	goOffline(t, s, "bob", protocol.PushRegistration{Vendor: "apns", Token: tok, Environment: "development", BundleID: bundle})
	em.InjectFault(tok, apnsemu.Fault{Kind: apnsemu.FaultThrottled, RetryAfter: time.Hour})
	alice := s.LoginAs(t, "alice", "android", "a")
	alice.SyncDone(wait)
	var r protocol.SendReply
	if err := alice.Call(protocol.TypeSend, protocol.SendRequest{ConversationID: "bob", LocalMessageID: "m1", Type: 1, Text: "hi",
		PushConfig: &protocol.PushConfig{Title: "Alice", Content: "first"}}, &r); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the throttled attempt", func() bool {
		js := jobsFor(t, s, "bob")
		return len(js) == 1 && js[0].Status == push.JobPending && js[0].Attempts == 1
	})
	if _, err := revoke(alice, "bob", 0, r.MessageID, protocol.MessageRevokeConfig{}); err != nil {
		t.Fatal(err)
	}
	js := jobsFor(t, s, "bob")
	if len(js) != 1 || js[0].Status != push.JobDropped || js[0].Reason != "message revoked" {
		t.Fatalf("jobs after the revoke %+v", js)
	}
	em.ClearFault(tok)
	sendWithPush(t, alice, "bob", "m2", &protocol.PushConfig{Title: "Alice", Content: "second"})
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	ds, err := em.WaitDeliveries(ctx, tok, 1)
	if err != nil {
		t.Fatalf("second push: %v (%+v)", err, jobsFor(t, s, "bob"))
	}
	waitFor(t, "the second push delivered", func() bool { return jobsFor(t, s, "bob")[0].Status == push.JobDelivered })
	if tray := em.Tray(tok); len(ds) != 1 || len(tray) != 1 || tray[0].Body != "second" {
		t.Fatalf("deliveries %d, tray %+v: the revoked message's push was sent", len(ds), tray)
	}
	if js := jobsFor(t, s, "bob"); js[len(js)-1].Status != push.JobDropped {
		t.Fatalf("the revoked push's job %+v", js[len(js)-1])
	}
}

// TestRevokeWithdrawsShownNotification: on each vendor's phone (and a
// browser for Web Push) the message's notification is shown, then after
// the revoke it is gone from the tray, replaced by the withdraw (the
// revoke's pushConfig). On HarmonyOS with the app's client ID a revoke
// without a pushConfig removes it with Push Kit's messages:revoke,
// leaving nothing in its place ("harmony-revoke-api"); with a pushConfig
// the replacement still says what the app asked ("harmony").
func TestRevokeWithdrawsShownNotification(t *testing.T) {
	type phone struct {
		name  string
		setup func(t *testing.T, s *testkit.Server) func() []string
		// removes: revoked without a pushConfig, the notification is
		// removed with the vendor's revoke API.
		removes bool
	}
	harmonyPhone := func(t *testing.T, s *testkit.Server) func() []string {
		em, sa := startHarmony(t, s)
		cred := map[string]any{"serviceAccountJSON": string(sa), "clientID": em.ClientID(harmonyProject),
			"baseURL": em.URL(), "caPEM": string(em.CACertPEM())}
		if st, b := adminCall(t, s, "PUT", "/push/credentials/harmony", cred); st != 200 {
			t.Fatalf("PUT credential: %d %v", st, b)
		}
		tok := em.RegisterDevice(harmonyProject)
		goOffline(t, s, "bob", protocol.PushRegistration{Vendor: "harmony", Token: tok, Environment: "production", BundleID: pkg})
		return func() (out []string) {
			for _, it := range em.Tray(tok) {
				out = append(out, it.Title+"|"+it.Body)
			}
			return out
		}
	}
	phones := []phone{
		{name: "apns", setup: func(t *testing.T, s *testkit.Server) func() []string {
			em := startAPNs(t, s)
			tok := em.RegisterDevice(bundle, apnsemu.Development, false)
			goOffline(t, s, "bob", protocol.PushRegistration{Vendor: "apns", Token: tok, Environment: "development", BundleID: bundle})
			return func() (out []string) {
				for _, it := range em.Tray(tok) {
					out = append(out, it.Title+"|"+it.Body)
				}
				return out
			}
		}},
		{name: "fcm", setup: func(t *testing.T, s *testkit.Server) func() []string {
			em := startFCM(t, s)
			tok := em.RegisterDevice("herald-test", bundle)
			goOffline(t, s, "bob", protocol.PushRegistration{Vendor: "fcm", Token: tok, Environment: "production", BundleID: bundle})
			return func() (out []string) {
				for _, it := range em.Tray(tok) {
					out = append(out, it.Title+"|"+it.Body)
				}
				return out
			}
		}},
	}
	phones = append(phones, phone{name: "harmony", setup: harmonyPhone},
		phone{name: "harmony-revoke-api", setup: harmonyPhone, removes: true}, phone{name: "webpush", setup: func(t *testing.T, s *testkit.Server) func() []string {
			browser := webPushBrowser(t, s, "bob")
			return func() (out []string) {
				for _, n := range browser.Tray() {
					out = append(out, n.Title+"|"+n.Content)
				}
				return out
			}
		}})
	for _, v := range androidVendors {
		phones = append(phones, phone{name: v.name, setup: func(t *testing.T, s *testkit.Server) func() []string {
			rig := v.setup(t, s)
			if st, b := adminCall(t, s, "PUT", "/push/credentials/"+v.name, rig.cred); st != 200 {
				t.Fatalf("PUT credential: %d %v", st, b)
			}
			goOffline(t, s, "bob", protocol.PushRegistration{Vendor: v.name, Token: rig.token, Environment: "production", BundleID: pkg})
			return rig.tray
		}})
	}
	for _, p := range phones {
		t.Run(p.name, func(t *testing.T) {
			s := testkit.Start(t, nil)
			tray := p.setup(t, s)
			alice := s.LoginAs(t, "alice", "android", "a")
			alice.SyncDone(wait)
			// An earlier message's notification stays: only the revoked
			// one is withdrawn.
			sendWithPush(t, alice, "bob", "m0", &protocol.PushConfig{Title: "Alice", Content: "keep"})
			waitFor(t, "the first notification", func() bool { return slices.Equal(tray(), []string{"Alice|keep"}) })
			var r protocol.SendReply
			if err := alice.Call(protocol.TypeSend, protocol.SendRequest{ConversationID: "bob", LocalMessageID: "m1", Type: 1, Text: "oops",
				PushConfig: &protocol.PushConfig{Title: "Alice", Content: "oops"}}, &r); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the notification shown", func() bool { return slices.Equal(tray(), []string{"Alice|keep", "Alice|oops"}) })
			// Its push recorded as delivered: a push still claimed at the
			// revoke is withdrawn only at its lease's end (the store
			// contract's Revoke test covers that case).
			waitFor(t, "the push recorded", func() bool {
				js, _, err := s.Srv.PushTrace(context.Background(), push.TraceFilter{AppID: s.App.AppID, MessageID: mustID(t, r.MessageID)})
				return err == nil && len(js) == 1 && js[0].Status == push.JobDelivered
			})
			if p.removes {
				if _, err := revoke(alice, "bob", 0, r.MessageID, protocol.MessageRevokeConfig{}); err != nil {
					t.Fatal(err)
				}
				id := mustID(t, r.MessageID)
				waitFor(t, "the withdraw recorded", func() bool {
					js, _, err := s.Srv.PushTrace(context.Background(), push.TraceFilter{AppID: s.App.AppID, MessageID: id})
					return err == nil && len(js) == 2 && js[0].Status == push.JobDelivered && js[1].Status == push.JobDelivered
				})
				js, _, _ := s.Srv.PushTrace(context.Background(), push.TraceFilter{AppID: s.App.AppID, MessageID: id})
				for _, j := range js {
					if j.Kind == push.JobMessageWithdraw && !strings.Contains(j.Reason, "revoke API") {
						t.Fatalf("withdraw job %+v: not removed with the revoke API", j)
					}
				}
				if got := tray(); !slices.Equal(got, []string{"Alice|keep"}) {
					t.Fatalf("tray after the revoke %q, want the revoked notification removed", got)
				}
				return
			}
			if _, err := revoke(alice, "bob", 0, r.MessageID, protocol.MessageRevokeConfig{PushConfig: &protocol.PushConfig{Title: "Alice", Content: "message revoked"}}); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the notification withdrawn", func() bool {
				return slices.Equal(tray(), []string{"Alice|keep", "Alice|message revoked"})
			})
		})
	}
}
