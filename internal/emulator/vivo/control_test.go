package vivo

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestControl(t *testing.T) {
	e, c := start(t, Config{})
	ctl := httptest.NewServer(e.ControlHandler())
	defer ctl.Close()
	do := func(method, path, body string) (int, []byte) {
		t.Helper()
		req, err := http.NewRequest(method, ctl.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := ctl.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(resp.Body)
		return resp.StatusCode, buf.Bytes()
	}

	if st, _ := do("POST", "/apps", `{"appId":"30006","appKey":"k","appSecret":"s"}`); st != 204 {
		t.Fatalf("POST /apps: %d", st)
	}
	if st, _ := do("POST", "/apps", `{"appId":"x"}`); st != 400 {
		t.Fatalf("bad app: %d", st)
	}
	st, body := do("POST", "/devices", `{"appId":"10004"}`)
	if st != 201 {
		t.Fatalf("POST /devices: %d %s", st, body)
	}
	var dev struct {
		RegID string `json:"regId"`
	}
	if err := json.Unmarshal(body, &dev); err != nil || !regIDPattern.MatchString(dev.RegID) {
		t.Fatalf("regId %q: %v", dev.RegID, err)
	}
	if st, _ := do("POST", "/devices", `{"appId":"10004","extra":1}`); st != 400 {
		t.Fatalf("unknown field: %d", st)
	}

	// A long poll is answered by the push.
	tok := token(t, e, c)
	type polled struct {
		st  int
		out ControlDeliveries
	}
	done := make(chan polled, 1)
	go func() {
		st, body := do("GET", "/devices/"+dev.RegID+"/deliveries?after=0&wait=5s", "")
		var out ControlDeliveries
		_ = json.Unmarshal(body, &out)
		done <- polled{st, out}
	}()
	time.Sleep(50 * time.Millisecond)
	if r := post(t, nil, e.URL()+"/message/send", tok, baseSend(dev.RegID, "ctl-1")); r.Result != 0 {
		t.Fatal(r)
	}
	p := <-done
	if p.st != 200 || len(p.out.Deliveries) != 1 || p.out.Next != 1 || p.out.Deliveries[0].RequestID != "ctl-1" {
		t.Fatalf("poll: %d %+v", p.st, p.out)
	}
	if st, body := do("GET", "/devices/"+dev.RegID+"/deliveries?after=1", ""); st != 200 || !strings.Contains(string(body), `"deliveries":[]`) {
		t.Fatalf("after=1: %d %s", st, body)
	}
	if st, _ := do("GET", "/devices/"+dev.RegID+"/deliveries?wait=x", ""); st != 400 {
		t.Fatalf("bad wait: %d", st)
	}

	// Faults.
	if st, _ := do("POST", "/faults", `{"regId":"`+dev.RegID+`","kind":"quota","times":1}`); st != 204 {
		t.Fatalf("POST /faults: %d", st)
	}
	if r := post(t, nil, e.URL()+"/message/send", tok, baseSend(dev.RegID, "ctl-2")); r.Result != CodeTotalExceeded {
		t.Fatal(r)
	}
	if st, _ := do("POST", "/faults", `{"kind":"server_error"}`); st != 204 {
		t.Fatal(st)
	}
	if st, _ := do("DELETE", "/faults", ""); st != 204 {
		t.Fatal(st)
	}
	if st, _ := do("POST", "/faults", `{"kind":"bogus"}`); st != 400 {
		t.Fatalf("bogus fault: %d", st)
	}
	if st, _ := do("POST", "/faults", `{"delay":"-1s"}`); st != 400 {
		t.Fatalf("negative delay: %d", st)
	}

	// Uninstall.
	if st, _ := do("DELETE", "/devices/"+dev.RegID, ""); st != 204 {
		t.Fatal(st)
	}
	if st, _ := do("DELETE", "/devices/v2-unknown", ""); st != 404 {
		t.Fatal(st)
	}
	r := post(t, nil, e.URL()+"/message/send", tok, baseSend(dev.RegID, "ctl-3"))
	if r.Result != CodeInvalidRegID || r.InvalidUser == nil || r.InvalidUser.Status != 2 {
		t.Fatalf("after uninstall: %+v", r)
	}
}
