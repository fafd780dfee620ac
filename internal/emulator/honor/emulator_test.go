package honor

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var testApp = App{AppID: "104436289", ClientID: "1893471560928374", ClientSecret: "s3cr3t-of-the-app"}

type rig struct {
	e      *Emulator
	client *http.Client
	now    time.Time
}

func start(t *testing.T) *rig {
	t.Helper()
	r := &rig{now: time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)}
	e, err := New(Config{Now: func() time.Time { return r.now }})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Shutdown(context.Background()) })
	if err := e.RegisterApp(testApp); err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: e.CertPool()}}
	t.Cleanup(tr.CloseIdleConnections)
	r.e, r.client = e, &http.Client{Transport: tr}
	return r
}

func (r *rig) token(t *testing.T, form url.Values) (int, map[string]any) {
	t.Helper()
	resp, err := r.client.PostForm(r.e.TokenURL(), form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

func (r *rig) accessToken(t *testing.T) string {
	t.Helper()
	st, m := r.token(t, url.Values{"grant_type": {"client_credentials"}, "client_id": {testApp.ClientID}, "client_secret": {testApp.ClientSecret}})
	if st != 200 || m["access_token"] == "" || m["expires_in"] != float64(3600) || m["token_type"] != "Bearer" {
		t.Fatalf("token: %d %v", st, m)
	}
	return m["access_token"].(string)
}

// send posts body to the app's sendMessage with the headers Honor
// documents; mod may change the request.
func (r *rig) send(t *testing.T, appID, tok string, body any, mod func(*http.Request)) (int, map[string]any) {
	t.Helper()
	b, ok := body.([]byte)
	if !ok {
		b, _ = json.Marshal(body)
	}
	req, _ := http.NewRequest(http.MethodPost, r.e.URL()+"/api/v1/"+appID+"/sendMessage", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json; charset=UTF-8")
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("timestamp", strconv.FormatInt(time.Now().UnixMilli(), 10))
	if mod != nil {
		mod(req)
	}
	resp, err := r.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

func notification(tokens ...string) map[string]any {
	return map[string]any{
		"android": map[string]any{"notification": map[string]any{"title": "t", "body": "b", "clickAction": map[string]any{"type": 3}}},
		"token":   tokens,
	}
}

// TestTokenEndpoint: only the registered client with its secret, by the
// client-credentials grant in a form, gets an access token.
func TestTokenEndpoint(t *testing.T) {
	r := start(t)
	r.accessToken(t)
	for _, c := range []struct {
		form   url.Values
		status int
		err    string
	}{
		{url.Values{"grant_type": {"password"}, "client_id": {testApp.ClientID}, "client_secret": {testApp.ClientSecret}}, 400, "unsupported_grant_type"},
		{url.Values{"grant_type": {"client_credentials"}, "client_id": {testApp.ClientID}, "client_secret": {"wrong"}}, 401, "invalid_client"},
		{url.Values{"grant_type": {"client_credentials"}, "client_id": {"nobody"}, "client_secret": {testApp.ClientSecret}}, 401, "invalid_client"},
		{url.Values{"grant_type": {"client_credentials"}, "client_id": {testApp.AppID}, "client_secret": {testApp.ClientSecret}}, 401, "invalid_client"},
	} {
		if st, m := r.token(t, c.form); st != c.status || m["error"] != c.err {
			t.Errorf("%v: %d %v, want %d %s", c.form, st, m, c.status, c.err)
		}
	}
	resp, err := r.client.Post(r.e.TokenURL(), "application/json", strings.NewReader(`{"grant_type":"client_credentials"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("JSON body: %d", resp.StatusCode)
	}
	if s := r.e.Stats(); s.TokenGrants != 1 || s.TokenRefusals != 5 {
		t.Errorf("stats %+v", s)
	}
}

// TestSendRejections: what Honor refuses is refused with its code, and
// nothing is delivered.
func TestSendRejections(t *testing.T) {
	r := start(t)
	tok := r.accessToken(t)
	dev := r.e.RegisterDevice(testApp.AppID)
	big := notification(dev)
	big["data"] = `"` + strings.Repeat("x", 4200) + `"`
	many := make([]string, 1001)
	for i := range many {
		many[i] = dev
	}
	withAndroid := func(android map[string]any) map[string]any {
		return map[string]any{"android": android, "token": []string{dev}}
	}
	note := func(n map[string]any) map[string]any {
		base := map[string]any{"title": "t", "body": "b", "clickAction": map[string]any{"type": 3}}
		for k, v := range n {
			base[k] = v
		}
		return withAndroid(map[string]any{"notification": base})
	}
	cases := []struct {
		name   string
		appID  string
		tok    string
		body   any
		mod    func(*http.Request)
		status int
		code   int
	}{
		{"no access token", testApp.AppID, "", notification(dev), nil, 401, 80200001},
		{"unknown access token", testApp.AppID, "forged", notification(dev), nil, 401, 80200001},
		{"another app's path", "999", tok, notification(dev), nil, 401, 80200001},
		{"no timestamp", testApp.AppID, tok, notification(dev), func(q *http.Request) { q.Header.Del("timestamp") }, 400, 80100001},
		{"timestamp in seconds", testApp.AppID, tok, notification(dev), func(q *http.Request) { q.Header.Set("timestamp", "1563105451") }, 400, 80100001},
		{"form body", testApp.AppID, tok, notification(dev), func(q *http.Request) { q.Header.Set("Content-Type", "application/x-www-form-urlencoded") }, 400, 80100001},
		{"not JSON", testApp.AppID, tok, []byte("{"), nil, 400, 80100003},
		{"Huawei's message wrapper", testApp.AppID, tok, map[string]any{"message": notification(dev)}, nil, 400, 80100003},
		{"snake_case click_action", testApp.AppID, tok, withAndroid(map[string]any{"notification": map[string]any{"title": "t", "body": "b", "click_action": map[string]any{"type": 3}}}), nil, 400, 80100003},
		{"no token", testApp.AppID, tok, notification(), nil, 400, 80300010},
		{"1001 tokens", testApp.AppID, tok, notification(many...), nil, 400, 80300010},
		{"nothing to send", testApp.AppID, tok, map[string]any{"token": []string{dev}}, nil, 400, 80100003},
		{"no clickAction", testApp.AppID, tok, withAndroid(map[string]any{"notification": map[string]any{"title": "t", "body": "b"}}), nil, 400, 80100001},
		{"top-level notification only", testApp.AppID, tok, map[string]any{"notification": map[string]any{"title": "t", "body": "b"}, "token": []string{dev}}, nil, 400, 80100001},
		{"no body", testApp.AppID, tok, note(map[string]any{"body": ""}), nil, 400, 80100001},
		{"notification with data not JSON", testApp.AppID, tok, map[string]any{"data": "plain", "android": map[string]any{"notification": map[string]any{"title": "t", "body": "b", "clickAction": map[string]any{"type": 3}}}, "token": []string{dev}}, nil, 400, 80100001},
		{"clickAction 4", testApp.AppID, tok, note(map[string]any{"clickAction": map[string]any{"type": 4}}), nil, 400, 80100001},
		{"clickAction 2 over http", testApp.AppID, tok, note(map[string]any{"clickAction": map[string]any{"type": 2, "url": "http://x.example"}}), nil, 400, 80100001},
		{"clickAction 1 without intent", testApp.AppID, tok, note(map[string]any{"clickAction": map[string]any{"type": 1}}), nil, 400, 80100001},
		{"importance HIGH", testApp.AppID, tok, note(map[string]any{"importance": "HIGH"}), nil, 400, 80100001},
		{"style 1 without bigBody", testApp.AppID, tok, note(map[string]any{"style": 1, "bigTitle": "t"}), nil, 400, 80100001},
		{"badge without class", testApp.AppID, tok, note(map[string]any{"badge": map[string]any{"setNum": 1}}), nil, 400, 80100001},
		{"badge 100", testApp.AppID, tok, note(map[string]any{"badge": map[string]any{"setNum": 100, "badgeClass": "a.B"}}), nil, 400, 80100001},
		{"four buttons", testApp.AppID, tok, note(map[string]any{"buttons": []map[string]any{{"name": "a"}, {"name": "b"}, {"name": "c"}, {"name": "d"}}}), nil, 400, 80100001},
		{"ttl without unit", testApp.AppID, tok, withAndroid(map[string]any{"ttl": "86400", "data": "x"}), nil, 400, 80100001},
		{"ttl of 16 days", testApp.AppID, tok, withAndroid(map[string]any{"ttl": "1382400s", "data": "x"}), nil, 400, 80100001},
		{"targetUserType 2", testApp.AppID, tok, withAndroid(map[string]any{"targetUserType": 2, "data": "x"}), nil, 400, 80100001},
		{"over 4096 bytes", testApp.AppID, tok, big, nil, 400, 80300008},
		{"no token of Honor's form", testApp.AppID, tok, notification("short"), nil, 400, 80300007},
	}
	for _, c := range cases {
		st, m := r.send(t, c.appID, c.tok, c.body, c.mod)
		if st != c.status || m["code"] != float64(c.code) {
			t.Errorf("%s: %d %v, want %d %d", c.name, st, m, c.status, c.code)
		}
	}
	if n := len(r.e.Deliveries(dev)); n != 0 {
		t.Fatalf("%d deliveries after rejections", n)
	}
	// The same request, right, is delivered.
	if st, m := r.send(t, testApp.AppID, tok, notification(dev), nil); st != 200 || m["code"] != float64(200) {
		t.Fatalf("valid: %d %v", st, m)
	}
}

// TestAccessTokenExpiry: an access token past its lifetime is refused
// with 80200003; a new one works.
func TestAccessTokenExpiry(t *testing.T) {
	r := start(t)
	tok := r.accessToken(t)
	dev := r.e.RegisterDevice(testApp.AppID)
	r.now = r.now.Add(time.Hour)
	if st, m := r.send(t, testApp.AppID, tok, notification(dev), nil); st != 401 || m["code"] != float64(80200003) {
		t.Fatalf("expired: %d %v", st, m)
	}
	tok = r.accessToken(t)
	if st, m := r.send(t, testApp.AppID, tok, notification(dev), nil); st != 200 || m["code"] != float64(200) {
		t.Fatalf("renewed: %d %v", st, m)
	}
	r.e.ExpireAccessTokens()
	if st, m := r.send(t, testApp.AppID, tok, notification(dev), nil); st != 401 || m["code"] != float64(80200003) {
		t.Fatalf("ExpireAccessTokens: %d %v", st, m)
	}
}

// TestTokensAnswer: delivered, unknown and uninstalled tokens of one
// request are told apart in data; only the valid one gets the message.
func TestTokensAnswer(t *testing.T) {
	r := start(t)
	tok := r.accessToken(t)
	good := r.e.RegisterDevice(testApp.AppID)
	gone := r.e.RegisterDevice(testApp.AppID)
	r.e.Unregister(gone)
	unknown := "BAEAAAAAB" + strings.Repeat("z", 90)
	st, m := r.send(t, testApp.AppID, tok, notification(good, gone, unknown, "bad token"), nil)
	data, _ := m["data"].(map[string]any)
	if st != 200 || m["code"] != float64(200) || data["sendResult"] != true || data["requestId"] == "" ||
		fmt.Sprint(data["expireTokens"]) != fmt.Sprint([]any{gone}) || fmt.Sprint(data["failTokens"]) != fmt.Sprint([]any{unknown, "bad token"}) {
		t.Fatalf("answer %d %v", st, m)
	}
	if len(r.e.Deliveries(good)) != 1 || len(r.e.Deliveries(gone)) != 0 {
		t.Fatal("deliveries wrong")
	}
	st, m = r.send(t, testApp.AppID, tok, notification(gone), nil)
	if data, _ := m["data"].(map[string]any); st != 200 || data["sendResult"] != false {
		t.Fatalf("only an uninstalled token: %d %v", st, m)
	}
}

// TestFaultsPlayed: the faults answer as documented and end after Times.
func TestFaultsPlayed(t *testing.T) {
	r := start(t)
	tok := r.accessToken(t)
	dev := r.e.RegisterDevice(testApp.AppID)
	if err := r.e.SetFault("", Fault{Kind: "nonsense"}); err == nil {
		t.Fatal("unknown fault kind accepted")
	}
	for _, c := range []struct {
		f      Fault
		status int
		code   float64
	}{
		{Fault{Kind: FaultServerError, Times: 1}, 500, 81000001},
		{Fault{Kind: FaultDailyQuota, Times: 1}, 400, DefaultQuotaCode},
		{Fault{Kind: FaultAuthExpired, Times: 1}, 401, 80200003},
		{Fault{Kind: FaultFlowControl, Times: 1, RetryAfter: 3 * time.Second}, 503, 0},
	} {
		if err := r.e.SetFault("", c.f); err != nil {
			t.Fatal(err)
		}
		st, m := r.send(t, testApp.AppID, tok, notification(dev), nil)
		if st != c.status || (c.code != 0 && m["code"] != c.code) {
			t.Errorf("%s: %d %v", c.f.Kind, st, m)
		}
	}
	if err := r.e.SetFault(dev, Fault{Kind: FaultInvalidToken, Times: 1}); err != nil {
		t.Fatal(err)
	}
	if _, m := r.send(t, testApp.AppID, tok, notification(dev), nil); fmt.Sprint(m["data"].(map[string]any)["expireTokens"]) != fmt.Sprint([]any{dev}) {
		t.Errorf("invalid_token fault: %v", m)
	}
	if st, _ := r.send(t, testApp.AppID, tok, notification(dev), nil); st != 200 || len(r.e.Deliveries(dev)) != 1 {
		t.Errorf("after the faults: %d, %d deliveries", st, len(r.e.Deliveries(dev)))
	}
}

// TestBadgeOnTheIcon: the icon's badge follows each notification's
// badge (with its launcher Activity): setNum sets it, addNum adds to it,
// setNum wins over addNum; a notification without a badge leaves it.
func TestBadgeOnTheIcon(t *testing.T) {
	r := start(t)
	tok := r.accessToken(t)
	dev := r.e.RegisterDevice(testApp.AppID)
	if _, set := r.e.Badge(dev); set {
		t.Fatal("a badge before any push")
	}
	for i, c := range []struct {
		badge map[string]any
		want  int
	}{
		{map[string]any{"setNum": 4, "badgeClass": "a.Main"}, 4},
		{map[string]any{"addNum": 2, "badgeClass": "a.Main"}, 6},
		{nil, 6},
		{map[string]any{"addNum": 1, "setNum": 1, "badgeClass": "a.Main"}, 1},
	} {
		b := notification(dev)
		if c.badge != nil {
			b["android"].(map[string]any)["notification"].(map[string]any)["badge"] = c.badge
		}
		if st, m := r.send(t, testApp.AppID, tok, b, nil); st != 200 || m["code"] != float64(200) {
			t.Fatalf("send %d: %d %v", i, st, m)
		}
		if n, set := r.e.Badge(dev); !set || n != c.want {
			t.Fatalf("after push %d (badge %v): %d (set %v), want %d", i, c.badge, n, set, c.want)
		}
	}
}
