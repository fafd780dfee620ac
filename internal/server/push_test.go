package server_test

import (
	"context"
	"testing"
	"time"

	"github.com/heraldim/herald/internal/protocol"
	"github.com/heraldim/herald/internal/push"
	"github.com/heraldim/herald/internal/testkit"
)

// loginWithPush logs user in on a device registered for push and returns
// the client and the PushID the server gave the device.
func loginWithPush(t *testing.T, s *testkit.Server, user, token string) (*testkit.Client, string) {
	t.Helper()
	c := testkit.Dial(t, s.URL)
	var r protocol.LoginReply
	err := c.Call(protocol.TypeLogin, protocol.LoginRequest{
		AppID: s.App.AppID, UserID: user, Token: s.Token(t, user, time.Hour), Platform: "ios", DeviceID: "dev-" + token,
		Push: &protocol.PushRegistration{Vendor: "apns", Token: token, Environment: "development", BundleID: "com.example.chat"},
	}, &r)
	if err != nil {
		t.Fatalf("login %s with push: %v", user, err)
	}
	if r.PushID == "" || r.PushID[0] != 'D' {
		t.Fatalf("login reply PushID %q, want a development PushID", r.PushID)
	}
	c.SyncDone(wait)
	return c, r.PushID
}

func jobsFor(t *testing.T, s *testkit.Server, user string) []push.Job {
	t.Helper()
	jobs, _, err := s.Srv.PushTrace(context.Background(), push.TraceFilter{AppID: s.App.AppID, UserID: user})
	if err != nil {
		t.Fatal(err)
	}
	return jobs
}

func sendWithPush(t *testing.T, c *testkit.Client, to, localID string, pc *protocol.PushConfig) {
	t.Helper()
	if err := c.Call(protocol.TypeSend, protocol.SendRequest{ConversationID: to, LocalMessageID: localID, Type: 1, Text: "hi", PushConfig: pc}, nil); err != nil {
		t.Fatal(err)
	}
}

// TestPushPlannedForOfflineRecipients is promise 4's planning half: an
// offline recipient of a message with a push config gets a job per bound
// device; online recipients, messages without push config and the sender's
// own devices get none.
func TestPushPlannedForOfflineRecipients(t *testing.T) {
	s := testkit.Start(t, nil)
	bob, bobPush := loginWithPush(t, s, "bob", "aa01")
	alice, _ := loginWithPush(t, s, "alice", "aa02")
	pc := &protocol.PushConfig{Title: "Alice", Content: "hi", Payload: `{"chat":"alice"}`}

	sendWithPush(t, alice, "bob", "online", pc) // bob is online: no push
	m := bob.Message(wait)
	// Acknowledged: its session's end owes no push for it either.
	ack(t, bob, "alice", protocol.ConversationPeer, m.ConversationSeq)
	bob.Close() // gone without logout: offline, still bound
	deadline := time.Now().Add(wait)
	for s.Online("bob") {
		if time.Now().After(deadline) {
			t.Fatal("bob still online")
		}
		time.Sleep(10 * time.Millisecond)
	}
	sendWithPush(t, alice, "bob", "offline", pc)
	sendWithPush(t, alice, "bob", "no-config", nil)

	jobs := jobsFor(t, s, "bob")
	if len(jobs) != 1 {
		t.Fatalf("bob has %d push jobs, want 1 (only the offline message with a push config): %+v", len(jobs), jobs)
	}
	j := jobs[0]
	if j.PushID != bobPush || j.Vendor != push.VendorAPNs || j.ExpiresAt.IsZero() {
		t.Fatalf("job %+v", j)
	}
	// The dev app has no APNs credential: the dispatcher may already have
	// failed the job, saying why in the trace.
	if j.Status != push.JobPending && (j.Status != push.JobFailed || j.Reason != push.ErrVendorNotConfigured.Error()) {
		t.Fatalf("job status %s (%s)", j.Status, j.Reason)
	}
	if jobs := jobsFor(t, s, "alice"); len(jobs) != 0 {
		t.Fatalf("the sender's devices got jobs for its own messages: %+v", jobs)
	}
}

// TestLogoutUnbindsDevice is promise 6: after logout, a device that another
// user logs in on gets that user's pushes and none of the first user's.
func TestLogoutUnbindsDevice(t *testing.T) {
	s := testkit.Start(t, nil)
	sender := s.LoginAs(t, "sender", "server", "script")
	sender.SyncDone(wait)
	alice, phone := loginWithPush(t, s, "alice", "bb01")
	if err := alice.Call(protocol.TypeLogout, struct{}{}, nil); err != nil {
		t.Fatal(err)
	}
	carol, phone2 := loginWithPush(t, s, "carol", "bb01")
	if phone2 != phone {
		t.Fatalf("same token, other PushID: %s vs %s", phone, phone2)
	}
	carol.Close()
	for s.Online("carol") {
		time.Sleep(10 * time.Millisecond)
	}
	pc := &protocol.PushConfig{Title: "t"}
	sendWithPush(t, sender, "alice", "to-alice", pc)
	sendWithPush(t, sender, "carol", "to-carol", pc)
	if jobs := jobsFor(t, s, "alice"); len(jobs) != 0 {
		t.Fatalf("alice logged out but her old phone was planned a push: %+v", jobs)
	}
	if jobs := jobsFor(t, s, "carol"); len(jobs) != 1 || jobs[0].PushID != phone {
		t.Fatalf("carol's jobs: %+v", jobs)
	}
}

func TestUnregisterPushAndBadRegistrations(t *testing.T) {
	s := testkit.Start(t, nil)
	bob, id := loginWithPush(t, s, "bob", "cc01")
	if err := bob.Call(protocol.TypeUnregisterPush, protocol.UnregisterPushRequest{PushID: "Dnot-mine"}, nil); err == nil || err.Code != protocol.CodeInvalidPushDevice {
		t.Fatalf("unregister unknown: %v", err)
	}
	if err := bob.Call(protocol.TypeUnregisterPush, protocol.UnregisterPushRequest{PushID: id}, nil); err != nil {
		t.Fatal(err)
	}
	bob.Close()
	for s.Online("bob") {
		time.Sleep(10 * time.Millisecond)
	}
	sender := s.LoginAs(t, "sender", "server", "script")
	sender.SyncDone(wait)
	sendWithPush(t, sender, "bob", "x", &protocol.PushConfig{Title: "t"})
	if jobs := jobsFor(t, s, "bob"); len(jobs) != 0 {
		t.Fatalf("unregistered device planned a push: %+v", jobs)
	}

	for name, reg := range map[string]protocol.PushRegistration{
		"unknown vendor":      {Vendor: "nokia", Token: "t", Environment: "production", BundleID: "b"},
		"unknown environment": {Vendor: "apns", Token: "t", Environment: "staging", BundleID: "b"},
		"no token":            {Vendor: "fcm", Environment: "production", BundleID: "b"},
		"no bundle":           {Vendor: "fcm", Token: "t", Environment: "production"},
		"voip token on fcm":   {Vendor: "fcm", Token: "t", VoIPToken: "v", Environment: "production", BundleID: "b"},
		"pushID of another":   {Vendor: "apns", Token: "t", Environment: "production", BundleID: "b", PushID: push.NewPushID(s.App.AppID, push.VendorAPNs, push.Development, "t")},
	} {
		t.Run(name, func(t *testing.T) {
			c := testkit.Dial(t, s.URL)
			reg := reg
			err := c.Call(protocol.TypeLogin, protocol.LoginRequest{AppID: s.App.AppID, UserID: "dave", Token: s.Token(t, "dave", time.Hour), Platform: "ios", DeviceID: "d", Push: &reg}, nil)
			if err == nil || err.Code != protocol.CodeInvalidPushDevice {
				t.Fatalf("login: %v, want %d", err, protocol.CodeInvalidPushDevice)
			}
			if s.Online("dave") {
				t.Fatal("a login with a bad push registration went through")
			}
		})
	}
}
