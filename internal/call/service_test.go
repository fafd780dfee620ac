package call_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/heraldim/herald/internal/call"
	"github.com/heraldim/herald/internal/gateway"
	"github.com/heraldim/herald/internal/im"
	"github.com/heraldim/herald/internal/protocol"
	"github.com/heraldim/herald/internal/push"
	"github.com/heraldim/herald/internal/store/sqlstore"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// hub is a fake session registry recording events.
type hub struct {
	mu     sync.Mutex
	online map[string]bool
	// leaving users answer Online once more, then are offline: their
	// session ends while the service looks.
	leaving map[string]bool
	events  []event
}

type event struct {
	user, typ string
	v         any
}

func (h *hub) Online(_, user string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	on := h.online[user]
	if h.leaving[user] {
		delete(h.leaving, user)
		h.online[user] = false
	}
	return on
}

func (h *hub) SendEvent(_, user, typ string, v any) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.events = append(h.events, event{user, typ, v})
}

func (h *hub) take() []event {
	h.mu.Lock()
	defer h.mu.Unlock()
	e := h.events
	h.events = nil
	return e
}

// failing makes SaveCall fail when fail is set.
type failing struct {
	call.Store
	fail bool
}

func (f *failing) SaveCall(ctx context.Context, ch call.Change) error {
	if f.fail {
		return errors.New("disk on fire")
	}
	return f.Store.SaveCall(ctx, ch)
}

type rig struct {
	st  *sqlstore.Store
	fs  *failing
	hub *hub
	svc *call.Service
}

func newRig(t *testing.T, path string, online ...string) *rig {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), "h.db")
	}
	st, err := sqlstore.Open(t.Context(), sqlstore.Config{Path: path}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	err = st.CreateApp(t.Context(), im.App{ID: "app", Name: "app", CreatedAt: time.Now()})
	if err != nil && !errors.Is(err, im.ErrConflict) {
		t.Fatal(err)
	}
	for _, u := range []string{"alice", "bob", "carol"} {
		if err := st.RecordUser(t.Context(), "app", u); err != nil {
			t.Fatal(err)
		}
	}
	r := &rig{st: st, fs: &failing{Store: st}, hub: &hub{online: map[string]bool{}}}
	for _, u := range online {
		r.hub.online[u] = true
	}
	r.svc, err = call.New(r.fs, gateway.CallHub(r.hub), call.Config{}, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.svc.Load(t.Context()); err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *rig) run(t *testing.T) func() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = r.svc.Run(ctx); close(done) }()
	return func() { cancel(); <-done }
}

func (r *rig) invite(t *testing.T, timeout int, invitees ...string) call.Invited {
	t.Helper()
	rep, err := r.svc.Invite(t.Context(), "app", "alice", call.Invitation{Invitees: invitees, Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func code(err error) protocol.Code {
	var pe *protocol.Error
	if errors.As(gateway.WireCallError(err), &pe) {
		return pe.Code
	}
	return 0
}

// TestCallGate: the gate rings an invitee until it answers, and never for
// others.
func TestCallGate(t *testing.T) {
	r := newRig(t, "")
	rep := r.invite(t, 60, "bob", "carol")
	if !r.svc.Ringing("app", rep.CallID, "bob") || r.svc.Ringing("app", rep.CallID, "alice") ||
		r.svc.Ringing("app", "other", "bob") || r.svc.Ringing("other", rep.CallID, "bob") {
		t.Fatal("gate wrong after the invitation")
	}
	if _, err := r.svc.Reject(t.Context(), "app", "bob", call.Action{CallID: rep.CallID}); err != nil {
		t.Fatal(err)
	}
	if r.svc.Ringing("app", rep.CallID, "bob") || !r.svc.Ringing("app", rep.CallID, "carol") {
		t.Fatal("gate wrong after the answer")
	}
	if _, err := r.svc.Cancel(t.Context(), "app", "alice", call.Cancellation{CallID: rep.CallID}); err != nil {
		t.Fatal(err)
	}
	if r.svc.Ringing("app", rep.CallID, "carol") {
		t.Fatal("gate rings after the cancel")
	}
}

// TestCallStoreFailureChangesNothing: a change the store refuses leaves the
// call, the gate and the sessions as they were.
func TestCallStoreFailureChangesNothing(t *testing.T) {
	r := newRig(t, "", "bob")
	rep := r.invite(t, 60, "bob")
	r.hub.take()
	r.fs.fail = true
	if _, err := r.svc.Accept(t.Context(), "app", "bob", call.Action{CallID: rep.CallID}); err == nil || code(err) != 0 {
		t.Fatalf("accept with a failing store: %v", err)
	}
	if _, err := r.svc.Invite(t.Context(), "app", "alice", call.Invitation{Invitees: []string{"carol"}}); err == nil {
		t.Fatal("invite with a failing store succeeded")
	}
	if !r.svc.Ringing("app", rep.CallID, "bob") || r.svc.Ringing("app", rep.CallID, "carol") {
		t.Fatal("gate changed")
	}
	if ev := r.hub.take(); len(ev) != 0 {
		t.Fatalf("events %+v", ev)
	}
	r.fs.fail = false
	if _, err := r.svc.Accept(t.Context(), "app", "bob", call.Action{CallID: rep.CallID}); err != nil {
		t.Fatalf("accept after the store recovered: %v", err)
	}
}

// TestCallDeadlinesAcrossRestart: a new service on the same store times out
// the invitations left open, at once when their deadline passed.
func TestCallDeadlinesAcrossRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h.db")
	r1 := newRig(t, path)
	past := r1.invite(t, 1, "bob")
	later := r1.invite(t, 2, "carol")
	time.Sleep(time.Until(past.Deadline) + 50*time.Millisecond)
	r1.st.Close()

	r2 := newRig(t, path)
	if r2.svc.Ringing("app", past.CallID, "bob") || !r2.svc.Ringing("app", later.CallID, "carol") {
		t.Fatal("gate after the restart")
	}
	defer r2.run(t)()
	waitTimeout := func(user, id string, deadline time.Time) {
		t.Helper()
		for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
			for _, e := range r2.hub.take() {
				if e.user == user && e.typ == protocol.EventCallInvitationTimeout {
					if late := time.Since(deadline); late > time.Second {
						t.Fatalf("%s timed out %s late", user, late)
					}
					return
				}
			}
		}
		t.Fatalf("%s never timed out", user)
	}
	waitTimeout("bob", past.CallID, past.Deadline)
	waitTimeout("carol", later.CallID, later.Deadline)
	rec, err := r2.st.Call(t.Context(), "app", later.CallID)
	if err != nil || rec.ClosedAt.IsZero() || rec.Users[1].State != protocol.CallTimeout {
		t.Fatalf("call %+v, %v", rec, err)
	}
}

// TestCallLoggedInTimeLeft: a login rings with the seconds left rounded up
// and marks the invitation received; after the cancel nothing rings.
func TestCallLoggedInTimeLeft(t *testing.T) {
	r := newRig(t, "")
	rep := r.invite(t, 3, "bob")
	time.Sleep(300 * time.Millisecond)
	var got []protocol.CallInvitationReceived
	r.svc.LoggedIn(t.Context(), "app", "bob", func(ev call.Event) {
		if typ, v := gateway.WireCallEvent(ev); typ == protocol.EventCallInvitationReceived {
			got = append(got, v.(protocol.CallInvitationReceived))
		}
	})
	if len(got) != 1 || got[0].Timeout != 3 || got[0].CallID != rep.CallID {
		t.Fatalf("rings %+v", got)
	}
	rec, _ := r.st.Call(t.Context(), "app", rep.CallID)
	if rec.Users[1].State != protocol.CallReceived {
		t.Fatalf("state %+v", rec.Users[1])
	}
	if _, err := r.svc.Cancel(t.Context(), "app", "alice", call.Cancellation{CallID: rep.CallID}); err != nil {
		t.Fatal(err)
	}
	r.svc.LoggedIn(t.Context(), "app", "bob", func(ev call.Event) { t.Fatalf("rang %T after the cancel", ev) })
}

// TestClaimRing: a claim passes while the invitee rings and fails once it
// answered, for that invitee only; claiming never rings a stranger.
func TestClaimRing(t *testing.T) {
	r := newRig(t, "")
	rep := r.invite(t, 60, "bob", "carol")
	job := func(user string) push.Job {
		return push.Job{ID: 7, AppID: "app", CallID: rep.CallID, UserID: user, Kind: push.JobCallInvite}
	}
	if !r.svc.ClaimRing(job("bob")) || !r.svc.ClaimRing(job("carol")) || r.svc.ClaimRing(job("alice")) ||
		r.svc.ClaimRing(push.Job{AppID: "app", CallID: "other", UserID: "bob"}) {
		t.Fatal("claims wrong while ringing")
	}
	if _, err := r.svc.Accept(t.Context(), "app", "bob", call.Action{CallID: rep.CallID}); err != nil {
		t.Fatal(err)
	}
	if r.svc.ClaimRing(job("bob")) || !r.svc.ClaimRing(job("carol")) {
		t.Fatal("claims wrong after bob's answer")
	}
}

// TestCallReset: a reset drops the open calls from memory (the gate
// closes, nothing times out) and a Load brings them back from the store,
// as a node that stops and then starts leading the calls of a cluster.
func TestCallReset(t *testing.T) {
	r := newRig(t, "")
	rep := r.invite(t, 60, "bob")
	r.svc.Reset()
	if r.svc.Ringing("app", rep.CallID, "bob") {
		t.Fatal("the gate rings after a reset")
	}
	if _, err := r.svc.Accept(t.Context(), "app", "bob", call.Action{CallID: rep.CallID}); code(err) != protocol.CodeCallEnded {
		// In the store but not in memory: not this node's to change.
		t.Fatalf("accept after a reset: %v", err)
	}
	r.svc.Reset()
	if err := r.svc.Load(t.Context()); err != nil {
		t.Fatal(err)
	}
	if !r.svc.Ringing("app", rep.CallID, "bob") {
		t.Fatal("the gate does not ring after the load")
	}
	if _, err := r.svc.Accept(t.Context(), "app", "bob", call.Action{CallID: rep.CallID}); err != nil {
		t.Fatal(err)
	}
	r.svc.Reset()
	if err := r.svc.Load(t.Context()); err != nil {
		t.Fatal(err)
	}
	if r.svc.Ringing("app", rep.CallID, "bob") {
		t.Fatal("an answered invitation rings after a reload")
	}
}
