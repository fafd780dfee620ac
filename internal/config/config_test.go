package config

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/heraldim/herald/internal/seal"
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
		{"store not postgres", []string{"--store", "mysql://u:hidden@h/db"}, nil, "mysql://u:xxxxx@h/db"},
		{"negative pool", nil, map[string]string{"HERALD_STORE_MAX_CONNS": "-1"}, "store-max-conns"},
		{"offline window too short", []string{"--heartbeat-interval", "10s", "--offline-after", "15s"}, nil, "offline-after"},
		{"bad env duration", nil, map[string]string{"HERALD_LOGIN_TIMEOUT": "soon"}, "HERALD_LOGIN_TIMEOUT"},
		{"bad policy", []string{"--multi-login", "some"}, nil, "multi-login"},
		{"bad ws transport", []string{"--ws-transport", "threads"}, nil, "ws-transport"},
		{"tiny queue", []string{"--send-queue", "1"}, nil, "send-queue"},
		{"node number", []string{"--node-number", "5000"}, nil, "node-number"},
		{"node id with a space", []string{"--node-id", "a b"}, nil, "node-id"},
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

// TestBusPrefix: bus-prefix defaults to "herald" and takes one subject
// token's safe characters only.
func TestBusPrefix(t *testing.T) {
	if c := Default(); c.BusPrefix != "herald" {
		t.Fatalf("default bus-prefix %q", c.BusPrefix)
	}
	c, err := load(t, []string{"--bus-prefix", "herald-t_1"}, nil)
	if err != nil || c.BusPrefix != "herald-t_1" {
		t.Fatalf("--bus-prefix: %q %v", c.BusPrefix, err)
	}
	for _, bad := range []string{"", "a.b", "a*", "a b", ">"} {
		if _, err := load(t, []string{"--bus-prefix=" + bad}, nil); err == nil || !strings.Contains(err.Error(), "bus-prefix must be") {
			t.Errorf("bus-prefix %q accepted: %v", bad, err)
		}
	}
}

// TestPushLease: push-lease defaults to the dispatcher's 2 min, is read
// like every option, and is at least a second.
func TestPushLease(t *testing.T) {
	if c := Default(); c.PushLease != 2*time.Minute {
		t.Fatalf("default push-lease %s", c.PushLease)
	}
	c, err := load(t, nil, map[string]string{"HERALD_PUSH_LEASE": "30s"})
	if err != nil || c.PushLease != 30*time.Second {
		t.Fatalf("HERALD_PUSH_LEASE: %s %v", c.PushLease, err)
	}
	if _, err := load(t, []string{"--push-lease", "500ms"}, nil); err == nil || !strings.Contains(err.Error(), "push-lease must be at least 1s") {
		t.Fatalf("push-lease 500ms accepted: %v", err)
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

// TestMasterKeys: master-keys is a list of id:base64-of-32-bytes items,
// the first the primary; a bad item is refused at load with an error that
// names where it came from and never repeats the key material.
func TestMasterKeys(t *testing.T) {
	k1, _ := seal.GenerateKey("k1")
	k2, _ := seal.GenerateKey("k2")
	c, err := load(t, nil, map[string]string{"HERALD_MASTER_KEYS": k2.String() + ", " + k1.String()})
	if err != nil {
		t.Fatal(err)
	}
	r, err := c.Keyring()
	if err != nil || r.PrimaryID() != "k2" || strings.Join(r.IDs(), ",") != "k2,k1" {
		t.Fatalf("keyring %v, %v; want k2 then k1", r, err)
	}
	if c := Default(); len(c.MasterKeys) != 0 {
		t.Fatalf("default master-keys %d items", len(c.MasterKeys))
	} else if r, err := c.Keyring(); r != nil || err != nil {
		t.Fatalf("default keyring %v, %v; want none", r, err)
	}
	short := "k3:" + base64.StdEncoding.EncodeToString([]byte("sixteen-bytes!!!"))
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"no id", map[string]string{"HERALD_MASTER_KEYS": base64.StdEncoding.EncodeToString(k1.Secret)}, "HERALD_MASTER_KEYS: seal: bad key: want id:base64-of-32-bytes"},
		{"short", map[string]string{"HERALD_MASTER_KEYS": short}, `HERALD_MASTER_KEYS: seal: bad key: key "k3" has 16 bytes, want 32`},
		{"not base64", map[string]string{"HERALD_MASTER_KEYS": "k4:???"}, `key "k4": the part after the colon is not base64`},
		{"bad id", map[string]string{"HERALD_MASTER_KEYS": "a b:" + base64.StdEncoding.EncodeToString(k1.Secret)}, "may hold only letters"},
		{"duplicate", map[string]string{"HERALD_MASTER_KEYS": k1.String() + "," + k1.String()}, `master-keys: seal: bad key: key ID "k1" is given twice`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(t, nil, tc.env)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want mention of %q", err, tc.want)
			}
			if strings.Contains(err.Error(), base64.StdEncoding.EncodeToString(k1.Secret)) {
				t.Fatalf("error %v repeats the key", err)
			}
		})
	}
}

// TestLimitOptions: the limits' defaults, that each is read like every
// option, and that bad values are refused naming the option.
func TestLimitOptions(t *testing.T) {
	d := Default()
	if d.MaxConnections != 0 || d.MaxConnectionsPerIP != 0 || d.MaxUnauthenticated != 0 || d.MaxUnauthenticatedPerIP != 100 ||
		d.UserMessageRate != 20 || d.UserMessageBurst != 40 || d.AppMessageRate != 0 || d.RESTRate != 50 || d.RESTBurst != 100 ||
		len(d.TrustedProxies) != 0 || d.MaxSessionsPerUser != 100 {
		t.Fatalf("defaults %+v", d)
	}
	dir := t.TempDir()
	yml := filepath.Join(dir, "l.yaml")
	_ = os.WriteFile(yml, []byte("trusted_proxies: [10.0.0.0/8, \"::1\"]\nmax_unauthenticated: 7\napp_message_rate: 2.5\napp_message_burst: 5\n"), 0o600)
	c, err := load(t, []string{"--config", yml, "--max-connections", "1000", "--user-message-rate", "0.5", "--max-sessions-per-user", "0"},
		map[string]string{"HERALD_MAX_CONNECTIONS_PER_IP": "9", "HERALD_REST_BURST": "3", "HERALD_TRUSTED_PROXIES": "192.0.2.1, 2001:db8::/32"})
	if err != nil {
		t.Fatal(err)
	}
	if c.MaxConnections != 1000 || c.MaxConnectionsPerIP != 9 || c.MaxUnauthenticated != 7 || c.UserMessageRate != 0.5 ||
		c.AppMessageRate != 2.5 || c.AppMessageBurst != 5 || c.RESTBurst != 3 || c.MaxSessionsPerUser != 0 ||
		strings.Join(c.TrustedProxies, "|") != "192.0.2.1|2001:db8::/32" {
		t.Fatalf("read %+v", c)
	}
	if c, err := load(t, []string{"--config", yml}, nil); err != nil || strings.Join(c.TrustedProxies, "|") != "10.0.0.0/8|::1" {
		t.Fatalf("trusted-proxies from the file: %q %v", c.TrustedProxies, err)
	}
	bad := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"proxy not an address", []string{"--trusted-proxies", "proxy.example.com"}, nil, `trusted proxy "proxy.example.com" is not a CIDR`},
		{"proxy host bits", nil, map[string]string{"HERALD_TRUSTED_PROXIES": "10.1.2.3/8"}, "HERALD_TRUSTED_PROXIES: trusted proxy \"10.1.2.3/8\" has host bits set: did you mean 10.0.0.0/8?"},
		{"proxy empty item", []string{"--trusted-proxies", "10.0.0.0/8,,::1"}, nil, "empty item"},
		{"negative max-connections", []string{"--max-connections", "-1"}, nil, "max-connections must not be negative"},
		{"negative per ip", []string{"--max-connections-per-ip", "-5"}, nil, "max-connections-per-ip must not be negative"},
		{"negative unauthenticated", nil, map[string]string{"HERALD_MAX_UNAUTHENTICATED": "-1"}, "max-unauthenticated must not be negative"},
		{"negative unauthenticated per ip", []string{"--max-unauthenticated-per-ip", "-1"}, nil, "max-unauthenticated-per-ip must not be negative"},
		{"not a number", []string{"--max-connections", "lots"}, nil, "invalid argument"},
		{"negative rate", []string{"--user-message-rate", "-1"}, nil, "user-message-rate must be a number"},
		{"NaN rate", nil, map[string]string{"HERALD_APP_MESSAGE_RATE": "NaN"}, "app-message-rate must be a number"},
		{"infinite rate", []string{"--rest-rate", "+Inf"}, nil, "rest-rate must be a number"},
		{"rate without burst", []string{"--app-message-rate", "10"}, nil, "app-message-burst must be at least 1 when app-message-rate is set"},
		{"zero burst", []string{"--user-message-burst", "0"}, nil, "user-message-burst must be at least 1"},
		{"negative burst", []string{"--rest-burst", "-2"}, nil, "rest-burst must not be negative"},
		{"negative sessions per user", []string{"--max-sessions-per-user", "-1"}, nil, "max-sessions-per-user must not be negative"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(t, tc.args, tc.env)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want mention of %q", err, tc.want)
			}
		})
	}
	// A rate of 0 turns a limit off; its burst may then be 0.
	if _, err := load(t, []string{"--user-message-rate", "0", "--user-message-burst", "0", "--rest-rate", "0", "--rest-burst", "0"}, nil); err != nil {
		t.Fatalf("limits off: %v", err)
	}
	c = Default()
	c.TrustedProxies = []string{"nonsense"}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "trusted-proxies") {
		t.Fatalf("Validate: %v", err)
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

func TestStoreOption(t *testing.T) {
	c, err := load(t, nil, nil)
	if err != nil || c.Store != "" || c.StorePostgres() {
		t.Fatalf("default: %q %v (want SQLite)", c.Store, err)
	}
	file := filepath.Join(t.TempDir(), "herald.yaml")
	if err := os.WriteFile(file, []byte("store: postgres://h/db\nstore_max_conns: 8\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err = load(t, []string{"--config", file}, nil)
	if err != nil || !c.StorePostgres() || c.Store != "postgres://h/db" || c.StoreMaxConns != 8 {
		t.Fatalf("file: %q %d %v", c.Store, c.StoreMaxConns, err)
	}
	c, err = load(t, nil, map[string]string{"HERALD_STORE": "postgresql://h/other"})
	if err != nil || !c.StorePostgres() {
		t.Fatalf("env: %q %v", c.Store, err)
	}
}

// TestBusNeedsSharedStore: --bus alone is refused (each node would have
// its own SQLite database); with a postgres:// store it is taken, from a
// flag, the environment or the file.
func TestBusNeedsSharedStore(t *testing.T) {
	if _, err := load(t, []string{"--bus", "nats://127.0.0.1:4222"}, nil); err == nil || !strings.Contains(err.Error(), "bus needs a shared store") {
		t.Fatalf("bus without store: err = %v", err)
	}
	if _, err := load(t, []string{"--bus", "http://x", "--store", "postgres://db/h"}, nil); err == nil || !strings.Contains(err.Error(), "nats://") {
		t.Fatalf("bus of another scheme: err = %v", err)
	}
	c, err := load(t, nil, map[string]string{"HERALD_BUS": "nats://n:4222", "HERALD_STORE": "postgres://db/h"})
	if err != nil || c.Bus != "nats://n:4222" || c.Store != "postgres://db/h" {
		t.Fatalf("from the environment: %+v, %v", c.Bus, err)
	}
	f := filepath.Join(t.TempDir(), "h.yaml")
	if err := os.WriteFile(f, []byte("bus: nats://f:4222\nstore: postgres://db/h\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err = load(t, []string{"--config", f}, nil)
	if err != nil || c.Bus != "nats://f:4222" {
		t.Fatalf("from the file: %q, %v", c.Bus, err)
	}
}

// TestBusPrefix: the bus's subject prefix is one subject token, from the
// flag, the environment or the file.
// TestBusPrefixSources: bus-prefix comes from the environment and the
// file like every option, and a prefix that is not one subject token is
// refused.
func TestBusPrefixSources(t *testing.T) {
	base := []string{"--bus", "nats://n:4222", "--store", "postgres://db/h"}
	for _, bad := range []string{"a.b", "a b", "a*", ">", strings.Repeat("p", 65)} {
		if _, err := load(t, append(base, "--bus-prefix", bad), nil); err == nil || !strings.Contains(err.Error(), "bus-prefix") {
			t.Fatalf("bus-prefix %q: err = %v", bad, err)
		}
	}
	c, err := load(t, base, map[string]string{"HERALD_BUS_PREFIX": "blue"})
	if err != nil || c.BusPrefix != "blue" {
		t.Fatalf("from the environment: %q, %v", c.BusPrefix, err)
	}
	f := filepath.Join(t.TempDir(), "h.yaml")
	if err := os.WriteFile(f, []byte("bus_prefix: green\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if c, err = load(t, append(base, "--config", f), nil); err != nil || c.BusPrefix != "green" {
		t.Fatalf("from the file: %q, %v", c.BusPrefix, err)
	}
	if c, err = load(t, base, nil); err != nil || c.BusPrefix != "herald" {
		t.Fatalf("default: %q, %v", c.BusPrefix, err)
	}
}

// TestNodeID: a node given no ID gets the host name and a random suffix,
// different in each process; a given one is kept.
func TestNodeID(t *testing.T) {
	a, err := load(t, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := load(t, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	if !strings.HasPrefix(a.NodeID, host+"-") || len(a.NodeID) != len(host)+7 || a.NodeID == b.NodeID {
		t.Fatalf("default node IDs %q and %q", a.NodeID, b.NodeID)
	}
	c, err := load(t, nil, map[string]string{"HERALD_NODE_ID": "eu-1"})
	if err != nil || c.NodeID != "eu-1" {
		t.Fatalf("node ID from the environment: %q %v", c.NodeID, err)
	}
}
