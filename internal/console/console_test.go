package console_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/heraldim/herald/internal/console"
	"github.com/heraldim/herald/internal/console/consoletest"
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
