package server_test

import (
	"context"
	"strings"
	"testing"

	"github.com/rivo/uniseg"

	apnsemu "github.com/heraldim/herald/internal/emulator/apns"
	"github.com/heraldim/herald/internal/protocol"
	"github.com/heraldim/herald/internal/push"
	"github.com/heraldim/herald/internal/push/vivo"
	"github.com/heraldim/herald/internal/testkit"
)

// shown is a push as the simulated phone got it: what it shows and the
// custom data the app reads.
type shown struct {
	Title, Content, Payload, Flag string
}

// fitRig sets up one vendor's emulator with a provider installed in s and
// returns the device's registration and a wait for its next push.
type fitRig func(t *testing.T, s *testkit.Server) (protocol.PushRegistration, func(ctx context.Context) (shown, error))

var fitRigs = map[string]fitRig{
	"apns": func(t *testing.T, s *testkit.Server) (protocol.PushRegistration, func(context.Context) (shown, error)) {
		em := startAPNs(t, s)
		tok := em.RegisterDevice(bundle, apnsemu.Development, false)
		return protocol.PushRegistration{Vendor: "apns", Token: tok, Environment: "development", BundleID: bundle},
			func(ctx context.Context) (shown, error) {
				ds, err := em.WaitDeliveries(ctx, tok, 1)
				if err != nil {
					return shown{}, err
				}
				alert, _ := ds[0].Aps()["alert"].(map[string]any)
				str := func(v any) string { s, _ := v.(string); return s }
				return shown{str(alert["title"]), str(alert["body"]), str(ds[0].Payload["payload"]), str(ds[0].Payload[push.TruncatedKey])}, nil
			}
	},
	"fcm": func(t *testing.T, s *testkit.Server) (protocol.PushRegistration, func(context.Context) (shown, error)) {
		em := startFCM(t, s)
		tok := em.RegisterDevice("herald-test", bundle)
		return protocol.PushRegistration{Vendor: "fcm", Token: tok, Environment: "production", BundleID: bundle},
			func(ctx context.Context) (shown, error) {
				d, err := em.Next(ctx, tok)
				if err != nil || d.Message.Notification == nil {
					return shown{}, err
				}
				return shown{d.Message.Notification.Title, d.Message.Notification.Body, d.Message.Data["payload"], d.Message.Data[push.TruncatedKey]}, nil
			}
	},
}

// The Android vendors' rigs are the ones of android_push_test.go, with the
// provider installed directly.
func init() {
	for _, v := range androidVendors {
		fitRigs[v.name] = func(t *testing.T, s *testkit.Server) (protocol.PushRegistration, func(context.Context) (shown, error)) {
			rig := v.setup(t, s)
			s.Srv.Providers.Set(s.App.AppID, push.Vendor(v.name), push.Production, rig.provider(t))
			return protocol.PushRegistration{Vendor: v.name, Token: rig.token, Environment: "production", BundleID: pkg}, rig.shown
		}
	}
}

// fill repeats unit, then pads with ASCII, to exactly n bytes.
func fill(unit string, n int) string {
	s := strings.Repeat(unit, n/len(unit))
	return s + strings.Repeat("a", n-len(s))
}

// TestLongestPushConfigIsSent: a message whose push config has the
// longest title, content and payload validation accepts, in emoji (ZWJ
// sequences, flags, skin tones), CJK and combining marks, with a payload
// that JSON escaping doubles (and Huawei's data string quadruples), is
// accepted by every vendor's emulator: title and content cut between
// grapheme clusters where the vendor needs it, the payload dropped where
// it cannot fit, heraldTruncated telling the app what was cut, and the
// trace saying so.
func TestLongestPushConfigIsSent(t *testing.T) {
	emoji := "👨‍👩‍👧‍👦中文🇯🇵👍🏽e\u0301"
	pc := protocol.PushConfig{
		Title:   fill("消息"+emoji, protocol.MaxPushTitleBytes),
		Content: fill(emoji+"晚上一起吃饭吗", protocol.MaxPushContentBytes),
		Payload: fill(`\"`, protocol.MaxPushPayloadBytes),
	}
	// An alert whose text APNs' encoder escapes to six times its size.
	escaped := protocol.PushConfig{
		Title:   fill("<", protocol.MaxPushTitleBytes),
		Content: fill("<<<<<<<<👍🏽", protocol.MaxPushContentBytes),
		Payload: pc.Payload,
	}
	tests := []struct {
		name, vendor         string
		pc                   protocol.PushConfig
		titleCut, contentCut bool
		payloadKept          bool
	}{
		{"apns", "apns", pc, false, false, false},
		{"apns escaped", "apns", escaped, false, true, false},
		{"fcm", "fcm", pc, false, false, false},
		{"huawei", "huawei", pc, false, false, false},
		// Xiaomi's payload limit (4096 bytes, unescaped) holds any valid
		// payload.
		{"xiaomi", "xiaomi", pc, true, true, true},
		{"oppo", "oppo", pc, true, true, false},
		{"vivo", "vivo", pc, true, true, false},
		{"honor", "honor", pc, false, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if protocol.ValidatePushConfig(&tt.pc) != nil {
				t.Fatalf("the push config does not pass validation: %v", protocol.ValidatePushConfig(&tt.pc))
			}
			s := testkit.Start(t, nil)
			reg, next := fitRigs[tt.vendor](t, s)
			goOffline(t, s, "bob", reg)
			sender := s.LoginAs(t, "alice", "server", "script")
			sender.SyncDone(wait)
			sendWithPush(t, sender, "bob", "m1", &tt.pc)
			ctx, cancel := context.WithTimeout(context.Background(), wait)
			defer cancel()
			got, err := next(ctx)
			if err != nil {
				var trace []string
				for _, j := range jobsFor(t, s, "bob") {
					trace = append(trace, string(j.Status)+": "+j.Reason)
				}
				t.Fatalf("no push reached the %s emulator: %v (trace %q)", tt.vendor, err, trace)
			}
			j := waitJob(t, s, "bob", push.JobDelivered)
			t.Logf("trace: %s", j.Reason)

			var want []string
			checkCut(t, "title", tt.pc.Title, got.Title, tt.titleCut)
			if tt.titleCut {
				want = append(want, "title")
			}
			checkCut(t, "content", tt.pc.Content, got.Content, tt.contentCut)
			if tt.contentCut {
				want = append(want, "content")
			}
			switch {
			case tt.payloadKept && got.Payload != tt.pc.Payload:
				t.Errorf("payload changed: %d bytes, want %d", len(got.Payload), len(tt.pc.Payload))
			case !tt.payloadKept && got.Payload != "":
				t.Errorf("payload of %d bytes kept, want it dropped", len(got.Payload))
			case !tt.payloadKept:
				want = append(want, "payload")
			}
			if flag := strings.Join(want, ","); got.Flag != flag {
				t.Errorf("%s = %q, want %q", push.TruncatedKey, got.Flag, flag)
			}
			if !strings.Contains(j.Reason, "cut to fit "+tt.vendor+"'s limits") || !strings.Contains(j.Reason, push.TruncatedKey+"="+got.Flag) {
				t.Errorf("trace %q does not say what was cut", j.Reason)
			}
		})
	}
}

// checkCut checks that got is orig, or (when cut) a prefix of orig that
// ends between two grapheme clusters, followed by the ellipsis.
func checkCut(t *testing.T, field, orig, got string, cut bool) {
	t.Helper()
	if !cut {
		if got != orig {
			t.Errorf("%s changed: %q", field, got)
		}
		return
	}
	prefix, ok := strings.CutSuffix(got, push.Ellipsis)
	if !ok || !strings.HasPrefix(orig, prefix) || len(prefix) == len(orig) {
		t.Fatalf("%s %q is not a cut of the original", field, got)
	}
	at, rest, state := 0, orig, -1
	for at < len(prefix) {
		var c string
		c, rest, _, state = uniseg.FirstGraphemeClusterInString(rest, state)
		at += len(c)
	}
	if at != len(prefix) {
		t.Fatalf("%s cut inside a grapheme cluster at byte %d: %q", field, len(prefix), got)
	}
}

// TestCallVivoRingUnderMinimumTTL: a call of 30 s to an offline vivo
// phone rings it: vivo refuses a timeToLive under 60 s, so the ring goes
// with 60 (the call's cancel push replaces it on the device), rather than
// never at all.
func TestCallVivoRingUnderMinimumTTL(t *testing.T) {
	s := testkit.Start(t, nil)
	em := startVivo(t, s)
	tok := em.RegisterDevice("10004")
	p, err := vivo.New(vivo.Config{AppID: "10004", AppKey: "vivo-key", AppSecret: "vivo-secret", BaseURL: em.URL(), RootCAs: em.CertPool()})
	if err != nil {
		t.Fatal(err)
	}
	s.Srv.Providers.Set(s.App.AppID, push.VendorVivo, push.Production, p)
	goOffline(t, s, "bob", protocol.PushRegistration{Vendor: "vivo", Token: tok, Environment: "production", BundleID: pkg})

	alice := callUser(t, s, "alice", "ios", "a1")
	rep := invite(t, alice, protocol.CallInviteRequest{Invitees: []string{"bob"}, Timeout: 30,
		PushConfig: &protocol.PushConfig{Title: "Alice", Content: "calling"}})
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	d, err := em.Next(ctx, tok)
	if err != nil {
		var trace []string
		for _, j := range jobsFor(t, s, "bob") {
			trace = append(trace, string(j.Status)+": "+j.Reason)
		}
		t.Fatalf("the ring never reached vivo: %v (trace %q)", err, trace)
	}
	if d.Message.TimeToLive != 60 || d.Message.ClientCustomMap[push.CallExtraKey] != rep.CallID {
		t.Fatalf("vivo ring %+v, want timeToLive 60 and the call ID", d.Message)
	}
}
