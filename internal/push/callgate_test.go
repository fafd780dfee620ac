package push_test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldim/herald/internal/call"
	"github.com/heraldim/herald/internal/push"
)

// gate answers Ringing from a script: the i-th question gets answers[i]
// (the last answer repeats).
type gate struct {
	answers []bool
	asked   atomic.Int32
}

func (g *gate) Ringing(appID, callID, userID string) bool {
	i := int(g.asked.Add(1)) - 1
	if appID != "app" || callID != "c1" || userID != "bob" {
		return false
	}
	return g.answers[min(i, len(g.answers)-1)]
}

// planRing writes a call ring job for bob, as the call service does.
func (f *fixture) planRing(t *testing.T, deadline time.Time) {
	t.Helper()
	now := *f.clock.Load()
	rec := &call.Record{Inviter: "alice", CreatedAt: now, Deadline: deadline,
		Users: []call.User{{UserID: "alice", State: 1, UpdatedAt: now}, {UserID: "bob", State: 0, InvitedBy: "alice", Deadline: deadline, UpdatedAt: now}}}
	if err := f.store.SaveCall(t.Context(), call.Change{AppID: "app", CallID: "c1", New: rec, Now: now,
		Pushes: []call.Push{{UserID: "bob", Kind: push.JobCallInvite, Config: push.Content{Title: "Alice", Content: "calling"}, ExpiresAt: deadline}}}); err != nil {
		t.Fatal(err)
	}
}

// TestDispatchCallRing: a ring the gate lets through is a VoIP push on a
// device with a VoIP token, high priority, expiring at the deadline, with
// the call ID.
func TestDispatchCallRing(t *testing.T) {
	f := newFixture(t, true)
	f.dev.VoIPToken = "voiptok"
	if err := f.store.RegisterDevice(t.Context(), f.dev); err != nil {
		t.Fatal(err)
	}
	f.disp.SetCallGate(&gate{answers: []bool{true}})
	deadline := f.clock.Load().Add(30 * time.Second).Truncate(time.Millisecond)
	f.planRing(t, deadline)
	defer f.run(t)()
	j, _ := f.waitJob(t, push.JobDelivered)
	n := f.prov.sent[0]
	if j.Kind != push.JobCallInvite || j.CallID != "c1" || n.Kind != push.KindVoIP || n.Token != "voiptok" ||
		n.Priority != push.PriorityHigh || !n.Expiration.Equal(deadline) || n.Extra[push.CallExtraKey] != "c1" {
		t.Fatalf("job %+v notification %+v", j, n)
	}
}

// TestDispatchCallGate: a ring the gate holds back is dropped without a
// vendor call, also when the gate changes its answer between the job's
// read and the vendor call; without a gate rings are dropped.
func TestDispatchCallGate(t *testing.T) {
	for _, tt := range []struct {
		name string
		gate push.CallGate
	}{
		{"not ringing", &gate{answers: []bool{false}}},
		{"answered while building", &gate{answers: []bool{true, false}}},
		{"no gate", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, true)
			if tt.gate != nil {
				f.disp.SetCallGate(tt.gate)
			}
			f.planRing(t, f.clock.Load().Add(time.Minute))
			defer f.run(t)()
			j, attempts := f.waitJob(t, push.JobDropped)
			if f.prov.calls.Load() != 0 || len(attempts) != 1 || j.Reason != "call invitation no longer ringing" {
				t.Fatalf("job %+v attempts %+v, %d vendor calls", j, attempts, f.prov.calls.Load())
			}
		})
	}
}

// TestDispatchCallRingStopped: ring jobs of a user stopped in a call's
// transaction are dropped in the store and never read as due.
func TestDispatchCallRingStopped(t *testing.T) {
	f := newFixture(t, true)
	f.disp.SetCallGate(&gate{answers: []bool{true}})
	f.planRing(t, f.clock.Load().Add(time.Minute))
	if err := f.store.SaveCall(t.Context(), call.Change{AppID: "app", CallID: "c1", Now: *f.clock.Load(),
		Users:       []call.User{{UserID: "bob", State: 1, InvitedBy: "alice", UpdatedAt: *f.clock.Load()}},
		StopRinging: []string{"bob"}, DropReason: "call accepted"}); err != nil {
		t.Fatal(err)
	}
	defer f.run(t)()
	j, _ := f.waitJob(t, push.JobDropped)
	time.Sleep(50 * time.Millisecond)
	if f.prov.calls.Load() != 0 || j.Reason != "call accepted" {
		t.Fatalf("job %+v, %d vendor calls", j, f.prov.calls.Load())
	}
}
