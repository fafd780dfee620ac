// Package consoletest holds the fixtures of the web console's browser
// tests: a real in-process server (testkit), a headless Chromium driven
// with chromedp on its /console/, and steps written once (sign in, wait
// for a text, take a screenshot).
//
// The tests need a Chromium binary: /usr/bin/chromium (Debian's package)
// or the one $HERALD_CHROMIUM names. Without one they skip with a message
// saying so; CI installs the package. No browser is ever downloaded.
//
// Every console a test opens is watched: a request to another origin (the
// console must make none), an uncaught script exception or a console
// error other than a failed API call fails the test when it ends.
package consoletest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/heraldim/herald/internal/config"
	"github.com/heraldim/herald/internal/testkit"
)

// Timeout bounds one step (Run, WaitText, SignIn...): 20 s, far above
// what a step takes on a loaded CI machine, so that a broken page fails
// the test rather than hanging it.
const Timeout = 20 * time.Second

// Chromium returns the Chromium binary the tests drive: $HERALD_CHROMIUM
// when set, else /usr/bin/chromium. Without one the test is skipped.
func Chromium(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("HERALD_CHROMIUM"); p != "" {
		if _, err := exec.LookPath(p); err != nil {
			t.Skipf("HERALD_CHROMIUM=%s is not an executable (%v): browser test skipped", p, err)
		}
		return p
	}
	const debian = "/usr/bin/chromium"
	if _, err := os.Stat(debian); err != nil {
		t.Skipf("no Chromium at %s and HERALD_CHROMIUM unset: browser test skipped (apt-get install chromium)", debian)
	}
	return debian
}

// Console is a headless browser tab on a running server's console.
type Console struct {
	T      testing.TB
	Server *testkit.Server
	// URL is the console's address: http://127.0.0.1:port/console/.
	URL string
	// Ctx is the tab's chromedp context; Run derives a bounded one.
	Ctx context.Context

	mu       sync.Mutex
	problems []string
	requests int
}

// Requests returns how many requests the page made (all to its origin, or
// the test fails).
func (c *Console) Requests() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.requests
}

// Key sends a key to the focused element, as the keyboard does: kb.Tab,
// kb.Enter, "a".
func (c *Console) Key(key string) {
	c.T.Helper()
	c.Run(chromedp.KeyEvent(key))
}

// Start starts a server (testkit.Start with mod) and opens a browser on
// its console. Skipped without Chromium (checked first, so nothing is
// started in vain).
func Start(t testing.TB, mod func(*config.Config)) *Console {
	t.Helper()
	Chromium(t)
	return Open(t, testkit.Start(t, mod))
}

// Open opens a headless browser on srv's console (for a server started
// with testkit.StartBefore, or with --emulate's providers installed). The
// page is not loaded yet: Load or SignIn load it.
func Open(t testing.TB, srv *testkit.Server) *Console {
	t.Helper()
	exe := Chromium(t)
	opts := append([]chromedp.ExecAllocatorOption{}, chromedp.DefaultExecAllocatorOptions[:]...)
	opts = append(opts,
		chromedp.ExecPath(exe),
		chromedp.NoSandbox, // tests run as root in CI
		chromedp.DisableGPU,
		chromedp.WindowSize(1280, 900),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-domain-reliability", true),
		chromedp.Flag("no-pings", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	c := &Console{T: t, Server: srv, URL: srv.HTTP + "/console/", Ctx: ctx}
	origin, _ := url.Parse(srv.HTTP)
	listen := func(ev any) {
		switch e := ev.(type) {
		case *network.EventRequestWillBeSent:
			c.mu.Lock()
			c.requests++
			c.mu.Unlock()
			u, err := url.Parse(e.Request.URL)
			if err != nil || (u.Scheme != "data" && u.Host != origin.Host) {
				c.problem("request to another origin: %s", e.Request.URL)
			}
		case *runtime.EventExceptionThrown:
			c.problem("uncaught exception: %s", exceptionText(e.ExceptionDetails))
		case *cdplog.EventEntryAdded:
			// A refused API call is logged by the browser as a failed
			// resource (source network); the page shows it, that is
			// what the tests check.
			if e.Entry.Level == cdplog.EntryLevelError && e.Entry.Source != cdplog.EntrySourceNetwork {
				c.problem("browser console %s error: %s", e.Entry.Source, e.Entry.Text)
			}
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError {
				c.problem("console.error from the page")
			}
		}
	}
	// The first call starts the browser: with no timeout, which would
	// stop the whole browser when it ends (chromedp.Run's rule).
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		acancel()
		t.Fatalf("start chromium (%s): %v", exe, err)
	}
	if err := chromedp.Listen(ctx, listen); err != nil {
		cancel()
		acancel()
		t.Fatalf("listen to chromium's events: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		acancel()
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, p := range c.problems {
			t.Errorf("console page: %s", p)
		}
	})
	return c
}

func (c *Console) problem(format string, args ...any) {
	c.mu.Lock()
	c.problems = append(c.problems, fmt.Sprintf(format, args...))
	c.mu.Unlock()
}

// Run runs chromedp actions in the tab, each call bounded by Timeout; an
// error fails the test.
func (c *Console) Run(actions ...chromedp.Action[chromedp.Void]) {
	c.T.Helper()
	ctx, cancel := context.WithTimeout(c.Ctx, Timeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		c.T.Fatalf("browser: %v", err)
	}
}

// Load loads the console at route ("" for the start, "users",
// "trace?message=m1") and waits for the page's heading. It is a real load
// (as a reload is) even when the tab is on the console already, where a
// navigation that changes the hash alone would not reload the page.
func (c *Console) Load(route string) {
	c.T.Helper()
	u := c.URL
	if route != "" {
		u += "#/" + route
	}
	ctx, cancel := context.WithTimeout(c.Ctx, Timeout)
	defer cancel()
	href, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href`))
	if err != nil {
		c.T.Fatalf("browser: %v", err)
	}
	if strings.HasPrefix(href, c.URL) {
		c.Run(chromedp.Evaluate[chromedp.Void](fmt.Sprintf("history.replaceState(null, '', %s)", JS(u))), chromedp.Reload())
	} else {
		c.Run(chromedp.Navigate(u))
	}
	c.Run(chromedp.WaitVisible(chromedp.CSS("h1")))
}

// Go moves to a route of the loaded console (as a nav link does) and
// waits for the page's heading to read title.
func (c *Console) Go(route, title string) {
	c.T.Helper()
	c.Eval(fmt.Sprintf("location.hash = %s", JS("#/"+route)))
	c.WaitText("main h1", title)
}

// SignIn loads the console, signs in with an app's ID and admin key and
// waits for the nav of the app's pages.
func (c *Console) SignIn(appID, key string) {
	c.T.Helper()
	c.fillSignIn("app", appID, key)
	c.Run(chromedp.WaitVisible(chromedp.CSS("nav.nav")))
}

// SignInOperator loads the console, signs in with the operator key and
// waits for the nav of the operator's pages.
func (c *Console) SignInOperator(key string) {
	c.T.Helper()
	c.fillSignIn("operator", "", key)
	c.Run(chromedp.WaitVisible(chromedp.CSS("nav.nav")))
}

// TrySignIn loads the console and submits the sign-in form (an app's when
// appID is set, else the operator's) without waiting for the outcome: for
// tests of a refused key, which then WaitText(".error-box", "40105").
func (c *Console) TrySignIn(appID, key string) {
	c.T.Helper()
	mode := "app"
	if appID == "" {
		mode = "operator"
	}
	c.fillSignIn(mode, appID, key)
}

func (c *Console) fillSignIn(mode, appID, key string) {
	c.T.Helper()
	c.Load("")
	acts := []chromedp.Action[chromedp.Void]{
		chromedp.WaitVisible(chromedp.CSS(`form input[name="key"]`)),
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`input[name="mode"][value=%q]`, mode))),
	}
	if mode == "app" {
		acts = append(acts,
			chromedp.WaitVisible(chromedp.CSS(`input[name="appID"]`)),
			chromedp.SendKeys(chromedp.CSS(`input[name="appID"]`), appID))
	}
	acts = append(acts,
		chromedp.SendKeys(chromedp.CSS(`input[name="key"]`), key),
		chromedp.Click(chromedp.CSS(`form button[type="submit"]`)))
	c.Run(acts...)
}

// SignOut presses "Sign out" and waits for the sign-in form.
func (c *Console) SignOut() {
	c.T.Helper()
	c.Run(
		chromedp.Click(chromedp.CSS(`header.topbar button`)),
		chromedp.WaitVisible(chromedp.CSS(`form input[name="key"]`)),
	)
}

// Click clicks the first element matching the CSS selector sel.
func (c *Console) Click(sel string) {
	c.T.Helper()
	c.Run(chromedp.Click(chromedp.CSS(sel)))
}

// Type types text into the first element matching sel (after what it
// holds), as the keyboard would: the page sees input events.
func (c *Console) Type(sel, text string) {
	c.T.Helper()
	c.Run(chromedp.SendKeys(chromedp.CSS(sel), text))
}

// WaitText waits until the first element matching the CSS selector sel
// contains text (its textContent).
func (c *Console) WaitText(sel, text string) {
	c.T.Helper()
	expr := fmt.Sprintf(`(() => { const e = document.querySelector(%s); return !!e && e.textContent.includes(%s); })()`,
		JS(sel), JS(text))
	c.WaitJS(expr, fmt.Sprintf("%q in %s (it holds %%q)", text, sel), sel)
}

// WaitJS waits until the JavaScript expression expr is true; what names
// the wait in the failure (with %q, when sel is set, the text of sel).
func (c *Console) WaitJS(expr, what, sel string) {
	c.T.Helper()
	ctx, cancel := context.WithTimeout(c.Ctx, Timeout)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingInterval(50*time.Millisecond))); err != nil {
		if sel != "" {
			what = fmt.Sprintf(what, c.text(sel))
		}
		c.T.Fatalf("waiting for %s: %v", what, err)
	}
}

// Eval evaluates the JavaScript expression expr in the page, for its
// effect.
func (c *Console) Eval(expr string) {
	c.T.Helper()
	c.Run(chromedp.Evaluate[chromedp.Void](expr))
}

// Text returns the textContent of the first element matching sel ("" if
// none).
func (c *Console) Text(sel string) string {
	c.T.Helper()
	return c.text(sel)
}

func (c *Console) text(sel string) string {
	ctx, cancel := context.WithTimeout(c.Ctx, Timeout)
	defer cancel()
	s, _ := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(`(document.querySelector(%s)||{}).textContent||""`, JS(sel))))
	return s
}

// Count returns how many elements match the CSS selector sel.
func (c *Console) Count(sel string) int {
	c.T.Helper()
	ctx, cancel := context.WithTimeout(c.Ctx, Timeout)
	defer cancel()
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](fmt.Sprintf(`document.querySelectorAll(%s).length`, JS(sel))))
	if err != nil {
		c.T.Fatalf("count %s: %v", sel, err)
	}
	return n
}

// SessionStorage returns what the page keeps in sessionStorage.
func (c *Console) SessionStorage() map[string]string {
	c.T.Helper()
	ctx, cancel := context.WithTimeout(c.Ctx, Timeout)
	defer cancel()
	m, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]string](`Object.fromEntries(Object.entries(sessionStorage))`))
	if err != nil {
		c.T.Fatalf("read sessionStorage: %v", err)
	}
	return m
}

// LocalStorageAndCookies returns how many localStorage entries and
// cookies the page holds: the console keeps none.
func (c *Console) LocalStorageAndCookies() (local, cookies int) {
	c.T.Helper()
	ctx, cancel := context.WithTimeout(c.Ctx, Timeout)
	defer cancel()
	local, err := chromedp.Run(ctx, chromedp.Evaluate[int](`localStorage.length`))
	if err != nil {
		c.T.Fatalf("read localStorage: %v", err)
	}
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{})
	if err != nil {
		c.T.Fatalf("read cookies: %v", err)
	}
	return local, len(res.Cookies)
}

// Narrow sets the viewport to a phone's (360×740) or, with false, back to
// a desktop's (1280×900).
func (c *Console) Narrow(on bool) {
	c.T.Helper()
	w, h := int64(1280), int64(900)
	if on {
		w, h = 360, 740
	}
	c.Run(chromedp.EmulateViewport(w, h))
}

// Screenshot saves the whole page as docs/console/<name>.png when
// HERALD_SCREENSHOTS=1 (the screenshots of docs/console.md); otherwise it
// does nothing, so tests take them freely.
func (c *Console) Screenshot(name string) {
	c.T.Helper()
	if os.Getenv("HERALD_SCREENSHOTS") != "1" {
		return
	}
	dir, err := docsDir()
	if err != nil {
		c.T.Fatalf("screenshot %s: %v", name, err)
	}
	ctx, cancel := context.WithTimeout(c.Ctx, Timeout)
	defer cancel()
	// The status line is fixed to the viewport's bottom: in a capture of
	// the whole page it would float in the middle, over the content.
	hide := chromedp.Evaluate[chromedp.Void](`document.querySelector('[data-testid="live"]').style.visibility = "hidden"`)
	show := chromedp.Evaluate[chromedp.Void](`document.querySelector('[data-testid="live"]').style.visibility = ""`)
	if err := chromedp.Do(ctx, hide); err != nil {
		c.T.Fatalf("screenshot %s: %v", name, err)
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err == nil {
		err = chromedp.Do(ctx, show)
	}
	if err != nil {
		c.T.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		c.T.Fatalf("screenshot %s: %v", name, err)
	}
}

// docsDir is docs/console of the module the test runs in.
func docsDir() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			d := filepath.Join(dir, "docs", "console")
			return d, os.MkdirAll(d, 0o755)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// JS is s as a JavaScript string literal, to build expressions for Eval
// and WaitJS.
func JS(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func exceptionText(d *runtime.ExceptionDetails) string {
	if d == nil {
		return "?"
	}
	if d.Exception != nil && d.Exception.Description != "" {
		return d.Exception.Description
	}
	return d.Text
}
