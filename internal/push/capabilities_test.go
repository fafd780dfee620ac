package push

import "testing"

func TestCapabilityTable(t *testing.T) {
	const perm = PermissionHuaweiHighPriorityPassThrough
	fg, bg, k := StateForeground, StateBackground, StateKilled
	tests := []struct {
		v       Vendor
		s       AppState
		shown   bool
		arrived bool
		through bool
		needs   string
	}{
		// Apple: notificationArrived always; never throughMessageReceived.
		{VendorAPNs, fg, false, true, false, ""},
		{VendorAPNs, bg, true, true, false, ""},
		{VendorAPNs, k, true, true, false, ""},
		// Xiaomi: notificationArrived in foreground or background only.
		{VendorXiaomi, fg, true, true, false, ""},
		{VendorXiaomi, bg, true, true, false, ""},
		{VendorXiaomi, k, true, false, false, ""},
		// Huawei: throughMessageReceived with the special permission.
		{VendorHuawei, fg, true, false, true, perm},
		{VendorHuawei, bg, true, false, true, perm},
		{VendorHuawei, k, true, false, true, perm},
		// Google: throughMessageReceived in foreground or background only.
		{VendorFCM, fg, false, false, true, ""},
		{VendorFCM, bg, true, false, true, ""},
		{VendorFCM, k, true, false, false, ""},
		// OPPO and vivo: neither.
		{VendorOPPO, fg, true, false, false, ""},
		{VendorOPPO, bg, true, false, false, ""},
		{VendorOPPO, k, true, false, false, ""},
		{VendorVivo, fg, true, false, false, ""},
		{VendorVivo, bg, true, false, false, ""},
		{VendorVivo, k, true, false, false, ""},
		// HarmonyOS NEXT (not in the seed; Huawei's Push Kit pages): shown
		// always, background messages handed over in the foreground only.
		{VendorHarmony, fg, true, false, true, ""},
		{VendorHarmony, bg, true, false, false, ""},
		{VendorHarmony, k, true, false, false, ""},
		// Honor (not in the seed): pass-through while the app runs.
		{VendorHonor, fg, true, false, true, ""},
		{VendorHonor, bg, true, false, true, ""},
		{VendorHonor, k, true, false, false, ""},
		// Web Push: the service worker shows every push and tells the
		// open pages (none when "killed").
		{VendorWebPush, fg, true, true, false, ""},
		{VendorWebPush, bg, true, true, false, ""},
		{VendorWebPush, k, true, false, false, ""},
	}
	seen := map[Vendor]int{}
	for _, tt := range tests {
		t.Run(string(tt.v)+"/"+string(tt.s), func(t *testing.T) {
			c, err := CapabilityOf(tt.v, tt.s)
			if err != nil {
				t.Fatal(err)
			}
			want := Capability{Displayed: tt.shown, NotificationArrived: tt.arrived, ThroughMessageReceived: tt.through, ThroughMessageNeedsPermission: tt.needs}
			if c != want {
				t.Errorf("got %+v, want %+v", c, want)
			}
		})
		seen[tt.v]++
	}
	for _, v := range Vendors {
		if seen[v] != len(AppStates) {
			t.Errorf("vendor %s: %d states tested", v, seen[v])
		}
	}
	if len(capabilities) != len(Vendors) || len(Vendors) != len(vendors) {
		t.Errorf("table has %d vendors, Vendors %d, registry %d", len(capabilities), len(Vendors), len(vendors))
	}
}

func TestCapabilityErrors(t *testing.T) {
	if _, err := CapabilityOf("nokia", StateKilled); err == nil {
		t.Error("unknown vendor accepted")
	}
	if _, err := CapabilityOf(VendorAPNs, "asleep"); err == nil {
		t.Error("unknown state accepted")
	}
	if _, err := ParseAppState("asleep"); err == nil {
		t.Error("ParseAppState accepted asleep")
	}
	if s, err := ParseAppState("killed"); err != nil || s != StateKilled {
		t.Errorf("ParseAppState(killed) = %q, %v", s, err)
	}
}

func TestPassThrough(t *testing.T) {
	for v, want := range map[Vendor]bool{
		VendorAPNs: true, VendorFCM: true, VendorHuawei: true,
		VendorXiaomi: false, VendorOPPO: false, VendorVivo: false,
		VendorHarmony: true,
		VendorHonor:   true,
	} {
		if got := PassThrough(v); got != want {
			t.Errorf("PassThrough(%s) = %v, want %v", v, got, want)
		}
	}
}
