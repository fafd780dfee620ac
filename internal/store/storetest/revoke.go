package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/heraldim/herald/internal/im"
	"github.com/heraldim/herald/internal/push"
)

// revokeStore is what the revoke contract needs beyond PushStore.
type revokeStore interface {
	im.RevokeStore
	PlanPushOnce(ctx context.Context, appID, userID string, plans []im.PushPlan, now time.Time) (int, error)
}

// testPushRevoke: revoking a message (im.RevokeStore) clears its body,
// drops its pending push jobs, the unclaimed and the claimed one alike, and
// plans its withdraw to the device whose push was delivered (now) and to
// the one whose push was claimed (at that claim's lease end); the claimed
// attempt's outcome cannot revive its job; no later push of the message is
// planned; a second revoke is a conflict and changes nothing.
func testPushRevoke(t *testing.T, e *pushEnv) {
	ctx := t.Context()
	rs, ok := e.s.(revokeStore)
	if !ok {
		t.Fatalf("%T does not revoke messages", e.s)
	}
	for _, tok := range []string{"t1", "t2", "t3"} {
		e.device("bob", tok, true)
	}
	m := &im.Message{AppID: "a1", ID: 7_000_001, ConvID: im.PeerConvID("alice", "bob"), Sender: "alice", Recipient: "bob",
		Type: 1, Text: "secret", SearchedContent: "s", Priority: 2, CreatedAt: base,
		PushConfig: &push.Content{Title: "Alice", Content: "secret"}, PushUsers: []string{"bob"}}
	if _, err := e.s.AppendMessages(ctx, []*im.Message{m}); err != nil {
		t.Fatal(err)
	}
	at := time.Now().Add(time.Second)
	lease := at.Add(time.Minute)
	claimed, err := e.s.ClaimJobs(ctx, push.VendorFCM, at, 2, "a", lease)
	if err != nil || len(claimed) != 2 {
		t.Fatalf("claim: %v %+v", err, claimed)
	}
	delivered, inFlight := claimed[0], claimed[1]
	if err := e.s.FinishAttempts(ctx, []push.Finish{{Attempt: push.Attempt{JobID: delivered.ID, At: at, Outcome: "delivered", Status: 200},
		Attempts: 1, Status: push.JobDelivered, NotBefore: at, Reason: "v1", Owner: "a"}}); err != nil {
		t.Fatal(err)
	}
	w := push.Intent{AppID: "a1", Source: push.Source{Kind: push.SourceMessageWithdraw, MessageID: m.ID},
		Content: push.Content{Content: "revoked"}, ExpiresAt: at.Add(time.Hour), Replaces: &push.Replaced{RingConfig: true}}
	rev := im.Revoke{AppID: "a1", MessageID: m.ID, Rev: im.Revocation{At: at, By: "alice", Status: 0, ExtendedData: "x"}, Withdraw: w}
	res, err := rs.RevokeMessage(ctx, rev)
	if err != nil {
		t.Fatal(err)
	}
	if res.Dropped != 2 || res.Withdraws != 2 {
		t.Fatalf("revoke result %+v, want 2 dropped (claimed and unclaimed) and 2 withdraws", res)
	}
	// The claimed attempt answers "retry": its job stays dropped.
	if err := e.s.FinishAttempts(ctx, []push.Finish{{Attempt: push.Attempt{JobID: inFlight.ID, At: at, Outcome: "retry", Status: 503},
		Attempts: 1, Status: push.JobPending, NotBefore: at, Reason: "retry", Owner: "a"}}); err != nil {
		t.Fatal(err)
	}
	jobs, _, err := e.s.Trace(ctx, push.TraceFilter{AppID: "a1", MessageID: m.ID, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	withdraws := map[string]push.Job{}
	for _, j := range jobs {
		switch {
		case j.Kind == push.JobMessageWithdraw:
			withdraws[j.PushID] = j
		case j.ID == delivered.ID:
			if j.Status != push.JobDelivered {
				t.Errorf("the delivered job became %s", j.Status)
			}
		default:
			if j.Status != push.JobDropped || j.Reason != "message revoked" {
				t.Errorf("job %d after the revoke: %s %q, want dropped", j.ID, j.Status, j.Reason)
			}
		}
	}
	wd, wf := withdraws[delivered.PushID], withdraws[inFlight.PushID]
	if len(withdraws) != 2 || wd.Status != push.JobPending || wf.Status != push.JobPending {
		t.Fatalf("withdraws %+v, want one to each device the push may have reached", withdraws)
	}
	if !wd.NotBefore.Equal(at.Truncate(time.Millisecond)) || !wf.NotBefore.Equal(lease.Truncate(time.Millisecond)) {
		t.Errorf("withdraws not before %v and %v, want now %v and the claim's lease end %v", wd.NotBefore, wf.NotBefore, at, lease)
	}
	if c := wd.PushConfig; c.Title != "Alice" || c.Content != "revoked" {
		t.Errorf("withdraw config %+v, want the push's title with the revoke's content", c)
	}
	if !wd.Remove || !wf.Remove {
		t.Errorf("withdraws of a notification's push not marked remove: %v %v", wd.Remove, wf.Remove)
	}
	got, err := rs.MessageByID(ctx, "a1", m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Text != "" || got.SearchedContent != "" || got.PushConfig != nil || got.Revoke == nil || got.Revoke.By != "alice" ||
		got.Revoke.ExtendedData != "x" || got.Seq != 1 || got.Type != 1 {
		t.Fatalf("revoked message %+v (%+v)", got, got.Revoke)
	}
	// No push of the revoked message is planned later.
	e.device("bob", "t4", true)
	if n, err := rs.PlanPushOnce(ctx, "a1", "bob", []im.PushPlan{{MessageID: m.ID, PushConfig: push.Content{Title: "Alice"}}}, at); err != nil || n != 0 {
		t.Fatalf("late push of a revoked message: %d jobs, %v", n, err)
	}
	if _, err := rs.RevokeMessage(ctx, rev); !errors.Is(err, im.ErrConflict) {
		t.Fatalf("second revoke: %v, want ErrConflict", err)
	}
	rev.MessageID = 99
	if _, err := rs.RevokeMessage(ctx, rev); !errors.Is(err, im.ErrNotFound) {
		t.Fatalf("revoke of no message: %v, want ErrNotFound", err)
	}
	testRevokeDataPush(t, e, rs, at.Add(2*time.Minute))
}

// testRevokeDataPush: the withdraw of a message pushed as a data push (no
// title, no content) is not marked remove: a vendor's revoke could not
// reach what the app showed itself, so the replacement goes.
func testRevokeDataPush(t *testing.T, e *pushEnv, rs revokeStore, at time.Time) {
	ctx := t.Context()
	m := &im.Message{AppID: "a1", ID: 7_000_002, ConvID: im.PeerConvID("alice", "bob"), Sender: "alice", Recipient: "bob",
		Type: 1, Text: "quiet", Priority: 2, CreatedAt: at,
		PushConfig: &push.Content{Payload: "p"}, PushUsers: []string{"bob"}}
	if _, err := e.s.AppendMessages(ctx, []*im.Message{m}); err != nil {
		t.Fatal(err)
	}
	claimed, err := e.s.ClaimJobs(ctx, push.VendorFCM, at, 100, "a", at.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	var fin []push.Finish
	for _, j := range claimed {
		if j.MessageID == m.ID && j.Kind == "" {
			fin = append(fin, push.Finish{Attempt: push.Attempt{JobID: j.ID, At: at, Outcome: "delivered", Status: 200},
				Attempts: 1, Status: push.JobDelivered, NotBefore: at, Reason: "v", Owner: "a"})
		}
	}
	if len(fin) == 0 {
		t.Fatalf("no push of the data message claimed among %d", len(claimed))
	}
	if err := e.s.FinishAttempts(ctx, fin); err != nil {
		t.Fatal(err)
	}
	w := push.Intent{AppID: "a1", Source: push.Source{Kind: push.SourceMessageWithdraw, MessageID: m.ID},
		Content: push.Content{Content: "revoked"}, ExpiresAt: at.Add(time.Hour), Replaces: &push.Replaced{RingConfig: true}}
	if _, err := rs.RevokeMessage(ctx, im.Revoke{AppID: "a1", MessageID: m.ID, Rev: im.Revocation{At: at, By: "alice"}, Withdraw: w}); err != nil {
		t.Fatal(err)
	}
	jobs, _, err := e.s.Trace(ctx, push.TraceFilter{AppID: "a1", MessageID: m.ID, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, j := range jobs {
		if j.Kind != push.JobMessageWithdraw {
			continue
		}
		n++
		if j.Remove || j.PushConfig.Content != "revoked" || j.PushConfig.Payload != "p" {
			t.Errorf("withdraw of a data push %+v (remove %v), want the replacement, not marked remove", j.PushConfig, j.Remove)
		}
	}
	if n != len(fin) {
		t.Errorf("%d withdraws, want %d", n, len(fin))
	}
}
