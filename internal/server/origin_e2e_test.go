package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/heraldim/herald/internal/config"
	"github.com/heraldim/herald/internal/protocol"
	"github.com/heraldim/herald/internal/server"
	"github.com/heraldim/herald/internal/testkit"
)

// dialOrigin opens the WebSocket as a browser page of origin would ("":
// no Origin header, as native apps). It returns the connection, or the
// handshake's HTTP status when the server refused it.
func dialOrigin(t *testing.T, s *testkit.Server, origin string) (*websocket.Conn, int) {
	t.Helper()
	h := http.Header{}
	if origin != "" {
		h.Set("Origin", origin)
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	conn, resp, err := websocket.Dial(ctx, s.URL, &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		if resp == nil {
			t.Fatalf("dial with origin %q: %v", origin, err)
		}
		body, _ := io.ReadAll(resp.Body)
		t.Logf("refused: %d %s", resp.StatusCode, bytes.TrimSpace(body))
		return nil, resp.StatusCode
	}
	t.Cleanup(func() { _ = conn.CloseNow() })
	return conn, http.StatusSwitchingProtocols
}

// rawLogin logs user in over conn and returns the reply frame.
func rawLogin(t *testing.T, s *testkit.Server, conn *websocket.Conn, user string) protocol.Frame {
	t.Helper()
	return rawRequest(t, conn, protocol.TypeLogin, "1", protocol.LoginRequest{AppID: s.App.AppID, UserID: user, Token: s.Token(t, user, time.Hour), Platform: "web", DeviceID: "browser-" + user})
}

// rawRequest sends a request over conn and returns its reply frame,
// skipping events.
func rawRequest(t *testing.T, conn *websocket.Conn, typ, id string, data ...any) protocol.Frame {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	f := protocol.Frame{Type: typ, ID: id}
	if len(data) > 0 {
		f.Data, _ = json.Marshal(data[0])
	}
	b, _ := json.Marshal(f)
	if err := conn.Write(ctx, websocket.MessageText, b); err != nil {
		t.Fatal(err)
	}
	for {
		_, b, err := conn.Read(ctx)
		if err != nil {
			t.Fatalf("reading the %s reply: %v", typ, err)
		}
		var f protocol.Frame
		if err := json.Unmarshal(b, &f); err != nil {
			t.Fatal(err)
		}
		if f.Type == protocol.TypeReply && f.ID == id {
			return f
		}
	}
}

// TestAllowedOrigins: a browser page connects when its origin is the
// server's own or matches an allowed-origins pattern, and logs in; any
// other origin is refused with 403 before a session exists; a client
// without an Origin header (a native app) always connects.
func TestAllowedOrigins(t *testing.T) {
	cases := []struct {
		name     string
		patterns []string
		origin   string // "self": the server's own origin
		want     bool
	}{
		{"no origin, no patterns", nil, "", true},
		{"same origin, no patterns", nil, "self", true},
		{"other origin, no patterns", nil, "https://app.example.com", false},
		{"exact host", []string{"app.example.com"}, "https://app.example.com", true},
		{"case ignored", []string{"app.example.com"}, "https://APP.Example.com", true},
		{"http page of the host too", []string{"app.example.com"}, "http://app.example.com", true},
		{"port must match", []string{"localhost:5173"}, "http://localhost:5174", false},
		{"host with port", []string{"localhost:5173"}, "http://localhost:5173", true},
		{"host without its port", []string{"localhost"}, "http://localhost:5173", false},
		{"any port", []string{"localhost:*"}, "http://localhost:8081", true},
		{"subdomain wildcard", []string{"*.example.com"}, "https://chat.example.com", true},
		{"subdomain wildcard is not the apex", []string{"*.example.com"}, "https://example.com", false},
		{"look-alike host", []string{"*.example.com"}, "https://example.com.evil.test", false},
		{"second pattern", []string{"a.example.com", "b.example.com"}, "https://b.example.com", true},
		{"no origin, patterns set", []string{"app.example.com"}, "", true},
		{"same origin, patterns set", []string{"app.example.com"}, "self", true},
		{"any", []string{"*"}, "https://anything.test:8443", true},
		{"opaque origin", []string{"app.example.com"}, "null", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := testkit.Start(t, func(c *config.Config) { c.AllowedOrigins = tc.patterns })
			origin := tc.origin
			if origin == "self" {
				origin = s.HTTP
			}
			conn, status := dialOrigin(t, s, origin)
			if !tc.want {
				if status != http.StatusForbidden {
					t.Fatalf("origin %q with %q: status %d, want 403", origin, tc.patterns, status)
				}
				// Nothing was opened: no connection, no session.
				if n := s.Metric(t, "herald_connections"); n != 0 {
					t.Fatalf("%v connections after a refused origin", n)
				}
				if s.Online("alice") {
					t.Fatal("alice online")
				}
				return
			}
			if conn == nil {
				t.Fatalf("origin %q with %q: refused (%d), want accepted", origin, tc.patterns, status)
			}
			f := rawLogin(t, s, conn, "alice")
			if f.Error != nil {
				t.Fatalf("login: %v", f.Error)
			}
			var r protocol.LoginReply
			if err := json.Unmarshal(f.Data, &r); err != nil || r.UserID != "alice" {
				t.Fatalf("login reply %s (%v)", f.Data, err)
			}
			// The session is registered before the next request is
			// handled: once a ping is answered, alice is online.
			if f := rawRequest(t, conn, protocol.TypePing, "2"); f.Error != nil || !s.Online("alice") {
				t.Fatalf("ping after login: %v, online %v", f.Error, s.Online("alice"))
			}
		})
	}
}

// TestAnyOriginWarns: allowed-origins "*" is accepted, and the server
// says at start that any site's page may connect; a list of sites is
// not warned about.
func TestAnyOriginWarns(t *testing.T) {
	for _, tc := range []struct {
		patterns []string
		warn     bool
	}{
		{[]string{"*"}, true},
		{[]string{"app.example.com", "*.*"}, true},
		{[]string{"app.example.com", "*.example.com", "localhost:*"}, false},
		{nil, false},
	} {
		var buf bytes.Buffer
		cfg := config.Default()
		cfg.Addr = "127.0.0.1:0"
		cfg.DataDir = t.TempDir()
		cfg.AllowedOrigins = tc.patterns
		srv, err := server.New(context.Background(), cfg, slog.New(slog.NewTextHandler(&buf, nil)), io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.Close(); err != nil {
			t.Fatal(err)
		}
		got := strings.Contains(buf.String(), "level=WARN") && strings.Contains(buf.String(), "any site")
		if got != tc.warn {
			t.Errorf("allowed-origins %q: warned %v, want %v; log:\n%s", tc.patterns, got, tc.warn, buf.String())
		}
	}
}

// TestBadAllowedOriginRefusedAtStart: a configuration built in code with
// a bad pattern does not start.
func TestBadAllowedOriginRefusedAtStart(t *testing.T) {
	cfg := config.Default()
	cfg.Addr = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.AllowedOrigins = []string{"https://app.example.com"}
	if srv, err := server.New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), io.Discard); err == nil {
		_ = srv.Close()
		t.Fatal("a pattern with a scheme was accepted")
	} else if !strings.Contains(err.Error(), "has a scheme") {
		t.Fatalf("err = %v", err)
	}
}
