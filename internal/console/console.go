// Package console serves Herald's web console: a single-page front-end
// (internal/console/web, built by esbuild into dist/, which is committed)
// embedded in the binary and served under /console/ on the admin listener.
//
// The console is static: it holds no secret and sets no cookie. It calls
// the admin API of the same origin with the key the operator types, sent
// as a bearer header and kept in the tab's sessionStorage; with no ambient
// credential there is nothing for another site to forge (no CSRF). The
// Content-Security-Policy allows scripts, styles and connections to the
// same origin alone, no inline script and no framing.
package console

import (
	"embed"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

//go:embed dist
var dist embed.FS

// Prefix is where the console is served.
const Prefix = "/console/"

// CSP is the console's Content-Security-Policy: everything from the same
// origin only, no inline or evaluated script, no plugins, no framing by
// another page, forms posting nowhere else. data: images are the empty
// favicon.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; " +
	"form-action 'self'; frame-ancestors 'none'"

// Option changes what Handler serves.
type Option func(*handler)

// ConnectTo lets the console's page connect to these origins too (added to
// connect-src), for a service on a listener of its own that the console
// shows, such as the emulated phones API of `herald serve --emulate`
// ("http://127.0.0.1:PORT"). An origin with a character a policy cannot
// hold (space, ';', ',', quote) is dropped.
func ConnectTo(origins ...string) Option {
	return func(h *handler) {
		for _, o := range origins {
			if o != "" && !strings.ContainsAny(o, " \t\r\n;,'\"") {
				h.connect = append(h.connect, strings.TrimSuffix(o, "/"))
			}
		}
	}
}

// Handler serves the console: GET /console redirects to /console/,
// /console/ is index.html (never cached: it names the current bundle),
// /console/<name> the built assets (their names carry a content hash, so
// they are cached for a year), anything else under /console/ is 404.
func Handler(opts ...Option) http.Handler {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic("console: the embedded dist directory is missing: " + err.Error())
	}
	h := &handler{files: sub}
	for _, o := range opts {
		o(h)
	}
	h.csp = CSP
	if len(h.connect) > 0 {
		h.csp = strings.Replace(CSP, "connect-src 'self'", "connect-src 'self' "+strings.Join(h.connect, " "), 1)
	}
	return h
}

type handler struct {
	files   fs.FS
	connect []string
	csp     string
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", h.csp)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Cross-Origin-Opener-Policy", "same-origin")
	hd.Set("Cross-Origin-Resource-Policy", "same-origin")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hd.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if r.URL.Path == strings.TrimSuffix(Prefix, "/") {
		http.Redirect(w, r, Prefix, http.StatusMovedPermanently)
		return
	}
	name, ok := strings.CutPrefix(r.URL.Path, Prefix)
	if !ok {
		http.NotFound(w, r)
		return
	}
	if name == "" || name == "index.html" {
		hd.Set("Cache-Control", "no-store")
		h.serveFile(w, r, "index.html")
		return
	}
	// Only the built files at the top of dist/: no directories, no
	// dot-files, no path tricks (ServeMux has cleaned the path already).
	if strings.Contains(name, "/") || strings.HasPrefix(name, ".") || path.Clean(name) != name {
		http.NotFound(w, r)
		return
	}
	hd.Set("Cache-Control", "public, max-age=31536000, immutable")
	h.serveFile(w, r, name)
}

func (h *handler) serveFile(w http.ResponseWriter, r *http.Request, name string) {
	b, err := fs.ReadFile(h.files, name)
	if err != nil {
		w.Header().Del("Cache-Control")
		http.NotFound(w, r)
		return
	}
	switch path.Ext(name) {
	case ".html":
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
	case ".js":
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	case ".css":
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
	case ".map":
		w.Header().Set("Content-Type", "application/json")
	default:
		w.Header().Set("Content-Type", "application/octet-stream")
	}
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(b)
}
