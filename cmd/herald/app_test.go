package main

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/heraldim/herald/internal/protocol"
	"github.com/heraldim/herald/internal/testkit"
	"github.com/heraldim/herald/internal/token"
)

// TestCLIApp: the app commands create, list, show, rotate, disable, enable
// and delete an app through the operator API, with the operator key read
// from the data directory; the created app's credentials work; refusals
// exit 3 with the server's code, bad usage 2.
func TestCLIApp(t *testing.T) {
	srv := testkit.Start(t, nil)
	ctx := context.Background()
	common := []string{"app", "--server", srv.HTTP, "--data", srv.DataDir}
	run := func(args ...string) []map[string]any {
		t.Helper()
		var out syncBuffer
		stderr, err := runCLI(ctx, &out, append(append([]string{}, common...), args...)...)
		if err != nil {
			t.Fatalf("herald app %v: %v (stderr %q)", args, err, stderr)
		}
		return jsonLinesOf(t, out.String())
	}
	fails := func(code int, want string, args ...string) {
		t.Helper()
		var out syncBuffer
		stderr, err := runCLI(ctx, &out, append(append([]string{}, common...), args...)...)
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != code || !strings.Contains(err.Error(), want) {
			t.Fatalf("herald app %v: err %v (stderr %q), want exit %d with %q", args, err, stderr, code, want)
		}
	}
	login := func(appID, secret string) *protocol.Error {
		t.Helper()
		tok, err := token.Mint(appID, secret, "alice", time.Hour, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		c := testkit.Dial(t, srv.URL)
		defer c.Close()
		return c.Login(appID, "alice", tok, "ios", "phone")
	}

	created := run("create", "Chat", "--id", "chat")
	if len(created) != 1 || created[0]["id"] != "chat" || created[0]["secret"] == "" || created[0]["adminKey"] == "" {
		t.Fatalf("create printed %v", created)
	}
	secret := created[0]["secret"].(string)
	if err := login("chat", secret); err != nil {
		t.Fatalf("login with the created app's secret: %v", err)
	}
	if got := run("create", "Other"); len(got) != 1 || !strings.HasPrefix(got[0]["id"].(string), "app-") {
		t.Fatalf("create without --id printed %v", got)
	}
	// Three apps, listed a page of one at a time.
	if list := run("list", "--page", "1"); len(list) != 3 || list[0]["secret"] != nil {
		t.Fatalf("list printed %v", list)
	}
	if show := run("show", "chat"); len(show) != 1 || show[0]["name"] != "Chat" || show[0]["secret"] != nil {
		t.Fatalf("show printed %v", show)
	}

	rot := run("rotate", "chat", "--which", "secret", "--overlap", "0s")
	if len(rot) != 1 || rot[0]["secret"] == "" || rot[0]["secret"] == secret {
		t.Fatalf("rotate printed %v", rot)
	}
	if err := login("chat", secret); err == nil || err.Code != protocol.CodeTokenInvalid {
		t.Fatalf("old secret after a rotation without overlap: %v", err)
	}
	secret = rot[0]["secret"].(string)
	if err := login("chat", secret); err != nil {
		t.Fatalf("new secret: %v", err)
	}
	if rot := run("rotate", "chat", "--which", "adminKey"); rot[0]["adminKey"] == "" || rot[0]["previousAdminKeyUntil"] == nil {
		t.Fatalf("rotate adminKey with the server's overlap printed %v", rot)
	}

	fails(exitServerError, "40003", "delete", "chat") // enabled
	if d := run("disable", "chat"); d[0]["disabled"] != true {
		t.Fatalf("disable printed %v", d)
	}
	if err := login("chat", secret); err == nil || err.Code != protocol.CodeAppDisabled {
		t.Fatalf("login to a disabled app: %v", err)
	}
	if e := run("enable", "chat"); e[0]["disabled"] != false {
		t.Fatalf("enable printed %v", e)
	}
	if err := login("chat", secret); err != nil {
		t.Fatalf("login after enable: %v", err)
	}
	run("disable", "chat")
	if d := run("delete", "chat"); len(d) != 1 || d[0]["deleted"] != true {
		t.Fatalf("delete printed %v", d)
	}
	fails(exitServerError, "40400", "show", "chat")

	fails(exitServerError, "40107", "list", "--operator-key", "wrong")
	fails(exitServerError, "40003", "rotate", "app-x", "--which", "password")
	fails(2, "--overlap", "rotate", "chat", "--which", "secret", "--overlap", "1.5s")
	fails(2, "--page", "list", "--page", "0")
	fails(2, "no operator key", "list", "--data", t.TempDir())
}
