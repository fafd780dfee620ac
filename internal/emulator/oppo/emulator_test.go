package oppo

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type fixture struct {
	e     *Emulator
	clk   *clock
	app   App
	regID string
	hc    *http.Client
}

func start(t *testing.T, cfg Config) *fixture {
	t.Helper()
	clk := &clock{t: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)}
	cfg.Now = clk.Now
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(""); err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{}
	if !cfg.PlainHTTP {
		tr.TLSClientConfig = tlsConfig(e)
	}
	hc := &http.Client{Transport: tr}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		if err := e.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
	})
	app := e.CreateApp("com.example.chat", "im_private")
	id, err := e.RegisterDevice("com.example.chat")
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{e: e, clk: clk, app: app, regID: id, hc: hc}
}

type answer struct {
	Code    int             `json:"code"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data"`
}

func (f *fixture) post(t *testing.T, path, contentType string, body string) (int, answer) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, f.e.URL()+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := f.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var a answer
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(raw, &a); err != nil {
			t.Fatalf("answer %q: %v", raw, err)
		}
	}
	return resp.StatusCode, a
}

func signForm(key, secret string, ts time.Time) url.Values {
	s := strconv.FormatInt(ts.UnixMilli(), 10)
	sum := sha256.Sum256([]byte(key + s + secret))
	return url.Values{"app_key": {key}, "timestamp": {s}, "sign": {hex.EncodeToString(sum[:])}}
}

const form = "application/x-www-form-urlencoded"

func (f *fixture) auth(t *testing.T) string {
	t.Helper()
	_, a := f.post(t, "/server/v1/auth", form, signForm(f.app.AppKey, f.app.MasterSecret, f.clk.Now()).Encode())
	if a.Code != 0 {
		t.Fatalf("auth: %+v", a)
	}
	var d struct {
		AuthToken  string `json:"auth_token"`
		CreateTime int64  `json:"create_time"`
	}
	if err := json.Unmarshal(a.Data, &d); err != nil || d.AuthToken == "" || d.CreateTime != f.clk.Now().UnixMilli() {
		t.Fatalf("auth data %s: %v", a.Data, err)
	}
	return d.AuthToken
}

func validMessage(regID string) map[string]any {
	return map[string]any{
		"target_type":  2,
		"target_value": regID,
		"notification": map[string]any{
			"title": "Alice", "content": "hello", "click_action_type": 0,
			"action_parameters": `{"payload":"x"}`, "channel_id": "im_private",
			"category": "IM", "notify_level": 2, "off_line": true, "off_line_ttl": 3600,
		},
	}
}

func (f *fixture) unicast(t *testing.T, tok string, msg any) answer {
	t.Helper()
	var s string
	if str, ok := msg.(string); ok {
		s = str
	} else {
		b, _ := json.Marshal(msg)
		s = string(b)
	}
	_, a := f.post(t, "/server/v1/message/notification/unicast", form, url.Values{"auth_token": {tok}, "message": {s}}.Encode())
	return a
}

func TestAuth(t *testing.T) {
	f := start(t, Config{})
	now := f.clk.Now()
	tests := []struct {
		name string
		form url.Values
		code int
	}{
		{"valid", signForm(f.app.AppKey, f.app.MasterSecret, now), 0},
		{"timestamp 9 min old", signForm(f.app.AppKey, f.app.MasterSecret, now.Add(-9*time.Minute)), 0},
		{"stale timestamp", signForm(f.app.AppKey, f.app.MasterSecret, now.Add(-11*time.Minute)), codeInvalidTimestamp},
		{"future timestamp", signForm(f.app.AppKey, f.app.MasterSecret, now.Add(11*time.Minute)), codeInvalidTimestamp},
		{"timestamp in seconds", func() url.Values {
			v := signForm(f.app.AppKey, f.app.MasterSecret, now)
			v.Set("timestamp", strconv.FormatInt(now.Unix(), 10))
			return v
		}(), codeInvalidTimestamp},
		{"bad sign (app secret)", signForm(f.app.AppKey, "wrong", now), codeInvalidSign},
		{"uppercase sign", func() url.Values {
			v := signForm(f.app.AppKey, f.app.MasterSecret, now)
			v.Set("sign", strings.ToUpper(v.Get("sign")))
			return v
		}(), codeInvalidSign},
		{"unknown app key", signForm("nope", f.app.MasterSecret, now), codeInvalidAppKey},
		{"missing app key", url.Values{"timestamp": {"1"}, "sign": {"x"}}, codeMissingAppKey},
		{"missing sign", url.Values{"app_key": {f.app.AppKey}, "timestamp": {"1"}}, codeMissingSign},
		{"missing timestamp", url.Values{"app_key": {f.app.AppKey}, "sign": {"x"}}, codeMissingTimestamp},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, a := f.post(t, "/server/v1/auth", form, tt.form.Encode())
			if a.Code != tt.code {
				t.Fatalf("code %d (%s), want %d", a.Code, a.Message, tt.code)
			}
		})
	}
	t.Run("json body", func(t *testing.T) {
		_, a := f.post(t, "/server/v1/auth", "application/json", `{"app_key":"x"}`)
		if a.Code != codeInvalidArgument {
			t.Fatalf("code %d", a.Code)
		}
	})
	t.Run("GET", func(t *testing.T) {
		resp, err := f.hc.Get(f.e.URL() + "/server/v1/auth")
		if err != nil {
			t.Fatal(err)
		}
		var a answer
		_ = json.NewDecoder(resp.Body).Decode(&a)
		resp.Body.Close()
		if a.Code != codeMethodNotAllowed {
			t.Fatalf("code %d", a.Code)
		}
	})
	if s := f.e.Stats(); s.AuthGrants != 2 || s.AuthRefusals != 9 {
		t.Fatalf("stats %+v", s)
	}
}

func TestUnicastChecks(t *testing.T) {
	f := start(t, Config{PlainHTTP: true})
	tok := f.auth(t)
	other := f.e.CreateApp("com.other")
	otherID, _ := f.e.RegisterDevice(other.AppKey)
	gone, _ := f.e.RegisterDevice(f.app.AppKey)
	f.e.Unregister(gone)

	mod := func(change func(m, n map[string]any)) map[string]any {
		m := validMessage(f.regID)
		change(m, m["notification"].(map[string]any))
		return m
	}
	tests := []struct {
		name string
		msg  any
		code int
	}{
		{"valid", validMessage(f.regID), 0},
		{"message not JSON", "not json", codeInvalidArgument},
		{"message a JSON array", "[1]", codeInvalidArgument},
		{"message a JSON string of a string", `"{\"target_type\":2}"`, codeInvalidArgument},
		{"no target_type", mod(func(m, _ map[string]any) { delete(m, "target_type") }), codeMissingArgument},
		{"target_type string", mod(func(m, _ map[string]any) { m["target_type"] = "2" }), codeInvalidArgument},
		{"target_type 6", mod(func(m, _ map[string]any) { m["target_type"] = 6 }), codeInvalidArgument},
		{"no target_value", mod(func(m, _ map[string]any) { delete(m, "target_value") }), codeMissingArgument},
		{"no notification", mod(func(m, _ map[string]any) { delete(m, "notification") }), codeMissingArgument},
		{"notification a string", mod(func(m, _ map[string]any) { m["notification"] = "{}" }), codeInvalidArgument},
		{"camelCase key", mod(func(_, n map[string]any) { n["offLineTtl"] = 3600 }), codeInvalidArgument},
		{"no title", mod(func(_, n map[string]any) { delete(n, "title") }), codeMissingArgument},
		{"empty content", mod(func(_, n map[string]any) { n["content"] = "" }), codeMissingArgument},
		{"title 50 CJK", mod(func(_, n map[string]any) { n["title"] = strings.Repeat("消", 50) }), 0},
		{"title 51", mod(func(_, n map[string]any) { n["title"] = strings.Repeat("a", 51) }), codeInvalidArgument},
		{"content 201", mod(func(_, n map[string]any) { n["content"] = strings.Repeat("a", 201) }), codeInvalidArgument},
		{"title a number", mod(func(_, n map[string]any) { n["title"] = 5 }), codeInvalidArgument},
		{"click 1 without activity", mod(func(_, n map[string]any) { n["click_action_type"] = 1 }), codeInvalidArgument},
		{"click 2 with url", mod(func(_, n map[string]any) { n["click_action_type"] = 2; n["click_action_url"] = "https://x" }), 0},
		{"click 3", mod(func(_, n map[string]any) { n["click_action_type"] = 3 }), codeInvalidArgument},
		{"action_parameters object", mod(func(_, n map[string]any) { n["action_parameters"] = map[string]string{"a": "b"} }), codeInvalidArgument},
		{"action_parameters not JSON", mod(func(_, n map[string]any) { n["action_parameters"] = "a=b" }), codeInvalidArgument},
		{"action_parameters too large", mod(func(_, n map[string]any) {
			n["action_parameters"] = `{"a":"` + strings.Repeat("x", 4096) + `"}`
		}), codeInvalidArgument},
		{"off_line string", mod(func(_, n map[string]any) { n["off_line"] = "true" }), codeInvalidArgument},
		{"off_line_ttl 0", mod(func(_, n map[string]any) { n["off_line_ttl"] = 0 }), codeInvalidArgument},
		{"off_line_ttl 10 days", mod(func(_, n map[string]any) { n["off_line_ttl"] = 864000 }), 0},
		{"off_line_ttl over 10 days", mod(func(_, n map[string]any) { n["off_line_ttl"] = 864001 }), codeInvalidArgument},
		{"undeclared channel", mod(func(_, n map[string]any) { n["channel_id"] = "marketing" }), codeCategoryError},
		{"bad category", mod(func(_, n map[string]any) { n["category"] = "CHAT" }), codeCategoryError},
		{"bad notify_level", mod(func(_, n map[string]any) { n["notify_level"] = 3 }), codeCategoryError},
		{"malformed regId", mod(func(m, _ map[string]any) { m["target_value"] = "CN_XYZ" }), codeInvalidRegID},
		{"unknown regId", mod(func(m, _ map[string]any) { m["target_value"] = "CN_" + strings.Repeat("0", 32) }), codeInvalidRegID},
		{"regId of another app", mod(func(m, _ map[string]any) { m["target_value"] = otherID }), codeInvalidRegID},
		{"unregistered regId", mod(func(m, _ map[string]any) { m["target_value"] = gone }), codeInvalidRegID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if a := f.unicast(t, tok, tt.msg); a.Code != tt.code {
				t.Fatalf("code %d (%s), want %d", a.Code, a.Message, tt.code)
			}
		})
	}

	t.Run("auth token", func(t *testing.T) {
		if a := f.unicast(t, "", validMessage(f.regID)); a.Code != codeMissingToken {
			t.Fatalf("missing: %d", a.Code)
		}
		if a := f.unicast(t, "bogus", validMessage(f.regID)); a.Code != codeInvalidToken {
			t.Fatalf("unknown: %d", a.Code)
		}
		_, a := f.post(t, "/server/v1/message/notification/unicast", form, url.Values{"auth_token": {tok}}.Encode())
		if a.Code != codeMissingArgument {
			t.Fatalf("no message: %d", a.Code)
		}
		b, _ := json.Marshal(validMessage(f.regID))
		req, _ := http.NewRequest(http.MethodPost, f.e.URL()+"/server/v1/message/notification/unicast",
			strings.NewReader(url.Values{"message": {string(b)}}.Encode()))
		req.Header.Set("Content-Type", form)
		req.Header.Set("auth_token", tok)
		resp, err := f.hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var ans answer
		_ = json.NewDecoder(resp.Body).Decode(&ans)
		resp.Body.Close()
		if ans.Code != 0 {
			t.Fatalf("header token: %d %s", ans.Code, ans.Message)
		}
		f.clk.Add(24 * time.Hour)
		if a := f.unicast(t, tok, validMessage(f.regID)); a.Code != codeInvalidToken {
			t.Fatalf("expired: %d", a.Code)
		}
	})
}

func TestDeliveryRecord(t *testing.T) {
	f := start(t, Config{})
	tok := f.auth(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	a := f.unicast(t, tok, validMessage(f.regID))
	var d struct {
		MessageID string `json:"messageId"`
	}
	if err := json.Unmarshal(a.Data, &d); err != nil || !strings.HasPrefix(d.MessageID, f.app.AppID+"-1-1-") {
		t.Fatalf("answer %+v", a)
	}
	got, err := f.e.Next(ctx, f.regID)
	if err != nil {
		t.Fatal(err)
	}
	n := got.Notification
	if got.MessageID != d.MessageID || n.Title != "Alice" || n.Content != "hello" || n.ChannelID != "im_private" ||
		n.Category != "IM" || n.NotifyLevel != 2 || n.OffLineTTL != 3600 || !n.OffLine || n.ActionParameters != `{"payload":"x"}` {
		t.Fatalf("delivery %+v", got)
	}
	if len(f.e.Deliveries(f.regID)) != 1 {
		t.Fatal("deliveries")
	}
	cctx, ccancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer ccancel()
	if _, err := f.e.Next(cctx, f.regID); err != context.DeadlineExceeded {
		t.Fatalf("Next with nothing: %v", err)
	}
}

func TestFaults(t *testing.T) {
	f := start(t, Config{PlainHTTP: true})
	tok := f.auth(t)
	other, _ := f.e.RegisterDevice(f.app.AppKey)
	tests := []struct {
		regID string
		fault Fault
		code  int
	}{
		{f.regID, Fault{Code: codeInvalidRegID, Times: 1}, codeInvalidRegID},
		{f.regID, Fault{Code: codeInvalidToken, Times: 1}, codeInvalidToken},
		{"", Fault{Code: codeFlowControl, Times: 1}, codeFlowControl},
		{"", Fault{Code: codeDailyLimit, Times: 1}, codeDailyLimit},
		{f.regID, Fault{Code: codeFrequencyLimit, Times: 1}, codeFrequencyLimit},
		{f.regID, Fault{Delay: 30 * time.Millisecond, Times: 1}, 0},
	}
	for _, tt := range tests {
		if err := f.e.SetFault(tt.regID, tt.fault); err != nil {
			t.Fatal(err)
		}
		if a := f.unicast(t, tok, validMessage(f.regID)); a.Code != tt.code {
			t.Fatalf("fault %+v: code %d", tt.fault, a.Code)
		}
		// Times 1: the next send is normal.
		if a := f.unicast(t, tok, validMessage(f.regID)); a.Code != 0 {
			t.Fatalf("after fault %+v: code %d", tt.fault, a.Code)
		}
	}
	_ = f.e.SetFault(f.regID, Fault{Code: codeInvalidRegID})
	if a := f.unicast(t, tok, validMessage(other)); a.Code != 0 {
		t.Fatalf("other device: %d", a.Code)
	}
	f.e.ClearFaults()
	_ = f.e.SetFault("", Fault{HTTPStatus: 503, Times: 1})
	if st, _ := f.post(t, "/server/v1/message/notification/unicast", form, url.Values{"auth_token": {tok}}.Encode()); st != 503 {
		t.Fatalf("status %d", st)
	}
	for _, bad := range []Fault{{Code: 12}, {HTTPStatus: 404}, {Times: -1}} {
		if f.e.SetFault("", bad) == nil {
			t.Fatalf("SetFault(%+v) accepted", bad)
		}
	}
}

func TestLifecycle(t *testing.T) {
	e, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if e.URL() != "" {
		t.Fatal("URL before Start")
	}
	if err := e.Start(""); err != nil {
		t.Fatal(err)
	}
	if e.Start("") == nil {
		t.Fatal("second Start")
	}
	if !strings.HasPrefix(e.URL(), "https://127.0.0.1:") || len(e.CACertPEM()) == 0 {
		t.Fatal(e.URL())
	}
	done := make(chan error, 1)
	go func() {
		_, err := e.Next(context.Background(), "x")
		done <- err
	}()
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != ErrClosed {
		t.Fatalf("Next after Shutdown: %v", err)
	}
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if e.AddApp(App{AppKey: "k"}) == nil {
		t.Fatal("app without secret")
	}
	if _, err := e.RegisterDevice("nope"); err == nil {
		t.Fatal("device of unknown app")
	}
}

// TestPublicDailyQuota: public messages (no channel, or one the app did
// not register) count against Config.PublicDailyLimit and the next one
// answers 33 until midnight China time; messages on the app's private
// channel are never counted.
func TestPublicDailyQuota(t *testing.T) {
	f := start(t, Config{PlainHTTP: true, PublicDailyLimit: 2})
	tok := f.auth(t)
	public := func() map[string]any {
		m := validMessage(f.regID)
		delete(m["notification"].(map[string]any), "channel_id")
		return m
	}
	for i := range 2 {
		if a := f.unicast(t, tok, public()); a.Code != 0 {
			t.Fatalf("public message %d: %+v", i, a)
		}
	}
	if a := f.unicast(t, tok, public()); a.Code != codeDailyLimit {
		t.Fatalf("third public message: %+v, want code 33", a)
	}
	for i := range 3 {
		if a := f.unicast(t, tok, validMessage(f.regID)); a.Code != 0 {
			t.Fatalf("private message %d over the public quota: %+v", i, a)
		}
	}
	if n := len(f.e.Deliveries(f.regID)); n != 5 {
		t.Fatalf("%d deliveries, want 5 (the refused one is not delivered)", n)
	}
	// 10:00 UTC is 18:00 in China: six hours to its midnight.
	f.clk.Add(6 * time.Hour)
	tok = f.auth(t)
	if a := f.unicast(t, tok, public()); a.Code != 0 {
		t.Fatalf("public message on the next day: %+v", a)
	}
}
