package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/heraldim/herald/internal/seal"
)

func newKeysCmd() *cobra.Command {
	keys := &cobra.Command{
		Use:   "keys",
		Short: "Master keys that seal the stored secrets",
	}
	keys.AddCommand(&cobra.Command{
		Use:   "new ID",
		Short: "Print a new random master key, ID:base64-of-32-bytes, for master-keys",
		Long: `Print a new random master key in the form master-keys reads:
ID:base64-of-32-bytes. ID is 1 to 32 letters, digits, '.', '_' or '-' (a
date such as 2026-01 says when it was made). Store it in a secret store.

Rotating: put the new key first in master-keys, keep the old one after it,
restart the server (every secret is re-wrapped under the new key before it
serves), then remove the old key.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			k, err := seal.GenerateKey(args[0])
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), k.String())
			return err
		},
	})
	return keys
}
