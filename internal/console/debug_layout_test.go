package console_test

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/chromedp"

	"github.com/heraldim/herald/internal/console/consoletest"
)

// The simulated phone's card goes above the test push form once the
// emulator view is loaded; the form is not shown before, so that the card
// arriving never moves it under a pointer aimed at its button (a click
// there landed on the payload and sent nothing). The browser holds the
// page's GET .../emulator until the test lets it go.
func TestDebugFormStaysPutWhileEmulatorViewLoads(t *testing.T) {
	c, _ := consoletest.StartEmulated(t, nil)
	app := c.Server.App
	c.SignIn(app.AppID, app.AdminKey)

	paused := holdRequests(t, c, "*/emulator")
	c.Go("debug", "Push debugging")
	held := nextHeld(t, paused, "the emulator view")

	// The view pending: the page says so and offers no form yet.
	shown := `document.querySelector('form[aria-label="Send a test push"]').checkVisibility()`
	if visible := evalBool(t, c, shown); visible {
		t.Fatal("the test push form is shown before the emulator view, where the phone's card will push it down")
	}
	c.WaitText(`[data-testid="debug-loading"]`, "Loading")

	// The view arrives: the card, then the form below it, where it stays.
	release(t, c, held)
	c.WaitText(`#debug-phone`, "Simulated phone")
	c.WaitJS(shown, "the test push form", "")
	if n := c.Count(`[data-testid="debug-loading"]`); n != 0 {
		t.Fatal("the page still says it is loading")
	}
	c.Type(`form[aria-label="Send a test push"] input[name="pushID"]`, "Pnosuchdevice")
	c.Click(`form[aria-label="Send a test push"] button[type="submit"]`)
	c.WaitText(`[data-testid="debug-result"] .error-box`, "40400")
}

// A second simulated phone shows no PushID until the server gave it its
// own: not the first phone's, in the meantime, beside the second's token
// (its "Use" would fill the form with the other phone's PushID). The
// browser holds the second phone's POST /push/devices.
func TestDebugSecondPhoneShowsItsOwnPushID(t *testing.T) {
	c, _ := consoletest.StartEmulated(t, nil)
	app := c.Server.App
	c.SignIn(app.AppID, app.AdminKey)
	c.Go("debug", "Push debugging")
	c.WaitText(`#debug-phone`, "Simulated phone")
	create := `form[aria-label="Create a simulated phone"] button[type="submit"]`
	c.Click(create)
	c.WaitJS(`!!document.querySelector('[data-testid="phone-pushid"]')`, "the first phone's PushID", "")
	first := c.Text(`[data-testid="phone-pushid"]`)

	paused := holdRequests(t, c, "*/push/devices")
	c.Click(create)
	held := nextHeld(t, paused, "the second phone's registration")
	c.WaitText(`[data-testid="phone-id"]`, "phone-2")
	if n := c.Count(`[data-testid="phone-pushid"]`); n != 0 {
		t.Fatalf("phone-2, not registered yet, shows PushID %q (phone-1's is %q)", c.Text(`[data-testid="phone-pushid"]`), first)
	}
	c.WaitText(`[data-testid="phone"]`, "registering")
	release(t, c, held)
	c.WaitJS(`!!document.querySelector('[data-testid="phone-pushid"]')`, "the second phone's PushID", "")
	second := c.Text(`[data-testid="phone-pushid"]`)
	dev, err := c.Server.Srv.PushDevice(t.Context(), app.AppID, second)
	if err != nil || second == first || dev.Token != c.Text(`[data-testid="phone-token"]`) {
		t.Fatalf("phone-2 shows PushID %q (phone-1's %q), its device %+v %v", second, first, dev, err)
	}
}

// holdRequests makes the browser hold every request of the page whose URL
// matches pattern (Fetch.enable) and returns the held requests' IDs.
func holdRequests(t *testing.T, c *consoletest.Console, pattern string) <-chan fetch.RequestID {
	t.Helper()
	paused := make(chan fetch.RequestID, 1)
	if err := chromedp.Listen(c.Ctx, func(ev any) {
		if e, ok := ev.(*fetch.EventRequestPaused); ok {
			select {
			case paused <- e.RequestID:
			default:
			}
		}
	}); err != nil {
		t.Fatalf("listen: %v", err)
	}
	ctx, cancel := context.WithTimeout(c.Ctx, consoletest.Timeout)
	defer cancel()
	if _, err := chromedp.Call(ctx, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{{URLPattern: pattern}}}); err != nil {
		t.Fatalf("hold requests to %s: %v", pattern, err)
	}
	return paused
}

// nextHeld waits for the page's next held request.
func nextHeld(t *testing.T, paused <-chan fetch.RequestID, what string) fetch.RequestID {
	t.Helper()
	select {
	case id := <-paused:
		return id
	case <-time.After(consoletest.Timeout):
		t.Fatalf("the page did not ask for %s", what)
		return ""
	}
}

// release lets the held request go on and stops holding requests.
func release(t *testing.T, c *consoletest.Console, id fetch.RequestID) {
	t.Helper()
	ctx, cancel := context.WithTimeout(c.Ctx, consoletest.Timeout)
	defer cancel()
	if _, err := chromedp.Call(ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: id}); err != nil {
		t.Fatalf("release the held request: %v", err)
	}
	if _, err := chromedp.Call(ctx, fetch.Disable, cdp.Empty{}); err != nil {
		t.Fatalf("stop holding requests: %v", err)
	}
}

func evalBool(t *testing.T, c *consoletest.Console, expr string) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(c.Ctx, consoletest.Timeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}
