package bus

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/heraldim/herald/internal/call"
	"github.com/heraldim/herald/internal/push"
)

// fakeCalls is a call service that records what reached it.
type fakeCalls struct {
	mu      sync.Mutex
	ops     []string
	ended   chan string
	ringing bool
	claims  []push.Job
}

func newFakeCalls() *fakeCalls { return &fakeCalls{ended: make(chan string, 8), ringing: true} }

func (f *fakeCalls) saw(op string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ops = append(f.ops, op)
}

var deadlineAt = time.UnixMilli(1_700_000_000_000).UTC()

func (f *fakeCalls) Invite(_ context.Context, appID, inviter string, r call.Invitation) (call.Invited, error) {
	f.saw("invite " + appID + " " + inviter)
	if len(r.Invitees) == 0 {
		return call.Invited{}, &call.Error{Code: call.CodeUserNotFound, Message: "nobody"}
	}
	if r.Invitees[0] == "boom" {
		return call.Invited{}, errors.New("disk on fire")
	}
	return call.Invited{CallID: "c1", Timeout: r.Timeout, Deadline: deadlineAt,
		ErrorInvitees: []call.ErrorUser{{UserID: "x", Code: call.CodeUserNotFound}}}, nil
}

func (f *fakeCalls) CallingInvite(context.Context, string, string, call.MoreInvitees) (call.Invited, error) {
	return call.Invited{}, nil
}
func (f *fakeCalls) Accept(_ context.Context, _, userID string, r call.Action) (call.Outcome, error) {
	f.saw("accept " + userID + " " + r.CallID)
	return call.Outcome{CallID: r.CallID}, nil
}
func (f *fakeCalls) Reject(_ context.Context, _, _ string, r call.Action) (call.Outcome, error) {
	return call.Outcome{}, &call.Error{Code: call.CodeAnswered}
}
func (f *fakeCalls) Cancel(context.Context, string, string, call.Cancellation) (call.Outcome, error) {
	return call.Outcome{}, nil
}
func (f *fakeCalls) Join(context.Context, string, string, call.Action) (call.Record, error) {
	return call.Record{}, nil
}
func (f *fakeCalls) Quit(context.Context, string, string, call.Action) (call.Outcome, error) {
	return call.Outcome{}, nil
}
func (f *fakeCalls) End(context.Context, string, string, call.Action) (call.Outcome, error) {
	return call.Outcome{}, nil
}
func (f *fakeCalls) Info(_ context.Context, appID, _, callID string) (call.Record, error) {
	return call.Record{AppID: appID, CallID: callID, Deadline: deadlineAt, Users: []call.User{{UserID: "u", State: 2}}}, nil
}
func (f *fakeCalls) LoggedIn(_ context.Context, _, userID string, deliver func(call.Event)) {
	deliver(call.InvitationReceived{CallID: "c1", Inviter: "a", Timeout: 30, Deadline: deadlineAt,
		Users: []call.User{{UserID: userID, State: 4, PushConfig: &push.Content{Title: "t"}}}})
	deliver(call.UserStateChanged{CallID: "c1"})
}
func (f *fakeCalls) SessionEnded(appID, userID string) { f.ended <- appID + "/" + userID }
func (f *fakeCalls) Ringing(appID, callID, userID string) bool {
	f.saw("ringing " + callID + " " + userID)
	return f.ringing
}
func (f *fakeCalls) ClaimRing(j push.Job) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.claims = append(f.claims, j)
	return f.ringing
}

var _ CallService = (*fakeCalls)(nil)

// serving runs Serve on node 0's Calls with svc until the test ends.
func serving(t *testing.T, leader *Calls, svc CallService) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- leader.Serve(ctx, svc) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	waitUntil(t, "the leader serves", func() bool { return leader.cur.Load() != nil })
}

func waitUntil(t *testing.T, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestCallsForwardedToTheLeader(t *testing.T) {
	c := newCluster(t, natsURL(t), 2, nil)
	leader, other := NewCalls(c.nodes[0], CallsConfig{}), NewCalls(c.nodes[1], CallsConfig{})
	svc := newFakeCalls()
	serving(t, leader, svc)
	ctx := t.Context()

	got, err := other.Invite(ctx, "app", "alice", call.Invitation{Invitees: []string{"bob"}, Timeout: 30})
	if err != nil {
		t.Fatal(err)
	}
	if got.CallID != "c1" || got.Timeout != 30 || !got.Deadline.Equal(deadlineAt) ||
		len(got.ErrorInvitees) != 1 || got.ErrorInvitees[0].Code != call.CodeUserNotFound {
		t.Fatalf("Invite = %+v", got)
	}
	// A refusal keeps its code and message across the hop.
	_, err = other.Invite(ctx, "app", "alice", call.Invitation{})
	var ce *call.Error
	if !errors.As(err, &ce) || ce.Code != call.CodeUserNotFound || ce.Message != "nobody" {
		t.Fatalf("Invite refused: err = %v, want user not found: nobody", err)
	}
	if _, err := other.Reject(ctx, "app", "bob", call.Action{CallID: "c1"}); !errors.As(err, &ce) || ce.Code != call.CodeAnswered || ce.Message != "" {
		t.Fatalf("Reject: err = %v, want answered", err)
	}
	// An internal failure is no refusal.
	_, err = other.Invite(ctx, "app", "alice", call.Invitation{Invitees: []string{"boom"}})
	if !errors.Is(err, ErrCallLeader) || errors.As(err, &ce) {
		t.Fatalf("Invite failing: err = %v, want ErrCallLeader", err)
	}
	rec, err := other.Info(ctx, "app", "bob", "c9")
	if err != nil || rec.CallID != "c9" || !rec.Deadline.Equal(deadlineAt) || len(rec.Users) != 1 || !rec.ClosedAt.IsZero() {
		t.Fatalf("Info = %+v, %v", rec, err)
	}
	// LoggedIn: the leader's events are delivered here, typed.
	var evs []call.Event
	other.LoggedIn(ctx, "app", "bob", func(ev call.Event) { evs = append(evs, ev) })
	if len(evs) != 2 {
		t.Fatalf("LoggedIn delivered %d events, want 2", len(evs))
	}
	r, ok := evs[0].(call.InvitationReceived)
	if !ok || r.CallID != "c1" || r.Timeout != 30 || !r.Deadline.Equal(deadlineAt) || r.Users[0].PushConfig == nil || r.Users[0].PushConfig.Title != "t" {
		t.Fatalf("first event %#v", evs[0])
	}
	if _, ok := evs[1].(call.UserStateChanged); !ok {
		t.Fatalf("second event %#v", evs[1])
	}
	// SessionEnded reaches the leader without a reply.
	other.SessionEnded("app", "bob")
	select {
	case got := <-svc.ended:
		if got != "app/bob" {
			t.Fatalf("SessionEnded reached the leader as %q", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("SessionEnded did not reach the leader")
	}
	// The gate.
	if !other.Ringing("app", "c1", "bob") {
		t.Fatal("Ringing = false, want the leader's true")
	}
	if !other.ClaimRing(push.Job{ID: 7, AppID: "app", CallID: "c1", UserID: "bob", Attempts: 2}) {
		t.Fatal("ClaimRing = false, want the leader's true")
	}
	svc.mu.Lock()
	claims := svc.claims
	svc.mu.Unlock()
	if len(claims) != 1 || claims[0].ID != 7 || claims[0].Attempts != 2 || claims[0].CallID != "c1" || claims[0].UserID != "bob" || claims[0].AppID != "app" {
		t.Fatalf("claims at the leader: %+v", claims)
	}
	// On the leader, in process.
	if _, err := leader.Accept(ctx, "app", "bob", call.Action{CallID: "c1"}); err != nil {
		t.Fatal(err)
	}
}

// With nobody leading, a request fails as unavailable and the gate is
// closed: no ring the leader did not confirm.
func TestCallsWithoutLeader(t *testing.T) {
	c := newCluster(t, natsURL(t), 2, nil)
	other := NewCalls(c.nodes[1], CallsConfig{Timeout: 200 * time.Millisecond, GateTimeout: 200 * time.Millisecond})
	_, err := other.Accept(t.Context(), "app", "bob", call.Action{CallID: "c1"})
	var ce *call.Error
	if !errors.As(err, &ce) || ce.Code != call.CodeUnavailable {
		t.Fatalf("Accept without a leader: err = %v, want unavailable", err)
	}
	if other.Ringing("app", "c1", "bob") || other.ClaimRing(push.Job{ID: 1, AppID: "app", CallID: "c1", UserID: "bob"}) {
		t.Fatal("the gate let a ring through without a leader")
	}
	delivered := 0
	other.LoggedIn(t.Context(), "app", "bob", func(call.Event) { delivered++ })
	if delivered != 0 {
		t.Fatalf("LoggedIn without a leader delivered %d events", delivered)
	}
	other.SessionEnded("app", "bob") // must not block

	// Once a leader serves, the same requests go through; when it stops,
	// they are unavailable again.
	leader := NewCalls(c.nodes[0], CallsConfig{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- leader.Serve(ctx, newFakeCalls()) }()
	waitUntil(t, "the leader serves", func() bool { return leader.cur.Load() != nil })
	if _, err := other.Accept(t.Context(), "app", "bob", call.Action{CallID: "c1"}); err != nil {
		t.Fatalf("Accept with a leader: %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := leader.Accept(t.Context(), "app", "bob", call.Action{CallID: "c1"}); !errors.As(err, &ce) || ce.Code != call.CodeUnavailable {
		t.Fatalf("Accept on the former leader: err = %v, want unavailable", err)
	}
}

// A leader's term ends only after the requests in it are answered.
func TestCallsTermWaitsForRequests(t *testing.T) {
	c := newCluster(t, natsURL(t), 1, nil)
	leader := NewCalls(c.nodes[0], CallsConfig{})
	svc := &blockingCalls{fakeCalls: newFakeCalls(), in: make(chan struct{}), release: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- leader.Serve(ctx, svc) }()
	waitUntil(t, "the leader serves", func() bool { return leader.cur.Load() != nil })
	answered := make(chan error, 1)
	go func() {
		_, err := leader.Accept(context.Background(), "app", "bob", call.Action{CallID: "c1"})
		answered <- err
	}()
	<-svc.in
	cancel()
	select {
	case <-done:
		t.Fatal("Serve returned with a request in flight")
	case <-time.After(50 * time.Millisecond):
	}
	close(svc.release)
	if err := <-answered; err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

type blockingCalls struct {
	*fakeCalls
	in, release chan struct{}
}

func (b *blockingCalls) Accept(ctx context.Context, appID, userID string, r call.Action) (call.Outcome, error) {
	close(b.in)
	<-b.release
	return b.fakeCalls.Accept(ctx, appID, userID, r)
}

func TestCallEventsRoundTrip(t *testing.T) {
	at := time.UnixMilli(1_700_000_123_456).UTC()
	for _, ev := range []call.Event{
		call.InvitationReceived{CallID: "c", Inviter: "a", Mode: 1, Timeout: 9, Deadline: at, ExtendedData: "x", CreatedAt: at,
			Users: []call.User{{UserID: "b", State: 1, InvitedBy: "a", Deadline: at, UpdatedAt: at}}},
		call.UserStateChanged{CallID: "c", Users: []call.User{{UserID: "b", State: 2}}},
		call.InvitationCancelled{CallID: "c", Inviter: "a", Mode: 1, ExtendedData: "x"},
		call.InvitationTimeout{CallID: "c", Mode: 1},
		call.InvitationEnded{CallID: "c", OperatedBy: "a", Mode: 2, ExtendedData: "x", EndedAt: at},
	} {
		e, err := encodeEvent(ev)
		if err != nil {
			t.Fatal(err)
		}
		back, err := decodeEvent(e)
		if err != nil {
			t.Fatal(err)
		}
		if gotE, err := encodeEvent(back); err != nil || string(gotE.Data) != string(e.Data) || gotE.Kind != e.Kind {
			t.Fatalf("%T: round trip %s -> %s", ev, e.Data, gotE.Data)
		}
	}
	if _, err := decodeEvent(callEvent{Kind: "nope"}); err == nil {
		t.Fatal("an unknown kind decoded")
	}
}
