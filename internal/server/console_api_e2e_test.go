package server_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	apnsemu "github.com/heraldim/herald/internal/emulator/apns"
	"github.com/heraldim/herald/internal/protocol"
	"github.com/heraldim/herald/internal/push"
	"github.com/heraldim/herald/internal/testkit"
)

// TestConsoleUserDevices: a user's devices list shows each bound device
// (vendor, environment, switch, VoIP) and none of another user's; deleting
// one unregisters it as the device's own unregisterPush does (gone,
// recorded as removed in the trace); bad input and a device not bound to
// the user are refused and change nothing.
func TestConsoleUserDevices(t *testing.T) {
	s := testkit.Start(t, nil)
	bob := loginPlain(t, s, "bob")
	ios := protocol.PushRegistration{Vendor: "apns", Token: strings.Repeat("ab", 32), VoIPToken: strings.Repeat("cd", 32),
		Environment: "development", BundleID: bundle}
	iosID, perr := registerPush(bob, ios)
	if perr != nil {
		t.Fatal(perr)
	}
	carol := loginPlain(t, s, "carol")
	carolID, perr := registerPush(carol, protocol.PushRegistration{Vendor: "apns", Token: strings.Repeat("ef", 32),
		Environment: "production", BundleID: bundle})
	if perr != nil {
		t.Fatal(perr)
	}

	b := mustAdmin(t, s, 200, "GET", "/users/bob/devices", nil)
	devs, _ := b["devices"].([]any)
	if b["userID"] != "bob" || len(devs) != 1 {
		t.Fatalf("bob's devices %v, want his one", b)
	}
	d := devs[0].(map[string]any)
	if d["pushID"] != iosID || d["vendor"] != "apns" || d["environment"] != "development" || d["bound"] != true ||
		d["userID"] != "bob" || d["enabled"] != true || d["voip"] != true || d["bundleID"] != bundle ||
		d["registeredAt"] == "" || d["updatedAt"] == "" {
		t.Fatalf("bob's device %v", d)
	}
	if _, ok := d["token"]; ok {
		t.Fatalf("the device view shows its token: %v", d)
	}
	if b := mustAdmin(t, s, 200, "GET", "/users/nobody/devices", nil); len(b["devices"].([]any)) != 0 {
		t.Fatalf("nobody's devices %v", b)
	}

	// Refused, nothing changes: a bad user ID, carol's device under bob,
	// an unknown PushID.
	wantAdminCode(t, s, protocol.CodeInvalidUserID, "GET", "/users/a:b/devices", nil)
	wantAdminCode(t, s, protocol.CodeInvalidUserID, "DELETE", "/users/a:b/devices/"+iosID, nil)
	wantAdminCode(t, s, protocol.CodeNotFound, "DELETE", "/users/bob/devices/"+carolID, nil)
	wantAdminCode(t, s, protocol.CodeNotFound, "DELETE", "/users/bob/devices/nope", nil)
	if user, on := deviceUser(t, s, carolID); user != "carol" || !on {
		t.Fatalf("carol's device after a refused delete: %q %v", user, on)
	}

	mustAdmin(t, s, 204, "DELETE", "/users/bob/devices/"+iosID, nil)
	if b := mustAdmin(t, s, 200, "GET", "/users/bob/devices", nil); len(b["devices"].([]any)) != 0 {
		t.Fatalf("bob's devices after the delete %v", b)
	}
	if _, err := s.Srv.PushDevice(t.Context(), s.App.AppID, iosID); err == nil {
		t.Fatal("the deleted device is still registered")
	}
	wantEvents(t, s, iosID, "bound ->bob", "removed bob>-")
	wantAdminCode(t, s, protocol.CodeNotFound, "DELETE", "/users/bob/devices/"+iosID, nil)
}

// emulatorCall makes a call under /emulator with the app's admin key
// (key "" for none), returning the status and body.
func emulatorCall(t *testing.T, url, key, method string, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestConsoleEmulatedPhones: without emulated phones the app's emulator
// state says so and the phones' paths are 40400; once the server serves
// them for the app, they answer under the admin API with its admin key
// (the path after /emulator as the phones API's) and not without it, and
// another app still gets 40400.
func TestConsoleEmulatedPhones(t *testing.T) {
	s := testkit.Start(t, nil)
	if b := mustAdmin(t, s, 200, "GET", "/emulator", nil); b["emulating"] != false || b["phonesPath"] != "" {
		t.Fatalf("emulator state %v, want not emulating", b)
	}
	wantAdminCode(t, s, protocol.CodeNotFound, "GET", "/emulator/phones/x", nil)

	var got []string
	phones := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Method+" "+r.URL.Path+" auth="+r.Header.Get("Authorization"))
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":"p1"}`)
	})
	s.Srv.SetEmulatedPhones(s.App.AppID, phones)
	base := s.HTTP + "/v1/apps/" + s.App.AppID
	if b := mustAdmin(t, s, 200, "GET", "/emulator", nil); b["emulating"] != true || b["phonesPath"] != "/v1/apps/"+s.App.AppID+"/emulator/phones/" {
		t.Fatalf("emulator state %v, want emulating", b)
	}
	if st, b := emulatorCall(t, base+"/emulator/phones", s.App.AdminKey, "POST", `{}`); st != 200 || b != `{"id":"p1"}` {
		t.Fatalf("POST phones: %d %s", st, b)
	}
	if st, _ := emulatorCall(t, base+"/emulator/phones/p1/events", s.App.AdminKey, "GET", ""); st != 200 {
		t.Fatalf("GET events: %d", st)
	}
	if st, _ := emulatorCall(t, base+"/emulator/phones/p1", "", "GET", ""); st != 401 {
		t.Fatalf("without the admin key: %d, want 401", st)
	}
	if want := "POST /phones auth=,GET /phones/p1/events auth="; strings.Join(got, ",") != want {
		t.Fatalf("the phones API got %q, want %q", got, want)
	}

	other, err := s.Srv.CreateApp(t.Context(), "other")
	if err != nil {
		t.Fatal(err)
	}
	st, b := emulatorCall(t, s.HTTP+"/v1/apps/"+other.AppID+"/emulator/phones", other.AdminKey, "POST", `{}`)
	if st != 404 || !strings.Contains(b, "40400") {
		t.Fatalf("another app's phones: %d %s, want 404 40400", st, b)
	}
	s.Srv.SetEmulatedPhones(s.App.AppID, nil)
	wantAdminCode(t, s, protocol.CodeNotFound, "POST", "/emulator/phones", map[string]any{})
}

// TestConsoleOverview: the overview counts this app's live users and
// sessions by platform, its messages of the last minute, and its pushes
// (a job for a vendor without credential fails, and shows as such within
// 5 minutes); another app's overview sees none of it.
func TestConsoleOverview(t *testing.T) {
	s := testkit.Start(t, nil)
	other, err := s.Srv.CreateApp(t.Context(), "other")
	if err != nil {
		t.Fatal(err)
	}
	bob := loginPlain(t, s, "bob")
	if _, perr := registerPush(bob, protocol.PushRegistration{Vendor: "apns", Token: strings.Repeat("ab", 32),
		Environment: "development", BundleID: bundle}); perr != nil {
		t.Fatal(perr)
	}
	dropAndWait(t, s, bob, "bob")
	alice := loginPlain(t, s, "alice")
	script := s.LoginAs(t, "alice", "server", "script")
	script.SyncDone(wait)
	sendWithPush(t, alice, "bob", "m1", &protocol.PushConfig{Title: "Alice", Content: "hello"})
	sendWithPush(t, alice, "bob", "m2", nil)
	job := waitJob(t, s, "bob", push.JobFailed)

	b := mustAdmin(t, s, 200, "GET", "/overview", nil)
	ss := b["sessions"].(map[string]any)
	bp := ss["byPlatform"].(map[string]any)
	if ss["users"] != float64(1) || ss["sessions"] != float64(2) || bp["ios"] != float64(1) || bp["server"] != float64(1) {
		t.Fatalf("sessions %v, want alice with an ios and a server session", ss)
	}
	if b["messagesLastMinute"] != float64(2) {
		t.Fatalf("messagesLastMinute %v, want 2", b["messagesLastMinute"])
	}
	if q := b["pushQueue"].([]any); len(q) != 0 {
		t.Fatalf("pushQueue %v, want none open", q)
	}
	found := false
	for _, o := range b["pushOutcomes"].([]any) {
		o := o.(map[string]any)
		if o["vendor"] == "apns" && o["kind"] == "job" && o["outcome"] == "failed" {
			found = o["last5m"] == float64(1) && o["last1h"] == float64(1)
		}
	}
	if !found {
		t.Fatalf("pushOutcomes %v, want apns job failed once (job %+v)", b["pushOutcomes"], job)
	}

	req, _ := http.NewRequest("GET", s.HTTP+"/v1/apps/"+other.AppID+"/overview", nil)
	req.Header.Set("Authorization", "Bearer "+other.AdminKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var o map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&o); err != nil || resp.StatusCode != 200 {
		t.Fatalf("other app's overview: %d %v", resp.StatusCode, err)
	}
	if o["sessions"].(map[string]any)["users"] != float64(0) || o["messagesLastMinute"] != float64(0) ||
		len(o["pushOutcomes"].([]any)) != 0 || len(o["pushQueue"].([]any)) != 0 {
		t.Fatalf("another app's overview shows this app's figures: %v", o)
	}
}

// sendID sends a text message with push config pc (nil for none) and
// returns its message ID.
func sendID(t *testing.T, c *testkit.Client, to, localID string, pc *protocol.PushConfig) string {
	t.Helper()
	var r protocol.SendReply
	if err := c.Call(protocol.TypeSend, protocol.SendRequest{ConversationID: to, LocalMessageID: localID, Type: 1, Text: "hi", PushConfig: pc}, &r); err != nil {
		t.Fatal(err)
	}
	return r.MessageID
}

// wantExplain asks why message id was or was not pushed to user, and
// checks the verdict and reason; it returns the answer.
func wantExplain(t *testing.T, s *testkit.Server, id, user, verdict, reason string) map[string]any {
	t.Helper()
	b := mustAdmin(t, s, 200, "GET", "/push/explain?messageID="+id+"&userID="+user, nil)
	if b["verdict"] != verdict || b["reason"] != reason || b["detail"] == "" {
		t.Fatalf("explain %s to %s: %v, want %s %s", id, user, b, verdict, reason)
	}
	return b
}

// TestConsolePushExplain: the explanation reads each case from the stored
// data: an unknown message, a user outside the conversation, the sender, a
// message without push config, a recipient without devices, one online at
// the commit (an inference), a vendor without credential, and a push the
// vendor accepted; bad input is refused.
func TestConsolePushExplain(t *testing.T) {
	s := testkit.Start(t, nil)
	em := startAPNs(t, s)
	bob := loginPlain(t, s, "bob")
	// bob's phone is a Huawei one, a vendor the app has no credential
	// for; erin's iPhone is on the APNs emulator.
	if _, perr := registerPush(bob, protocol.PushRegistration{Vendor: "huawei", Token: strings.Repeat("ab", 32),
		Environment: "production", BundleID: bundle}); perr != nil {
		t.Fatal(perr)
	}
	erin := loginPlain(t, s, "erin")
	tok := em.RegisterDevice(bundle, apnsemu.Development, false)
	if _, perr := registerPush(erin, protocol.PushRegistration{Vendor: "apns", Token: tok,
		Environment: "development", BundleID: bundle}); perr != nil {
		t.Fatal(perr)
	}
	alice := loginPlain(t, s, "alice")
	pc := &protocol.PushConfig{Title: "Alice", Content: "hello"}

	// bob online: no job, devices eligible: delivered live (inferred).
	live := sendID(t, alice, "bob", "live", pc)
	if b := wantExplain(t, s, live, "bob", "not_pushed", "delivered_live"); b["inferred"] != true || len(b["devices"].([]any)) != 1 {
		t.Fatalf("live: %v, want inferred, with bob's device", b)
	}
	wantExplain(t, s, live, "alice", "not_pushed", "sender")
	wantExplain(t, s, live, "carol", "not_pushed", "not_in_conversation")
	wantExplain(t, s, "999999999", "bob", "not_pushed", "message_not_found")
	plain := sendID(t, alice, "bob", "plain", nil)
	wantExplain(t, s, plain, "bob", "not_pushed", "no_push_config")
	wantExplain(t, s, sendID(t, alice, "dave", "dave", pc), "dave", "not_pushed", "no_devices")

	dropAndWait(t, s, bob, "bob")
	dropAndWait(t, s, erin, "erin")
	off := sendID(t, alice, "bob", "off", pc)
	waitJob(t, s, "bob", push.JobFailed)
	b := wantExplain(t, s, off, "bob", "not_pushed", "vendor_not_configured")
	if d := b["devices"].([]any)[0].(map[string]any); d["credential"] != "missing" || d["eligible"] != true {
		t.Fatalf("bob's device in the explanation: %v", d)
	}
	if jobs := b["jobs"].([]any); len(jobs) != 1 || jobs[0].(map[string]any)["status"] != "failed" {
		t.Fatalf("bob's jobs in the explanation: %v", jobs)
	}
	delivered := sendID(t, alice, "erin", "erin", pc)
	waitJob(t, s, "erin", push.JobDelivered)
	wantExplain(t, s, delivered, "erin", "pushed", "delivered")

	wantAdminCode(t, s, protocol.CodeInvalidArgument, "GET", "/push/explain?messageID=abc&userID=bob", nil)
	wantAdminCode(t, s, protocol.CodeInvalidArgument, "GET", "/push/explain?userID=bob", nil)
	wantAdminCode(t, s, protocol.CodeInvalidUserID, "GET", "/push/explain?messageID="+off+"&userID=a:b", nil)
}

// TestConsolePushExplainGroup: a group message's explanation per member:
// one whose device's vendor has no credential, one without devices once
// the fan-out is done, and a user outside the group.
func TestConsolePushExplainGroup(t *testing.T) {
	s := testkit.Start(t, nil)
	bob := loginPlain(t, s, "bob")
	if _, perr := registerPush(bob, protocol.PushRegistration{Vendor: "huawei", Token: strings.Repeat("ab", 32),
		Environment: "production", BundleID: bundle}); perr != nil {
		t.Fatal(perr)
	}
	dropAndWait(t, s, bob, "bob")
	member(t, s, "carol").Close() // a known user, offline
	alice := member(t, s, "alice")
	created(t, protocol.GroupCreateRequest{GroupID: "g1", Name: "G", Members: []string{"bob", "carol"}}, alice)
	r, perr := sendGroup(t, alice, "g1", "gm1", "hi all", &protocol.PushConfig{Title: "G", Content: "hi"})
	mustOK(t, "send", perr)
	waitJob(t, s, "bob", push.JobFailed)
	b := wantExplain(t, s, r.MessageID, "bob", "not_pushed", "vendor_not_configured")
	if b["member"] != true || b["message"].(map[string]any)["convType"] != float64(protocol.ConversationGroup) {
		t.Fatalf("bob's explanation %v", b)
	}
	c := wantExplain(t, s, r.MessageID, "carol", "not_pushed", "no_devices")
	if f, _ := c["fanout"].(map[string]any); f == nil || f["inProgress"] != false {
		t.Fatalf("carol's fan-out %v, want done", c["fanout"])
	}
	wantExplain(t, s, r.MessageID, "dave", "not_pushed", "not_in_conversation")
}

// TestConsoleRetryingPushThenDeviceRemoved: a push the vendor answers with
// a passing fault waits for its retry: the explanation says throttled and
// the overview counts it in the queue; removing the device drops it
// (reason "removed by admin"), which the explanation then says.
func TestConsoleRetryingPushThenDeviceRemoved(t *testing.T) {
	s := testkit.Start(t, nil)
	em := startAPNs(t, s)
	tok := em.RegisterDevice(bundle, apnsemu.Development, false)
	em.InjectFault(tok, apnsemu.Fault{Kind: apnsemu.FaultUnavailable, RetryAfter: 50 * time.Second})
	bob := loginPlain(t, s, "bob")
	pushID, perr := registerPush(bob, protocol.PushRegistration{Vendor: "apns", Token: tok, Environment: "development", BundleID: bundle})
	if perr != nil {
		t.Fatal(perr)
	}
	dropAndWait(t, s, bob, "bob")
	alice := loginPlain(t, s, "alice")
	id := sendID(t, alice, "bob", "m1", &protocol.PushConfig{Title: "Alice", Content: "hello"})
	deadline := time.Now().Add(wait)
	for {
		jobs := jobsFor(t, s, "bob")
		if len(jobs) == 1 && jobs[0].Status == push.JobPending && jobs[0].Attempts >= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("bob's job never waited for a retry: %+v", jobs)
		}
		time.Sleep(10 * time.Millisecond)
	}
	wantExplain(t, s, id, "bob", "pending", "throttled")
	ov := mustAdmin(t, s, 200, "GET", "/overview", nil)
	q := ov["pushQueue"].([]any)
	if len(q) != 1 || q[0].(map[string]any)["vendor"] != "apns" || q[0].(map[string]any)["status"] != "pending" || q[0].(map[string]any)["jobs"] != float64(1) {
		t.Fatalf("pushQueue %v, want one pending apns job", q)
	}

	mustAdmin(t, s, 204, "DELETE", "/users/bob/devices/"+pushID, nil)
	j := waitJob(t, s, "bob", push.JobDropped)
	if j.Reason != "removed by admin" {
		t.Fatalf("dropped job's reason %q", j.Reason)
	}
	b := wantExplain(t, s, id, "bob", "not_pushed", "dropped")
	if len(b["devices"].([]any)) != 0 {
		t.Fatalf("the removed device is still listed: %v", b["devices"])
	}
	if q := mustAdmin(t, s, 200, "GET", "/overview", nil)["pushQueue"].([]any); len(q) != 0 {
		t.Fatalf("pushQueue after the removal %v", q)
	}
}

// TestRegisterDeviceFromServer: the app's server registers a device (a
// simulated phone in the console) and a test push reaches it; a bad
// registration is refused and stores nothing; with a user it is bound.
func TestRegisterDeviceFromServer(t *testing.T) {
	s := testkit.Start(t, nil)
	em := startAPNs(t, s)
	tok := em.RegisterDevice(bundle, apnsemu.Development, false)
	reg := map[string]any{"vendor": "apns", "token": tok, "environment": "development", "bundleID": bundle}
	b := mustAdmin(t, s, 200, "POST", "/push/devices", reg)
	pushID, _ := b["pushID"].(string)
	if pushID == "" || b["userID"] != "" {
		t.Fatalf("register: %v", b)
	}
	dev, err := s.Srv.PushDevice(t.Context(), s.App.AppID, pushID)
	if err != nil || dev.Platform != "ios" || dev.UserID != "" || !dev.Enabled {
		t.Fatalf("device %+v %v", dev, err)
	}
	if b := mustAdmin(t, s, 200, "POST", "/push/test", map[string]any{"pushID": pushID, "title": "t", "content": "c"}); b["outcome"] != "delivered" {
		t.Fatalf("test push: %v", b)
	}
	if got := em.Deliveries(tok); len(got) != 1 {
		t.Fatalf("%d deliveries, want 1", len(got))
	}
	// Again with a user: the same device, now bound.
	reg["userID"] = "carol"
	if b := mustAdmin(t, s, 200, "POST", "/push/devices", reg); b["pushID"] != pushID || b["userID"] != "carol" {
		t.Fatalf("register with a user: %v", b)
	}
	for name, bad := range map[string]map[string]any{
		"vendor":      {"vendor": "nokia", "token": "t1", "environment": "production", "bundleID": bundle},
		"environment": {"vendor": "fcm", "token": "t2", "environment": "staging", "bundleID": bundle},
		"no token":    {"vendor": "fcm", "token": "", "environment": "production", "bundleID": bundle},
		"voip on fcm": {"vendor": "fcm", "token": "t3", "voipToken": "v", "environment": "production", "bundleID": bundle},
	} {
		t.Run(name, func(t *testing.T) { wantAdminCode(t, s, protocol.CodeInvalidPushDevice, "POST", "/push/devices", bad) })
	}
	wantAdminCode(t, s, protocol.CodeInvalidArgument, "POST", "/push/devices",
		map[string]any{"vendor": "fcm", "token": "t4", "environment": "production", "bundleID": bundle, "platform": "toaster"})
	wantAdminCode(t, s, protocol.CodeInvalidUserID, "POST", "/push/devices",
		map[string]any{"vendor": "fcm", "token": "t5", "environment": "production", "bundleID": bundle, "userID": "a b"})
	for _, tk := range []string{"t1", "t2", "t4", "t5"} {
		for _, v := range []push.Vendor{push.VendorFCM, "nokia"} {
			for _, env := range []push.Environment{push.Production, "staging"} {
				if _, err := s.Srv.PushDevice(t.Context(), s.App.AppID, push.NewPushID(s.App.AppID, v, env, tk)); err == nil {
					t.Fatalf("a refused registration of %s stored a device", tk)
				}
			}
		}
	}
}
