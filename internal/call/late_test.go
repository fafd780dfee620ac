package call_test

import (
	"testing"
	"time"

	"github.com/heraldim/herald/internal/call"
	"github.com/heraldim/herald/internal/protocol"
	"github.com/heraldim/herald/internal/push"
)

// TestCallRingSessionEndedDuringInvitation: an invitee counted live by its
// invitation whose session left (and was reported) before the invitation
// rang it is rung right after the invitation, and becomes inviting; an
// invitee still live is not.
func TestCallRingSessionEndedDuringInvitation(t *testing.T) {
	r := newRig(t, "", "bob", "carol")
	for _, u := range []string{"bob", "carol"} {
		tok := "tok-" + u
		if err := r.st.RegisterDevice(t.Context(), push.Device{AppID: "app", PushID: push.NewPushID("app", push.VendorAPNs, push.Production, tok),
			Vendor: push.VendorAPNs, Token: tok, Environment: push.Production, BundleID: "b", UserID: u, Enabled: true}); err != nil {
			t.Fatal(err)
		}
	}
	stop := r.run(t)
	defer stop()
	// Bob's session ends during the invitation: reported before anything
	// rang him, the report owes nothing.
	r.hub.mu.Lock()
	r.hub.leaving = map[string]bool{"bob": true}
	r.hub.mu.Unlock()
	n, _ := r.svc.SessionEndsChecked()
	r.svc.SessionEnded("app", "bob")
	if m, _ := r.svc.SessionEndsChecked(); m != n+1 {
		t.Fatalf("the end of a user nothing rings was not checked at once: %d, %d", n, m)
	}
	rep, err := r.svc.Invite(t.Context(), "app", "alice", call.Invitation{Invitees: []string{"bob", "carol"}, Timeout: 60,
		PushConfig: &push.Content{Title: "Alice", Content: "calling"}})
	if err != nil {
		t.Fatal(err)
	}
	id := rep.CallID
	// Carol's check is queued behind bob's recheck: once it ran, so did
	// bob's.
	n, changed := r.svc.SessionEndsChecked()
	r.svc.SessionEnded("app", "carol")
	for m := n; m == n; m, changed = r.svc.SessionEndsChecked() {
		select {
		case <-changed:
		case <-time.After(10 * time.Second):
			t.Fatal("carol's end was not checked")
		}
	}
	jobs, err := r.st.CallJobs(t.Context(), "app", id)
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 1 || jobs[0].UserID != "bob" || jobs[0].Kind != push.JobCallInvite {
		t.Fatalf("jobs %+v: want bob's ring only", jobs)
	}
	info, err := r.svc.Info(t.Context(), "app", "alice", id)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range info.Users {
		want := map[string]int{"alice": protocol.CallAccepted, "bob": protocol.CallInviting, "carol": protocol.CallReceived}[u.UserID]
		if u.State != want {
			t.Fatalf("%s is %d, want %d", u.UserID, u.State, want)
		}
	}
}
