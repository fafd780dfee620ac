package vivo

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	appID     = "10004"
	appKey    = "25509283-3767-4b9e-83fe-b6e55ac6b123"
	appSecret = "s3cr3t-0000"
)

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
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// start runs an emulator over plain HTTP with one app, at 10:00 UTC+8.
func start(t *testing.T, cfg Config) (*Emulator, *clock) {
	t.Helper()
	c := &clock{t: time.Date(2026, 11, 27, 2, 0, 0, 0, time.UTC)}
	cfg.PlainHTTP = true
	cfg.Now = c.Now
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.AddApp(App{ID: appID, Key: appKey, Secret: appSecret}); err != nil {
		t.Fatal(err)
	}
	if err := e.Start(""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := e.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
		http.DefaultClient.CloseIdleConnections()
	})
	return e, c
}

type reply struct {
	Status      int
	Result      int          `json:"result"`
	Desc        string       `json:"desc"`
	TaskID      string       `json:"taskId"`
	AuthToken   string       `json:"authToken"`
	InvalidUser *InvalidUser `json:"invalidUser"`
	Body        string
}

func post(t *testing.T, client *http.Client, url, token string, body any) reply {
	t.Helper()
	var raw []byte
	switch b := body.(type) {
	case string:
		raw = []byte(b)
	default:
		var err error
		if raw, err = json.Marshal(b); err != nil {
			t.Fatal(err)
		}
	}
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("authToken", token)
	}
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	r := reply{Status: resp.StatusCode, Body: string(out)}
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(out, &r); err != nil {
			t.Fatalf("answer %q: %v", out, err)
		}
	}
	return r
}

func signOf(id, key string, ts int64, secret string) string {
	s := md5.Sum([]byte(id + key + strconv.FormatInt(ts, 10) + secret))
	return hex.EncodeToString(s[:])
}

func authBody(c *clock) map[string]any {
	ts := c.Now().UnixMilli()
	return map[string]any{"appId": 10004, "appKey": appKey, "timestamp": ts, "sign": signOf(appID, appKey, ts, appSecret)}
}

func token(t *testing.T, e *Emulator, c *clock) string {
	t.Helper()
	r := post(t, nil, e.URL()+"/message/auth", "", authBody(c))
	if r.Result != 0 || r.AuthToken == "" {
		t.Fatalf("auth: %+v", r)
	}
	return r.AuthToken
}

func TestAuth(t *testing.T) {
	e, c := start(t, Config{AuthRate: -1})
	ts := c.Now().UnixMilli()
	stale := c.Now().Add(-11 * time.Minute).UnixMilli()
	ahead := c.Now().Add(11 * time.Minute).UnixMilli()
	tests := []struct {
		name string
		body any
		want int
	}{
		{"ok", authBody(c), 0},
		{"appId as a string", map[string]any{"appId": appID, "appKey": appKey, "timestamp": ts, "sign": signOf(appID, appKey, ts, appSecret)}, 0},
		{"timestamp 9 minutes old", map[string]any{"appId": 10004, "appKey": appKey, "timestamp": ts - 540000, "sign": signOf(appID, appKey, ts-540000, appSecret)}, 0},
		{"unknown app", map[string]any{"appId": 999, "appKey": appKey, "timestamp": ts, "sign": signOf("999", appKey, ts, appSecret)}, CodeAuthParams},
		{"wrong appKey", map[string]any{"appId": 10004, "appKey": "other", "timestamp": ts, "sign": signOf(appID, "other", ts, appSecret)}, CodeAuthParams},
		{"no sign", map[string]any{"appId": 10004, "appKey": appKey, "timestamp": ts}, CodeAuthParams},
		{"timestamp a string", map[string]any{"appId": 10004, "appKey": appKey, "timestamp": strconv.FormatInt(ts, 10), "sign": "x"}, CodeAuthParams},
		{"not JSON", "appId=10004", CodeAuthParams},
		{"stale timestamp", map[string]any{"appId": 10004, "appKey": appKey, "timestamp": stale, "sign": signOf(appID, appKey, stale, appSecret)}, CodeTimestamp},
		{"timestamp ahead", map[string]any{"appId": 10004, "appKey": appKey, "timestamp": ahead, "sign": signOf(appID, appKey, ahead, appSecret)}, CodeTimestamp},
		{"timestamp in seconds", map[string]any{"appId": 10004, "appKey": appKey, "timestamp": ts / 1000, "sign": signOf(appID, appKey, ts/1000, appSecret)}, CodeTimestamp},
		{"wrong secret", map[string]any{"appId": 10004, "appKey": appKey, "timestamp": ts, "sign": signOf(appID, appKey, ts, "nope")}, CodeSignWrong},
		{"uppercase sign", map[string]any{"appId": 10004, "appKey": appKey, "timestamp": ts, "sign": strings.ToUpper(signOf(appID, appKey, ts, appSecret))}, CodeSignWrong},
		{"sign of another order", map[string]any{"appId": 10004, "appKey": appKey, "timestamp": ts, "sign": signOf(appKey, appID, ts, appSecret)}, CodeSignWrong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := post(t, nil, e.URL()+"/message/auth", "", tt.body)
			if r.Status != 200 || r.Result != tt.want {
				t.Fatalf("got %d %+v, want result %d", r.Status, r, tt.want)
			}
			if (r.AuthToken != "") != (tt.want == 0) {
				t.Fatalf("authToken %q with result %d", r.AuthToken, r.Result)
			}
		})
	}
}

func TestAuthRate(t *testing.T) {
	e, c := start(t, Config{AuthRate: 2})
	for i, want := range []int{0, 0, CodeAuthTooOften} {
		if r := post(t, nil, e.URL()+"/message/auth", "", authBody(c)); r.Result != want {
			t.Fatalf("call %d: %+v, want %d", i, r, want)
		}
	}
	c.Add(time.Second)
	if r := post(t, nil, e.URL()+"/message/auth", "", authBody(c)); r.Result != 0 {
		t.Fatalf("next second: %+v", r)
	}
}

func baseSend(regID, requestID string) map[string]any {
	return map[string]any{
		"appId": 10004, "regId": regID, "notifyType": 4, "title": "新消息", "content": "Alice: hello",
		"skipType": 1, "classification": 1, "category": "IM", "requestId": requestID,
		"clientCustomMap": map[string]string{"payload": "p"}, "timeToLive": 3600,
	}
}

func TestSendChecks(t *testing.T) {
	e, c := start(t, Config{})
	tok := token(t, e, c)
	reg := e.RegisterDevice(appID)
	gone := e.RegisterDevice(appID)
	e.Unregister(gone)
	other := e.RegisterDevice("20005")
	field := DefaultFieldErrorCode
	tests := []struct {
		name   string
		edit   func(m map[string]any)
		token  string
		want   int
		status int // invalidUser.status, if any
	}{
		{"ok", nil, "", 0, 0},
		{"40 latin title", func(m map[string]any) { m["title"] = strings.Repeat("a", 40) }, "", 0, 0},
		{"20 emoji title", func(m map[string]any) { m["title"] = strings.Repeat("😀", 20) }, "", 0, 0},
		{"no appId", func(m map[string]any) { delete(m, "appId") }, "", 0, 0},
		{"networkType as string", func(m map[string]any) { m["networkType"] = "1" }, "", 0, 0},
		{"no authToken", nil, "-", DefaultAuthFailureCode, 0},
		{"unknown authToken", nil, "deadbeef", DefaultAuthFailureCode, 0},
		{"unknown field", func(m map[string]any) { m["titel"] = "x" }, "", field, 0},
		{"no requestId", func(m map[string]any) { delete(m, "requestId") }, "", field, 0},
		{"requestId of 65", func(m map[string]any) { m["requestId"] = strings.Repeat("r", 65) }, "", field, 0},
		{"no regId", func(m map[string]any) { delete(m, "regId") }, "", field, 0},
		{"notifyType 5", func(m map[string]any) { m["notifyType"] = 5 }, "", field, 0},
		{"notifyType a string", func(m map[string]any) { m["notifyType"] = "4" }, "", field, 0},
		{"no title", func(m map[string]any) { delete(m, "title") }, "", field, 0},
		{"21 CJK title", func(m map[string]any) { m["title"] = strings.Repeat("消", 21) }, "", field, 0},
		{"41 latin title", func(m map[string]any) { m["title"] = strings.Repeat("a", 41) }, "", field, 0},
		{"21 emoji title (two units each, as UTF-16)", func(m map[string]any) { m["title"] = strings.Repeat("😀", 21) }, "", field, 0},
		{"flag emoji content over 100 units", func(m map[string]any) { m["content"] = strings.Repeat("🇯🇵", 25) + "a" }, "", field, 0},
		{"101 content", func(m map[string]any) { m["content"] = strings.Repeat("a", 101) }, "", field, 0},
		{"skipType 2 without URL", func(m map[string]any) { m["skipType"] = 2 }, "", field, 0},
		{"skipType 0", func(m map[string]any) { m["skipType"] = 0 }, "", field, 0},
		{"timeToLive 59", func(m map[string]any) { m["timeToLive"] = 59 }, "", field, 0},
		{"timeToLive 7 days + 1", func(m map[string]any) { m["timeToLive"] = 604801 }, "", field, 0},
		{"timeToLive fractional", func(m map[string]any) { m["timeToLive"] = 60.5 }, "", field, 0},
		{"classification 2", func(m map[string]any) { m["classification"] = 2 }, "", field, 0},
		{"operation category for system", func(m map[string]any) { m["category"] = "MARKETING" }, "", field, 0},
		{"unknown category", func(m map[string]any) { m["category"] = "CHAT" }, "", field, 0},
		{"11 custom pairs", func(m map[string]any) {
			cm := map[string]string{}
			for i := range 11 {
				cm["k"+strconv.Itoa(i)] = "v"
			}
			m["clientCustomMap"] = cm
		}, "", field, 0},
		{"custom value a number", func(m map[string]any) { m["clientCustomMap"] = map[string]any{"k": 1} }, "", field, 0},
		{"custom over 1024", func(m map[string]any) { m["clientCustomMap"] = map[string]string{"k": strings.Repeat("v", 1024)} }, "", field, 0},
		{"networkType 2", func(m map[string]any) { m["networkType"] = 2 }, "", field, 0},
		{"appId of another app", func(m map[string]any) { m["appId"] = 20005 }, "", CodeAppIDMismatch, 0},
		{"unknown regId", func(m map[string]any) { m["regId"] = "v2-" + strings.Repeat("x", 51) }, "", CodeInvalidRegID, 1},
		{"malformed regId", func(m map[string]any) { m["regId"] = "short" }, "", CodeInvalidRegID, 1},
		{"regId of another app", func(m map[string]any) { m["regId"] = other }, "", CodeInvalidRegID, 1},
		{"uninstalled", func(m map[string]any) { m["regId"] = gone }, "", CodeInvalidRegID, 2},
		{"test push to a non-test device", func(m map[string]any) { m["pushMode"] = 1 }, "", CodeInvalidRegID, 4},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := baseSend(reg, "req-"+strconv.Itoa(i))
			if tt.edit != nil {
				tt.edit(m)
			}
			tk := tok
			switch tt.token {
			case "-":
				tk = ""
			case "":
			default:
				tk = tt.token
			}
			r := post(t, nil, e.URL()+"/message/send", tk, m)
			if r.Status != 200 || r.Result != tt.want {
				t.Fatalf("got %d %+v, want result %d", r.Status, r, tt.want)
			}
			if tt.want == 0 && r.TaskID == "" {
				t.Fatal("no taskId")
			}
			if tt.status != 0 {
				if r.InvalidUser == nil || r.InvalidUser.Status != tt.status || r.InvalidUser.UserID != m["regId"] {
					t.Fatalf("invalidUser %+v, want status %d for %v", r.InvalidUser, tt.status, m["regId"])
				}
			}
		})
	}
	if n := len(e.Deliveries(reg)); n != 5 {
		t.Fatalf("%d deliveries, want 5", n)
	}
}

func TestSendDeliveryRecorded(t *testing.T) {
	e, c := start(t, Config{})
	tok := token(t, e, c)
	reg := e.RegisterDevice(appID)
	r := post(t, nil, e.URL()+"/message/send", tok, baseSend(reg, "one"))
	if r.Result != 0 {
		t.Fatal(r)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	d, err := e.Next(ctx, reg)
	if err != nil {
		t.Fatal(err)
	}
	m := d.Message
	if d.TaskID != r.TaskID || d.RequestID != "one" || d.AppID != appID || m.Title != "新消息" || m.Classification != 1 ||
		m.Category != "IM" || m.TimeToLive != 3600 || m.ClientCustomMap["payload"] != "p" || m.NetworkType != -1 {
		t.Fatalf("delivery %+v", d)
	}
	short, cancel2 := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel2()
	if _, err := e.Next(short, reg); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Next with nothing new: %v", err)
	}
}

func TestTokenExpires(t *testing.T) {
	e, c := start(t, Config{})
	tok := token(t, e, c)
	reg := e.RegisterDevice(appID)
	c.Add(24*time.Hour - time.Second)
	if r := post(t, nil, e.URL()+"/message/send", tok, baseSend(reg, "a")); r.Result != 0 {
		t.Fatalf("before 24 h: %+v", r)
	}
	c.Add(time.Second)
	if r := post(t, nil, e.URL()+"/message/send", tok, baseSend(reg, "b")); r.Result != DefaultAuthFailureCode {
		t.Fatalf("after 24 h: %+v", r)
	}
}

func TestRequestIDReuse(t *testing.T) {
	for _, dupCode := range []int{0, 10097} {
		t.Run("DuplicateCode "+strconv.Itoa(dupCode), func(t *testing.T) {
			e, c := start(t, Config{DuplicateCode: dupCode})
			tok := token(t, e, c)
			reg := e.RegisterDevice(appID)
			first := post(t, nil, e.URL()+"/message/send", tok, baseSend(reg, "same"))
			again := post(t, nil, e.URL()+"/message/send", tok, baseSend(reg, "same"))
			if first.Result != 0 {
				t.Fatal(first)
			}
			if dupCode == 0 && (again.Result != 0 || again.TaskID != first.TaskID) {
				t.Fatalf("replay %+v, first %+v", again, first)
			}
			if dupCode != 0 && again.Result != dupCode {
				t.Fatalf("reuse answered %+v", again)
			}
			if n := len(e.Deliveries(reg)); n != 1 {
				t.Fatalf("%d deliveries, want 1", n)
			}
			if s := e.Stats(); s.Duplicates != 1 {
				t.Fatalf("stats %+v", s)
			}
		})
	}
}

func TestHoursAndQuota(t *testing.T) {
	e, c := start(t, Config{SystemQuota: 1, OperationQuota: 1})
	tok := token(t, e, c)
	reg := e.RegisterDevice(appID)
	op := func(id string) map[string]any {
		m := baseSend(reg, id)
		m["classification"], m["category"] = 0, "NEWS"
		return m
	}
	steps := []struct {
		body map[string]any
		want int
	}{
		{baseSend(reg, "s1"), 0},
		{baseSend(reg, "s2"), CodeSystemExceeded},
		{op("o1"), 0},
		{op("o2"), CodeTotalExceeded},
	}
	for i, s := range steps {
		if r := post(t, nil, e.URL()+"/message/send", tok, s.body); r.Result != s.want {
			t.Fatalf("step %d: %+v, want %d", i, r, s.want)
		}
	}
	// 23:30 UTC+8: operation messages refused, the day not over yet.
	c.Add(13*time.Hour + 30*time.Minute)
	tok = token(t, e, c)
	if r := post(t, nil, e.URL()+"/message/send", tok, op("o3")); r.Result != CodeOutsideHours {
		t.Fatalf("at 23:30: %+v", r)
	}
	// 00:30 UTC+8 the next day: system quota counts afresh.
	c.Add(time.Hour)
	if r := post(t, nil, e.URL()+"/message/send", tok, baseSend(reg, "s3")); r.Result != 0 {
		t.Fatalf("next day: %+v", r)
	}
}

func TestFaults(t *testing.T) {
	e, c := start(t, Config{})
	tok := token(t, e, c)
	reg := e.RegisterDevice(appID)
	other := e.RegisterDevice(appID)
	tests := []struct {
		name   string
		regID  string
		fault  Fault
		status int
		want   int
	}{
		{"global server error", "", Fault{Kind: FaultServerError, Times: 1}, 500, 0},
		{"global auth", "", Fault{Kind: FaultAuth, Times: 1}, 200, DefaultAuthFailureCode},
		{"global quota", "", Fault{Kind: FaultQuota, Times: 1}, 200, CodeTotalExceeded},
		{"regId invalid", reg, Fault{Kind: FaultInvalidRegID, Status: 3, Times: 1}, 200, CodeInvalidRegID},
		{"regId code", reg, Fault{Kind: FaultCode, Code: 10040, Times: 1}, 200, 10040},
		{"regId server error", reg, Fault{Kind: FaultServerError, Times: 1}, 500, 0},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := e.SetFault(tt.regID, tt.fault); err != nil {
				t.Fatal(err)
			}
			if tt.regID != "" {
				// Other devices are not affected.
				if r := post(t, nil, e.URL()+"/message/send", tok, baseSend(other, "o"+strconv.Itoa(i))); r.Result != 0 {
					t.Fatalf("other device: %+v", r)
				}
			}
			r := post(t, nil, e.URL()+"/message/send", tok, baseSend(reg, "f"+strconv.Itoa(i)))
			if r.Status != tt.status || r.Result != tt.want {
				t.Fatalf("got %d %+v", r.Status, r)
			}
			if tt.status == 500 && r.Body != "Internet server error!" {
				t.Fatalf("500 body %q", r.Body)
			}
			if tt.fault.Kind == FaultInvalidRegID && (r.InvalidUser == nil || r.InvalidUser.Status != 3 || r.InvalidUser.UserID != reg) {
				t.Fatalf("invalidUser %+v", r.InvalidUser)
			}
			// Times 1: the next send is answered normally, even with the
			// same requestId (a faulted send is not remembered).
			if r := post(t, nil, e.URL()+"/message/send", tok, baseSend(reg, "f"+strconv.Itoa(i))); r.Result != 0 {
				t.Fatalf("after the fault: %+v", r)
			}
		})
	}
	if err := e.SetFault("", Fault{Kind: "nope"}); err == nil {
		t.Fatal("unknown kind accepted")
	}
	if err := e.SetFault("", Fault{Kind: FaultCode}); err == nil {
		t.Fatal("code fault without code accepted")
	}
}

func TestSlowFault(t *testing.T) {
	e, c := start(t, Config{})
	tok := token(t, e, c)
	reg := e.RegisterDevice(appID)
	if err := e.SetFault("", Fault{Delay: 150 * time.Millisecond, Times: 1}); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	if r := post(t, nil, e.URL()+"/message/send", tok, baseSend(reg, "slow")); r.Result != 0 {
		t.Fatal(r)
	}
	if d := time.Since(t0); d < 150*time.Millisecond {
		t.Fatalf("answered after %v", d)
	}
}

func TestTLSAndLifecycle(t *testing.T) {
	c := &clock{t: time.Now()}
	e, err := New(Config{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.AddApp(App{ID: appID, Key: appKey, Secret: appSecret}); err != nil {
		t.Fatal(err)
	}
	if err := e.AddApp(App{ID: "x"}); err == nil {
		t.Fatal("bad app accepted")
	}
	if err := e.Start(""); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(e.URL(), "https://") {
		t.Fatal(e.URL())
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: e.CertPool()}}
	client := &http.Client{Transport: tr}
	if r := post(t, client, e.URL()+"/message/auth", "", authBody(c)); r.Result != 0 {
		t.Fatal(r)
	}
	tr.CloseIdleConnections()
	if err := e.Start(""); err == nil {
		t.Fatal("second Start accepted")
	}
	reg := e.RegisterDevice(appID)
	errc := make(chan error, 1)
	go func() {
		_, err := e.Next(context.Background(), reg)
		errc <- err
	}()
	for range 2 {
		if err := e.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if err := <-errc; !errors.Is(err, ErrClosed) {
		t.Fatalf("Next after Shutdown: %v", err)
	}
	if s := e.Stats(); s.Auths != 1 {
		t.Fatalf("stats %+v", s)
	}
}
