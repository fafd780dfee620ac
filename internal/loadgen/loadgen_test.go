package loadgen_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/heraldim/herald/internal/loadgen"
	"github.com/heraldim/herald/internal/testkit"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestHistogramPercentiles(t *testing.T) {
	h := loadgen.NewHistogram()
	if h.Percentile(99) != 0 || h.Max() != 0 || h.Count() != 0 {
		t.Fatal("empty histogram must report zeros")
	}
	// 1..10000 µs: the p-th percentile is p*100 µs.
	for i := 1; i <= 10000; i++ {
		h.Record(time.Duration(i) * time.Microsecond)
	}
	for _, tc := range []struct {
		p    float64
		want time.Duration
	}{
		{0, time.Microsecond}, {50, 5 * time.Millisecond}, {90, 9 * time.Millisecond},
		{99, 9900 * time.Microsecond}, {99.9, 9990 * time.Microsecond}, {100, 10 * time.Millisecond},
	} {
		got := h.Percentile(tc.p)
		if rel := float64(got-tc.want) / float64(tc.want); got < tc.want || rel > 1.0/128 {
			t.Errorf("p%v = %s, want %s to +0.8%%", tc.p, got, tc.want)
		}
	}
	if h.Max() != 10*time.Millisecond || h.Min() != time.Microsecond || h.Count() != 10000 {
		t.Errorf("min %s max %s count %d", h.Min(), h.Max(), h.Count())
	}
	if m := h.Mean(); m < 5000*time.Microsecond || m > 5001*time.Microsecond {
		t.Errorf("mean %s, want 5.0005ms", m)
	}
}

func TestHistogramMatchesSortedSamples(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	a, b := loadgen.NewHistogram(), loadgen.NewHistogram()
	var samples []time.Duration
	for i := range 50000 {
		// Log-normal-ish spread from nanoseconds to seconds.
		d := time.Duration(r.ExpFloat64() * r.ExpFloat64() * float64(time.Millisecond))
		samples = append(samples, d)
		if i%2 == 0 {
			a.Record(d)
		} else {
			b.Record(d)
		}
	}
	a.Merge(b)
	slices.Sort(samples)
	for _, p := range []float64{1, 25, 50, 75, 90, 99, 99.9, 99.99} {
		exact := samples[int(p/100*float64(len(samples))+0.999999)-1]
		got := a.Percentile(p)
		if got < exact || float64(got-exact) > float64(exact)/128+1 {
			t.Errorf("p%v = %s, exact %s", p, got, exact)
		}
	}
	if a.Max() != samples[len(samples)-1] || a.Count() != uint64(len(samples)) {
		t.Errorf("max %s want %s, count %d", a.Max(), samples[len(samples)-1], a.Count())
	}
	// Negative and huge values are clamped, not lost.
	a.Record(-time.Second)
	a.Record(time.Duration(1<<62 + 12345))
	if a.Min() != 0 || a.Max() != time.Duration(1<<62+12345) || a.Percentile(100) != a.Max() {
		t.Errorf("extremes: min %s max %s p100 %s", a.Min(), a.Max(), a.Percentile(100))
	}
}

func TestCheckLoopback(t *testing.T) {
	for _, tc := range []struct {
		url string
		ok  bool
	}{
		{"ws://127.0.0.1:8080/v1/ws", true},
		{"ws://127.1.2.3/v1/ws", true},
		{"wss://localhost:443/v1/ws", true},
		{"ws://LOCALHOST/v1/ws", true},
		{"ws://[::1]:8080/v1/ws", true},
		{"ws://[::ffff:127.0.0.1]:8080/v1/ws", true},
		{"ws://10.0.0.1:8080/v1/ws", false},
		{"ws://0.0.0.0:8080/v1/ws", false},
		{"ws://[::]:8080/v1/ws", false},
		{"ws://example.com/v1/ws", false},
		{"ws://localhost.example.com/v1/ws", false},
		{"ws://127.0.0.1.nip.io/v1/ws", false},
		{"http://127.0.0.1:8080/v1/ws", false},
		{"ws:///v1/ws", false},
		{"::not a url", false},
	} {
		err := loadgen.CheckLoopback(tc.url)
		if (err == nil) != tc.ok {
			t.Errorf("CheckLoopback(%q) = %v, want ok=%v", tc.url, err, tc.ok)
		}
	}
	err := loadgen.CheckLoopback("ws://192.0.2.7:8080/v1/ws")
	if !errors.Is(err, loadgen.ErrNotLoopback) || !strings.Contains(err.Error(), "192.0.2.7") {
		t.Errorf("error %v should wrap ErrNotLoopback and name the host", err)
	}
}

func TestRunRefusesRemoteServer(t *testing.T) {
	cfg := loadgen.DefaultConfig()
	cfg.ServerURL, cfg.AppID, cfg.Secret = "ws://198.51.100.1:8080/v1/ws", "a", "s"
	if _, err := loadgen.Run(context.Background(), cfg); !errors.Is(err, loadgen.ErrNotLoopback) {
		t.Fatalf("Run = %v, want ErrNotLoopback", err)
	}
}

func TestRunRefusesRemoteMoreServer(t *testing.T) {
	cfg := loadgen.DefaultConfig()
	cfg.AppID, cfg.Secret = "a", "s"
	cfg.MoreServerURLs = []string{"ws://198.51.100.1:8080/v1/ws"}
	if _, err := loadgen.Run(context.Background(), cfg); !errors.Is(err, loadgen.ErrNotLoopback) {
		t.Fatalf("Run = %v, want ErrNotLoopback", err)
	}
}

// TestSpreadOverEndpoints: with several endpoints (here one server under
// two names) every acknowledged message is still delivered once, in order.
func TestSpreadOverEndpoints(t *testing.T) {
	s := testkit.Start(t, nil)
	tc := run(t, s, func(c *loadgen.Config) {
		c.MoreServerURLs = []string{strings.Replace(s.URL, "127.0.0.1", "localhost", 1)}
		c.Pairs, c.Window, c.Duration, c.Count = 3, 4, 0, 300
	}).Throughput
	if tc.Check.Written != 300 || tc.Check.Acknowledged != 300 || tc.Check.Received != 300 {
		t.Errorf("count run over two endpoints: %+v", tc.Check)
	}
}

func TestValidateBoundsEveryMode(t *testing.T) {
	base := loadgen.DefaultConfig()
	base.AppID, base.Secret = "a", "s"
	for _, tc := range []struct {
		name string
		mod  func(*loadgen.Config)
	}{
		{"throughput without limit", func(c *loadgen.Config) { c.Duration, c.Count = 0, 0 }},
		{"latency without duration", func(c *loadgen.Config) { c.Mode, c.Duration = loadgen.ModeLatency, 0 }},
		{"latency rate below pairs", func(c *loadgen.Config) { c.Mode, c.Rate = loadgen.ModeLatency, 10 }},
		{"sync without messages", func(c *loadgen.Config) { c.Mode, c.Messages = loadgen.ModeSync, 0 }},
		{"idle too many sessions", func(c *loadgen.Config) { c.Mode, c.Sessions = loadgen.ModeIdle, loadgen.MaxSessions+1 }},
		{"duration too long", func(c *loadgen.Config) { c.Duration = time.Hour }},
		{"latency plan too large", func(c *loadgen.Config) { c.Mode, c.Rate, c.Duration = loadgen.ModeLatency, 100000, 5*time.Minute }},
		{"unknown mode", func(c *loadgen.Config) { c.Mode = "flood" }},
		{"no credentials", func(c *loadgen.Config) { c.Secret = "" }},
	} {
		c := base
		tc.mod(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: Validate accepted %+v", tc.name, c)
		}
	}
	if err := base.Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
}

func run(t *testing.T, s *testkit.Server, mod func(*loadgen.Config)) *loadgen.Result {
	t.Helper()
	cfg := loadgen.DefaultConfig()
	cfg.ServerURL, cfg.AppID, cfg.Secret = s.URL, s.App.AppID, s.App.Secret
	mod(&cfg)
	res, err := loadgen.Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("%s: %v", cfg.Mode, err)
	}
	var text strings.Builder
	if err := res.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s", text.String())
	if !res.OK() {
		t.Fatalf("%s: problems: %v", cfg.Mode, res.Problems())
	}
	if !res.Usage.ServerKnown {
		t.Errorf("%s: server CPU not read from /metrics", cfg.Mode)
	}
	return res
}

func TestModesAgainstRealServer(t *testing.T) {
	s := testkit.Start(t, nil)

	tp := run(t, s, func(c *loadgen.Config) {
		c.Pairs, c.Window, c.Duration = 4, 8, 500*time.Millisecond
	}).Throughput
	if tp.Persisted == 0 || tp.Check.Acknowledged < tp.Persisted || tp.Check.Received < tp.Check.Acknowledged {
		t.Errorf("throughput: %+v", tp)
	}

	// A count-only run stops at the count and delivers all of it.
	tc := run(t, s, func(c *loadgen.Config) {
		c.Pairs, c.Window, c.Duration, c.Count = 3, 4, 0, 300
	}).Throughput
	if tc.Check.Written != 300 || tc.Check.Acknowledged != 300 || tc.Check.Received != 300 {
		t.Errorf("count run: %+v", tc.Check)
	}

	lat := run(t, s, func(c *loadgen.Config) {
		c.Mode, c.Pairs, c.Rate, c.Duration = loadgen.ModeLatency, 4, 400, 500*time.Millisecond
	}).Latency
	if lat.Planned != 200 || lat.Written != 200 || lat.Received != 200 || lat.Latency.Count != 200 || lat.Latency.P50Ms <= 0 {
		t.Errorf("latency: %+v", lat)
	}

	sy := run(t, s, func(c *loadgen.Config) {
		c.Mode, c.Messages, c.Repeat = loadgen.ModeSync, 300, 2
	}).Sync
	if len(sy.Runs) != 2 || sy.Runs[0].Received != 300 || sy.MedianMs <= 0 {
		t.Errorf("sync: %+v", sy)
	}

	idle := run(t, s, func(c *loadgen.Config) {
		c.Mode, c.Sessions, c.Duration = loadgen.ModeIdle, 50, 300*time.Millisecond
	}).Idle
	if idle.RSSAfter == 0 || idle.ServerSessions < 50 || idle.RSSSource != "/metrics" {
		t.Errorf("idle: %+v", idle)
	}
}
