package huawei

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	testApp    = "101234567"
	testSecret = "app-secret-1"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type env struct {
	e      *Emulator
	client *http.Client
	clock  *clock
	access string
	token  string
}

func start(t *testing.T, cfg Config) *env {
	t.Helper()
	clk := &clock{t: time.Date(2026, 3, 10, 8, 0, 0, 0, time.UTC)}
	cfg.Now = clk.Now
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Shutdown(context.Background()) })
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig.RootCAs = e.CertPool()
	client := &http.Client{Transport: tr}
	t.Cleanup(client.CloseIdleConnections)
	e.RegisterApp(testApp, testSecret)
	v := &env{e: e, client: client, clock: clk, token: e.RegisterDevice(testApp)}
	status, body := v.tokenRequest(t, url.Values{"grant_type": {"client_credentials"}, "client_id": {testApp}, "client_secret": {testSecret}})
	if status != 200 {
		t.Fatalf("token: %d %s", status, body)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
		TokenType   string `json:"token_type"`
	}
	if err := json.Unmarshal(body, &tok); err != nil || tok.AccessToken == "" || tok.ExpiresIn != 3600 || tok.TokenType != "Bearer" {
		t.Fatalf("token answer %s (%v)", body, err)
	}
	v.access = tok.AccessToken
	return v
}

func (v *env) tokenRequest(t *testing.T, form url.Values) (int, []byte) {
	t.Helper()
	resp, err := v.client.Post(v.e.TokenURL(), "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

type answer struct {
	Code      string `json:"code"`
	Msg       string `json:"msg"`
	RequestID string `json:"requestId"`
}

// send posts body to app's messages:send with auth as the Authorization header.
func (v *env) send(t *testing.T, app, auth, body string) (int, http.Header, answer) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, v.e.URL()+"/v1/"+app+"/messages:send", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json;charset=UTF-8")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := v.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var a answer
	if err := json.Unmarshal(raw, &a); err != nil {
		t.Fatalf("answer %q is not Huawei's JSON: %v", raw, err)
	}
	return resp.StatusCode, resp.Header, a
}

// sendLater posts body after a short pause from a goroutine the test
// waits for; failures show in the waiting side's check.
func (v *env) sendLater(t *testing.T, body string) {
	t.Helper()
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait)
	wg.Go(func() {
		time.Sleep(20 * time.Millisecond)
		req, _ := http.NewRequest(http.MethodPost, v.e.URL()+"/v1/"+testApp+"/messages:send", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+v.access)
		if resp, err := v.client.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
}

func notification(token string) string {
	return fmt.Sprintf(`{"validate_only":false,"message":{"token":[%q],"android":{"notification":{"title":"t","body":"b","click_action":{"type":3}}}}}`, token)
}

func TestTokenEndpoint(t *testing.T) {
	v := start(t, Config{})
	tests := []struct {
		name string
		form url.Values
		sub  int
	}{
		{"wrong grant", url.Values{"grant_type": {"password"}, "client_id": {testApp}, "client_secret": {testSecret}}, 20002},
		{"unknown client", url.Values{"grant_type": {"client_credentials"}, "client_id": {"1"}, "client_secret": {testSecret}}, 12303},
		{"wrong secret", url.Values{"grant_type": {"client_credentials"}, "client_id": {testApp}, "client_secret": {"x"}}, 12304},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := v.tokenRequest(t, tt.form)
			var e struct {
				Error    int    `json:"error"`
				SubError int    `json:"sub_error"`
				Desc     string `json:"error_description"`
			}
			if err := json.Unmarshal(body, &e); err != nil || status != 400 || e.SubError != tt.sub || e.Desc == "" {
				t.Fatalf("%d %s", status, body)
			}
		})
	}
	if s := v.e.Stats(); s.TokenGrants != 1 || s.TokenRefusals != 3 {
		t.Fatalf("stats %+v", s)
	}
}

func TestSendAuth(t *testing.T) {
	v := start(t, Config{})
	v.e.RegisterApp("109999999", "other")
	tests := []struct {
		name, app, auth, code string
	}{
		{"no header", testApp, "", "80200001"},
		{"not bearer", testApp, "Basic " + v.access, "80200001"},
		{"unknown token", testApp, "Bearer nope", "80200001"},
		{"other app's path", "109999999", "Bearer " + v.access, "80200001"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, _, a := v.send(t, tt.app, tt.auth, notification(v.token))
			if status != 401 || a.Code != tt.code {
				t.Fatalf("%d %+v, want 401 %s", status, a, tt.code)
			}
		})
	}
	v.clock.Advance(time.Hour)
	if status, _, a := v.send(t, testApp, "Bearer "+v.access, notification(v.token)); status != 401 || a.Code != "80200003" {
		t.Fatalf("expired: %d %+v", status, a)
	}
}

func TestSendChecks(t *testing.T) {
	v := start(t, Config{})
	v.e.SetSelfClassified(testApp, true)
	tok := v.token
	many := make([]string, 1001)
	for i := range many {
		many[i] = tok
	}
	manyJSON, _ := json.Marshal(many)
	thousandJSON, _ := json.Marshal(many[:1000])
	msg := func(android string) string {
		return fmt.Sprintf(`{"message":{"token":[%q],"data":"x","android":%s}}`, tok, android)
	}
	tests := []struct {
		name, body, code string
	}{
		{"not JSON", `{`, "80100003"},
		{"no message", `{"validate_only":false}`, "80100003"},
		{"unknown field", fmt.Sprintf(`{"message":{"token":[%q],"data":"x","colour":1}}`, tok), "80100003"},
		{"data as object", fmt.Sprintf(`{"message":{"token":[%q],"data":{"a":"b"}}}`, tok), "80100003"},
		{"token as string", fmt.Sprintf(`{"message":{"token":%q,"data":"x"}}`, tok), "80100003"},
		{"nothing to send", fmt.Sprintf(`{"message":{"token":[%q]}}`, tok), "80100003"},
		{"no target", `{"message":{"data":"x"}}`, "80100001"},
		{"two targets", fmt.Sprintf(`{"message":{"token":[%q],"topic":"news","data":"x"}}`, tok), "80100001"},
		{"empty token list", `{"message":{"token":[],"data":"x"}}`, "80100001"},
		{"1001 tokens", fmt.Sprintf(`{"message":{"token":%s,"data":"x"}}`, manyJSON), "80300010"},
		{"ttl without unit digits", msg(`{"ttl":"1d"}`), "80100001"},
		{"ttl as number", msg(`{"ttl":86400}`), "80100003"},
		{"ttl over 15 days", msg(`{"ttl":"1296001s"}`), "80100001"},
		{"collapse_key 101", msg(`{"collapse_key":101}`), "80100013"},
		{"urgency", msg(`{"urgency":"URGENT"}`), "80100001"},
		{"category", msg(`{"category":"CHAT"}`), "80100001"},
		{"notification without click_action", msg(`{"notification":{"title":"t","body":"b"}}`), "80100001"},
		{"click type 1 without intent", msg(`{"notification":{"title":"t","body":"b","click_action":{"type":1}}}`), "80100001"},
		{"click type 2 with http", msg(`{"notification":{"title":"t","body":"b","click_action":{"type":2,"url":"http://x"}}}`), "80100001"},
		{"click type 4", msg(`{"notification":{"title":"t","body":"b","click_action":{"type":4}}}`), "80100001"},
		{"no body", msg(`{"notification":{"title":"t","click_action":{"type":3}}}`), "80100001"},
		{"importance", msg(`{"notification":{"title":"t","body":"b","click_action":{"type":3},"importance":"URGENT"}}`), "80100001"},
		{"badge set_num", msg(`{"notification":{"title":"t","body":"b","click_action":{"type":3},"badge":{"set_num":100,"class":"com.example.Main"}}}`), "80100001"},
		{"badge without class", msg(`{"notification":{"title":"t","body":"b","click_action":{"type":3},"badge":{"set_num":3}}}`), "80100001"},
		{"badge add_num without class", msg(`{"notification":{"title":"t","body":"b","click_action":{"type":3},"badge":{"add_num":1}}}`), "80100001"},
		{"valid badge", msg(`{"notification":{"title":"t","body":"b","click_action":{"type":3},"badge":{"set_num":3,"class":"com.example.Main"}}}`), "80000000"},
		{"common notification without android one", fmt.Sprintf(`{"message":{"token":[%q],"notification":{"title":"t","body":"b"}}}`, tok), "80100001"},
		{"too large", fmt.Sprintf(`{"message":{"token":[%q],"data":%q}}`, tok, strings.Repeat("x", 4097)), "80300008"},
		// data is JSON inside a JSON string: each quote of the app's
		// payload is sent as four bytes (\\\"), so 1100 quotes (2200 bytes
		// of data once decoded) are over the limit.
		{"too large once double-encoded", fmt.Sprintf(`{"message":{"token":[%q],"data":%q}}`, tok, `{"payload":"`+strings.Repeat(`\"`, 1100)+`"}`), "80300008"},
		{"valid data", fmt.Sprintf(`{"message":{"token":[%q],"data":"{}","android":{"urgency":"HIGH","category":"VOIP","ttl":"86400.5s"}}}`, tok), "80000000"},
		{"valid notification", notification(tok), "80000000"},
		{"valid with 1000 tokens counted out of the size", fmt.Sprintf(`{"message":{"token":%s,"data":%q}}`, thousandJSON, strings.Repeat("x", 3900)), "80000000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, _, a := v.send(t, testApp, "Bearer "+v.access, tt.body)
			if a.Code != tt.code || a.Msg == "" || a.RequestID == "" {
				t.Fatalf("%d %+v, want code %s", status, a, tt.code)
			}
			if (tt.code == "80000000") != (status == 200) {
				t.Fatalf("status %d with %s", status, a.Code)
			}
		})
	}
}

func TestTokensAndDeliveries(t *testing.T) {
	v := start(t, Config{})
	auth := "Bearer " + v.access
	other := v.e.RegisterDevice(testApp)
	gone := v.e.RegisterDevice(testApp)
	v.e.Unregister(gone)

	// Partial: msg is a JSON string listing the illegal tokens.
	body := fmt.Sprintf(`{"message":{"token":[%q,%q,"short"],"data":"hi"}}`, v.token, gone)
	status, _, a := v.send(t, testApp, auth, body)
	if status != 200 || a.Code != "80100000" {
		t.Fatalf("partial: %d %+v", status, a)
	}
	var detail struct {
		Success       int      `json:"success"`
		Failure       int      `json:"failure"`
		IllegalTokens []string `json:"illegal_tokens"`
	}
	if err := json.Unmarshal([]byte(a.Msg), &detail); err != nil || detail.Success != 1 || detail.Failure != 2 ||
		len(detail.IllegalTokens) != 2 || detail.IllegalTokens[0] != gone {
		t.Fatalf("partial msg %q (%v)", a.Msg, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	d, err := v.e.Next(ctx, v.token)
	if err != nil || !d.Pass() || *d.Message.Data != "hi" || d.RequestID == "" {
		t.Fatalf("Next: %+v %v", d, err)
	}

	// All invalid.
	if _, _, a := v.send(t, testApp, auth, notification(gone)); a.Code != "80300007" {
		t.Fatalf("all invalid: %+v", a)
	}
	// validate_only records nothing.
	if _, _, a := v.send(t, testApp, auth, strings.Replace(notification(other), `"validate_only":false`, `"validate_only":true`, 1)); a.Code != "80000000" {
		t.Fatalf("validate_only: %+v", a)
	}
	if n := len(v.e.Deliveries(other)); n != 0 {
		t.Fatalf("validate_only recorded %d deliveries", n)
	}
	// Next waits for the following one.
	v.sendLater(t, notification(other))
	d, err = v.e.Next(ctx, other)
	if err != nil || d.Pass() || d.Message.Android.Notification.Title != "t" {
		t.Fatalf("Next(other): %+v %v", d, err)
	}
}

func TestFaults(t *testing.T) {
	tests := []struct {
		name       string
		global     bool
		fault      Fault
		status     int
		code       string
		retryAfter string
	}{
		{"invalid token", false, Fault{Kind: FaultInvalidToken}, 400, "80300007", ""},
		{"auth expired", true, Fault{Kind: FaultAuthExpired}, 401, "80200003", ""},
		{"flow control", true, Fault{Kind: FaultFlowControl, RetryAfter: 1500 * time.Millisecond}, 503, "", "2"},
		{"daily quota", false, Fault{Kind: FaultDailyQuota}, 400, DefaultQuotaCode, ""},
		{"server error", false, Fault{Kind: FaultServerError}, 500, "81000001", ""},
		{"slow", false, Fault{Kind: FaultSlow, Delay: 50 * time.Millisecond}, 200, "80000000", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := start(t, Config{})
			key := v.token
			if tt.global {
				key = ""
			}
			tt.fault.Times = 1
			if err := v.e.SetFault(key, tt.fault); err != nil {
				t.Fatal(err)
			}
			begin := time.Now()
			status, h, a := v.send(t, testApp, "Bearer "+v.access, notification(v.token))
			if status != tt.status || a.Code != tt.code || h.Get("Retry-After") != tt.retryAfter {
				t.Fatalf("%d %+v Retry-After %q", status, a, h.Get("Retry-After"))
			}
			if time.Since(begin) < tt.fault.Delay {
				t.Fatal("slow fault answered early")
			}
			// Times 1: the next send is normal.
			if _, _, a := v.send(t, testApp, "Bearer "+v.access, notification(v.token)); a.Code != "80000000" {
				t.Fatalf("after the fault: %+v", a)
			}
		})
	}
	v := start(t, Config{})
	for _, f := range []struct {
		token string
		f     Fault
	}{{"x", Fault{Kind: "boom"}}, {"", Fault{Kind: FaultInvalidToken}}, {"x", Fault{Kind: FaultSlow, Delay: -1}}} {
		if err := v.e.SetFault(f.token, f.f); err == nil {
			t.Errorf("SetFault(%q, %+v) accepted", f.token, f.f)
		}
	}
}

func TestControlHandler(t *testing.T) {
	v := start(t, Config{})
	ctl := httptest.NewServer(v.e.ControlHandler())
	defer ctl.Close()
	do := func(method, path, body string) (int, []byte) {
		req, _ := http.NewRequest(method, ctl.URL+path, bytes.NewReader([]byte(body)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	status, body := do("POST", "/devices", `{"appID":"`+testApp+`"}`)
	var reg struct{ Token string }
	if status != 201 || json.Unmarshal(body, &reg) != nil || reg.Token == "" {
		t.Fatalf("register: %d %s", status, body)
	}
	if status, _ := do("POST", "/devices", `{"appID":"x","colour":1}`); status != 400 {
		t.Fatalf("unknown field: %d", status)
	}
	if status, _ := do("POST", "/apps", `{"appID":"1","secret":"s"}`); status != 204 {
		t.Fatalf("apps: %d", status)
	}

	v.sendLater(t, notification(reg.Token))
	status, body = do("GET", "/devices/"+reg.Token+"/deliveries?after=0&wait=5s", "")
	var got ControlDeliveries
	if status != 200 || json.Unmarshal(body, &got) != nil || len(got.Deliveries) != 1 || got.Next != 1 ||
		got.Deliveries[0].PassThrough || !bytes.Contains(got.Deliveries[0].Message, []byte(`"click_action"`)) {
		t.Fatalf("deliveries: %d %s", status, body)
	}
	status, body = do("GET", "/devices/"+reg.Token+"/deliveries?after=1&wait=10ms", "")
	if status != 200 || json.Unmarshal(body, &got) != nil || len(got.Deliveries) != 0 || got.Next != 1 {
		t.Fatalf("empty long poll: %d %s", status, body)
	}

	if status, body := do("POST", "/faults", `{"token":"`+reg.Token+`","kind":"server_error","times":1}`); status != 204 {
		t.Fatalf("fault: %d %s", status, body)
	}
	if _, _, a := v.send(t, testApp, "Bearer "+v.access, notification(reg.Token)); a.Code != "81000001" {
		t.Fatalf("fault not played: %+v", a)
	}
	if status, _ := do("POST", "/faults", `{"kind":"nope"}`); status != 400 {
		t.Fatalf("bad fault kind: %d", status)
	}
	if status, _ := do("DELETE", "/faults", ""); status != 204 {
		t.Fatalf("clear faults: %d", status)
	}
	if status, _ := do("DELETE", "/devices/"+reg.Token, ""); status != 204 {
		t.Fatalf("unregister: %d", status)
	}
	if _, _, a := v.send(t, testApp, "Bearer "+v.access, notification(reg.Token)); a.Code != "80300007" {
		t.Fatalf("after uninstall: %+v", a)
	}
	if status, _ := do("GET", "/devices/unknown/deliveries", ""); status != 404 {
		t.Fatalf("unknown device: %d", status)
	}
}

func TestPlainHTTPAndShutdown(t *testing.T) {
	e, err := New(Config{PlainHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(""); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(e.URL(), "http://") {
		t.Fatalf("URL %s", e.URL())
	}
	done := make(chan error, 1)
	go func() {
		_, err := e.Next(context.Background(), "t")
		done <- err
	}()
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != ErrClosed {
		t.Fatalf("Next after Shutdown: %v", err)
	}
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatalf("second Shutdown: %v", err)
	}
}

// TestSelfClassification: a category or urgency HIGH needs the
// entitlement (80300011, nothing delivered); with it VOIP data messages
// pass and PLAY_VOICE notifications do not.
func TestSelfClassification(t *testing.T) {
	v := start(t, Config{})
	tok := v.token
	voip := fmt.Sprintf(`{"message":{"token":[%q],"data":"{}","android":{"urgency":"HIGH","category":"VOIP"}}}`, tok)
	tests := []struct {
		name       string
		classified bool
		body, code string
	}{
		{"VOIP without entitlement", false, voip, "80300011"},
		{"HIGH without entitlement", false, fmt.Sprintf(`{"message":{"token":[%q],"data":"{}","android":{"urgency":"HIGH"}}}`, tok), "80300011"},
		{"IM notification without entitlement", false, fmt.Sprintf(`{"message":{"token":[%q],"android":{"category":"IM","notification":{"title":"t","body":"b","click_action":{"type":3}}}}}`, tok), "80300011"},
		{"normal data without entitlement", false, fmt.Sprintf(`{"message":{"token":[%q],"data":"{}","android":{"urgency":"NORMAL"}}}`, tok), "80000000"},
		{"VOIP with entitlement", true, voip, "80000000"},
		{"PLAY_VOICE notification", true, fmt.Sprintf(`{"message":{"token":[%q],"android":{"category":"PLAY_VOICE","notification":{"title":"t","body":"b","click_action":{"type":3}}}}}`, tok), "80100001"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v.e.SetSelfClassified(testApp, tt.classified)
			before := len(v.e.Deliveries(tok))
			_, _, a := v.send(t, testApp, "Bearer "+v.access, tt.body)
			if a.Code != tt.code {
				t.Fatalf("%+v, want code %s", a, tt.code)
			}
			if got := len(v.e.Deliveries(tok)) - before; (tt.code == "80000000") != (got == 1) {
				t.Fatalf("%d deliveries with %s", got, a.Code)
			}
		})
	}
}

// TestTray: notifications show in the tray, one with a shown one's
// notify_id or tag replaces it, data messages show nothing.
func TestTray(t *testing.T) {
	v := start(t, Config{})
	tok := v.token
	note := func(title string, extra string) string {
		return fmt.Sprintf(`{"message":{"token":[%q],"android":{"notification":{"title":%q,"body":"b","click_action":{"type":3}%s}}}}`, tok, title, extra)
	}
	for _, body := range []string{
		note("one", `,"notify_id":7`),
		note("two", ""),
		fmt.Sprintf(`{"message":{"token":[%q],"data":"{}"}}`, tok),
		note("three", `,"notify_id":7`),
		note("four", `,"tag":"call-x"`),
		note("five", `,"tag":"call-x","notify_id":-1`),
	} {
		if _, _, a := v.send(t, testApp, "Bearer "+v.access, body); a.Code != "80000000" {
			t.Fatalf("%s: %+v", body, a)
		}
	}
	var titles []string
	for _, it := range v.e.Tray(tok) {
		titles = append(titles, it.Title)
	}
	if got := strings.Join(titles, ","); got != "two,three,five" {
		t.Fatalf("tray %s, want two,three,five", got)
	}
}
