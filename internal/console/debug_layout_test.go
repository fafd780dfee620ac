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
	if _, err := chromedp.Call(ctx, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{{URLPattern: "*/emulator"}}}); err != nil {
		t.Fatalf("hold the emulator view: %v", err)
	}
	c.Go("debug", "Push debugging")
	var held fetch.RequestID
	select {
	case held = <-paused:
	case <-time.After(consoletest.Timeout):
		t.Fatal("the page asked for no emulator view")
	}

	// The view pending: the page says so and offers no form yet.
	shown := `document.querySelector('form[aria-label="Send a test push"]').checkVisibility()`
	if visible := evalBool(t, c, shown); visible {
		t.Fatal("the test push form is shown before the emulator view, where the phone's card will push it down")
	}
	c.WaitText(`[data-testid="debug-loading"]`, "Loading")

	// The view arrives: the card, then the form below it, where it stays.
	if _, err := chromedp.Call(ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: held}); err != nil {
		t.Fatalf("release the emulator view: %v", err)
	}
	if _, err := chromedp.Call(ctx, fetch.Disable, cdp.Empty{}); err != nil {
		t.Fatalf("stop holding requests: %v", err)
	}
	c.WaitText(`#debug-phone`, "Simulated phone")
	c.WaitJS(shown, "the test push form", "")
	if n := c.Count(`[data-testid="debug-loading"]`); n != 0 {
		t.Fatal("the page still says it is loading")
	}
	c.Type(`form[aria-label="Send a test push"] input[name="pushID"]`, "Pnosuchdevice")
	c.Click(`form[aria-label="Send a test push"] button[type="submit"]`)
	c.WaitText(`[data-testid="debug-result"] .error-box`, "40400")
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
