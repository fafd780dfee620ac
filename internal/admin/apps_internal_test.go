package admin

import (
	"strings"
	"testing"
)

func TestValidAppID(t *testing.T) {
	for id, want := range map[string]bool{
		"chat": true, "dev-4f2a": true, "A.b_c-9": true, "9": true, strings.Repeat("a", maxAppIDLen): true,
		"": false, ".chat": false, "-chat": false, "_chat": false, "a/b": false, "a b": false, "é": false,
		strings.Repeat("a", maxAppIDLen+1): false, "a\x00": false,
	} {
		if got := validAppID(id); got != want {
			t.Errorf("validAppID(%q) = %v, want %v", id, got, want)
		}
	}
}

func TestValidAppName(t *testing.T) {
	for name, want := range map[string]bool{
		"Chat": true, "Chat (prod) — 中文": true, strings.Repeat("é", maxAppNameLen): true,
		"": false, "   ": false, "a\nb": false, "a\tb": false, "\xff": false, strings.Repeat("é", maxAppNameLen+1): false,
	} {
		if got := validAppName(name); got != want {
			t.Errorf("validAppName(%q) = %v, want %v", name, got, want)
		}
	}
}

// TestRouteAuth: every operator route takes the operator key and every
// other route an app's admin key.
func TestRouteAuth(t *testing.T) {
	h := &Handler{}
	ops := 0
	for _, rt := range h.routes() {
		want := authApp
		if strings.HasPrefix(rt.path, "/v1/admin/") {
			want = authOperator
			ops++
		} else if !strings.HasPrefix(rt.path, "/v1/apps/{appID}/") {
			t.Errorf("%s %s is under neither /v1/admin/ nor /v1/apps/{appID}/", rt.method, rt.path)
		}
		if rt.auth() != want {
			t.Errorf("%s %s: auth %d, want %d", rt.method, rt.path, rt.auth(), want)
		}
	}
	if ops != len(h.appRoutes()) {
		t.Errorf("%d operator routes, want the %d app routes", ops, len(h.appRoutes()))
	}
}
