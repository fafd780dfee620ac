package console_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp/kb"

	"github.com/heraldim/herald/internal/config"
	"github.com/heraldim/herald/internal/console/consoletest"
	apnsemu "github.com/heraldim/herald/internal/emulator/apns"
	"github.com/heraldim/herald/internal/protocol"
	"github.com/heraldim/herald/internal/push"
	"github.com/heraldim/herald/internal/push/apns"
	"github.com/heraldim/herald/internal/testkit"
)

// phoneBundle is the iOS app of the users and trace tests' phones.
const phoneBundle = "com.example.chat"

// phones is a server with an APNs emulator installed as the dev app's
// provider (both environments), where the tests log users in with
// devices: the users and trace pages' fixture.
type phones struct {
	t  *testing.T
	s  *testkit.Server
	em *apnsemu.Emulator
}

func startPhones(t *testing.T, s *testkit.Server) *phones {
	t.Helper()
	em, err := apnsemu.New(apnsemu.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := em.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { em.Close() })
	em.AddApp("TEAM123456", phoneBundle)
	key, err := em.NewKey("TEAM123456", "KEY1234567")
	if err != nil {
		t.Fatal(err)
	}
	p, err := apns.New(apns.Config{
		ProductionURL: em.URL(apnsemu.Production), DevelopmentURL: em.URL(apnsemu.Development),
		KeyPEM: key, KeyID: "KEY1234567", TeamID: "TEAM123456", RootCAs: em.CertPool(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	s.Srv.Providers.Set(s.App.AppID, push.VendorAPNs, push.Development, p)
	s.Srv.Providers.Set(s.App.AppID, push.VendorAPNs, push.Production, p)
	return &phones{t: t, s: s, em: em}
}

// login logs user in from an iPhone (deviceID "phone-<user>-<n>")
// registered on the emulator, and returns the session and its PushID.
func (p *phones) login(user string, n int) (*testkit.Client, string) {
	p.t.Helper()
	tok := p.em.RegisterDevice(phoneBundle, apnsemu.Development, false)
	c := testkit.Dial(p.t, p.s.URL)
	var r protocol.LoginReply
	if err := c.Call(protocol.TypeLogin, protocol.LoginRequest{AppID: p.s.App.AppID, UserID: user,
		Token: p.s.Token(p.t, user, time.Hour), Platform: "ios", DeviceID: fmt.Sprintf("phone-%s-%d", user, n),
		Push: &protocol.PushRegistration{Vendor: "apns", Token: tok, Environment: "development", BundleID: phoneBundle}}, &r); err != nil {
		p.t.Fatalf("login %s: %v", user, err)
	}
	if r.PushID == "" {
		p.t.Fatalf("login %s: no PushID", user)
	}
	c.SyncDone(consoletest.Timeout)
	return c, r.PushID
}

// offline closes c (as a killed app's connection ends) and waits until
// user has no live session.
func (p *phones) offline(c *testkit.Client, user string) {
	p.t.Helper()
	c.Close()
	p.until(fmt.Sprintf("%s offline", user), func() bool { return !p.s.Online(user) })
}

// until waits for cond, checked every 10 ms, failing the test after
// consoletest.Timeout.
func (p *phones) until(what string, cond func() bool) {
	p.t.Helper()
	deadline := time.Now().Add(consoletest.Timeout)
	for !cond() {
		if time.Now().After(deadline) {
			p.t.Fatalf("waiting for %s: timed out", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// device returns the device of pushID (ok false when not registered).
func (p *phones) device(pushID string) (push.Device, bool) {
	p.t.Helper()
	d, err := p.s.Srv.PushDevice(context.Background(), p.s.App.AppID, pushID)
	return d, err == nil
}

// The users page: a user found by ID shows its profile, its live sessions
// and its devices, with links to their trace and debugging; unbinding a
// device (confirmed) releases it, unregistering one (confirmed) removes
// it, cancelling changes nothing, kicking closes the sessions; an unknown
// user says so.
func TestUsersPage(t *testing.T) {
	// Two iPhones of bob's online at once.
	c := consoletest.Start(t, func(cfg *config.Config) { cfg.MultiLogin = "multi" })
	ph := startPhones(t, c.Server)
	bob1, phone1 := ph.login("bob", 1)
	_, phone2 := ph.login("bob", 2)
	defer bob1.Close()

	c.SignIn(c.Server.App.AppID, c.Server.App.AdminKey)
	c.Go("users", "Users")
	c.Type(`form[aria-label="Find a user"] input[name="userID"]`, "bob")
	c.Click(`form[aria-label="Find a user"] button[type="submit"]`)
	c.WaitText(`#users-result`, "User bob")
	c.WaitJS(`document.activeElement && document.activeElement.id === "users-result"`, "the focus on the result's heading", "")
	c.WaitText(`[data-testid="user-state"]`, "online (2 sessions)")
	c.WaitText(`.users-result table`, "phone-bob-1")
	devices := `.users-result .table-wrap[aria-label^="Devices bound to bob"]`
	c.WaitText(devices, phone1)
	c.WaitText(devices, phone2)
	c.WaitText(`[role="status"]`, "User bob: online, 2 devices")
	if n := c.Count(fmt.Sprintf(`a[href="#/trace?pushID=%s"]`, phone1)); n != 1 {
		t.Fatalf("%d links to the trace of %s, want 1", n, phone1)
	}
	if n := c.Count(fmt.Sprintf(`a[href="#/debug?pushID=%s"]`, phone1)); n != 1 {
		t.Fatalf("%d links to the debugging of %s, want 1", n, phone1)
	}
	if got := c.Text(`.users-result .table-wrap[aria-label^="Live sessions"] caption`); got != "Live sessions (2)" {
		t.Fatalf("sessions caption %q", got)
	}
	c.Screenshot("users")

	// Cancelled: nothing changes.
	c.Click(fmt.Sprintf(`button[aria-label="Unbind device %s"]`, phone1))
	c.WaitText(`.confirm`, "Unbind device "+phone1+" from bob?")
	c.WaitJS(`document.activeElement && document.activeElement.classList.contains("confirm")`, "the focus on the confirmation", "")
	c.Click(`.confirm button:not([data-testid="confirm"])`)
	c.WaitJS(`!document.querySelector(".confirm")`, "the confirmation gone", "")
	c.WaitJS(`document.activeElement && document.activeElement.id === "users-result"`, "the focus back on the result", "")
	// And with the keyboard: Escape.
	c.Click(fmt.Sprintf(`button[aria-label="Unregister device %s"]`, phone1))
	c.WaitJS(`document.activeElement && document.activeElement.classList.contains("confirm")`, "the focus on the confirmation", "")
	c.Key(kb.Escape)
	c.WaitJS(`!document.querySelector(".confirm")`, "the confirmation gone on Escape", "")
	if d, ok := ph.device(phone1); !ok || d.UserID != "bob" {
		t.Fatalf("a cancelled action changed %s: %+v", phone1, d)
	}

	// Unbind: the device stays registered, bound to nobody.
	c.Click(fmt.Sprintf(`button[aria-label="Unbind device %s"]`, phone1))
	c.Click(`.confirm [data-testid="confirm"]`)
	c.WaitText(`[data-testid="users-done"]`, "Device "+phone1+" unbound from bob")
	c.WaitJS(fmt.Sprintf(`!document.querySelector(%s).textContent.includes(%s)`, consoletest.JS(devices), consoletest.JS(phone1)), "the unbound device gone from bob's", "")
	if d, ok := ph.device(phone1); !ok || d.UserID != "" {
		t.Fatalf("unbound %s: registered %v, bound to %q", phone1, ok, d.UserID)
	}

	// Unregister: the device is gone.
	c.Click(fmt.Sprintf(`button[aria-label="Unregister device %s"]`, phone2))
	c.WaitText(`.confirm`, "Unregister device "+phone2+"?")
	c.Click(`.confirm [data-testid="confirm"]`)
	c.WaitText(`[data-testid="users-done"]`, "Device "+phone2+" unregistered")
	c.WaitText(devices, "No device bound.")
	if _, ok := ph.device(phone2); ok {
		t.Fatalf("unregistered %s is still registered", phone2)
	}

	// Kick: both sessions closed, the page shows bob offline.
	c.Click(`button[aria-label="Kick user bob"]`)
	c.WaitText(`.confirm`, "Kick user bob?")
	c.Click(`.confirm [data-testid="confirm"]`)
	c.WaitText(`[data-testid="users-done"]`, "User bob kicked: 2 sessions closed")
	ph.until("bob offline", func() bool { return !c.Server.Online("bob") })
	c.WaitText(`[data-testid="user-state"]`, "offline")

	// An unknown user; the route carries the user so other pages link here.
	c.Go("users?user=nobody", "Users")
	c.WaitText(`[data-testid="user-not-found"]`, "The app has no user nobody")
	if v := c.Text(`#users-result`); v != "User ID nobody" {
		t.Fatalf("result heading %q", v)
	}

	// A bad user ID: the API's code is shown.
	c.Go("users?user=a%3Ab", "Users")
	c.WaitText(`.users-result .error-box`, fmt.Sprint(protocol.CodeInvalidUserID))
}

// At 360 px the users page does not overflow sideways: its tables scroll
// in their own box.
func TestUsersPageNarrow(t *testing.T) {
	c := consoletest.Start(t, nil)
	ph := startPhones(t, c.Server)
	bob, _ := ph.login("bob", 1)
	defer bob.Close()
	c.SignIn(c.Server.App.AppID, c.Server.App.AdminKey)
	c.Narrow(true)
	c.Go("users?user=bob", "Users")
	c.WaitText(`[data-testid="user-state"]`, "online")
	c.WaitJS(`document.documentElement.scrollWidth <= window.innerWidth`, "no sideways overflow at 360 px", "")
	c.Screenshot("users-narrow")
}
