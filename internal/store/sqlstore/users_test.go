package sqlstore

import (
	"errors"
	"testing"
	"time"

	"github.com/heraldim/herald/internal/im"
	"github.com/heraldim/herald/internal/push"
)

func TestUserProfiles(t *testing.T) {
	s := pushStore(t)
	ctx := t.Context()
	if err := s.RecordUser(ctx, "a1", "carol"); err != nil {
		t.Fatal(err)
	}
	if err := s.PutUsers(ctx, "a1", []im.UserProfile{{UserID: "alice", Nickname: "Alice", AvatarURL: "u", Extra: "x"}, {UserID: "carol", Nickname: "C"}}); err != nil {
		t.Fatal(err)
	}
	us, err := s.Users(ctx, "a1", []string{"carol", "zed", "alice"})
	if err != nil || len(us) != 2 || us[0].UserID != "carol" || us[0].Nickname != "C" || us[1].Extra != "x" {
		t.Fatalf("Users = %+v, %v", us, err)
	}
	if _, err := s.User(ctx, "a2", "alice"); !errors.Is(err, im.ErrNotFound) {
		t.Fatalf("another app's user: %v", err)
	}
	nick := "Al"
	u, err := s.UpdateUser(ctx, "a1", "alice", im.UserPatch{Nickname: &nick})
	if err != nil || u.Nickname != "Al" || u.AvatarURL != "u" || u.Extra != "x" {
		t.Fatalf("UpdateUser = %+v, %v", u, err)
	}
	if _, err := s.UpdateUser(ctx, "a1", "zed", im.UserPatch{Nickname: &nick}); !errors.Is(err, im.ErrNotFound) {
		t.Fatalf("UpdateUser of nobody: %v", err)
	}
}

func TestRevokeTokensNeverMovesBack(t *testing.T) {
	s := pushStore(t)
	ctx := t.Context()
	if err := s.RecordUser(ctx, "a1", "alice"); err != nil {
		t.Fatal(err)
	}
	if got, err := s.TokensValidAfter(ctx, "a1", "alice"); err != nil || !got.IsZero() {
		t.Fatalf("before any revocation: %v, %v", got, err)
	}
	t1 := time.UnixMilli(1_800_000_000_000).UTC()
	for _, before := range []time.Time{t1, t1.Add(-time.Hour)} {
		got, err := s.RevokeTokens(ctx, "a1", "alice", before)
		if err != nil || !got.Equal(t1) {
			t.Fatalf("RevokeTokens(%v) = %v, %v, want %v", before, got, err, t1)
		}
	}
	if got, _ := s.TokensValidAfter(ctx, "a1", "alice"); !got.Equal(t1) {
		t.Fatalf("TokensValidAfter = %v", got)
	}
	if _, err := s.RevokeTokens(ctx, "a1", "zed", t1); !errors.Is(err, im.ErrNotFound) {
		t.Fatalf("RevokeTokens of nobody: %v", err)
	}
	if got, err := s.TokensValidAfter(ctx, "a1", "zed"); err != nil || !got.IsZero() {
		t.Fatalf("TokensValidAfter of nobody: %v, %v", got, err)
	}
}

// TestDeleteUser: the user's devices go (recorded as removed), with the
// pending jobs to them and to the user; other users' devices and jobs stay.
func TestDeleteUser(t *testing.T) {
	s := pushStore(t)
	ctx := t.Context()
	for _, u := range []string{"alice", "bob"} {
		if err := s.RecordUser(ctx, "a1", u); err != nil {
			t.Fatal(err)
		}
	}
	bobDev, aliceDev := device("a1", "tokb", "bob"), device("a1", "toka", "alice")
	for _, d := range []push.Device{bobDev, aliceDev} {
		if err := s.RegisterDevice(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.PlanPush(ctx, "a1", push.Targets{UserIDs: []string{"bob", "alice"}}, []byte(`{"title":"x"}`), time.Time{}); err != nil {
		t.Fatal(err)
	}
	if u, _ := s.User(ctx, "a1", "bob"); u.Devices != 1 {
		t.Fatalf("bob's device count %d", u.Devices)
	}
	if err := s.DeleteUser(ctx, "a1", "bob"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.User(ctx, "a1", "bob"); !errors.Is(err, im.ErrNotFound) {
		t.Fatalf("bob after delete: %v", err)
	}
	if _, err := s.Device(ctx, "a1", bobDev.PushID); !errors.Is(err, push.ErrNotFound) {
		t.Fatalf("bob's device after delete: %v", err)
	}
	jobs, _, err := s.Trace(ctx, push.TraceFilter{AppID: "a1", UserID: "bob", Limit: 10})
	if err != nil || len(jobs) != 1 || jobs[0].Status != push.JobDropped || jobs[0].Reason != ReasonUserDeleted {
		t.Fatalf("bob's jobs after delete: %+v, %v", jobs, err)
	}
	jobs, _, _ = s.Trace(ctx, push.TraceFilter{AppID: "a1", UserID: "alice", Limit: 10})
	if len(jobs) != 1 || jobs[0].Status != push.JobPending {
		t.Fatalf("alice's jobs after bob's delete: %+v", jobs)
	}
	evs, err := s.DeviceEvents(ctx, "a1", bobDev.PushID, 10)
	if err != nil || len(evs) == 0 || evs[0].Kind != push.DeviceRemoved || evs[0].FromUser != "bob" {
		t.Fatalf("bob's device events: %+v, %v", evs, err)
	}
	if unknown, _ := s.UnknownUsers(ctx, "a1", []string{"bob", "alice"}); len(unknown) != 1 || unknown[0] != "bob" {
		t.Fatalf("UnknownUsers after delete = %v", unknown)
	}
	if err := s.DeleteUser(ctx, "a1", "bob"); !errors.Is(err, im.ErrNotFound) {
		t.Fatalf("deleting bob twice: %v", err)
	}
}
