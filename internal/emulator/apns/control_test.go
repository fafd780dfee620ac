package apns

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// ctl calls the control API and decodes a JSON answer into out (if not nil).
func ctl(t *testing.T, base, method, path, body string, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %q: %v", method, path, raw, err)
		}
	}
	return resp.StatusCode
}

func TestControlAPI(t *testing.T) {
	f := start(t, Config{})
	cs := httptest.NewServer(f.emu.ControlHandler())
	t.Cleanup(cs.Close)

	var reg struct{ Token string }
	if st := ctl(t, cs.URL, "POST", "/devices", `{"bundleID":"`+bundleID+`","environment":"development"}`, &reg); st != 201 || len(reg.Token) != 64 {
		t.Fatalf("register: %d %+v", st, reg)
	}
	if d, ok := f.emu.Device(reg.Token); !ok || d.BundleID != bundleID || d.Environment != Development || d.VoIP {
		t.Fatalf("registered %+v", d)
	}
	for _, bad := range []string{`{"environment":"development"}`, `{"bundleID":"x","environment":"sandbox"}`, `{"bundleID":"x","environment":"production","extra":1}`, `nope`} {
		if st := ctl(t, cs.URL, "POST", "/devices", bad, nil); st != 400 {
			t.Errorf("register %s: %d", bad, st)
		}
	}

	// Nothing yet: an immediate answer, and a long-poll that times out.
	var got ControlDeliveries
	if st := ctl(t, cs.URL, "GET", "/devices/"+reg.Token+"/deliveries", "", &got); st != 200 || len(got.Deliveries) != 0 || got.Next != 0 {
		t.Fatalf("empty deliveries: %d %+v", st, got)
	}
	t0 := time.Now()
	ctl(t, cs.URL, "GET", "/devices/"+reg.Token+"/deliveries?wait=100ms", "", &got)
	if el := time.Since(t0); el < 100*time.Millisecond || len(got.Deliveries) != 0 {
		t.Fatalf("long-poll returned after %v with %+v", el, got)
	}

	// A long-poll waiting when the push arrives returns it.
	done := make(chan ControlDeliveries, 1)
	go func() {
		var d ControlDeliveries
		ctl(t, cs.URL, "GET", "/devices/"+reg.Token+"/deliveries?after=0&wait=5s", "", &d)
		done <- d
	}()
	time.Sleep(50 * time.Millisecond)
	if r := f.do(t, nil, f.alert(t, Development, reg.Token)); r.status != 200 {
		t.Fatalf("push: %d %s", r.status, r.reason)
	}
	select {
	case got = <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("long-poll did not return")
	}
	if len(got.Deliveries) != 1 || got.Next != 1 {
		t.Fatalf("deliveries %+v", got)
	}
	d := got.Deliveries[0]
	var payload struct {
		Aps struct{ Alert struct{ Title, Body string } }
	}
	if err := json.Unmarshal(d.Payload, &payload); err != nil || d.Seq != 1 || d.PushType != "alert" || d.Topic != bundleID ||
		d.Environment != Development || payload.Aps.Alert.Title != "Ann" || payload.Aps.Alert.Body != "hi" {
		t.Fatalf("delivery %+v (%s)", d, d.Payload)
	}
	// The cursor skips what was seen.
	f.do(t, nil, f.alert(t, Development, reg.Token))
	ctl(t, cs.URL, "GET", "/devices/"+reg.Token+"/deliveries?after=1&wait=1s", "", &got)
	if len(got.Deliveries) != 1 || got.Deliveries[0].Seq != 2 || got.Next != 2 {
		t.Fatalf("after=1: %+v", got)
	}
	if st := ctl(t, cs.URL, "GET", "/devices/"+reg.Token+"/deliveries?wait=forever", "", nil); st != 400 {
		t.Errorf("bad wait: %d", st)
	}
	if st := ctl(t, cs.URL, "GET", "/devices/00/deliveries", "", nil); st != 404 {
		t.Errorf("unknown token deliveries: %d", st)
	}

	// Faults: one throttled answer, then normal again.
	if st := ctl(t, cs.URL, "POST", "/faults", `{"token":"`+reg.Token+`","kind":"throttled","retryAfter":"3s","times":1}`, nil); st != 204 {
		t.Fatalf("fault: %d", st)
	}
	if r := f.do(t, nil, f.alert(t, Development, reg.Token)); r.status != 429 || r.header.Get("Retry-After") != "3" {
		t.Fatalf("throttled push: %d %v", r.status, r.header)
	}
	if r := f.do(t, nil, f.alert(t, Development, reg.Token)); r.status != 200 {
		t.Fatalf("after the fault: %d", r.status)
	}
	ctl(t, cs.URL, "POST", "/faults", `{"kind":"unavailable"}`, nil)
	if r := f.do(t, nil, f.alert(t, Development, reg.Token)); r.status != 503 {
		t.Fatalf("global fault: %d", r.status)
	}
	if st := ctl(t, cs.URL, "DELETE", "/faults?token=", "", nil); st != 204 {
		t.Fatalf("clear: %d", st)
	}
	if r := f.do(t, nil, f.alert(t, Development, reg.Token)); r.status != 200 {
		t.Fatalf("after clearing: %d", r.status)
	}
	for _, bad := range []string{`{"kind":"melted"}`, `{"kind":"slow","delay":"-1s"}`, `{"kind":"slow","times":-1}`} {
		if st := ctl(t, cs.URL, "POST", "/faults", bad, nil); st != 400 {
			t.Errorf("fault %s: %d", bad, st)
		}
	}

	// Unregister: APNs answers 410 from then on.
	if st := ctl(t, cs.URL, "DELETE", "/devices/"+reg.Token, "", nil); st != 204 {
		t.Fatalf("unregister: %d", st)
	}
	if r := f.do(t, nil, f.alert(t, Development, reg.Token)); r.status != 410 {
		t.Fatalf("push to an unregistered token: %d", r.status)
	}
	var info struct{ Unregistered *time.Time }
	if ctl(t, cs.URL, "GET", "/devices/"+reg.Token, "", &info); info.Unregistered == nil {
		t.Error("device not reported unregistered")
	}
	if st := ctl(t, cs.URL, "DELETE", "/devices/00", "", nil); st != 404 {
		t.Errorf("unregister unknown: %d", st)
	}
}
