package loadgen

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// Metric names read from the server's /metrics.
const (
	metricRSS        = "process_resident_memory_bytes"
	metricCPU        = "process_cpu_seconds_total"
	metricHeapInuse  = "go_memstats_heap_inuse_bytes"
	metricStackInuse = "go_memstats_stack_inuse_bytes"
	metricGoroutines = "go_goroutines"
	metricSessions   = "herald_sessions"
)

// scrape reads the server's unlabelled metrics (the first sample of each
// name). An unreachable endpoint is an error; callers decide whether they
// can do without.
func (e *engine) scrape(ctx context.Context) (map[string]float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.metrics, nil)
	if err != nil {
		return nil, fmt.Errorf("loadgen: metrics: %w", err)
	}
	resp, err := e.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("loadgen: metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("loadgen: metrics: %s", resp.Status)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		name, value, ok := strings.Cut(line, " ")
		if !ok || strings.Contains(name, "{") {
			continue
		}
		if _, seen := out[name]; seen {
			continue
		}
		if v, err := strconv.ParseFloat(strings.TrimSpace(value), 64); err == nil {
			out[name] = v
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("loadgen: metrics: %w", err)
	}
	return out, nil
}

// procRSS reads a process's resident set size from /proc (Linux).
func procRSS(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("loadgen: rss of pid %d: %w", pid, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("loadgen: rss of pid %d: %w", pid, err)
			}
			return kb * 1024, nil
		}
	}
	return 0, fmt.Errorf("loadgen: rss of pid %d: no VmRSS line", pid)
}

// Usage is the CPU time used during the measured part of a run. The server's
// share comes from its /metrics (process_cpu_seconds_total, 10 ms
// resolution); ServerKnown is false when that could not be read.
type Usage struct {
	WallSeconds      float64 `json:"wallSeconds"`
	ServerKnown      bool    `json:"serverKnown"`
	ServerCPUSeconds float64 `json:"serverCPUSeconds"`
	ClientCPUSeconds float64 `json:"clientCPUSeconds"`
	// ServerCores and ClientCores are CPU seconds per wall second.
	ServerCores float64 `json:"serverCores"`
	ClientCores float64 `json:"clientCores"`
}

type meter struct {
	e        *engine
	start    time.Time
	client   time.Duration
	server   float64
	serverOK bool
}

func (e *engine) startMeter(ctx context.Context) *meter {
	m := &meter{e: e, start: time.Now(), client: selfCPU()}
	if s, err := e.scrape(ctx); err == nil {
		m.server, m.serverOK = s[metricCPU]
	}
	return m
}

func (m *meter) stop(ctx context.Context, u *Usage) {
	wall := time.Since(m.start)
	u.WallSeconds = wall.Seconds()
	u.ClientCPUSeconds = (selfCPU() - m.client).Seconds()
	u.ClientCores = u.ClientCPUSeconds / u.WallSeconds
	if m.serverOK {
		if s, err := m.e.scrape(ctx); err == nil {
			if v, ok := s[metricCPU]; ok {
				u.ServerKnown = true
				u.ServerCPUSeconds = v - m.server
				u.ServerCores = u.ServerCPUSeconds / u.WallSeconds
			}
		}
	}
}
