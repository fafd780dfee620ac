package sqlstore

import (
	"errors"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/heraldim/herald/internal/im"
	"github.com/heraldim/herald/internal/push"
)

func pushStore(t *testing.T) *Store {
	t.Helper()
	s := openTest(t, Config{Path: filepath.Join(t.TempDir(), "herald.db")})
	t.Cleanup(func() { s.Close() })
	for _, app := range []string{"a1", "a2"} {
		if err := s.CreateApp(t.Context(), im.App{ID: app, Name: app, CreatedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func device(app, token, user string) push.Device {
	return push.Device{AppID: app, PushID: push.NewPushID(app, push.VendorAPNs, push.Production, token),
		Vendor: push.VendorAPNs, Token: token, Environment: push.Production, Platform: "ios",
		BundleID: "com.example", UserID: user, Enabled: true}
}

func TestDeviceBindings(t *testing.T) {
	s := pushStore(t)
	ctx := t.Context()
	d := device("a1", "tok1", "alice")
	if err := s.RegisterDevice(ctx, d); err != nil {
		t.Fatal(err)
	}
	// Same device logs in as bob: taken from alice.
	d.UserID = "bob"
	if err := s.RegisterDevice(ctx, d); err != nil {
		t.Fatal(err)
	}
	if ds, _ := s.UserDevices(ctx, "a1", "alice"); len(ds) != 0 {
		t.Fatalf("alice still has %d devices after bob took the device", len(ds))
	}
	if ds, _ := s.UserDevices(ctx, "a1", "bob"); len(ds) != 1 || ds[0].PushID != d.PushID {
		t.Fatalf("bob's devices: %+v", ds)
	}
	// Re-registering without a user keeps the binding.
	d.UserID = ""
	if err := s.RegisterDevice(ctx, d); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Device(ctx, "a1", d.PushID); got.UserID != "bob" {
		t.Fatalf("binding lost on re-register: %+v", got)
	}
	// alice's logout does not unbind bob.
	if err := s.UnbindDevice(ctx, "a1", d.PushID, "alice"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Device(ctx, "a1", d.PushID); got.UserID != "bob" {
		t.Fatalf("another user's logout unbound the device: %+v", got)
	}
	if err := s.UnbindDevice(ctx, "a1", d.PushID, "bob"); err != nil {
		t.Fatal(err)
	}
	if ds, _ := s.UserDevices(ctx, "a1", "bob"); len(ds) != 0 {
		t.Fatalf("bob still bound after logout: %+v", ds)
	}
	// Apps are apart.
	if _, err := s.Device(ctx, "a2", d.PushID); !errors.Is(err, push.ErrNotFound) {
		t.Fatalf("device visible from another app: %v", err)
	}
	if err := s.UnbindDevice(ctx, "a1", "Pnope", "bob"); !errors.Is(err, push.ErrNotFound) {
		t.Fatalf("unbind unknown: %v", err)
	}
	if err := s.DeleteDevice(ctx, "a1", d.PushID, "unregistered"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Device(ctx, "a1", d.PushID); !errors.Is(err, push.ErrNotFound) {
		t.Fatalf("deleted device still there: %v", err)
	}
}

func TestPushJobsPlannedWithMessage(t *testing.T) {
	s := pushStore(t)
	ctx := t.Context()
	for _, d := range []push.Device{device("a1", "b-phone", "bob"), device("a1", "b-pad", "bob"), device("a1", "c-phone", "carol")} {
		if err := s.RegisterDevice(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	off := device("a1", "b-off", "bob")
	off.Enabled = false
	if err := s.RegisterDevice(ctx, off); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	content := push.Content{Title: "t"}
	msgs := []*im.Message{
		{AppID: "a1", ID: 1, ConvID: im.PeerConvID("alice", "bob"), Sender: "alice", Recipient: "bob", Type: 1, Text: "x", Priority: 2, CreatedAt: now, PushConfig: &content, PushUsers: []string{"bob"}, PushExpires: now.Add(time.Hour)},
		{AppID: "a1", ID: 2, ConvID: im.PeerConvID("alice", "carol"), Sender: "alice", Recipient: "carol", Type: 1, Text: "y", Priority: 2, CreatedAt: now},
	}
	if _, err := s.AppendMessages(ctx, msgs); err != nil {
		t.Fatal(err)
	}
	jobs, err := s.DueJobs(ctx, push.VendorAPNs, now.Add(time.Second), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 2 {
		t.Fatalf("planned %d jobs, want 2 (bob's two enabled devices; no push config for carol): %+v", len(jobs), jobs)
	}
	for _, j := range jobs {
		if j.UserID != "bob" || j.MessageID != 1 || j.PushConfig != content || j.Status != push.JobPending || j.ExpiresAt.IsZero() {
			t.Fatalf("job %+v", j)
		}
		if j.Device == nil || j.Device.PushID != j.PushID || j.Device.UserID != "bob" || j.Device.Token == "" || !j.Device.Enabled {
			t.Fatalf("job's device %+v", j.Device)
		}
	}
	// A retry reschedules; a delivery ends the job; both are traced.
	a := push.Attempt{JobID: jobs[0].ID, Attempt: 1, At: now, Outcome: "retry", Status: 503, Reason: "ServiceUnavailable", Latency: 12 * time.Millisecond}
	b := push.Attempt{JobID: jobs[1].ID, Attempt: 1, At: now, Outcome: "delivered", Status: 200}
	if err := s.FinishAttempts(ctx, []push.Finish{
		{Attempt: a, Attempts: 1, Status: push.JobPending, NotBefore: now.Add(time.Minute), Reason: "ServiceUnavailable"},
		{Attempt: b, Attempts: 1, Status: push.JobDelivered, NotBefore: now},
	}); err != nil {
		t.Fatal(err)
	}
	if due, _ := s.DueJobs(ctx, push.VendorAPNs, now.Add(time.Second), 10); len(due) != 0 {
		t.Fatalf("due now: %+v", due)
	}
	if due, _ := s.DueJobs(ctx, push.VendorAPNs, now.Add(2*time.Minute), 10); len(due) != 1 || due[0].Attempts != 1 {
		t.Fatalf("due after the retry time: %+v", due)
	}
	tr, attempts, err := s.Trace(ctx, push.TraceFilter{AppID: "a1", MessageID: 1})
	if err != nil || len(tr) != 2 || len(attempts[0])+len(attempts[1]) != 2 {
		t.Fatalf("trace: %v %+v %+v", err, tr, attempts)
	}
	// Deleting a device drops its pending jobs.
	if err := s.DeleteDevice(ctx, "a1", jobs[0].PushID, "BadDeviceToken"); err != nil {
		t.Fatal(err)
	}
	if due, _ := s.DueJobs(ctx, push.VendorAPNs, now.Add(2*time.Minute), 10); len(due) != 0 {
		t.Fatalf("jobs of a deleted device still due: %+v", due)
	}
	// An attempt that was in flight when its job was dropped does not
	// revive it; the attempt is still traced.
	c := push.Attempt{JobID: jobs[0].ID, Attempt: 2, At: now, Outcome: "retry", Status: 503}
	if err := s.FinishAttempts(ctx, []push.Finish{{Attempt: c, Attempts: 2, Status: push.JobPending, NotBefore: now}}); err != nil {
		t.Fatal(err)
	}
	if due, _ := s.DueJobs(ctx, push.VendorAPNs, now.Add(2*time.Minute), 10); len(due) != 0 {
		t.Fatalf("a retry revived a dropped job: %+v", due)
	}
	tr, attempts, _ = s.Trace(ctx, push.TraceFilter{AppID: "a1", PushID: jobs[0].PushID})
	if len(tr) != 1 || tr[0].Status != push.JobDropped || len(attempts[0]) != 2 {
		t.Fatalf("trace of the dropped job: %+v %+v", tr, attempts)
	}
}

// TestDueJobsPerVendorAndDeferralsTraced: each vendor's read returns its
// own jobs only; a deferral is traced as a call without counting as one of
// the job's attempts, and the store numbers the calls.
func TestDueJobsPerVendorAndDeferralsTraced(t *testing.T) {
	s := pushStore(t)
	ctx := t.Context()
	apple := device("a1", "b-phone", "bob")
	droid := push.Device{AppID: "a1", PushID: push.NewPushID("a1", push.VendorFCM, push.Production, "f1"),
		Vendor: push.VendorFCM, Token: "f1", Environment: push.Production, BundleID: "com.example", UserID: "bob", Enabled: true}
	for _, d := range []push.Device{apple, droid} {
		if err := s.RegisterDevice(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now()
	m := &im.Message{AppID: "a1", ID: 1, ConvID: im.PeerConvID("alice", "bob"), Sender: "alice", Recipient: "bob", Type: 1,
		Text: "x", Priority: 2, CreatedAt: now, PushConfig: &push.Content{Title: "t"}, PushUsers: []string{"bob"}, PushExpires: now.Add(time.Hour)}
	if _, err := s.AppendMessages(ctx, []*im.Message{m}); err != nil {
		t.Fatal(err)
	}
	for _, v := range []push.Vendor{push.VendorAPNs, push.VendorFCM} {
		due, err := s.DueJobs(ctx, v, now.Add(time.Second), 10)
		if err != nil || len(due) != 1 || due[0].Vendor != v || due[0].Device.Vendor != v {
			t.Fatalf("%s due: %v %+v", v, err, due)
		}
	}
	if due, _ := s.DueJobs(ctx, push.VendorHuawei, now.Add(time.Second), 10); len(due) != 0 {
		t.Fatalf("huawei due: %+v", due)
	}
	due, _ := s.DueJobs(ctx, push.VendorAPNs, now.Add(time.Second), 10)
	id := due[0].ID
	deferred := push.Attempt{JobID: id, At: now, Outcome: "deferred", Status: 429, Reason: "TooManyProviderTokenUpdates"}
	delivered := push.Attempt{JobID: id, At: now, Outcome: "delivered", Status: 200}
	if err := s.FinishAttempts(ctx, []push.Finish{{Attempt: deferred, Attempts: 0, Status: push.JobPending, NotBefore: now}}); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishAttempts(ctx, []push.Finish{{Attempt: delivered, Attempts: 1, Status: push.JobDelivered, NotBefore: now}}); err != nil {
		t.Fatal(err)
	}
	tr, attempts, err := s.Trace(ctx, push.TraceFilter{AppID: "a1", PushID: apple.PushID})
	if err != nil || len(tr) != 1 || tr[0].Attempts != 1 || len(attempts[0]) != 2 ||
		attempts[0][0].Attempt != 1 || attempts[0][0].Outcome != "deferred" || attempts[0][1].Attempt != 2 {
		t.Fatalf("trace %v %+v %+v", err, tr, attempts)
	}
}

func TestPushIDStableAndCarriesEnvironment(t *testing.T) {
	a := push.NewPushID("a1", push.VendorAPNs, push.Development, "tok")
	if a != push.NewPushID("a1", push.VendorAPNs, push.Development, "tok") {
		t.Fatal("PushID not stable")
	}
	b := push.NewPushID("a1", push.VendorAPNs, push.Production, "tok")
	if a == b {
		t.Fatal("development and production PushIDs of one token are equal")
	}
	if env, _ := push.PushIDEnvironment(a); env != push.Development {
		t.Fatalf("env of %s = %s", a, env)
	}
	if env, _ := push.PushIDEnvironment(b); env != push.Production {
		t.Fatalf("env of %s = %s", b, env)
	}
}

// TestPlanPushOnce: a message's late push goes to each enabled device of
// the user that has no job for the message yet (one planned at the commit
// counts, whatever its status), with the given expiry; planning again
// writes nothing.
func TestPlanPushOnce(t *testing.T) {
	s := pushStore(t)
	ctx := t.Context()
	phone, pad := device("a1", "b-phone", "bob"), device("a1", "b-pad", "bob")
	off := device("a1", "b-off", "bob")
	off.Enabled = false
	for _, d := range []push.Device{phone, device("a1", "c-phone", "carol"), off} {
		if err := s.RegisterDevice(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now()
	content := push.Content{Title: "t"}
	m := &im.Message{AppID: "a1", ID: 7, ConvID: im.PeerConvID("alice", "bob"), Sender: "alice", Recipient: "bob", Type: 1,
		Text: "x", Priority: 2, CreatedAt: now, PushConfig: &content, PushUsers: []string{"bob"}, PushExpires: now.Add(time.Hour)}
	if _, err := s.AppendMessages(ctx, []*im.Message{m}); err != nil {
		t.Fatal(err)
	}
	// The pad is bound after the commit: it has no job for the message.
	if err := s.RegisterDevice(ctx, pad); err != nil {
		t.Fatal(err)
	}
	plan := []im.PushPlan{{MessageID: 7, PushConfig: content, ExpiresAt: now.Add(time.Hour)}, {MessageID: 8, PushConfig: content, ExpiresAt: now.Add(2 * time.Hour)}}
	later := now.Add(time.Minute)
	n, err := s.PlanPushOnce(ctx, "a1", "bob", plan, later)
	if err != nil || n != 3 {
		t.Fatalf("planned %d (%v), want 3: the pad for 7, phone and pad for 8", n, err)
	}
	if n, err := s.PlanPushOnce(ctx, "a1", "bob", plan, later); err != nil || n != 0 {
		t.Fatalf("planned again: %d %v", n, err)
	}
	jobs, _, err := s.Trace(ctx, push.TraceFilter{AppID: "a1", UserID: "bob"})
	if err != nil || len(jobs) != 4 {
		t.Fatalf("bob's jobs: %v %+v", err, jobs)
	}
	per := map[[2]string]int{}
	for _, j := range jobs {
		per[[2]string{j.PushID, strconv.FormatInt(j.MessageID, 10)}]++
		if j.PushID == off.PushID || j.UserID != "bob" {
			t.Fatalf("job %+v", j)
		}
		want := now.Add(time.Hour)
		if j.MessageID == 8 {
			want = now.Add(2 * time.Hour)
		}
		if j.ExpiresAt.UnixMilli() != want.UnixMilli() {
			t.Fatalf("job %+v expires %s, want %s", j, j.ExpiresAt, want)
		}
	}
	for k, c := range per {
		if c != 1 {
			t.Fatalf("%v has %d jobs", k, c)
		}
	}
	if jobs, _, _ := s.Trace(ctx, push.TraceFilter{AppID: "a1", UserID: "carol"}); len(jobs) != 0 {
		t.Fatalf("carol's jobs: %+v", jobs)
	}
}

// TestUserCursor is how far any device of the user got in a conversation.
func TestUserCursor(t *testing.T) {
	s := pushStore(t)
	ctx := t.Context()
	conv := im.PeerConvID("alice", "bob")
	if err := s.SaveCursors(ctx, []im.Cursor{
		{AppID: "a1", UserID: "bob", DeviceID: "phone", ConvID: conv, Seq: 3},
		{AppID: "a1", UserID: "bob", DeviceID: "desk", ConvID: conv, Seq: 5},
		{AppID: "a1", UserID: "alice", DeviceID: "phone", ConvID: conv, Seq: 9},
		{AppID: "a2", UserID: "bob", DeviceID: "phone", ConvID: conv, Seq: 9},
	}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		app, user, conv string
		want            int64
	}{{"a1", "bob", conv, 5}, {"a1", "alice", conv, 9}, {"a1", "bob", "p:bob:carol", 0}, {"a2", "carol", conv, 0}} {
		if got, err := s.UserCursor(ctx, tc.app, tc.user, tc.conv); err != nil || got != tc.want {
			t.Errorf("%s/%s/%s: %d %v, want %d", tc.app, tc.user, tc.conv, got, err, tc.want)
		}
	}
}

// TestAccessTokens: a vendor account's stored access token is replaced by
// one that expires later (or as late), never by an older one, and each
// account and secret has its own.
func TestAccessTokens(t *testing.T) {
	s := pushStore(t)
	ctx := t.Context()
	k := push.TokenKey{Vendor: push.VendorHuawei, Account: "101", Secret: push.SecretHash("s1")}
	if _, ok, err := s.AccessToken(ctx, k); ok || err != nil {
		t.Fatalf("token before any: %v %v", ok, err)
	}
	now := time.Now().Truncate(time.Millisecond)
	put := func(tok string, exp time.Time) {
		t.Helper()
		if err := s.PutAccessToken(ctx, k, push.AccessToken{Token: tok, Expires: exp}); err != nil {
			t.Fatal(err)
		}
	}
	put("t1", now.Add(time.Hour))
	put("t0", now.Add(time.Minute)) // fetched earlier, written later: loses
	if got, _, _ := s.AccessToken(ctx, k); got.Token != "t1" || !got.Expires.Equal(now.Add(time.Hour)) {
		t.Fatalf("after an older token: %+v", got)
	}
	put("t2", now.Add(time.Hour)) // a tie: the newer write wins
	if got, _, _ := s.AccessToken(ctx, k); got.Token != "t2" {
		t.Fatalf("after a tie: %+v", got)
	}
	other := k
	other.Secret = push.SecretHash("s2")
	if _, ok, _ := s.AccessToken(ctx, other); ok {
		t.Fatal("a replaced secret inherited the old secret's token")
	}
	if err := s.PutAccessToken(ctx, k, push.AccessToken{Token: "", Expires: now}); err == nil {
		t.Fatal("stored an empty token")
	}
}

// TestClaimReadsAcrossChunks: a claim of more jobs than one prepared read
// names (maxClaimedRead) returns each claimed job once, with its device,
// oldest first.
func TestClaimReadsAcrossChunks(t *testing.T) {
	s := pushStore(t)
	ctx := t.Context()
	n := maxClaimedRead + 45
	for i := range n {
		d := device("a1", "tok-"+strconv.Itoa(i), "bob")
		if err := s.RegisterDevice(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	ids, err := s.PlanIntent(ctx, push.Intent{AppID: "a1", Targets: push.Targets{UserIDs: []string{"bob"}},
		Content: push.Content{Title: "T"}, Source: push.Source{Kind: push.SourceServer}})
	if err != nil || len(ids) != n {
		t.Fatalf("PlanIntent: %d jobs, %v; want %d", len(ids), err, n)
	}
	now := time.Now().Add(time.Second)
	js, err := s.ClaimJobs(ctx, push.VendorAPNs, now, n+10, "a", now.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	var got []int64
	for _, j := range js {
		if j.Device == nil || j.Device.Token == "" {
			t.Fatalf("job %d claimed without its device", j.ID)
		}
		got = append(got, j.ID)
	}
	slices.Sort(ids)
	if !slices.Equal(got, ids) {
		t.Fatalf("claimed %d jobs %v, want %d %v", len(got), got, len(ids), ids)
	}
}
