package admin_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	apnsemu "github.com/heraldim/herald/internal/emulator/apns"
	fcmemu "github.com/heraldim/herald/internal/emulator/fcm"
	"github.com/heraldim/herald/internal/protocol"
	"github.com/heraldim/herald/internal/testkit"
)

// TestResourceValidation: a misconfigured resource is refused when it is
// created, with invalid_resource and a message naming the problem, and
// nothing is stored.
func TestResourceValidation(t *testing.T) {
	s := testkit.Start(t, nil)
	key, appID := s.App.AdminKey, s.App.AppID
	for _, c := range []struct {
		name, id string
		body     any
		inMsg    string
	}{
		{"unknown vendor key", "r1", `{"blackberry":{}}`, "blackberry"},
		{"unknown Android option", "r1", `{"huawei":{"category":"IM"}}`, "category"},
		{"pass-through where there is none", "r1", `{"vivo":{"kind":"data"}}`, "vivo has no pass-through"},
		{"unknown apns field", "r1", `{"apns":{"volume":3}}`, "volume"},
		{"apns bad push type", "r1", `{"apns":{"pushType":"silent"}}`, "silent"},
		{"apns sound with a path", "r1", `{"apns":{"sound":"../x.caf"}}`, "sound"},
		{"apns category too long", "r1", map[string]any{"apns": map[string]any{"category": strings.Repeat("c", 65)}}, "category"},
		{"fcm channel with a space", "r1", `{"fcm":{"channelID":"my channel"}}`, "channelID"},
		{"fcm channel with a slash", "r1", `{"fcm":{"channelID":"a/b"}}`, "channelID"},
		{"fcm bad priority", "r1", `{"fcm":{"priority":"urgent"}}`, "urgent"},
		{"voip on fcm", "r1", `{"fcm":{"kind":"voip"}}`, "VoIP"},
		{"fcm bad kind", "r1", `{"fcm":{"kind":"toast"}}`, "toast"},
		{"apns null", "r1", `{"apns":null}`, "apns"},
		{"badge not a bool", "r1", `{"badge":"yes"}`, "badge"},
		{"not JSON", "r1", `{`, "JSON"},
		{"an array", "r1", `[]`, "object"},
		{"bad resource ID", "bad%20id", `{"badge":true}`, "resource ID"},
	} {
		t.Run(c.name, func(t *testing.T) {
			st, b := api(t, "PUT", appURL(s, appID, "/push/resources/"+c.id), key, c.body)
			wantError(t, st, b, protocol.CodeInvalidResource)
			if msg, _ := b["message"].(string); !strings.Contains(msg, c.inMsg) {
				t.Errorf("message %q does not mention %q", msg, c.inMsg)
			}
		})
	}
	st, b := api(t, "GET", appURL(s, appID, "/push/resources"), key, nil)
	if st != 200 || len(b["resources"].([]any)) != 0 {
		t.Fatalf("a refused resource was stored: %d %v", st, b)
	}
}

// TestResourceLifecycle: PUT creates and replaces, GET and the listing
// show it, DELETE removes it; nothing crosses apps.
func TestResourceLifecycle(t *testing.T) {
	s := testkit.Start(t, nil)
	key, appID := s.App.AdminKey, s.App.AppID
	url := appURL(s, appID, "/push/resources/im.message")
	body := map[string]any{"apns": map[string]any{"sound": "msg.caf", "category": "MESSAGE", "pushType": "alert"},
		"fcm": map[string]any{"channelID": "im", "priority": "high", "kind": "notification"}, "badge": true}
	st, b := api(t, "PUT", url, key, body)
	if st != 200 || b["id"] != "im.message" || b["badge"] != true || b["apns"].(map[string]any)["sound"] != "msg.caf" ||
		b["fcm"].(map[string]any)["channelID"] != "im" || b["createdAt"] == nil {
		t.Fatalf("put: %d %v", st, b)
	}
	st, b = api(t, "PUT", url, key, map[string]any{"apns": map[string]any{"sound": "other.caf"}})
	if st != 200 || b["fcm"] != nil || b["badge"] != false || b["apns"].(map[string]any)["sound"] != "other.caf" {
		t.Fatalf("replace: %d %v", st, b)
	}
	if st, b = api(t, "GET", url, key, nil); st != 200 || b["apns"].(map[string]any)["sound"] != "other.caf" {
		t.Fatalf("get: %d %v", st, b)
	}
	if st, b = api(t, "PUT", appURL(s, appID, "/push/resources/call"), key, `{"apns":{"pushType":"voip"}}`); st != 200 {
		t.Fatalf("put call: %d %v", st, b)
	}
	st, b = api(t, "GET", appURL(s, appID, "/push/resources"), key, nil)
	list, _ := b["resources"].([]any)
	if st != 200 || len(list) != 2 || list[0].(map[string]any)["id"] != "call" {
		t.Fatalf("list: %d %v", st, b)
	}

	other := s.CreateApp(t, "other")
	st, b = api(t, "GET", appURL(s, other.AppID, "/push/resources/call"), other.AdminKey, nil)
	wantError(t, st, b, protocol.CodeNotFound)
	st, b = api(t, "DELETE", appURL(s, other.AppID, "/push/resources/call"), other.AdminKey, nil)
	wantError(t, st, b, protocol.CodeNotFound)
	if st, b = api(t, "GET", appURL(s, other.AppID, "/push/resources"), other.AdminKey, nil); st != 200 || len(b["resources"].([]any)) != 0 {
		t.Fatalf("other app sees %d %v", st, b)
	}

	if st, _ = api(t, "DELETE", url, key, nil); st != 204 {
		t.Fatalf("delete: %d", st)
	}
	st, b = api(t, "GET", url, key, nil)
	wantError(t, st, b, protocol.CodeNotFound)
	st, b = api(t, "DELETE", url, key, nil)
	wantError(t, st, b, protocol.CodeNotFound)
}

// offline waits until user has no session.
func offline(t *testing.T, s *testkit.Server, user string) {
	t.Helper()
	for deadline := time.Now().Add(wait); s.Online(user); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s still online", user)
		}
	}
}

func apnsDeliveries(t *testing.T, em *apnsemu.Emulator, tok string, n int) []apnsemu.Delivery {
	t.Helper()
	for deadline := time.Now().Add(wait); ; time.Sleep(10 * time.Millisecond) {
		if ds := em.Deliveries(tok); len(ds) >= n {
			return ds
		}
		if time.Now().After(deadline) {
			t.Fatalf("APNs got %d pushes, want %d", len(em.Deliveries(tok)), n)
		}
	}
}

func send(t *testing.T, c *testkit.Client, to, localID string, pc *protocol.PushConfig) {
	t.Helper()
	if err := c.Call(protocol.TypeSend, protocol.SendRequest{ConversationID: to, LocalMessageID: localID,
		Type: protocol.MessageText, Text: "hi", PushConfig: pc}, nil); err != nil {
		t.Fatal(err)
	}
}

// TestResourceDelivery: a message's resourcesID reaches the vendors as the
// resource says (sound, category and the unread badge on APNs; channel and
// priority on FCM); a replaced resource applies at once; an unknown one
// sends with the defaults and the trace says so.
func TestResourceDelivery(t *testing.T) {
	s := testkit.Start(t, nil)
	key, appID := s.App.AdminKey, s.App.AppID
	emA, apnsCred := apnsEmu(t)
	emF, fcmCred, _ := fcmEmu(t)
	for v, cred := range map[string]map[string]any{"apns": apnsCred, "fcm": fcmCred} {
		if st, b := api(t, "PUT", appURL(s, appID, "/push/credentials/"+v), key, cred); st != 200 {
			t.Fatalf("put %s: %d %v", v, st, b)
		}
	}
	if st, b := api(t, "PUT", appURL(s, appID, "/push/resources/msg"), key, map[string]any{
		"apns": map[string]any{"sound": "msg.caf", "category": "MESSAGE"},
		"fcm":  map[string]any{"channelID": "im_messages", "priority": "normal"}, "badge": true}); st != 200 {
		t.Fatalf("put resource: %d %v", st, b)
	}
	atok := emA.RegisterDevice(bundle, apnsemu.Development, false)
	bob, _ := register(t, s, "bob", protocol.PushRegistration{Vendor: "apns", Token: atok, Environment: "development", BundleID: bundle})
	ftok := emF.RegisterDevice("herald-test", bundle)
	dave, _ := register(t, s, "dave", protocol.PushRegistration{Vendor: "fcm", Token: ftok, Environment: "production", BundleID: bundle})
	bob.Close()
	dave.Close()
	offline(t, s, "bob")
	offline(t, s, "dave")
	alice := s.LoginAs(t, "alice", "android", "a")
	carol := s.LoginAs(t, "carol", "android", "c")
	pc := &protocol.PushConfig{Title: "New", Content: "message", ResourcesID: "msg"}

	// Two conversations: the badge is bob's unread count across both.
	send(t, alice, "bob", "m1", pc)
	apnsDeliveries(t, emA, atok, 1)
	send(t, carol, "bob", "m2", pc)
	ds := apnsDeliveries(t, emA, atok, 2)
	for i, d := range ds {
		aps := d.Aps()
		if aps["sound"] != "msg.caf" || aps["category"] != "MESSAGE" || aps["badge"] != float64(i+1) || d.PushType != "alert" {
			t.Fatalf("push %d: aps %v (type %s)", i, aps, d.PushType)
		}
	}

	send(t, alice, "dave", "m3", pc)
	var fd fcmemu.Delivery
	for deadline := time.Now().Add(wait); ; time.Sleep(10 * time.Millisecond) {
		if l := emF.Deliveries(ftok); len(l) == 1 {
			fd = l[0]
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("FCM got no push")
		}
	}
	if a := fd.Message.Android; a == nil || a.Priority != "NORMAL" || a.Notification == nil || a.Notification.ChannelID != "im_messages" {
		t.Fatalf("FCM got %s", fd.Raw)
	}

	// Replaced: the dispatcher's cached copy goes with it.
	if st, b := api(t, "PUT", appURL(s, appID, "/push/resources/msg"), key, map[string]any{"apns": map[string]any{"sound": "new.caf"}}); st != 200 {
		t.Fatalf("replace resource: %d %v", st, b)
	}
	send(t, alice, "bob", "m4", pc)
	ds = apnsDeliveries(t, emA, atok, 3)
	if aps := ds[2].Aps(); aps["sound"] != "new.caf" || aps["category"] != nil || aps["badge"] != nil {
		t.Fatalf("after replace: aps %v", aps)
	}

	// Unknown (here: deleted) resource: defaults, and the trace says why.
	if st, _ := api(t, "DELETE", appURL(s, appID, "/push/resources/msg"), key, nil); st != 204 {
		t.Fatalf("delete: %d", st)
	}
	send(t, alice, "bob", "m5", pc)
	ds = apnsDeliveries(t, emA, atok, 4)
	if aps := ds[3].Aps(); aps["sound"] != "default" || aps["category"] != nil {
		t.Fatalf("unknown resource: aps %v", aps)
	}
	var tr struct {
		Jobs []struct {
			Status   string `json:"status"`
			Reason   string `json:"reason"`
			Attempts []struct {
				Reason string `json:"reason"`
			} `json:"attempts"`
		} `json:"jobs"`
	}
	for deadline := time.Now().Add(wait); ; time.Sleep(10 * time.Millisecond) {
		_, raw := apiRaw(t, "GET", appURL(s, appID, "/push/trace?userID=bob&limit=1"), key, nil)
		if err := json.Unmarshal(raw, &tr); err != nil {
			t.Fatal(err)
		}
		if len(tr.Jobs) == 1 && tr.Jobs[0].Status == "delivered" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("trace: %s", raw)
		}
	}
	if j := tr.Jobs[0]; !strings.Contains(j.Reason, `resourcesID "msg" not found`) || !strings.HasPrefix(j.Reason, ds[3].APNSID) ||
		len(j.Attempts) != 1 || j.Attempts[0].Reason != j.Reason {
		t.Fatalf("trace of the unknown resource's push: %+v", j)
	}
}

// TestSend: an app backend pushes a user's devices (or given devices)
// without a message; bad requests queue nothing.
func TestSend(t *testing.T) {
	s := testkit.Start(t, nil)
	key, appID := s.App.AdminKey, s.App.AppID
	em, cred := apnsEmu(t)
	if st, b := api(t, "PUT", appURL(s, appID, "/push/credentials/apns"), key, cred); st != 200 {
		t.Fatalf("put: %d %v", st, b)
	}
	if st, b := api(t, "PUT", appURL(s, appID, "/push/resources/promo"), key, `{"apns":{"sound":"promo.caf"}}`); st != 200 {
		t.Fatalf("put resource: %d %v", st, b)
	}
	tok1 := em.RegisterDevice(bundle, apnsemu.Development, false)
	tok2 := em.RegisterDevice(bundle, apnsemu.Development, false)
	c1, _ := register(t, s, "bob", protocol.PushRegistration{Vendor: "apns", Token: tok1, Environment: "development", BundleID: bundle})
	c2, push2 := register(t, s, "erin", protocol.PushRegistration{Vendor: "apns", Token: tok2, Environment: "development", BundleID: bundle})
	c1.Close()
	c2.Close()
	sendURL := appURL(s, appID, "/push/send")

	bad := []struct {
		name string
		body any
		code protocol.Code
	}{
		{"no targets", map[string]any{"title": "x"}, protocol.CodeInvalidArgument},
		{"both targets", map[string]any{"userIDs": []string{"bob"}, "pushIDs": []string{push2}, "title": "x"}, protocol.CodeInvalidArgument},
		{"too many", map[string]any{"userIDs": manyUsers(1001), "title": "x"}, protocol.CodeInvalidArgument},
		{"bad user", map[string]any{"userIDs": []string{"bo b"}, "title": "x"}, protocol.CodeInvalidUserID},
		{"empty pushID", map[string]any{"pushIDs": []string{""}, "title": "x"}, protocol.CodeInvalidArgument},
		{"nothing to say", map[string]any{"userIDs": []string{"bob"}}, protocol.CodeInvalidPushConfig},
		{"title too long", map[string]any{"userIDs": []string{"bob"}, "title": strings.Repeat("t", protocol.MaxPushTitleBytes+1)}, protocol.CodeInvalidPushConfig},
		{"payload too long", map[string]any{"userIDs": []string{"bob"}, "payload": strings.Repeat("p", protocol.MaxPushPayloadBytes+1)}, protocol.CodeInvalidPushConfig},
		{"bad resourcesID", map[string]any{"userIDs": []string{"bob"}, "title": "x", "resourcesID": "a b"}, protocol.CodeInvalidPushConfig},
		{"negative ttl", map[string]any{"userIDs": []string{"bob"}, "title": "x", "ttlSeconds": -1}, protocol.CodeInvalidArgument},
		{"ttl over 28 days", map[string]any{"userIDs": []string{"bob"}, "title": "x", "ttlSeconds": 28*24*3600 + 1}, protocol.CodeInvalidArgument},
		{"unknown field", map[string]any{"userIDs": []string{"bob"}, "title": "x", "badge": 3}, protocol.CodeInvalidArgument},
	}
	for _, c := range bad {
		st, b := api(t, "POST", sendURL, key, c.body)
		if st != c.code.HTTPStatus() || b["code"] != float64(c.code) {
			t.Errorf("%s: %d %v, want code %d", c.name, st, b, c.code)
		}
	}
	st, b := api(t, "GET", appURL(s, appID, "/push/trace?userID=bob"), key, nil)
	if st != 200 || len(b["jobs"].([]any)) != 0 {
		t.Fatalf("refused sends queued jobs: %v", b)
	}

	// By user (a repeated user counts once), with a resource and a TTL.
	st, b = api(t, "POST", sendURL, key, map[string]any{"userIDs": []string{"bob", "bob", "nobody"}, "title": "Sale",
		"content": "50% off", "payload": `{"id":7}`, "resourcesID": "promo", "ttlSeconds": 3600})
	if st != 200 || b["jobs"] != float64(1) || len(b["jobIDs"].([]any)) != 1 {
		t.Fatalf("send to bob: %d %v", st, b)
	}
	ds := apnsDeliveries(t, em, tok1, 1)
	aps := ds[0].Aps()
	alert, _ := aps["alert"].(map[string]any)
	if alert["title"] != "Sale" || alert["body"] != "50% off" || aps["sound"] != "promo.caf" || ds[0].Payload["payload"] != `{"id":7}` ||
		ds[0].Expiration.IsZero() {
		t.Fatalf("APNs got %+v", ds[0])
	}
	var tr struct {
		Jobs []struct {
			ID        string `json:"id"`
			MessageID string `json:"messageID"`
			Status    string `json:"status"`
		} `json:"jobs"`
	}
	for deadline := time.Now().Add(wait); ; time.Sleep(10 * time.Millisecond) {
		_, raw := apiRaw(t, "GET", appURL(s, appID, "/push/trace?userID=bob"), key, nil)
		_ = json.Unmarshal(raw, &tr)
		if len(tr.Jobs) == 1 && tr.Jobs[0].Status == "delivered" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("trace: %s", raw)
		}
	}
	if j := tr.Jobs[0]; j.MessageID != "0" || j.ID != fmt.Sprint(b["jobIDs"].([]any)[0]) {
		t.Fatalf("trace job %+v, send answered %v", j, b)
	}

	// By PushID; an unknown one is skipped.
	st, b = api(t, "POST", sendURL, key, map[string]any{"pushIDs": []string{push2, "Dunknown"}, "payload": "data only"})
	if st != 200 || b["jobs"] != float64(1) {
		t.Fatalf("send to a PushID: %d %v", st, b)
	}
	if d := apnsDeliveries(t, em, tok2, 1)[0]; d.PushType != "background" || d.Payload["payload"] != "data only" {
		t.Fatalf("APNs got %+v", d)
	}
	if n := len(em.Deliveries(tok1)); n != 1 {
		t.Fatalf("bob got %d pushes", n)
	}
	// Nobody to push: no jobs, no error.
	if st, b = api(t, "POST", sendURL, key, map[string]any{"userIDs": []string{"nobody"}, "title": "x"}); st != 200 || b["jobs"] != float64(0) {
		t.Fatalf("send to nobody: %d %v", st, b)
	}
}

func manyUsers(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("u%d", i)
	}
	return out
}
