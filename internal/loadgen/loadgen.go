// Package loadgen is the engine of `herald bench`: it drives a Herald server
// on the same machine over the raw WebSocket protocol (no SDK, so that the
// client costs little next to the server) and measures throughput, delivery
// latency, offline sync time and the memory of idle sessions.
//
// It only talks to loopback addresses (CheckLoopback, enforced again when
// each connection is dialled): it is a measuring tool, not a way to flood a
// remote host. Every mode is bounded by a duration and/or a count and stops
// by itself. Each run uses fresh user IDs under a random prefix, so runs can
// follow one another against the same server and data directory.
package loadgen

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// Mode names a measurement.
type Mode string

// The modes.
const (
	// ModeThroughput: sender/receiver pairs with a window of sends in flight;
	// messages persisted and delivered per second, plus an exactly-once,
	// in-order delivery check.
	ModeThroughput Mode = "throughput"
	// ModeLatency: a fixed total rate on an open-loop schedule; percentiles
	// of the time from send to delivery.
	ModeLatency Mode = "latency"
	// ModeSync: time from a login to syncDone with Messages stored messages.
	ModeSync Mode = "sync"
	// ModeIdle: resident memory added per logged-in idle session.
	ModeIdle Mode = "idle"
)

// Upper bounds on the options, so that a typo cannot start an unbounded run.
const (
	MaxPairs    = 10000
	MaxWindow   = 4096
	MaxDuration = 10 * time.Minute
	MaxRate     = 1_000_000
	MaxMessages = 1_000_000
	MaxRepeat   = 100
	MaxSessions = 200_000
	MaxSize     = 16 * 1024
	// MaxPlanned bounds the sends of a latency run (rate × duration).
	MaxPlanned = 10_000_000
)

// Config is one run's settings. Start from DefaultConfig.
type Config struct {
	// ServerURL is the WebSocket endpoint; its host must be a loopback
	// address. Default ws://127.0.0.1:8080/v1/ws.
	ServerURL string
	// MoreServerURLs are the WebSocket endpoints of other nodes of the
	// same cluster (loopback too). With any, sessions are spread over
	// ServerURL and these: pair i's sender on endpoint i mod n and its
	// receiver on the next one, so that every message crosses nodes;
	// idle session i on endpoint i mod n. /metrics is read at ServerURL.
	MoreServerURLs []string
	// AppID and Secret are the app whose tokens the run mints (the dev app).
	AppID, Secret string
	// Mode is the measurement to run.
	Mode Mode
	// Pairs is the number of sender/receiver pairs (throughput, latency).
	// Default 100.
	Pairs int
	// Window is how many sends each sender keeps in flight (throughput, and
	// the sender that fills the offline queue in sync mode). Default 32.
	Window int
	// Duration bounds throughput and latency runs, and is how long idle
	// sessions are held before memory is measured. Default 10 s.
	Duration time.Duration
	// Count, when positive, stops a throughput run after this many sends in
	// all (whichever of Count and Duration comes first; Duration 0 means
	// Count only). Default 0.
	Count int
	// Rate is the total offered rate in messages per second (latency).
	// Default 10,000.
	Rate int
	// Messages is how many messages wait for the offline user (sync).
	// Default 10,000.
	Messages int
	// Repeat is how many sync measurements are taken, each with fresh users.
	// Default 5.
	Repeat int
	// Sessions is the number of idle sessions (idle). Default 10,000.
	Sessions int
	// PID is the server's process ID: when set, idle mode reads the server's
	// resident memory from /proc; otherwise from the server's /metrics.
	PID int
	// Size is the text body of each message in bytes. Default 100.
	Size int
	// DialConcurrency bounds connections being set up at once. Default 64.
	DialConcurrency int
	// DrainTimeout bounds the wait, after a run's sends, for the last
	// replies and deliveries. Default 15 s.
	DrainTimeout time.Duration
	// Progress receives progress lines; nil discards them.
	Progress io.Writer
	// BeforeMeasure, when set, is called before each reading of the
	// server's memory in idle mode: a benchmark that controls the server
	// process forces a garbage collection there, to count live memory only.
	BeforeMeasure func()
}

// DefaultConfig returns the defaults of `herald bench`.
func DefaultConfig() Config {
	return Config{
		ServerURL:       "ws://127.0.0.1:8080/v1/ws",
		Mode:            ModeThroughput,
		Pairs:           100,
		Window:          32,
		Duration:        10 * time.Second,
		Rate:            10000,
		Messages:        10000,
		Repeat:          5,
		Sessions:        10000,
		Size:            100,
		DialConcurrency: 64,
		DrainTimeout:    15 * time.Second,
	}
}

// ErrNotLoopback is returned for a server address that is not on this
// machine.
var ErrNotLoopback = errors.New("loadgen: the server must be on a loopback address (127.0.0.0/8, ::1, localhost)")

// Validate checks the options that the configured mode uses.
func (c *Config) Validate() error {
	for _, u := range append([]string{c.ServerURL}, c.MoreServerURLs...) {
		if err := CheckLoopback(u); err != nil {
			return err
		}
	}
	if c.AppID == "" || c.Secret == "" {
		return errors.New("loadgen: app ID and secret are required")
	}
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	inRange := func(name string, v, lo, hi int) {
		if v < lo || v > hi {
			bad("%s must be %d to %d, not %d", name, lo, hi, v)
		}
	}
	durRange := func(name string, d, lo time.Duration) {
		if d < lo || d > MaxDuration {
			bad("%s must be %s to %s, not %s", name, lo, MaxDuration, d)
		}
	}
	inRange("size", c.Size, 1, MaxSize)
	inRange("dial concurrency", c.DialConcurrency, 1, 1024)
	durRange("drain timeout", c.DrainTimeout, time.Second)
	switch c.Mode {
	case ModeThroughput:
		inRange("pairs", c.Pairs, 1, MaxPairs)
		inRange("window", c.Window, 1, MaxWindow)
		inRange("count", c.Count, 0, MaxMessages*100)
		if c.Count == 0 || c.Duration != 0 {
			durRange("duration", c.Duration, 100*time.Millisecond)
		}
	case ModeLatency:
		inRange("pairs", c.Pairs, 1, MaxPairs)
		inRange("rate", c.Rate, 1, MaxRate)
		durRange("duration", c.Duration, 100*time.Millisecond)
		if c.Rate < c.Pairs {
			bad("rate (%d/s) must be at least one message per second per pair (%d pairs)", c.Rate, c.Pairs)
		}
		// Every planned send keeps its write time: bound the memory.
		if planned := float64(c.Rate) * c.Duration.Seconds(); planned > MaxPlanned {
			bad("rate × duration plans %.0f sends; at most %d", planned, MaxPlanned)
		}
	case ModeSync:
		inRange("messages", c.Messages, 1, MaxMessages)
		inRange("repeat", c.Repeat, 1, MaxRepeat)
		inRange("window", c.Window, 1, MaxWindow)
	case ModeIdle:
		inRange("sessions", c.Sessions, 1, MaxSessions)
		durRange("duration", c.Duration, 0)
		if c.PID < 0 {
			bad("pid must not be negative")
		}
	default:
		bad("mode must be throughput, latency, sync or idle, not %q", c.Mode)
	}
	if len(errs) > 0 {
		return fmt.Errorf("loadgen: %w", errors.Join(errs...))
	}
	return nil
}

// Result is one run's outcome. Exactly one of the mode sections is set.
type Result struct {
	Mode   Mode   `json:"mode"`
	Server string `json:"server"`
	// Prefix is the run's user ID prefix (users are <prefix>-s<n>, -r<n>, ...).
	Prefix string `json:"prefix"`
	// Usage is the CPU used by the server and by this process during the
	// measured part of the run.
	Usage      Usage             `json:"usage"`
	Throughput *ThroughputResult `json:"throughput,omitempty"`
	Latency    *LatencyResult    `json:"latency,omitempty"`
	Sync       *SyncResult       `json:"sync,omitempty"`
	Idle       *IdleResult       `json:"idle,omitempty"`
}

// OK reports whether the run met its own correctness checks (delivery
// exactly once and in order, nothing lost, sessions all opened).
func (r *Result) OK() bool { return len(r.Problems()) == 0 }

// Problems lists what went wrong in the run, in words.
func (r *Result) Problems() []string {
	switch {
	case r.Throughput != nil:
		return r.Throughput.Check.problems()
	case r.Latency != nil:
		return r.Latency.problems()
	case r.Sync != nil:
		return r.Sync.problems()
	case r.Idle != nil:
		return r.Idle.problems()
	}
	return nil
}

// Run performs the configured measurement. It returns an error when the run
// could not be carried out (bad options, server unreachable, login refused);
// delivery faults found by the checks are reported in the Result.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	prefix, err := runPrefix()
	if err != nil {
		return nil, err
	}
	e := newEngine(cfg, prefix)
	defer e.close()
	res := &Result{Mode: cfg.Mode, Server: strings.Join(append([]string{cfg.ServerURL}, cfg.MoreServerURLs...), ","), Prefix: prefix}
	switch cfg.Mode {
	case ModeThroughput:
		res.Throughput, err = e.throughput(ctx, &res.Usage)
	case ModeLatency:
		res.Latency, err = e.latency(ctx, &res.Usage)
	case ModeSync:
		res.Sync, err = e.sync(ctx, &res.Usage)
	case ModeIdle:
		res.Idle, err = e.idle(ctx, &res.Usage)
	}
	if err != nil {
		return nil, err
	}
	return res, nil
}

// runPrefix returns a fresh user ID prefix such as "lg3f9a1c".
func runPrefix() (string, error) {
	var b [3]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("loadgen: random prefix: %w", err)
	}
	return "lg" + hex.EncodeToString(b[:]), nil
}
