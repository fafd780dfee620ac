package main

import (
	"fmt"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/heraldim/herald/internal/config"
	"github.com/heraldim/herald/internal/server"
)

func newServeCmd() *cobra.Command {
	cfg := config.Default()
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the Herald server (embedded SQLite store in --data)",
		Long: `Run the Herald server. Every option can be given as a flag, as an
environment variable HERALD_<NAME> (e.g. HERALD_HEARTBEAT_INTERVAL=10s) or as
a key in the YAML file named by --config (e.g. heartbeat_interval: 10s);
flags win over the environment, which wins over the file.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := cfg.Load(cmd.Flags(), os.LookupEnv); err != nil {
				return &exitError{code: 2, err: err}
			}
			log := newLogger(cfg)
			srv, err := server.New(cmd.Context(), cfg, log, cmd.OutOrStdout())
			if err != nil {
				return err
			}
			return srv.Run(cmd.Context())
		},
	}
	cfg.Bind(cmd.Flags())
	return cmd
}

func newLogger(cfg config.Config) *slog.Logger {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		panic(fmt.Sprintf("log level %q passed validation: %v", cfg.LogLevel, err))
	}
	opts := &slog.HandlerOptions{Level: lvl}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}
