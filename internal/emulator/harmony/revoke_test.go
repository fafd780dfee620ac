package harmony

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

func (f *fixture) revoke(t *testing.T, client, auth, pushType, body string) (int, answerBody) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, f.e.URL()+"/v1/"+client+"/messages:revoke", bytes.NewReader([]byte(body)))
	req.Header.Set("Content-Type", "application/json")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if pushType != "" {
		req.Header.Set("push-type", pushType)
	}
	resp, err := f.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a answerBody
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		t.Fatalf("answer is not JSON: %v", err)
	}
	return resp.StatusCode, a
}

func alertWithID(id int, body string, tokens ...string) map[string]any {
	a := alert(tokens...)
	n := a["payload"].(map[string]any)["notification"].(map[string]any)
	n["notifyId"], n["body"] = id, body
	return a
}

// TestRevokeRemovesShownNotification: messages:revoke with the shown
// notification's notifyId removes it (only it) from the tray; a later
// message with that notifyId shows again.
func TestRevokeRemovesShownNotification(t *testing.T) {
	f := setup(t)
	tok := f.e.RegisterDevice(project)
	auth := "Bearer " + f.goodJWT(t)
	for _, m := range []struct {
		id   int
		body string
	}{{1, "keep"}, {7, "oops"}} {
		if st, a, _ := f.send(t, project, auth, "0", alertWithID(m.id, m.body, tok)); st != 200 || a.Code != codeSuccess {
			t.Fatalf("send: %d %+v", st, a)
		}
	}
	client := f.e.ClientID(project)
	if again := f.e.ClientID(project); again != client {
		t.Fatalf("client ID changed: %s, %s", client, again)
	}
	st, a := f.revoke(t, client, auth, "0", `{"notifyId":7,"token":["`+tok+`"]}`)
	if st != 200 || a.Code != codeSuccess || a.RequestID == "" {
		t.Fatalf("revoke: %d %+v", st, a)
	}
	if tray := f.e.Tray(tok); len(tray) != 1 || tray[0].Body != "keep" {
		t.Fatalf("tray after the revoke %+v", tray)
	}
	// A notifyId nothing shows: accepted, nothing changes.
	if st, a := f.revoke(t, client, auth, "0", `{"notifyId":99,"token":["`+tok+`"]}`); st != 200 || a.Code != codeSuccess {
		t.Fatalf("revoke of nothing shown: %d %+v", st, a)
	}
	if st, a, _ := f.send(t, project, auth, "0", alertWithID(7, "again", tok)); st != 200 || a.Code != codeSuccess {
		t.Fatalf("send: %d %+v", st, a)
	}
	if tray := f.e.Tray(tok); len(tray) != 2 || tray[1].Body != "again" {
		t.Fatalf("tray after a new message with the notifyId %+v", tray)
	}
	if s := f.e.Stats(); s.RevokeRequests != 2 || s.Revoked != 2 {
		t.Fatalf("stats %+v", s)
	}
}

// TestRevokeRefusals: the revoke's checks, each leaving the tray as it was.
func TestRevokeRefusals(t *testing.T) {
	f := setup(t)
	tok := f.e.RegisterDevice(project)
	gone := f.e.RegisterDevice(project)
	f.e.Uninstall(gone)
	auth := "Bearer " + f.goodJWT(t)
	if st, a, _ := f.send(t, project, auth, "0", alertWithID(7, "oops", tok)); st != 200 || a.Code != codeSuccess {
		t.Fatalf("send: %d %+v", st, a)
	}
	client := f.e.ClientID(project)
	other := f.e.ClientID("999")
	expired := f.claims()
	expired["iat"], expired["exp"] = f.now.Add(-2*time.Hour).Unix(), f.now.Add(-time.Hour).Unix()
	good := `{"notifyId":7,"token":["` + tok + `"]}`
	many := `{"notifyId":7,"token":[` + strings.Repeat(`"`+tok+`",`, 1000) + `"` + tok + `"]}`
	for _, c := range []struct {
		name, client, auth, pushType, body string
		status                             int
		code                               string
	}{
		{"no JWT", client, "", "0", good, 401, codeAuth},
		{"expired JWT", client, "Bearer " + signJWT(t, f.key, f.header(), expired), "0", good, 401, codeJWTExpired},
		{"unknown client ID", "123", auth, "0", good, 401, codeAuth},
		{"another project's client ID", other, auth, "0", good, 401, codeAuth},
		{"no push-type", client, auth, "", good, 400, codeStructure},
		{"push-type 6", client, auth, "6", good, 400, codeStructure},
		{"unknown field", client, auth, "0", `{"notifyId":7,"token":["` + tok + `"],"tag":"x"}`, 400, codeStructure},
		{"no notifyId", client, auth, "0", `{"token":["` + tok + `"]}`, 400, codeStructure},
		{"string notifyId", client, auth, "0", `{"notifyId":"7","token":["` + tok + `"]}`, 400, codeStructure},
		{"fractional notifyId", client, auth, "0", `{"notifyId":7.5,"token":["` + tok + `"]}`, 400, codeStructure},
		{"no token", client, auth, "0", `{"notifyId":7}`, 400, codeStructure},
		{"empty token", client, auth, "0", `{"notifyId":7,"token":[]}`, 400, codeTooManyTokens},
		{"1001 tokens", client, auth, "0", many, 400, codeTooManyTokens},
		{"uninstalled token", client, auth, "0", `{"notifyId":7,"token":["` + gone + `"]}`, 400, codeInvalidTokens},
		{"malformed token", client, auth, "0", `{"notifyId":7,"token":["x"]}`, 400, codeInvalidTokens},
	} {
		st, a := f.revoke(t, c.client, c.auth, c.pushType, c.body)
		if st != c.status || a.Code != c.code {
			t.Errorf("%s: %d %+v, want %d %s", c.name, st, a, c.status, c.code)
		}
	}
	if tray := f.e.Tray(tok); len(tray) != 1 || tray[0].Body != "oops" {
		t.Fatalf("tray after refused revokes %+v", tray)
	}
	// One good token among invalid ones: 80100000, and it is revoked.
	st, a := f.revoke(t, client, auth, "0", `{"notifyId":7,"token":["`+tok+`","`+gone+`"]}`)
	if st != 200 || a.Code != codePartial {
		t.Fatalf("partial revoke: %d %+v", st, a)
	}
	if tray := f.e.Tray(tok); len(tray) != 0 {
		t.Fatalf("tray after the partial revoke %+v", tray)
	}
}
