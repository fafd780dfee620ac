package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/heraldim/herald/internal/devapp"
	"github.com/heraldim/herald/internal/emulator/local"
	herald "github.com/heraldim/herald/sdk/go"
)

// waitLine waits until out holds a JSON line with all of parts, and returns
// the lines so far.
func waitLine(t *testing.T, out *syncBuffer, errc <-chan error, parts ...string) string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		s := out.String()
		for _, line := range strings.Split(s, "\n") {
			ok := true
			for _, p := range parts {
				ok = ok && strings.Contains(line, p)
			}
			if ok {
				return s
			}
		}
		select {
		case err := <-errc:
			t.Fatalf("command ended (%v) before printing %v:\n%s", err, parts, s)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no line with %v in:\n%s", parts, s)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestCLIServeEmulateDevice: serve --emulate in its own process, a device
// of each vendor for bob in the background (herald device --vendor V),
// alice sends with a push config, and the device shows the notification
// and raises the callbacks its vendor has, and only those:
//   - apns: notificationArrived (Apple supports it), not
//     throughMessageReceived (Apple does not);
//   - xiaomi: notificationArrived (Xiaomi supports it in the background),
//     not throughMessageReceived;
//   - harmony (HarmonyOS NEXT): neither notificationArrived nor
//     throughMessageReceived (Push Kit has no arrival callback; background
//     messages only in the foreground);
//   - honor: no notificationArrived;
//   - webpush (a browser, which subscribes at the Web Push emulator and
//     registers the subscription): the push decrypted and shown, and
//     notificationArrived (the service worker tells an open page).
func TestCLIServeEmulateDevice(t *testing.T) {
	for _, tt := range []struct {
		vendor     string
		registered []string // parts of the registered line beyond pushID and errorCode
		displayed  []string // parts of the notificationDisplayed line beyond title, content, payload
		arrived    []string // parts of the notificationArrived line; nil: none awaited
		absent     []string // events the device must not raise
		kind       string   // the kind of every displayed and arrived line; "": not checked
	}{
		{vendor: "apns",
			arrived: []string{`"title":"T"`, `"content":"C"`},
			absent:  []string{"throughMessageReceived"}, kind: "alert"},
		{vendor: "xiaomi", registered: []string{`"vendor":"xiaomi"`},
			arrived: []string{`"title":"T"`, `"content":"C"`, `"payload":"P1"`},
			absent:  []string{"throughMessageReceived"}, kind: "notification"},
		{vendor: "harmony", registered: []string{`"vendor":"harmony"`}, displayed: []string{`"vendor":"harmony"`},
			absent: []string{"notificationArrived", "throughMessageReceived"}},
		{vendor: "honor", registered: []string{`"vendor":"honor"`}, displayed: []string{`"vendor":"honor"`},
			absent: []string{"notificationArrived"}},
		{vendor: "webpush", registered: []string{`"vendor":"webpush"`, `"token":"{`},
			arrived: []string{`"title":"T"`, `"content":"C"`, `"payload":"P1"`},
			absent:  []string{"throughMessageReceived"}, kind: "notification"},
	} {
		t.Run(tt.vendor, func(t *testing.T) {
			dir := t.TempDir()
			_, addr := startProcess(t, dir, "--emulate")
			if _, err := local.LoadManifest(dir); err != nil {
				t.Fatal(err)
			}
			common := []string{"--server", "ws://" + addr, "--data", dir}

			ctx, cancel := context.WithCancel(context.Background())
			var dout syncBuffer
			done := make(chan error, 1)
			go func() {
				stderr, err := runCLI(ctx, &dout, append([]string{"device", "--vendor", tt.vendor, "--user", "bob", "--state", "background"}, common...)...)
				if err != nil {
					t.Logf("device stderr: %s", stderr)
				}
				done <- err
			}()
			defer func() {
				cancel()
				select {
				case err := <-done:
					if err != nil {
						t.Errorf("device: %v", err)
					}
				case <-time.After(10 * time.Second):
					t.Error("device did not stop when interrupted")
				}
			}()
			waitLine(t, &dout, done, append([]string{`"event":"registered"`, `"pushID":"P`, `"errorCode":0`}, tt.registered...)...)
			waitLine(t, &dout, done, `"event":"appStateChanged"`, `"state":"background"`)

			var sout syncBuffer
			if stderr, err := runCLI(context.Background(), &sout, append([]string{"send", "--as", "alice", "--to", "bob",
				"--title", "T", "--content", "C", "--payload", "P1", "hello"}, common...)...); err != nil {
				t.Fatalf("send: %v\n%s", err, stderr)
			}
			out := waitLine(t, &dout, done, append([]string{`"event":"notificationDisplayed"`, `"title":"T"`, `"content":"C"`, `"payload":"P1"`}, tt.displayed...)...)
			if tt.arrived != nil {
				out = waitLine(t, &dout, done, append([]string{`"event":"notificationArrived"`}, tt.arrived...)...)
			}
			for _, ev := range tt.absent {
				if strings.Contains(out, ev) {
					t.Errorf("%s device raised %s:\n%s", tt.vendor, ev, out)
				}
			}
			if tt.kind == "" {
				return
			}
			for _, l := range jsonLinesOf(t, out) {
				if l["event"] == "notificationDisplayed" || l["event"] == "notificationArrived" {
					if l["vendor"] != tt.vendor || l["kind"] != tt.kind {
						t.Errorf("line %v", l)
					}
				}
			}
		})
	}
}

// TestCLIEmulate: herald emulate writes its files and emulators.json and
// stops when interrupted.
func TestCLIEmulate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "emu")
	ctx, cancel := context.WithCancel(context.Background())
	var out syncBuffer
	done := make(chan error, 1)
	go func() {
		_, err := runCLI(ctx, &out, "emulate", "--dir", dir)
		done <- err
	}()
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(out.String(), "vivo\n") || !strings.Contains(out.String(), "HarmonyOS NEXT\n") || !strings.HasSuffix(out.String(), ")\n") {
		if time.Now().After(deadline) {
			t.Fatalf("no summary: %s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	m, err := local.LoadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{m.APNs.CAFile, m.APNs.KeyFile, m.FCM.CAFile, m.FCM.ServiceAccountFile,
		m.Huawei.CAFile, m.Huawei.CredentialFile, m.Xiaomi.CAFile, m.Xiaomi.CredentialFile,
		m.OPPO.CAFile, m.OPPO.CredentialFile, m.Vivo.CAFile, m.Vivo.CredentialFile,
		m.Harmony.CAFile, m.Harmony.CredentialFile, m.Honor.CAFile, m.Honor.CredentialFile} {
		if _, err := os.Stat(f); err != nil {
			t.Error(err)
		}
	}
	for _, u := range []string{m.APNs.ProductionURL, m.APNs.DevelopmentURL, m.APNs.ControlURL, m.FCM.URL, m.FCM.ControlURL,
		m.Huawei.URL, m.Huawei.ControlURL, m.Xiaomi.URL, m.Xiaomi.ControlURL, m.OPPO.URL, m.OPPO.ControlURL,
		m.Vivo.URL, m.Vivo.ControlURL, m.Phones.URL,
		m.Harmony.URL, m.Harmony.ControlURL, m.Honor.URL, m.Honor.TokenURL, m.Honor.ControlURL} {
		if !strings.Contains(out.String(), u) || !strings.Contains(u, "127.0.0.1:") {
			t.Errorf("URL %q not in the summary or not loopback", u)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("emulate did not stop")
	}
}

// TestCLIServeEmulatePhonesAPI: serve --emulate serves the phones API at
// the manifest's phones.url; a phone made there is a push token source: bob
// logs in with its token and leaves, alice sends, and the phone's events
// show the notification as a killed Xiaomi app does.
func TestCLIServeEmulatePhonesAPI(t *testing.T) {
	dir := t.TempDir()
	_, addr := startProcess(t, dir, "--emulate")
	m, err := local.LoadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(m.Phones.URL, "http://127.0.0.1:") {
		t.Fatalf("phones URL %q", m.Phones.URL)
	}
	resp, err := http.Post(m.Phones.URL+"/phones", "application/json", strings.NewReader(`{"vendor":"xiaomi","state":"killed"}`))
	if err != nil {
		t.Fatal(err)
	}
	var ph local.PhoneInfo
	err = json.NewDecoder(resp.Body).Decode(&ph)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusCreated || ph.Token == "" {
		t.Fatalf("POST /phones: %d %+v %v", resp.StatusCode, ph, err)
	}

	app, err := devapp.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := herald.GenerateToken(app.AppID, app.Secret, "bob", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	c, err := herald.Create(herald.Config{Server: "ws://" + addr, AppID: app.AppID, DeviceID: "phone-bob", Platform: ph.Platform,
		Push: &herald.PushRegistration{Vendor: ph.Vendor, Token: ph.Token, BundleID: ph.BundleID}})
	if err != nil {
		t.Fatal(err)
	}
	synced := make(chan struct{}, 1)
	c.SetEventHandler(herald.EventHandler{SyncDone: func(int) { synced <- struct{}{} }})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := c.Login(ctx, "bob", tok); err != nil {
		t.Fatal(err)
	}
	select {
	case <-synced:
	case <-ctx.Done():
		t.Fatal("no syncDone")
	}
	c.Destroy() // killed: the binding stays

	// Destroy returns before the server has seen the connection go (a few
	// ms at worst here); a message sent meanwhile reaches the closing
	// session, not the phone, and bob gets it at his next login. So alice
	// sends until one is pushed, a handful of times at most.
	var page struct {
		Deliveries []local.Event `json:"deliveries"`
	}
	for try := 1; len(page.Deliveries) == 0; try++ {
		if try > 5 {
			t.Fatal("no push reached the phone")
		}
		var sout syncBuffer
		if stderr, err := runCLI(ctx, &sout, "send", "--server", "ws://"+addr, "--data", dir, "--as", "alice", "--to", "bob",
			"--title", "T", "--content", "C", "--payload", "P1", "hello"); err != nil {
			t.Fatalf("send: %v\n%s", err, stderr)
		}
		resp, err := http.Get(m.Phones.URL + "/phones/" + ph.PhoneID + "/events?wait=3s")
		if err != nil {
			t.Fatal(err)
		}
		err = json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	e := page.Deliveries[0]
	if e.Event != local.EventNotificationDisplayed || e.Title != "T" || e.Content != "C" || e.Payload != "P1" || e.Vendor != "xiaomi" {
		t.Errorf("event %+v", e)
	}
}
