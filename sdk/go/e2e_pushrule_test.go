package herald

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/heraldim/herald/internal/testkit"
)

// TestE2EUserOfflinePushRule: a rule set on the desktop reaches the
// phone as UserRuleUpdated, comes back from QuerySelfUserInfo, and a bad
// platform is refused with its code and changes nothing.
func TestE2EUserOfflinePushRule(t *testing.T) {
	srv := testkit.Start(t, nil)
	desk, _ := newE2EClient(t, srv, "desk", func(c *Config) { c.Platform = "macos" })
	phone, _ := newE2EClient(t, srv, "phone", func(c *Config) { c.Platform = "ios" })
	var mu sync.Mutex
	var got []UserRule
	phone.SetEventHandler(EventHandler{UserRuleUpdated: func(r UserRule) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, r)
	}})
	e2eLogin(t, srv, desk, "bob")
	e2eLogin(t, srv, phone, "bob")
	ctx := context.Background()

	self, err := phone.QuerySelfUserInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if self.UserFullInfo.UserID != "bob" || len(self.UserRule.OfflinePushRule.OnlinePlatforms) != 0 {
		t.Fatalf("before any rule: %+v", self)
	}
	rule := UserOfflinePushRule{
		OnlinePlatforms:                  []PlatformType{PlatformTypeMacOS, PlatformTypeWin, PlatformTypeMacOS},
		NotToReceiveOfflinePushPlatforms: []PlatformType{PlatformTypeIPhoneOS, PlatformTypeAndroid},
	}
	stored, err := desk.UpdateUserOfflinePushRule(ctx, rule)
	if err != nil {
		t.Fatal(err)
	}
	want := UserOfflinePushRule{
		OnlinePlatforms:                  []PlatformType{PlatformTypeWin, PlatformTypeMacOS},
		NotToReceiveOfflinePushPlatforms: []PlatformType{PlatformTypeIPhoneOS, PlatformTypeAndroid},
	}
	same := func(a, b UserOfflinePushRule) bool {
		return slices.Equal(a.OnlinePlatforms, b.OnlinePlatforms) && slices.Equal(a.NotToReceiveOfflinePushPlatforms, b.NotToReceiveOfflinePushPlatforms)
	}
	if !same(stored, want) {
		t.Fatalf("stored %+v, want %+v", stored, want)
	}
	eventually(t, "userRuleUpdated on the phone", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) == 1 && same(got[0].OfflinePushRule, want)
	})

	_, err = desk.UpdateUserOfflinePushRule(ctx, UserOfflinePushRule{OnlinePlatforms: []PlatformType{8}})
	var he *Error
	if !errors.As(err, &he) || he.Code != CodeInvalidPushPlatform {
		t.Fatalf("platform 8: %v, want code %d", err, CodeInvalidPushPlatform)
	}
	if self, err = phone.QuerySelfUserInfo(ctx); err != nil {
		t.Fatal(err)
	}
	if !same(self.UserRule.OfflinePushRule, want) {
		t.Fatalf("after a refused update: %+v", self.UserRule)
	}
}
