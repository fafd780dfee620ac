package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/heraldim/herald/internal/config"
	"github.com/heraldim/herald/internal/operatorkey"
	"github.com/heraldim/herald/internal/protocol"
	"github.com/heraldim/herald/internal/server"
	"github.com/heraldim/herald/internal/testkit"
	"github.com/heraldim/herald/internal/token"
)

// operatorAPI calls the server's REST API with a bearer key.
type operatorAPI struct {
	t    *testing.T
	base string
	key  string
}

func opAPI(t *testing.T, s *testkit.Server) operatorAPI {
	return operatorAPI{t: t, base: s.HTTP, key: s.Srv.OperatorKey()}
}

func (o operatorAPI) withKey(k string) operatorAPI { o.key = k; return o }

// do sends a request (body: nil, a string sent as is, or a value sent as
// JSON) and returns the status, headers and decoded JSON object.
func (o operatorAPI) do(method, path string, body any) (int, http.Header, map[string]any) {
	o.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			o.t.Fatal(err)
		}
		r = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, o.base+path, r)
	if err != nil {
		o.t.Fatal(err)
	}
	if o.key != "" {
		req.Header.Set("Authorization", "Bearer "+o.key)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		o.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		o.t.Fatal(err)
	}
	var m map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &m); err != nil {
			o.t.Fatalf("%s %s: answer is not a JSON object: %q", method, path, raw)
		}
	}
	return res.StatusCode, res.Header, m
}

// ok calls and wants a 2xx answer.
func (o operatorAPI) ok(method, path string, body any) map[string]any {
	o.t.Helper()
	status, _, m := o.do(method, path, body)
	if status/100 != 2 {
		o.t.Fatalf("%s %s: %d %v", method, path, status, m)
	}
	return m
}

// fails calls and wants the catalogue error code.
func (o operatorAPI) fails(method, path string, body any, code protocol.Code) http.Header {
	o.t.Helper()
	status, h, m := o.do(method, path, body)
	if status != code.HTTPStatus() || m == nil || m["code"] != float64(code) || m["message"] == "" {
		o.t.Fatalf("%s %s: got %d %v, want %d code %d (%s)", method, path, status, m, code.HTTPStatus(), code, code.Name())
	}
	return h
}

// tenant is an app created through the operator API.
type tenant struct {
	ID, Secret, AdminKey string
}

func createTenant(t *testing.T, o operatorAPI, id, name string) tenant {
	t.Helper()
	m := o.ok("POST", "/v1/admin/apps", map[string]any{"id": id, "name": name})
	a := tenant{ID: str(m["id"]), Secret: str(m["secret"]), AdminKey: str(m["adminKey"])}
	if a.Secret == "" || a.AdminKey == "" || (id != "" && a.ID != id) || m["name"] != name || m["disabled"] != false {
		t.Fatalf("created %v", m)
	}
	return a
}

func str(v any) string { s, _ := v.(string); return s }

// loginWith dials and logs user in to appID with a token signed by secret.
func loginToApp(t *testing.T, s *testkit.Server, appID, secret, user string) (*testkit.Client, *protocol.Error) {
	t.Helper()
	tok, err := token.Mint(appID, secret, user, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	c := testkit.Dial(t, s.URL)
	return c, c.Login(appID, user, tok, "ios", "phone-"+user)
}

func mustLogin(t *testing.T, s *testkit.Server, appID, secret, user string) *testkit.Client {
	t.Helper()
	c, err := loginToApp(t, s, appID, secret, user)
	if err != nil {
		t.Fatalf("login of %s to %s: %v", user, appID, err)
	}
	return c
}

func wantLoginError(t *testing.T, s *testkit.Server, appID, secret, user string, code protocol.Code) {
	t.Helper()
	c, err := loginToApp(t, s, appID, secret, user)
	if err == nil || err.Code != code {
		t.Fatalf("login of %s to %s: err = %v, want code %d (%s)", user, appID, err, code, code.Name())
	}
	c.Close()
}

// adminStatus is the status of an app admin API call with key.
func adminStatus(t *testing.T, s *testkit.Server, appID, key string) (int, map[string]any) {
	t.Helper()
	o := operatorAPI{t: t, base: s.HTTP, key: key}
	status, _, m := o.do("GET", "/v1/apps/"+appID+"/push/credentials", nil)
	return status, m
}

// TestTenantCreateLogInAndOperatorKey: an app created through the operator
// API works at once (its users log in with tokens of its secret, its admin
// key opens its admin API); the generated operator key is in the data
// directory, mode 0600.
func TestTenantCreateLogInAndOperatorKey(t *testing.T) {
	s := testkit.Start(t, nil)
	o := opAPI(t, s)
	saved, err := operatorkey.Load(s.DataDir)
	if err != nil || saved != o.key || len(saved) < 24 {
		t.Fatalf("operator key file: %q %v, server uses %q", saved, err, o.key)
	}
	if fi, err := os.Stat(filepath.Join(s.DataDir, operatorkey.FileName)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("operator key file mode: %v %v", fi, err)
	}
	a := createTenant(t, o, "chat", "Chat")
	gen := createTenant(t, o, "", "Generated")
	if !strings.HasPrefix(gen.ID, "app-") {
		t.Fatalf("generated ID %q", gen.ID)
	}
	alice := mustLogin(t, s, a.ID, a.Secret, "alice")
	alice.SyncDone(wait)
	// A token of the new app does not open the dev app, nor the reverse.
	wantLoginError(t, s, s.App.AppID, a.Secret, "bob", protocol.CodeTokenInvalid)
	wantLoginError(t, s, a.ID, s.App.Secret, "bob", protocol.CodeTokenInvalid)
	if st, m := adminStatus(t, s, a.ID, a.AdminKey); st != 200 {
		t.Fatalf("admin API with the new app's key: %d %v", st, m)
	}

	show := o.ok("GET", "/v1/admin/apps/chat", nil)
	if show["id"] != "chat" || show["name"] != "Chat" || show["secret"] != nil || show["adminKey"] != nil {
		t.Fatalf("show: %v (must never carry secrets)", show)
	}
	// Paging: three apps (dev, chat, generated) two at a time.
	var ids []string
	after := ""
	for range 3 {
		page := o.ok("GET", "/v1/admin/apps?limit=2&after="+after, nil)
		list, _ := page["apps"].([]any)
		for _, v := range list {
			m, _ := v.(map[string]any)
			if m["secret"] != nil || m["adminKey"] != nil {
				t.Fatalf("list carries secrets: %v", m)
			}
			ids = append(ids, str(m["id"]))
		}
		if after = str(page["next"]); after == "" {
			break
		}
	}
	if len(ids) != 3 || !strings.Contains(strings.Join(ids, ","), "chat") {
		t.Fatalf("listed %v, want the dev app, chat and %s", ids, gen.ID)
	}
}

// TestTenantRotation: after a rotation the previous secret's tokens and the
// previous admin key keep working during the overlap, and are refused once
// it ends; the new ones work at once.
func TestTenantRotation(t *testing.T) {
	s := testkit.Start(t, nil)
	o := opAPI(t, s)
	a := createTenant(t, o, "chat", "Chat")
	live := mustLogin(t, s, a.ID, a.Secret, "alice")
	live.SyncDone(wait)

	m := o.ok("POST", "/v1/admin/apps/chat/rotate", map[string]any{"which": "secret", "overlapSeconds": 3600})
	s2 := str(m["secret"])
	if s2 == "" || s2 == a.Secret || m["adminKey"] != nil {
		t.Fatalf("rotate reply %v", m)
	}
	until, err := time.Parse(time.RFC3339Nano, str(m["previousSecretUntil"]))
	if err != nil || until.Before(time.Now().Add(59*time.Minute)) {
		t.Fatalf("previousSecretUntil %v (%v), want in an hour", m["previousSecretUntil"], err)
	}
	mustLogin(t, s, a.ID, a.Secret, "old-token").Close()
	mustLogin(t, s, a.ID, s2, "new-token").Close()
	// The live session is not touched.
	if _, err := live.SendText("bob", "1", "still here"); err != nil {
		t.Fatalf("live session after rotation: %v", err)
	}

	m = o.ok("POST", "/v1/admin/apps/chat/rotate", map[string]any{"which": "adminKey", "overlapSeconds": 3600})
	k2 := str(m["adminKey"])
	if k2 == "" || k2 == a.AdminKey || m["secret"] != nil {
		t.Fatalf("rotate reply %v", m)
	}
	for _, k := range []string{a.AdminKey, k2} {
		if st, m := adminStatus(t, s, a.ID, k); st != 200 {
			t.Fatalf("admin key during the overlap: %d %v", st, m)
		}
	}

	// Overlap 0: the previous value is refused at once; the one before it
	// was replaced.
	m = o.ok("POST", "/v1/admin/apps/chat/rotate", map[string]any{"which": "secret", "overlapSeconds": 0})
	s3 := str(m["secret"])
	wantLoginError(t, s, a.ID, a.Secret, "u1", protocol.CodeTokenInvalid)
	wantLoginError(t, s, a.ID, s2, "u2", protocol.CodeTokenInvalid)
	mustLogin(t, s, a.ID, s3, "u3").Close()
	o.ok("POST", "/v1/admin/apps/chat/rotate", map[string]any{"which": "adminKey", "overlapSeconds": 0})
	for _, k := range []string{a.AdminKey, k2} {
		if st, m := adminStatus(t, s, a.ID, k); st != 401 || m["code"] != float64(protocol.CodeAdminUnauthorized) {
			t.Fatalf("admin key after the overlap: %d %v", st, m)
		}
	}

	// A real overlap ends by itself: accepted before its end, refused
	// after it (the end is a known time on the server's own clock).
	m = o.ok("POST", "/v1/admin/apps/chat/rotate", map[string]any{"which": "secret", "overlapSeconds": 1})
	s4 := str(m["secret"])
	until, err = time.Parse(time.RFC3339Nano, str(m["previousSecretUntil"]))
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	c, lerr := loginToApp(t, s, a.ID, s3, "during")
	if lerr != nil && before.Before(until.Add(-200*time.Millisecond)) {
		t.Fatalf("previous secret refused within its overlap: %v", lerr)
	}
	c.Close()
	// The server's clock is this one: once it passed the overlap's end,
	// the previous secret is refused.
	<-time.After(time.Until(until.Add(time.Millisecond)))
	wantLoginError(t, s, a.ID, s3, "after", protocol.CodeTokenInvalid)
	mustLogin(t, s, a.ID, s4, "current").Close()
	if show := o.ok("GET", "/v1/admin/apps/chat", nil); show["previousSecretUntil"] != nil {
		t.Fatalf("show after the overlap: %v", show)
	}
}

// TestTenantDisableEnable: disabling closes the app's live sessions with
// 4006 at once and refuses logins (40106) and its admin API; enabling
// undoes it. Other apps are not touched.
func TestTenantDisableEnable(t *testing.T) {
	s := testkit.Start(t, nil)
	o := opAPI(t, s)
	a := createTenant(t, o, "chat", "Chat")
	alice := mustLogin(t, s, a.ID, a.Secret, "alice")
	alice.SyncDone(wait)
	bob := mustLogin(t, s, a.ID, a.Secret, "bob")
	bob.SyncDone(wait)
	dev := s.LoginAs(t, "carol", "ios", "c1")
	dev.SyncDone(wait)

	m := o.ok("POST", "/v1/admin/apps/chat/disable", nil)
	if m["disabled"] != true || m["disabledAt"] == nil || m["sessionsClosed"] != float64(2) {
		t.Fatalf("disable reply %v", m)
	}
	for _, c := range []*testkit.Client{alice, bob} {
		if code := c.CloseCode(wait); code != protocol.CloseAppDisabled {
			t.Fatalf("live session closed with %d, want %d", code, protocol.CloseAppDisabled)
		}
	}
	if protocol.CloseReconnects(protocol.CloseAppDisabled) {
		t.Fatal("4006 must tell clients not to reconnect")
	}
	wantLoginError(t, s, a.ID, a.Secret, "alice", protocol.CodeAppDisabled)
	if st, m := adminStatus(t, s, a.ID, a.AdminKey); st != 401 || m["code"] != float64(protocol.CodeAppDisabled) {
		t.Fatalf("admin API of a disabled app: %d %v", st, m)
	}
	// The disabled state is answered to the admin key's holder only.
	if st, m := adminStatus(t, s, a.ID, "wrong"); st != 401 || m["code"] != float64(protocol.CodeAdminUnauthorized) {
		t.Fatalf("admin API of a disabled app with a wrong key: %d %v", st, m)
	}
	// Other apps go on.
	if _, err := dev.SendText("dave", "1", "other app"); err != nil {
		t.Fatalf("dev app session after another app was disabled: %v", err)
	}
	// Disabling again changes nothing.
	again := o.ok("POST", "/v1/admin/apps/chat/disable", nil)
	if again["disabledAt"] != m["disabledAt"] || again["sessionsClosed"] != float64(0) {
		t.Fatalf("second disable %v after %v", again, m)
	}

	if m := o.ok("POST", "/v1/admin/apps/chat/enable", nil); m["disabled"] != false || m["disabledAt"] != nil {
		t.Fatalf("enable reply %v", m)
	}
	c := mustLogin(t, s, a.ID, a.Secret, "alice")
	c.SyncDone(wait)
	if st, m := adminStatus(t, s, a.ID, a.AdminKey); st != 200 {
		t.Fatalf("admin API after enable: %d %v", st, m)
	}
}

// TestTenantDelete: deleting needs a disabled app, then removes every row
// of it and nothing of other apps; the ID stays taken.
func TestTenantDelete(t *testing.T) {
	s := testkit.Start(t, nil)
	o := opAPI(t, s)
	a := createTenant(t, o, "chat", "Chat")
	alice := mustLogin(t, s, a.ID, a.Secret, "alice")
	alice.SyncDone(wait)
	if _, err := alice.SendText("bob", "1", "hi bob"); err != nil {
		t.Fatal(err)
	}
	bob := mustLogin(t, s, a.ID, a.Secret, "bob")
	bob.SyncDone(wait)
	bob.Ack("alice", 1)
	// An open call: its rows go, and its deadline must not fire on them.
	var inv protocol.CallInviteReply
	if err := alice.Call(protocol.TypeCallInvite, protocol.CallInviteRequest{Invitees: []string{"bob"}, Timeout: 60}, &inv); err != nil {
		t.Fatal(err)
	}
	dev := s.LoginAs(t, "alice", "ios", "a1")
	dev.SyncDone(wait)
	if _, err := dev.SendText("bob", "1", "dev app"); err != nil {
		t.Fatal(err)
	}
	rows, err := s.Srv.AppRows(t.Context(), a.ID)
	if err != nil || rows["messages"] != 1 || rows["users"] != 2 || rows["conversations"] != 2 || rows["calls"] != 1 || rows["call_users"] != 2 {
		t.Fatalf("rows before: %v %v", rows, err)
	}
	devBefore, err := s.Srv.AppRows(t.Context(), s.App.AppID)
	if err != nil || devBefore["messages"] != 1 {
		t.Fatalf("dev app rows before: %v %v", devBefore, err)
	}

	if n := s.Metric(t, "herald_calls_open"); n != 1 {
		t.Fatalf("open calls before the delete: %v", n)
	}
	o.fails("DELETE", "/v1/admin/apps/chat", nil, protocol.CodeInvalidArgument)
	if _, err := alice.SendText("bob", "2", "refused delete changed nothing"); err != nil {
		t.Fatalf("after a refused delete: %v", err)
	}
	o.ok("POST", "/v1/admin/apps/chat/disable", nil)
	if code := alice.CloseCode(wait); code != protocol.CloseAppDisabled {
		t.Fatalf("closed with %d", code)
	}
	if status, _, m := o.do("DELETE", "/v1/admin/apps/chat", nil); status != http.StatusNoContent || m != nil {
		t.Fatalf("delete: %d %v", status, m)
	}
	rows, err = s.Srv.AppRows(t.Context(), a.ID)
	if err != nil || len(rows) < 10 {
		t.Fatalf("rows after: %v %v", rows, err)
	}
	for tb, n := range rows {
		if n != 0 {
			t.Errorf("%s: %d rows of the deleted app left", tb, n)
		}
	}
	devAfter, err := s.Srv.AppRows(t.Context(), s.App.AppID)
	if err != nil {
		t.Fatal(err)
	}
	for tb, n := range devBefore {
		if devAfter[tb] != n {
			t.Errorf("%s: the dev app had %d rows, now %d", tb, n, devAfter[tb])
		}
	}
	if n := s.Metric(t, "herald_calls_open"); n != 0 {
		t.Fatalf("open calls after the delete: %v, want the deleted app's call dropped", n)
	}
	o.fails("GET", "/v1/admin/apps/chat", nil, protocol.CodeNotFound)
	o.fails("DELETE", "/v1/admin/apps/chat", nil, protocol.CodeNotFound)
	o.fails("POST", "/v1/admin/apps/chat/enable", nil, protocol.CodeNotFound)
	wantLoginError(t, s, a.ID, a.Secret, "alice", protocol.CodeAppUnknown)
	if st, m := adminStatus(t, s, a.ID, a.AdminKey); st != 401 || m["code"] != float64(protocol.CodeAdminUnauthorized) {
		t.Fatalf("admin API of a deleted app: %d %v", st, m)
	}
	o.fails("POST", "/v1/admin/apps", map[string]any{"id": "chat", "name": "again"}, protocol.CodeInvalidArgument)
	if _, err := dev.SendText("bob", "2", "dev app goes on"); err != nil {
		t.Fatalf("dev app after another app's deletion: %v", err)
	}
}

// TestTenantOperatorKeyAndBadInput: a missing or wrong operator key gets
// 40107 with WWW-Authenticate (an app's admin key is no operator key), bad
// bodies get 40003, unknown apps 40400, and none of them changes anything.
func TestTenantOperatorKeyAndBadInput(t *testing.T) {
	s := testkit.Start(t, nil)
	o := opAPI(t, s)
	a := createTenant(t, o, "chat", "Chat")
	listed := func() string {
		t.Helper()
		b, _ := json.Marshal(o.ok("GET", "/v1/admin/apps", nil))
		return string(b)
	}
	before := listed()

	for _, key := range []string{"", "wrong", a.AdminKey, s.App.AdminKey, o.key + "x"} {
		bad := o.withKey(key)
		for _, rq := range []struct {
			method, path string
			body         any
		}{
			{"GET", "/v1/admin/apps", nil},
			{"POST", "/v1/admin/apps", map[string]any{"name": "intruder"}},
			{"GET", "/v1/admin/apps/chat", nil},
			{"POST", "/v1/admin/apps/chat/rotate", map[string]any{"which": "secret"}},
			{"POST", "/v1/admin/apps/chat/disable", nil},
			{"DELETE", "/v1/admin/apps/chat", nil},
			{"GET", "/v1/admin/apps/nope", nil},
		} {
			h := bad.fails(rq.method, rq.path, rq.body, protocol.CodeOperatorUnauthorized)
			if !strings.HasPrefix(h.Get("WWW-Authenticate"), "Bearer") {
				t.Fatalf("%s %s: WWW-Authenticate %q", rq.method, rq.path, h.Get("WWW-Authenticate"))
			}
		}
	}
	// The operator key is no app admin key either.
	if st, m := adminStatus(t, s, a.ID, o.key); st != 401 || m["code"] != float64(protocol.CodeAdminUnauthorized) {
		t.Fatalf("app admin API with the operator key: %d %v", st, m)
	}

	for _, tc := range []struct {
		name, method, path string
		body               any
		code               protocol.Code
	}{
		{"not JSON", "POST", "/v1/admin/apps", "{", protocol.CodeInvalidArgument},
		{"unknown field", "POST", "/v1/admin/apps", map[string]any{"name": "x", "secret": "mine"}, protocol.CodeInvalidArgument},
		{"no name", "POST", "/v1/admin/apps", map[string]any{"id": "x"}, protocol.CodeInvalidArgument},
		{"blank name", "POST", "/v1/admin/apps", map[string]any{"name": "  "}, protocol.CodeInvalidArgument},
		{"control in name", "POST", "/v1/admin/apps", map[string]any{"name": "a\nb"}, protocol.CodeInvalidArgument},
		{"long name", "POST", "/v1/admin/apps", map[string]any{"name": strings.Repeat("n", 129)}, protocol.CodeInvalidArgument},
		{"bad id", "POST", "/v1/admin/apps", map[string]any{"id": "a/b", "name": "x"}, protocol.CodeInvalidArgument},
		{"id starts with a dot", "POST", "/v1/admin/apps", map[string]any{"id": ".a", "name": "x"}, protocol.CodeInvalidArgument},
		{"long id", "POST", "/v1/admin/apps", map[string]any{"id": strings.Repeat("i", 65), "name": "x"}, protocol.CodeInvalidArgument},
		{"id taken", "POST", "/v1/admin/apps", map[string]any{"id": "chat", "name": "x"}, protocol.CodeInvalidArgument},
		{"dev app id taken", "POST", "/v1/admin/apps", map[string]any{"id": s.App.AppID, "name": "x"}, protocol.CodeInvalidArgument},
		{"limit 0", "GET", "/v1/admin/apps?limit=0", nil, protocol.CodeInvalidArgument},
		{"limit over", "GET", "/v1/admin/apps?limit=1001", nil, protocol.CodeInvalidArgument},
		{"limit not a number", "GET", "/v1/admin/apps?limit=x", nil, protocol.CodeInvalidArgument},
		{"rotate no body", "POST", "/v1/admin/apps/chat/rotate", nil, protocol.CodeInvalidArgument},
		{"rotate which", "POST", "/v1/admin/apps/chat/rotate", map[string]any{"which": "password"}, protocol.CodeInvalidArgument},
		{"rotate negative overlap", "POST", "/v1/admin/apps/chat/rotate", map[string]any{"which": "secret", "overlapSeconds": -1}, protocol.CodeInvalidArgument},
		{"rotate long overlap", "POST", "/v1/admin/apps/chat/rotate", map[string]any{"which": "secret", "overlapSeconds": 2592001}, protocol.CodeInvalidArgument},
		{"rotate overlap not a number", "POST", "/v1/admin/apps/chat/rotate", map[string]any{"which": "secret", "overlapSeconds": "1h"}, protocol.CodeInvalidArgument},
		{"rotate unknown app", "POST", "/v1/admin/apps/nope/rotate", map[string]any{"which": "secret"}, protocol.CodeNotFound},
		{"show unknown app", "GET", "/v1/admin/apps/nope", nil, protocol.CodeNotFound},
		{"disable unknown app", "POST", "/v1/admin/apps/nope/disable", nil, protocol.CodeNotFound},
		{"delete enabled app", "DELETE", "/v1/admin/apps/chat", nil, protocol.CodeInvalidArgument},
		{"unknown route", "POST", "/v1/admin/apps/chat/pause", nil, protocol.CodeNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := o
			o.t = t
			o.fails(tc.method, tc.path, tc.body, tc.code)
		})
	}
	if after := listed(); after != before {
		t.Fatalf("refused requests changed the apps:\n%s\n%s", before, after)
	}
	// The app's credentials are the ones it was created with.
	mustLogin(t, s, a.ID, a.Secret, "alice").Close()
	if st, m := adminStatus(t, s, a.ID, a.AdminKey); st != 200 {
		t.Fatalf("admin key after refused requests: %d %v", st, m)
	}
}

// TestTenantConfiguredOperatorKey: a configured operator key is used, and
// no key file is written.
func TestTenantConfiguredOperatorKey(t *testing.T) {
	key := strings.Repeat("k", 32)
	s := testkit.Start(t, func(c *config.Config) { c.OperatorKey = key })
	if s.Srv.OperatorKey() != key {
		t.Fatalf("operator key %q", s.Srv.OperatorKey())
	}
	if _, err := operatorkey.Load(s.DataDir); err == nil {
		t.Fatal("a key file was written although the key is configured")
	}
	createTenant(t, opAPI(t, s), "chat", "Chat")
}

// TestTenantOperatorKeyPrintedOnce: the first start prints the generated
// operator key; a restart on the same data directory keeps it and prints
// nothing about it.
func TestTenantOperatorKeyPrintedOnce(t *testing.T) {
	dir := t.TempDir()
	start := func() (*server.Server, string) {
		t.Helper()
		cfg := config.Default()
		cfg.Addr, cfg.DataDir = "127.0.0.1:0", dir
		var out bytes.Buffer
		srv, err := server.New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), &out)
		if err != nil {
			t.Fatal(err)
		}
		return srv, out.String()
	}
	first, out := start()
	key := first.OperatorKey()
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "operator key:  "+key+"\n") || !strings.Contains(out, filepath.Join(dir, operatorkey.FileName)) {
		t.Fatalf("first start printed %q, want the operator key %q and its file", out, key)
	}
	second, out := start()
	defer second.Close()
	if second.OperatorKey() != key || strings.Contains(out, key) || strings.Contains(out, "operator key") {
		t.Fatalf("restart: key %q (was %q), printed %q", second.OperatorKey(), key, out)
	}
}
