package sqlstore

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/heraldim/herald/internal/im"
	"github.com/heraldim/herald/internal/push"
)

// TestPushStatsRollup, on both dialects: planned jobs, the vendor calls
// and the jobs' ends recorded by their lease owner, and receipts count in
// the rollup of their app, vendor and hour; a finish by a node that lost
// the lease, a second receipt of a kind and a receipt in another app's
// name count nothing.
func TestPushStatsRollup(t *testing.T) {
	for _, d := range dialects() {
		t.Run(d.name, func(t *testing.T) {
			s := d.open(t, t.TempDir())
			defer s.Close()
			ctx := t.Context()
			for _, app := range []string{"a1", "a2"} {
				if err := s.CreateApp(ctx, im.App{ID: app, Name: app, CreatedAt: time.Now()}); err != nil {
					t.Fatal(err)
				}
			}
			for _, dev := range []push.Device{device("a1", "tok1", "bob"), device("a1", "tok2", "bob"), device("a2", "tok3", "zed")} {
				if err := s.RegisterDevice(ctx, dev); err != nil {
					t.Fatal(err)
				}
			}
			ids, err := s.PlanIntent(ctx, push.Intent{AppID: "a1", Targets: push.Targets{UserIDs: []string{"bob"}},
				Source: push.Source{Kind: push.SourceServer}, Content: push.Content{Title: "T", Content: "C"}})
			if err != nil || len(ids) != 2 {
				t.Fatalf("PlanIntent: %v, %v", ids, err)
			}
			now := time.Now().Add(time.Second)
			js, err := s.ClaimJobs(ctx, push.VendorAPNs, now, 10, "n1", now.Add(time.Minute))
			if err != nil || len(js) != 2 {
				t.Fatalf("ClaimJobs: %d, %v", len(js), err)
			}
			err = s.FinishAttempts(ctx, []push.Finish{
				{Attempt: push.Attempt{JobID: ids[0], At: now, Outcome: "delivered", Status: 200}, Attempts: 1, Status: push.JobDelivered, NotBefore: now, Sent: true, Owner: "n1"},
				{Attempt: push.Attempt{JobID: ids[1], At: now, Outcome: "rejected", Status: 400}, Attempts: 1, Status: push.JobFailed, NotBefore: now, Sent: true, Owner: "n1"},
			})
			if err != nil {
				t.Fatal(err)
			}
			// A node whose lease ended: traced, not counted.
			if err := s.FinishAttempts(ctx, []push.Finish{{Attempt: push.Attempt{JobID: ids[0], At: now, Outcome: "delivered", Status: 200},
				Attempts: 2, Status: push.JobDelivered, NotBefore: now, Sent: true, Owner: "n2"}}); err != nil {
				t.Fatal(err)
			}

			if user, v, err := s.ReceiptJob(ctx, "a1", ids[0]); err != nil || user != "bob" || v != push.VendorAPNs {
				t.Fatalf("ReceiptJob: %q %q %v", user, v, err)
			}
			if _, _, err := s.ReceiptJob(ctx, "a2", ids[0]); !errors.Is(err, push.ErrNotFound) {
				t.Fatalf("ReceiptJob of another app's job: %v", err)
			}
			r := push.Receipt{AppID: "a1", JobID: ids[0], Vendor: push.VendorAPNs, Kind: push.ReceiptClicked, At: now}
			for i, want := range []bool{true, false} {
				if got, err := s.RecordReceipt(ctx, r); err != nil || got != want {
					t.Fatalf("receipt #%d: recorded %v, %v", i+1, got, err)
				}
			}
			other := r
			other.AppID, other.Kind = "a2", push.ReceiptArrived
			if got, err := s.RecordReceipt(ctx, other); err != nil || got {
				t.Fatalf("receipt in another app's name: recorded %v, %v", got, err)
			}

			q := push.StatsQuery{AppID: "a1", From: now.Add(-time.Hour), To: now.Add(time.Hour), Bucket: time.Hour}
			rows, err := s.PushStats(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			hour := now.UTC().Truncate(time.Hour)
			row := func(event, reason string, n int64) push.StatsRow {
				return push.StatsRow{Start: hour, Vendor: push.VendorAPNs, Event: event, Reason: reason, N: n}
			}
			want := []push.StatsRow{
				row(push.StatAccepted, "", 1), row(push.StatClicked, "", 1), row(push.StatFailed, "rejected", 1),
				row(push.StatPlanned, "", 2), row(push.StatSent, "", 2),
			}
			if !slices.EqualFunc(rows, want, func(a, b push.StatsRow) bool {
				return a.Start.Equal(b.Start) && a.Vendor == b.Vendor && a.Event == b.Event && a.Reason == b.Reason && a.N == b.N
			}) {
				t.Fatalf("a1's stats %+v, want %+v", rows, want)
			}
			for _, q := range []push.StatsQuery{
				{AppID: "a2", From: q.From, To: q.To, Bucket: time.Hour},
				{AppID: "a1", From: q.From, To: q.To, Bucket: time.Hour, Vendor: push.VendorFCM},
				{AppID: "a1", From: now.Add(time.Hour), To: now.Add(2 * time.Hour), Bucket: time.Hour},
			} {
				if rows, err := s.PushStats(ctx, q); err != nil || len(rows) != 0 {
					t.Errorf("%+v: %+v, %v; want none", q, rows, err)
				}
			}
			day, err := s.PushStats(ctx, push.StatsQuery{AppID: "a1", From: now.Add(-48 * time.Hour), To: now.Add(48 * time.Hour), Bucket: 24 * time.Hour})
			if err != nil || len(day) != len(want) || !day[0].Start.Equal(now.UTC().Truncate(24*time.Hour)) {
				t.Errorf("a1's days: %+v, %v", day, err)
			}
		})
	}
}
