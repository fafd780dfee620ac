package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/heraldim/herald/internal/config"
	"github.com/heraldim/herald/internal/server"
	"github.com/heraldim/herald/internal/store/sqlstore"
)

func newBackupCmd() *cobra.Command {
	dataDir := config.Default().DataDir
	var store string
	cmd := &cobra.Command{
		Use:   "backup OUT.db",
		Short: "Copy the database of --data into a new file, also while the server runs",
		Long: `Write a consistent copy of the embedded database of the data directory
into the new file OUT.db (mode 0600), while a server may be running on it:
the copy holds every message committed before the backup began. It needs
no lock on the data directory and no master key.

The secrets in the copy (apps' secrets, vendor credentials) stay sealed by
the master keys: keep the key (master-keys, or the data directory's
master.key) apart from the backup; a restore needs it. To restore, stop
the server, put OUT.db as herald.db into an empty data directory, give
the same master keys (or copy master.key beside it), and start.

A PostgreSQL store (--store postgres://..., or HERALD_STORE) is not
copied by this command: back it up with PostgreSQL's own tools (pg_dump,
or continuous archiving), as docs/operations.md describes.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !cmd.Flags().Changed("store") {
				store = os.Getenv("HERALD_STORE")
			}
			if c := (config.Config{Store: store}); c.StorePostgres() {
				return errors.New("backup: the store is PostgreSQL: herald backup copies only the embedded SQLite database; back PostgreSQL up with pg_dump (see docs/operations.md)")
			}
			db := filepath.Join(dataDir, server.DBFile)
			if err := sqlstore.Backup(cmd.Context(), db, args[0]); err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return fmt.Errorf("backup: no database %s: is --data the server's data directory?", db)
				}
				return err
			}
			fi, err := os.Stat(args[0])
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "Backed up %s to %s (%d bytes).\n", db, args[0], fi.Size())
			key := filepath.Join(dataDir, server.MasterKeyFile)
			if _, err := os.Stat(key); err == nil {
				fmt.Fprintf(out, "Its secrets are sealed by the master key in %s (unless master-keys are configured): keep a copy of it apart from the backup; a restore needs it.\n", key)
			} else {
				fmt.Fprintln(out, "Its secrets are sealed by the server's master-keys: a restore needs them.")
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&dataDir, "data", dataDir, "data directory of the server whose database is copied")
	cmd.Flags().StringVar(&store, "store", "", "the server's --store: a postgres:// URL is refused (use pg_dump)")
	return cmd
}
