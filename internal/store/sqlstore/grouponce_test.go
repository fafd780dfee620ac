package sqlstore

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/heraldim/herald/internal/im"
	"github.com/heraldim/herald/internal/push"
)

// TestGroupPageAfterLatePush: a member whose late push of a group message
// was planned (its session ended before the message's page) gets no
// second job when the page is planned, and a member without one gets its
// job once.
func TestGroupPageAfterLatePush(t *testing.T) {
	s := openTest(t, Config{Path: filepath.Join(t.TempDir(), "herald.db")})
	t.Cleanup(func() { s.Close() })
	ctx := t.Context()
	if err := s.CreateApp(ctx, im.App{ID: "a", Name: "a", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"bob", "carol"} {
		tok := "tok-" + u
		d := push.Device{AppID: "a", PushID: push.NewPushID("a", push.VendorAPNs, push.Development, tok),
			Vendor: push.VendorAPNs, Token: tok, Environment: push.Development, BundleID: "b", UserID: u, Enabled: true}
		if err := s.RegisterDevice(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	cfg := push.Content{Title: "g", Content: "to the group"}
	const msg = 42
	if n, err := s.PlanPushOnce(ctx, "a", "bob", []im.PushPlan{{MessageID: msg, PushConfig: cfg}}, time.Now()); err != nil || n != 1 {
		t.Fatalf("late push: %d jobs, %v", n, err)
	}
	f := im.GroupFanout{AppID: "a", GroupID: "g", MessageID: msg, Sender: "alice", PushConfig: cfg}
	if err := s.PlanGroupPush(ctx, f, []string{"bob", "carol"}, ""); err != nil {
		t.Fatal(err)
	}
	for user, want := range map[string]int{"bob": 1, "carol": 1} {
		jobs, _, err := s.Trace(ctx, push.TraceFilter{AppID: "a", MessageID: msg, UserID: user, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(jobs) != want {
			t.Errorf("%s has %d jobs for the message, want %d", user, len(jobs), want)
		}
	}
}
