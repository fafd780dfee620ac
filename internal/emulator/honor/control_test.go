package honor

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestControlAPI: another process registers an app and a device, plays a
// fault, ends the access tokens and reads the deliveries.
func TestControlAPI(t *testing.T) {
	r := start(t)
	ctl := httptest.NewServer(r.e.ControlHandler())
	defer ctl.Close()
	call := func(method, path, body string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(method, ctl.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	if st, _ := call("POST", "/apps", `{"appID":"1","clientID":"c1"}`); st != 400 {
		t.Fatalf("app without secret: %d", st)
	}
	if st, _ := call("POST", "/apps", `{"appID":"1","clientID":"c1","clientSecret":"s1"}`); st != 204 {
		t.Fatalf("app: %d", st)
	}
	st, m := call("POST", "/devices", `{"appID":"`+testApp.AppID+`"}`)
	dev, _ := m["token"].(string)
	if st != 201 || !tokenPattern.MatchString(dev) {
		t.Fatalf("device: %d %v", st, m)
	}
	if st, _ := call("POST", "/faults", `{"kind":"server_error","times":1}`); st != 204 {
		t.Fatalf("fault: %d", st)
	}
	if st, _ := call("POST", "/faults", `{"kind":"invalid_token"}`); st != 400 {
		t.Fatalf("invalid_token without a token: %d", st)
	}
	tok := r.accessToken(t)
	if st, _ := r.send(t, testApp.AppID, tok, notification(dev), nil); st != 500 {
		t.Fatalf("the fault did not play: %d", st)
	}
	if st, _ := r.send(t, testApp.AppID, tok, notification(dev), nil); st != 200 {
		t.Fatalf("after the fault: %d", st)
	}
	if st, _ := call("POST", "/access-tokens/expire", ""); st != 204 {
		t.Fatalf("expire: %d", st)
	}
	if _, m := r.send(t, testApp.AppID, tok, notification(dev), nil); m["code"] != float64(codeAuthExpired) {
		t.Fatalf("after expire: %v", m)
	}
	st, m = call("GET", "/devices/"+dev+"/deliveries?after=0", "")
	ds, _ := m["deliveries"].([]any)
	if st != 200 || len(ds) != 1 || m["next"] != float64(1) || ds[0].(map[string]any)["passThrough"] != false {
		t.Fatalf("deliveries: %d %v", st, m)
	}
	if st, _ := call("DELETE", "/devices/"+dev, ""); st != 204 {
		t.Fatalf("uninstall: %d", st)
	}
	if st, _ := call("DELETE", "/devices/nope", ""); st != 404 {
		t.Fatalf("unknown device: %d", st)
	}
}
