package herald

import (
	"context"
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/heraldim/herald/internal/push"
	"github.com/heraldim/herald/internal/testkit"
)

// waitTotal polls the statistics until vendor's totals over q's window
// are want.
func waitTotal(t *testing.T, srv *testkit.Server, q url.Values, vendor string, want statsCounts) {
	t.Helper()
	for deadline := time.Now().Add(receiptWait); ; time.Sleep(10 * time.Millisecond) {
		got := pushStats(t, srv, q).total(vendor)
		if got.same(want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s totals: %v, want %v", vendor, got, want)
		}
	}
}

// TestE2EPushReceiptsNewVendors: a message pushed to an emulated
// HarmonyOS NEXT phone, an Honor phone and a browser (Web Push) carries
// in the custom data the app reads the push's ID (push_id) and the
// message's ID (messageID); the ID each device shows is the one its
// receipts name, and the statistics count them for the vendor:
// notificationClicked on all three after a tap, notificationArrived on
// the browser only (the service worker raises it; HarmonyOS's and Honor's
// SDKs never do, and the server refuses it for them); a repeat counts
// nothing, and a push of another user's device is not found.
func TestE2EPushReceiptsNewVendors(t *testing.T) {
	srv, emus := testkit.StartEmulated(t, nil)
	phones := emus.Manifest.Phones.URL
	ctx := context.Background()
	vendors := []string{"harmony", "honor", "webpush"}
	users := map[string]*offlineUser{}
	for _, v := range vendors {
		users[v] = newOfflineUser(t, srv, phones, "bob-"+v, v)
	}
	alice, _ := newE2EClient(t, srv, "a1", func(c *Config) { c.Platform = "server" })
	e2eLogin(t, srv, alice, "alice")
	pc := MessageSendConfig{PushConfig: &PushConfig{Title: "Alice", Content: "hello"}}
	msgIDs := map[string]string{}
	for _, v := range vendors {
		m, err := alice.SendMessage(ctx, NewTextMessage("hi "+v), users[v].id, ConversationTypePeer, pc)
		if err != nil {
			t.Fatal(err)
		}
		msgIDs[v] = m.MessageID
	}
	now := time.Now().UTC().Truncate(time.Hour)
	q := url.Values{"from": {now.Add(-time.Hour).Format(time.RFC3339)}, "to": {now.Add(2 * time.Hour).Format(time.RFC3339)}, "bucket": {"hour"}}

	jobs := map[string]string{}
	seqs := map[string]int{}
	for _, v := range vendors {
		shown := users[v].phone.WaitEvent("notificationDisplayed", 1, receiptWait)
		if shown.Title != "Alice" || shown.Content != "hello" || shown.Extras[PushJobIDKey] == "" ||
			shown.Extras[push.MessageExtraKey] != msgIDs[v] {
			t.Fatalf("%s showed %+v, want push_id and messageID %s in its extras", v, shown, msgIDs[v])
		}
		if _, err := push.ParseJobRef(shown.Extras[PushJobIDKey]); err != nil {
			t.Fatalf("%s: %v", v, err)
		}
		jobs[v], seqs[v] = shown.Extras[PushJobIDKey], shown.Seq
		waitTotal(t, srv, q, v, statsCounts{Planned: 1, Sent: 1, Accepted: 1})
	}
	if jobs["harmony"] == jobs["honor"] || jobs["honor"] == jobs["webpush"] {
		t.Fatalf("push IDs %v", jobs)
	}
	// The browser's service worker raises notificationArrived with the
	// same push ID.
	if a := users["webpush"].phone.WaitEvent("notificationArrived", seqs["webpush"], receiptWait); a.Extras[PushJobIDKey] != jobs["webpush"] {
		t.Fatalf("webpush arrived %+v", a)
	}

	tokens := map[string]string{}
	for _, v := range vendors {
		tokens[v] = srv.Token(t, users[v].id, time.Hour)
	}
	for i, wantDup := range []bool{false, true} {
		if dup, err := alice.ReportPushReceiptWithToken(ctx, users["webpush"].id, tokens["webpush"], PushReceiptArrived, jobs["webpush"]); err != nil || dup != wantDup {
			t.Fatalf("webpush arrived #%d: duplicate %v, %v", i+1, dup, err)
		}
	}
	for _, v := range []string{"harmony", "honor"} {
		if _, err := alice.ReportPushReceiptWithToken(ctx, users[v].id, tokens[v], PushReceiptArrived, jobs[v]); !errors.Is(err, &Error{Code: CodeReceiptUnsupported}) {
			t.Errorf("%s arrived: %v, want code %d", v, err, CodeReceiptUnsupported)
		}
	}
	if _, err := alice.ReportPushReceiptWithToken(ctx, users["honor"].id, tokens["honor"], PushReceiptClicked, jobs["harmony"]); !errors.Is(err, &Error{Code: CodePushNotFound}) {
		t.Errorf("bob-honor reporting bob-harmony's push: %v", err)
	}

	// The user taps each notification: the click event names the push.
	for _, v := range vendors {
		c := users[v].phone.Click(seqs[v])
		if c.Event != "notificationClicked" || c.Extras[PushJobIDKey] != jobs[v] {
			t.Fatalf("%s click: %+v", v, c)
		}
		for i, wantDup := range []bool{false, true} {
			if dup, err := alice.ReportPushReceiptWithToken(ctx, users[v].id, tokens[v], PushReceiptClicked, c.Extras[PushJobIDKey]); err != nil || dup != wantDup {
				t.Fatalf("%s clicked #%d: duplicate %v, %v", v, i+1, dup, err)
			}
		}
	}
	want := map[string]statsCounts{
		"harmony": {Planned: 1, Sent: 1, Accepted: 1, Clicked: 1},
		"honor":   {Planned: 1, Sent: 1, Accepted: 1, Clicked: 1},
		"webpush": {Planned: 1, Sent: 1, Accepted: 1, Arrived: 1, Clicked: 1},
	}
	for v, w := range want {
		waitTotal(t, srv, q, v, w)
		if got := srv.Metric(t, `herald_push_receipts_total{kind="clicked",vendor="`+v+`"}`); got != 1 {
			t.Errorf("%s clicks in Prometheus: %v", v, got)
		}
	}
}
