package console_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/heraldim/herald/internal/config"
	"github.com/heraldim/herald/internal/console"
	"github.com/heraldim/herald/internal/console/consoletest"
	"github.com/heraldim/herald/internal/testkit"
)

func get(t *testing.T, h http.Handler, path string) *http.Response {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec.Result()
}

// The index and the assets it names are served with the CSP and the
// headers; the index is never cached, the hashed assets are for a year.
func TestHandlerServesIndexAndAssets(t *testing.T) {
	h := console.Handler()
	resp := get(t, h, "/console/")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /console/: %d", resp.StatusCode)
	}
	for k, want := range map[string]string{
		"Content-Security-Policy": console.CSP,
		"X-Content-Type-Options":  "nosniff",
		"Referrer-Policy":         "no-referrer",
		"Cache-Control":           "no-store",
		"Content-Type":            "text/html; charset=utf-8",
	} {
		if got := resp.Header.Get(k); got != want {
			t.Errorf("index %s = %q, want %q", k, got, want)
		}
	}
	for _, d := range []string{"default-src 'self'", "connect-src 'self'", "frame-ancestors 'none'", "script-src 'self'"} {
		if !strings.Contains(console.CSP, d) {
			t.Errorf("CSP lacks %q", d)
		}
	}
	if strings.Contains(console.CSP, "unsafe-inline") || strings.Contains(console.CSP, "unsafe-eval") {
		t.Errorf("CSP allows inline or evaluated code: %s", console.CSP)
	}
	body, _ := io.ReadAll(resp.Body)
	assets := regexp.MustCompile(`(?:src|href)="(main-[A-Z0-9]+\.(?:js|css))"`).FindAllStringSubmatch(string(body), -1)
	if len(assets) != 2 {
		t.Fatalf("index names %d hashed assets, want the bundle and the stylesheet:\n%s", len(assets), body)
	}
	for _, m := range assets {
		r := get(t, h, "/console/"+m[1])
		if r.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %d", m[1], r.StatusCode)
			continue
		}
		if cc := r.Header.Get("Cache-Control"); !strings.Contains(cc, "immutable") {
			t.Errorf("%s Cache-Control %q, want a long immutable cache", m[1], cc)
		}
		if r.Header.Get("Content-Security-Policy") == "" {
			t.Errorf("%s has no CSP", m[1])
		}
	}
	if got := get(t, h, "/console/index.html").StatusCode; got != http.StatusOK {
		t.Errorf("GET /console/index.html: %d", got)
	}
}

func TestHandlerRedirectsAndRefuses(t *testing.T) {
	h := console.Handler()
	resp := get(t, h, "/console")
	if resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != "/console/" {
		t.Errorf("GET /console: %d Location %q, want 301 to /console/", resp.StatusCode, resp.Header.Get("Location"))
	}
	for _, p := range []string{"/console/nope.js", "/console/main-XXXX.js", "/console/sub/index.html", "/console/.hidden", "/elsewhere"} {
		r := get(t, h, p)
		if r.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", p, r.StatusCode)
		}
		if r.Header.Get("Cache-Control") != "" {
			t.Errorf("GET %s: a 404 with Cache-Control %q", p, r.Header.Get("Cache-Control"))
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/console/", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST /console/: %d, want 405", rec.Code)
	}
}

// Signing in: a wrong admin key is refused with the API's code shown and
// nothing kept; the right one opens the app's pages; signing out forgets
// the key.
func TestSignInAndOut(t *testing.T) {
	c := consoletest.Start(t, nil)
	app := c.Server.App

	c.TrySignIn(app.AppID, "wrong-"+app.AdminKey)
	c.WaitText(".error-box", "40105")
	if n := c.Count("nav.nav"); n != 0 {
		t.Fatalf("a wrong key shows the nav")
	}
	if s := c.SessionStorage(); len(s) != 0 {
		t.Fatalf("a refused key left sessionStorage %v", s)
	}
	c.Screenshot("signin-refused")

	c.SignIn(app.AppID, app.AdminKey)
	c.WaitText("nav.nav", "Push credentials")
	c.WaitText("header.topbar", app.AppID)
	if s := c.SessionStorage(); len(s) != 1 {
		t.Fatalf("signed in, sessionStorage holds %v, want the session alone", s)
	}
	if local, cookies := c.LocalStorageAndCookies(); local != 0 || cookies != 0 {
		t.Fatalf("signed in, localStorage has %d entries and %d cookies, want none", local, cookies)
	}
	// The route moved to the first page, and the focus to its heading.
	c.WaitText("main h1", "Overview")
	c.WaitJS(`document.activeElement && document.activeElement.tagName === "H1"`, "the focus on the page heading", "")

	c.SignOut()
	if s := c.SessionStorage(); len(s) != 0 {
		t.Fatalf("signed out, sessionStorage holds %v", s)
	}
}

// The operator signs in with the operator key (a wrong one is refused
// with 40107), creates an app whose credentials are shown once and work
// at once, and disables and enables it.
func TestOperatorApps(t *testing.T) {
	const opKey = "operator-key-of-the-console-test"
	c := consoletest.Start(t, func(cfg *config.Config) { cfg.OperatorKey = opKey })

	c.TrySignIn("", "not-"+opKey)
	c.WaitText(".error-box", "40107")
	if s := c.SessionStorage(); len(s) != 0 {
		t.Fatalf("a refused operator key left sessionStorage %v", s)
	}

	c.SignInOperator(opKey)
	c.WaitText("main h1", "Apps")
	c.WaitText("nav.nav", "Apps")
	if n := c.Count(`nav.nav a[href="#/credentials"]`); n != 0 {
		t.Fatalf("the operator's nav shows an app's pages")
	}
	// The dev app is listed.
	c.WaitText("main table", c.Server.App.AppID)

	c.Type(`form[aria-label="Create an app"] input[name="name"]`, "Console test app")
	c.Type(`form[aria-label="Create an app"] input[name="id"]`, "console-test-app")
	c.Click(`form[aria-label="Create an app"] button[type="submit"]`)
	c.WaitText(".created-app", "App console-test-app created")
	c.WaitText("main table", "console-test-app")
	c.WaitJS(`document.activeElement && document.activeElement.id === "created-app"`, "the focus on the created app's heading", "")
	adminKey := c.Text(`[data-testid="created-admin-key"]`)
	if len(adminKey) < 16 {
		t.Fatalf("created app's admin key %q", adminKey)
	}
	c.Screenshot("apps-created")

	// The admin key shown is the app's: the API takes it.
	if code := appCall(t, c.Server.HTTP, "console-test-app", adminKey); code != http.StatusOK {
		t.Fatalf("the shown admin key: HTTP %d", code)
	}

	c.Click(`button[aria-label="Disable app console-test-app"]`)
	c.WaitJS(`!!document.querySelector('button[aria-label="Enable app console-test-app"]')`, "the app disabled", "")
	c.WaitText(`[role="status"]`, "App console-test-app disabled")
	if code := appCall(t, c.Server.HTTP, "console-test-app", adminKey); code != http.StatusForbidden && code != http.StatusUnauthorized {
		t.Fatalf("a disabled app's admin key: HTTP %d, want refused", code)
	}
	c.Click(`button[aria-label="Enable app console-test-app"]`)
	c.WaitJS(`!!document.querySelector('button[aria-label="Disable app console-test-app"]')`, "the app enabled", "")
	if code := appCall(t, c.Server.HTTP, "console-test-app", adminKey); code != http.StatusOK {
		t.Fatalf("the enabled app's admin key: HTTP %d", code)
	}

	// Dismissing the credentials removes them from the page.
	c.Click(`.created-app button`)
	c.WaitJS(`!document.querySelector('[data-testid="created-admin-key"]')`, "the credentials gone", "")
	c.Screenshot("apps")

	c.Narrow(true)
	c.Screenshot("apps-narrow")
	c.Narrow(false)
}

// appCall lists the app's credentials with its admin key and returns the
// HTTP status.
func appCall(t *testing.T, base, appID, key string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+"/v1/apps/"+appID+"/push/credentials", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// With admin-addr set the console is on the admin listener, with the
// admin API it calls, and not on the public one.
func TestServedOnTheAdminListener(t *testing.T) {
	srv := testkit.Start(t, func(cfg *config.Config) { cfg.AdminAddr = "127.0.0.1:0" })
	admin := "http://" + srv.Srv.AdminAddr()
	if admin == srv.HTTP {
		t.Fatal("admin-addr set, but the admin listener is the public one")
	}
	resp, err := http.Get(admin + "/console/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Security-Policy") != console.CSP {
		t.Fatalf("admin listener GET /console/: %d CSP %q", resp.StatusCode, resp.Header.Get("Content-Security-Policy"))
	}
	resp, err = http.Get(srv.HTTP + "/console/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("public listener GET /console/: %d, want 404", resp.StatusCode)
	}
}

// The keyboard: the first Tab reaches the skip link, which moves the focus
// to the page; the nav's links change the route and the focus goes to the
// new page's heading. The page watch sees the page's own requests (so it
// would see another origin's).
func TestKeyboard(t *testing.T) {
	c := consoletest.Start(t, nil)
	c.SignIn(c.Server.App.AppID, c.Server.App.AdminKey)
	// Tab from the top of the document: blur alone leaves Chrome's
	// sequential focus starting point at the heading, whence Tab goes to
	// the page's first control. A mark before everything, focused, starts
	// from there.
	c.Eval(`(() => { const m = document.createElement("span"); m.tabIndex = -1; document.body.prepend(m); m.focus(); })()`)
	c.Key(kb.Tab)
	c.WaitJS(`document.activeElement && document.activeElement.classList.contains("skip-link")`, "the focus on the skip link", "")
	c.Key(kb.Enter)
	c.WaitJS(`document.activeElement && document.activeElement.id === "main"`, "the focus on main", "")

	c.Run(chromedp.Focus(chromedp.CSS(`nav.nav a[href="#/users"]`)))
	c.Key(kb.Enter)
	c.WaitText("main h1", "Users")
	c.WaitJS(`document.activeElement && document.activeElement.tagName === "H1" && location.hash === "#/users"`, "the focus on the Users heading", "")
	if c.Text(`nav.nav a[aria-current="page"]`) != "Users" {
		t.Fatalf("the nav marks %q as the current page", c.Text(`nav.nav a[aria-current="page"]`))
	}
	if c.Requests() == 0 {
		t.Fatal("the page watch saw no request")
	}
}

// ConnectTo adds origins to connect-src and nothing else; one a policy
// cannot hold is dropped.
func TestHandlerConnectTo(t *testing.T) {
	h := console.Handler(console.ConnectTo("http://127.0.0.1:4567/", "http://x; script-src *", ""))
	csp := get(t, h, "/console/").Header.Get("Content-Security-Policy")
	want := strings.Replace(console.CSP, "connect-src 'self'", "connect-src 'self' http://127.0.0.1:4567", 1)
	if csp != want {
		t.Fatalf("CSP %q, want %q", csp, want)
	}
}

// A key that stops working signs the console out: the app's admin key is
// rotated with no overlap, and a reload finds the sign-in form with the
// refusal shown and sessionStorage empty.
func TestSignedOutWhenTheKeyStopsWorking(t *testing.T) {
	const opKey = "operator-key-of-the-console-test"
	c := consoletest.Start(t, func(cfg *config.Config) { cfg.OperatorKey = opKey })
	app := c.Server.App
	c.SignIn(app.AppID, app.AdminKey)

	req, _ := http.NewRequest(http.MethodPost, c.Server.HTTP+"/v1/admin/apps/"+app.AppID+"/rotate",
		strings.NewReader(`{"which":"adminKey","overlapSeconds":0}`))
	req.Header.Set("Authorization", "Bearer "+opKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("rotate: HTTP %d", resp.StatusCode)
	}

	c.Load("overview")
	c.WaitText(`[data-testid="signed-out"]`, "40105")
	c.Run(chromedp.WaitVisible(chromedp.CSS(`form input[name="key"]`)))
	if s := c.SessionStorage(); len(s) != 0 {
		t.Fatalf("signed out by a refused key, sessionStorage holds %v", s)
	}
}
