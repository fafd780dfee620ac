package config

import (
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
		t.Fatal(err)
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
