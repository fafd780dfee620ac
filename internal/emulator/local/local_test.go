package local

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/heraldim/herald/internal/push"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestReactions(t *testing.T) {
	alert := Received{Alert: true, Kind: "alert"}
	fcmNote := Received{Alert: true, Kind: "notification"}
	data := Received{Kind: "data"}
	perm := map[string]bool{push.PermissionHuaweiHighPriorityPassThrough: true}
	const shown, arrived, through = EventNotificationDisplayed, EventNotificationArrived, EventThroughMessageReceived
	tests := []struct {
		v       push.Vendor
		s       push.AppState
		r       Received
		granted map[string]bool
		want    []string
	}{
		{push.VendorAPNs, push.StateForeground, alert, nil, []string{arrived}},
		{push.VendorAPNs, push.StateBackground, alert, nil, []string{shown, arrived}},
		{push.VendorAPNs, push.StateKilled, alert, nil, []string{shown, arrived}},
		{push.VendorAPNs, push.StateBackground, Received{Kind: "background"}, nil, nil},
		{push.VendorAPNs, push.StateBackground, Received{Kind: "voip"}, nil, []string{EventVoIPPushReceived}},
		{push.VendorAPNs, push.StateKilled, Received{Kind: "voip", Alert: true}, nil, []string{EventVoIPPushReceived}},
		{push.VendorFCM, push.StateForeground, fcmNote, nil, []string{through}},
		{push.VendorFCM, push.StateBackground, fcmNote, nil, []string{shown, through}},
		{push.VendorFCM, push.StateKilled, fcmNote, nil, []string{shown}},
		{push.VendorFCM, push.StateKilled, data, nil, nil},
		{push.VendorXiaomi, push.StateBackground, alert, nil, []string{shown, arrived}},
		{push.VendorXiaomi, push.StateKilled, alert, nil, []string{shown}},
		{push.VendorHuawei, push.StateKilled, data, nil, nil},
		{push.VendorHuawei, push.StateKilled, data, perm, []string{through}},
		{push.VendorHuawei, push.StateBackground, alert, perm, []string{shown}},
		{push.VendorOPPO, push.StateForeground, alert, nil, []string{shown}},
		{push.VendorVivo, push.StateKilled, data, nil, nil},
		{push.VendorHonor, push.StateBackground, alert, nil, []string{shown}},
		{push.VendorHonor, push.StateForeground, data, nil, []string{through}},
		{push.VendorHonor, push.StateKilled, data, nil, nil},
	}
	for _, tt := range tests {
		c, err := push.CapabilityOf(tt.v, tt.s)
		if err != nil {
			t.Fatal(err)
		}
		if got := Reactions(tt.v, c, tt.r, tt.granted); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s/%s %+v: %v, want %v", tt.v, tt.s, tt.r, got, tt.want)
		}
	}
}

// TestEmulatorsEndToEnd: the manifest's files make working providers, and a
// registered device watching its deliveries reports each push as its
// vendor's capability table says.
func TestEmulatorsEndToEnd(t *testing.T) {
	dir := t.TempDir()
	emus, err := Start(Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer emus.Close()
	m, err := LoadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	if m != emus.Manifest {
		t.Fatalf("manifest on disk %+v, in memory %+v", m, emus.Manifest)
	}
	for _, f := range []string{m.APNs.CAFile, m.APNs.KeyFile, m.FCM.CAFile, m.FCM.ServiceAccountFile,
		m.Huawei.CAFile, m.Huawei.CredentialFile, m.Xiaomi.CAFile, m.Xiaomi.CredentialFile,
		m.OPPO.CAFile, m.OPPO.CredentialFile, m.Vivo.CAFile, m.Vivo.CredentialFile,
		m.Honor.CAFile, m.Honor.CredentialFile, m.WebPush.CAFile, m.WebPush.CredentialFile} {
		if st, err := os.Stat(f); err != nil || st.Mode().Perm() != 0o600 || filepath.Dir(f) != mustAbs(t, dir) {
			t.Errorf("%s: %v %v", f, st, err)
		}
	}
	provs, err := m.Providers()
	if err != nil {
		t.Fatal(err)
	}
	defer provs.Close()
	set := push.NewProviderSet()
	provs.Install(set, "app1")

	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	const shown, arrived, through = EventNotificationDisplayed, EventNotificationArrived, EventThroughMessageReceived
	perm := map[string]bool{push.PermissionHuaweiHighPriorityPassThrough: true}
	for i, tc := range []struct {
		vendor push.Vendor
		debug  bool
		state  push.AppState
		kind   push.Kind // zero: alert
		perm   map[string]bool
		want   []string
	}{
		{push.VendorAPNs, true, push.StateBackground, "", nil, []string{shown, arrived}},
		{push.VendorAPNs, false, push.StateForeground, "", nil, []string{arrived}},
		{push.VendorFCM, false, push.StateBackground, "", nil, []string{shown, through}},
		{push.VendorFCM, false, push.StateKilled, "", nil, []string{shown}},
		{push.VendorHuawei, false, push.StateBackground, "", perm, []string{shown}},
		{push.VendorHuawei, true, push.StateKilled, push.KindData, perm, []string{through}},
		{push.VendorXiaomi, false, push.StateBackground, "", nil, []string{shown, arrived}},
		{push.VendorXiaomi, true, push.StateKilled, "", nil, []string{shown}},
		{push.VendorOPPO, false, push.StateForeground, "", nil, []string{shown}},
		{push.VendorOPPO, true, push.StateKilled, "", nil, []string{shown}},
		{push.VendorVivo, false, push.StateBackground, "", nil, []string{shown}},
		{push.VendorVivo, true, push.StateKilled, "", nil, []string{shown}},
		{push.VendorHonor, false, push.StateBackground, "", nil, []string{shown}},
		{push.VendorHonor, true, push.StateForeground, push.KindData, nil, []string{through}},
		// A browser decrypts the push and its service worker shows it.
		{push.VendorWebPush, false, push.StateBackground, "", nil, []string{shown, arrived}},
		{push.VendorWebPush, false, push.StateKilled, "", nil, []string{shown}},
	} {
		if tc.kind == "" {
			tc.kind = push.KindAlert
		}
		t.Run(string(tc.vendor)+"/"+string(tc.state)+"/"+string(tc.kind), func(t *testing.T) {
			dev, err := RegisterDevice(ctx, m, tc.vendor, tc.debug, false, client)
			if err != nil {
				t.Fatal(err)
			}
			dev.Permissions = tc.perm
			p, err := set.Provider(ctx, "app1", tc.vendor, dev.Environment)
			if err != nil {
				t.Fatal(err)
			}
			wctx, stop := context.WithCancel(ctx)
			var (
				mu  sync.Mutex
				got []Event
			)
			done := make(chan error, 1)
			go func() {
				done <- dev.Watch(wctx, func() push.AppState { return tc.state }, func(e Event) {
					mu.Lock()
					got = append(got, e)
					n := len(got)
					mu.Unlock()
					if n == len(tc.want) {
						stop()
					}
				})
			}()
			res, err := p.Send(ctx, push.Notification{ID: fmt.Sprintf("6e1c4a52-3c39-4bd4-9a2b-1f0c2d9a7b%02d", i), Token: dev.Token,
				Environment: dev.Environment, Kind: tc.kind, Priority: priority(tc.kind), Topic: dev.BundleID,
				Title: "T", Content: "C", Payload: "P"})
			if err != nil || res.Outcome != push.Delivered {
				t.Fatalf("send: %+v %v", res, err)
			}
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			defer mu.Unlock()
			var names []string
			for _, e := range got {
				names = append(names, e.Event)
				if e.Title != "T" || e.Content != "C" || e.Payload != "P" || e.Vendor != string(tc.vendor) || e.Seq != 1 {
					t.Errorf("event %+v", e)
				}
			}
			if !reflect.DeepEqual(names, tc.want) {
				t.Errorf("events %v, want %v", names, tc.want)
			}
		})
	}
	for _, v := range []push.Vendor{push.VendorFCM, push.VendorXiaomi} {
		if _, err := RegisterDevice(ctx, m, v, false, true, client); err == nil {
			t.Errorf("a %s VoIP device was registered", v)
		}
	}
	if _, err := LoadManifest(t.TempDir()); err == nil {
		t.Error("LoadManifest of an empty directory succeeded")
	}
}

// priority is a test push's: high for alerts, normal for data (a high
// Huawei data message needs an entitlement the emulated app lacks).
func priority(k push.Kind) push.Priority {
	if k == push.KindAlert {
		return push.PriorityHigh
	}
	return push.PriorityNormal
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
