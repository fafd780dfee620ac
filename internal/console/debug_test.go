package console_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/heraldim/herald/internal/console/consoletest"
	"github.com/heraldim/herald/internal/protocol"
	"github.com/heraldim/herald/internal/testkit"
)

// registerPhone logs user in and registers the simulated phone's token
// as the app on the phone does at login (its push channel), returning the
// PushID the server gave it.
func registerPhone(t *testing.T, s *testkit.Server, user, vendor, token, env, bundle string) string {
	t.Helper()
	cl := s.LoginAs(t, user, "ios", "phone-"+user)
	cl.SyncDone(10 * time.Second)
	var r protocol.RegisterPushReply
	if err := cl.Call(protocol.TypeRegisterPush, protocol.PushRegistration{Vendor: vendor, Token: token,
		Environment: env, BundleID: bundle}, &r); err != nil {
		t.Fatalf("registerPush: %v", err)
	}
	return r.PushID
}

// Online push debugging against the emulators: a bad PushID is refused
// with its code; a simulated phone made on the page gets the PushID the
// server gives its token, a test push to it shows the vendor's answer,
// the request and the timing, and the phone's callbacks arrive live.
func TestDebugPushToSimulatedPhone(t *testing.T) {
	c, _ := consoletest.StartEmulated(t, nil)
	app := c.Server.App
	c.SignIn(app.AppID, app.AdminKey)
	c.Go("debug", "Push debugging")

	// An unknown PushID: the catalogue's 40400, focus on the result.
	c.Type(`form[aria-label="Send a test push"] input[name="pushID"]`, "Pnosuchdevice")
	c.Click(`form[aria-label="Send a test push"] button[type="submit"]`)
	c.WaitText(`[data-testid="debug-result"] .error-box`, "40400")
	c.WaitText(`[data-testid="debug-result"] .error-box`, "unknown PushID")
	c.WaitJS(`document.activeElement && document.activeElement.id === "debug-result"`, "the focus on the result", "")

	// A simulated APNs phone (debug build: the sandbox), foreground.
	c.WaitText(`#debug-phone`, "Simulated phone")
	c.Eval(`(() => { const s = document.querySelector('form[aria-label="Create a simulated phone"] select[name="state"]');
		s.value = "foreground"; s.dispatchEvent(new Event("change", {bubbles: true})); })()`)
	c.Click(`form[aria-label="Create a simulated phone"] button[type="submit"]`)
	c.WaitJS(`!!document.querySelector('[data-testid="phone-pushid"]')`, "the phone's PushID", "")
	token := c.Text(`[data-testid="phone-token"]`)
	shown := c.Text(`[data-testid="phone-pushid"]`)
	if token == "" || !strings.HasPrefix(shown, "D") {
		t.Fatalf("phone token %q PushID %q, want a token and a development PushID", token, shown)
	}
	// The page registered the phone as a device, unbound, and put its
	// PushID in the form; the app on the phone logging in as bob then
	// binds the same device.
	dev, err := c.Server.Srv.PushDevice(t.Context(), app.AppID, shown)
	if err != nil || dev.Token != token || dev.UserID != "" {
		t.Fatalf("the page's phone as a device: %+v %v", dev, err)
	}
	pushID := registerPhone(t, c.Server, "bob", "apns", token, "development", "im.herald.dev")
	if pushID != shown {
		t.Fatalf("the server gave the phone PushID %q, the page showed %q", pushID, shown)
	}
	c.WaitJS(`document.querySelector('form[aria-label="Send a test push"] input[name="pushID"]').value === `+consoletest.JS(pushID),
		"the phone's PushID in the form", "")

	// bob's devices list it too.
	c.Type(`form[aria-label="Find a user's devices"] input[name="userID"]`, "bob")
	c.Click(`form[aria-label="Find a user's devices"] button[type="submit"]`)
	c.WaitText(`#main table`, pushID)

	// Every text of the status line from now on (the phone's callbacks
	// and the push's answer may come in either order).
	c.Eval(`(() => { const el = document.querySelector('[role="status"]'); window.said = [];
		new MutationObserver(() => window.said.push(el.textContent)).observe(el, {childList: true, subtree: true, characterData: true}); })()`)
	c.Type(`form[aria-label="Send a test push"] textarea[name="payload"]`, `{"k":"v"}`)
	c.Click(`form[aria-label="Send a test push"] button[type="submit"]`)
	c.WaitText(`[data-testid="debug-outcome"]`, "delivered")
	c.WaitText(`[data-testid="debug-answer"]`, "apns (development)")
	c.WaitText(`[data-testid="debug-latency"]`, " ms")
	c.WaitText(`[data-testid="debug-request"]`, `"pushID": "`+pushID+`"`)
	c.WaitText(`[data-testid="debug-request"]`, `"payload": "{\"k\":\"v\"}"`)
	if n := c.Count(`[data-testid="debug-result"] .error-box`); n != 0 {
		t.Fatalf("a delivered push shows an error")
	}
	c.WaitText(`[data-testid="phone-events"] table`, "notificationArrived")
	c.WaitText(`[data-testid="phone-events"] table`, "Hello from the Herald console")
	c.WaitJS(`window.said.some((t) => t.includes("Phone phone-1: notificationArrived"))`, "the callback announced", "")
	c.WaitJS(`window.said.some((t) => t.includes("Test push: delivered"))`, "the answer announced", "")
	c.Screenshot("debug")

	c.Narrow(true)
	c.WaitJS(`document.documentElement.scrollWidth <= window.innerWidth`, "no sideways scroll of the page at 360 px", "")
	c.Screenshot("debug-narrow")
	c.Narrow(false)
}

// eventPolls counts the phones API's event long-polls: started, and
// in flight (a poll ends when its browser request is aborted).
type eventPolls struct {
	mu       sync.Mutex
	started  int
	inFlight int
}

func (e *eventPolls) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/events") {
			h.ServeHTTP(w, r)
			return
		}
		e.mu.Lock()
		e.started++
		e.inFlight++
		e.mu.Unlock()
		defer func() {
			e.mu.Lock()
			e.inFlight--
			e.mu.Unlock()
		}()
		h.ServeHTTP(w, r)
	})
}

func (e *eventPolls) get() (started, inFlight int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.started, e.inFlight
}

// Leaving the page stops the phone's long-poll: the request in flight is
// aborted and none follows; coming back resumes it for the same phone.
func TestDebugStopsPollingOnLeave(t *testing.T) {
	c, emus := consoletest.StartEmulated(t, nil)
	polls := &eventPolls{}
	c.Server.Srv.SetEmulatedPhones(c.Server.App.AppID, polls.wrap(emus.Phones.Handler()))
	app := c.Server.App
	c.SignIn(app.AppID, app.AdminKey)
	c.Go("debug", "Push debugging")
	c.WaitText(`#debug-phone`, "Simulated phone")
	c.Click(`form[aria-label="Create a simulated phone"] button[type="submit"]`)
	c.WaitText(`[data-testid="phone-events"] table`, "None yet")
	waitPolls(t, polls, func(started, inFlight int) bool { return started >= 1 && inFlight == 1 }, "a long-poll in flight")

	c.Go("overview", "Overview")
	waitPolls(t, polls, func(_, inFlight int) bool { return inFlight == 0 }, "the long-poll aborted")
	started, _ := polls.get()
	// A round trip of the page (an overview poll seen) later, no new poll.
	c.WaitText(`[data-testid="ov-updated"]`, "Updated")
	if s, n := polls.get(); s != started || n != 0 {
		t.Fatalf("after leaving the page: %d polls started (was %d), %d in flight", s, started, n)
	}

	c.Go("debug", "Push debugging")
	c.WaitText(`[data-testid="phone-id"]`, "phone-")
	waitPolls(t, polls, func(s, inFlight int) bool { return s > started && inFlight == 1 }, "the long-poll resumed")

	// Removing the phone forgets it and ends its poll.
	id := c.Text(`[data-testid="phone-id"]`)
	// By the keyboard (the status line may cover the button's place).
	c.Run(chromedp.Focus(chromedp.CSS(`button[aria-label="Remove phone ` + id + `"]`)))
	c.Key(kb.Enter)
	c.WaitJS(`!document.querySelector('[data-testid="phone-id"]')`, "the phone gone (the section holds %q)", "#debug-phone")
	c.WaitText(`[role="status"]`, "Phone "+id+" removed")
	waitPolls(t, polls, func(_, inFlight int) bool { return inFlight == 0 }, "the removed phone's poll ended")
	if n := c.Count(`[data-testid="phone-id"]`); n != 0 {
		t.Fatal("the removed phone is still shown")
	}
}

// Without --emulate the page says how to get simulated phones and offers
// none; the test push form works alone.
func TestDebugWithoutEmulators(t *testing.T) {
	c := consoletest.Start(t, nil)
	c.SignIn(c.Server.App.AppID, c.Server.App.AdminKey)
	c.Go("debug", "Push debugging")
	c.WaitText(`[data-testid="not-emulating"]`, "herald serve --emulate")
	if n := c.Count(`#debug-phone`); n != 0 {
		t.Fatal("a simulated phone offered without the emulators")
	}
	c.Type(`form[aria-label="Send a test push"] input[name="pushID"]`, "Dnosuchdevice")
	c.Click(`form[aria-label="Send a test push"] button[type="submit"]`)
	c.WaitText(`[data-testid="debug-result"] .error-box`, "40400")

	// A real device of a vendor the app has no credential for: its code.
	pushID := registerPhone(t, c.Server, "dave", "apns", strings.Repeat("ab", 32), "production", "im.herald.dev")
	c.Eval(`(() => { const i = document.querySelector('form[aria-label="Send a test push"] input[name="pushID"]');
		i.value = ""; i.dispatchEvent(new Event("input", {bubbles: true})); })()`)
	c.Type(`form[aria-label="Send a test push"] input[name="pushID"]`, pushID)
	c.Click(`form[aria-label="Send a test push"] button[type="submit"]`)
	c.WaitText(`[data-testid="debug-result"] .error-box`, fmt.Sprint(int(protocol.CodeVendorNotConfigured)))
	c.WaitText(`[data-testid="debug-result"] .error-box`, "no apns credential")
	c.WaitText(`[data-testid="debug-request"]`, pushID)
}

// waitPolls waits until ok holds of the polls' counts.
func waitPolls(t *testing.T, p *eventPolls, ok func(started, inFlight int) bool, what string) {
	t.Helper()
	deadline := time.Now().Add(consoletest.Timeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if ok(p.get()) {
			return
		}
		if time.Now().After(deadline) {
			s, n := p.get()
			t.Fatalf("waiting for %s: %d started, %d in flight", what, s, n)
		}
		<-tick.C
	}
}
