// Package config holds the server's configuration: one typed struct with
// defaults in code, filled from a YAML file, HERALD_* environment variables
// and command-line flags, in that order of increasing precedence. Every
// option has one name: flag --heartbeat-interval, env
// HERALD_HEARTBEAT_INTERVAL, file key heartbeat_interval.
package config

import (
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"os"
	"strings"
	"time"
	"unicode"

	"github.com/jonboulle/clockwork"
	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"

	"github.com/heraldim/herald/internal/clientip"
	"github.com/heraldim/herald/internal/seal"
)

// Config is the server's configuration. Zero values are not meaningful: use
// Default and then Bind/Load.
type Config struct {
	// Addr is the HTTP listen address (WebSocket at /v1/ws, /healthz, /readyz,
	// /metrics). Default 127.0.0.1:8080: local only until exposed on purpose.
	Addr string
	// DataDir holds the embedded database and the development app's
	// credentials. Default ./herald-data.
	DataDir string
	// Durability is "process" (default: an acknowledged message survives the
	// server process being killed) or "power" (it also survives power loss:
	// every commit is synced to disk; group commit shares one sync among many
	// messages).
	Durability string
	// Store selects the database: empty (default) is the embedded SQLite
	// database in DataDir; a postgres:// (or postgresql://) URL is a
	// PostgreSQL database that several nodes may share.
	Store string
	// StoreMaxConns caps the PostgreSQL connection pool (writes and reads);
	// zero means sqlstore.DefaultMaxConns (16). Unused on SQLite.
	StoreMaxConns int
	// HeartbeatInterval is how often clients send a heartbeat, told to them at
	// login. Default 10 s, as the seed's SDK beats.
	HeartbeatInterval time.Duration
	// OfflineAfter ends a session from which nothing was heard for this long.
	// Default 35 s: three beats of 10 s plus 5 s of slack, so two lost beats
	// and a slow network do not drop a live client, while a frozen or killed
	// app is offline (and gets pushes) within about half a minute.
	OfflineAfter time.Duration
	// WeakPushAfter pushes a message with a push config to the device of a
	// live session that has not acknowledged it after this long (the
	// weak-network push). Default 5 s: a healthy client acknowledges
	// within a round trip, and a user on a failing network sees the
	// notification a few seconds after the message; zero disables it.
	WeakPushAfter time.Duration
	// LoginTimeout closes a connection that has not logged in by then.
	// Default 10 s.
	LoginTimeout time.Duration
	// TokenWarnBefore is how long before its token expires a session gets the
	// tokenWillExpire event. Default 30 s, as the seed's SDK warns.
	TokenWarnBefore time.Duration
	// TokenLeeway is the clock skew tolerated between the app's backend that
	// mints tokens and this server, on a token's issue and expiry times; a
	// session ends this long after its token expired. Default 30 s.
	TokenLeeway time.Duration
	// RevokeWindow is how long after sending a message its sender may
	// revoke it (a group's owner and admins, and the server API, any
	// time). Default 2 min, ZIM's documented default.
	RevokeWindow time.Duration
	// MultiLogin is the kick policy: "platform" (default: one session per user
	// and platform; a new login kicks the old one), "single" (one session per
	// user) or "multi" (no kicks). Sessions of platform "server" (backends,
	// scripts) are never kicked and never kick.
	MultiLogin string
	// SendQueue is the number of frames a session may have waiting to be
	// written before lower priorities are shed and, failing that, the
	// session is closed as slow. Default 1024.
	SendQueue int
	// WriteTimeout closes a session as slow when one frame cannot be written
	// within it. Default 10 s.
	WriteTimeout time.Duration
	// WSTransport is how the WebSocket connections are read: "events"
	// (default: one poller for every connection, no goroutine while a
	// session is idle; Linux and plain connections, otherwise as
	// "goroutine") or "goroutine" (a reading goroutine per session).
	WSTransport string
	// CommitBatch is the most messages committed in one transaction. Default
	// 512: large enough to amortise a commit, small enough to bound latency.
	CommitBatch int
	// MaxGroupMembers is the most members a group may have. Default 10000.
	MaxGroupMembers int
	// PushConcurrency is the most pushes in flight per vendor. Default 64.
	PushConcurrency int
	// ShutdownGrace is how long a shutdown waits for sessions to be told to
	// reconnect and for in-flight commits to finish. Default 10 s.
	ShutdownGrace time.Duration
	// PushDrain bounds how long a graceful stop lets the pushes already
	// with a vendor finish (their outcomes recorded, so none is sent again
	// after the restart); those still in flight then are cancelled and
	// retried after the next start. Default 10 s: vendors answer in well
	// under a second, and a provider's own timeout is 15 s. The stop's
	// ShutdownGrace deadline bounds it too: the drain never outlasts the
	// grace.
	PushDrain time.Duration
	// PushLease is how long a claimed push job is this node's alone
	// (push.DispatcherConfig.Lease): it must outlast one vendor attempt,
	// and it is how long the jobs of a node that died wait before another
	// node sends them. Default 2 min.
	PushLease time.Duration
	// NodeNumber distinguishes nodes in message IDs (0-1023). Default 0.
	NodeNumber int
	// NodeID names this node among the nodes sharing a store: the owner
	// of the push jobs it claims (their leases), so it must differ per
	// running node. Empty (the default): the host name, "-" and 6 random
	// hex digits, drawn at start (see DefaultNodeID), which differs even
	// between two processes on one host.
	NodeID string
	// Bus is the NATS server of a cluster (nats://host:4222, several
	// comma-separated): live deliveries, presence, kicks and cache
	// invalidations go between the nodes through it. Empty (the
	// default): one node, everything in process. It needs a shared
	// store (Store postgres://...): nodes with a database each would not
	// see each other's messages.
	Bus string
	// BusPrefix is the first token of every subject the node uses on the
	// bus (bus.Config.Prefix). Default "herald"; clusters sharing one
	// NATS server need distinct prefixes.
	BusPrefix string
	// LogLevel is debug, info (default), warn or error.
	LogLevel string
	// LogFormat is text (default) or json.
	LogFormat string
	// AllowedOrigins lists the browser origins, besides the server's own,
	// that may open the WebSocket: host[:port] patterns with path.Match
	// wildcards ("app.example.com", "*.example.com", "localhost:5173"),
	// matched case-insensitively against the Origin header's host. A
	// request without an Origin header (native apps, servers) is never
	// refused, nor one whose Origin host equals its Host (same origin).
	// "*" alone lets any origin connect (start-up then warns). Default
	// empty: same-origin browsers only. See OriginPatternError.
	AllowedOrigins []string
	// MasterKeys are the key-encryption keys that seal the secrets stored
	// in the database (apps' secrets and admin keys, vendor credentials),
	// each "id:base64-of-32-bytes"; the first seals, every one opens (list
	// a new key first and keep the old one after it to rotate). Give them
	// from a secret store through HERALD_MASTER_KEYS or the file rather
	// than as a flag, which any local user sees in the process list.
	// Default empty: a key generated at first start into the data
	// directory (master.key), which protects copies of the database only.
	MasterKeys []string
	// WebhookRetryBase is the first retry's delay of a failed webhook
	// delivery; each further retry doubles it (jittered, capped at 6 h).
	// Default 1 min: with WebhookMaxAttempts 12, about 20 hours of retries.
	WebhookRetryBase time.Duration
	// WebhookMaxAttempts is how many deliveries a webhook event gets
	// before it is dead (kept, listed). Default 12.
	WebhookMaxAttempts int
	// WebhookTimeout bounds one webhook delivery. Default 10 s.
	WebhookTimeout time.Duration
	// AdminAddr, when set, is a second listen address that serves the
	// admin API and /metrics (and /healthz, /readyz); Addr then serves only
	// the WebSocket and the health checks. Default empty: everything on
	// Addr.
	AdminAddr string
	// TLSCert and TLSKey are PEM files of the certificate (chain) and its
	// private key: both set, Addr and AdminAddr serve HTTPS and WSS (TLS
	// 1.2 or later). They are read again on SIGHUP and when they change on
	// disk; a new pair that does not load keeps the old one. Default empty:
	// plain HTTP (behind a TLS-terminating proxy, or local).
	TLSCert string
	TLSKey  string
	// TLSReloadInterval is how often the certificate files are checked for
	// changes (modification time and size). Default 10 s; 0: only SIGHUP
	// reloads them.
	TLSReloadInterval time.Duration
	// WriteProbeInterval is how often the store makes a small write when
	// nothing else wrote, and retries while writes fail, so that /readyz
	// notices a failing disk without traffic and recovers by itself.
	// Default 5 s.
	WriteProbeInterval time.Duration
	// TrustedProxies lists the reverse proxies (CIDRs or addresses) whose
	// X-Forwarded-For / X-Real-IP headers name the client: the per-IP
	// limits count a connection under the address a trusted peer reports
	// (the rightmost X-Forwarded-For hop that is not itself trusted), and
	// under the socket's peer otherwise; a header from any other peer is
	// ignored, so a client cannot choose its address. Default empty: no
	// header is believed. See clientip.ParsePrefix.
	TrustedProxies []string
	// MaxConnections caps the open WebSocket connections, logged in or
	// not. Default 0: derived at start from the file-descriptor limit
	// (RLIMIT_NOFILE) n as n - (256 + n/20), leaving descriptors for the
	// store, push vendors, /healthz, /readyz, /metrics and the admin API
	// (see limit.FromFileLimit).
	MaxConnections int
	// MaxConnectionsPerIP caps the open connections from one client
	// address. Default 0: no cap (a carrier-grade NAT puts thousands of
	// phones behind one address).
	MaxConnectionsPerIP int
	// MaxUnauthenticated caps the connections that have not logged in
	// yet. Default 0: a quarter of MaxConnections, so that idle sockets
	// can never take the places of logged-in users.
	MaxUnauthenticated int
	// MaxUnauthenticatedPerIP caps the connections from one client
	// address that have not logged in yet. Default 100: a login takes a
	// round trip, so even a large NAT rarely has that many at once. 0: no
	// cap.
	MaxUnauthenticatedPerIP int
	// UserMessageRate is the messages per second one user may send on
	// average, shared by the user's sessions on this node; UserMessageBurst
	// is how many at once. Default 20/s, burst 40: far above typing, room
	// for a client flushing its outbox after a reconnect. Rate 0: no limit.
	UserMessageRate  float64
	UserMessageBurst int
	// AppMessageRate and AppMessageBurst are the same for all the users of
	// one app together. Default 0: no limit.
	AppMessageRate  float64
	AppMessageBurst int
	// RESTRate and RESTBurst limit one app's admin REST requests. Default
	// 50/s, burst 100: a backend's bulk job fits, a runaway loop does not.
	// Rate 0: no limit.
	RESTRate  float64
	RESTBurst int
	// MaxSessionsPerUser caps one user's logged-in sessions on this node,
	// counted after the kicks of multi-login; a login over it fails with
	// too_many_sessions. Default 100: far above a person's devices and
	// tabs, and it stops a leaked token from holding thousands of
	// sessions. 0: no cap.
	MaxSessionsPerUser int

	// OperatorKey authenticates the operator's API (/v1/admin/apps:
	// creating, rotating, disabling and deleting apps) as a bearer key.
	// Empty (the default): the server generates one at first start, saves
	// it in the data directory (operator-key, mode 0600) and prints it
	// once. At least 24 characters when set.
	OperatorKey string

	// Clock is not an option (no flag, variable or file key): the clock of
	// the server's deadlines, passed by server.New to the gateway
	// (heartbeats, login timeout, token expiry), the messaging core (token
	// checks), calls (ring deadlines and their timer), the push dispatcher
	// (due times, backoff, expiry), webhooks (retries) and the rate limits,
	// so that tests advance a fake clock (clockwork.FakeClock) instead of
	// sleeping. Nil: the real clock.
	//
	// I/O timeouts that guard the network stay on real time whatever the
	// clock: socket write deadlines, HTTP client timeouts to vendors and
	// webhooks, the close handshake's bound, and the pollers' and
	// flushers' tickers (the push dispatcher's and the webhook loop's
	// polls, at most a Poll apart, which only look at what the clock says
	// is due: after advancing a fake clock a retry goes out by the next
	// poll).
	Clock clockwork.Clock
}

// Default returns the configuration with every default filled in.
func Default() Config {
	return Config{
		Addr:              "127.0.0.1:8080",
		DataDir:           "./herald-data",
		Durability:        "process",
		HeartbeatInterval: 10 * time.Second,
		OfflineAfter:      35 * time.Second,
		WeakPushAfter:     5 * time.Second,
		LoginTimeout:      10 * time.Second,
		TokenWarnBefore:   30 * time.Second,
		TokenLeeway:       30 * time.Second,
		RevokeWindow:      2 * time.Minute,
		MultiLogin:        "platform",
		SendQueue:         1024,
		WriteTimeout:      10 * time.Second,
		WSTransport:       "events",
		CommitBatch:       512,
		MaxGroupMembers:   10000,
		PushConcurrency:   64,
		ShutdownGrace:     10 * time.Second,
		PushDrain:         10 * time.Second,
		PushLease:         2 * time.Minute, // push.DefaultLease
		BusPrefix:         "herald",
		NodeNumber:        0,
		LogLevel:          "info",
		LogFormat:         "text",

		WebhookRetryBase:        time.Minute,
		WebhookMaxAttempts:      12,
		WebhookTimeout:          10 * time.Second,
		TLSReloadInterval:       10 * time.Second,
		WriteProbeInterval:      5 * time.Second,
		MaxUnauthenticatedPerIP: 100,
		UserMessageRate:         20,
		UserMessageBurst:        40,
		RESTRate:                50,
		RESTBurst:               100,
		MaxSessionsPerUser:      100,
	}
}

// Bind defines one flag per option on fs, with c's values as defaults, and
// a --config flag for the YAML file. After fs is parsed, call Load.
func (c *Config) Bind(fs *pflag.FlagSet) {
	fs.String("config", "", "YAML configuration file (keys as flag names with _ for -)")
	fs.StringVar(&c.Addr, "addr", c.Addr, "listen address for WebSocket and HTTP")
	fs.StringVar(&c.DataDir, "data", c.DataDir, "data directory (embedded database, dev app credentials)")
	fs.StringVar(&c.Store, "store", c.Store, `database: empty for the embedded SQLite database in the data directory, or a postgres:// URL`)
	fs.IntVar(&c.StoreMaxConns, "store-max-conns", c.StoreMaxConns, "PostgreSQL pool size (0: 16)")
	fs.StringVar(&c.Durability, "durability", c.Durability, `"process": commits survive a killed process; "power": also power loss (fsync per group commit)`)
	fs.DurationVar(&c.HeartbeatInterval, "heartbeat-interval", c.HeartbeatInterval, "client heartbeat interval")
	fs.DurationVar(&c.OfflineAfter, "offline-after", c.OfflineAfter, "end a session silent for this long")
	fs.DurationVar(&c.WeakPushAfter, "weak-push-after", c.WeakPushAfter, "push a message a live session has not acknowledged for this long to its device (0: never)")
	fs.DurationVar(&c.LoginTimeout, "login-timeout", c.LoginTimeout, "close connections that do not log in within this")
	fs.DurationVar(&c.TokenWarnBefore, "token-warn-before", c.TokenWarnBefore, "send tokenWillExpire this long before expiry")
	fs.DurationVar(&c.TokenLeeway, "token-leeway", c.TokenLeeway, "clock skew tolerated on token times")
	fs.DurationVar(&c.RevokeWindow, "revoke-window", c.RevokeWindow, "how long after sending a message its sender may revoke it")
	fs.StringVar(&c.MultiLogin, "multi-login", c.MultiLogin, `kick policy: "platform", "single" or "multi"`)
	fs.IntVar(&c.SendQueue, "send-queue", c.SendQueue, "frames queued per session before shedding / slow close")
	fs.DurationVar(&c.WriteTimeout, "write-timeout", c.WriteTimeout, "close a session whose frame cannot be written within this")
	fs.StringVar(&c.WSTransport, "ws-transport", c.WSTransport, `how WebSocket connections are read: "events" (no goroutine per idle session; Linux, plain connections) or "goroutine"`)
	fs.IntVar(&c.CommitBatch, "commit-batch", c.CommitBatch, "most messages per commit transaction")
	fs.IntVar(&c.MaxGroupMembers, "max-group-members", c.MaxGroupMembers, "most members of a group")
	fs.IntVar(&c.PushConcurrency, "push-concurrency", c.PushConcurrency, "most pushes in flight per vendor")
	fs.DurationVar(&c.ShutdownGrace, "shutdown-grace", c.ShutdownGrace, "time given to a graceful shutdown")
	fs.DurationVar(&c.PushDrain, "push-drain", c.PushDrain, "time a graceful stop lets pushes in flight finish (bounded by shutdown-grace too)")
	fs.DurationVar(&c.PushLease, "push-lease", c.PushLease, "how long a claimed push job is this node's alone; a dead node's jobs are sent by another after it (at least 1s)")
	fs.IntVar(&c.NodeNumber, "node-number", c.NodeNumber, "node number in message IDs (0-1023)")
	fs.StringVar(&c.NodeID, "node-id", c.NodeID, "this node's name among the nodes sharing a store, distinct per node (default: host name-6 random hex digits)")
	fs.StringVar(&c.Bus, "bus", c.Bus, "NATS URL of a cluster's bus (nats://host:4222; empty: one node); needs --store postgres://...")
	fs.StringVar(&c.BusPrefix, "bus-prefix", c.BusPrefix, "first token of the bus's subjects, the same on a cluster's nodes, distinct per cluster sharing a NATS server (A-Z a-z 0-9 _ -)")
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "debug, info, warn or error")
	fs.StringVar(&c.LogFormat, "log-format", c.LogFormat, "text or json")
	fs.Var(&listValue{p: &c.AllowedOrigins, check: CheckOriginPattern}, "allowed-origins",
		`browser origins allowed besides the server's own, comma-separated host[:port] patterns ("*.example.com,localhost:5173"; "*": any)`)
	fs.Var(&listValue{p: &c.MasterKeys, check: checkMasterKey}, "master-keys",
		`keys sealing the stored secrets, comma-separated id:base64-of-32-bytes, the first sealing (default: a key generated into the data directory); prefer HERALD_MASTER_KEYS`)
	fs.DurationVar(&c.WebhookRetryBase, "webhook-retry-base", c.WebhookRetryBase, "first retry delay of a failed webhook delivery (doubles per retry, capped at 6h)")
	fs.IntVar(&c.WebhookMaxAttempts, "webhook-max-attempts", c.WebhookMaxAttempts, "deliveries a webhook event gets before it is dead")
	fs.DurationVar(&c.WebhookTimeout, "webhook-timeout", c.WebhookTimeout, "time one webhook delivery may take")
	fs.StringVar(&c.AdminAddr, "admin-addr", c.AdminAddr, "separate listen address for the admin API and /metrics (empty: served on --addr)")
	fs.StringVar(&c.TLSCert, "tls-cert", c.TLSCert, "PEM certificate (chain) file: serve HTTPS/WSS (with --tls-key)")
	fs.StringVar(&c.TLSKey, "tls-key", c.TLSKey, "PEM private key file of --tls-cert")
	fs.DurationVar(&c.TLSReloadInterval, "tls-reload-interval", c.TLSReloadInterval, "how often the TLS files are checked for changes (0: on SIGHUP only)")
	fs.DurationVar(&c.WriteProbeInterval, "write-probe-interval", c.WriteProbeInterval, "period of the store's write probe when idle or failing")
	fs.Var(&listValue{p: &c.TrustedProxies, check: checkTrustedProxy}, "trusted-proxies",
		"reverse proxies whose X-Forwarded-For/X-Real-IP name the client, comma-separated CIDRs or IPs")
	fs.IntVar(&c.MaxConnections, "max-connections", c.MaxConnections, "most open WebSocket connections (0: from the file-descriptor limit)")
	fs.IntVar(&c.MaxConnectionsPerIP, "max-connections-per-ip", c.MaxConnectionsPerIP, "most open connections from one client address (0: no cap)")
	fs.IntVar(&c.MaxUnauthenticated, "max-unauthenticated", c.MaxUnauthenticated, "most connections not logged in yet (0: a quarter of max-connections)")
	fs.IntVar(&c.MaxUnauthenticatedPerIP, "max-unauthenticated-per-ip", c.MaxUnauthenticatedPerIP, "most connections not logged in yet from one client address (0: no cap)")
	fs.Float64Var(&c.UserMessageRate, "user-message-rate", c.UserMessageRate, "messages per second per user (0: no limit)")
	fs.IntVar(&c.UserMessageBurst, "user-message-burst", c.UserMessageBurst, "messages a user may send at once")
	fs.Float64Var(&c.AppMessageRate, "app-message-rate", c.AppMessageRate, "messages per second per app (0: no limit)")
	fs.IntVar(&c.AppMessageBurst, "app-message-burst", c.AppMessageBurst, "messages an app's users may send at once")
	fs.Float64Var(&c.RESTRate, "rest-rate", c.RESTRate, "admin REST requests per second per app (0: no limit)")
	fs.IntVar(&c.RESTBurst, "rest-burst", c.RESTBurst, "admin REST requests an app may make at once")
	fs.IntVar(&c.MaxSessionsPerUser, "max-sessions-per-user", c.MaxSessionsPerUser, "most logged-in sessions of one user on this node (0: no cap)")
	fs.StringVar(&c.OperatorKey, "operator-key", c.OperatorKey, "bearer key of the operator API /v1/admin (empty: generated at first start into the data directory's operator-key file)")
}

// checkMasterKey refuses a master key that is not id:base64-of-32-bytes;
// the error never repeats the key material.
func checkMasterKey(s string) error {
	_, err := seal.ParseKey(s)
	return err
}

// Keyring returns the keyring of the MasterKeys, the first being the
// primary; nil when none is configured.
func (c *Config) Keyring() (*seal.Keyring, error) {
	if len(c.MasterKeys) == 0 {
		return nil, nil
	}
	keys := make([]seal.Key, len(c.MasterKeys))
	for i, s := range c.MasterKeys {
		k, err := seal.ParseKey(s)
		if err != nil {
			return nil, fmt.Errorf("master-keys: item %d: %w", i+1, err)
		}
		keys[i] = k
	}
	r, err := seal.NewKeyring(keys...)
	if err != nil {
		return nil, fmt.Errorf("master-keys: %w", err)
	}
	return r, nil
}

func checkTrustedProxy(s string) error {
	_, err := clientip.ParsePrefix(s)
	return err
}

// Load fills every option that was not given as a flag from the environment
// (HERALD_NAME) or else from the YAML file named by --config or
// HERALD_CONFIG, then validates the result. lookupEnv is os.LookupEnv in
// production and a map in tests.
func (c *Config) Load(fs *pflag.FlagSet, lookupEnv func(string) (string, bool)) error {
	file := map[string]fileValue{}
	path, _ := fs.GetString("config")
	if path == "" {
		path, _ = lookupEnv("HERALD_CONFIG")
	}
	if path != "" {
		var err error
		if file, err = readFile(path); err != nil {
			return err
		}
	}
	known := map[string]bool{}
	var errs []error
	fs.VisitAll(func(f *pflag.Flag) {
		key := strings.ReplaceAll(f.Name, "-", "_")
		known[key] = true
		if f.Name == "config" || f.Changed {
			return
		}
		env := "HERALD_" + strings.ToUpper(key)
		if v, ok := lookupEnv(env); ok {
			if err := f.Value.Set(v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", env, err))
			}
			return
		}
		if v, ok := file[key]; ok {
			if _, isList := f.Value.(*listValue); v.list && !isList {
				errs = append(errs, fmt.Errorf("%s: option %q must be a scalar", path, key))
				return
			}
			if err := f.Value.Set(v.s); err != nil {
				errs = append(errs, fmt.Errorf("%s: %s: %w", path, key, err))
			}
		}
	})
	for k := range file {
		if !known[k] {
			errs = append(errs, fmt.Errorf("%s: unknown option %q", path, k))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("config: %w", errors.Join(errs...))
	}
	if c.NodeID == "" {
		c.NodeID = DefaultNodeID() // drawn once, at start
	}
	return c.Validate()
}

// fileValue is one option as the YAML file gives it: a scalar, or a list
// of scalars joined with commas (for list options only).
type fileValue struct {
	s    string
	list bool
}

func readFile(path string) (map[string]fileValue, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	var raw map[string]any
	if err := yaml.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("config: %s: %w", path, err)
	}
	out := make(map[string]fileValue, len(raw))
	for k, v := range raw {
		var fv fileValue
		switch v := v.(type) {
		case map[string]any:
			return nil, fmt.Errorf("config: %s: option %q must be a scalar", path, k)
		case []any:
			items := make([]string, len(v))
			for i, it := range v {
				switch it.(type) {
				case map[string]any, []any:
					return nil, fmt.Errorf("config: %s: option %q must be a list of scalars", path, k)
				}
				items[i] = fmt.Sprint(it)
			}
			fv = fileValue{s: strings.Join(items, ","), list: true}
		default:
			fv = fileValue{s: fmt.Sprint(v)}
		}
		out[strings.ReplaceAll(k, "-", "_")] = fv
	}
	return out, nil
}

// listValue is a list option: comma-separated as a flag or env value, a
// YAML list or comma-separated string in the file. Spaces around items
// are dropped; an empty value is the empty list. The first Set replaces
// the default; a flag given again adds to the list. check, when set,
// refuses a bad item at once, so that the error names the flag, variable
// or file that gave it.
type listValue struct {
	p     *[]string
	check func(string) error
	set   bool
}

func (v *listValue) String() string {
	if v.p == nil {
		return ""
	}
	return strings.Join(*v.p, ",")
}

func (v *listValue) Set(s string) error {
	var out []string
	if v.set {
		out = *v.p
	}
	v.set = true
	if strings.TrimSpace(s) == "" {
		*v.p = out
		return nil
	}
	parts := strings.Split(s, ",")
	for _, p := range parts {
		p = strings.TrimSpace(p)
		if p == "" {
			return fmt.Errorf("empty item in list %q", s)
		}
		if v.check != nil {
			if err := v.check(p); err != nil {
				return err
			}
		}
		out = append(out, p)
	}
	*v.p = out
	return nil
}

func (v *listValue) Type() string { return "strings" }

// Validate checks every option's range and the relations between them.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.Addr == "" {
		bad("addr must not be empty")
	}
	if c.DataDir == "" {
		bad("data must not be empty")
	}
	if c.Durability != "process" && c.Durability != "power" {
		bad(`durability must be "process" or "power", not %q`, c.Durability)
	}
	if c.Store != "" && !c.StorePostgres() {
		bad(`store must be empty (SQLite in the data directory) or a postgres:// URL, not %q`, redactStore(c.Store))
	}
	if c.StoreMaxConns < 0 {
		bad("store-max-conns must not be negative, not %d", c.StoreMaxConns)
	}
	if c.HeartbeatInterval < time.Second {
		bad("heartbeat-interval must be at least 1s")
	}
	if c.OfflineAfter < 2*c.HeartbeatInterval {
		bad("offline-after (%s) must be at least twice heartbeat-interval (%s)", c.OfflineAfter, c.HeartbeatInterval)
	}
	if c.WeakPushAfter < 0 {
		bad("weak-push-after must not be negative")
	}
	if c.LoginTimeout <= 0 {
		bad("login-timeout must be positive")
	}
	if c.TokenWarnBefore < 0 {
		bad("token-warn-before must not be negative")
	}
	if c.RevokeWindow <= 0 {
		bad("revoke-window must be positive")
	}
	if c.TokenLeeway < 0 || c.TokenLeeway > 10*time.Minute {
		bad("token-leeway must be 0 to 10m")
	}
	switch c.MultiLogin {
	case "platform", "single", "multi":
	default:
		bad(`multi-login must be "platform", "single" or "multi", not %q`, c.MultiLogin)
	}
	if c.SendQueue < 16 {
		bad("send-queue must be at least 16")
	}
	if c.WriteTimeout <= 0 {
		bad("write-timeout must be positive")
	}
	switch c.WSTransport {
	case "events", "goroutine":
	default:
		bad(`ws-transport must be "events" or "goroutine", not %q`, c.WSTransport)
	}
	if c.CommitBatch < 1 || c.CommitBatch > 10000 {
		bad("commit-batch must be 1 to 10000")
	}
	if c.MaxGroupMembers < 2 || c.MaxGroupMembers > 100000 {
		bad("max-group-members must be 2 to 100000")
	}
	if c.PushConcurrency < 1 || c.PushConcurrency > 1024 {
		bad("push-concurrency must be 1 to 1024")
	}
	if c.ShutdownGrace <= 0 {
		bad("shutdown-grace must be positive")
	}
	if c.PushDrain <= 0 {
		bad("push-drain must be positive")
	}
	if c.PushLease < time.Second {
		bad("push-lease must be at least 1s, not %v", c.PushLease)
	}
	if c.NodeNumber < 0 || c.NodeNumber > 1023 {
		bad("node-number must be 0 to 1023")
	}
	if len(c.NodeID) > 128 || strings.ContainsFunc(c.NodeID, unicode.IsSpace) {
		bad("node-id must be at most 128 characters without spaces, not %q", c.NodeID)
	}
	if c.Bus != "" && !c.StorePostgres() {
		bad("bus needs a shared store: set store to a postgres:// URL (with the embedded SQLite store each node would have its own messages)")
	}
	if c.Bus != "" && !strings.HasPrefix(c.Bus, "nats://") && !strings.HasPrefix(c.Bus, "tls://") {
		bad("bus must be a nats:// or tls:// URL")
	}
	if c.BusPrefix == "" || len(c.BusPrefix) > 64 || strings.ContainsFunc(c.BusPrefix, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-')
	}) {
		bad("bus-prefix must be 1 to 64 characters of A-Z a-z 0-9 _ -, not %q", c.BusPrefix)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("log-level must be debug, info, warn or error")
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		bad("log-format must be text or json")
	}
	for _, p := range c.AllowedOrigins {
		if err := CheckOriginPattern(p); err != nil {
			errs = append(errs, fmt.Errorf("allowed-origins: %w", err))
		}
	}
	if _, err := c.Keyring(); err != nil {
		errs = append(errs, err)
	}
	if c.WebhookRetryBase <= 0 || c.WebhookRetryBase > time.Hour {
		bad("webhook-retry-base must be positive, at most 1h")
	}
	if c.WebhookMaxAttempts < 1 || c.WebhookMaxAttempts > 50 {
		bad("webhook-max-attempts must be 1 to 50")
	}
	if c.WebhookTimeout <= 0 || c.WebhookTimeout > time.Minute {
		bad("webhook-timeout must be positive, at most 1m")
	}
	if _, port, _ := net.SplitHostPort(c.AdminAddr); c.AdminAddr == c.Addr && port != "0" { // port 0: any free one
		bad("admin-addr must differ from addr (leave it empty to serve the admin API on addr)")
	}
	switch {
	case (c.TLSCert == "") != (c.TLSKey == ""):
		bad("tls-cert and tls-key must be given together")
	case c.TLSCert != "":
		if _, err := tls.LoadX509KeyPair(c.TLSCert, c.TLSKey); err != nil {
			bad("tls-cert, tls-key: %v", err)
		}
	}
	if c.TLSReloadInterval < 0 {
		bad("tls-reload-interval must not be negative")
	}
	if c.WriteProbeInterval <= 0 {
		bad("write-probe-interval must be positive")
	}
	for _, p := range c.TrustedProxies {
		if err := checkTrustedProxy(p); err != nil {
			errs = append(errs, fmt.Errorf("trusted-proxies: %w", err))
		}
	}
	for _, o := range []struct {
		name string
		v    int
	}{
		{"max-connections", c.MaxConnections},
		{"max-connections-per-ip", c.MaxConnectionsPerIP},
		{"max-unauthenticated", c.MaxUnauthenticated},
		{"max-unauthenticated-per-ip", c.MaxUnauthenticatedPerIP},
		{"max-sessions-per-user", c.MaxSessionsPerUser},
	} {
		if o.v < 0 {
			bad("%s must not be negative (0: see its default)", o.name)
		}
	}
	for _, r := range []struct {
		name  string
		rate  float64
		burst int
	}{
		{"user-message", c.UserMessageRate, c.UserMessageBurst},
		{"app-message", c.AppMessageRate, c.AppMessageBurst},
		{"rest", c.RESTRate, c.RESTBurst},
	} {
		switch {
		case math.IsNaN(r.rate) || math.IsInf(r.rate, 0) || r.rate < 0:
			bad("%s-rate must be a number of events per second, 0 or more (0: no limit)", r.name)
		case r.burst < 0:
			bad("%s-burst must not be negative", r.name)
		case r.rate > 0 && r.burst < 1:
			bad("%s-burst must be at least 1 when %s-rate is set", r.name, r.name)
		}
	}
	if c.OperatorKey != "" && len(c.OperatorKey) < MinOperatorKey {
		bad("operator-key must be at least %d characters", MinOperatorKey)
	}
	if len(errs) > 0 {
		return fmt.Errorf("config: %w", errors.Join(errs...))
	}
	return nil
}

// MinOperatorKey is the shortest operator key accepted: 24 characters of
// a random key are well beyond guessing.
const MinOperatorKey = 24

// StorePostgres reports whether Store names a PostgreSQL database.
func (c *Config) StorePostgres() bool {
	return strings.HasPrefix(c.Store, "postgres://") || strings.HasPrefix(c.Store, "postgresql://")
}

// redactStore returns a store URL without its password, for errors.
func redactStore(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// DefaultNodeID returns a node ID for a node given none: the host name
// ("node" when it cannot be read), "-" and 6 random hex digits, so that
// two processes on one host (or two hosts of one name) differ.
func DefaultNodeID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "node"
	}
	var b [3]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return host + "-" + hex.EncodeToString(b[:])
}
