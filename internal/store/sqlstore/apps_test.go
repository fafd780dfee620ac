package sqlstore

import (
	"errors"
	"testing"
	"time"

	"github.com/heraldim/herald/internal/im"
	"github.com/heraldim/herald/internal/push"
)

func TestAppsUpdateAndList(t *testing.T) {
	s := pushStore(t)
	ctx := t.Context()
	a, err := s.App(ctx, "a1")
	if err != nil || a.Disabled() || a.PrevSecret != "" || !a.UpdatedAt.Equal(a.CreatedAt) {
		t.Fatalf("new app: %+v, %v", a, err)
	}
	now := time.UnixMilli(1_800_000_000_000).UTC()
	a.Name, a.PrevSecret, a.Secret = "renamed", a.Secret, "new-secret"
	a.PrevSecretUntil, a.DisabledAt, a.UpdatedAt = now.Add(time.Hour), now, now
	a.PrevAdminKey, a.AdminKey, a.PrevAdminKeyUntil = "old-key", "new-key", now.Add(time.Minute)
	if err := s.UpdateApp(ctx, a); err != nil {
		t.Fatal(err)
	}
	got, err := s.App(ctx, "a1")
	if err != nil || got != a {
		t.Fatalf("after update: %+v, %v; want %+v", got, err, a)
	}
	if err := s.UpdateApp(ctx, im.App{ID: "nope"}); !errors.Is(err, im.ErrNotFound) {
		t.Fatalf("update of an unknown app: %v", err)
	}
	for _, tt := range []struct {
		after string
		limit int
		want  []string
	}{{"", 10, []string{"a1", "a2"}}, {"", 1, []string{"a1"}}, {"a1", 10, []string{"a2"}}, {"a2", 10, nil}} {
		list, err := s.Apps(ctx, tt.after, tt.limit)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, a := range list {
			ids = append(ids, a.ID)
		}
		if len(ids) != len(tt.want) || (len(ids) > 0 && ids[0] != tt.want[0]) {
			t.Errorf("Apps(%q, %d) = %v, want %v", tt.after, tt.limit, ids, tt.want)
		}
	}
}

// TestDeleteApp: every row of the app goes, in every table, and nothing of
// the other app; the ID is not given out again.
func TestDeleteApp(t *testing.T) {
	s := pushStore(t)
	ctx := t.Context()
	for _, app := range []string{"a1", "a2"} {
		if err := s.RecordUser(ctx, app, "alice"); err != nil {
			t.Fatal(err)
		}
		if err := s.RegisterDevice(ctx, device(app, "tok-"+app, "alice")); err != nil {
			t.Fatal(err)
		}
		if err := s.PutResource(ctx, push.Resource{AppID: app, ID: "r"}); err != nil {
			t.Fatal(err)
		}
		m := &im.Message{AppID: app, ID: time.Now().UnixNano(), ConvID: im.PeerConvID("alice", "bob"), ConvType: convTypePeer,
			Sender: "alice", Recipient: "bob", Type: 1, Text: "hi", Priority: 2, CreatedAt: time.Now()}
		if _, err := s.AppendMessages(ctx, []*im.Message{m}); err != nil {
			t.Fatal(err)
		}
		ids, err := s.PlanPush(ctx, app, push.Targets{UserIDs: []string{"alice"}}, []byte(`{}`), time.Time{})
		if err != nil || len(ids) == 0 {
			t.Fatalf("plan push: %v %v", ids, err)
		}
		if _, err := s.w.ExecContext(ctx, `INSERT INTO push_attempts (job_id, attempt, at, outcome, status, reason, latency_ms)
VALUES ($1, 1, 0, 'delivered', 200, '', 1)`, ids[0]); err != nil {
			t.Fatal(err)
		}
	}
	tables, err := s.AppTables(ctx)
	if err != nil || len(tables) < 10 {
		t.Fatalf("app tables: %v %v", tables, err)
	}
	count := func(app string) map[string]int {
		out := map[string]int{}
		for _, tb := range tables {
			n, err := s.AppRows(ctx, tb, app)
			if err != nil {
				t.Fatal(err)
			}
			out[tb] = n
		}
		return out
	}
	attempts := func(app string) int {
		var n int
		if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM push_attempts WHERE job_id IN
(SELECT id FROM push_jobs WHERE app_id = $1)`, app).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := count("a2")
	for _, tb := range []string{"users", "devices", "push_resources", "messages", "conversations", "push_jobs"} {
		if before[tb] == 0 {
			t.Fatalf("fixture wrote no %s row", tb)
		}
	}
	var allAttempts int
	if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM push_attempts`).Scan(&allAttempts); err != nil || allAttempts != 2 {
		t.Fatalf("attempts: %d %v", allAttempts, err)
	}

	if err := s.DeleteApp(ctx, "a1", time.Now()); err != nil {
		t.Fatal(err)
	}
	for tb, n := range count("a1") {
		if n != 0 {
			t.Errorf("%s: %d rows of the deleted app left", tb, n)
		}
	}
	if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM push_attempts`).Scan(&allAttempts); err != nil || allAttempts != 1 {
		t.Errorf("attempts after delete: %d %v, want the other app's 1", allAttempts, err)
	}
	if attempts("a2") != 1 {
		t.Errorf("the other app's attempt is gone")
	}
	after := count("a2")
	for tb, n := range before {
		if after[tb] != n {
			t.Errorf("%s: the other app had %d rows, now %d", tb, n, after[tb])
		}
	}
	if _, err := s.App(ctx, "a1"); !errors.Is(err, im.ErrNotFound) {
		t.Errorf("App after delete: %v", err)
	}
	if err := s.DeleteApp(ctx, "a1", time.Now()); !errors.Is(err, im.ErrNotFound) {
		t.Errorf("second delete: %v", err)
	}
	if err := s.CreateApp(ctx, im.App{ID: "a1", Name: "again", CreatedAt: time.Now()}); !errors.Is(err, im.ErrConflict) {
		t.Errorf("re-create of a deleted ID: %v, want ErrConflict", err)
	}
}
