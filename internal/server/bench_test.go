package server_test

// Benchmarks of a whole server over real sockets, driven by the load
// generator of `herald bench` (internal/loadgen). Client goroutines carry the
// pprof label herald=loadgen, so a CPU profile shows the server alone with
//
//	go test -run '^$' -bench 'BenchmarkSendDeliver/pairs=8$' -benchtime 200000x -cpuprofile cpu.out ./internal/server
//	go tool pprof -tagignore herald=loadgen -top cpu.out
//
// docs/benchmarks.md has the numbers and the commands.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/heraldim/herald/internal/loadgen"
	"github.com/heraldim/herald/internal/testkit"
)

func benchConfig(s *testkit.Server, mode loadgen.Mode) loadgen.Config {
	cfg := loadgen.DefaultConfig()
	cfg.ServerURL, cfg.AppID, cfg.Secret, cfg.Mode = s.URL, s.App.AppID, s.App.Secret, mode
	return cfg
}

func runLoad(b *testing.B, cfg loadgen.Config) *loadgen.Result {
	b.Helper()
	res, err := loadgen.Run(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	if !res.OK() {
		b.Fatalf("%s: %v", cfg.Mode, res.Problems())
	}
	return res
}

// BenchmarkSendDeliver sends b.N messages end to end and reports messages
// per second from the first send to the last delivery, checking that every
// acknowledged message was delivered once and in order. Each sender keeps 32
// sends in flight. With 8 pairs a commit batch holds many messages of few
// conversations; with 256 pairs nearly every message of a batch is in a
// conversation of its own, as with real traffic, and each costs its own
// conversation row updates. Use -benchtime 200000x for a steady figure
// (about 10 s each).
func BenchmarkSendDeliver(b *testing.B) {
	for _, pairs := range []int{8, 256} {
		b.Run(fmt.Sprintf("pairs=%d", pairs), func(b *testing.B) {
			s := testkit.Start(b, nil)
			cfg := benchConfig(s, loadgen.ModeThroughput)
			cfg.Pairs, cfg.Window, cfg.Duration, cfg.Count = pairs, 32, 0, b.N
			t := runLoad(b, cfg).Throughput
			b.ReportMetric(t.EndToEndPerSec, "msgs/s")
			b.ReportMetric(1e9/t.EndToEndPerSec, "ns/op")
		})
	}
}

// BenchmarkLatency offers a fixed rate, open loop, over 100 pairs for b.N
// seconds and reports the delivery latency from each send's scheduled time
// (p50, p99, p99.9 in ms), checking every message was delivered once and in
// order: the `herald bench --mode latency` of docs/benchmarks.md in process,
// so that a CPU profile (-cpuprofile, -tagignore herald=loadgen) shows what
// the server does at that rate. Use -benchtime 5x (5 s).
func BenchmarkLatency(b *testing.B) {
	for _, rate := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("rate=%d", rate), func(b *testing.B) {
			s := testkit.Start(b, nil)
			cfg := benchConfig(s, loadgen.ModeLatency)
			cfg.Pairs, cfg.Rate, cfg.Duration = 100, rate, time.Duration(b.N)*time.Second
			l := runLoad(b, cfg).Latency
			b.ReportMetric(l.Latency.P50Ms, "p50-ms")
			b.ReportMetric(l.Latency.P99Ms, "p99-ms")
			b.ReportMetric(l.Latency.P999Ms, "p99.9-ms")
		})
	}
}

// BenchmarkSync10k times, b.N times with fresh users, the login of a user
// for whom 10,000 messages wait until its syncDone, and reports the median.
// Filling the queue takes about a second per iteration and is not counted:
// use -benchtime 5x.
func BenchmarkSync10k(b *testing.B) {
	s := testkit.Start(b, nil)
	cfg := benchConfig(s, loadgen.ModeSync)
	cfg.Messages, cfg.Repeat, cfg.Window = 10000, b.N, 64
	y := runLoad(b, cfg).Sync
	b.ReportMetric(y.MedianMs, "ms/sync")
	b.ReportMetric(y.MedianMs*1e6, "ns/op")
}

// idleSessions is the number of sessions BenchmarkIdleSessionMemory holds.
const idleSessions = 2000

// BenchmarkIdleSessionMemory opens 2,000 idle, heartbeating sessions on a
// server in a child process (so that the client's memory is not counted)
// and reports the server's growth per session: resident memory, and live
// heap and goroutine stacks after a forced collection. Use -benchtime 1x.
func BenchmarkIdleSessionMemory(b *testing.B) {
	child := startServerProcess(b)
	for range b.N {
		cfg := loadgen.DefaultConfig()
		cfg.ServerURL, cfg.AppID, cfg.Secret = child.URL, child.AppID, child.Secret
		cfg.Mode, cfg.Sessions, cfg.Duration, cfg.PID = loadgen.ModeIdle, idleSessions, 3*time.Second, child.PID
		cfg.BeforeMeasure = child.collect
		d := runLoad(b, cfg).Idle
		b.ReportMetric(d.RSSPerSession, "rss-bytes/session")
		b.ReportMetric(d.HeapPerSession, "heap-bytes/session")
		b.ReportMetric(d.StackPerSession, "stack-bytes/session")
		b.ReportMetric(d.GoroutinesPerSession, "goroutines/session")
	}
	b.ReportMetric(0, "ns/op")
}

// serverProcessEnv makes the test binary run TestServerProcess as a server
// for a benchmark in the parent process.
const serverProcessEnv = "HERALD_BENCH_SERVER_PROCESS"

// childServer is a server in a child process (TestServerProcess), controlled
// through its standard input: "gc" forces a collection, EOF stops it.
type childServer struct {
	URL, AppID, Secret string
	PID                int
	b                  *testing.B
	in                 io.WriteCloser
	out                *bufio.Scanner
}

func startServerProcess(b *testing.B) *childServer {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestServerProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), serverProcessEnv+"=1")
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	outPipe, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = in.Close()
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	c := &childServer{b: b, in: in, out: bufio.NewScanner(outPipe), PID: cmd.Process.Pid}
	line := c.readLine()
	if err := json.Unmarshal([]byte(line), c); err != nil {
		b.Fatalf("server process said %q: %v", line, err)
	}
	c.PID = cmd.Process.Pid
	return c
}

func (c *childServer) readLine() string {
	for c.out.Scan() {
		if line := c.out.Text(); strings.HasPrefix(line, "{") || line == "ok" {
			return line
		}
	}
	c.b.Fatalf("server process ended: %v", c.out.Err())
	return ""
}

// collect forces a garbage collection in the server process and returns
// memory to the operating system, so that what is measured is live.
func (c *childServer) collect() {
	if _, err := io.WriteString(c.in, "gc\n"); err != nil {
		c.b.Fatal(err)
	}
	c.readLine()
}

// TestServerProcess is not a test: BenchmarkIdleSessionMemory runs the test
// binary with HERALD_BENCH_SERVER_PROCESS=1 to get a server in a process of
// its own. It prints the server's address and credentials as one JSON line
// and serves until its standard input ends.
func TestServerProcess(t *testing.T) {
	if os.Getenv(serverProcessEnv) == "" {
		t.Skip("server process for BenchmarkIdleSessionMemory; runs only when started by it")
	}
	s := testkit.Start(t, nil)
	b, _ := json.Marshal(map[string]string{"URL": s.URL, "AppID": s.App.AppID, "Secret": s.App.Secret})
	fmt.Println(string(b))
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		if in.Text() == "gc" {
			runtime.GC()
			debug.FreeOSMemory()
			fmt.Println("ok")
		}
	}
}
