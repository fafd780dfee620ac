package storetest

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldim/herald/internal/im"
	"github.com/heraldim/herald/internal/push"
)

// PushStore is what the push contract needs of a store: the push store
// and its planner, plus apps to set the scene.
type PushStore interface {
	push.Store
	push.Planner
	// DueJobs returns up to limit pending jobs of vendor v whose
	// not_before is at or before now, oldest first, each with its device,
	// leased or not: the suites' view of what planning wrote (the
	// dispatcher claims jobs with ClaimJobs instead).
	DueJobs(ctx context.Context, v push.Vendor, now time.Time, limit int) ([]push.Job, error)
	CreateApp(ctx context.Context, a im.App) error
	// AppendMessages plans the pushes of a batch's messages (PushUsers
	// with PushConfig) in the batch's transaction.
	AppendMessages(ctx context.Context, msgs []*im.Message) ([]im.AppendResult, error)
	Close() error
}

// PushOpener opens the push store whose data lives under dir, as Opener.
type PushOpener func(t *testing.T, dir string) PushStore

// RunPush runs the push store contract against the stores open returns:
// planning each kind of push.Intent, device eligibility (push.Eligible),
// once-per-device, expiry, pending jobs kept across a reopen, and the
// lease-based claim of jobs by several owners (ClaimJobs, FinishAttempts),
// the pushes of a message batch planned together (as each message's
// intent alone would plan them) and batches of finishes.
func RunPush(t *testing.T, open PushOpener) {
	tests := []struct {
		name string
		fn   func(t *testing.T, e *pushEnv)
	}{
		{"Kinds", testPushKinds},
		{"Eligibility", testPushEligibility},
		{"Once", testPushOnce},
		{"OnceConcurrent", testPushOnceConcurrent},
		{"Pages", testPushPages},
		{"Expiry", testPushExpiry},
		{"Reopen", testPushReopen},
		{"Claim", testPushClaim},
		{"BatchPlanning", testPushBatchPlanning},
		{"FinishBatch", testPushFinishBatch},
		{"Revoke", testPushRevoke},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := &pushEnv{t: t, open: open, dir: t.TempDir()}
			e.s = open(t, e.dir)
			t.Cleanup(func() {
				if e.s != nil {
					if err := e.s.Close(); err != nil {
						t.Errorf("Close: %v", err)
					}
				}
			})
			if err := e.s.CreateApp(t.Context(), im.App{ID: "a1", Name: "a1", Secret: "s", AdminKey: "k-a1", CreatedAt: base}); err != nil {
				t.Fatal(err)
			}
			tt.fn(t, e)
		})
	}
}

type pushEnv struct {
	t    *testing.T
	open PushOpener
	dir  string
	s    PushStore
}

func (e *pushEnv) reopen() {
	e.t.Helper()
	err := e.s.Close()
	e.s = nil
	if err != nil {
		e.t.Fatalf("Close: %v", err)
	}
	e.s = e.open(e.t, e.dir)
}

// device registers an FCM device of user ("" unbound) and returns its
// PushID.
func (e *pushEnv) device(user, token string, enabled bool) string {
	e.t.Helper()
	id := push.NewPushID("a1", push.VendorFCM, push.Production, token)
	d := push.Device{AppID: "a1", PushID: id, Vendor: push.VendorFCM, Token: token, Environment: push.Production,
		BundleID: "b", UserID: user, Enabled: enabled}
	if err := e.s.RegisterDevice(e.t.Context(), d); err != nil {
		e.t.Fatal(err)
	}
	return id
}

func (e *pushEnv) plan(in push.Intent) []int64 {
	e.t.Helper()
	in.AppID = "a1"
	ids, err := e.s.PlanIntent(e.t.Context(), in)
	if err != nil {
		e.t.Fatalf("PlanIntent(%+v): %v", in, err)
	}
	return ids
}

// dueAll is up to limit pending FCM jobs due by now + 1 h.
func (e *pushEnv) dueAll(limit int) []push.Job {
	e.t.Helper()
	js, err := e.s.DueJobs(e.t.Context(), push.VendorFCM, time.Now().Add(time.Hour), limit)
	if err != nil {
		e.t.Fatal(err)
	}
	return js
}

// due is every pending FCM job due by base + 1 h, by ID.
func (e *pushEnv) due() []push.Job {
	e.t.Helper()
	js, err := e.s.DueJobs(e.t.Context(), push.VendorFCM, time.Now().Add(time.Hour), 100)
	if err != nil {
		e.t.Fatal(err)
	}
	slices.SortFunc(js, func(a, b push.Job) int { return int(a.ID - b.ID) })
	return js
}

func users(ids ...string) push.Targets { return push.Targets{UserIDs: ids} }

func testPushKinds(t *testing.T, e *pushEnv) {
	dev := e.device("bob", "t1", true)
	c := push.Content{Title: "T", Content: "C", Payload: "P", ResourcesID: "r1"}
	tests := []struct {
		name    string
		in      push.Intent
		message int64
		kind    push.JobKind
		call    string
	}{
		{"message", push.Intent{Targets: users("bob"), Source: push.Source{Kind: push.SourceMessage, MessageID: 7}}, 7, push.JobMessage, ""},
		{"call ring", push.Intent{Targets: users("bob"), Source: push.Source{Kind: push.SourceCallRing, CallID: "c1"}}, 0, push.JobCallInvite, "c1"},
		{"call withdraw", push.Intent{Targets: users("bob"), Source: push.Source{Kind: push.SourceCallWithdraw, CallID: "c1"}}, 0, push.JobCallCancel, "c1"},
		{"server push to a user", push.Intent{Targets: users("bob"), Source: push.Source{Kind: push.SourceServer}}, 0, push.JobMessage, ""},
		{"server push to a device", push.Intent{Targets: push.Targets{PushIDs: []string{dev}}, Source: push.Source{Kind: push.SourceServer}}, 0, push.JobMessage, ""},
	}
	for _, tt := range tests {
		tt.in.Content = c
		ids := e.plan(tt.in)
		if len(ids) != 1 {
			t.Fatalf("%s: planned %v, want one job", tt.name, ids)
		}
		js := e.due()
		j := js[len(js)-1]
		if j.ID != ids[0] || j.MessageID != tt.message || j.Kind != tt.kind || j.CallID != tt.call ||
			j.UserID != "bob" || j.PushID != dev || j.Vendor != push.VendorFCM || j.Status != push.JobPending || j.Attempts != 0 {
			t.Errorf("%s: job %+v", tt.name, j)
		}
		if j.PushConfig != c || j.ConfigErr != nil {
			t.Errorf("%s: content %+v (%v), want %+v", tt.name, j.PushConfig, j.ConfigErr, c)
		}
		if tt.kind.Rings() != tt.in.VoIP() {
			t.Errorf("%s: VoIP %v for job kind %q", tt.name, tt.in.VoIP(), tt.kind)
		}
	}
}

func testPushEligibility(t *testing.T, e *pushEnv) {
	on := e.device("bob", "on", true)
	off := e.device("bob", "off", false)
	carol := e.device("carol", "carol", true)
	unbound := e.device("", "unbound", true)
	unboundOff := e.device("", "unbound-off", false)
	src := push.Source{Kind: push.SourceMessage, MessageID: 1}
	c := push.Content{Title: "t"}
	tests := []struct {
		name    string
		targets push.Targets
		want    map[string]string // PushID -> the job's user
	}{
		{"user: only its enabled devices", users("bob"), map[string]string{on: "bob"}},
		{"users: each its own devices", users("bob", "carol", "nobody"), map[string]string{on: "bob", carol: "carol"}},
		{"unbound devices belong to no user", users(""), map[string]string{}},
		{"PushIDs: enabled devices, bound or not", push.Targets{PushIDs: []string{on, off, carol, unbound, unboundOff, "Pnone"}},
			map[string]string{on: "bob", carol: "carol", unbound: ""}},
	}
	for _, tt := range tests {
		before := len(e.due())
		ids := e.plan(push.Intent{Targets: tt.targets, Source: src, Content: c})
		js := e.due()[before:]
		got := map[string]string{}
		for _, j := range js {
			got[j.PushID] = j.UserID
			// Planning and dispatch agree: what was planned is eligible
			// for its user.
			if j.Device == nil || !push.Eligible(*j.Device, j.UserID) {
				t.Errorf("%s: planned job %+v for an ineligible device %+v", tt.name, j, j.Device)
			}
		}
		if len(ids) != len(js) || len(got) != len(tt.want) {
			t.Fatalf("%s: planned %v = %+v, want %v", tt.name, ids, got, tt.want)
		}
		for id, u := range tt.want {
			if g, ok := got[id]; !ok || g != u {
				t.Errorf("%s: device %s: job for %q (%v), want %q", tt.name, id, g, ok, u)
			}
		}
	}
	// The Go rule, device by device.
	for _, tt := range []struct {
		name string
		d    push.Device
		user string
		want bool
	}{
		{"enabled, bound to the user", push.Device{UserID: "bob", Enabled: true}, "bob", true},
		{"disabled", push.Device{UserID: "bob"}, "bob", false},
		{"another user's", push.Device{UserID: "carol", Enabled: true}, "bob", false},
		{"unbound since", push.Device{Enabled: true}, "bob", false},
		{"unbound, pushed by PushID", push.Device{Enabled: true}, "", true},
	} {
		if got := push.Eligible(tt.d, tt.user); got != tt.want {
			t.Errorf("Eligible %s: %v, want %v", tt.name, got, tt.want)
		}
	}
}

// testPushOnceConcurrent: plannings of one once source at the same time
// (the late pushes of two sessions' ends, on two connections or nodes)
// write one job per device between them.
func testPushOnceConcurrent(t *testing.T, e *pushEnv) {
	e.device("bob", "t1", true)
	e.device("bob", "t2", true)
	const plannings = 8
	for _, in := range []push.Intent{
		{AppID: "a1", Targets: users("bob"), Source: push.Source{Kind: push.SourceMessage, MessageID: 3}, Once: true},
		{AppID: "a1", Targets: users("bob"), Source: push.Source{Kind: push.SourceCallRing, CallID: "c1"}, Once: true},
	} {
		var wg sync.WaitGroup
		var mu sync.Mutex
		var jobs []int64
		errs := make(chan error, plannings)
		for range plannings {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ids, err := e.s.PlanIntent(t.Context(), in)
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				jobs = append(jobs, ids...)
				mu.Unlock()
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("PlanIntent(%+v): %v", in.Source, err)
		}
		if len(jobs) != 2 {
			t.Errorf("%d plannings of %+v at once: %d jobs %v, want 2 (one per device)", plannings, in.Source, len(jobs), jobs)
		}
	}
}

func testPushOnce(t *testing.T, e *pushEnv) {
	e.device("bob", "t1", true)
	msg := push.Intent{Targets: users("bob"), Source: push.Source{Kind: push.SourceMessage, MessageID: 3}, Once: true}
	ring := push.Intent{Targets: users("bob"), Source: push.Source{Kind: push.SourceCallRing, CallID: "c1"}, Once: true}
	if n := len(e.plan(msg)); n != 1 {
		t.Fatalf("first message push: %d jobs", n)
	}
	if n := len(e.plan(msg)); n != 0 {
		t.Errorf("message push once again: %d jobs, want 0", n)
	}
	if n := len(e.plan(ring)); n != 1 {
		t.Fatalf("first ring: %d jobs", n)
	}
	if n := len(e.plan(ring)); n != 0 {
		t.Errorf("ring once again: %d jobs, want 0", n)
	}
	// Once is per source: another call rings, a withdraw is its own kind,
	// and a new device gets its first job.
	other := ring
	other.Source.CallID = "c2"
	withdraw := ring
	withdraw.Source.Kind = push.SourceCallWithdraw
	for name, in := range map[string]push.Intent{"other call": other, "withdraw": withdraw} {
		if n := len(e.plan(in)); n != 1 {
			t.Errorf("%s: %d jobs, want 1", name, n)
		}
	}
	e.device("bob", "t2", true)
	if n := len(e.plan(msg)); n != 1 {
		t.Errorf("message push once with a new device: %d jobs, want 1", n)
	}
	// Without Once a push is planned again.
	msg.Once = false
	if n := len(e.plan(msg)); n != 2 {
		t.Errorf("message push again: %d jobs, want 2", n)
	}
}

// testPushPages: a push to many targets (more than a store plans in one
// statement, with a tail that is not a round number) gets exactly one job
// per eligible device of each target, a target named twice included; a
// replan with Once adds none, and a push by PushIDs reaches each device
// named.
func testPushPages(t *testing.T, e *pushEnv) {
	const n = 1100
	var targets, pushIDs []string
	want := map[string]string{} // PushID -> user, the eligible devices
	for i := range n {
		u := "u" + strconv.Itoa(i)
		targets = append(targets, u)
		for d := range i % 3 { // 0, 1 or 2 devices
			enabled := i%7 != 0
			id := e.device(u, u+"-t"+strconv.Itoa(d), enabled)
			if enabled {
				want[id] = u
				pushIDs = append(pushIDs, id)
			}
		}
	}
	targets = append(targets, "u1", "u2", "nobody") // named twice, or unknown
	msg := push.Intent{Targets: users(targets...), Source: push.Source{Kind: push.SourceMessage, MessageID: 9}, Once: true}
	ids := e.plan(msg)
	if len(ids) != len(want) {
		t.Fatalf("planned %d jobs, want %d (one per eligible device)", len(ids), len(want))
	}
	js := e.dueAll(2 * n)
	got := map[string]string{}
	for _, j := range js {
		if _, dup := got[j.PushID]; dup {
			t.Errorf("device %s got two jobs", j.PushID)
		}
		got[j.PushID] = j.UserID
	}
	if !maps.Equal(got, want) {
		t.Errorf("jobs by device differ: %d got, %d want", len(got), len(want))
	}
	if again := e.plan(msg); len(again) != 0 {
		t.Errorf("replan with Once: %d jobs, want 0", len(again))
	}
	byDevice := push.Intent{Targets: push.Targets{PushIDs: pushIDs}, Source: push.Source{Kind: push.SourceMessage, MessageID: 10}}
	if ids := e.plan(byDevice); len(ids) != len(pushIDs) {
		t.Errorf("push by %d PushIDs: %d jobs", len(pushIDs), len(ids))
	}
}

func testPushExpiry(t *testing.T, e *pushEnv) {
	e.device("bob", "t1", true)
	exp := time.Now().Add(10 * time.Minute).Truncate(time.Millisecond)
	e.plan(push.Intent{Targets: users("bob"), Source: push.Source{Kind: push.SourceCallRing, CallID: "c1"}, ExpiresAt: exp})
	e.plan(push.Intent{Targets: users("bob"), Source: push.Source{Kind: push.SourceMessage, MessageID: 1}})
	js := e.due()
	if len(js) != 2 || !js[0].ExpiresAt.Equal(exp) || !js[1].ExpiresAt.IsZero() {
		t.Fatalf("jobs %+v: want the ring expiring at %v, the message never", js, exp)
	}
}

func testPushReopen(t *testing.T, e *pushEnv) {
	dev := e.device("bob", "t1", true)
	ids := e.plan(push.Intent{Targets: users("bob"), Source: push.Source{Kind: push.SourceMessage, MessageID: 5},
		Content: push.Content{Title: "t"}})
	e.reopen()
	js := e.due()
	if len(js) != 1 || js[0].ID != ids[0] || js[0].MessageID != 5 || js[0].Device == nil || js[0].Device.PushID != dev {
		t.Fatalf("after reopen: %+v, want job %v with its device", js, ids)
	}
	if c, err := js[0].PushConfig, js[0].ConfigErr; err != nil || c.Title != "t" {
		t.Errorf("after reopen: content %+v (%v)", c, err)
	}
}

// testPushClaim: a claim leases jobs to one owner, who alone records them;
// a lease that ended lets another owner claim the job, and the first
// owner's late finish then changes nothing of the job but is traced.
func testPushClaim(t *testing.T, e *pushEnv) {
	ctx := t.Context()
	for _, tok := range []string{"t1", "t2", "t3"} {
		e.device("bob", tok, true)
	}
	e.plan(push.Intent{Targets: users("bob"), Content: push.Content{Title: "T"}, Source: push.Source{Kind: push.SourceServer}})
	at := time.Now().Add(time.Second)
	lease := time.Minute
	long := at.Add(10 * lease) // the leases of b and c outlast a's
	claim := func(owner string, now time.Time, limit int, until time.Time) []push.Job {
		t.Helper()
		js, err := e.s.ClaimJobs(ctx, push.VendorFCM, now, limit, owner, until)
		if err != nil {
			t.Fatalf("ClaimJobs(%s): %v", owner, err)
		}
		return js
	}
	if _, err := e.s.ClaimJobs(ctx, push.VendorFCM, at, 10, "", long); !errors.Is(err, push.ErrNoOwner) {
		t.Fatalf("claim without an owner: %v, want ErrNoOwner", err)
	}
	if _, err := e.s.ClaimJobs(ctx, push.VendorFCM, at, 10, "a", at); err == nil {
		t.Fatal("a claim with a lease ending now succeeded")
	}
	a := claim("a", at, 2, at.Add(lease))
	if len(a) != 2 || a[0].Device == nil || a[0].Device.Token == "" || a[0].ID > a[1].ID {
		t.Fatalf("a's claim (2 of 3, oldest first, with devices): %+v", a)
	}
	if b := claim("b", at, 10, long); len(b) != 1 || b[0].ID == a[0].ID || b[0].ID == a[1].ID {
		t.Fatalf("b's claim while a's leases run: %+v", b)
	}
	if c := claim("c", at, 10, long); len(c) != 0 {
		t.Fatalf("claimed leased jobs: %+v", c)
	}
	// a records its first job: the lease ends with it.
	if err := e.s.FinishAttempts(ctx, []push.Finish{{Attempt: push.Attempt{JobID: a[0].ID, At: at, Outcome: "retry", Status: 503},
		Attempts: 1, Status: push.JobPending, NotBefore: at, Reason: "retry", Owner: "a"}}); err != nil {
		t.Fatal(err)
	}
	if c := claim("c", at, 10, long); len(c) != 1 || c[0].ID != a[0].ID || c[0].Attempts != 1 {
		t.Fatalf("after a's finish, c claimed %+v, want a's first job with 1 attempt", c)
	}
	// a's second lease ends unrecorded; c claims the job and delivers it.
	late := at.Add(lease)
	c := claim("c", late, 10, late.Add(lease))
	if len(c) != 1 || c[0].ID != a[1].ID {
		t.Fatalf("claim after a's lease ended: %+v", c)
	}
	if err := e.s.FinishAttempts(ctx, []push.Finish{{Attempt: push.Attempt{JobID: c[0].ID, At: late, Outcome: "delivered", Status: 200},
		Attempts: 1, Status: push.JobDelivered, NotBefore: late, Reason: "c", Owner: "c"}}); err != nil {
		t.Fatal(err)
	}
	// a's finish comes late: the job stays c's, the call is traced.
	if err := e.s.FinishAttempts(ctx, []push.Finish{{Attempt: push.Attempt{JobID: a[1].ID, At: at, Outcome: "retry", Status: 503, Reason: "slow"},
		Attempts: 1, Status: push.JobPending, NotBefore: at, Reason: "a", Owner: "a"}}); err != nil {
		t.Fatal(err)
	}
	jobs, attempts, err := e.s.Trace(ctx, push.TraceFilter{AppID: "a1", UserID: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	for i, j := range jobs {
		if j.ID != a[1].ID {
			continue
		}
		if j.Status != push.JobDelivered || j.Reason != "c" {
			t.Fatalf("a stale finish overwrote the new owner's state: %+v", j)
		}
		if len(attempts[i]) != 2 || !strings.HasPrefix(attempts[i][1].Reason, "slow; lease lost") {
			t.Fatalf("attempts of the job: %+v", attempts[i])
		}
		return
	}
	t.Fatalf("job %d not traced", a[1].ID)
}

// testPushBatchPlanning appends batches of messages with pushes and checks
// that each message got the jobs its intent alone gets: one per eligible
// device of each of its users, from the message's time, with its config
// and expiry; none for a user without devices, a message without a push
// config, a disabled or unbound device; a user named twice planned once.
// The large batch crosses the store's statement chunks.
func testPushBatchPlanning(t *testing.T, e *pushEnv) {
	ctx := t.Context()
	devs := map[string][]string{} // user → eligible PushIDs
	for _, d := range []struct {
		user, token string
		enabled     bool
	}{{"bob", "b1", true}, {"bob", "b2", true}, {"bob", "b3", false}, {"carol", "c1", true}, {"", "u1", true}} {
		id := e.device(d.user, d.token, d.enabled)
		if d.enabled && d.user != "" {
			devs[d.user] = append(devs[d.user], id)
		}
	}
	nextID := int64(5_000_000)
	msg := func(to string, cfg *push.Content, expires time.Time, pushUsers ...string) *im.Message {
		nextID++
		return &im.Message{AppID: "a1", ID: nextID, ConvID: im.PeerConvID("alice", to), Sender: "alice", Recipient: to,
			Type: 1, Text: "x", Priority: 2, CreatedAt: base.Add(time.Duration(nextID-5_000_000) * time.Millisecond),
			PushConfig: cfg, PushUsers: pushUsers, PushExpires: expires}
	}
	cfg := func(title string) *push.Content { return &push.Content{Title: title, Content: "C"} }
	exp := base.Add(time.Hour)
	small := []*im.Message{
		msg("bob", cfg("m0"), time.Time{}, "bob"),
		msg("carol", cfg("m1"), exp, "carol"),
		msg("dave", cfg("m2"), time.Time{}, "dave"),
		msg("bob", nil, time.Time{}, "bob"),
		msg("bob", cfg("m4"), time.Time{}),
		msg("bob", cfg("m5"), time.Time{}, "bob", "carol", "bob"),
	}
	var large []*im.Message
	for i := range 300 {
		to := []string{"bob", "carol", "dave"}[i%3]
		large = append(large, msg(to, cfg("l"+strconv.Itoa(i)), time.Time{}, to))
	}
	for _, batch := range [][]*im.Message{small, large} {
		if _, err := e.s.AppendMessages(ctx, batch); err != nil {
			t.Fatalf("AppendMessages: %v", err)
		}
		for _, m := range batch {
			jobs, _, err := e.s.Trace(ctx, push.TraceFilter{AppID: "a1", MessageID: m.ID, Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]string{} // PushID → user
			if m.PushConfig != nil {
				for _, u := range m.PushUsers {
					for _, id := range devs[u] {
						want[id] = u
					}
				}
			}
			got := map[string]string{}
			for _, j := range jobs {
				if _, dup := got[j.PushID]; dup {
					t.Fatalf("message %d: two jobs for device %s", m.ID, j.PushID)
				}
				got[j.PushID] = j.UserID
				if j.Status != push.JobPending || j.Kind != push.JobMessage || j.Attempts != 0 ||
					!j.NotBefore.Equal(m.CreatedAt) || !j.CreatedAt.Equal(m.CreatedAt) || !j.ExpiresAt.Equal(m.PushExpires) ||
					j.ConfigErr != nil || j.PushConfig.Title != m.PushConfig.Title || j.CallID != "" {
					t.Fatalf("message %d: job %+v", m.ID, j)
				}
			}
			if !maps.Equal(got, want) {
				t.Fatalf("message %d to %v: jobs on %v, want %v", m.ID, m.PushUsers, got, want)
			}
		}
	}
}

// testPushFinishBatch records finishes in one batch: jobs of several
// owners, one owner's lease lost inside the batch (its finish changes
// nothing of the job and its call is traced with the lease-lost note),
// deferrals without a call, and a job named twice in one batch (the
// finishes apply in order, as one at a time).
func testPushFinishBatch(t *testing.T, e *pushEnv) {
	ctx := t.Context()
	for i := range 6 {
		e.device("bob", "t"+strconv.Itoa(i), true)
	}
	e.plan(push.Intent{Targets: users("bob"), Content: push.Content{Title: "T"}, Source: push.Source{Kind: push.SourceServer}})
	at := time.Now().Add(time.Second)
	lease := time.Minute
	claimFor := func(owner string, now time.Time, limit int, d time.Duration) []push.Job {
		t.Helper()
		js, err := e.s.ClaimJobs(ctx, push.VendorFCM, now, limit, owner, now.Add(d))
		if err != nil {
			t.Fatalf("ClaimJobs(%s): %v", owner, err)
		}
		return js
	}
	claim := func(owner string, now time.Time, limit int) []push.Job {
		t.Helper()
		return claimFor(owner, now, limit, lease)
	}
	// a holds a[2] for one lease, a[0] and a[1] and b's jobs for ten.
	a := append(claimFor("a", at, 1, lease), claimFor("a", at, 2, 10*lease)...)
	a[0], a[1], a[2] = a[1], a[2], a[0]
	b := claimFor("b", at, 3, 10*lease)
	if len(a) != 3 || len(b) != 3 {
		t.Fatalf("claims: a %d, b %d jobs, want 3 each", len(a), len(b))
	}
	// a's lease on a[2] ends; c claims and delivers it before a's batch.
	late := at.Add(lease)
	c := claim("c", late, 10)
	if len(c) != 1 || c[0].ID != a[2].ID {
		t.Fatalf("c's claim after a's lease ended: %+v", c)
	}
	if err := e.s.FinishAttempts(ctx, []push.Finish{{Attempt: push.Attempt{JobID: c[0].ID, At: late, Outcome: "delivered", Status: 200},
		Attempts: 1, Status: push.JobDelivered, NotBefore: late, Reason: "c", Owner: "c"}}); err != nil {
		t.Fatal(err)
	}
	done := func(j push.Job, owner string, st push.JobStatus, reason string) push.Finish {
		return push.Finish{Attempt: push.Attempt{JobID: j.ID, At: at, Outcome: reason, Status: 200, Reason: reason, Latency: 3 * time.Millisecond},
			Attempts: 1, Status: st, NotBefore: at, Reason: reason, Owner: owner}
	}
	held := push.Finish{Attempt: push.Attempt{JobID: b[2].ID}, Status: push.JobPending, NotBefore: at.Add(5 * lease),
		Reason: "held", NoCall: true, Owner: "b"}
	batch := []push.Finish{
		done(a[0], "a", push.JobDelivered, "a0"),
		done(b[0], "b", push.JobDelivered, "b0"),
		done(a[1], "a", push.JobFailed, "a1"),
		done(a[2], "a", push.JobPending, "a2 slow"), // lease lost
		done(b[1], "b", push.JobPending, "b1 retry"),
		held,
	}
	if err := e.s.FinishAttempts(ctx, batch); err != nil {
		t.Fatal(err)
	}
	jobs, attempts, err := e.s.Trace(ctx, push.TraceFilter{AppID: "a1", UserID: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	type state struct {
		status   push.JobStatus
		reason   string
		attempts []string // reasons of the traced calls
	}
	want := map[int64]state{
		a[0].ID: {push.JobDelivered, "a0", []string{"a0"}},
		b[0].ID: {push.JobDelivered, "b0", []string{"b0"}},
		a[1].ID: {push.JobFailed, "a1", []string{"a1"}},
		a[2].ID: {push.JobDelivered, "c", []string{"", "a2 slow; " + leaseLostNote}},
		b[1].ID: {push.JobPending, "b1 retry", []string{"b1 retry"}},
		b[2].ID: {push.JobPending, "held", nil},
	}
	for i, j := range jobs {
		w, ok := want[j.ID]
		if !ok {
			t.Fatalf("unexpected job %+v", j)
		}
		var rs []string
		for n, at := range attempts[i] {
			if at.Attempt != n+1 {
				t.Fatalf("job %d: attempt numbers %+v", j.ID, attempts[i])
			}
			rs = append(rs, at.Reason)
		}
		if j.Status != w.status || j.Reason != w.reason || !slices.Equal(rs, w.attempts) {
			t.Fatalf("job %d: %s %q, calls %q; want %s %q, calls %q", j.ID, j.Status, j.Reason, rs, w.status, w.reason, w.attempts)
		}
	}
	// The lease of a finished job ended with it; b1 (retry) and b2 (held)
	// are claimable again once due.
	later := at.Add(20 * lease)
	if got := claim("d", later, 10); len(got) != 2 {
		t.Fatalf("claim after the batch: %+v, want b1 and b2", got)
	}
	// A job named twice in a batch: the finishes apply in order, and the
	// second finds the lease ended by the first.
	twice := claim("e", later.Add(2*lease), 1)
	if len(twice) != 1 {
		t.Fatalf("claim for the repeated batch: %+v", twice)
	}
	j := twice[0]
	first := push.Finish{Attempt: push.Attempt{JobID: j.ID, At: later, Outcome: "deferred", Status: 429, Reason: "quota"},
		Attempts: j.Attempts, Status: push.JobPending, NotBefore: later, Reason: "deferred", Owner: "e"}
	second := push.Finish{Attempt: push.Attempt{JobID: j.ID, At: later, Outcome: "delivered", Status: 200, Reason: "again"},
		Attempts: j.Attempts + 1, Status: push.JobDelivered, NotBefore: later, Reason: "again", Owner: "e"}
	if err := e.s.FinishAttempts(ctx, []push.Finish{first, second}); err != nil {
		t.Fatal(err)
	}
	jobs, attempts, err = e.s.Trace(ctx, push.TraceFilter{AppID: "a1", UserID: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	for i, got := range jobs {
		if got.ID != j.ID {
			continue
		}
		n := len(attempts[i])
		if got.Status != push.JobPending || got.Reason != "deferred" || n < 2 ||
			attempts[i][n-2].Reason != "quota" || attempts[i][n-1].Reason != "again; "+leaseLostNote {
			t.Fatalf("job named twice: %+v, calls %+v", got, attempts[i])
		}
	}
}

// leaseLostNote is the note a store adds to the traced reason of a call
// whose finisher had lost the job's lease.
const leaseLostNote = "lease lost: the job's state was left to the node that holds it"
