package loadgen

import (
	"fmt"
	"io"
	"strings"
)

// Warnings lists what makes the run's numbers doubtful without being a
// delivery fault (an offered rate that was not reached).
func (r *Result) Warnings() []string {
	if r.Latency != nil {
		return r.Latency.warnings()
	}
	return nil
}

// WriteText writes the result as human-readable lines.
func (r *Result) WriteText(w io.Writer) error {
	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	switch {
	case r.Throughput != nil:
		t := r.Throughput
		line("throughput: %d pairs, window %d, %d-byte texts, %.1f s", t.Pairs, t.Window, t.Size, t.Seconds)
		line("  sent        %10d  %9.0f/s", t.Sent, float64(t.Sent)/t.Seconds)
		line("  persisted   %10d  %9.0f/s  (successful send replies: committed)", t.Persisted, t.PersistedPerSec)
		line("  delivered   %10d  %9.0f/s  (received by the receivers)", t.Delivered, t.DeliveredPerSec)
		line("  drain       %.3f s after the last send; end to end %.0f msgs/s", t.DrainSeconds, t.EndToEndPerSec)
		if p := t.Check.problems(); len(p) == 0 {
			line("  check       OK: all %d acknowledged messages delivered exactly once, in order (%d written)", t.Check.Acknowledged, t.Check.Written)
		} else {
			line("  check       FAILED: %s", strings.Join(p, "; "))
		}
	case r.Latency != nil:
		l := r.Latency
		line("latency: %d pairs, %d-byte texts, %.1f s, open loop", l.Pairs, l.Size, l.Seconds)
		line("  offered     %.0f/s of %.0f/s target%s", l.OfferedPerSec, l.TargetPerSec, map[bool]string{true: "", false: "  (NOT REACHED)"}[l.RateReached])
		line("  messages    %d written, %d received, %d lost", l.Written, l.Received, l.Lost)
		writePercentiles(line, "latency", "scheduled send -> delivery", l.Latency)
		writePercentiles(line, "from write", "write -> delivery", l.FromWrite)
		writePercentiles(line, "reply", "write -> send reply", l.Reply)
		writePercentiles(line, "send lag", "lateness of writes", l.Lag)
	case r.Sync != nil:
		s := r.Sync
		line("sync: %d messages waiting for an offline user, %d runs", s.Messages, len(s.Runs))
		for i, run := range s.Runs {
			line("  run %d      login->syncDone %8.1f ms  (login reply %.1f ms, %d messages; filled at %.0f msgs/s)", i+1, run.SyncDoneMs, run.LoginReplyMs, run.Received, run.FillPerSec)
		}
		line("  median      %.1f ms  (min %.1f, max %.1f)", s.MedianMs, s.MinMs, s.MaxMs)
	case r.Idle != nil:
		d := r.Idle
		line("idle: %d sessions, held %.1f s (open-file limit %d)", d.Sessions, d.HeldSeconds, d.FileLimit)
		line("  opened      in %.1f s (%.0f logins/s)", d.OpenSeconds, d.LoginsPerSec)
		line("  server RSS  %.1f MiB -> %.1f MiB: %.1f KiB per session (from %s)", mib(d.RSSBefore), mib(d.RSSAfter), d.RSSPerSession/1024, d.RSSSource)
		if d.ServerSessions >= 0 {
			line("  Go runtime  heap %.1f KiB, stacks %.1f KiB, %.2f goroutines per session; server counts %.0f sessions",
				d.HeapPerSession/1024, d.StackPerSession/1024, d.GoroutinesPerSession, d.ServerSessions)
		}
	}
	u := r.Usage
	if u.ServerKnown {
		line("  cpu         server %.2f cores, load generator %.2f cores (%.1f s wall)", u.ServerCores, u.ClientCores, u.WallSeconds)
	} else {
		line("  cpu         load generator %.2f cores (%.1f s wall; server's /metrics unavailable)", u.ClientCores, u.WallSeconds)
	}
	for _, p := range r.Problems() {
		line("PROBLEM: %s", p)
	}
	for _, w := range r.Warnings() {
		line("WARNING: %s", w)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writePercentiles(line func(string, ...any), name, what string, p Percentiles) {
	line("  %-11s p50 %7.2f  p90 %7.2f  p99 %7.2f  p99.9 %7.2f  max %8.2f ms  (%s, n=%d)",
		name, p.P50Ms, p.P90Ms, p.P99Ms, p.P999Ms, p.MaxMs, what, p.Count)
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }
