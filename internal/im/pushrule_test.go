package im

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"testing"

	"github.com/heraldim/herald/internal/push"
	"github.com/heraldim/herald/internal/route"
)

// ruleStore is a Store with one user's rule and devices.
type ruleStore struct {
	Store // nil: only the methods below are used
	rule  *OfflinePushRule
	devs  []push.Device
}

func (r *ruleStore) UserPushRule(context.Context, string, string) (OfflinePushRule, error) {
	if r.rule == nil {
		return OfflinePushRule{}, ErrNotFound
	}
	return *r.rule, nil
}

func (r *ruleStore) UserDevices(context.Context, string, string) ([]push.Device, error) {
	return r.devs, nil
}

// sessionsRouter reports fixed live sessions (route.Presence).
type sessionsRouter struct {
	nopRouter
	ss []route.SessionInfo
}

func (r sessionsRouter) Online(string, string) bool                      { return len(r.ss) > 0 }
func (r sessionsRouter) UserSessions(string, string) []route.SessionInfo { return r.ss }

// TestPushTargets: which of bob's devices get a push, by his live
// sessions and his rule.
func TestPushTargets(t *testing.T) {
	devs := []push.Device{
		{PushID: "iphone", Platform: "ios", Enabled: true},
		{PushID: "android", Platform: "android", Enabled: true},
		{PushID: "pad", Platform: "ipados", Enabled: true},
		{PushID: "harmony", Platform: "harmonyos", Enabled: true},
		{PushID: "off", Platform: "ios", Enabled: false},
	}
	desk := route.SessionInfo{ID: "s1", Platform: "macos", DeviceID: "desk"}
	onAndroid := route.SessionInfo{ID: "s2", Platform: "android", DeviceID: "a", PushID: "android"}
	phones := &OfflinePushRule{OnlinePlatforms: []int{1, 4, 5}, NotToReceive: []int{2, 3, 9}}
	cases := []struct {
		name     string
		sessions []route.SessionInfo
		rule     *OfflinePushRule
		all      bool
		ids      []string
	}{
		{"offline, no rule: every device", nil, nil, true, nil},
		{"offline, a rule: every device", nil, phones, true, nil},
		{"live, no rule: none", []route.SessionInfo{desk}, nil, false, nil},
		{"desktop live: phones and tablets silenced", []route.SessionInfo{desk}, phones, false, []string{"harmony"}},
		{"live on the android only: the others, not the live one", []route.SessionInfo{onAndroid}, phones, false, []string{"iphone", "pad", "harmony"}},
		{"an empty rule: every device without a session", []route.SessionInfo{desk, onAndroid}, &OfflinePushRule{}, false, []string{"iphone", "pad", "harmony"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(&ruleStore{rule: tc.rule, devs: devs}, sessionsRouter{ss: tc.sessions}, Config{}, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
			if err != nil {
				t.Fatal(err)
			}
			all, ids, err := s.pushTargets(t.Context(), "a", "bob")
			if err != nil || all != tc.all || !slices.Equal(ids, tc.ids) {
				t.Fatalf("pushTargets = %v %v %v, want %v %v", all, ids, err, tc.all, tc.ids)
			}
		})
	}
}
