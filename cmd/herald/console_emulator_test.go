package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/heraldim/herald/internal/devapp"
	"github.com/heraldim/herald/internal/emulator/local"
)

// TestCLIServeEmulatePhonesOnAdminAPI: serve --emulate serves the phones
// API for the dev app on the admin API with its admin key, where the
// console (same origin) reaches it: the emulator state says so, a phone
// made there is the phones API's own (its own port knows it), and without
// the admin key the path is refused.
func TestCLIServeEmulatePhonesOnAdminAPI(t *testing.T) {
	dir := t.TempDir()
	_, addr := startProcess(t, dir, "--emulate")
	app, err := devapp.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	m, err := local.LoadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + addr + "/v1/apps/" + app.AppID
	call := func(method, url, key, body string) (int, []byte) {
		t.Helper()
		req, err := http.NewRequest(method, url, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}

	st, b := call("GET", base+"/emulator", app.AdminKey, "")
	var state struct {
		Emulating  bool   `json:"emulating"`
		PhonesPath string `json:"phonesPath"`
	}
	if st != 200 || json.Unmarshal(b, &state) != nil || !state.Emulating || state.PhonesPath != "/v1/apps/"+app.AppID+"/emulator/phones/" {
		t.Fatalf("GET /emulator: %d %s", st, b)
	}
	st, b = call("POST", base+"/emulator/phones", app.AdminKey, `{"vendor":"apns","state":"killed"}`)
	var ph local.PhoneInfo
	if st != http.StatusCreated || json.Unmarshal(b, &ph) != nil || ph.PhoneID == "" || ph.Token == "" {
		t.Fatalf("POST /emulator/phones: %d %s", st, b)
	}
	if st, b := call("GET", m.Phones.URL+"/phones/"+ph.PhoneID, "", ""); st != 200 || !strings.Contains(string(b), ph.Token) {
		t.Fatalf("the phones API's own port does not know the phone: %d %s", st, b)
	}
	if st, b := call("GET", base+"/emulator/phones/"+ph.PhoneID+"/events?wait=0s", app.AdminKey, ""); st != 200 || !strings.Contains(string(b), "deliveries") {
		t.Fatalf("GET events through the admin API: %d %s", st, b)
	}
	if st, _ := call("GET", base+"/emulator/phones/"+ph.PhoneID, "", ""); st != 401 {
		t.Fatalf("without the admin key: %d, want 401", st)
	}
}
