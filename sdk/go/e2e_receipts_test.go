package herald

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/heraldim/herald/internal/config"
	"github.com/heraldim/herald/internal/testkit"
	"github.com/heraldim/herald/internal/token"
)

// receiptWait bounds each wait for a push to reach a phone.
const receiptWait = 20 * time.Second

// offlineUser is a user whose phone is bound at login, then dropped the
// way a killed app is (Destroy: no logout), so that its messages are
// pushed to the phone.
type offlineUser struct {
	id    string
	phone *testkit.Phone
	reg   PushRegistration
}

func newOfflineUser(t *testing.T, srv *testkit.Server, phonesURL, id, vendor string) *offlineUser {
	t.Helper()
	p := testkit.NewPhone(t, phonesURL, vendor, "background")
	u := &offlineUser{id: id, phone: p, reg: PushRegistration{Vendor: vendor, Token: p.Token, BundleID: p.BundleID}}
	c, _ := newE2EClient(t, srv, "phone-"+id, func(c *Config) { c.Platform = p.Platform; c.Push = &u.reg })
	e2eLogin(t, srv, c, id)
	c.Destroy()
	waitOffline(t, srv, id)
	return u
}

func waitOffline(t *testing.T, srv *testkit.Server, user string) {
	t.Helper()
	for deadline := time.Now().Add(receiptWait); srv.Online(user); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s still online", user)
		}
	}
}

// statsCounts are one vendor's counts of the stats API.
type statsCounts struct {
	Planned, Sent, Accepted, Failed int64
	FailedByReason                  map[string]int64
	Arrived, Clicked                int64
}

type statsBucket struct {
	Start  time.Time
	Vendor string
	statsCounts
}

type statsAnswer struct {
	From, To time.Time
	Bucket   string
	Buckets  []statsBucket
	Totals   []struct {
		Vendor string
		statsCounts
	}
}

// pushStats calls the admin API's statistics.
func pushStats(t *testing.T, srv *testkit.Server, q url.Values) statsAnswer {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, srv.HTTP+"/v1/apps/"+srv.App.AppID+"/push/stats?"+q.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+srv.App.AdminKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a statsAnswer
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("push stats %s: HTTP %d", q.Encode(), resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		t.Fatal(err)
	}
	return a
}

// counts returns vendor's counts in the bucket starting at start (zero
// counts when the answer has no such bucket).
func (a statsAnswer) counts(start time.Time, vendor string) statsCounts {
	for _, b := range a.Buckets {
		if b.Start.Equal(start) && b.Vendor == vendor {
			return b.statsCounts
		}
	}
	return statsCounts{}
}

func (a statsAnswer) total(vendor string) statsCounts {
	for _, tt := range a.Totals {
		if tt.Vendor == vendor {
			return tt.statsCounts
		}
	}
	return statsCounts{}
}

func (c statsCounts) String() string {
	return fmt.Sprintf("planned %d sent %d accepted %d failed %d %v arrived %d clicked %d",
		c.Planned, c.Sent, c.Accepted, c.Failed, c.FailedByReason, c.Arrived, c.Clicked)
}

// same compares counts, an empty FailedByReason equal to nil.
func (c statsCounts) same(w statsCounts) bool {
	if c.Planned != w.Planned || c.Sent != w.Sent || c.Accepted != w.Accepted || c.Failed != w.Failed ||
		c.Arrived != w.Arrived || c.Clicked != w.Clicked || len(c.FailedByReason) != len(w.FailedByReason) {
		return false
	}
	for k, v := range w.FailedByReason {
		if c.FailedByReason[k] != v {
			return false
		}
	}
	return true
}

// waitStats polls the statistics until vendor's counts in the bucket at
// start are want: the dispatcher records a job's outcome right after the
// vendor answered, which may be after the phone saw the push.
func waitStats(t *testing.T, srv *testkit.Server, q url.Values, start time.Time, vendor string, want statsCounts) {
	t.Helper()
	for deadline := time.Now().Add(receiptWait); ; time.Sleep(10 * time.Millisecond) {
		got := pushStats(t, srv, q).counts(start, vendor)
		if got.same(want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s at %s: %v, want %v", vendor, start, got, want)
		}
	}
}

// TestE2EPushReceiptsAndStats: pushes to emulated APNs, Xiaomi and Huawei
// phones (and one to a vivo token the vendor does not know) are counted
// by the admin API's statistics per vendor and hour: planned, sent,
// accepted, failed by reason; the phones' notificationArrived (APNs and
// Xiaomi only, reported before login with the login token) and
// notificationClicked (reported over the connection after the tap
// launched the app, or with the token) count once each however often
// they are reported; the counts match Prometheus. Receipts the vendor's
// SDK cannot raise, bad ones, another user's and another app's push are
// refused and count nothing.
func TestE2EPushReceiptsAndStats(t *testing.T) {
	hour := time.Now().UTC().Truncate(time.Hour)
	prev := hour.Add(-time.Hour)
	// The fake clock starts 2 s before the hour: the first pushes count in
	// the previous hour, those after the advance in this one.
	clk := clockwork.NewFakeClockAt(hour.Add(-2 * time.Second))
	srv, emus := testkit.StartEmulated(t, func(c *config.Config) { c.Clock = clk })
	phones := emus.Manifest.Phones.URL
	ctx := context.Background()

	bobA := newOfflineUser(t, srv, phones, "bob-apns", "apns")
	bobX := newOfflineUser(t, srv, phones, "bob-xiaomi", "xiaomi")
	bobH := newOfflineUser(t, srv, phones, "bob-huawei", "huawei")
	// A vivo device whose token vivo does not know: vivo refuses the push
	// and the device is removed (failed, drop_device).
	vivoReg := PushRegistration{Vendor: "vivo", Token: "v2-" + strings.Repeat("a", 51), BundleID: bobA.phone.BundleID}
	vc, _ := newE2EClient(t, srv, "phone-bob-vivo", func(c *Config) { c.Platform = "android"; c.Push = &vivoReg })
	e2eLogin(t, srv, vc, "bob-vivo")
	vc.Destroy()
	waitOffline(t, srv, "bob-vivo")

	alice, _ := newE2EClient(t, srv, "a1", func(c *Config) { c.Platform = "server" })
	e2eLogin(t, srv, alice, "alice")
	pc := MessageSendConfig{PushConfig: &PushConfig{Title: "Alice", Content: "hello"}}
	for _, to := range []string{bobA.id, bobX.id, bobH.id, "bob-vivo"} {
		if _, err := alice.SendMessage(ctx, NewTextMessage("hi "+to), to, ConversationTypePeer, pc); err != nil {
			t.Fatal(err)
		}
	}
	q := url.Values{"from": {prev.Format(time.RFC3339)}, "to": {hour.Add(time.Hour).Format(time.RFC3339)}, "bucket": {"hour"}}

	// The phones show the pushes, and APNs and Xiaomi raise
	// notificationArrived, with the push's ID in its extras.
	arrivedA := bobA.phone.WaitEvent("notificationArrived", 1, receiptWait)
	arrivedX := bobX.phone.WaitEvent("notificationArrived", 1, receiptWait)
	shownH := bobH.phone.WaitEvent("notificationDisplayed", 1, receiptWait)
	jobA, jobX, jobH := arrivedA.Extras[PushJobIDKey], arrivedX.Extras[PushJobIDKey], shownH.Extras[PushJobIDKey]
	if jobA == "" || jobX == "" || jobH == "" || jobA == jobX {
		t.Fatalf("push IDs in the extras: apns %v, xiaomi %v, huawei %v", arrivedA.Extras, arrivedX.Extras, shownH.Extras)
	}
	delivered := statsCounts{Planned: 1, Sent: 1, Accepted: 1}
	for _, v := range []string{"apns", "xiaomi", "huawei"} {
		waitStats(t, srv, q, prev, v, delivered)
	}
	waitStats(t, srv, q, prev, "vivo", statsCounts{Planned: 1, Sent: 1, Failed: 1, FailedByReason: map[string]int64{"drop_device": 1}})

	// The arrivals, reported by the push SDK while the app is not logged
	// in: with the login token, over HTTP. A repeat counts nothing.
	tokA, tokX, tokH := srv.Token(t, bobA.id, 24*time.Hour), srv.Token(t, bobX.id, 24*time.Hour), srv.Token(t, bobH.id, 24*time.Hour)
	for i, wantDup := range []bool{false, true} {
		if dup, err := alice.ReportPushReceiptWithToken(ctx, bobA.id, tokA, PushReceiptArrived, jobA); err != nil || dup != wantDup {
			t.Fatalf("apns arrived #%d: duplicate %v, %v", i+1, dup, err)
		}
	}
	if dup, err := alice.ReportPushReceiptWithToken(ctx, bobX.id, tokX, PushReceiptArrived, jobX); err != nil || dup {
		t.Fatalf("xiaomi arrived: duplicate %v, %v", dup, err)
	}
	// Refused, counting nothing: Huawei's SDK raises no
	// notificationArrived; bad kinds and IDs; bob-huawei's token for
	// bob-apns's push; a token of another app.
	other := srv.CreateApp(t, "other")
	otherTok := mintFor(t, other.AppID, other.Secret, bobA.id, clk.Now())
	for _, c := range []struct {
		name        string
		user, token string
		kind        PushReceiptKind
		job         string
		code        int
	}{
		{"huawei arrived", bobH.id, tokH, PushReceiptArrived, jobH, CodeReceiptUnsupported},
		{"bad kind", bobA.id, tokA, "notificationOpened", jobA, CodeInvalidReceipt},
		{"bad ID", bobA.id, tokA, PushReceiptClicked, "42", CodeInvalidReceipt},
		{"unknown push", bobA.id, tokA, PushReceiptClicked, "00000000-0000-4000-8000-0000000fffff", CodePushNotFound},
		{"another user's push", bobH.id, tokH, PushReceiptClicked, jobA, CodePushNotFound},
		{"another app's token", bobA.id, otherTok, PushReceiptClicked, jobA, CodePushNotFound},
		{"a token for another user", bobH.id, tokA, PushReceiptClicked, jobH, CodeTokenInvalid},
	} {
		if _, err := alice.ReportPushReceiptWithToken(ctx, c.user, c.token, c.kind, c.job); !errors.Is(err, &Error{Code: c.code}) {
			t.Errorf("%s: %v, want code %d", c.name, err, c.code)
		}
	}
	waitStats(t, srv, q, prev, "apns", statsCounts{Planned: 1, Sent: 1, Accepted: 1, Arrived: 1})
	waitStats(t, srv, q, prev, "xiaomi", statsCounts{Planned: 1, Sent: 1, Accepted: 1, Arrived: 1})
	waitStats(t, srv, q, prev, "huawei", delivered)

	// The next hour: the user taps the APNs and Huawei notifications. The
	// tap launches the APNs app, which logs in and reports the click over
	// its connection; the Huawei app reports it with its token. bob-xiaomi
	// gets another push, which arrives.
	clk.Advance(4 * time.Second)
	if c := bobA.phone.Click(arrivedA.Seq); c.Event != "notificationClicked" || c.Extras[PushJobIDKey] != jobA {
		t.Fatalf("apns click: %+v", c)
	}
	if c := bobH.phone.Click(shownH.Seq); c.Event != "notificationClicked" || c.Extras[PushJobIDKey] != jobH {
		t.Fatalf("huawei click: %+v", c)
	}
	appA, _ := newE2EClient(t, srv, "phone-"+bobA.id, func(c *Config) { c.Platform = "ios"; c.Push = &bobA.reg })
	if _, err := appA.ReportPushReceipt(ctx, PushReceiptClicked, jobA); !errors.Is(err, ErrNotLoggedIn) {
		t.Fatalf("receipt before login: %v", err)
	}
	e2eLogin(t, srv, appA, bobA.id)
	for i, wantDup := range []bool{false, true} {
		if dup, err := appA.ReportPushReceipt(ctx, PushReceiptClicked, jobA); err != nil || dup != wantDup {
			t.Fatalf("apns clicked #%d over the connection: duplicate %v, %v", i+1, dup, err)
		}
	}
	if _, err := appA.ReportPushReceipt(ctx, PushReceiptClicked, jobH); !errors.Is(err, &Error{Code: CodePushNotFound}) {
		t.Fatalf("bob-apns reporting bob-huawei's push: %v", err)
	}
	if _, err := appA.ReportPushReceipt(ctx, "notificationOpened", jobA); !errors.Is(err, &Error{Code: CodeInvalidReceipt}) {
		t.Fatalf("a bad kind over the connection: %v", err)
	}
	if dup, err := alice.ReportPushReceiptWithToken(ctx, bobH.id, tokH, PushReceiptClicked, jobH); err != nil || dup {
		t.Fatalf("huawei clicked: duplicate %v, %v", dup, err)
	}
	if _, err := alice.SendMessage(ctx, NewTextMessage("again"), bobX.id, ConversationTypePeer, pc); err != nil {
		t.Fatal(err)
	}
	arrivedX2 := bobX.phone.WaitEvent("notificationArrived", 2, receiptWait)
	jobX2 := arrivedX2.Extras[PushJobIDKey]
	if jobX2 == "" || jobX2 == jobX {
		t.Fatalf("second xiaomi push ID %q (first %q)", jobX2, jobX)
	}
	if dup, err := alice.ReportPushReceiptWithToken(ctx, bobX.id, tokX, PushReceiptArrived, jobX2); err != nil || dup {
		t.Fatalf("xiaomi arrived (2): duplicate %v, %v", dup, err)
	}

	want := map[time.Time]map[string]statsCounts{
		prev: {
			"apns":   {Planned: 1, Sent: 1, Accepted: 1, Arrived: 1},
			"xiaomi": {Planned: 1, Sent: 1, Accepted: 1, Arrived: 1},
			"huawei": {Planned: 1, Sent: 1, Accepted: 1},
			"vivo":   {Planned: 1, Sent: 1, Failed: 1, FailedByReason: map[string]int64{"drop_device": 1}},
		},
		hour: {
			"apns":   {Clicked: 1},
			"xiaomi": {Planned: 1, Sent: 1, Accepted: 1, Arrived: 1},
			"huawei": {Clicked: 1},
		},
	}
	waitStats(t, srv, q, hour, "xiaomi", want[hour]["xiaomi"])
	a := pushStats(t, srv, q)
	if len(a.Buckets) != 7 {
		t.Errorf("%d buckets, want 7: %+v", len(a.Buckets), a.Buckets)
	}
	for start, byVendor := range want {
		for v, w := range byVendor {
			if got := a.counts(start, v); !got.same(w) {
				t.Errorf("%s at %s: %v, want %v", v, start, got, w)
			}
		}
	}

	// Days sum the hours (the two hours may lie on two UTC days); one
	// vendor at a time when asked.
	day := url.Values{"from": q["from"], "to": q["to"], "bucket": {"day"}}
	d := pushStats(t, srv, day)
	if prev.Truncate(24 * time.Hour).Equal(hour.Truncate(24 * time.Hour)) {
		if got := d.counts(hour.Truncate(24*time.Hour), "xiaomi"); !got.same(statsCounts{Planned: 2, Sent: 2, Accepted: 2, Arrived: 2}) {
			t.Errorf("xiaomi's day: %v", got)
		}
	}
	if got := d.total("apns"); !got.same(statsCounts{Planned: 1, Sent: 1, Accepted: 1, Arrived: 1, Clicked: 1}) {
		t.Errorf("apns's total: %v", got)
	}
	only := pushStats(t, srv, url.Values{"from": q["from"], "to": q["to"], "vendor": {"huawei"}})
	if len(only.Buckets) != 2 || len(only.Totals) != 1 || !only.total("huawei").same(statsCounts{Planned: 1, Sent: 1, Accepted: 1, Clicked: 1}) {
		t.Errorf("huawei only: %+v", only)
	}

	// Prometheus counts the same.
	for _, v := range []string{"apns", "xiaomi", "huawei", "vivo"} {
		tot := a.total(v)
		for _, m := range []struct {
			name string
			want int64
		}{
			{`herald_push_sent_total{vendor="` + v + `"}`, tot.Sent},
			{`herald_push_receipts_total{kind="arrived",vendor="` + v + `"}`, tot.Arrived},
			{`herald_push_receipts_total{kind="clicked",vendor="` + v + `"}`, tot.Clicked},
			{`herald_push_accepted_total{vendor="` + v + `"}`, tot.Accepted},
		} {
			if m.want == 0 {
				continue // a counter never incremented is not exposed
			}
			if got := srv.Metric(t, m.name); got != float64(m.want) {
				t.Errorf("%s = %v, the stats API says %d", m.name, got, m.want)
			}
		}
	}
	if got := srv.Metric(t, `herald_push_failed_total{reason="drop_device",vendor="vivo"}`); got != 1 {
		t.Errorf("vivo's drop_device failures: %v in Prometheus", got)
	}
}

// mintFor mints a login token of another app.
func mintFor(t *testing.T, appID, secret, user string, now time.Time) string {
	t.Helper()
	tok, err := token.Mint(appID, secret, user, 24*time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}
