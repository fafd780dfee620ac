package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/heraldim/herald/internal/devapp"
	"github.com/heraldim/herald/internal/loadgen"
)

func newBenchCmd() *cobra.Command {
	cfg := loadgen.DefaultConfig()
	var (
		dataDir, appID, secret, mode string
		asJSON                       bool
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure a local server: throughput, latency, sync time, idle memory",
		Long: `Measure a Herald server running on this machine, over the raw WebSocket
protocol. Only loopback servers are accepted (127.0.0.0/8, ::1, localhost).
Every mode stops by itself; each run uses fresh users. --server may list
the nodes of a cluster, comma-separated: pair i's sender connects to node
i mod n and its receiver to the next node, so every message crosses nodes.

  throughput  --pairs sender/receiver pairs, each sender keeping --window sends
              in flight for --duration; messages persisted/s and delivered/s,
              and a check that every acknowledged message was delivered once,
              in order.
  latency     --rate messages/s in all, spread over --pairs, open loop, for
              --duration; send-to-delivery percentiles.
  sync        --messages wait for an offline user; time from its login to
              syncDone, --repeat times.
  idle        --sessions logged-in sessions that only heartbeat, held for
              --duration; the server's resident memory per session (from
              /proc/<--pid> or the server's /metrics). Raises this process's
              open-file limit to the hard limit.

The app's credentials come from --data (the server's data directory, as
written by herald serve) unless --app-id and --secret are given. The exit
status is 1 when a delivery check failed.

herald bench relay runs the minimal durable relay that the server's
throughput and latency are compared with (docs/benchmarks.md).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.Mode = loadgen.Mode(mode)
			urls := strings.Split(cfg.ServerURL, ",")
			cfg.ServerURL, cfg.MoreServerURLs = urls[0], urls[1:]
			switch {
			case appID != "" && secret != "":
				cfg.AppID, cfg.Secret = appID, secret
			case appID != "" || secret != "":
				return errors.New("bench: give both --app-id and --secret, or neither (to read --data)")
			default:
				c, err := devapp.Load(dataDir)
				if err != nil {
					return fmt.Errorf("bench: %w", err)
				}
				cfg.AppID, cfg.Secret = c.AppID, c.Secret
			}
			cfg.Progress = cmd.ErrOrStderr()
			res, err := loadgen.Run(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(benchJSON{Result: res, OK: res.OK(), Problems: res.Problems(), Warnings: res.Warnings()}); err != nil {
					return err
				}
			} else if err := res.WriteText(out); err != nil {
				return err
			}
			if p := res.Problems(); len(p) > 0 {
				return fmt.Errorf("bench: checks failed: %s", strings.Join(p, "; "))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.ServerURL, "server", cfg.ServerURL, "server WebSocket URL (loopback only); several comma-separated (nodes of one cluster): sessions spread over them, each pair's sender and receiver on different ones")
	f.StringVar(&dataDir, "data", "./herald-data", "server data directory holding the dev app's credentials")
	f.StringVar(&appID, "app-id", "", "app ID (instead of --data)")
	f.StringVar(&secret, "secret", "", "app server secret (instead of --data)")
	f.StringVar(&mode, "mode", string(cfg.Mode), "throughput, latency, sync or idle")
	f.IntVar(&cfg.Pairs, "pairs", cfg.Pairs, "sender/receiver pairs (throughput, latency)")
	f.IntVar(&cfg.Window, "window", cfg.Window, "sends in flight per sender (throughput, sync)")
	f.DurationVar(&cfg.Duration, "duration", cfg.Duration, "how long to send (throughput, latency) or hold sessions (idle)")
	f.IntVar(&cfg.Rate, "rate", cfg.Rate, "total messages per second (latency)")
	f.IntVar(&cfg.Messages, "messages", cfg.Messages, "messages waiting for the offline user (sync)")
	f.IntVar(&cfg.Repeat, "repeat", cfg.Repeat, "sync measurements, each with fresh users (sync)")
	f.IntVar(&cfg.Sessions, "sessions", cfg.Sessions, "idle sessions (idle)")
	f.IntVar(&cfg.PID, "pid", 0, "server process ID for its RSS (idle; default: read /metrics)")
	f.IntVar(&cfg.Size, "size", cfg.Size, "text bytes per message")
	f.DurationVar(&cfg.DrainTimeout, "drain-timeout", cfg.DrainTimeout, "longest wait for the last replies and deliveries")
	f.BoolVar(&asJSON, "json", false, "print the result as one JSON object")
	cmd.AddCommand(newBenchRelayCmd())
	return cmd
}

// benchJSON is the --json output: the result with its verdict.
type benchJSON struct {
	*loadgen.Result
	OK       bool     `json:"ok"`
	Problems []string `json:"problems"`
	Warnings []string `json:"warnings"`
}
