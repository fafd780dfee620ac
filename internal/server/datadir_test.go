package server_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/heraldim/herald/internal/config"
	"github.com/heraldim/herald/internal/server"
	"github.com/heraldim/herald/internal/testkit"
)

func newOn(dir string) (*server.Server, error) {
	cfg := config.Default()
	cfg.Addr, cfg.DataDir = "127.0.0.1:0", dir
	return server.New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), io.Discard)
}

// TestDataDirLockedWhileServing: a second server on the data directory of
// a running one does not start, and says which directory and which
// process holds it; once the first stopped, it starts.
func TestDataDirLockedWhileServing(t *testing.T) {
	dir := t.TempDir()
	first := testkit.Start(t, func(c *config.Config) { c.DataDir = dir })

	srv, err := newOn(dir)
	if err == nil {
		srv.Close()
		t.Fatal("a second server started on a data directory in use")
	}
	var inUse *server.DataDirInUseError
	if !errors.Is(err, server.ErrDataDirInUse) || !errors.As(err, &inUse) || inUse.Dir != dir || inUse.PID != os.Getpid() {
		t.Fatalf("second New: %v (%#v), want the data directory in use by pid %d", err, inUse, os.Getpid())
	}
	for _, want := range []string{dir, "process " + strconv.Itoa(os.Getpid()), filepath.Join(dir, server.LockFile)} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q does not name %q", err, want)
		}
	}
	// The refused server changed nothing: the first one still serves.
	c := first.LoginAs(t, "alice", "ios", "a")
	c.SyncDone(wait)
	if _, perr := c.SendText("bob", "l1", "still here"); perr != nil {
		t.Fatalf("first server after the refused start: %v", perr)
	}

	first.Stop(t)
	second := testkit.Start(t, func(c *config.Config) { c.DataDir = dir })
	bob := second.LoginAs(t, "bob", "android", "b")
	if msgs, n := bob.SyncDone(wait); n != 1 || msgs[0].Text != "still here" {
		t.Fatalf("after the first stopped, bob synced %+v", msgs)
	}
}

// TestDataDirUnlockedAfterFailedNew: a New that fails after taking the
// lock (here: the database cannot be opened) releases it, and so does
// Close of a server that never ran.
func TestDataDirUnlockedAfterFailedNew(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, server.DBFile)
	if err := os.Mkdir(db, 0o700); err != nil {
		t.Fatal(err)
	}
	if srv, err := newOn(dir); err == nil || errors.Is(err, server.ErrDataDirInUse) {
		if srv != nil {
			srv.Close()
		}
		t.Fatalf("New on a directory in place of the database: %v", err)
	}
	if err := os.Remove(db); err != nil {
		t.Fatal(err)
	}
	srv, err := newOn(dir)
	if err != nil {
		t.Fatalf("New after a failed New: %v", err)
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	srv, err = newOn(dir)
	if err != nil {
		t.Fatalf("New after Close: %v", err)
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
}
