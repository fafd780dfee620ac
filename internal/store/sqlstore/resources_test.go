package sqlstore

import (
	"errors"
	"testing"
	"time"

	"github.com/heraldim/herald/internal/im"
	"github.com/heraldim/herald/internal/push"
)

func TestResources(t *testing.T) {
	s := pushStore(t)
	ctx := t.Context()
	r := push.Resource{AppID: "a1", ID: "msg", Spec: push.ResourceSpec{
		APNs: &push.APNsOptions{Sound: "a.caf", Category: "MSG"}, FCM: &push.FCMOptions{ChannelID: "im"}, Badge: true}}
	if err := s.PutResource(ctx, r); err != nil {
		t.Fatal(err)
	}
	got, err := s.Resource(ctx, "a1", "msg")
	if err != nil || got.Spec.APNs.Sound != "a.caf" || got.Spec.FCM.ChannelID != "im" || !got.Spec.Badge || got.CreatedAt.IsZero() {
		t.Fatalf("got %+v, %v", got, err)
	}
	r.Spec = push.ResourceSpec{FCM: &push.FCMOptions{Priority: "normal"}}
	if err := s.PutResource(ctx, r); err != nil {
		t.Fatal(err)
	}
	if got, _ = s.Resource(ctx, "a1", "msg"); got.Spec.APNs != nil || got.Spec.FCM.Priority != "normal" || got.Spec.Badge {
		t.Fatalf("replaced: %+v", got.Spec)
	}
	if _, err := s.Resource(ctx, "a2", "msg"); !errors.Is(err, push.ErrNotFound) {
		t.Fatalf("other app: %v", err)
	}
	if list, err := s.Resources(ctx, "a2"); err != nil || len(list) != 0 {
		t.Fatalf("other app's list: %v %v", list, err)
	}
	if err := s.PutResource(ctx, push.Resource{AppID: "nope", ID: "x"}); !errors.Is(err, im.ErrNotFound) {
		t.Fatalf("unknown app: %v", err)
	}
	if err := s.DeleteResource(ctx, "a2", "msg"); !errors.Is(err, push.ErrNotFound) {
		t.Fatalf("delete in other app: %v", err)
	}
	if err := s.DeleteResource(ctx, "a1", "msg"); err != nil {
		t.Fatal(err)
	}
	if list, _ := s.Resources(ctx, "a1"); len(list) != 0 {
		t.Fatalf("after delete: %v", list)
	}
}

func TestUnreadTotal(t *testing.T) {
	s := pushStore(t)
	ctx := t.Context()
	for _, c := range []struct {
		app, owner, conv string
		unread           int
	}{{"a1", "bob", "c1", 2}, {"a1", "bob", "c2", 3}, {"a1", "carol", "c1", 7}, {"a2", "bob", "c1", 11}} {
		if _, err := s.w.ExecContext(ctx, `INSERT INTO conversations (app_id, owner_id, conv_id, conv_type, peer_id, last_seq, last_msg_id, unread)
VALUES ($1, $2, $3, 1, 'x', 1, 1, $4)`, c.app, c.owner, c.conv, c.unread); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		app, user string
		want      int64
	}{{"a1", "bob", 5}, {"a1", "carol", 7}, {"a2", "bob", 11}, {"a1", "nobody", 0}} {
		if got, err := s.UnreadTotal(ctx, c.app, c.user); err != nil || got != c.want {
			t.Errorf("%s/%s: %d %v, want %d", c.app, c.user, got, err, c.want)
		}
	}
}

func TestPlanPush(t *testing.T) {
	s := pushStore(t)
	ctx := t.Context()
	d1, d2, off, other := device("a1", "t1", "bob"), device("a1", "t2", "bob"), device("a1", "t3", "bob"), device("a2", "t4", "bob")
	off.Enabled = false
	for _, d := range []push.Device{d1, d2, off, other} {
		if err := s.RegisterDevice(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	exp := time.Now().Add(time.Hour).Truncate(time.Millisecond)
	ids, err := s.PlanPush(ctx, "a1", push.Targets{UserIDs: []string{"bob", "nobody"}}, []byte(`{"title":"x"}`), exp)
	if err != nil || len(ids) != 2 {
		t.Fatalf("by user: %v %v", ids, err)
	}
	jobs, err := s.DueJobs(ctx, push.VendorAPNs, time.Now().Add(time.Second), 10)
	if err != nil || len(jobs) != 2 || jobs[0].AppID != "a1" || jobs[0].MessageID != 0 || !jobs[0].ExpiresAt.Equal(exp) ||
		jobs[0].PushConfig != (push.Content{Title: "x"}) || jobs[0].UserID != "bob" {
		t.Fatalf("jobs %+v %v", jobs, err)
	}
	if raw := rawJobConfig(t, s, jobs[0].ID); raw != `{"title":"x"}` {
		t.Fatalf("stored push config %s", raw)
	}
	ids, err = s.PlanPush(ctx, "a1", push.Targets{PushIDs: []string{d1.PushID, off.PushID, other.PushID, "Pnone"}}, []byte(`{}`), time.Time{})
	if err != nil || len(ids) != 1 {
		t.Fatalf("by PushID: %v %v", ids, err)
	}
}
