package storetest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/heraldim/herald/internal/im"
	"github.com/heraldim/herald/internal/push"
)

// testPushRules: a user's offline push rule is stored, replaced and read
// back (none: ErrNotFound), per app; PlanPushOnceTo plans only to the
// named devices that are enabled and bound to the user, once per device
// and message.
func testPushRules(t *testing.T, e *env) {
	ctx := t.Context()
	e.app("a1", "a2")
	if _, err := e.s.UserPushRule(ctx, "a1", "bob"); !errors.Is(err, im.ErrNotFound) {
		t.Fatalf("no rule yet: %v, want ErrNotFound", err)
	}
	r := im.OfflinePushRule{OnlinePlatforms: []int{1, 4, 5}, NotToReceive: []int{2, 3, 9}, UpdatedAt: base}
	if err := e.s.SetUserPushRule(ctx, "a1", "bob", r); err != nil {
		t.Fatal(err)
	}
	r2 := im.OfflinePushRule{OnlinePlatforms: []int{4}, NotToReceive: []int{}, UpdatedAt: base.Add(time.Second)}
	if err := e.s.SetUserPushRule(ctx, "a1", "bob", r2); err != nil {
		t.Fatal(err)
	}
	got, err := e.s.UserPushRule(ctx, "a1", "bob")
	if err != nil || !slices.Equal(got.OnlinePlatforms, []int{4}) || len(got.NotToReceive) != 0 || !got.UpdatedAt.Equal(r2.UpdatedAt) {
		t.Fatalf("rule %+v %v, want %+v", got, err, r2)
	}
	if _, err := e.s.UserPushRule(ctx, "a2", "bob"); !errors.Is(err, im.ErrNotFound) {
		t.Fatalf("another app's bob: %v, want ErrNotFound", err)
	}

	reg, ok := e.s.(interface {
		RegisterDevice(ctx context.Context, d push.Device) error
	})
	if !ok {
		t.Fatal("the store does not register devices")
	}
	dev := func(token, user string, enabled bool) push.Device {
		return push.Device{AppID: "a1", PushID: push.NewPushID("a1", push.VendorAPNs, push.Production, token),
			Vendor: push.VendorAPNs, Token: token, Environment: push.Production, Platform: "ios",
			BundleID: "com.example", UserID: user, Enabled: enabled}
	}
	phone, pad, off, carols := dev("phone", "bob", true), dev("pad", "bob", true), dev("off", "bob", false), dev("carol", "carol", true)
	for _, d := range []push.Device{phone, pad, off, carols} {
		if err := reg.RegisterDevice(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	ds, err := e.s.UserDevices(ctx, "a1", "bob")
	if err != nil || len(ds) != 3 {
		t.Fatalf("bob's devices %+v %v", ds, err)
	}
	plans := []im.PushPlan{{MessageID: 41, PushConfig: push.Content{Title: "t"}}, {MessageID: 42, PushConfig: push.Content{Title: "u"}}}
	to := []string{phone.PushID, off.PushID, carols.PushID, "no-such-device"}
	n, err := e.s.PlanPushOnceTo(ctx, "a1", "bob", to, plans, base)
	if err != nil || n != 2 {
		t.Fatalf("planned %d (%v), want 2: the phone for each message (not the disabled device, not carol's)", n, err)
	}
	if n, err := e.s.PlanPushOnceTo(ctx, "a1", "bob", to, plans, base); err != nil || n != 0 {
		t.Fatalf("planned again: %d %v, want 0", n, err)
	}
	// PlanPushOnce then skips the phone, which has its jobs, and plans
	// the pad.
	if n, err := e.s.PlanPushOnce(ctx, "a1", "bob", plans, base); err != nil || n != 2 {
		t.Fatalf("PlanPushOnce after: %d %v, want 2 (the pad)", n, err)
	}
}
