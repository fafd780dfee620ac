package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	herald "github.com/heraldim/herald/sdk/go"
)

func newTokenCmd() *cobra.Command {
	var (
		opts clientOptions
		user string
		ttl  time.Duration
	)
	cmd := &cobra.Command{
		Use:   "token --user U [--ttl 24h]",
		Short: "Print a login token for a user",
		Long: `Print a login token for a user, signed with the app's server secret: the
dev app's, read from --data, unless --app-id and --secret are given.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			appID, secret, err := opts.credentials(true)
			if err != nil {
				return err
			}
			tok, err := herald.GenerateToken(appID, secret, user, ttl)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), tok)
			return err
		},
	}
	opts.bind(cmd, false)
	cmd.Flags().StringVar(&user, "user", "", "user ID (required)")
	cmd.Flags().DurationVar(&ttl, "ttl", 24*time.Hour, "token lifetime (at most 720h)")
	_ = cmd.MarkFlagRequired("user")
	return cmd
}
