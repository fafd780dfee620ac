package storetest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/heraldim/herald/internal/call"
	"github.com/heraldim/herald/internal/im"
	"github.com/heraldim/herald/internal/protocol"
	"github.com/heraldim/herald/internal/push"
)

// CallStore is what the call contract needs of a store: the call store,
// plus apps, users and devices to set the scene, and the push trace to see
// the planned jobs.
type CallStore interface {
	call.Store
	push.Store
	// DueJobs is PushStore's.
	DueJobs(ctx context.Context, v push.Vendor, now time.Time, limit int) ([]push.Job, error)
	CreateApp(ctx context.Context, a im.App) error
	RecordUser(ctx context.Context, appID, userID string) error
	Close() error
}

// CallOpener opens the call store whose data lives under dir, as Opener.
type CallOpener func(t *testing.T, dir string) CallStore

// RunCalls runs the call store contract against the stores open returns.
func RunCalls(t *testing.T, open CallOpener) {
	tests := []struct {
		name string
		fn   func(t *testing.T, e *callEnv)
	}{
		{"CreateAndRead", testCallCreateAndRead},
		{"UpdateAndClose", testCallUpdateAndClose},
		{"Refusals", testCallRefusals},
		{"Pushes", testCallPushes},
		{"RingOnce", testCallRingOnce},
		{"UnknownUsers", testCallUnknownUsers},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := &callEnv{t: t, open: open, dir: t.TempDir()}
			e.s = open(t, e.dir)
			t.Cleanup(func() {
				if e.s != nil {
					if err := e.s.Close(); err != nil {
						t.Errorf("Close: %v", err)
					}
				}
			})
			for _, id := range []string{"a1", "a2"} {
				if err := e.s.CreateApp(t.Context(), im.App{ID: id, Name: id, Secret: "s", AdminKey: "k-" + id, CreatedAt: base}); err != nil {
					t.Fatal(err)
				}
			}
			tt.fn(t, e)
		})
	}
}

type callEnv struct {
	t    *testing.T
	open CallOpener
	dir  string
	s    CallStore
}

func (e *callEnv) reopen() {
	e.t.Helper()
	err := e.s.Close()
	e.s = nil
	if err != nil {
		e.t.Fatalf("Close: %v", err)
	}
	e.s = e.open(e.t, e.dir)
}

func (e *callEnv) save(ch call.Change) {
	e.t.Helper()
	if err := e.s.SaveCall(e.t.Context(), ch); err != nil {
		e.t.Fatalf("SaveCall: %v", err)
	}
}

func (e *callEnv) get(app, id string) call.Record {
	e.t.Helper()
	r, err := e.s.Call(e.t.Context(), app, id)
	if err != nil {
		e.t.Fatalf("Call(%s, %s): %v", app, id, err)
	}
	return r
}

// newCall is a call by alice to invitees ringing until base + 1 min.
func newCall(app, id string, invitees ...string) call.Change {
	dl := base.Add(time.Minute)
	r := &call.Record{AppID: app, CallID: id, Inviter: "alice", Mode: protocol.CallModeGeneral, ExtendedData: "x",
		CreatedAt: base, Deadline: dl, Users: []call.User{{UserID: "alice", State: protocol.CallAccepted, UpdatedAt: base}}}
	for _, u := range invitees {
		r.Users = append(r.Users, call.User{UserID: u, State: protocol.CallInviting, InvitedBy: "alice", Deadline: dl, UpdatedAt: base})
	}
	return call.Change{AppID: app, CallID: id, New: r, Now: base}
}

func userIDs(us []call.User) []string {
	var out []string
	for _, u := range us {
		out = append(out, u.UserID)
	}
	return out
}

func testCallCreateAndRead(t *testing.T, e *callEnv) {
	ch := newCall("a1", "c1", "bob", "carol")
	e.save(ch)
	e.save(newCall("a2", "c1", "dave"))
	e.reopen()
	got := e.get("a1", "c1")
	want := *ch.New
	if got.Inviter != want.Inviter || got.Mode != want.Mode || got.ExtendedData != want.ExtendedData ||
		!got.CreatedAt.Equal(want.CreatedAt) || !got.Deadline.Equal(want.Deadline) || !got.ClosedAt.IsZero() {
		t.Fatalf("Call = %+v, want %+v", got, want)
	}
	if !slices.Equal(userIDs(got.Users), []string{"alice", "bob", "carol"}) {
		t.Fatalf("users %+v", got.Users)
	}
	if u := got.Users[1]; u.State != protocol.CallInviting || u.InvitedBy != "alice" || !u.Deadline.Equal(want.Deadline) {
		t.Fatalf("bob %+v", u)
	}
	if got.Users[0].Deadline != (time.Time{}) {
		t.Fatalf("the inviter has a deadline: %+v", got.Users[0])
	}
	if other := e.get("a2", "c1"); !slices.Equal(userIDs(other.Users), []string{"alice", "dave"}) {
		t.Fatalf("apps mixed: %+v", other.Users)
	}
	open, err := e.s.OpenCalls(t.Context())
	if err != nil || len(open) != 2 {
		t.Fatalf("OpenCalls = %d calls, %v", len(open), err)
	}
	if _, err := e.s.Call(t.Context(), "a1", "nope"); !errors.Is(err, call.ErrNotFound) {
		t.Fatalf("unknown call: %v", err)
	}
}

func testCallUpdateAndClose(t *testing.T, e *callEnv) {
	e.save(newCall("a1", "c1", "bob", "carol"))
	at := base.Add(time.Second)
	e.save(call.Change{AppID: "a1", CallID: "c1", Now: at, Users: []call.User{
		{UserID: "bob", State: protocol.CallAccepted, InvitedBy: "alice", ExtendedData: "yes", UpdatedAt: at},
		{UserID: "erin", State: protocol.CallInviting, InvitedBy: "bob", Deadline: at.Add(time.Minute), UpdatedAt: at},
	}})
	got := e.get("a1", "c1")
	if !slices.Equal(userIDs(got.Users), []string{"alice", "bob", "carol", "erin"}) {
		t.Fatalf("users %+v", got.Users)
	}
	if b := got.Users[1]; b.State != protocol.CallAccepted || b.ExtendedData != "yes" || !b.UpdatedAt.Equal(at) {
		t.Fatalf("bob %+v", b)
	}
	e.save(call.Change{AppID: "a1", CallID: "c1", Now: at, ClosedAt: at})
	e.reopen()
	if got := e.get("a1", "c1"); !got.ClosedAt.Equal(at) {
		t.Fatalf("closed at %v", got.ClosedAt)
	}
	if open, err := e.s.OpenCalls(t.Context()); err != nil || len(open) != 0 {
		t.Fatalf("OpenCalls after the close: %+v, %v", open, err)
	}
}

func testCallRefusals(t *testing.T, e *callEnv) {
	e.save(newCall("a1", "c1", "bob"))
	if err := e.s.SaveCall(t.Context(), newCall("a1", "c1", "carol")); !errors.Is(err, im.ErrConflict) {
		t.Fatalf("the same call twice: %v", err)
	}
	if got := e.get("a1", "c1"); !slices.Equal(userIDs(got.Users), []string{"alice", "bob"}) {
		t.Fatalf("a refused change changed the call: %+v", got.Users)
	}
	err := e.s.SaveCall(t.Context(), call.Change{AppID: "a1", CallID: "nope", Now: base,
		Users: []call.User{{UserID: "bob", State: protocol.CallAccepted, UpdatedAt: base}}})
	if !errors.Is(err, call.ErrNotFound) {
		t.Fatalf("change of an unknown call: %v", err)
	}
	if err := e.s.SaveCall(t.Context(), newCall("nosuchapp", "c1", "bob")); err == nil {
		t.Fatal("a call of an unknown app was stored")
	}
}

func testCallPushes(t *testing.T, e *callEnv) {
	ctx := t.Context()
	dev := func(user, tok string, enabled bool) {
		d := push.Device{AppID: "a1", PushID: push.NewPushID("a1", push.VendorAPNs, push.Production, tok), Vendor: push.VendorAPNs,
			Token: tok, Environment: push.Production, BundleID: "b", UserID: user, Enabled: enabled}
		if err := e.s.RegisterDevice(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	dev("bob", "t1", true)
	dev("bob", "t2", true)
	dev("bob", "t3", false)
	dev("carol", "t4", true)
	dl := base.Add(time.Minute)
	content := push.Content{Title: "A"}
	ring := func(u string) call.Push {
		return call.Push{UserID: u, Kind: push.JobCallInvite, Config: content, ExpiresAt: dl}
	}
	ch := newCall("a1", "c1", "bob", "carol")
	ch.Pushes = []call.Push{ring("bob"), ring("carol")}
	e.save(ch)
	ch2 := newCall("a1", "c2", "bob")
	ch2.Pushes = []call.Push{ring("bob")}
	e.save(ch2)
	jobs := func(user string) []push.Job {
		js, _, err := e.s.Trace(ctx, push.TraceFilter{AppID: "a1", UserID: user})
		if err != nil {
			t.Fatal(err)
		}
		return js
	}
	if js := jobs("bob"); len(js) != 4 {
		t.Fatalf("bob's jobs: %+v (want one per enabled device per call)", js)
	}
	for _, j := range jobs("carol") {
		if j.Kind != push.JobCallInvite || j.CallID != "c1" || !j.ExpiresAt.Equal(dl) || j.Status != push.JobPending || j.PushConfig != content {
			t.Fatalf("job %+v", j)
		}
	}
	// Bob answers c1 and carol is cancelled with a cancel push: their c1
	// rings stop; bob's c2 rings stay.
	at := base.Add(time.Second)
	e.save(call.Change{AppID: "a1", CallID: "c1", Now: at, StopRinging: []string{"bob", "carol"}, DropReason: "answered",
		Users:  []call.User{{UserID: "bob", State: protocol.CallAccepted, UpdatedAt: at}, {UserID: "carol", State: protocol.CallCancelled, UpdatedAt: at}},
		Pushes: []call.Push{{UserID: "carol", Kind: push.JobCallCancel, Config: content, ExpiresAt: at.Add(time.Hour)}}})
	for _, j := range jobs("bob") {
		want := push.JobDropped
		if j.CallID == "c2" {
			want = push.JobPending
		}
		if j.Status != want || (want == push.JobDropped && j.Reason != "answered") {
			t.Fatalf("bob's job %+v", j)
		}
	}
	var kinds []push.JobKind
	for _, j := range jobs("carol") {
		kinds = append(kinds, j.Kind)
		if j.Kind == push.JobCallCancel && j.Status != push.JobPending {
			t.Fatalf("cancel job %+v", j)
		}
	}
	if !slices.Equal(kinds, []push.JobKind{push.JobCallCancel, push.JobCallInvite}) {
		t.Fatalf("carol's job kinds %v", kinds)
	}
	var due []push.Job
	for _, v := range push.Vendors {
		vd, err := e.s.DueJobs(ctx, v, at.Add(time.Hour*48), 100)
		if err != nil {
			t.Fatal(err)
		}
		due = append(due, vd...)
	}
	for _, j := range due {
		if j.CallID == "c1" && j.Kind == push.JobCallInvite {
			t.Fatalf("a stopped ring is due: %+v", j)
		}
	}
}

// testCallRingOnce: a user's ring push config is stored with the user and
// survives its state changes; a Once ring goes only to the enabled devices
// that have no ring job of the call yet, whatever that job's status.
func testCallRingOnce(t *testing.T, e *callEnv) {
	ctx := t.Context()
	dev := func(user, tok string) {
		d := push.Device{AppID: "a1", PushID: push.NewPushID("a1", push.VendorAPNs, push.Production, tok), Vendor: push.VendorAPNs,
			Token: tok, Environment: push.Production, BundleID: "b", UserID: user, Enabled: true}
		if err := e.s.RegisterDevice(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	dev("bob", "t1")
	cfg := push.Content{Title: "A", Content: "ring"}
	ch := newCall("a1", "c1", "bob", "carol")
	ch.New.Users[1].PushConfig = &cfg
	dl := ch.New.Users[1].Deadline
	ring := call.Push{UserID: "bob", Kind: push.JobCallInvite, Config: cfg, ExpiresAt: dl}
	ch.Pushes = []call.Push{ring}
	e.save(ch)
	at := base.Add(time.Second)
	bob := e.get("a1", "c1").Users[1]
	if bob.PushConfig == nil || *bob.PushConfig != cfg || e.get("a1", "c1").Users[2].PushConfig != nil || e.get("a1", "c1").Users[0].PushConfig != nil {
		t.Fatalf("push configs %+v", e.get("a1", "c1").Users)
	}
	bob.State, bob.UpdatedAt = protocol.CallReceived, at
	e.save(call.Change{AppID: "a1", CallID: "c1", Now: at, Users: []call.User{bob}})
	e.reopen()
	if got := e.get("a1", "c1").Users[1]; got.State != protocol.CallReceived || got.PushConfig == nil || *got.PushConfig != cfg {
		t.Fatalf("bob after a change %+v", got)
	}
	// The ring of t1 is dropped; a second device is bound since.
	e.save(call.Change{AppID: "a1", CallID: "c1", Now: at, StopRinging: []string{"bob"}, DropReason: "test"})
	dev("bob", "t2")
	once := ring
	once.Once = true
	e.save(call.Change{AppID: "a1", CallID: "c1", Now: at, Pushes: []call.Push{once}})
	e.save(call.Change{AppID: "a1", CallID: "c1", Now: at, Pushes: []call.Push{once}})
	js, _, err := e.s.Trace(ctx, push.TraceFilter{AppID: "a1", UserID: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	per := map[string]int{}
	for _, j := range js {
		per[j.PushID]++
	}
	if len(js) != 2 || len(per) != 2 {
		t.Fatalf("bob's jobs %+v: want one ring per device", js)
	}
}

func testCallUnknownUsers(t *testing.T, e *callEnv) {
	if err := e.s.RecordUser(t.Context(), "a1", "bob"); err != nil {
		t.Fatal(err)
	}
	got, err := e.s.UnknownUsers(t.Context(), "a1", []string{"zed", "bob", "amy"})
	if err != nil || !slices.Equal(got, []string{"zed", "amy"}) {
		t.Fatalf("UnknownUsers = %v, %v", got, err)
	}
	if got, _ := e.s.UnknownUsers(t.Context(), "a2", []string{"bob"}); !slices.Equal(got, []string{"bob"}) {
		t.Fatalf("users leak between apps: %v", got)
	}
}
