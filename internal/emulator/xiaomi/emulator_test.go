package xiaomi_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/heraldim/herald/internal/emulator/xiaomi"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	pkg     = "im.herald.app"
	secret  = "emu-secret"
	channel = "im_private"
)

type answer struct {
	Result      string `json:"result"`
	Code        int    `json:"code"`
	Reason      string `json:"reason"`
	Description string `json:"description"`
	TraceID     string `json:"trace_id"`
	Data        struct {
		ID        string `json:"id"`
		BadRegIDs string `json:"bad_regids"`
	} `json:"data"`
}

func start(t *testing.T, cfg xiaomi.Config) *xiaomi.Emulator {
	t.Helper()
	e, err := xiaomi.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.AddApp(pkg, secret, channel); err != nil {
		t.Fatal(err)
	}
	if err := e.Start(""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Shutdown(context.Background()) })
	return e
}

// do posts form to path with the key and returns the decoded answer.
func do(t *testing.T, client *http.Client, method, u, auth, contentType, body string) answer {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("HTTP %d", resp.StatusCode)
	}
	var a answer
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		t.Fatal(err)
	}
	return a
}

const formType = "application/x-www-form-urlencoded;charset=UTF-8"

func valid(regid string) url.Values {
	return url.Values{
		"registration_id": {regid}, "restricted_package_name": {pkg}, "pass_through": {"0"},
		"title": {"Alice"}, "description": {"hi"}, "payload": {"p"}, "notify_type": {"-1"},
		"notify_id": {"7"}, "time_to_live": {"60000"}, "extra.channel_id": {channel}, "extra.conv": {"c1"},
	}
}

func TestSendChecks(t *testing.T) {
	e := start(t, xiaomi.Config{PlainHTTP: true})
	regid := e.RegisterDevice(pkg)
	other := e.RegisterDevice("other.app")
	gone := e.RegisterDevice(pkg)
	e.Unregister(gone)
	tests := []struct {
		name     string
		auth     string
		ctype    string
		edit     func(url.Values)
		wantCode int
		wantBad  string
	}{
		{name: "valid", wantCode: 0},
		{name: "no auth", auth: "-", wantCode: 21301},
		{name: "Key uppercase", auth: "Key=" + secret, wantCode: 21301},
		{name: "wrong secret", auth: "key=nope", wantCode: 21301},
		{name: "json body", ctype: "application/json", wantCode: 10008},
		{name: "no package", edit: func(v url.Values) { v.Del("restricted_package_name") }, wantCode: 21305},
		{name: "other package", edit: func(v url.Values) { v.Set("restricted_package_name", "other.app") }, wantCode: 22022},
		{name: "no regid", edit: func(v url.Values) { v.Del("registration_id") }, wantCode: 21305},
		{name: "pass_through 2", edit: func(v url.Values) { v.Set("pass_through", "2") }, wantCode: 10017},
		{name: "blank title", edit: func(v url.Values) { v.Set("title", "  ") }, wantCode: 21305},
		{name: "no description", edit: func(v url.Values) { v.Del("description") }, wantCode: 21305},
		{name: "pass-through needs no title", edit: func(v url.Values) { v.Set("pass_through", "1"); v.Del("title"); v.Del("description") }, wantCode: 0},
		{name: "title 50 runes", edit: func(v url.Values) { v.Set("title", strings.Repeat("字", 50)) }, wantCode: 10017},
		{name: "title 49 runes", edit: func(v url.Values) { v.Set("title", strings.Repeat("字", 49)) }, wantCode: 0},
		{name: "description 128 runes", edit: func(v url.Values) { v.Set("description", strings.Repeat("a", 128)) }, wantCode: 10017},
		{name: "notify_type 8", edit: func(v url.Values) { v.Set("notify_type", "8") }, wantCode: 10017},
		{name: "notify_type 3", edit: func(v url.Values) { v.Set("notify_type", "3") }, wantCode: 0},
		{name: "notify_id text", edit: func(v url.Values) { v.Set("notify_id", "abc") }, wantCode: 10017},
		{name: "ttl over two weeks", edit: func(v url.Values) { v.Set("time_to_live", "1209600001") }, wantCode: 10017},
		{name: "ttl two weeks", edit: func(v url.Values) { v.Set("time_to_live", "1209600000") }, wantCode: 0},
		{name: "ttl negative", edit: func(v url.Values) { v.Set("time_to_live", "-1") }, wantCode: 10017},
		{name: "payload too long", edit: func(v url.Values) { v.Set("payload", strings.Repeat("x", 4097)) }, wantCode: 65009},
		{name: "unknown channel", edit: func(v url.Values) { v.Set("extra.channel_id", "news") }, wantCode: 27001},
		{name: "unknown regid", edit: func(v url.Values) { v.Set("registration_id", "bm9wZQ==") }, wantCode: 20301},
		{name: "regid of another package", edit: func(v url.Values) { v.Set("registration_id", other) }, wantCode: 20301},
		{name: "partly bad", edit: func(v url.Values) { v.Set("registration_id", regid+","+gone) }, wantCode: 0, wantBad: gone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := valid(regid)
			if tt.edit != nil {
				tt.edit(v)
			}
			auth := "key=" + secret
			if tt.auth == "-" {
				auth = ""
			} else if tt.auth != "" {
				auth = tt.auth
			}
			ct := formType
			if tt.ctype != "" {
				ct = tt.ctype
			}
			before := len(e.Deliveries(regid))
			a := do(t, http.DefaultClient, http.MethodPost, e.URL()+"/v3/message/regid", auth, ct, v.Encode())
			if a.Code != tt.wantCode {
				t.Fatalf("code %d (%+v), want %d", a.Code, a, tt.wantCode)
			}
			if a.TraceID == "" {
				t.Error("no trace_id")
			}
			after := len(e.Deliveries(regid))
			if tt.wantCode == 0 {
				if a.Result != "ok" || a.Data.ID == "" || a.Data.BadRegIDs != tt.wantBad || after != before+1 {
					t.Errorf("answer %+v, deliveries %d→%d", a, before, after)
				}
			} else if a.Result != "error" || a.Description == "" || after != before {
				t.Errorf("answer %+v, deliveries %d→%d", a, before, after)
			}
		})
	}
}

func TestQueryParamsAccepted(t *testing.T) {
	e := start(t, xiaomi.Config{PlainHTTP: true})
	regid := e.RegisterDevice(pkg)
	a := do(t, http.DefaultClient, http.MethodPost, e.URL()+"/v3/message/regid?"+valid(regid).Encode(), "key="+secret, "", "")
	if a.Code != 0 {
		t.Fatalf("%+v", a)
	}
	d := e.Deliveries(regid)[0]
	if d.Title != "Alice" || d.ChannelID != channel || d.Extra["conv"] != "c1" || d.TTLMillis != "60000" || d.NotifyID != "7" {
		t.Errorf("delivery %+v", d)
	}
}

func TestFaults(t *testing.T) {
	tests := []struct {
		kind   xiaomi.FaultKind
		global bool
		code   int
	}{
		{xiaomi.FaultInvalidRegID, false, 20301},
		{xiaomi.FaultAuth, false, 21301},
		{xiaomi.FaultAuth, true, 21301},
		{xiaomi.FaultTooFrequent, false, 10027},
		{xiaomi.FaultTooFrequent, true, 10027},
		{xiaomi.FaultDailyQuota, false, 10034},
		{xiaomi.FaultServerError, true, 1},
		{xiaomi.FaultSlow, false, 0},
	}
	for _, tt := range tests {
		t.Run(string(tt.kind), func(t *testing.T) {
			e := start(t, xiaomi.Config{PlainHTTP: true})
			regid := e.RegisterDevice(pkg)
			key := regid
			if tt.global {
				key = ""
			}
			if err := e.SetFault(key, xiaomi.Fault{Kind: tt.kind, Times: 1, Delay: 50 * time.Millisecond}); err != nil {
				t.Fatal(err)
			}
			t0 := time.Now()
			a := do(t, http.DefaultClient, http.MethodPost, e.URL()+"/v3/message/regid", "key="+secret, formType, valid(regid).Encode())
			if a.Code != tt.code || time.Since(t0) < 50*time.Millisecond {
				t.Fatalf("code %d after %v, want %d after the delay", a.Code, time.Since(t0), tt.code)
			}
			// Times: 1 — the next send is normal.
			if a := do(t, http.DefaultClient, http.MethodPost, e.URL()+"/v3/message/regid", "key="+secret, formType, valid(regid).Encode()); a.Code != 0 {
				t.Fatalf("second send: %+v", a)
			}
		})
	}
	e, err := xiaomi.New(xiaomi.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if e.SetFault("", xiaomi.Fault{Kind: xiaomi.FaultInvalidRegID}) == nil || e.SetFault("x", xiaomi.Fault{Kind: "boom"}) == nil {
		t.Error("bad faults accepted")
	}
}

// TestSlowFaultSenderGone: a sender whose request ends during a slow
// fault's delay (a node killed mid-send) has its push not accepted.
func TestSlowFaultSenderGone(t *testing.T) {
	e := start(t, xiaomi.Config{PlainHTTP: true})
	regid := e.RegisterDevice(pkg)
	if err := e.SetFault("", xiaomi.Fault{Kind: xiaomi.FaultSlow, Times: 1, Delay: time.Minute}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.URL()+"/v3/message/regid", strings.NewReader(valid(regid).Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "key="+secret)
	req.Header.Set("Content-Type", formType)
	done := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	time.Sleep(50 * time.Millisecond) // the request is in its delay (a minute)
	cancel()
	if err := <-done; err == nil {
		t.Fatal("cancelled send answered")
	}
	// The next send is normal (the fault cleared, in case the cancel came
	// before the request took it) and is the only delivery.
	e.ClearFaults()
	if a := do(t, http.DefaultClient, http.MethodPost, e.URL()+"/v3/message/regid", "key="+secret, formType, valid(regid).Encode()); a.Code != 0 {
		t.Fatalf("second send: %+v", a)
	}
	if n := len(e.Deliveries(regid)); n != 1 {
		t.Fatalf("%d deliveries, want 1 (the cancelled send is not accepted)", n)
	}
}

func TestStats(t *testing.T) {
	e := start(t, xiaomi.Config{PlainHTTP: true})
	base := e.URL() + "/v1/stats/message/counters?"
	tests := []struct {
		name, auth, query string
		code              int
	}{
		{"ok", "key=" + secret, "start_date=20260101&end_date=20260102&restricted_package_name=" + pkg, 0},
		{"wrong key", "key=x", "start_date=20260101&end_date=20260102", 21301},
		{"other package", "key=" + secret, "start_date=20260101&end_date=20260102&restricted_package_name=x.y", 22022},
		{"no dates", "key=" + secret, "", 21305},
		{"bad date", "key=" + secret, "start_date=2026-01-01&end_date=20260102", 10017},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if a := do(t, http.DefaultClient, http.MethodGet, base+tt.query, tt.auth, "", ""); a.Code != tt.code {
				t.Fatalf("%+v, want code %d", a, tt.code)
			}
		})
	}
}

func TestTLSAndNext(t *testing.T) {
	e := start(t, xiaomi.Config{})
	if !strings.HasPrefix(e.URL(), "https://") {
		t.Fatal(e.URL())
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: e.CertPool()}}}
	defer client.CloseIdleConnections()
	regid := e.RegisterDevice(pkg)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	got := make(chan xiaomi.Delivery, 1)
	go func() {
		d, err := e.Next(ctx, regid)
		if err != nil {
			t.Error(err)
		}
		got <- d
	}()
	a := do(t, client, http.MethodPost, e.URL()+"/v3/message/regid", "key="+secret, formType, valid(regid).Encode())
	if d := <-got; d.MsgID != a.Data.ID || d.RegID != regid {
		t.Fatalf("Next %+v, answer %+v", d, a)
	}
	short, cancel2 := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel2()
	if _, err := e.Next(short, regid); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Next without a delivery: %v", err)
	}
	_ = e.Shutdown(context.Background())
	if _, err := e.Next(context.Background(), regid); !errors.Is(err, xiaomi.ErrClosed) {
		t.Fatalf("Next after Shutdown: %v", err)
	}
}
