package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func load(t *testing.T, args []string, env map[string]string) (Config, error) {
	t.Helper()
	c := Default()
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	c.Bind(fs)
	if err := fs.Parse(args); err != nil {
		return c, err // a bad flag value: refused while parsing
	}
	err := c.Load(fs, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	return c, err
}

func TestPrecedenceFlagEnvFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "herald.yaml")
	if err := os.WriteFile(file, []byte("heartbeat_interval: 7s\noffline_after: 40s\nsend_queue: 64\nmulti_login: single\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := load(t, []string{"--config", file, "--send-queue", "128"}, map[string]string{"HERALD_OFFLINE_AFTER": "50s"})
	if err != nil {
		t.Fatal(err)
	}
	if c.HeartbeatInterval != 7*time.Second || c.OfflineAfter != 50*time.Second || c.SendQueue != 128 || c.MultiLogin != "single" {
		t.Fatalf("got %+v", c)
	}
	if c.Addr != "127.0.0.1:8080" {
		t.Fatalf("default lost: addr %q", c.Addr)
	}
	// HERALD_CONFIG names the file too.
	c, err = load(t, nil, map[string]string{"HERALD_CONFIG": file})
	if err != nil || c.HeartbeatInterval != 7*time.Second {
		t.Fatalf("HERALD_CONFIG: %v %v", err, c.HeartbeatInterval)
	}
}

func TestInvalidConfigRefused(t *testing.T) {
	dir := t.TempDir()
	unknown := filepath.Join(dir, "u.yaml")
	_ = os.WriteFile(unknown, []byte("heartbeat: 5s\n"), 0o600)
	nested := filepath.Join(dir, "n.yaml")
	_ = os.WriteFile(nested, []byte("addr:\n  host: x\n"), 0o600)
	cases := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"unknown durability", []string{"--durability", "maybe"}, nil, "durability"},
		{"offline window too short", []string{"--heartbeat-interval", "10s", "--offline-after", "15s"}, nil, "offline-after"},
		{"bad env duration", nil, map[string]string{"HERALD_LOGIN_TIMEOUT": "soon"}, "HERALD_LOGIN_TIMEOUT"},
		{"bad policy", []string{"--multi-login", "some"}, nil, "multi-login"},
		{"tiny queue", []string{"--send-queue", "1"}, nil, "send-queue"},
		{"node id", []string{"--node-id", "5000"}, nil, "node-id"},
		{"unknown file key", []string{"--config", unknown}, nil, `unknown option "heartbeat"`},
		{"nested file value", []string{"--config", nested}, nil, "scalar"},
		{"missing file", []string{"--config", filepath.Join(dir, "none.yaml")}, nil, "no such file"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(t, tc.args, tc.env)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want mention of %q", err, tc.want)
			}
		})
	}
}

// TestPushDrain: push-drain defaults to 10 s, is read like every option,
// and must be positive.
func TestPushDrain(t *testing.T) {
	if c := Default(); c.PushDrain != 10*time.Second {
		t.Fatalf("default push-drain %s", c.PushDrain)
	}
	c, err := load(t, nil, map[string]string{"HERALD_PUSH_DRAIN": "3s"})
	if err != nil || c.PushDrain != 3*time.Second {
		t.Fatalf("HERALD_PUSH_DRAIN: %s %v", c.PushDrain, err)
	}
	if _, err := load(t, []string{"--push-drain", "0s"}, nil); err == nil || !strings.Contains(err.Error(), "push-drain must be positive") {
		t.Fatalf("push-drain 0 accepted: %v", err)
	}
}

// TestAllowedOrigins: allowed-origins is a list read like every option
// (comma-separated as a flag or env value, a YAML list or string in the
// file), and a pattern that is no host[:port] pattern is refused with a
// message that says what a pattern is.
func TestAllowedOrigins(t *testing.T) {
	if c := Default(); len(c.AllowedOrigins) != 0 {
		t.Fatalf("default allowed-origins %q", c.AllowedOrigins)
	}
	dir := t.TempDir()
	n := 0
	file := func(body string) string {
		n++
		f := filepath.Join(dir, fmt.Sprintf("%d.yaml", n))
		if err := os.WriteFile(f, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return f
	}
	yamlList := file("allowed_origins:\n  - app.example.com\n  - \"*.example.net\"\n")
	yamlFlow := file("allowed_origins: [localhost:5173]\n")
	yamlString := file("allowed_origins: \"a.example.com, b.example.com\"\n")
	cases := []struct {
		name string
		args []string
		env  map[string]string
		want []string
	}{
		{"flag", []string{"--allowed-origins", "app.example.com,localhost:5173"}, nil, []string{"app.example.com", "localhost:5173"}},
		{"flag repeated", []string{"--allowed-origins", "a.example.com", "--allowed-origins", "b.example.com"}, nil, []string{"a.example.com", "b.example.com"}},
		{"env with spaces", nil, map[string]string{"HERALD_ALLOWED_ORIGINS": " *.example.com , localhost:* "}, []string{"*.example.com", "localhost:*"}},
		{"yaml list", []string{"--config", yamlList}, nil, []string{"app.example.com", "*.example.net"}},
		{"yaml flow list", []string{"--config", yamlFlow}, nil, []string{"localhost:5173"}},
		{"yaml string", []string{"--config", yamlString}, nil, []string{"a.example.com", "b.example.com"}},
		{"env over file", []string{"--config", yamlList}, map[string]string{"HERALD_ALLOWED_ORIGINS": "c.example.com"}, []string{"c.example.com"}},
		{"empty env empties the file's", []string{"--config", yamlList}, map[string]string{"HERALD_ALLOWED_ORIGINS": ""}, nil},
		{"flag over env", []string{"--allowed-origins", "d.example.com"}, map[string]string{"HERALD_ALLOWED_ORIGINS": "c.example.com"}, []string{"d.example.com"}},
		{"any", []string{"--allowed-origins", "*"}, nil, []string{"*"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := load(t, tc.args, tc.env)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(c.AllowedOrigins, "|") != strings.Join(tc.want, "|") {
				t.Fatalf("allowed-origins %q, want %q", c.AllowedOrigins, tc.want)
			}
		})
	}

	nestedList := file("allowed_origins:\n  - [a, b]\n")
	listForScalar := file("addr: [a, b]\n")
	bad := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"scheme", []string{"--allowed-origins", "https://app.example.com"}, nil, `"https://app.example.com" has a scheme: give host[:port] only, e.g. "app.example.com"`},
		{"path", []string{"--allowed-origins", "app.example.com/chat"}, nil, `"app.example.com/chat" has a path: give host[:port] only, e.g. "app.example.com"`},
		{"trailing slash", nil, map[string]string{"HERALD_ALLOWED_ORIGINS": "localhost:5173/"}, "has a path"},
		{"malformed wildcard", []string{"--allowed-origins", "[a-.example.com"}, nil, "malformed"},
		{"space inside", []string{"--allowed-origins", "app example.com"}, nil, "is not allowed: a pattern is host[:port]"},
		{"user info", []string{"--allowed-origins", "me@app.example.com"}, nil, `'@' is not allowed`},
		{"empty item", nil, map[string]string{"HERALD_ALLOWED_ORIGINS": "a.example.com,,b.example.com"}, "HERALD_ALLOWED_ORIGINS: empty item"},
		{"bad env names the variable", nil, map[string]string{"HERALD_ALLOWED_ORIGINS": "http://x"}, `HERALD_ALLOWED_ORIGINS: origin pattern "http://x" has a scheme`},
		{"bad file item", []string{"--config", file("allowed_origins:\n  - ftp://x\n")}, nil, "has a scheme"},
		{"nested list", []string{"--config", nestedList}, nil, "list of scalars"},
		{"list for a scalar option", []string{"--config", listForScalar}, nil, `option "addr" must be a scalar`},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(t, tc.args, tc.env)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want mention of %q", err, tc.want)
			}
		})
	}
	// Validate checks a configuration built in code too.
	c := Default()
	c.AllowedOrigins = []string{"app.example.com", "https://x"}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "has a scheme") {
		t.Fatalf("Validate: %v", err)
	}
}

func TestAllowsAnyOrigin(t *testing.T) {
	for _, tc := range []struct {
		patterns []string
		want     bool
	}{
		{nil, false},
		{[]string{"app.example.com", "*.example.com", "localhost:*"}, false},
		{[]string{"app.example.com", "*"}, true},
		{[]string{"*.*"}, true},
	} {
		if got := AllowsAnyOrigin(tc.patterns); got != tc.want {
			t.Errorf("AllowsAnyOrigin(%q) = %v, want %v", tc.patterns, got, tc.want)
		}
	}
}

// TestOperatorKey: operator-key comes from the flag or HERALD_OPERATOR_KEY,
// is empty by default (generated by the server), and a short one is
// refused.
func TestOperatorKey(t *testing.T) {
	long := strings.Repeat("k", MinOperatorKey)
	for _, tc := range []struct {
		name    string
		args    []string
		env     map[string]string
		want    string
		wantErr bool
	}{
		{"default", nil, nil, "", false},
		{"flag", []string{"--operator-key", long}, nil, long, false},
		{"env", nil, map[string]string{"HERALD_OPERATOR_KEY": long + "e"}, long + "e", false},
		{"too short", []string{"--operator-key", long[1:]}, nil, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := load(t, tc.args, tc.env)
			if tc.wantErr {
				if err == nil || !strings.Contains(err.Error(), "operator-key") {
					t.Fatalf("err = %v, want one naming operator-key", err)
				}
				return
			}
			if err != nil || c.OperatorKey != tc.want {
				t.Fatalf("got %q, %v; want %q", c.OperatorKey, err, tc.want)
			}
		})
	}
}
