package admin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/heraldim/herald/internal/config"
	apnsemu "github.com/heraldim/herald/internal/emulator/apns"
	fcmemu "github.com/heraldim/herald/internal/emulator/fcm"
	"github.com/heraldim/herald/internal/protocol"
	"github.com/heraldim/herald/internal/push"
	"github.com/heraldim/herald/internal/testkit"
)

const (
	bundle = "com.example.chat"
	teamID = "TEAM123456"
	keyID  = "KEY1234567"
	wait   = 10 * time.Second
)

// api calls the admin API with key and returns the status and the decoded
// JSON body (nil for an empty one).
func api(t *testing.T, method, url, key string, body any) (int, map[string]any) {
	t.Helper()
	status, raw := apiRaw(t, method, url, key, body)
	if len(raw) == 0 {
		return status, nil
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("%s %s: answer is not a JSON object: %q", method, url, raw)
	}
	return status, m
}

func apiRaw(t *testing.T, method, url, key string, body any) (int, []byte) {
	t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, raw
}

// wantError checks a catalogue error answer.
func wantError(t *testing.T, status int, body map[string]any, code protocol.Code) {
	t.Helper()
	if status != code.HTTPStatus() || body == nil || body["code"] != float64(code) || body["message"] == "" {
		t.Fatalf("got %d %v, want %d code %d (%s)", status, body, code.HTTPStatus(), code, code.Name())
	}
}

func appURL(s *testkit.Server, appID, rest string) string {
	return s.HTTP + "/v1/apps/" + appID + rest
}

// apnsEmu runs an APNs emulator with one team key for bundle and returns it
// with the credential body that points Herald at it.
func apnsEmu(t *testing.T) (*apnsemu.Emulator, map[string]any) {
	t.Helper()
	em, err := apnsemu.New(apnsemu.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := em.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = em.Close() })
	em.AddApp(teamID, bundle)
	key, err := em.NewKey(teamID, keyID)
	if err != nil {
		t.Fatal(err)
	}
	return em, map[string]any{
		"keyPEM": string(key), "keyID": keyID, "teamID": teamID,
		"productionURL": em.URL(apnsemu.Production), "developmentURL": em.URL(apnsemu.Development),
		"caPEM": string(em.CAPEM()),
	}
}

// fcmEmu runs an FCM emulator with one project and returns it with the
// credential body (service account given as an object) and the raw key
// file.
func fcmEmu(t *testing.T) (*fcmemu.Emulator, map[string]any, []byte) {
	t.Helper()
	em, err := fcmemu.New(fcmemu.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := em.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = em.Shutdown(context.Background()) })
	em.AddProject("herald-test")
	sa, err := em.CreateServiceAccount("herald-test")
	if err != nil {
		t.Fatal(err)
	}
	return em, map[string]any{
		"serviceAccountJSON": json.RawMessage(sa), "baseURL": em.URL(), "tokenURL": em.TokenURL(),
		"caPEM": string(em.CACertPEM()),
	}, sa
}

// register logs user in with a push registration and returns the session
// and the device's PushID.
func register(t *testing.T, s *testkit.Server, user string, reg protocol.PushRegistration) (*testkit.Client, string) {
	t.Helper()
	c := testkit.Dial(t, s.URL)
	var r protocol.LoginReply
	if err := c.Call(protocol.TypeLogin, protocol.LoginRequest{AppID: s.App.AppID, UserID: user,
		Token: s.Token(t, user, time.Hour), Platform: "ios", DeviceID: "phone-" + user, Push: &reg}, &r); err != nil {
		t.Fatal(err)
	}
	if r.PushID == "" {
		t.Fatal("login gave no PushID")
	}
	return c, r.PushID
}

// TestAuth: every endpoint wants the admin key of the app in its path; a
// missing or wrong key, another app's key and an unknown app get the same
// 401, and nothing crosses apps.
func TestAuth(t *testing.T) {
	s := testkit.Start(t, nil)
	other, err := s.Srv.CreateApp(context.Background(), "other")
	if err != nil {
		t.Fatal(err)
	}
	app := s.App
	for _, ep := range []struct{ method, path string }{
		{"GET", "/push/credentials"},
		{"PUT", "/push/credentials/apns"},
		{"DELETE", "/push/credentials/apns"},
		{"POST", "/push/credentials/apns/check"},
		{"POST", "/push/test"},
		{"GET", "/push/trace?userID=bob"},
		{"POST", "/push/bindings"},
		{"DELETE", "/push/bindings/Dxyz"},
		{"GET", "/push/resources"},
		{"GET", "/push/resources/r"},
		{"PUT", "/push/resources/r"},
		{"DELETE", "/push/resources/r"},
		{"POST", "/push/send"},
	} {
		for _, c := range []struct {
			name, appID, header string
		}{
			{"no key", app.AppID, ""},
			{"wrong key", app.AppID, "Bearer nope"},
			{"other app's key", app.AppID, "Bearer " + other.AdminKey},
			{"server secret", app.AppID, "Bearer " + app.Secret},
			{"basic scheme", app.AppID, "Basic " + app.AdminKey},
			{"unknown app", "app-unknown", "Bearer " + app.AdminKey},
		} {
			req, _ := http.NewRequest(ep.method, appURL(s, c.appID, ep.path), strings.NewReader(`{}`))
			if c.header != "" {
				req.Header.Set("Authorization", c.header)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var body map[string]any
			_ = json.NewDecoder(res.Body).Decode(&body)
			res.Body.Close()
			if res.Header.Get("WWW-Authenticate") == "" {
				t.Errorf("%s %s (%s): no WWW-Authenticate", ep.method, ep.path, c.name)
			}
			if res.StatusCode != 401 || body["code"] != float64(protocol.CodeAdminUnauthorized) {
				t.Errorf("%s %s (%s): %d %v", ep.method, ep.path, c.name, res.StatusCode, body)
			}
		}
	}

	// Isolation: the dev app's credential and device are invisible to the
	// other app, even with its own valid key.
	_, cred := apnsEmu(t)
	if st, b := api(t, "PUT", appURL(s, app.AppID, "/push/credentials/apns"), app.AdminKey, cred); st != 200 {
		t.Fatalf("put: %d %v", st, b)
	}
	_, pushID := register(t, s, "bob", protocol.PushRegistration{Vendor: "apns", Token: strings.Repeat("ab", 32), Environment: "development", BundleID: bundle})
	st, b := api(t, "GET", appURL(s, other.AppID, "/push/credentials"), other.AdminKey, nil)
	if st != 200 || len(b["credentials"].([]any)) != 0 {
		t.Fatalf("other app sees %d %v", st, b)
	}
	st, b = api(t, "POST", appURL(s, other.AppID, "/push/test"), other.AdminKey, map[string]any{"pushID": pushID, "title": "x"})
	wantError(t, st, b, protocol.CodeNotFound)
	st, b = api(t, "POST", appURL(s, other.AppID, "/push/bindings"), other.AdminKey, map[string]any{"pushID": pushID, "userID": "mallory"})
	wantError(t, st, b, protocol.CodeNotFound)
	st, b = api(t, "GET", appURL(s, other.AppID, "/push/trace?pushID="+pushID), other.AdminKey, nil)
	if st != 200 || len(b["jobs"].([]any)) != 0 {
		t.Fatalf("other app's trace: %d %v", st, b)
	}
	st, b = api(t, "DELETE", appURL(s, other.AppID, "/push/credentials/apns"), other.AdminKey, nil)
	wantError(t, st, b, protocol.CodeNotFound)
	st, b = api(t, "GET", appURL(s, app.AppID, "/push/credentials"), app.AdminKey, nil)
	if st != 200 || len(b["credentials"].([]any)) != 1 {
		t.Fatalf("dev app lost its credential: %d %v", st, b)
	}
	// Unknown routes under /v1/apps/ answer with the catalogue too.
	st, b = api(t, "GET", appURL(s, app.AppID, "/nothing"), app.AdminKey, nil)
	wantError(t, st, b, protocol.CodeNotFound)
}

// TestCredentialValidation: a credential that cannot be used is refused
// with a clear code and message, and nothing is stored.
func TestCredentialValidation(t *testing.T) {
	s := testkit.Start(t, nil)
	key := s.App.AdminKey
	emA, apnsCred := apnsEmu(t)
	_, fcmCred, sa := fcmEmu(t)
	expiredCert, expiredKey, err := emA.IssueCertificate(apnsemu.CertificateRequest{TeamID: teamID, Topics: []string{bundle},
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	with := func(base map[string]any, kv ...any) map[string]any {
		m := map[string]any{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(m, kv[i].(string))
			} else {
				m[kv[i].(string)] = kv[i+1]
			}
		}
		return m
	}
	var saNoKey map[string]any
	if err := json.Unmarshal(sa, &saNoKey); err != nil {
		t.Fatal(err)
	}
	delete(saNoKey, "private_key")
	saNoKeyJSON, _ := json.Marshal(saNoKey)

	for _, c := range []struct {
		name   string
		vendor string
		body   any
		code   protocol.Code
		inMsg  string
	}{
		{"apns key does not parse", "apns", with(apnsCred, "keyPEM", "-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n"), protocol.CodeInvalidCredential, ""},
		{"apns key missing key ID", "apns", with(apnsCred, "keyID", nil), protocol.CodeInvalidCredential, "key ID"},
		{"apns no credential", "apns", map[string]any{"environments": []string{"production"}}, protocol.CodeInvalidCredential, "no credential"},
		{"apns key and certificate", "apns", with(apnsCred, "certPEM", string(expiredCert), "certKeyPEM", string(expiredKey)), protocol.CodeInvalidCredential, "both"},
		{"apns expired certificate", "apns", map[string]any{"certPEM": string(expiredCert), "certKeyPEM": string(expiredKey)}, protocol.CodeInvalidCredential, "expired"},
		{"apns http URL", "apns", with(apnsCred, "productionURL", "http://127.0.0.1:1"), protocol.CodeInvalidArgument, "https"},
		{"apns bad environment", "apns", with(apnsCred, "environments", []string{"staging"}), protocol.CodeInvalidArgument, "staging"},
		{"apns bad CA", "apns", with(apnsCred, "caPEM", "not a certificate"), protocol.CodeInvalidArgument, "caPEM"},
		{"unknown field", "apns", with(apnsCred, "p12", "x"), protocol.CodeInvalidArgument, "p12"},
		{"not JSON", "apns", "{", protocol.CodeInvalidArgument, ""},
		{"trailing data", "apns", `{"keyID":"K"} {}`, protocol.CodeInvalidArgument, "after"},
		{"unsupported vendor", "nokia", apnsCred, protocol.CodeInvalidArgument, "nokia"},
		{"huawei body of another vendor", "huawei", apnsCred, protocol.CodeInvalidArgument, "unknown field"},
		{"fcm service account without private key", "fcm", with(fcmCred, "serviceAccountJSON", json.RawMessage(saNoKeyJSON)), protocol.CodeInvalidCredential, "private_key"},
		{"fcm service account not JSON", "fcm", with(fcmCred, "serviceAccountJSON", "not json"), protocol.CodeInvalidCredential, ""},
		{"fcm no service account", "fcm", with(fcmCred, "serviceAccountJSON", nil), protocol.CodeInvalidCredential, "serviceAccountJSON"},
		{"fcm bad token URL", "fcm", with(fcmCred, "tokenURL", "ftp://x"), protocol.CodeInvalidArgument, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			st, b := api(t, "PUT", appURL(s, s.App.AppID, "/push/credentials/"+c.vendor), key, c.body)
			wantError(t, st, b, c.code)
			msg, _ := b["message"].(string)
			if !strings.Contains(msg, c.inMsg) {
				t.Errorf("message %q does not mention %q", msg, c.inMsg)
			}
			if strings.Contains(msg, "PRIVATE KEY") || strings.Contains(msg, "MII") {
				t.Errorf("message shows key material: %q", msg)
			}
		})
	}
	st, b := api(t, "GET", appURL(s, s.App.AppID, "/push/credentials"), key, nil)
	if st != 200 || len(b["credentials"].([]any)) != 0 {
		t.Fatalf("a refused credential was stored: %v", b)
	}
}

// TestCredentialLifecycle: PUT, GET (never a secret), check against the
// emulators (good, then revoked), persistence across a restart, DELETE.
func TestCredentialLifecycle(t *testing.T) {
	s := testkit.Start(t, nil)
	key, appID := s.App.AdminKey, s.App.AppID
	emA, apnsCred := apnsEmu(t)
	emF, fcmCred, sa := fcmEmu(t)

	apnsCred["environments"] = []string{"production", "development", "production"}
	st, b := api(t, "PUT", appURL(s, appID, "/push/credentials/apns"), key, apnsCred)
	if st != 200 || b["keyID"] != keyID || b["teamID"] != teamID || b["auth"] != "token" || b["active"] != true {
		t.Fatalf("put apns: %d %v", st, b)
	}
	// The service account as a string this time.
	fcmCred["serviceAccountJSON"] = string(sa)
	st, b = api(t, "PUT", appURL(s, appID, "/push/credentials/fcm"), key, fcmCred)
	if st != 200 || b["projectID"] != "herald-test" || b["clientEmail"] == "" {
		t.Fatalf("put fcm: %d %v", st, b)
	}

	st, raw := apiRaw(t, "GET", appURL(s, appID, "/push/credentials"), key, nil)
	if st != 200 {
		t.Fatalf("get: %d %s", st, raw)
	}
	var saFields struct {
		PrivateKey string `json:"private_key"`
	}
	_ = json.Unmarshal(sa, &saFields)
	for _, secret := range []string{apnsCred["keyPEM"].(string), saFields.PrivateKey, "PRIVATE KEY", "private_key\""} {
		if strings.Contains(string(raw), secret) || strings.Contains(string(raw), strings.ReplaceAll(secret, "\n", `\n`)) {
			t.Fatalf("GET shows a secret: %s", raw)
		}
	}
	var list struct {
		Credentials []struct {
			Vendor       string   `json:"vendor"`
			Environments []string `json:"environments"`
			Active       bool     `json:"active"`
		} `json:"credentials"`
	}
	if err := json.Unmarshal(raw, &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Credentials) != 2 || list.Credentials[0].Vendor != "apns" || list.Credentials[1].Vendor != "fcm" ||
		strings.Join(list.Credentials[0].Environments, ",") != "development,production" || !list.Credentials[0].Active {
		t.Fatalf("listed %s", raw)
	}

	for _, v := range []string{"apns", "fcm"} {
		st, b = api(t, "POST", appURL(s, appID, "/push/credentials/"+v+"/check"), key, nil)
		if st != 200 || b["ok"] != true {
			t.Fatalf("check %s: %d %v", v, st, b)
		}
	}
	emA.RevokeKey(keyID)
	st, b = api(t, "POST", appURL(s, appID, "/push/credentials/apns/check"), key, nil)
	if st != 200 || b["ok"] != false || b["refused"] != true || !strings.Contains(b["error"].(string), "403") {
		t.Fatalf("check of a revoked key: %d %v", st, b)
	}
	emF.RemoveServiceAccount(saClientEmail(t, sa))
	st, b = api(t, "POST", appURL(s, appID, "/push/credentials/fcm/check"), key, nil)
	if st != 200 || b["ok"] != false || b["refused"] != true {
		t.Fatalf("check of a removed service account: %d %v", st, b)
	}

	// Stored credentials come back after a restart.
	dir := s.DataDir
	s.Stop(t)
	s = testkit.Start(t, func(c *config.Config) { c.DataDir = dir })
	st, raw = apiRaw(t, "GET", appURL(s, appID, "/push/credentials"), key, nil)
	if err := json.Unmarshal(raw, &list); err != nil || st != 200 || len(list.Credentials) != 2 || !list.Credentials[0].Active || !list.Credentials[1].Active {
		t.Fatalf("after restart: %d %s", st, raw)
	}

	st, _ = api(t, "DELETE", appURL(s, appID, "/push/credentials/apns"), key, nil)
	if st != 204 {
		t.Fatalf("delete: %d", st)
	}
	st, b = api(t, "DELETE", appURL(s, appID, "/push/credentials/apns"), key, nil)
	wantError(t, st, b, protocol.CodeNotFound)
	st, b = api(t, "POST", appURL(s, appID, "/push/credentials/apns/check"), key, nil)
	wantError(t, st, b, protocol.CodeNotFound)
	st, b = api(t, "GET", appURL(s, appID, "/push/credentials"), key, nil)
	if creds := b["credentials"].([]any); st != 200 || len(creds) != 1 || creds[0].(map[string]any)["vendor"] != "fcm" {
		t.Fatalf("after delete: %v", b)
	}
}

func saClientEmail(t *testing.T, sa []byte) string {
	t.Helper()
	var f struct {
		ClientEmail string `json:"client_email"`
	}
	if err := json.Unmarshal(sa, &f); err != nil || f.ClientEmail == "" {
		t.Fatalf("service account without client_email: %v", err)
	}
	return f.ClientEmail
}

// TestTestPush: the console's online debugging sends one push and shows
// the vendor's answer.
func TestTestPush(t *testing.T) {
	s := testkit.Start(t, nil)
	key, appID := s.App.AdminKey, s.App.AppID
	em, cred := apnsEmu(t)
	testURL := appURL(s, appID, "/push/test")

	tok := em.RegisterDevice(bundle, apnsemu.Development, false)
	_, pushID := register(t, s, "bob", protocol.PushRegistration{Vendor: "apns", Token: tok, Environment: "development", BundleID: bundle})

	// No credential yet.
	st, b := api(t, "POST", testURL, key, map[string]any{"pushID": pushID, "title": "Hi", "content": "there"})
	wantError(t, st, b, protocol.CodeVendorNotConfigured)

	if st, b := api(t, "PUT", appURL(s, appID, "/push/credentials/apns"), key, cred); st != 200 {
		t.Fatalf("put: %d %v", st, b)
	}
	st, b = api(t, "POST", testURL, key, map[string]any{"pushID": pushID, "title": "Hi", "content": "there", "payload": `{"k":1}`})
	ds := em.Deliveries(tok)
	if st != 200 || b["outcome"] != "delivered" || b["status"] != float64(200) || len(ds) != 1 || b["vendorID"] != ds[0].APNSID || b["environment"] != "development" {
		t.Fatalf("test push: %d %v (deliveries %+v)", st, b, ds)
	}
	alert, _ := ds[0].Aps()["alert"].(map[string]any)
	if alert["title"] != "Hi" || alert["body"] != "there" || ds[0].Payload["payload"] != `{"k":1}` {
		t.Fatalf("APNs got %+v", ds[0])
	}

	// Over the vendor's size limit: cut to fit as the dispatcher would cut
	// it (the payload dropped, flagged for the app), and the note says so.
	st, b = api(t, "POST", testURL, key, map[string]any{"pushID": pushID, "title": "big", "payload": strings.Repeat("x", 5000)})
	ds = em.Deliveries(tok)
	if note, _ := b["note"].(string); st != 200 || b["outcome"] != "delivered" || !strings.Contains(note, "payload of 5000 bytes dropped") ||
		len(ds) != 2 || ds[1].Payload["payload"] != nil || ds[1].Payload[push.TruncatedKey] != "payload" {
		t.Fatalf("oversized test push: %d %v (deliveries %+v)", st, b, ds)
	}
	// Over the test push's own bound: refused before any vendor is asked.
	st, b = api(t, "POST", testURL, key, map[string]any{"pushID": pushID, "payload": strings.Repeat("x", 9000)})
	wantError(t, st, b, protocol.CodePushTooLarge)
	st, b = api(t, "POST", testURL, key, map[string]any{"pushID": pushID, "title": strings.Repeat("t", 300)})
	wantError(t, st, b, protocol.CodeInvalidPushConfig)
	st, b = api(t, "POST", testURL, key, map[string]any{"pushID": "Dunknown"})
	wantError(t, st, b, protocol.CodeNotFound)
	st, b = api(t, "POST", testURL, key, map[string]any{"title": "x"})
	wantError(t, st, b, protocol.CodeInvalidArgument)
	if n := len(em.Deliveries(tok)); n != 2 {
		t.Fatalf("refused test pushes reached APNs: %d deliveries", n)
	}

	// A token APNs no longer knows: the vendor's answer says drop_device.
	gone := em.RegisterDevice(bundle, apnsemu.Development, false)
	_, gonePushID := register(t, s, "carol", protocol.PushRegistration{Vendor: "apns", Token: gone, Environment: "development", BundleID: bundle})
	em.Unregister(gone)
	st, b = api(t, "POST", testURL, key, map[string]any{"pushID": gonePushID, "title": "Hi"})
	if st != 200 || b["outcome"] != "drop_device" || b["status"] != float64(410) || b["reason"] != "Unregistered" {
		t.Fatalf("test push to an unregistered token: %d %v", st, b)
	}

	// A vendor without a credential.
	_, fcmPushID := register(t, s, "dave", protocol.PushRegistration{Vendor: "fcm", Token: "fcm-token-1", Environment: "production", BundleID: bundle})
	st, b = api(t, "POST", testURL, key, map[string]any{"pushID": fcmPushID, "title": "Hi"})
	wantError(t, st, b, protocol.CodeVendorNotConfigured)
}

// TestTrace: after a message's push, the trace shows its job and the
// vendor's answer, by user, by device and by message.
func TestTrace(t *testing.T) {
	s := testkit.Start(t, nil)
	key, appID := s.App.AdminKey, s.App.AppID
	em, cred := apnsEmu(t)
	if st, b := api(t, "PUT", appURL(s, appID, "/push/credentials/apns"), key, cred); st != 200 {
		t.Fatalf("put: %d %v", st, b)
	}
	tok := em.RegisterDevice(bundle, apnsemu.Development, false)
	bob, pushID := register(t, s, "bob", protocol.PushRegistration{Vendor: "apns", Token: tok, Environment: "development", BundleID: bundle})
	bob.Close()
	deadline := time.Now().Add(wait)
	for s.Srv.Online(appID, "bob") {
		if time.Now().After(deadline) {
			t.Fatal("bob still online")
		}
		time.Sleep(5 * time.Millisecond)
	}
	alice := s.LoginAs(t, "alice", "android", "a")
	var sent protocol.SendReply
	if err := alice.Call(protocol.TypeSend, protocol.SendRequest{ConversationID: "bob", LocalMessageID: "m1", Type: protocol.MessageText,
		Text: "hi", PushConfig: &protocol.PushConfig{Title: "Alice", Content: "hi", Payload: "p"}}, &sent); err != nil {
		t.Fatal(err)
	}

	type trace struct {
		Jobs []struct {
			MessageID  string `json:"messageID"`
			UserID     string `json:"userID"`
			PushID     string `json:"pushID"`
			Status     string `json:"status"`
			Reason     string `json:"reason"`
			PushConfig struct {
				Title string `json:"title"`
			} `json:"pushConfig"`
			Attempts []struct {
				Outcome string `json:"outcome"`
				Status  int    `json:"status"`
			} `json:"attempts"`
		} `json:"jobs"`
	}
	get := func(query string) trace {
		t.Helper()
		st, raw := apiRaw(t, "GET", appURL(s, appID, "/push/trace?"+query), key, nil)
		var tr trace
		if err := json.Unmarshal(raw, &tr); err != nil || st != 200 {
			t.Fatalf("trace?%s: %d %s", query, st, raw)
		}
		return tr
	}
	var tr trace
	for deadline := time.Now().Add(wait); ; time.Sleep(10 * time.Millisecond) {
		tr = get("userID=bob")
		if len(tr.Jobs) == 1 && tr.Jobs[0].Status == "delivered" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no delivered job: %+v", tr)
		}
	}
	j := tr.Jobs[0]
	ds := em.Deliveries(tok)
	if j.PushID != pushID || j.PushConfig.Title != "Alice" || len(j.Attempts) != 1 || j.Attempts[0].Outcome != "delivered" ||
		j.Attempts[0].Status != 200 || len(ds) != 1 || j.Reason != ds[0].APNSID {
		t.Fatalf("job %+v (deliveries %+v)", j, ds)
	}
	if byPush := get("pushID=" + pushID); len(byPush.Jobs) != 1 {
		t.Fatalf("by PushID: %+v", byPush)
	}
	if byMsg := get("messageID=" + j.MessageID); len(byMsg.Jobs) != 1 || byMsg.Jobs[0].UserID != "bob" {
		t.Fatalf("by message: %+v", byMsg)
	}
	if none := get("userID=alice&limit=5"); len(none.Jobs) != 0 {
		t.Fatalf("alice has jobs: %+v", none)
	}

	// A revoked key: the dispatcher finds the credential failing, and the
	// listing says so until the credential is replaced.
	em.RevokeKey(keyID)
	if err := alice.Call(protocol.TypeSend, protocol.SendRequest{ConversationID: "bob", LocalMessageID: "m2", Type: protocol.MessageText,
		Text: "hi", PushConfig: &protocol.PushConfig{Title: "Alice", Content: "again"}}, nil); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(wait); ; time.Sleep(10 * time.Millisecond) {
		tr = get("userID=bob")
		if len(tr.Jobs) == 2 && tr.Jobs[0].Status == "failed" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no failed job: %+v", tr)
		}
	}
	if a := tr.Jobs[0].Attempts; len(a) != 2 || a[0].Outcome != "auth_failed" || a[1].Status != 403 {
		t.Fatalf("attempts of the failed job: %+v", a)
	}
	st, b := api(t, "GET", appURL(s, appID, "/push/credentials"), key, nil)
	c := b["credentials"].([]any)[0].(map[string]any)
	if failing, _ := c["failing"].(map[string]any); st != 200 || failing["development"] == nil || failing["production"] != nil {
		t.Fatalf("failing credential not listed: %d %v", st, b)
	}
	if st, b := api(t, "PUT", appURL(s, appID, "/push/credentials/apns"), key, cred); st != 200 || b["failing"] != nil {
		t.Fatalf("replaced credential still failing: %d %v", st, b)
	}

	for _, q := range []string{"", "userID=bob&pushID=" + pushID, "messageID=x", "messageID=-1", "userID=bo%20b", "userID=bob&limit=0", "userID=bob&limit=501"} {
		st, b := api(t, "GET", appURL(s, appID, "/push/trace?"+q), key, nil)
		if st != 400 {
			t.Errorf("trace?%s: %d %v", q, st, b)
		}
	}
}

// TestBindings: an app backend binds and unbinds registered devices.
func TestBindings(t *testing.T) {
	s := testkit.Start(t, nil)
	key, appID := s.App.AdminKey, s.App.AppID
	bindURL := appURL(s, appID, "/push/bindings")
	bob, pushID := register(t, s, "bob", protocol.PushRegistration{Vendor: "apns", Token: strings.Repeat("cd", 32), Environment: "production", BundleID: bundle})
	bob.Close()

	st, b := api(t, "POST", bindURL, key, map[string]any{"pushID": pushID, "userID": "carol"})
	if st != 200 || b["userID"] != "carol" || b["pushID"] != pushID {
		t.Fatalf("bind: %d %v", st, b)
	}
	ctx := context.Background()
	if got := deviceUser(ctx, t, s, pushID); got != "carol" {
		t.Fatalf("bound to %q", got)
	}
	// Unbind only if bound to someone else: nothing changes.
	if st, _ := api(t, "DELETE", bindURL+"/"+pushID+"?userID=bob", key, nil); st != 204 {
		t.Fatalf("unbind bob: %d", st)
	}
	if got := deviceUser(ctx, t, s, pushID); got != "carol" {
		t.Fatalf("unbinding bob unbound %q", got)
	}
	if st, _ := api(t, "DELETE", bindURL+"/"+pushID, key, nil); st != 204 {
		t.Fatalf("unbind: %d", st)
	}
	if got := deviceUser(ctx, t, s, pushID); got != "" {
		t.Fatalf("still bound to %q", got)
	}

	st, b = api(t, "POST", bindURL, key, map[string]any{"pushID": "Pnothing", "userID": "carol"})
	wantError(t, st, b, protocol.CodeNotFound)
	st, b = api(t, "POST", bindURL, key, map[string]any{"pushID": pushID, "userID": "bad user"})
	wantError(t, st, b, protocol.CodeInvalidUserID)
	st, b = api(t, "DELETE", bindURL+"/Pnothing", key, nil)
	wantError(t, st, b, protocol.CodeNotFound)
	if got := deviceUser(ctx, t, s, pushID); got != "" {
		t.Fatalf("refused requests bound it to %q", got)
	}
}

// deviceUser returns the user a device is bound to.
func deviceUser(ctx context.Context, t *testing.T, s *testkit.Server, pushID string) string {
	t.Helper()
	d, err := s.Srv.PushDevice(ctx, s.App.AppID, pushID)
	if err != nil {
		t.Fatal(err)
	}
	return d.UserID
}

// TestCertificateCredential: an APNs client certificate is accepted,
// listed by subject and expiry (never its key), and proven by check.
func TestCertificateCredential(t *testing.T) {
	s := testkit.Start(t, nil)
	key, appID := s.App.AdminKey, s.App.AppID
	em, cred := apnsEmu(t)
	notAfter := time.Now().Add(30 * 24 * time.Hour).Truncate(time.Second)
	certPEM, certKey, err := em.IssueCertificate(apnsemu.CertificateRequest{TeamID: teamID, Topics: []string{bundle}, NotAfter: notAfter})
	if err != nil {
		t.Fatal(err)
	}
	body := map[string]any{"environments": []string{"development"}, "certPEM": string(certPEM), "certKeyPEM": string(certKey),
		"productionURL": cred["productionURL"], "developmentURL": cred["developmentURL"], "caPEM": cred["caPEM"], "checkTopic": bundle}
	st, raw := apiRaw(t, "PUT", appURL(s, appID, "/push/credentials/apns"), key, body)
	var v struct {
		Auth          string    `json:"auth"`
		CertSubject   string    `json:"certSubject"`
		CertExpiresAt time.Time `json:"certExpiresAt"`
		Environments  []string  `json:"environments"`
	}
	if err := json.Unmarshal(raw, &v); err != nil || st != 200 || v.Auth != "certificate" || v.CertSubject == "" ||
		!v.CertExpiresAt.Equal(notAfter) || len(v.Environments) != 1 || strings.Contains(string(raw), "PRIVATE KEY") {
		t.Fatalf("put: %d %s", st, raw)
	}
	st, b := api(t, "POST", appURL(s, appID, "/push/credentials/apns/check"), key, nil)
	if st != 200 || b["ok"] != true {
		t.Fatalf("check: %d %v", st, b)
	}
	// Production devices have no provider: the credential serves
	// development only.
	_, pushID := register(t, s, "bob", protocol.PushRegistration{Vendor: "apns", Token: em.RegisterDevice(bundle, apnsemu.Production, false), Environment: "production", BundleID: bundle})
	st, b = api(t, "POST", appURL(s, appID, "/push/test"), key, map[string]any{"pushID": pushID, "title": "x"})
	wantError(t, st, b, protocol.CodeVendorNotConfigured)
}

// TestRoutesDocumented keeps docs/openapi.yaml in step with the routes.
func TestRoutesDocumented(t *testing.T) {
	b, err := os.ReadFile("../../docs/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for _, p := range []string{
		"/v1/apps/{appID}/push/credentials:", "/v1/apps/{appID}/push/credentials/{vendor}:",
		"/v1/apps/{appID}/push/credentials/{vendor}/check:", "/v1/apps/{appID}/push/test:",
		"/v1/apps/{appID}/push/trace:", "/v1/apps/{appID}/push/bindings:", "/v1/apps/{appID}/push/bindings/{pushID}:",
		"/v1/apps/{appID}/push/resources:", "/v1/apps/{appID}/push/resources/{resourceID}:", "/v1/apps/{appID}/push/send:",
	} {
		if !strings.Contains(doc, "  "+p+"\n") {
			t.Errorf("docs/openapi.yaml lacks %s", p)
		}
	}
}
