package xiaomi_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/heraldim/herald/internal/emulator/xiaomi"
)

func TestControlHandler(t *testing.T) {
	e := start(t, xiaomi.Config{PlainHTTP: true})
	ctl := httptest.NewServer(e.ControlHandler())
	defer ctl.Close()

	call := func(method, path, body string, wantStatus int, out any) {
		t.Helper()
		req, _ := http.NewRequest(method, ctl.URL+path, strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != wantStatus {
			t.Fatalf("%s %s: HTTP %d, want %d", method, path, resp.StatusCode, wantStatus)
		}
		if out != nil {
			if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
				t.Fatal(err)
			}
		}
	}

	var reg struct {
		RegID string `json:"regid"`
	}
	call("POST", "/devices", `{"packageName":"`+pkg+`"}`, http.StatusCreated, &reg)
	call("POST", "/devices", `{}`, http.StatusBadRequest, nil)
	call("POST", "/devices", `{"packageName":"a","x":1}`, http.StatusBadRequest, nil)

	// A long poll answered by a send made while it waits.
	done := make(chan xiaomi.ControlDeliveries, 1)
	go func() {
		var got xiaomi.ControlDeliveries
		call("GET", "/devices/"+urlPath(reg.RegID)+"/deliveries?after=0&wait=5s", "", http.StatusOK, &got)
		done <- got
	}()
	time.Sleep(50 * time.Millisecond)
	if a := do(t, http.DefaultClient, http.MethodPost, e.URL()+"/v3/message/regid", "key="+secret, formType, valid(reg.RegID).Encode()); a.Code != 0 {
		t.Fatalf("%+v", a)
	}
	got := <-done
	if len(got.Deliveries) != 1 || got.Next != 1 || got.Deliveries[0].ChannelID != channel || got.Deliveries[0].Title != "Alice" {
		t.Fatalf("deliveries %+v", got)
	}
	call("GET", "/devices/"+urlPath(reg.RegID)+"/deliveries?after=1", "", http.StatusOK, &got)
	if len(got.Deliveries) != 0 || got.Next != 1 {
		t.Fatalf("after=1: %+v", got)
	}
	call("GET", "/devices/"+urlPath(reg.RegID)+"/deliveries?wait=x", "", http.StatusBadRequest, nil)

	call("POST", "/faults", `{"regid":"`+reg.RegID+`","kind":"too_frequent","times":1}`, http.StatusNoContent, nil)
	if a := do(t, http.DefaultClient, http.MethodPost, e.URL()+"/v3/message/regid", "key="+secret, formType, valid(reg.RegID).Encode()); a.Code != 10027 {
		t.Fatalf("%+v", a)
	}
	call("POST", "/faults", `{"kind":"nope"}`, http.StatusBadRequest, nil)
	call("POST", "/faults", `{"kind":"slow","delay":"-1s"}`, http.StatusBadRequest, nil)
	call("POST", "/faults", `{"kind":"daily_quota"}`, http.StatusNoContent, nil)
	call("DELETE", "/faults", "", http.StatusNoContent, nil)

	call("DELETE", "/devices/"+urlPath(reg.RegID), "", http.StatusNoContent, nil)
	call("DELETE", "/devices/unknown", "", http.StatusNotFound, nil)
	call("GET", "/devices/unknown/deliveries", "", http.StatusNotFound, nil)
	if a := do(t, http.DefaultClient, http.MethodPost, e.URL()+"/v3/message/regid", "key="+secret, formType, valid(reg.RegID).Encode()); a.Code != 20301 {
		t.Fatalf("send to an uninstalled app: %+v", a)
	}
}

// urlPath escapes a regId (base64 may hold '/') for a path segment.
func urlPath(s string) string {
	return strings.NewReplacer("/", "%2F", "+", "%2B").Replace(s)
}
