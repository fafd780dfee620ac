package server_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/heraldim/herald/internal/config"
	"github.com/heraldim/herald/internal/store/pgtest"
	"github.com/heraldim/herald/internal/testkit"
)

// TestPostgresLoginSendSync: a server on PostgreSQL logs in, stores and
// syncs like one on SQLite.
func TestPostgresLoginSendSync(t *testing.T) {
	s := testkit.Start(t, testkit.Postgres(t, nil))
	alice := s.LoginAs(t, "alice", "ios", "a1")
	alice.SyncDone(wait)
	const n = 20
	for i := range n {
		if _, err := alice.SendText("bob", fmt.Sprint("m", i), fmt.Sprint("msg ", i)); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	// A retry with the same local ID is stored once.
	if r, err := alice.SendText("bob", "m0", "msg 0"); err != nil || !r.Duplicate {
		t.Fatalf("retry: %+v %v, want a duplicate", r, err)
	}
	bob := s.LoginAs(t, "bob", "android", "b1")
	msgs, count := bob.SyncDone(wait)
	if count != n || len(msgs) != n {
		t.Fatalf("synced %d (syncDone %d), want %d", len(msgs), count, n)
	}
	for i, m := range msgs {
		if m.ConversationSeq != int64(i+1) || m.Text != fmt.Sprint("msg ", i) {
			t.Fatalf("message %d = %+v", i, m)
		}
	}
}

// TestPostgresTwoNodes: two servers on one database lease different node
// numbers, and what one stores the other syncs, in one dense seq order.
func TestPostgresTwoNodes(t *testing.T) {
	url := pgtest.Fresh(t)
	a := testkit.Start(t, testkit.PostgresAt(url, nil))
	// The second node shares the first one's keys and dev app (its data
	// directory's files), not its database file: there is none.
	dirB := t.TempDir()
	entries, err := os.ReadDir(a.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(a.DataDir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dirB, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	b := testkit.Start(t, testkit.PostgresAt(url, func(c *config.Config) { c.DataDir = dirB }))
	if na, nb := a.Srv.NodeNumber(), b.Srv.NodeNumber(); na == nb {
		t.Fatalf("both nodes leased node number %d", na)
	}
	alice := a.LoginAs(t, "alice", "ios", "a1")
	alice.SyncDone(wait)
	carol := b.LoginAs(t, "carol", "ios", "c1")
	carol.SyncDone(wait)
	const n = 10
	for i := range n {
		if _, err := alice.SendText("bob", fmt.Sprint("a", i), fmt.Sprint("from a ", i)); err != nil {
			t.Fatal(err)
		}
		if _, err := carol.SendText("bob", fmt.Sprint("c", i), fmt.Sprint("from c ", i)); err != nil {
			t.Fatal(err)
		}
	}
	bob := b.LoginAs(t, "bob", "android", "b1")
	msgs, count := bob.SyncDone(wait)
	if count != 2*n {
		t.Fatalf("bob synced %d, want %d", count, 2*n)
	}
	ids := map[string]bool{}
	seqs := map[string]int64{}
	for _, m := range msgs {
		if ids[m.MessageID] {
			t.Fatalf("message ID %s twice", m.MessageID)
		}
		ids[m.MessageID] = true
		if m.ConversationSeq != seqs[m.ConversationID]+1 {
			t.Fatalf("%s: seq %d after %d", m.ConversationID, m.ConversationSeq, seqs[m.ConversationID])
		}
		seqs[m.ConversationID] = m.ConversationSeq
	}
	// A node that stops gives its number back: the next one to start
	// takes it.
	na := a.Srv.NodeNumber()
	a.Stop(t)
	dirC := t.TempDir()
	for _, e := range entries {
		if b, err := os.ReadFile(filepath.Join(dirB, e.Name())); err == nil {
			_ = os.WriteFile(filepath.Join(dirC, e.Name()), b, 0o600)
		}
	}
	c := testkit.Start(t, testkit.PostgresAt(url, func(c *config.Config) { c.DataDir = dirC }))
	if got := c.Srv.NodeNumber(); got != na {
		t.Fatalf("after node %d stopped, a new node leased %d", na, got)
	}
}
