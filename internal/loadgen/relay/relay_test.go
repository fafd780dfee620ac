package relay_test

import (
	"context"
	"database/sql"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/heraldim/herald/internal/loadgen"
	"github.com/heraldim/herald/internal/loadgen/relay"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	appID  = "dev-relaytest"
	secret = "0123456789abcdef0123456789abcdef"
)

// start runs a relay on the database at path behind a loopback HTTP server
// until the test ends.
func start(t *testing.T, path string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r, err := relay.New(ctx, relay.Config{Path: path, AppID: appID, Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = r.Run(ctx)
	}()
	srv := httptest.NewServer(r)
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
		cancel()
		<-done
		if err := r.Close(); err != nil {
			t.Error(err)
		}
	})
	return "ws" + strings.TrimPrefix(srv.URL, "http") + "/v1/ws"
}

func bench(t *testing.T, url string, mode loadgen.Mode, pairs int) *loadgen.Result {
	t.Helper()
	cfg := loadgen.DefaultConfig()
	cfg.ServerURL, cfg.AppID, cfg.Secret, cfg.Mode, cfg.Pairs = url, appID, secret, mode, pairs
	cfg.Duration, cfg.Rate = 0, 500
	switch mode {
	case loadgen.ModeThroughput:
		cfg.Count = 2000
	case loadgen.ModeLatency:
		cfg.Duration = 300 * time.Millisecond
	}
	res, err := loadgen.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if p := res.Problems(); len(p) > 0 {
		t.Fatalf("%s: %v", mode, p)
	}
	return res
}

// The load generator's own checks (every acknowledged message delivered
// once, in order, with its content) pass against the relay in both modes the
// benchmarks use, and every message is a row.
func TestLoadgenDrivesRelay(t *testing.T) {
	path := filepath.Join(t.TempDir(), "relay.db")
	url := start(t, path)
	tp := bench(t, url, loadgen.ModeThroughput, 4)
	if tp.Throughput.Check.Acknowledged != 2000 || tp.Throughput.Check.Received != 2000 {
		t.Fatalf("acknowledged %d, received %d; want 2000 each", tp.Throughput.Check.Acknowledged, tp.Throughput.Check.Received)
	}
	if !tp.Usage.ServerKnown {
		t.Error("the relay's CPU was not read from /metrics")
	}
	lat := bench(t, url, loadgen.ModeLatency, 4)
	if lat.Latency.Received == 0 || lat.Latency.Received != lat.Latency.Written {
		t.Fatalf("latency: wrote %d, received %d", lat.Latency.Written, lat.Latency.Received)
	}

	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var rows, dense int64
	if err := db.QueryRow(`SELECT COUNT(*) FROM messages`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if want := 2000 + lat.Latency.Written; rows != want {
		t.Errorf("%d rows, want %d", rows, want)
	}
	// Seqs dense per conversation: the highest equals the count.
	if err := db.QueryRow(`SELECT COUNT(*) FROM (SELECT conv FROM messages GROUP BY conv HAVING MAX(seq) != COUNT(*))`).Scan(&dense); err != nil {
		t.Fatal(err)
	}
	if dense != 0 {
		t.Errorf("%d conversations with gaps in their seqs", dense)
	}
}

// A token for another app, or for another user than the login names, is
// refused; nothing is served before a login.
func TestLoginChecksToken(t *testing.T) {
	url := start(t, filepath.Join(t.TempDir(), "relay.db"))
	cfg := loadgen.DefaultConfig()
	cfg.ServerURL, cfg.AppID, cfg.Secret, cfg.Count, cfg.Duration, cfg.Pairs = url, appID, "another secret", 10, 0, 1
	if _, err := loadgen.Run(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "token_invalid") {
		t.Fatalf("login with a wrong secret: %v, want token_invalid", err)
	}
}
