package sqlstore

import (
	"context"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/heraldim/herald/internal/im"
	"github.com/heraldim/herald/internal/push"
	"github.com/heraldim/herald/internal/store/storetest"
)

func TestPushContract(t *testing.T) {
	storetest.RunPush(t, func(t *testing.T, dir string) storetest.PushStore {
		return openTest(t, Config{Path: filepath.Join(dir, "herald.db")})
	})
}

// sentProvider delivers every push and keeps what it was given.
type sentProvider struct {
	mu   sync.Mutex
	sent []push.Notification
}

func (p *sentProvider) Send(_ context.Context, n push.Notification) (push.Result, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sent = append(p.sent, n)
	return push.Result{Outcome: push.Delivered, Status: 200}, nil
}

func (p *sentProvider) titles() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, n := range p.sent {
		out = append(out, n.Title)
	}
	return out
}

// TestLegacyPendingJobs: jobs that the previous version's planning queries
// wrote (a message's, and a push without a message) and left pending are
// read and sent after an upgrade, their push config unchanged.
func TestLegacyPendingJobs(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "herald.db")
	s := openTest(t, Config{Path: path})
	if err := s.CreateApp(ctx, im.App{ID: "a1", Name: "a1", Secret: "s", AdminKey: "k", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	d := push.Device{AppID: "a1", PushID: push.NewPushID("a1", push.VendorFCM, push.Production, "t1"), Vendor: push.VendorFCM,
		Token: "t1", Environment: push.Production, BundleID: "b", UserID: "bob", Enabled: true}
	if err := s.RegisterDevice(ctx, d); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UnixMilli()
	// The previous version's qInsertPushJobs and qPlanUserPush, verbatim.
	legacy := []struct {
		query string
		args  []any
	}{
		{`INSERT INTO push_jobs (app_id, message_id, user_id, push_id, vendor, push_config,
	status, attempts, not_before, expires_at, reason, created_at, updated_at)
SELECT d.app_id, $2, d.user_id, d.push_id, d.vendor, $4, 'pending', 0, $5, $6, '', $5, $5
FROM devices d WHERE d.app_id = $1 AND d.user_id = $3 AND d.user_id <> '' AND d.enabled = 1`,
			[]any{"a1", 9, "bob", []byte(`{"title":"message","content":"c"}`), now, 0}},
		{`INSERT INTO push_jobs (app_id, message_id, user_id, push_id, vendor, push_config,
	status, attempts, not_before, expires_at, reason, created_at, updated_at)
SELECT app_id, 0, user_id, push_id, vendor, $3, 'pending', 0, $4, $5, '', $4, $4
FROM devices WHERE app_id = $1 AND user_id = $2 AND user_id <> '' AND enabled = 1
ORDER BY push_id
RETURNING id`,
			[]any{"a1", "bob", []byte(`{"title":"server","payload":"p"}`), now, now + time.Hour.Milliseconds()}},
	}
	for _, l := range legacy {
		if _, err := s.w.ExecContext(ctx, l.query, l.args...); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTest(t, Config{Path: path})
	defer s.Close()

	ps := push.NewProviderSet()
	p := &sentProvider{}
	ps.Set("a1", push.VendorFCM, push.Production, p)
	disp, err := push.NewDispatcher(s, ps, push.DispatcherConfig{Poll: 10 * time.Millisecond}, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- disp.Run(runCtx) }()
	defer func() {
		cancel()
		<-done
	}()
	deadline := time.Now().Add(5 * time.Second)
	for len(p.titles()) < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := p.titles(); !slices.Equal(slices.Sorted(slices.Values(got)), []string{"message", "server"}) {
		t.Fatalf("sent %q, want the legacy message push and server push", got)
	}
	for !func() bool {
		jobs, _, err := s.Trace(ctx, push.TraceFilter{AppID: "a1", UserID: "bob"})
		if err != nil {
			t.Fatal(err)
		}
		for _, j := range jobs {
			if j.Status != push.JobDelivered {
				return false
			}
		}
		return len(jobs) == 2
	}() {
		if time.Now().After(deadline) {
			t.Fatal("legacy jobs not recorded delivered")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// rawJobConfig is job id's push_config column as stored.
func rawJobConfig(t *testing.T, s *Store, id int64) string {
	t.Helper()
	var raw []byte
	if err := s.r.QueryRowContext(t.Context(), `SELECT push_config FROM push_jobs WHERE id = $1`, id).Scan(&raw); err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

// TestStoredPushConfig: every source's jobs store their content in the one
// encoding (Intent.StoredConfig), the format of the rows written before
// Job.PushConfig was typed; a config that does not decode fails its read
// into ConfigErr, not the read of the batch.
func TestStoredPushConfig(t *testing.T) {
	ctx := t.Context()
	s := openTest(t, Config{Path: filepath.Join(t.TempDir(), "herald.db")})
	defer s.Close()
	if err := s.CreateApp(ctx, im.App{ID: "a1", Name: "a1", Secret: "s", AdminKey: "k", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	d := push.Device{AppID: "a1", PushID: push.NewPushID("a1", push.VendorFCM, push.Production, "t1"), Vendor: push.VendorFCM,
		Token: "t1", Environment: push.Production, BundleID: "b", UserID: "bob", Enabled: true}
	if err := s.RegisterDevice(ctx, d); err != nil {
		t.Fatal(err)
	}
	c := push.Content{Title: "t", Content: "c", Payload: "p", ResourcesID: "r"}
	want := `{"title":"t","content":"c","payload":"p","resourcesID":"r"}`
	sources := []push.Source{{Kind: push.SourceMessage, MessageID: 7}, {Kind: push.SourceCallRing, CallID: "c1"},
		{Kind: push.SourceCallWithdraw, CallID: "c1"}, {Kind: push.SourceServer}}
	for _, src := range sources {
		ids, err := s.PlanIntent(ctx, push.Intent{AppID: "a1", Targets: push.Targets{UserIDs: []string{"bob"}}, Source: src, Content: c})
		if err != nil || len(ids) != 1 {
			t.Fatalf("%v: planned %v %v", src, ids, err)
		}
		if raw := rawJobConfig(t, s, ids[0]); raw != want {
			t.Errorf("%v: stored %s, want %s", src, raw, want)
		}
	}
	if _, err := s.w.ExecContext(ctx, `UPDATE push_jobs SET push_config = CAST('{' AS BLOB) WHERE kind = 'call_cancel'`); err != nil {
		t.Fatal(err)
	}
	jobs, err := s.DueJobs(ctx, push.VendorFCM, time.Now().Add(time.Second), 10)
	if err != nil || len(jobs) != len(sources) {
		t.Fatalf("due jobs %+v %v", jobs, err)
	}
	for _, j := range jobs {
		if bad := j.Kind == push.JobCallCancel; bad != (j.ConfigErr != nil) || (!bad && j.PushConfig != c) {
			t.Errorf("job %d (%s): content %+v, error %v", j.ID, j.Kind, j.PushConfig, j.ConfigErr)
		}
	}
}
