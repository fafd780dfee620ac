package sqlite

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
