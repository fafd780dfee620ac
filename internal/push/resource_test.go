package push

import (
	"errors"
	"strings"
	"testing"
)

func TestParseResourceSpec(t *testing.T) {
	good := `{"apns":{"sound":"call.caf","category":"CALL","pushType":"voip"},"fcm":{"channelID":"calls.v2","priority":"high","kind":"data"},"badge":true}`
	s, err := ParseResourceSpec([]byte(good))
	if err != nil || s.APNs.PushType != "voip" || s.FCM.ChannelID != "calls.v2" || !s.Badge {
		t.Fatalf("good: %+v %v", s, err)
	}
	if s, err := ParseResourceSpec([]byte(`{}`)); err != nil || s.APNs != nil || s.FCM != nil || s.Badge {
		t.Fatalf("empty: %+v %v", s, err)
	}
	for _, c := range []struct{ body, inMsg string }{
		{`{"vivo":{"channelID":"im"}}`, "vivo has no notification channels"},
		{`{"honor":{"channelID":"im"}}`, "honor.channelID"},
		{`{"oppo":{"kind":"data"}}`, "oppo has no pass-through"},
		{`{"xiaomi":{"kind":"data"}}`, "xiaomi has no pass-through"},
		{`{"huawei":{"category":"IM"}}`, "category"},
		{`{"huawei":{"channelID":"a b"}}`, "huawei.channelID"},
		{`{"huawei":{"kind":"voip"}}`, "want notification or data"},
		{`{"apns":{},"mystery":1}`, "mystery"},
		{`{"apns":{"pushType":"mdm"}}`, "mdm"},
		{`{"apns":{"sound":"a\u0001"}}`, "sound"},
		{`{"fcm":{"channelID":"é"}}`, "channelID"},
		{`{"fcm":{"channelID":"` + strings.Repeat("c", 65) + `"}}`, "channelID"},
		{`{"fcm":{"kind":"voip"}}`, "APNs only"},
		{`{"fcm":{"priority":5}}`, "priority"},
		{`{"fcm":{} }x`, "JSON"},
		{`null`, "object"},
	} {
		_, err := ParseResourceSpec([]byte(c.body))
		if !errors.Is(err, ErrInvalidResource) || !strings.Contains(err.Error(), c.inMsg) {
			t.Errorf("%s: %v, want ErrInvalidResource mentioning %q", c.body, err, c.inMsg)
		}
	}
}

func TestApplyResource(t *testing.T) {
	spec := ResourceSpec{APNs: &APNsOptions{Sound: "s.caf", Category: "C", PushType: "voip"},
		FCM: &FCMOptions{ChannelID: "ch", Priority: "normal", Kind: "data"}}
	ios := Device{Vendor: VendorAPNs, Token: "tok", VoIPToken: "voip"}
	n := Notification{Token: "tok", Kind: KindAlert, Priority: PriorityHigh}
	if note := applyResource(&n, ios, spec); note != "" || n.Kind != KindVoIP || n.Token != "voip" || n.Sound != "s.caf" || n.Category != "C" || n.ChannelID != "" {
		t.Fatalf("apns voip: %+v %q", n, note)
	}
	ios.VoIPToken = ""
	n = Notification{Token: "tok", Kind: KindAlert}
	if note := applyResource(&n, ios, spec); note == "" || n.Kind != KindAlert || n.Token != "tok" {
		t.Fatalf("apns without VoIP token: %+v %q", n, note)
	}
	n = Notification{Token: "tok", Kind: KindAlert, Priority: PriorityHigh}
	if note := applyResource(&n, Device{Vendor: VendorFCM}, spec); note != "" || n.Kind != KindData || n.Priority != PriorityNormal ||
		n.ChannelID != "ch" || n.Sound != "" {
		t.Fatalf("fcm: %+v", n)
	}
	n = Notification{Kind: KindAlert}
	if applyResource(&n, Device{Vendor: VendorHuawei}, spec); n.Kind != KindAlert || n.Sound != "" {
		t.Fatalf("huawei without options: %+v", n)
	}
	android, err := ParseResourceSpec([]byte(`{"huawei":{"channelID":"im","kind":"data"},"xiaomi":{"channelID":"mi_im"},"oppo":{"channelID":"oppo_im"},"vivo":{"kind":"notification"},"honor":{"kind":"data"}}`))
	if err != nil {
		t.Fatal(err)
	}
	for v, want := range map[Vendor]Notification{
		VendorHuawei: {Kind: KindData, ChannelID: "im"},
		VendorXiaomi: {Kind: KindAlert, ChannelID: "mi_im"},
		VendorOPPO:   {Kind: KindAlert, ChannelID: "oppo_im"},
		VendorVivo:   {Kind: KindAlert},
		VendorHonor:  {Kind: KindData},
	} {
		n := Notification{Kind: KindAlert}
		applyResource(&n, Device{Vendor: v}, android)
		if n.Kind != want.Kind || n.ChannelID != want.ChannelID {
			t.Errorf("%s: %+v, want kind %s channel %q", v, n, want.Kind, want.ChannelID)
		}
	}
}
