package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	huaweiemu "github.com/heraldim/herald/internal/emulator/huawei"
	oppoemu "github.com/heraldim/herald/internal/emulator/oppo"
	vivoemu "github.com/heraldim/herald/internal/emulator/vivo"
	xiaomiemu "github.com/heraldim/herald/internal/emulator/xiaomi"
	"github.com/heraldim/herald/internal/protocol"
	"github.com/heraldim/herald/internal/push"
	"github.com/heraldim/herald/internal/push/huawei"
	"github.com/heraldim/herald/internal/push/oppo"
	"github.com/heraldim/herald/internal/push/vivo"
	"github.com/heraldim/herald/internal/push/xiaomi"
	"github.com/heraldim/herald/internal/testkit"
)

// vendorRig is one Android vendor's emulator as a test or benchmark uses
// it: the admin API credential body pointing at it, a registered device
// token, a wait for the device's next push (its title and content), the
// number of pushes the device got, and a provider built directly from the
// same credential (the bare client of the benchmarks).
type vendorRig struct {
	cred     map[string]any
	token    string
	next     func(ctx context.Context) (string, error)
	count    func() int
	provider func(t testing.TB) push.Provider
	// tray is what the phone's tray shows ("title|content" each, oldest
	// first); raws the deliveries as the vendor got them (JSON, or the
	// form for Xiaomi).
	tray func() []string
	raws func() []string
	// shown waits for the device's next push and returns what the phone
	// shows and the custom data the app reads.
	shown func(ctx context.Context) (shown, error)
	// selfClassify grants the app the vendor's self-classification
	// entitlement (Huawei only; nil elsewhere).
	selfClassify func()
}

// pushKitShown is what a Push Kit-shaped message (Huawei's, Honor's)
// shows: android.notification's title and body, and the payload and
// truncation marker of message.data, a JSON object as a string.
func pushKitShown(title, body string, data *string) (shown, error) {
	var m map[string]string
	if data != nil {
		if err := json.Unmarshal([]byte(*data), &m); err != nil {
			return shown{}, err
		}
	}
	return shown{title, body, m["payload"], m[push.TruncatedKey]}, nil
}

// androidVendor sets up one Android vendor's emulator.
type androidVendor struct {
	name  string
	setup func(t testing.TB, s *testkit.Server) vendorRig
}

const pkg = "com.example.chat"

var androidVendors = []androidVendor{
	{"huawei", func(t testing.TB, s *testkit.Server) vendorRig {
		em := startHuawei(t, s)
		tok := em.RegisterDevice("10086")
		return vendorRig{
			cred:  map[string]any{"appID": "10086", "clientSecret": "hw-secret", "baseURL": em.URL(), "tokenURL": em.TokenURL(), "caPEM": string(em.CACertPEM())},
			token: tok,
			next: func(ctx context.Context) (string, error) {
				d, err := em.Next(ctx, tok)
				return string(d.Raw), err
			},
			count: func() int { return len(em.Deliveries(tok)) },
			shown: func(ctx context.Context) (shown, error) {
				d, err := em.Next(ctx, tok)
				if err != nil || d.Message.Android == nil || d.Message.Android.Notification == nil {
					return shown{}, err
				}
				return pushKitShown(d.Message.Android.Notification.Title, d.Message.Android.Notification.Body, d.Message.Data)
			},
			tray: func() (out []string) {
				for _, it := range em.Tray(tok) {
					out = append(out, it.Title+"|"+it.Body)
				}
				return out
			},
			raws: func() (out []string) {
				for _, d := range em.Deliveries(tok) {
					out = append(out, string(d.Raw))
				}
				return out
			},
			selfClassify: func() { em.SetSelfClassified("10086", true) },
			provider: func(t testing.TB) push.Provider {
				p, err := huawei.New(huawei.Config{AppID: "10086", ClientSecret: "hw-secret", BaseURL: em.URL(), TokenURL: em.TokenURL(), RootCAs: em.CertPool()})
				if err != nil {
					t.Fatal(err)
				}
				return p
			},
		}
	}},
	{"xiaomi", func(t testing.TB, s *testkit.Server) vendorRig {
		em := startXiaomi(t, s)
		tok := em.RegisterDevice(pkg)
		return vendorRig{
			cred:  map[string]any{"appSecret": "mi-secret", "packageName": pkg, "channelID": "im", "baseURL": em.URL(), "caPEM": string(em.CACertPEM())},
			token: tok,
			next: func(ctx context.Context) (string, error) {
				d, err := em.Next(ctx, tok)
				return d.Title + " " + d.Description, err
			},
			count: func() int { return len(em.Deliveries(tok)) },
			shown: func(ctx context.Context) (shown, error) {
				d, err := em.Next(ctx, tok)
				return shown{d.Title, d.Description, d.Payload, d.Extra[push.TruncatedKey]}, err
			},
			tray: func() (out []string) {
				for _, it := range em.Tray(tok) {
					out = append(out, it.Title+"|"+it.Description)
				}
				return out
			},
			raws: func() (out []string) {
				for _, d := range em.Deliveries(tok) {
					out = append(out, d.Form.Encode())
				}
				return out
			},
			provider: func(t testing.TB) push.Provider {
				p, err := xiaomi.New(xiaomi.Config{AppSecret: "mi-secret", PackageName: pkg, ChannelID: "im", BaseURL: em.URL(), RootCAs: em.CertPool()})
				if err != nil {
					t.Fatal(err)
				}
				return p
			},
		}
	}},
	{"oppo", func(t testing.TB, s *testkit.Server) vendorRig {
		em := startOPPO(t, s)
		app := em.CreateApp(pkg, "im")
		tok, err := em.RegisterDevice(app.AppKey)
		if err != nil {
			t.Fatal(err)
		}
		return vendorRig{
			cred:  map[string]any{"appKey": app.AppKey, "masterSecret": app.MasterSecret, "channelID": "im", "baseURL": em.URL(), "caPEM": string(em.CACertPEM())},
			token: tok,
			next: func(ctx context.Context) (string, error) {
				d, err := em.Next(ctx, tok)
				return string(d.Raw), err
			},
			count: func() int { return len(em.Deliveries(tok)) },
			shown: func(ctx context.Context) (shown, error) {
				d, err := em.Next(ctx, tok)
				if err != nil {
					return shown{}, err
				}
				var params map[string]string
				if ap := d.Notification.ActionParameters; ap != "" {
					if err := json.Unmarshal([]byte(ap), &params); err != nil {
						return shown{}, err
					}
				}
				return shown{d.Notification.Title, d.Notification.Content, params["payload"], params[push.TruncatedKey]}, nil
			},
			tray: func() (out []string) {
				for _, it := range em.Tray(tok) {
					out = append(out, it.Title+"|"+it.Content)
				}
				return out
			},
			raws: func() (out []string) {
				for _, d := range em.Deliveries(tok) {
					out = append(out, string(d.Raw))
				}
				return out
			},
			provider: func(t testing.TB) push.Provider {
				p, err := oppo.New(oppo.Config{AppKey: app.AppKey, MasterSecret: app.MasterSecret, ChannelID: "im", BaseURL: em.URL(), RootCAs: em.CertPool()})
				if err != nil {
					t.Fatal(err)
				}
				return p
			},
		}
	}},
	{"vivo", func(t testing.TB, s *testkit.Server) vendorRig {
		em := startVivo(t, s)
		tok := em.RegisterDevice("10004")
		return vendorRig{
			cred:  map[string]any{"appID": "10004", "appKey": "vivo-key", "appSecret": "vivo-secret", "baseURL": em.URL(), "caPEM": string(em.CACertPEM())},
			token: tok,
			next: func(ctx context.Context) (string, error) {
				d, err := em.Next(ctx, tok)
				return d.Message.Title + " " + d.Message.Content, err
			},
			count: func() int { return len(em.Deliveries(tok)) },
			shown: func(ctx context.Context) (shown, error) {
				d, err := em.Next(ctx, tok)
				m := d.Message
				return shown{m.Title, m.Content, m.ClientCustomMap["payload"], m.ClientCustomMap[push.TruncatedKey]}, err
			},
			tray: func() (out []string) {
				for _, it := range em.Tray(tok) {
					out = append(out, it.Title+"|"+it.Content)
				}
				return out
			},
			raws: func() (out []string) {
				for _, d := range em.Deliveries(tok) {
					out = append(out, string(d.Raw))
				}
				return out
			},
			provider: func(t testing.TB) push.Provider {
				p, err := vivo.New(vivo.Config{AppID: "10004", AppKey: "vivo-key", AppSecret: "vivo-secret", BaseURL: em.URL(), RootCAs: em.CertPool()})
				if err != nil {
					t.Fatal(err)
				}
				return p
			},
		}
	}},
	{"honor", honorRig},
}

// serveEmulator starts the vendor emulator em (err is its constructor's)
// on a loopback port and stops it when the test ends, after the Herald
// server s that dials it (nil when none does): shutDownAfter.
func serveEmulator(t testing.TB, s *testkit.Server, em interface {
	Start(addr string) error
	Shutdown(ctx context.Context) error
}, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	if err := em.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	shutDownAfter(t, s, em.Shutdown)
}

// shutDownAfter shuts an emulator down with shutdown when the test ends,
// after the Herald server s that dials it (nil when none does; when s
// stopped before the test ended, the shutdown is the plain one). The
// shutdown begins with the test's cleanup: the emulator's held answers
// end at once, so s's pushes in flight get theirs. It ends once s has
// stopped, with the connections still open closed: s's providers keep
// theirs after the emulator's GOAWAY (their pools forget them, so closing
// the idle ones at s's stop misses them), and Go's server would leave
// each to its client for a second.
func shutDownAfter(t testing.TB, s *testkit.Server, shutdown func(ctx context.Context) error) {
	t.Cleanup(func() {
		if s == nil {
			_ = shutdown(context.Background())
			return
		}
		ctx, cancel := context.WithCancel(context.Background())
		shut := make(chan struct{})
		go func() {
			defer close(shut)
			_ = shutdown(ctx)
		}()
		if s.AfterStop(func() {
			cancel()
			<-shut
		}) {
			return
		}
		// s stopped before the test ended: another may dial the emulator.
		<-shut
		cancel()
	})
}

// startHuawei starts a Huawei emulator, stopped with the test, with the
// rigs' app (10086, secret hw-secret) registered.
func startHuawei(t testing.TB, s *testkit.Server) *huaweiemu.Emulator {
	em, err := huaweiemu.New(huaweiemu.Config{})
	serveEmulator(t, s, em, err)
	em.RegisterApp("10086", "hw-secret")
	return em
}

// startXiaomi starts a Xiaomi emulator, stopped with the test, with the
// rigs' app (package pkg, secret mi-secret, channel im) registered.
func startXiaomi(t testing.TB, s *testkit.Server) *xiaomiemu.Emulator {
	em, err := xiaomiemu.New(xiaomiemu.Config{})
	serveEmulator(t, s, em, err)
	if err := em.AddApp(pkg, "mi-secret", "im"); err != nil {
		t.Fatal(err)
	}
	return em
}

// startOPPO starts an OPPO emulator, stopped with the test; apps are
// created by the caller (CreateApp).
func startOPPO(t testing.TB, s *testkit.Server) *oppoemu.Emulator {
	em, err := oppoemu.New(oppoemu.Config{})
	serveEmulator(t, s, em, err)
	return em
}

// startVivo starts a vivo emulator, stopped with the test, with the rigs'
// app (10004, key vivo-key, secret vivo-secret) registered.
func startVivo(t testing.TB, s *testkit.Server) *vivoemu.Emulator {
	em, err := vivoemu.New(vivoemu.Config{})
	serveEmulator(t, s, em, err)
	if err := em.AddApp(vivoemu.App{ID: "10004", Key: "vivo-key", Secret: "vivo-secret"}); err != nil {
		t.Fatal(err)
	}
	return em
}

func adminCall(t testing.TB, s *testkit.Server, method, path string, body any) (int, map[string]any) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.HTTP+"/v1/apps/"+s.App.AppID+path, r)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+s.App.AdminKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

// TestSeedScenarioOneAndroidVendors: for Huawei, Xiaomi, OPPO and vivo, a
// credential set through the admin API (validated, checked, its secret
// never shown) carries an offline user's push to that vendor's emulator.
func TestSeedScenarioOneAndroidVendors(t *testing.T) {
	for _, v := range androidVendors {
		t.Run(v.name, func(t *testing.T) {
			s := testkit.Start(t, nil)
			rig := v.setup(t, s)
			cred, tok, next := rig.cred, rig.token, rig.next

			// A credential missing its secret is refused and nothing stored.
			bad := map[string]any{}
			for k, val := range cred {
				if !strings.Contains(strings.ToLower(k), "secret") {
					bad[k] = val
				}
			}
			if st, b := adminCall(t, s, "PUT", "/push/credentials/"+v.name, bad); st != 400 || b["code"] != float64(protocol.CodeInvalidCredential) {
				t.Fatalf("credential without its secret: %d %v", st, b)
			}
			if st, b := adminCall(t, s, "PUT", "/push/credentials/"+v.name, cred); st != 200 {
				t.Fatalf("PUT credential: %d %v", st, b)
			}
			st, b := adminCall(t, s, "GET", "/push/credentials", nil)
			if shown := fmt.Sprint(b); st != 200 || strings.Contains(shown, "secret\":") || strings.Contains(shown, "-secret") {
				t.Fatalf("credentials listing %d shows a secret: %s", st, shown)
			}
			if st, b := adminCall(t, s, "POST", "/push/credentials/"+v.name+"/check", nil); st != 200 || b["ok"] != true {
				t.Fatalf("check: %d %v", st, b)
			}

			goOffline(t, s, "bob", protocol.PushRegistration{Vendor: v.name, Token: tok, Environment: "production", BundleID: pkg})
			sender := s.LoginAs(t, "alice", "server", "script")
			sender.SyncDone(wait)
			sendWithPush(t, sender, "bob", "m1", &protocol.PushConfig{Title: "Alice", Content: "hi from alice", Payload: "p1"})
			ctx, cancel := context.WithTimeout(context.Background(), wait)
			defer cancel()
			got, err := next(ctx)
			if err != nil {
				t.Fatalf("no push reached the %s emulator: %v (trace %+v)", v.name, err, jobsFor(t, s, "bob"))
			}
			if !strings.Contains(got, "Alice") || !strings.Contains(got, "hi from alice") {
				t.Fatalf("%s got %s", v.name, got)
			}
			waitJob(t, s, "bob", push.JobDelivered)
		})
	}
}

// TestDailyQuotaHoldsPushes: when Xiaomi says the app's daily quota is
// used up, the push is held until the quota resets (midnight in UTC+8),
// later pushes are held back without calling Xiaomi again, and the trace
// says why.
func TestDailyQuotaHoldsPushes(t *testing.T) {
	s := testkit.Start(t, nil)
	em := startXiaomi(t, s)
	tok := em.RegisterDevice(pkg)
	cred := map[string]any{"appSecret": "mi-secret", "packageName": pkg, "channelID": "im", "baseURL": em.URL(), "caPEM": string(em.CACertPEM())}
	if st, b := adminCall(t, s, "PUT", "/push/credentials/xiaomi", cred); st != 200 {
		t.Fatalf("PUT credential: %d %v", st, b)
	}
	goOffline(t, s, "bob", protocol.PushRegistration{Vendor: "xiaomi", Token: tok, Environment: "production", BundleID: pkg})
	if err := em.SetFault("", xiaomiemu.Fault{Kind: xiaomiemu.FaultDailyQuota}); err != nil {
		t.Fatal(err)
	}
	sender := s.LoginAs(t, "alice", "server", "script")
	sender.SyncDone(wait)
	sendWithPush(t, sender, "bob", "m1", &protocol.PushConfig{Title: "Alice", Content: "one"})
	j := waitReason(t, s, "bob", "held: vendor quota exhausted until ")
	cst := time.FixedZone("UTC+8", 8*3600)
	now := time.Now().In(cst)
	reset := time.Date(now.Year(), now.Month(), now.Day()+1, 0, 0, 0, 0, cst)
	if j.Status != push.JobPending || !j.NotBefore.Equal(reset) {
		t.Fatalf("held job %+v, want pending until %s", j, reset)
	}
	sendWithPush(t, sender, "bob", "m2", &protocol.PushConfig{Title: "Alice", Content: "two"})
	j = waitReason(t, s, "bob", "held back: vendor quota exhausted until ")
	if j.Attempts != 0 {
		t.Fatalf("a held-back push called the vendor: %+v", j)
	}
	if n := len(em.Deliveries(tok)); n != 0 {
		t.Fatalf("%d deliveries during an exhausted quota", n)
	}
}

// waitReason waits until user's newest job's reason starts with prefix.
func waitReason(t *testing.T, s *testkit.Server, user, prefix string) push.Job {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		jobs := jobsFor(t, s, user)
		if len(jobs) > 0 && strings.HasPrefix(jobs[0].Reason, prefix) {
			return jobs[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s's newest job never held with %q: %+v", user, prefix, jobs)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
