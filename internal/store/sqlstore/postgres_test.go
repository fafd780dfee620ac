package sqlstore

import (
	"crypto/sha256"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldim/herald/internal/im"
	"github.com/heraldim/herald/internal/push"
	"github.com/heraldim/herald/internal/store/pgtest"
	"github.com/heraldim/herald/internal/store/storetest"
)

// dialectOpener opens stores of one dialect for the contract suites: for
// SQLite a file in the suite's directory, for PostgreSQL a fresh database
// per directory (created on first use, dropped when t ends), so that a
// suite's reopen finds its data again.
type dialectOpener struct {
	name string
	open func(t testing.TB, dir string) *Store
}

// dialects returns the openers of both dialects; PostgreSQL's skips the
// test when HERALD_TEST_POSTGRES is unset.
func dialects() []dialectOpener {
	return []dialectOpener{
		{"sqlite", func(t testing.TB, dir string) *Store {
			return openTest(t, Config{Path: dir + "/herald.db"})
		}},
		{"postgres", postgresOpener()},
	}
}

// postgresOpener returns an opener of stores on fresh databases, one per
// directory.
func postgresOpener() func(t testing.TB, dir string) *Store {
	var mu sync.Mutex
	dbs := map[string]string{}
	return func(t testing.TB, dir string) *Store {
		t.Helper()
		mu.Lock()
		u, ok := dbs[dir]
		if !ok {
			u = pgtest.Fresh(t)
			dbs[dir] = u
		}
		mu.Unlock()
		s, err := OpenPostgres(t.Context(), PostgresConfig{URL: u, MaxConns: 4}, nil)
		if err != nil {
			t.Fatalf("OpenPostgres: %v", err)
		}
		return s
	}
}

func TestContractDialects(t *testing.T) {
	for _, d := range dialects() {
		t.Run(d.name, func(t *testing.T) {
			if d.name == "sqlite" {
				t.Skip("SQLite runs in TestContract")
			}
			pgtest.URL(t)
			t.Run("im", func(t *testing.T) {
				storetest.Run(t, func(t *testing.T, dir string) im.Store { return d.open(t, dir) })
			})
			t.Run("push", func(t *testing.T) {
				storetest.RunPush(t, func(t *testing.T, dir string) storetest.PushStore { return d.open(t, dir) })
			})
			t.Run("calls", func(t *testing.T) {
				storetest.RunCalls(t, func(t *testing.T, dir string) storetest.CallStore { return d.open(t, dir) })
			})
			t.Run("tokens", func(t *testing.T) {
				storetest.RunProviderTokens(t, func(t *testing.T, dir string) storetest.TokenStore { return d.open(t, dir) })
			})
		})
	}
}

// TestPostgresConcurrentNodes: three stores (three pools, as three nodes)
// on one database append at once to the same peer conversations and
// groups, and each sender retries some of its local IDs through another
// store: every message is stored once, seqs are dense and unique per
// conversation, and the conversation rows' last seq and unread add up.
func TestPostgresConcurrentNodes(t *testing.T) {
	u := pgtest.Fresh(t)
	const nodes, batches, perBatch = 3, 30, 8
	stores := make([]*Store, nodes)
	for i := range stores {
		s, err := OpenPostgres(t.Context(), PostgresConfig{URL: u, MaxConns: 4}, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		stores[i] = s
	}
	ctx := t.Context()
	at := time.UnixMilli(1_700_000_000_000).UTC()
	if err := stores[0].CreateApp(ctx, im.App{ID: "a", Name: "a", Secret: "s", AdminKey: "k", CreatedAt: at}); err != nil {
		t.Fatal(err)
	}
	users := []string{"u0", "u1", "u2", "u3"}
	groups := []string{"g0", "g1"}
	var ms []im.GroupMember
	for _, u := range users {
		ms = append(ms, im.GroupMember{UserID: u, Role: 3, JoinedAt: at})
	}
	for _, g := range groups {
		if err := stores[1].CreateGroup(ctx, im.Group{AppID: "a", ID: g, Name: g, Owner: "u0", CreatedAt: at}, ms); err != nil {
			t.Fatal(err)
		}
	}
	// make builds message k of node n: deterministic, so that the same
	// (sender, local ID) is the same content wherever it is sent from.
	make1 := func(n, k int) *im.Message {
		from := users[k%len(users)]
		m := &im.Message{AppID: "a", ID: int64(n)<<32 | int64(k+1), Sender: from, Type: 1,
			Priority: 2, LocalID: fmt.Sprintf("n%d-%d", n, k), CreatedAt: at}
		if k%3 == 0 {
			g := groups[k%len(groups)]
			m.ConvID, m.ConvType, m.Recipient = im.GroupConvID(g), convTypeGroup, g
		} else {
			to := users[(k+1+k/len(users))%len(users)]
			if to == from {
				to = users[(k+1)%len(users)]
			}
			m.ConvID, m.ConvType, m.Recipient = im.PeerConvID(from, to), convTypePeer, to
		}
		m.Text = m.ConvID + " " + m.LocalID
		h := sha256.Sum256([]byte(m.Text))
		m.ContentHash = h[:]
		return m
	}
	var wg sync.WaitGroup
	errs := make(chan error, nodes)
	for n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range batches {
				var batch []*im.Message
				for j := range perBatch {
					batch = append(batch, make1(n, b*perBatch+j))
				}
				// A retry of the previous node's message with the same
				// local ID (and content), sent through this store.
				if b > 0 {
					r := *make1((n+1)%nodes, (b-1)*perBatch)
					r.ID = int64(n+1)<<48 | int64(b)
					batch = append(batch, &r)
				}
				if _, err := stores[n].AppendMessages(ctx, batch); err != nil {
					errs <- fmt.Errorf("node %d batch %d: %w", n, b, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	// What was meant to be stored: every (node, k) once.
	want := map[string]int{}        // conversation -> messages
	unread := map[[2]string]int64{} // (owner, conv) -> messages of others
	peers := map[[2]string]bool{}   // (owner, conv) of peer conversations
	for n := range nodes {
		for k := range batches * perBatch {
			m := make1(n, k)
			want[m.ConvID]++
			if m.ConvType == convTypePeer {
				unread[[2]string{m.Recipient, m.ConvID}]++
				peers[[2]string{m.Recipient, m.ConvID}] = true
				peers[[2]string{m.Sender, m.ConvID}] = true
			}
		}
	}
	seen := map[string]bool{}
	for conv, n := range want {
		got, err := stores[2].MessagesAfter(ctx, "a", conv, 0, 10*n)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != n {
			t.Fatalf("%s: %d messages stored, want %d", conv, len(got), n)
		}
		for i, m := range got {
			if m.Seq != int64(i+1) {
				t.Fatalf("%s: message %d has seq %d: seqs not dense", conv, i, m.Seq)
			}
			key := m.Sender + "/" + m.LocalID
			if seen[key] {
				t.Fatalf("%s stored twice", key)
			}
			seen[key] = true
		}
	}
	for k := range peers {
		c, err := stores[0].Conversation(ctx, "a", k[0], k[1])
		if err != nil {
			t.Fatalf("conversation %v: %v", k, err)
		}
		if c.LastSeq != int64(want[k[1]]) || c.Unread != unread[k] {
			t.Fatalf("conversation %v: last seq %d unread %d, want %d and %d", k, c.LastSeq, c.Unread, want[k[1]], unread[k])
		}
	}
	for _, g := range groups {
		gr, err := stores[1].Group(ctx, "a", g)
		if err != nil {
			t.Fatal(err)
		}
		if gr.LastSeq != int64(want[im.GroupConvID(g)]) {
			t.Fatalf("group %s: last seq %d, want %d", g, gr.LastSeq, want[im.GroupConvID(g)])
		}
	}
}

// TestPostgresWriteHealth: the write probe succeeds on a writable
// database and fails, in WriteHealth, once the database refuses writes
// (read-only, as a standby would); Ping still answers.
func TestPostgresWriteHealth(t *testing.T) {
	u := pgtest.Fresh(t)
	ctx := t.Context()
	s, err := OpenPostgres(ctx, PostgresConfig{URL: u, MaxConns: 2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.ProbeWrite(ctx); err != nil {
		t.Fatalf("probe: %v", err)
	}
	if f, failing := s.WriteHealth(); failing {
		t.Fatalf("health after a good probe: %+v", f)
	}
	// Read-only for new sessions, and the pool's sessions ended.
	if _, err := s.w.ExecContext(ctx, `DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET default_transaction_read_only = on', current_database()); END $$`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.w.ExecContext(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`); err != nil {
		t.Fatal(err)
	}
	s.w.SetMaxIdleConns(0) // the next statements open new sessions
	s.w.SetMaxIdleConns(2)
	if err := s.ProbeWrite(ctx); err == nil {
		t.Fatal("probe succeeded on a read-only database")
	}
	f, failing := s.WriteHealth()
	if !failing || !strings.Contains(f.Reason(), "read-only") {
		t.Fatalf("health: failing=%v reason %q, want a read-only failure", failing, f.Reason())
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("ping: %v", err)
	}
}

// TestPostgresPlanPushOnceConcurrent: three stores (as three nodes) plan
// the same user's late pushes at once, over and over: each device gets
// one job per message, never two.
func TestPostgresPlanPushOnceConcurrent(t *testing.T) {
	u := pgtest.Fresh(t)
	const nodes, rounds, msgs = 3, 8, 10
	stores := make([]*Store, nodes)
	for i := range stores {
		s, err := OpenPostgres(t.Context(), PostgresConfig{URL: u, MaxConns: 4}, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		stores[i] = s
	}
	ctx := t.Context()
	if err := stores[0].CreateApp(ctx, im.App{ID: "a1", Name: "a1", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{"b-phone", "b-pad"} {
		if err := stores[0].RegisterDevice(ctx, device("a1", tok, "bob")); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now()
	plans := make([]im.PushPlan, msgs)
	for i := range plans {
		plans[i] = im.PushPlan{MessageID: int64(i + 1), PushConfig: push.Content{Title: "t"}, ExpiresAt: now.Add(time.Hour)}
	}
	var wg sync.WaitGroup
	errs := make(chan error, nodes*rounds)
	for _, s := range stores {
		for range rounds {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := s.PlanPushOnce(ctx, "a1", "bob", plans, now); err != nil {
					errs <- err
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	jobs, _, err := stores[1].Trace(ctx, push.TraceFilter{AppID: "a1", UserID: "bob", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	per := map[string]int{}
	for _, j := range jobs {
		per[fmt.Sprintf("%s/%d", j.PushID, j.MessageID)]++
	}
	if len(jobs) != 2*msgs || len(per) != 2*msgs {
		t.Fatalf("%d jobs over %d (device, message) pairs, want %d once each: %v", len(jobs), len(per), 2*msgs, per)
	}
}
