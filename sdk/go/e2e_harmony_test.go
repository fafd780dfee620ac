package herald

import (
	"testing"

	"github.com/heraldim/herald/internal/push"
	"github.com/heraldim/herald/internal/testkit"
)

// TestE2EHarmonyRegistration: a HarmonyOS NEXT phone (platform harmonyos,
// vendor harmony) is registered and bound at login with the PushID of its
// token.
func TestE2EHarmonyRegistration(t *testing.T) {
	srv := testkit.Start(t, nil)
	reg := PushRegistration{Vendor: "harmony", Token: "MAMzLgHarmonyTokenForTheGoSDKTest0123456789", BundleID: "com.example.chat"}
	bob, _ := newE2EClient(t, srv, "phone", func(c *Config) { c.Platform = "harmonyos"; c.Push = &reg })
	e2eLogin(t, srv, bob, "bob")
	want := push.NewPushID(srv.App.AppID, push.VendorHarmony, push.Production, reg.Token)
	if bob.PushID() != want {
		t.Fatalf("PushID after login %q, want %q", bob.PushID(), want)
	}
	if user, on := boundTo(t, srv, want); user != "bob" || !on {
		t.Fatalf("the HarmonyOS device is bound to %q (pushes on: %v)", user, on)
	}
}
