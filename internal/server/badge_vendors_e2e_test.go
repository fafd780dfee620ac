package server_test

import (
	"fmt"
	"testing"

	"github.com/heraldim/herald/internal/protocol"
	"github.com/heraldim/herald/internal/testkit"
)

// TestBadgeReachesNewVendors: enableBadge's number (the unread count
// without the pushed message, plus badgeIncrement) reaches the icon of a
// HarmonyOS NEXT phone (notification.badge.setNum), of an Honor phone
// whose credential names the launcher Activity (android.notification.
// badge.setNum with badgeClass), and of a browser (the message's badge,
// which the service worker sets with navigator.setAppBadge); the
// emulators check the fields and replay them on the device. An Honor
// credential without badgeClass sends no badge (Honor refuses one
// without it), and a push without enableBadge leaves the icon as it was.
func TestBadgeReachesNewVendors(t *testing.T) {
	type device struct {
		// badge is what the icon shows, and whether anything set it;
		// shown the number of notifications shown.
		badge func() (int, bool)
		shown func() int
	}
	cases := []struct {
		name  string
		setup func(t *testing.T, s *testkit.Server) device
		// none: the vendor gets no badge with this credential.
		none bool
	}{
		{"harmony", func(t *testing.T, s *testkit.Server) device {
			em, sa := startHarmony(t, s)
			mustAdmin(t, s, 200, "PUT", "/push/credentials/harmony", map[string]any{"serviceAccountJSON": string(sa), "baseURL": em.URL(), "caPEM": string(em.CACertPEM())})
			tok := em.RegisterDevice(harmonyProject)
			goOffline(t, s, "bob", protocol.PushRegistration{Vendor: "harmony", Token: tok, Environment: "production", BundleID: pkg})
			return device{func() (int, bool) { return em.Badge(tok) }, func() int { return len(em.Tray(tok)) }}
		}, false},
		{"honor", func(t *testing.T, s *testkit.Server) device {
			em := startHonor(t, s)
			cred := honorCredential(em)
			cred["badgeClass"] = "com.example.chat.MainActivity"
			if b := mustAdmin(t, s, 200, "PUT", "/push/credentials/honor", cred); b["badgeClass"] != cred["badgeClass"] {
				t.Fatalf("credential view %v", b)
			}
			tok := em.RegisterDevice(honorApp.AppID)
			goOffline(t, s, "bob", protocol.PushRegistration{Vendor: "honor", Token: tok, Environment: "production", BundleID: pkg})
			return device{func() (int, bool) { return em.Badge(tok) }, func() int { return len(em.Tray(tok)) }}
		}, false},
		{"honor without badgeClass", func(t *testing.T, s *testkit.Server) device {
			em := startHonor(t, s)
			mustAdmin(t, s, 200, "PUT", "/push/credentials/honor", honorCredential(em))
			tok := em.RegisterDevice(honorApp.AppID)
			goOffline(t, s, "bob", protocol.PushRegistration{Vendor: "honor", Token: tok, Environment: "production", BundleID: pkg})
			return device{func() (int, bool) { return em.Badge(tok) }, func() int { return len(em.Tray(tok)) }}
		}, true},
		{"webpush", func(t *testing.T, s *testkit.Server) device {
			b := webPushBrowser(t, s, "bob")
			return device{b.Badge, func() int { return len(b.Tray()) }}
		}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := testkit.Start(t, nil)
			dev := c.setup(t, s)
			carol, alice := member(t, s, "carol"), member(t, s, "alice")
			for i := range 2 { // unread, without a push
				if _, err := carol.SendText("bob", fmt.Sprint("c", i), "from carol"); err != nil {
					t.Fatal(err)
				}
			}
			// carol's 2 + this message (increment 1).
			sendWithPush(t, alice, "bob", "a1", &protocol.PushConfig{Title: "Alice", Content: "one", EnableBadge: true, BadgeIncrement: 1})
			waitFor(t, "the first notification", func() bool { return dev.shown() == 1 })
			if n, set := dev.badge(); c.none && set || !c.none && (!set || n != 3) {
				t.Fatalf("badge %d (set %v) after the first push, want 3", n, set)
			}
			// 3 unread now without this message, increment 2.
			sendWithPush(t, alice, "bob", "a2", &protocol.PushConfig{Title: "Alice", Content: "two", EnableBadge: true, BadgeIncrement: 2})
			waitFor(t, "the second notification", func() bool { return dev.shown() == 2 })
			if n, set := dev.badge(); c.none && set || !c.none && (!set || n != 5) {
				t.Fatalf("badge %d (set %v) after the second push, want 5", n, set)
			}
			// No enableBadge: the icon keeps its number.
			sendWithPush(t, alice, "bob", "a3", &protocol.PushConfig{Title: "Alice", Content: "three"})
			waitFor(t, "the third notification", func() bool { return dev.shown() == 3 })
			if n, set := dev.badge(); c.none && set || !c.none && (!set || n != 5) {
				t.Fatalf("badge %d (set %v) after a push without enableBadge, want 5 kept", n, set)
			}
		})
	}
}
