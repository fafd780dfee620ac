package sqlstore

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/heraldim/herald/internal/call"
	"github.com/heraldim/herald/internal/im"
	"github.com/heraldim/herald/internal/protocol"
	"github.com/heraldim/herald/internal/push"
)

// TestCallWithdrawPlanned: a withdraw (call.Withdraw, planned by the one
// planner) goes to the device of each ring the vendor accepted and of each
// claimed ring still in flight, and to no other: not a failed ring's, not
// a ring's whose claimed attempt has its outcome recorded, not a device
// switched off since its ring, not another user's or call's. Its push
// config is the withdraw's own, or the ring's with the content replaced.
func TestCallWithdrawPlanned(t *testing.T) {
	ringCfg := push.Content{Title: "A", Content: "ring", Payload: "p"}
	own := push.Content{Title: "own", Content: "cancelled"}
	tests := []struct {
		name    string
		cfg     *push.Content
		content string
		want    push.Content
	}{
		{"ring's config", nil, "ended", push.Content{Title: "A", Content: "ended", Payload: "p"}},
		{"own config", &own, "", own},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			s := openTest(t, Config{Path: filepath.Join(t.TempDir(), "herald.db")})
			defer s.Close()
			if err := s.CreateApp(ctx, im.App{ID: "a1", Name: "a1", Secret: "s", AdminKey: "k", CreatedAt: time.Now()}); err != nil {
				t.Fatal(err)
			}
			pushID := map[string]string{}
			dev := func(user, tok string, enabled bool) {
				d := push.Device{AppID: "a1", PushID: push.NewPushID("a1", push.VendorAPNs, push.Production, tok), Vendor: push.VendorAPNs,
					Token: tok, Environment: push.Production, BundleID: "b", UserID: user, Enabled: enabled}
				if err := s.RegisterDevice(ctx, d); err != nil {
					t.Fatal(err)
				}
				pushID[d.PushID] = tok
			}
			for _, tok := range []string{"delivered", "failed", "inflight", "recorded", "off"} {
				dev("bob", tok, true)
			}
			dev("carol", "carol", true)
			base := time.UnixMilli(1_700_000_000_000)
			dl := base.Add(time.Minute)
			newCall := func(id string, users ...string) call.Change {
				r := &call.Record{AppID: "a1", CallID: id, Inviter: "alice", CreatedAt: base, Deadline: dl,
					Users: []call.User{{UserID: "alice", State: protocol.CallAccepted, UpdatedAt: base}}}
				ch := call.Change{AppID: "a1", CallID: id, New: r, Now: base}
				for _, u := range users {
					r.Users = append(r.Users, call.User{UserID: u, State: protocol.CallInviting, InvitedBy: "alice", Deadline: dl, UpdatedAt: base})
					ch.Pushes = append(ch.Pushes, call.Push{UserID: u, Kind: push.JobCallInvite, Config: ringCfg, ExpiresAt: dl})
				}
				return ch
			}
			for _, ch := range []call.Change{newCall("c1", "bob", "carol"), newCall("c2", "bob")} {
				if err := s.SaveCall(ctx, ch); err != nil {
					t.Fatal(err)
				}
			}
			// Every ring the vendor accepted but c1's "failed", "inflight"
			// and "recorded" ones; "inflight" is claimed for attempt 2
			// after one attempt, "recorded" for attempt 2 after two.
			set := map[string]string{
				"failed":   `status = 'failed', attempts = 1`,
				"inflight": `attempts = 1`,
				"recorded": `attempts = 2`,
			}
			rings, err := s.CallJobs(ctx, "a1", "c1")
			if err != nil {
				t.Fatal(err)
			}
			var claims []call.RingClaim
			for _, j := range rings {
				q, ok := set[pushID[j.PushID]]
				if !ok {
					q = `status = 'delivered', attempts = 1`
				}
				if _, err := s.w.ExecContext(ctx, `UPDATE push_jobs SET `+q+` WHERE id = $1`, j.ID); err != nil {
					t.Fatal(err)
				}
				if ok && q != set["failed"] {
					claims = append(claims, call.RingClaim{JobID: j.ID, Attempt: 2})
				}
			}
			if _, err := s.w.ExecContext(ctx, `UPDATE push_jobs SET status = 'delivered' WHERE call_id = 'c2'`); err != nil {
				t.Fatal(err)
			}
			if _, err := s.w.ExecContext(ctx, `UPDATE devices SET enabled = 0 WHERE push_id = $1`,
				push.NewPushID("a1", push.VendorAPNs, push.Production, "off")); err != nil {
				t.Fatal(err)
			}
			at := base.Add(time.Second)
			if err := s.SaveCall(ctx, call.Change{AppID: "a1", CallID: "c1", Now: at, StopRinging: []string{"bob"}, DropReason: "answered",
				Withdraws: []call.Withdraw{{UserID: "bob", Rings: claims, Config: tt.cfg, Content: tt.content, ExpiresAt: at.Add(time.Hour)}}}); err != nil {
				t.Fatal(err)
			}
			jobs, err := s.CallJobs(ctx, "a1", "c1")
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]bool{}
			for _, j := range jobs {
				if j.Kind != push.JobCallCancel {
					continue
				}
				got[pushID[j.PushID]] = true
				if j.UserID != "bob" || j.Status != push.JobPending || j.Attempts != 0 || j.PushConfig != tt.want ||
					!j.ExpiresAt.Equal(at.Add(time.Hour)) || !j.NotBefore.Equal(at) || j.MessageID != 0 {
					t.Errorf("withdraw %+v", j)
				}
			}
			if len(got) != 2 || !got["delivered"] || !got["inflight"] {
				t.Fatalf("withdraws went to %v, want the delivered and the in-flight ring's devices", got)
			}
			if c2, err := s.CallJobs(ctx, "a1", "c2"); err != nil || len(c2) != 5 {
				t.Fatalf("c2's jobs %+v %v: want its rings only", c2, err)
			}
		})
	}
}
