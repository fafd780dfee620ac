package config

import (
	"fmt"
	"path"
	"strings"
)

// AnyOrigin is the allowed-origins pattern that lets a browser page of any
// site open the WebSocket. It is accepted: Herald's sessions authenticate
// with the login token sent in the first frame, never with cookies, so a
// page of another site cannot ride on a user's credentials. Still, it lets
// any page that holds a token connect, so the server warns at start when
// AllowsAnyOrigin.
const AnyOrigin = "*"

// anyHost is a host no deployment allows on purpose: a pattern matching it
// matches every site.
const anyHost = "unrelated-site.invalid"

// AllowsAnyOrigin reports whether patterns let a page of any site connect:
// one of them is "*" or another pattern that matches every host ("*.*").
func AllowsAnyOrigin(patterns []string) bool {
	for _, p := range patterns {
		if ok, _ := path.Match(strings.ToLower(p), anyHost); ok {
			return true
		}
	}
	return false
}

// CheckOriginPattern reports whether p is a valid allowed-origins pattern.
//
// A pattern is a host, optionally with a port, as the Origin header's
// host part reads ("app.example.com", "localhost:5173",
// "192.168.1.20:8081"), in which path.Match wildcards may stand for any
// part: "*" for any run of characters, "?" for one, "[a-z]" for a class
// ("*.example.com" allows every subdomain of example.com but not
// example.com itself; "localhost:*" allows every port of localhost).
// Matching ignores case. There is no scheme (http and https pages of the
// same host are alike) and no path: an origin has none.
func CheckOriginPattern(p string) error {
	switch {
	case p == "":
		return fmt.Errorf("empty origin pattern")
	case strings.Contains(p, "://"):
		return fmt.Errorf("origin pattern %q has a scheme: give host[:port] only, e.g. %q", p, p[strings.Index(p, "://")+3:])
	case strings.Contains(p, "/"):
		return fmt.Errorf("origin pattern %q has a path: give host[:port] only, e.g. %q", p, p[:strings.Index(p, "/")])
	}
	for _, r := range p {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case strings.ContainsRune(".-_:*?[]^\\", r):
		default:
			return fmt.Errorf("origin pattern %q: %q is not allowed: a pattern is host[:port] with the wildcards * ? [...], e.g. \"*.example.com\" or \"localhost:5173\"", p, r)
		}
	}
	if _, err := path.Match(p, ""); err != nil {
		return fmt.Errorf("origin pattern %q is malformed (path.Match syntax: * ? [a-z] [^a-z], \\ escapes): %w", p, err)
	}
	return nil
}
