package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/heraldim/herald/internal/devapp"
	"github.com/heraldim/herald/internal/loadgen/relay"
)

// newBenchRelayCmd is `herald bench relay`: the baseline server that issue
// 14's goals are measured against (see internal/loadgen/relay).
func newBenchRelayCmd() *cobra.Command {
	var (
		listen, dataDir string
		cfg             relay.Config
	)
	cmd := &cobra.Command{
		Use:   "relay",
		Short: "Run the minimal durable relay that herald bench measures the server against",
		Long: `Run a minimal durable relay: a WebSocket server on a loopback address
speaking just enough of the protocol (login, send, its reply, delivery,
ping) for herald bench's throughput and latency modes. Each message is one
INSERT into SQLite (the server's driver and durability settings) in a group
commit; the reply and the delivery follow the commit. It is a yardstick, not
a server: no sync, groups, push, heartbeats or limits.

--data gets relay.db and the development app's credentials (the same file
herald serve writes, created if missing), so that
  herald bench --server ws://127.0.0.1:8090/v1/ws --data <the same --data>
drives it. SIGINT and SIGTERM stop it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runRelay(cmd.Context(), listen, dataDir, cfg, cmd)
		},
	}
	f := cmd.Flags()
	f.StringVar(&listen, "listen", "127.0.0.1:8090", "loopback address to listen on")
	f.StringVar(&dataDir, "data", "./relay-data", "directory for relay.db and the dev app's credentials")
	f.IntVar(&cfg.CommitBatch, "commit-batch", relay.DefaultCommitBatch, "most messages per commit transaction")
	return cmd
}

func runRelay(ctx context.Context, listen, dataDir string, cfg relay.Config, cmd *cobra.Command) error {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return fmt.Errorf("bench relay: --listen: %w", err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("bench relay: --listen %s: the relay only listens on a loopback IP", listen)
	}
	creds, err := devapp.Load(dataDir)
	if errors.Is(err, devapp.ErrNoDevApp) {
		if creds, err = devapp.New(); err == nil {
			err = devapp.Save(dataDir, creds)
		}
	}
	if err != nil {
		return fmt.Errorf("bench relay: %w", err)
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return fmt.Errorf("bench relay: %w", err)
	}
	cfg.Path, cfg.AppID, cfg.Secret = filepath.Join(dataDir, "relay.db"), creds.AppID, creds.Secret
	cfg.Log = slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
	r, err := relay.New(ctx, cfg)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return errors.Join(fmt.Errorf("bench relay: %w", err), r.Close())
	}
	srv := &http.Server{Handler: r, ReadHeaderTimeout: 10 * time.Second}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	loopDone := make(chan error, 1)
	go func() { loopDone <- r.Run(runCtx) }()
	serveDone := make(chan error, 1)
	go func() { serveDone <- srv.Serve(ln) }()
	fmt.Fprintf(cmd.OutOrStdout(), "relay listening on ws://%s/v1/ws (app %s, data %s)\n", ln.Addr(), creds.AppID, dataDir)
	select {
	case <-ctx.Done():
	case err = <-serveDone:
	}
	shutCtx, shutCancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer shutCancel()
	_ = srv.Shutdown(shutCtx) // hijacked WebSockets are not waited for
	cancel()
	<-loopDone
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return errors.Join(err, r.Close())
}
