package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/heraldim/herald/internal/config"
	"github.com/heraldim/herald/internal/emulator/local"
	"github.com/heraldim/herald/internal/server"
)

func newServeCmd() *cobra.Command {
	cfg := config.Default()
	var (
		emulate bool
		ef      emulatorFlags
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the Herald server (embedded SQLite store in --data)",
		Long: `Run the Herald server. Every option can be given as a flag, as an
environment variable HERALD_<NAME> (e.g. HERALD_HEARTBEAT_INTERVAL=10s) or as
a key in the YAML file named by --config (e.g. heartbeat_interval: 10s);
flags win over the environment, which wins over the file.

SIGINT and SIGTERM stop the server gracefully; SIGHUP reloads the TLS
certificate and key (--tls-cert, --tls-key).

With --emulate the push vendors' emulators run in the same process (see
herald emulate), their files and emulators.json go into --data, and the
development app pushes through them: APNs, FCM, Huawei, Xiaomi, OPPO,
vivo and Honor, for development and production devices alike. "herald
device" then plays a phone.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := cfg.Load(cmd.Flags(), os.LookupEnv); err != nil {
				return &exitError{code: 2, err: err}
			}
			log := newLogger(cfg)
			// The server first: it locks the data directory, so that a
			// second serve on it stops here, before its emulators touch
			// the files the first one's use.
			srv, err := server.New(cmd.Context(), cfg, log, cmd.OutOrStdout())
			if err != nil {
				return err
			}
			if emulate {
				// The server's address before the emulators' free ports,
				// so that none of those can take it.
				if err := srv.Listen(); err != nil {
					return errors.Join(err, srv.Close())
				}
				ef.cfg.Dir, ef.cfg.Logger = cfg.DataDir, emulatorLogger(log)
				emus, err := local.Start(ef.cfg)
				if err != nil {
					return errors.Join(err, srv.Close())
				}
				// Closed after Run returned: the server's push workers
				// stop before the emulators they talk to.
				defer emus.Close()
				provs, err := emus.Manifest.Providers()
				if err != nil {
					return errors.Join(err, srv.Close())
				}
				defer provs.Close()
				provs.Install(srv.Providers, srv.DevApp().AppID)
				srv.SetEmulatedPhones(srv.DevApp().AppID, emus.Phones.Handler())
				printEmulators(cmd.OutOrStdout(), cfg.DataDir, emus.Manifest)
			}
			defer reloadOnHangup(srv)()
			return srv.Run(cmd.Context())
		},
	}
	cfg.Bind(cmd.Flags())
	cmd.Flags().BoolVar(&emulate, "emulate", false, "run the push vendors' emulators in process and push the dev app through them (env HERALD_EMULATE)")
	ef.bind(cmd, "emulator-")
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

// reloadOnHangup makes SIGHUP reload the server's TLS certificate (the
// server polls the files too; a signal makes it immediate). This command
// owns the signal, not the server, so that a process running several
// servers (tests) is not reloading them all. The returned function stops
// listening for it.
func reloadOnHangup(srv *server.Server) (stop func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	done := make(chan struct{})
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		for {
			select {
			case <-hup:
				_ = srv.ReloadTLS() // a failure is logged and counted by the server
			case <-done:
				return
			}
		}
	}()
	return func() {
		signal.Stop(hup)
		close(done)
		<-exited
	}
}
