// Command herald is Herald's one binary: the server (serve) and the client
// tools built on the Go SDK (token, send, listen, group, call, bench), and
// the vendor emulators with their simulated phones (emulate, device), and
// the operator's management of apps (app).
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCmd().ExecuteContext(ctx)
	stop()
	if err != nil {
		var ee *exitError
		if errors.As(err, &ee) {
			fmt.Fprintln(os.Stderr, "herald:", ee.err)
			os.Exit(ee.code)
		}
		fmt.Fprintln(os.Stderr, "herald:", err)
		os.Exit(1)
	}
}

// exitError carries a specific exit code out of a command.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "herald",
		Short:         "Herald: instant messaging with offline push",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(
		newServeCmd(),
		newTokenCmd(),
		newSendCmd(),
		newListenCmd(),
		newGroupCmd(),
		newCallCmd(),
		newBenchCmd(),
		newEmulateCmd(),
		newDeviceCmd(),
		newPushCmd(),
		newBackupCmd(),
		newKeysCmd(),
		newAppCmd(),
	)
	return root
}
