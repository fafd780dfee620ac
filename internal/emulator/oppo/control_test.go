package oppo

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestControlHandler(t *testing.T) {
	f := start(t, Config{PlainHTTP: true})
	ctl := httptest.NewServer(f.e.ControlHandler())
	defer ctl.Close()
	call := func(method, path, body string, want int, out any) {
		t.Helper()
		req, _ := http.NewRequest(method, ctl.URL+path, bytes.NewBufferString(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("%s %s: %d, want %d", method, path, resp.StatusCode, want)
		}
		if out != nil {
			if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
				t.Fatal(err)
			}
		}
	}
	var app map[string]string
	call("POST", "/apps", `{"packageName":"com.ctl","channels":["im"]}`, 201, &app)
	if app["appKey"] == "" || app["masterSecret"] == "" {
		t.Fatalf("app %v", app)
	}
	var dev map[string]string
	call("POST", "/devices", `{"app":"com.ctl"}`, 201, &dev)
	call("POST", "/devices", `{"app":"unknown"}`, 404, nil)
	call("POST", "/devices", `{"bogus":1}`, 400, nil)

	f.app = App{AppKey: app["appKey"], MasterSecret: app["masterSecret"]}
	tok := f.auth(t)
	msg := validMessage(dev["token"])
	msg["notification"].(map[string]any)["channel_id"] = "im"

	got := make(chan ControlDeliveries, 1)
	go func() {
		req, _ := http.NewRequest("GET", ctl.URL+"/devices/"+dev["token"]+"/deliveries?after=0&wait=5s", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			got <- ControlDeliveries{}
			return
		}
		defer resp.Body.Close()
		var d ControlDeliveries
		_ = json.NewDecoder(resp.Body).Decode(&d)
		got <- d
	}()
	time.Sleep(50 * time.Millisecond)
	if a := f.unicast(t, tok, msg); a.Code != 0 {
		t.Fatalf("unicast %+v", a)
	}
	d := <-got
	if len(d.Deliveries) != 1 || d.Next != 1 || d.Deliveries[0].Notification.ChannelID != "im" {
		t.Fatalf("deliveries %+v", d)
	}
	var empty ControlDeliveries
	call("GET", "/devices/"+dev["token"]+"/deliveries?after=1", "", 200, &empty)
	if len(empty.Deliveries) != 0 || empty.Next != 1 {
		t.Fatalf("after 1: %+v", empty)
	}

	call("POST", "/faults", `{"token":"`+dev["token"]+`","code":-2,"times":1}`, 204, nil)
	if a := f.unicast(t, tok, msg); a.Code != codeFlowControl {
		t.Fatalf("fault: %d", a.Code)
	}
	call("POST", "/faults", `{"code":12}`, 400, nil)
	call("POST", "/faults", `{"code":33}`, 204, nil)
	call("DELETE", "/faults", "", 204, nil)
	call("DELETE", "/devices/"+dev["token"], "", 204, nil)
	call("DELETE", "/devices/CN_nope", "", 404, nil)
	if a := f.unicast(t, tok, msg); a.Code != codeInvalidRegID {
		t.Fatalf("after uninstall: %d", a.Code)
	}
}
