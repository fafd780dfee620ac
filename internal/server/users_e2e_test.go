package server_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/heraldim/herald/internal/protocol"
	"github.com/heraldim/herald/internal/testkit"
	"github.com/heraldim/herald/internal/token"
)

// wantAdminCode makes an admin call that must fail with code, at the code's
// HTTP status.
func wantAdminCode(t *testing.T, s *testkit.Server, code protocol.Code, method, path string, body any) {
	t.Helper()
	st, b := adminCall(t, s, method, path, body)
	if st != code.HTTPStatus() || b["code"] != float64(code) {
		t.Fatalf("%s %s: %d %v, want %d %d", method, path, st, b, code.HTTPStatus(), code)
	}
}

// userErrors returns an errorUserList as userID -> code.
func userErrors(t *testing.T, b map[string]any) map[string]float64 {
	t.Helper()
	list, ok := b["errorUserList"].([]any)
	if !ok {
		t.Fatalf("no errorUserList in %v", b)
	}
	out := map[string]float64{}
	for _, e := range list {
		m := e.(map[string]any)
		out[m["userID"].(string)] = m["code"].(float64)
	}
	return out
}

// mintAt mints a token of the dev app for user issued at iat.
func mintAt(t *testing.T, s *testkit.Server, user string, iat time.Time) string {
	t.Helper()
	tok, err := token.Mint(s.App.AppID, s.App.Secret, user, time.Hour, iat)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// loginWith dials and logs user in with tok, waiting for its login sync.
func loginWith(t *testing.T, s *testkit.Server, user, tok, platform string) *testkit.Client {
	t.Helper()
	c := testkit.Dial(t, s.URL)
	if err := c.Login(s.App.AppID, user, tok, platform, platform+"-"+user); err != nil {
		t.Fatalf("login %s: %v", user, err)
	}
	c.SyncDone(wait)
	return c
}

// wantKicked waits for the kicked event with reason 3, then close 4008.
func wantKicked(t *testing.T, c *testkit.Client) {
	t.Helper()
	f := c.Next(wait)
	var k protocol.Kicked
	if f.Type != protocol.EventKicked || json.Unmarshal(f.Data, &k) != nil || k.Reason != protocol.KickByServer {
		t.Fatalf("got %s %s, want kicked with reason %d", f.Type, f.Data, protocol.KickByServer)
	}
	if code := c.CloseCode(wait); code != protocol.CloseKickedByServer {
		t.Fatalf("close code %d, want %d", code, protocol.CloseKickedByServer)
	}
}

// TestUsersImportQueryUpdate: an import applies its valid users and
// reports each invalid one; the query shows profiles, the live sessions of
// a logged-in user and the unknown IDs; an update changes only the fields
// given; imported users are users the groups may name; bad input changes
// nothing.
func TestUsersImportQueryUpdate(t *testing.T) {
	s := testkit.Start(t, nil)
	long := strings.Repeat("n", 257)
	b := mustAdmin(t, s, 200, "POST", "/users/import", map[string]any{"users": []map[string]any{
		{"userID": "alice", "nickname": "Alice", "avatarURL": "https://example.com/a.png", "extra": `{"level":3}`},
		{"userID": "bad id"},
		{"userID": "bob", "nickname": long},
		{"userID": "alice", "nickname": "Again"},
		{"userID": "dave"},
	}})
	errs := userErrors(t, b)
	want := map[string]float64{"bad id": float64(protocol.CodeInvalidUserID), "bob": float64(protocol.CodeInvalidArgument)}
	if len(errs) != 3 || errs["bad id"] != want["bad id"] || errs["bob"] != want["bob"] || errs["alice"] != float64(protocol.CodeInvalidArgument) {
		t.Fatalf("errorUserList %v, want bad id 40004, bob 40003, the second alice 40003", errs)
	}
	a := mustAdmin(t, s, 200, "GET", "/users/alice", nil)
	if a["nickname"] != "Alice" || a["avatarURL"] != "https://example.com/a.png" || a["extra"] != `{"level":3}` || a["online"] != false {
		t.Fatalf("alice %v", a)
	}
	wantAdminCode(t, s, protocol.CodeUserNotFound, "GET", "/users/bob", nil)

	// carol exists by her login; the query shows her session.
	carol := s.LoginAs(t, "carol", "ios", "phone-carol")
	carol.SyncDone(wait)
	q := mustAdmin(t, s, 200, "POST", "/users/query", map[string]any{"userIDs": []string{"alice", "carol", "zed", "a:b", "carol"}})
	errs = userErrors(t, q)
	if len(errs) != 2 || errs["zed"] != float64(protocol.CodeUserNotFound) || errs["a:b"] != float64(protocol.CodeInvalidUserID) {
		t.Fatalf("query errorUserList %v", errs)
	}
	users := q["users"].([]any)
	if len(users) != 2 {
		t.Fatalf("query users %v", users)
	}
	c := users[1].(map[string]any)
	sessions, _ := c["sessions"].([]any)
	if c["userID"] != "carol" || c["online"] != true || len(sessions) != 1 {
		t.Fatalf("carol %v, want online with one session", c)
	}
	if ss := sessions[0].(map[string]any); ss["platform"] != "ios" || ss["deviceID"] != "phone-carol" || ss["since"] == "" {
		t.Fatalf("carol's session %v", ss)
	}

	// An update changes the fields given, and only those.
	u := mustAdmin(t, s, 200, "PATCH", "/users/alice", map[string]any{"nickname": "Al"})
	if u["nickname"] != "Al" || u["avatarURL"] != "https://example.com/a.png" {
		t.Fatalf("after update %v", u)
	}
	// Clients see the profiles through userInfo.
	var info protocol.UserInfoReply
	if err := carol.Call(protocol.TypeUserInfo, protocol.UserInfoRequest{UserIDs: []string{"alice", "zed", "a:b", "carol", "alice"}}, &info); err != nil {
		t.Fatal(err)
	}
	if len(info.Users) != 2 || info.Users[0] != (protocol.UserInfo{UserID: "alice", Nickname: "Al", AvatarURL: "https://example.com/a.png", Extra: `{"level":3}`}) ||
		info.Users[1] != (protocol.UserInfo{UserID: "carol"}) {
		t.Fatalf("userInfo users %+v", info.Users)
	}
	if len(info.ErrorUserList) != 2 || info.ErrorUserList[0].UserID != "a:b" || info.ErrorUserList[0].Code != protocol.CodeInvalidUserID ||
		info.ErrorUserList[1].UserID != "zed" || info.ErrorUserList[1].Code != protocol.CodeUserNotFound {
		t.Fatalf("userInfo errorUserList %+v", info.ErrorUserList)
	}
	if err := carol.Call(protocol.TypeUserInfo, protocol.UserInfoRequest{}, nil); err == nil || err.Code != protocol.CodeInvalidArgument {
		t.Fatalf("userInfo without IDs: %v", err)
	}
	// Groups may name imported users that never logged in.
	var g protocol.GroupReply
	if err := carol.Call(protocol.TypeGroupCreate, protocol.GroupCreateRequest{Name: "g", Members: []string{"alice", "dave"}}, &g); err != nil {
		t.Fatalf("group with imported members: %v", err)
	}

	// Bad input changes nothing.
	for _, tc := range []struct {
		code         protocol.Code
		method, path string
		body         any
	}{
		{protocol.CodeInvalidArgument, "PATCH", "/users/alice", map[string]any{"nickname": long}},
		{protocol.CodeInvalidArgument, "PATCH", "/users/alice", map[string]any{}},
		{protocol.CodeInvalidArgument, "PATCH", "/users/alice", map[string]any{"nickname": "x", "age": 3}},
		{protocol.CodeInvalidUserID, "PATCH", "/users/a:b", map[string]any{"nickname": "x"}},
		{protocol.CodeUserNotFound, "PATCH", "/users/zed", map[string]any{"nickname": "x"}},
		{protocol.CodeInvalidArgument, "POST", "/users/import", map[string]any{"users": []any{}}},
		{protocol.CodeInvalidArgument, "POST", "/users/import", map[string]any{"users": manyUsers(101)}},
		{protocol.CodeInvalidArgument, "POST", "/users/import", map[string]any{"users": []map[string]any{{"userID": "erin", "age": 3}}}},
		{protocol.CodeInvalidArgument, "POST", "/users/query", map[string]any{"userIDs": []string{}}},
		{protocol.CodeInvalidUserID, "GET", "/users/a:b", nil},
	} {
		wantAdminCode(t, s, tc.code, tc.method, tc.path, tc.body)
	}
	if a := mustAdmin(t, s, 200, "GET", "/users/alice", nil); a["nickname"] != "Al" {
		t.Fatalf("alice changed by bad input: %v", a)
	}
	for _, id := range []string{"u0", "u100", "erin"} {
		wantAdminCode(t, s, protocol.CodeUserNotFound, "GET", "/users/"+id, nil)
	}

	// Another app's admin key, or none, is refused.
	other := s.CreateApp(t, "other")
	req, _ := http.NewRequest("POST", s.HTTP+"/v1/apps/"+s.App.AppID+"/users/import",
		bytes.NewReader([]byte(`{"users":[{"userID":"mallory"}]}`)))
	req.Header.Set("Authorization", "Bearer "+other.AdminKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var eb map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&eb)
	resp.Body.Close()
	if resp.StatusCode != 401 || eb["code"] != float64(protocol.CodeAdminUnauthorized) {
		t.Fatalf("import with another app's key: %d %v", resp.StatusCode, eb)
	}
	wantAdminCode(t, s, protocol.CodeUserNotFound, "GET", "/users/mallory", nil)
}

func manyUsers(n int) []map[string]any {
	out := make([]map[string]any, n)
	for i := range out {
		out[i] = map[string]any{"userID": "u" + strconv.Itoa(i)}
	}
	return out
}

// TestUsersKick: a kick closes every live session of the user, server ones
// included, with the kicked event (reason 3) and close 4008; the user is
// offline at once and may log in again with the same token.
func TestUsersKick(t *testing.T) {
	s := testkit.Start(t, nil)
	tok := s.Token(t, "alice", time.Hour)
	phone := loginWith(t, s, "alice", tok, "ios")
	script := loginWith(t, s, "alice", tok, "server")
	b := mustAdmin(t, s, 200, "POST", "/users/alice/kick", nil)
	if b["sessions"] != float64(2) {
		t.Fatalf("kick closed %v sessions, want 2", b["sessions"])
	}
	if s.Online("alice") {
		t.Fatal("alice online after the kick")
	}
	wantKicked(t, phone)
	wantKicked(t, script)
	loginWith(t, s, "alice", tok, "ios")
	if u := mustAdmin(t, s, 200, "GET", "/users/alice", nil); u["online"] != true {
		t.Fatalf("alice after logging in again: %v", u)
	}
	wantAdminCode(t, s, protocol.CodeUserNotFound, "POST", "/users/zed/kick", nil)
	wantAdminCode(t, s, protocol.CodeInvalidUserID, "POST", "/users/a:b/kick", nil)
}

// TestUsersRevokeTokens: after a revocation the user's sessions of older
// tokens are closed with 4007 and those tokens are refused at login and
// renewToken (40108); a session of a newer token stays, and a token
// minted after the cutoff logs in. A cutoff never moves back; bad input
// changes nothing.
func TestUsersRevokeTokens(t *testing.T) {
	s := testkit.Start(t, nil)
	now := time.Now()
	oldTok := mintAt(t, s, "alice", now.Add(-5*time.Second))
	newTok := mintAt(t, s, "alice", now.Add(2*time.Second))
	phone := loginWith(t, s, "alice", oldTok, "ios")
	tablet := loginWith(t, s, "alice", newTok, "android")

	for _, before := range []any{"yesterday", now.Add(time.Hour).UnixMilli(), -1, true} {
		wantAdminCode(t, s, protocol.CodeInvalidArgument, "POST", "/users/alice/revoke-tokens", map[string]any{"before": before})
	}
	wantAdminCode(t, s, protocol.CodeUserNotFound, "POST", "/users/zed/revoke-tokens", map[string]any{})
	wantAdminCode(t, s, protocol.CodeInvalidUserID, "POST", "/users/a:b/revoke-tokens", map[string]any{})
	if u := mustAdmin(t, s, 200, "GET", "/users/alice", nil); u["tokensValidAfter"] != nil || len(u["sessions"].([]any)) != 2 {
		t.Fatalf("alice changed by bad revocations: %v", u)
	}

	cutoff := now.Truncate(time.Millisecond)
	b := mustAdmin(t, s, 200, "POST", "/users/alice/revoke-tokens", map[string]any{"before": cutoff.UnixMilli()})
	if b["sessionsClosed"] != float64(1) || b["tokensValidAfter"] != cutoff.UTC().Format(time.RFC3339Nano) {
		t.Fatalf("revoke answered %v, want one session closed and cutoff %s", b, cutoff.UTC().Format(time.RFC3339Nano))
	}
	if code := phone.CloseCode(wait); code != protocol.CloseTokenRevoked {
		t.Fatalf("phone closed with %d, want %d", code, protocol.CloseTokenRevoked)
	}
	c := testkit.Dial(t, s.URL)
	if err := c.Login(s.App.AppID, "alice", oldTok, "ios", "ios-alice"); err == nil || err.Code != protocol.CodeTokenRevoked {
		t.Fatalf("login with a revoked token: %v, want %d", err, protocol.CodeTokenRevoked)
	}
	if err := tablet.Call(protocol.TypeRenewToken, protocol.RenewTokenRequest{Token: oldTok}, nil); err == nil || err.Code != protocol.CodeTokenRevoked {
		t.Fatalf("renewToken with a revoked token: %v, want %d", err, protocol.CodeTokenRevoked)
	}
	// The tablet's session keeps its newer token and stays.
	if err := tablet.Call(protocol.TypePing, struct{}{}, nil); err != nil {
		t.Fatalf("tablet after the revocation: %v", err)
	}
	loginWith(t, s, "alice", newTok, "ios")

	// An earlier cutoff changes nothing (RFC 3339 form).
	b = mustAdmin(t, s, 200, "POST", "/users/alice/revoke-tokens", map[string]any{"before": now.Add(-time.Hour).Format(time.RFC3339)})
	if b["sessionsClosed"] != float64(0) || b["tokensValidAfter"] != cutoff.UTC().Format(time.RFC3339Nano) {
		t.Fatalf("an earlier revocation answered %v", b)
	}
	if err := testkit.Dial(t, s.URL).Login(s.App.AppID, "alice", oldTok, "web", "web-alice"); err == nil || err.Code != protocol.CodeTokenRevoked {
		t.Fatalf("login with a revoked token after an earlier cutoff: %v", err)
	}
}

// TestUsersDelete: deleting a user kicks its sessions, removes its devices
// and bindings (a push to it then plans no job) and its profile; groups no
// longer know it until it logs in again, after which it exists again.
// Messages it sent stay in the other side's history.
func TestUsersDelete(t *testing.T) {
	s := testkit.Start(t, nil)
	alice := s.LoginAs(t, "alice", "server", "script")
	alice.SyncDone(wait)
	bob, pushID := loginWithPush(t, s, "bob", "b0b0")
	if _, err := bob.SendText("alice", "m1", "hi from bob"); err != nil {
		t.Fatal(err)
	}
	if u := mustAdmin(t, s, 200, "GET", "/users/bob", nil); u["devices"] != float64(1) || u["online"] != true {
		t.Fatalf("bob before the delete: %v", u)
	}
	wantAdminCode(t, s, protocol.CodeInvalidUserID, "DELETE", "/users/a:b", nil)
	wantAdminCode(t, s, protocol.CodeUserNotFound, "DELETE", "/users/zed", nil)

	if st, b := adminCall(t, s, "DELETE", "/users/bob", nil); st != http.StatusNoContent {
		t.Fatalf("DELETE bob: %d %v", st, b)
	}
	wantKicked(t, bob)
	wantAdminCode(t, s, protocol.CodeUserNotFound, "GET", "/users/bob", nil)
	if b := mustAdmin(t, s, 200, "POST", "/push/send", map[string]any{"userIDs": []string{"bob"}, "title": "t", "content": "c"}); b["jobs"] != float64(0) {
		t.Fatalf("push to a deleted user planned %v jobs", b["jobs"])
	}
	tr := mustAdmin(t, s, 200, "GET", "/push/trace?pushID="+pushID, nil)
	evs, _ := tr["deviceEvents"].([]any)
	if len(evs) == 0 || evs[0].(map[string]any)["kind"] != "removed" {
		t.Fatalf("bob's device events %v, want removed first", evs)
	}
	var g protocol.GroupReply
	// A deleted user is no user of the app: a group naming it is created
	// without it, the user in errorUserList.
	if err := alice.Call(protocol.TypeGroupCreate, protocol.GroupCreateRequest{Name: "g", Members: []string{"bob"}}, &g); err != nil ||
		len(g.ErrorUserList) != 1 || g.ErrorUserList[0].UserID != "bob" || g.ErrorUserList[0].Code != protocol.CodeUserNotFound {
		t.Fatalf("group naming a deleted user: %v %+v, want bob in errorUserList with %d", err, g.ErrorUserList, protocol.CodeUserNotFound)
	}
	var h protocol.HistoryReply
	if err := alice.Call(protocol.TypeHistory, protocol.HistoryRequest{ConversationID: "bob", Count: 10}, &h); err != nil || len(h.Messages) != 1 {
		t.Fatalf("alice's history with bob after the delete: %v %+v", err, h)
	}

	// bob logs in again: he is a user again, without devices.
	loginWith(t, s, "bob", s.Token(t, "bob", time.Hour), "ios")
	if u := mustAdmin(t, s, 200, "GET", "/users/bob", nil); u["devices"] != float64(0) || u["online"] != true {
		t.Fatalf("bob after logging in again: %v", u)
	}
	if err := alice.Call(protocol.TypeGroupCreate, protocol.GroupCreateRequest{Name: "g", Members: []string{"bob"}}, &g); err != nil {
		t.Fatalf("group naming bob after his new login: %v", err)
	}
}
