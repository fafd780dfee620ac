package fcm_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/heraldim/herald/internal/emulator/fcm"
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
	e := newEnv(t)
	cs := httptest.NewServer(e.emu.ControlHandler())
	t.Cleanup(cs.Close)
	bearer := e.accessToken(t)

	var reg struct{ Token string }
	if st := ctl(t, cs.URL, "POST", "/devices", `{"projectID":"`+project+`","packageName":"`+pkg+`"}`, &reg); st != 201 || !strings.Contains(reg.Token, ":APA91b") {
		t.Fatalf("register: %d %+v", st, reg)
	}
	for _, bad := range []string{`{"projectID":"` + project + `"}`, `{"packageName":"x"}`, `{"projectID":"p","packageName":"x","voip":true}`} {
		if st := ctl(t, cs.URL, "POST", "/devices", bad, nil); st != 400 {
			t.Errorf("register %s: %d", bad, st)
		}
	}
	msg := `{"message":{"token":"` + reg.Token + `","notification":{"title":"Hi","body":"there"},"data":{"payload":"p1"}}}`

	var got fcm.ControlDeliveries
	t0 := time.Now()
	if st := ctl(t, cs.URL, "GET", "/devices/"+reg.Token+"/deliveries?wait=100ms", "", &got); st != 200 || len(got.Deliveries) != 0 || time.Since(t0) < 100*time.Millisecond {
		t.Fatalf("empty long-poll: %d %+v after %v", st, got, time.Since(t0))
	}
	done := make(chan fcm.ControlDeliveries, 1)
	go func() {
		var d fcm.ControlDeliveries
		ctl(t, cs.URL, "GET", "/devices/"+reg.Token+"/deliveries?after=0&wait=5s", "", &d)
		done <- d
	}()
	time.Sleep(50 * time.Millisecond)
	if a := e.send(t, project, bearer, msg); a.status != 200 {
		t.Fatalf("send: %d %s", a.status, a.raw)
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
	var m struct {
		Notification struct{ Title, Body string }
		Data         map[string]string
	}
	if err := json.Unmarshal(d.Message, &m); err != nil || d.Seq != 1 || d.Dropped || d.Delivered.IsZero() ||
		m.Notification.Title != "Hi" || m.Data["payload"] != "p1" {
		t.Fatalf("delivery %+v (%s)", d, d.Message)
	}
	e.send(t, project, bearer, msg)
	ctl(t, cs.URL, "GET", "/devices/"+reg.Token+"/deliveries?after=1", "", &got)
	if len(got.Deliveries) != 1 || got.Deliveries[0].Seq != 2 || got.Next != 2 {
		t.Fatalf("after=1: %+v", got)
	}
	if st := ctl(t, cs.URL, "GET", "/devices/nope/deliveries", "", nil); st != 404 {
		t.Errorf("unknown token: %d", st)
	}
	if st := ctl(t, cs.URL, "GET", "/devices/"+reg.Token+"/deliveries?after=-1", "", nil); st != 400 {
		t.Errorf("bad after: %d", st)
	}

	// Faults.
	if st := ctl(t, cs.URL, "POST", "/faults", `{"token":"`+reg.Token+`","status":429,"retryAfter":"2s","times":1}`, nil); st != 204 {
		t.Fatalf("fault: %d", st)
	}
	if a := e.send(t, project, bearer, msg); a.status != 429 || a.header.Get("Retry-After") != "2" {
		t.Fatalf("throttled send: %d %v", a.status, a.header)
	}
	if a := e.send(t, project, bearer, msg); a.status != 200 {
		t.Fatalf("after the fault: %d", a.status)
	}
	ctl(t, cs.URL, "POST", "/faults", `{"status":503}`, nil)
	if a := e.send(t, project, bearer, msg); a.status != 503 {
		t.Fatalf("global fault: %d", a.status)
	}
	if st := ctl(t, cs.URL, "DELETE", "/faults", "", nil); st != 204 {
		t.Fatalf("clear: %d", st)
	}
	if st := ctl(t, cs.URL, "POST", "/faults", `{"status":418}`, nil); st != 400 {
		t.Errorf("bad fault status: %d", st)
	}

	// Uninstall.
	if st := ctl(t, cs.URL, "DELETE", "/devices/"+reg.Token, "", nil); st != 204 {
		t.Fatalf("unregister: %d", st)
	}
	if a := e.send(t, project, bearer, msg); a.status != 404 {
		t.Fatalf("send to an uninstalled app: %d", a.status)
	}
	if st := ctl(t, cs.URL, "DELETE", "/devices/nope", "", nil); st != 404 {
		t.Errorf("unregister unknown: %d", st)
	}
}
