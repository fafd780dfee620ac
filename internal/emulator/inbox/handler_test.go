package inbox

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/heraldim/herald/internal/emulator/control"
)

// TestHandler: unknown devices get 404, malformed poll parameters 400,
// and a long poll answers with the delivery recorded while it waits.
func TestHandler(t *testing.T) {
	var mu sync.Mutex
	l := NewLog[string](&mu, make(chan struct{}), errClosed)
	devs := control.Devices{Param: "token", Unknown: "unknown token", Known: func(id string) bool { return id == "a" }}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /devices/{token}/deliveries", Handler(devs, l, func(seq int, d string) string { return d }))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	get := func(path string) (int, control.Page[string]) {
		t.Helper()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var p control.Page[string]
		if resp.StatusCode == http.StatusOK {
			if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
				t.Fatal(err)
			}
		}
		return resp.StatusCode, p
	}
	if code, _ := get("/devices/b/deliveries"); code != http.StatusNotFound {
		t.Fatalf("unknown device: %d", code)
	}
	if code, _ := get("/devices/a/deliveries?after=-1"); code != http.StatusBadRequest {
		t.Fatalf("bad after: %d", code)
	}
	if code, p := get("/devices/a/deliveries"); code != http.StatusOK || len(p.Deliveries) != 0 || p.Deliveries == nil || p.Next != 0 {
		t.Fatalf("empty: %d %+v", code, p)
	}
	// Whether the poll already waits or not when the record lands, it
	// answers with it (a wait of 30s would fail the test's deadline).
	done := make(chan struct{})
	go func() {
		defer close(done)
		code, p := get("/devices/a/deliveries?wait=30s")
		if code != http.StatusOK || len(p.Deliveries) != 1 || p.Deliveries[0] != "x" || p.Next != 1 {
			t.Errorf("long poll: %d %+v", code, p)
		}
	}()
	mu.Lock()
	l.Record("a", "x")
	mu.Unlock()
	<-done
}
