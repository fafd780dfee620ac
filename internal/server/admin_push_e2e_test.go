package server_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	fcmemu "github.com/heraldim/herald/internal/emulator/fcm"
	huaweiemu "github.com/heraldim/herald/internal/emulator/huawei"
	oppoemu "github.com/heraldim/herald/internal/emulator/oppo"
	xiaomiemu "github.com/heraldim/herald/internal/emulator/xiaomi"
	"github.com/heraldim/herald/internal/protocol"
	"github.com/heraldim/herald/internal/push"
	"github.com/heraldim/herald/internal/testkit"
)

// mustAdmin makes an admin call that must answer want.
func mustAdmin(t *testing.T, s *testkit.Server, want int, method, path string, body any) map[string]any {
	t.Helper()
	st, b := adminCall(t, s, method, path, body)
	if st != want {
		t.Fatalf("%s %s: %d %v, want %d", method, path, st, b, want)
	}
	return b
}

// TestHuaweiBadgeWithClass: the Huawei credential carries the app's
// launcher Activity (badgeClass); a badge resource's push reaches the
// strict emulator (which refuses a badge without class, 80100001) with
// badge.class and set_num = the recipient's unread count, as a message of
// the IM category when the credential says self-classified.
func TestHuaweiBadgeWithClass(t *testing.T) {
	s := testkit.Start(t, nil)
	em := startHuawei(t, s)
	// The credential says self-classified: the app holds Huawei's
	// entitlement (without it the emulator refuses category IM, 80300011).
	em.SetSelfClassified("10086", true)
	tok := em.RegisterDevice("10086")
	const class = "com.example.chat.MainActivity"
	cred := map[string]any{"appID": "10086", "clientSecret": "hw-secret", "selfClassified": true, "badgeClass": class,
		"baseURL": em.URL(), "tokenURL": em.TokenURL(), "caPEM": string(em.CACertPEM())}
	if b := mustAdmin(t, s, 200, "PUT", "/push/credentials/huawei", cred); b["badgeClass"] != class || b["selfClassified"] != true {
		t.Fatalf("credential view %v lacks badgeClass or selfClassified", b)
	}
	mustAdmin(t, s, 200, "PUT", "/push/resources/msg", map[string]any{"badge": true, "huawei": map[string]any{"channelID": "im"}})

	goOffline(t, s, "bob", protocol.PushRegistration{Vendor: "huawei", Token: tok, Environment: "production", BundleID: pkg})
	sender := s.LoginAs(t, "alice", "server", "script")
	sender.SyncDone(wait)
	sendWithPush(t, sender, "bob", "m1", &protocol.PushConfig{Title: "Alice", Content: "one"})
	sendWithPush(t, sender, "bob", "m2", &protocol.PushConfig{Title: "Alice", Content: "two", ResourcesID: "msg"})
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	// The two pushes go out concurrently: pick m2's by its content.
	var last huaweiemu.Delivery
	for range 2 {
		d, err := em.Next(ctx, tok)
		if err != nil {
			t.Fatalf("Huawei got no push: %v (trace %+v)", err, jobsFor(t, s, "bob"))
		}
		if a := d.Message.Android; a != nil && a.Notification != nil && a.Notification.Body == "two" {
			last = d
		}
	}
	a := last.Message.Android
	if a == nil || a.Notification == nil || a.Notification.Badge == nil {
		t.Fatalf("no badge in %s", last.Raw)
	}
	b := a.Notification.Badge
	if b.Class != class || b.SetNum == nil || *b.SetNum != 2 || b.AddNum != nil {
		t.Fatalf("badge %+v (raw %s), want class %s set_num 2", b, last.Raw, class)
	}
	if a.Category != "IM" || a.Notification.Importance != "NORMAL" || a.Notification.ChannelID != "im" {
		t.Fatalf("category %q importance %q channel %q, want IM NORMAL im", a.Category, a.Notification.Importance, a.Notification.ChannelID)
	}
	waitJob(t, s, "bob", push.JobDelivered)
}

// TestFCMDefaultChannel: an FCM credential's defaultChannelID is the
// channel of every notification whose resource names none; a resource's
// channel wins.
func TestFCMDefaultChannel(t *testing.T) {
	s := testkit.Start(t, nil)
	em, err := fcmemu.New(fcmemu.Config{})
	serveEmulator(t, s, em, err)
	em.AddProject("herald-test")
	sa, err := em.CreateServiceAccount("herald-test")
	if err != nil {
		t.Fatal(err)
	}
	cred := map[string]any{"serviceAccountJSON": json.RawMessage(sa), "baseURL": em.URL(), "tokenURL": em.TokenURL(),
		"caPEM": string(em.CACertPEM()), "defaultChannelID": "im_messages"}
	if st, b := adminCall(t, s, "PUT", "/push/credentials/fcm", map[string]any{"serviceAccountJSON": json.RawMessage(sa), "defaultChannelID": "bad channel"}); st != 400 || b["code"] != float64(protocol.CodeInvalidArgument) {
		t.Fatalf("bad defaultChannelID: %d %v", st, b)
	}
	if b := mustAdmin(t, s, 200, "PUT", "/push/credentials/fcm", cred); b["defaultChannelID"] != "im_messages" {
		t.Fatalf("credential view %v lacks defaultChannelID", b)
	}
	mustAdmin(t, s, 200, "PUT", "/push/resources/call", map[string]any{"fcm": map[string]any{"channelID": "calls"}})
	tok := em.RegisterDevice("herald-test", pkg)
	goOffline(t, s, "bob", protocol.PushRegistration{Vendor: "fcm", Token: tok, Environment: "production", BundleID: pkg})
	sender := s.LoginAs(t, "alice", "server", "script")
	sender.SyncDone(wait)
	sendWithPush(t, sender, "bob", "m1", &protocol.PushConfig{Title: "Alice", Content: "one"})
	sendWithPush(t, sender, "bob", "m2", &protocol.PushConfig{Title: "Alice", Content: "two", ResourcesID: "nothing"})
	sendWithPush(t, sender, "bob", "m3", &protocol.PushConfig{Title: "Alice", Content: "three", ResourcesID: "call"})
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	got := map[string]string{}
	for range 3 {
		d, err := em.Next(ctx, tok)
		if err != nil {
			t.Fatalf("FCM got no push: %v (trace %+v)", err, jobsFor(t, s, "bob"))
		}
		if d.Message.Android == nil || d.Message.Android.Notification == nil || d.Message.Notification == nil {
			t.Fatalf("not a notification: %s", d.Raw)
		}
		got[d.Message.Notification.Body] = d.Message.Android.Notification.ChannelID
	}
	if got["one"] != "im_messages" || got["two"] != "im_messages" || got["three"] != "calls" {
		t.Fatalf("channels by push %v, want one, two: im_messages, three: calls", got)
	}
}

// TestOPPODefaults: a bare OPPO credential sends IM pushes as OPPO's
// communication class (category IM, notify_level 2); without a private
// channel they count against the public daily quota, which the strict
// emulator enforces (code 33: the push is held), while the credential's
// private channel keeps them out of it.
func TestOPPODefaults(t *testing.T) {
	s := testkit.Start(t, nil)
	em, err := oppoemu.New(oppoemu.Config{PublicDailyLimit: 1})
	serveEmulator(t, s, em, err)
	app := em.CreateApp(pkg, "im")
	tok, err := em.RegisterDevice(app.AppKey)
	if err != nil {
		t.Fatal(err)
	}
	bare := map[string]any{"appKey": app.AppKey, "masterSecret": app.MasterSecret, "baseURL": em.URL(), "caPEM": string(em.CACertPEM())}
	private := map[string]any{"channelID": "im"}
	for k, v := range bare {
		private[k] = v
	}
	if b := mustAdmin(t, s, 200, "PUT", "/push/credentials/oppo", private); b["category"] != "IM" || b["notifyLevel"] != float64(2) {
		t.Fatalf("credential view %v: want the category and notify level sent (IM, 2)", b)
	}
	goOffline(t, s, "bob", protocol.PushRegistration{Vendor: "oppo", Token: tok, Environment: "production", BundleID: pkg})
	sender := s.LoginAs(t, "alice", "server", "script")
	sender.SyncDone(wait)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	next := func(want string) oppoemu.Notification {
		t.Helper()
		d, err := em.Next(ctx, tok)
		if err != nil {
			t.Fatalf("OPPO got no push: %v (trace %+v)", err, jobsFor(t, s, "bob"))
		}
		if d.Notification.Content != want {
			t.Fatalf("OPPO got %q, want %q", d.Notification.Content, want)
		}
		return d.Notification
	}
	// On the private channel: over the public limit of 1, all delivered.
	for _, c := range []string{"p1", "p2"} {
		sendWithPush(t, sender, "bob", c, &protocol.PushConfig{Title: "Alice", Content: c})
		n := next(c)
		if n.ChannelID != "im" || n.Category != "IM" || n.NotifyLevel != 2 {
			t.Fatalf("private push %+v, want channel im, category IM, notify level 2", n)
		}
	}
	// Bare: still the IM class, but public: the second is over the quota.
	mustAdmin(t, s, 200, "PUT", "/push/credentials/oppo", bare)
	sendWithPush(t, sender, "bob", "b1", &protocol.PushConfig{Title: "Alice", Content: "b1"})
	if n := next("b1"); n.ChannelID != "" || n.Category != "IM" || n.NotifyLevel != 2 {
		t.Fatalf("bare push %+v, want no channel, category IM, notify level 2", n)
	}
	waitJob(t, s, "bob", push.JobDelivered)
	sendWithPush(t, sender, "bob", "b2", &protocol.PushConfig{Title: "Alice", Content: "b2"})
	waitReason(t, s, "bob", "held: vendor quota exhausted until ")
}

// TestTestPushIsTheDispatchersPush: the admin test push is built as the
// dispatcher builds a job's push. A data push (no title or content) to
// Xiaomi, which hands no pass-through message to a killed app, is reported
// failed with the reason and never sent; a push naming a resource gets the
// resource's channel; one naming no resource says so in its note.
func TestTestPushIsTheDispatchersPush(t *testing.T) {
	s := testkit.Start(t, nil)
	em, err := xiaomiemu.New(xiaomiemu.Config{})
	serveEmulator(t, s, em, err)
	if err := em.AddApp(pkg, "mi-secret", "im", "promo"); err != nil {
		t.Fatal(err)
	}
	tok := em.RegisterDevice(pkg)
	mustAdmin(t, s, 200, "PUT", "/push/credentials/xiaomi", map[string]any{"appSecret": "mi-secret", "packageName": pkg, "channelID": "im",
		"baseURL": em.URL(), "caPEM": string(em.CACertPEM())})
	mustAdmin(t, s, 200, "PUT", "/push/resources/promo", map[string]any{"xiaomi": map[string]any{"channelID": "promo"}})
	pushID := goOffline(t, s, "bob", protocol.PushRegistration{Vendor: "xiaomi", Token: tok, Environment: "production", BundleID: pkg})

	b := mustAdmin(t, s, 200, "POST", "/push/test", map[string]any{"pushID": pushID, "payload": "p"})
	if b["outcome"] != "failed" || !strings.Contains(b["reason"].(string), "no pass-through") || b["kind"] != "data" {
		t.Fatalf("data test push to Xiaomi: %v, want failed: no pass-through", b)
	}
	if n := len(em.Deliveries(tok)); n != 0 {
		t.Fatalf("the failed test push reached Xiaomi: %d deliveries", n)
	}

	b = mustAdmin(t, s, 200, "POST", "/push/test", map[string]any{"pushID": pushID, "title": "Hi", "content": "there", "resourcesID": "promo"})
	ds := em.Deliveries(tok)
	if b["outcome"] != "delivered" || b["kind"] != "alert" || len(ds) != 1 || ds[0].ChannelID != "promo" || ds[0].PassThrough {
		t.Fatalf("test push with a resource: %v, deliveries %+v", b, ds)
	}
	b = mustAdmin(t, s, 200, "POST", "/push/test", map[string]any{"pushID": pushID, "title": "Hi", "content": "again", "resourcesID": "gone"})
	ds = em.Deliveries(tok)
	if b["outcome"] != "delivered" || !strings.Contains(b["note"].(string), `resourcesID "gone" not found`) || len(ds) != 2 || ds[1].ChannelID != "im" {
		t.Fatalf("test push naming no resource: %v, deliveries %+v", b, ds)
	}
	if st, b := adminCall(t, s, "POST", "/push/test", map[string]any{"pushID": pushID, "title": "x", "resourcesID": "bad id"}); st != 400 || b["code"] != float64(protocol.CodeInvalidPushConfig) {
		t.Fatalf("bad resourcesID: %d %v", st, b)
	}
	if jobs := jobsFor(t, s, "bob"); len(jobs) != 0 {
		t.Fatalf("test pushes wrote jobs: %+v", jobs)
	}
}
