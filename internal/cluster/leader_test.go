package cluster_test

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/jonboulle/clockwork"

	"github.com/heraldim/herald/internal/cluster"
)

// openPG opens the test database of HERALD_TEST_POSTGRES, or skips.
func openPG(t *testing.T) *sql.DB {
	t.Helper()
	url := os.Getenv("HERALD_TEST_POSTGRES")
	if url == "" {
		t.Skip("HERALD_TEST_POSTGRES is unset: set it to a PostgreSQL URL (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable) to run the leadership tests")
	}
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.PingContext(t.Context()); err != nil {
		t.Fatalf("HERALD_TEST_POSTGRES=%s: %v", url, err)
	}
	return db
}

// node is one campaigning elector and what its lead saw.
type node struct {
	e      *cluster.Elector
	cancel context.CancelFunc
	done   chan struct{}
	terms  chan context.Context // each lead's context, when it starts
}

func start(t *testing.T, db *sql.DB, name string, clock clockwork.Clock) *node {
	t.Helper()
	e, err := cluster.NewElector(db, cluster.ElectorConfig{Name: name, Clock: clock, Interval: time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	n := &node{e: e, cancel: cancel, done: make(chan struct{}), terms: make(chan context.Context, 8)}
	go func() {
		defer close(n.done)
		e.Run(ctx, func(ctx context.Context) {
			n.terms <- ctx
			<-ctx.Done()
		})
	}()
	t.Cleanup(func() { n.cancel(); <-n.done })
	return n
}

func (n *node) stop() { n.cancel(); <-n.done }

// TestElectorOneLeader: of three nodes exactly one leads; when it stops,
// exactly one other takes over at its next campaign.
func TestElectorOneLeader(t *testing.T) {
	db := openPG(t)
	clock := clockwork.NewFakeClock()
	name := fmt.Sprintf("test-%d", rand.Int64())
	nodes := []*node{start(t, db, name, clock), start(t, db, name, clock), start(t, db, name, clock)}

	leader := waitLeader(t, clock, nodes, nil)
	for _, n := range nodes {
		if n != leader && n.e.Leading() {
			t.Fatal("two nodes lead")
		}
	}
	leader.stop()
	next := waitLeader(t, clock, nodes, leader)
	if next == leader {
		t.Fatal("the stopped node leads again")
	}
	if leader.e.Leading() {
		t.Fatal("a stopped node reports leading")
	}
}

// TestElectorSessionKilled: when the database ends the leader's session
// (as it does when the node's connection dies), the leader steps down at
// its next check and another node leads.
func TestElectorSessionKilled(t *testing.T) {
	db := openPG(t)
	clock := clockwork.NewFakeClock()
	name := fmt.Sprintf("test-%d", rand.Int64())
	a := start(t, db, name, clock)
	first := waitLeader(t, clock, []*node{a}, nil)
	lctx := <-first.terms

	b := start(t, db, name, clock)
	key := uint64(cluster.LockKey(name))
	hi, lo := int64(key>>32), int64(key&0xffffffff)
	// Kill every session holding an advisory lock of this test's key but
	// b's attempts: the leader's is the only one holding it.
	if _, err := db.ExecContext(t.Context(), `SELECT pg_terminate_backend(pid) FROM pg_locks
		WHERE locktype = 'advisory' AND granted AND pid <> pg_backend_pid()
		AND classid::bigint = $1 AND objid::bigint = $2 AND objsubid = 1`, hi, lo); err != nil {
		t.Fatal(err)
	}
	for lctx.Err() == nil {
		advance(t, clock)
	}
	if a.e.Leading() && b.e.Leading() {
		t.Fatal("two nodes lead")
	}
	waitLeader(t, clock, []*node{a, b}, nil)
}

// waitLeader advances the clock until a node other than not leads, and
// returns it.
func waitLeader(t *testing.T, clock *clockwork.FakeClock, nodes []*node, not *node) *node {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		for _, n := range nodes {
			if n != not && n.e.Leading() {
				return n
			}
		}
		advance(t, clock)
	}
	t.Fatal("no node leads")
	return nil
}

// advance moves the fake clock by one interval once a waiter is blocked
// on it.
func advance(t *testing.T, clock *clockwork.FakeClock) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	_ = clock.BlockUntilContext(ctx, 1)
	clock.Advance(time.Second)
}
