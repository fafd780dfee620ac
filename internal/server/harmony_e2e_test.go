package server_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	harmonyemu "github.com/heraldim/herald/internal/emulator/harmony"
	"github.com/heraldim/herald/internal/protocol"
	"github.com/heraldim/herald/internal/push"
	"github.com/heraldim/herald/internal/testkit"
)

const harmonyProject = "101653523863785276"

// startHarmony starts a HarmonyOS Push Kit emulator, stopped with the
// test, and returns it with a service account key file of harmonyProject
// (self-classified: the IM category holds).
func startHarmony(t testing.TB, s *testkit.Server) (*harmonyemu.Emulator, []byte) {
	em, err := harmonyemu.New(harmonyemu.Config{})
	serveEmulator(t, s, em, err)
	sa, err := em.NewServiceAccount(harmonyProject)
	if err != nil {
		t.Fatal(err)
	}
	em.SetSelfClassified(harmonyProject, true)
	return em, sa
}

// TestHarmonyOfflinePushReachesTray: a HarmonyOS NEXT phone registered at
// login gets an offline message as a notification in its tray, through a
// service-account credential set with the admin API (validated, checked,
// its key never shown); when Push Kit says the token is invalid the device
// is removed.
func TestHarmonyOfflinePushReachesTray(t *testing.T) {
	s := testkit.Start(t, nil)
	em, sa := startHarmony(t, s)
	cred := map[string]any{"serviceAccountJSON": string(sa), "baseURL": em.URL(), "caPEM": string(em.CACertPEM())}

	// A credential without its key file, or with a broken one, is refused
	// and nothing is stored.
	if st, b := adminCall(t, s, "PUT", "/push/credentials/harmony", map[string]any{"baseURL": em.URL()}); st != 400 || b["code"] != float64(protocol.CodeInvalidCredential) {
		t.Fatalf("credential without a key file: %d %v", st, b)
	}
	broken := strings.Replace(string(sa), "PRIVATE KEY-----\\n", "PRIVATE KEY-----\\nAAAA", 1)
	if st, b := adminCall(t, s, "PUT", "/push/credentials/harmony", map[string]any{"serviceAccountJSON": broken}); st != 400 || b["code"] != float64(protocol.CodeInvalidCredential) {
		t.Fatalf("credential with a broken key: %d %v", st, b)
	}
	if st, b := adminCall(t, s, "GET", "/push/credentials", nil); st != 200 || len(b["credentials"].([]any)) != 0 {
		t.Fatalf("a refused credential was stored: %d %v", st, b)
	}
	if st, b := adminCall(t, s, "PUT", "/push/credentials/harmony", cred); st != 200 || b["projectID"] != harmonyProject || b["category"] != "IM" {
		t.Fatalf("PUT credential: %d %v", st, b)
	}
	st, b := adminCall(t, s, "GET", "/push/credentials", nil)
	if shown := fmt.Sprint(b); st != 200 || strings.Contains(shown, "PRIVATE KEY") || strings.Contains(shown, "private_key") {
		t.Fatalf("credentials listing %d shows the key: %s", st, shown)
	}
	if st, b := adminCall(t, s, "POST", "/push/credentials/harmony/check", nil); st != 200 || b["ok"] != true {
		t.Fatalf("check: %d %v", st, b)
	}

	tok := em.RegisterDevice(harmonyProject)
	pushID := goOffline(t, s, "bob", protocol.PushRegistration{Vendor: "harmony", Token: tok, Environment: "production", BundleID: pkg})
	sender := s.LoginAs(t, "alice", "server", "script")
	sender.SyncDone(wait)
	sendWithPush(t, sender, "bob", "m1", &protocol.PushConfig{Title: "Alice", Content: "hi from alice", Payload: "p1"})
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	d, err := em.Next(ctx, tok)
	if err != nil {
		t.Fatalf("no push reached the harmony emulator: %v (trace %+v)", err, jobsFor(t, s, "bob"))
	}
	if d.PushType != "0" || d.Category != "IM" {
		t.Fatalf("delivery push-type %s category %s", d.PushType, d.Category)
	}
	tray := em.Tray(tok)
	if len(tray) != 1 || tray[0].Title != "Alice" || tray[0].Body != "hi from alice" || tray[0].Data["payload"] != "p1" {
		t.Fatalf("tray %+v", tray)
	}
	waitJob(t, s, "bob", push.JobDelivered)

	// The app is uninstalled: Push Kit answers 80300007 and the device goes.
	em.Uninstall(tok)
	sendWithPush(t, sender, "bob", "m2", &protocol.PushConfig{Title: "Alice", Content: "still there?"})
	j := waitJob(t, s, "bob", push.JobDropped)
	if !strings.HasPrefix(j.Reason, "80300007") {
		t.Fatalf("dropped job's reason %q", j.Reason)
	}
	devs := mustAdmin(t, s, 200, "GET", "/users/bob/devices", nil)
	if list, _ := devs["devices"].([]any); len(list) != 0 {
		t.Fatalf("device %s still listed after 80300007: %v", pushID, devs)
	}
	if n := len(em.Tray(tok)); n != 1 {
		t.Fatalf("tray holds %d after the uninstall", n)
	}
}

// TestHarmonyCallRing: an offline HarmonyOS invitee's ring is a VOIP
// notification carrying the call's replace key (notifyId) and a ttl within
// the call's deadline, or, when the credential and Push Kit grant the
// in-app call entitlement, an in-app call message (push-type 10) with the
// call ID for the app; after the inviter's cancel the tray shows one
// notification: the cancel.
func TestHarmonyCallRing(t *testing.T) {
	for _, callRight := range []bool{false, true} {
		t.Run(fmt.Sprint("callRight=", callRight), func(t *testing.T) {
			s := testkit.Start(t, nil)
			em, sa := startHarmony(t, s)
			em.SetCallRight(harmonyProject, callRight)
			cred := map[string]any{"serviceAccountJSON": string(sa), "baseURL": em.URL(), "caPEM": string(em.CACertPEM()), "callRight": callRight}
			if st, b := adminCall(t, s, "PUT", "/push/credentials/harmony", cred); st != 200 {
				t.Fatalf("PUT credential: %d %v", st, b)
			}
			tok := em.RegisterDevice(harmonyProject)
			goOffline(t, s, "bob", protocol.PushRegistration{Vendor: "harmony", Token: tok, Environment: "production", BundleID: pkg})
			alice := callUser(t, s, "alice", "ios", "a1")
			rep := invite(t, alice, protocol.CallInviteRequest{Invitees: []string{"bob"}, Timeout: 120,
				PushConfig: &protocol.PushConfig{Title: "Alice", Content: "calling"}})
			waitFor(t, "the ring", func() bool { return len(em.Deliveries(tok)) == 1 })
			ring := em.Deliveries(tok)[0]
			if ring.Options == nil || ring.Options.TTL == nil || *ring.Options.TTL > 120 {
				t.Fatalf("ring options %+v: want a ttl within the call's 120 s", ring.Options)
			}
			if callRight {
				if ring.PushType != "10" || ring.ExtraData == nil || !strings.Contains(*ring.ExtraData, rep.CallID) {
					t.Fatalf("ring %+v: want an in-app call message with the call ID", ring)
				}
			} else {
				n := ring.Notification
				if ring.PushType != "0" || n == nil || n.Category != "VOIP" || n.NotifyID == nil ||
					*n.NotifyID != push.NumericCollapseID(push.CallCollapseID(rep.CallID)) {
					t.Fatalf("ring %+v %+v: want a VOIP notification with the call's notifyId", ring, n)
				}
			}
			if err := alice.Call(protocol.TypeCallCancel, protocol.CallCancelRequest{CallID: rep.CallID,
				PushConfig: &protocol.PushConfig{Title: "Alice", Content: "missed call"}}, nil); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the cancel push", func() bool { return len(em.Deliveries(tok)) == 2 })
			if got := em.Tray(tok); len(got) != 1 || got[0].Title != "Alice" || got[0].Body != "missed call" {
				t.Fatalf("tray after the cancel %+v (jobs %+v)", got, jobsFor(t, s, "bob"))
			}
		})
	}
}
