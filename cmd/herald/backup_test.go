package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/heraldim/herald/internal/devapp"
	"github.com/heraldim/herald/internal/protocol"
	"github.com/heraldim/herald/internal/seal"
	"github.com/heraldim/herald/internal/server"
	"github.com/heraldim/herald/internal/testkit"
	"github.com/heraldim/herald/internal/token"
)

// TestBackupWhileServing: `herald backup`, run while a server process
// holds the data directory and messages are being sent, writes a 0600
// copy that holds every message acknowledged before it began, in order
// and without gaps; the copy, put into a fresh data directory with the
// master key, serves those messages.
func TestBackupWhileServing(t *testing.T) {
	dir := t.TempDir()
	_, addr := startProcess(t, dir, "--user-message-rate", "0") // 300 sends at once
	app, err := devapp.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	tok := func(u string) string {
		s, err := token.Mint(app.AppID, app.Secret, u, time.Hour, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	alice := testkit.Dial(t, "ws://"+addr+"/v1/ws")
	if err := alice.Login(app.AppID, "alice", tok("alice"), "ios", "a"); err != nil {
		t.Fatal(err)
	}
	alice.SyncDone(10 * time.Second)
	send := func(from, to int) []chan protocol.Frame {
		var replies []chan protocol.Frame
		for i := from; i < to; i++ {
			id := fmt.Sprint(i)
			replies = append(replies, alice.Expect(id))
			alice.Send(protocol.TypeSend, id, protocol.SendRequest{ConversationID: "bob", LocalMessageID: id, Type: 1, Text: "m" + id})
		}
		return replies
	}
	wait := func(replies []chan protocol.Frame) {
		for i, r := range replies {
			if f := alice.Wait(r, 10*time.Second); f.Error != nil {
				t.Fatalf("send %d: %v", i, f.Error)
			}
		}
	}
	const acked, more = 100, 300
	wait(send(0, acked))

	// More sends in flight while the backup runs, in a process of its own.
	inFlight := send(acked, acked+more)
	out := filepath.Join(t.TempDir(), "herald-backup.db")
	backup := exec.Command(os.Args[0], "backup", "--data", dir, out)
	backup.Env = append(os.Environ(), "HERALD_TEST_AS_MAIN=1")
	var stdout, stderr bytes.Buffer
	backup.Stdout, backup.Stderr = &stdout, &stderr
	if err := backup.Run(); err != nil {
		t.Fatalf("herald backup: %v (stderr %q)", err, stderr.String())
	}
	wait(inFlight)
	if !strings.Contains(stdout.String(), "Backed up") || !strings.Contains(stdout.String(), filepath.Join(dir, server.MasterKeyFile)) {
		t.Errorf("backup said %q; want where the copy and the master key are", stdout.String())
	}
	fi, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("backup has mode %o, want 600", fi.Mode().Perm())
	}
	again := exec.Command(os.Args[0], "backup", "--data", dir, out)
	again.Env = backup.Env
	if b, err := again.CombinedOutput(); err == nil || !strings.Contains(string(b), "backup file exists") {
		t.Errorf("a backup over an existing file: %v %q", err, b)
	}

	// Restore: the copy and the master key (and here the development
	// app's credentials) in a fresh data directory.
	restored := filepath.Join(t.TempDir(), "restored")
	if err := os.Mkdir(restored, 0o700); err != nil {
		t.Fatal(err)
	}
	for from, to := range map[string]string{
		out: server.DBFile, filepath.Join(dir, server.MasterKeyFile): server.MasterKeyFile, filepath.Join(dir, devapp.FileName): devapp.FileName,
	} {
		b, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(restored, to), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	_, addr2 := startProcess(t, restored)
	bob := testkit.Dial(t, "ws://"+addr2+"/v1/ws")
	if err := bob.Login(app.AppID, "bob", tok("bob"), "android", "b"); err != nil {
		t.Fatal(err)
	}
	msgs, count := bob.SyncDone(10 * time.Second)
	if count < acked || count > acked+more {
		t.Fatalf("the restored backup holds %d messages; %d were acknowledged before it began", count, acked)
	}
	for i, m := range msgs {
		if m.ConversationSeq != int64(i+1) || m.Text != fmt.Sprint("m", i) {
			t.Fatalf("restored message %d = seq %d %q", i, m.ConversationSeq, m.Text)
		}
	}
}

// TestKeysNew: `herald keys new ID` prints a key master-keys accepts, a
// new one each time; a bad ID is refused.
func TestKeysNew(t *testing.T) {
	run := func(args ...string) (string, error) {
		var out bytes.Buffer
		root := newRootCmd()
		root.SetOut(&out)
		root.SetErr(&out)
		root.SetArgs(args)
		err := root.Execute()
		return out.String(), err
	}
	a, err := run("keys", "new", "2026-01")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := run("keys", "new", "2026-01")
	k, err := seal.ParseKey(a)
	if err != nil || k.ID != "2026-01" || a == b {
		t.Fatalf("keys new printed %q (then %q): %v", a, b, err)
	}
	if _, err := run("keys", "new", "bad id"); err == nil || !strings.Contains(err.Error(), "may hold only letters") {
		t.Fatalf("keys new with a bad ID: %v", err)
	}
}

// TestBackupRefusesPostgres: backup copies only the embedded database; a
// PostgreSQL store is refused with a message naming pg_dump, and no file
// is written.
func TestBackupRefusesPostgres(t *testing.T) {
	out := filepath.Join(t.TempDir(), "copy.db")
	for name, set := range map[string]func(args []string) []string{
		"flag": func(a []string) []string { return append(a, "--store", "postgres://h/db") },
		"env": func(a []string) []string {
			t.Setenv("HERALD_STORE", "postgresql://h/db")
			return a
		},
	} {
		t.Run(name, func(t *testing.T) {
			root := newRootCmd()
			root.SetOut(new(bytes.Buffer))
			root.SetErr(new(bytes.Buffer))
			root.SetArgs(set([]string{"backup", "--data", t.TempDir(), out}))
			err := root.Execute()
			if err == nil || !strings.Contains(err.Error(), "pg_dump") {
				t.Fatalf("backup on PostgreSQL: %v, want a refusal naming pg_dump", err)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Fatalf("a file was written: %v", err)
			}
		})
	}
}
