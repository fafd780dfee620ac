package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/heraldim/herald/internal/im"
	"github.com/heraldim/herald/internal/push"
)

// TestQueryPlans guards the indexes: no query may scan a whole table.
func TestQueryPlans(t *testing.T) {
	s := openTest(t, Config{Path: filepath.Join(t.TempDir(), "herald.db")})
	defer s.Close()
	tests := []struct {
		name  string
		query string
		args  []any
	}{
		{"message by local ID", qMessageByLocalID, []any{"a", "u", "l"}},
		{"last seq", qLastSeq, []any{"a", "c"}},
		{"messages after", qMessagesAfter, []any{"a", "c", 1, 10}},
		{"messages before", qMessagesBefore, []any{"a", "c", 1, 10}},
		{"conversations", qConversations, []any{"a", "u", 1, 10}},
		{"conversation", qConversation, []any{"a", "u", "c"}},
		{"read state", qReadState, []any{"a", "u", "c"}},
		{"unread after", qUnreadAfter, []any{"a", "c", 1, "u"}},
		{"pending", qPending, []any{"a", "u", "d"}},
		{"user cursor", qUserCursor, []any{"a", "u", "c"}},
		{"plan push jobs", qPlanMessage, []any{"a", "u", 1, []byte("{}"), 1, 0, "", ""}},
		{"plan push jobs once", planQuery(push.Intent{Source: push.Source{Kind: push.SourceMessage}, Once: true}, 1), []any{"a", "u", 1, []byte("{}"), 1, 0, "", ""}},
		{"user devices", qUserDevices, []any{"a", "u"}},
		{"device", qDevice, []any{"a", "p"}},
		{"due jobs", qDueJobs, []any{"fcm", 1, 10}},
		{"claim jobs", claimQuery(false), []any{"fcm", 1, 10, "n", 2}},
		{"claimed jobs", claimedJobsQuery(2), []any{1, 2}},
		{"job lease", qJobLease, []any{1}},
		{"receipt job", qReceiptJob, []any{1, "a"}},
		{"trace by message", qTraceByMessage, []any{"a", 1, 10}},
		{"join request", qJoinRequest, []any{"a", "g", "u"}},
		{"join requests", qJoinRequests, []any{"a", "g", "", 10}},
		{"decide join request", qDecideJoinRequest, []any{"a", "g", "u", 2, 1}},
		{"set join mode", qSetJoinMode, []any{"a", "g", 1}},
		{"trace by user", qTraceByUser, []any{"a", "u", 10}},
		{"trace by push ID", qTraceByPushID, []any{"a", "p", 10}},
		{"drop device jobs", qDropDeviceJobs, []any{"a", "p", "r", 1}},
		{"plan call push once", planQuery(push.Intent{Source: push.Source{Kind: push.SourceCallRing}, Once: true}, 1), []any{"a", "u", 0, []byte("{}"), 1, 2, "call_invite", "c"}},
		{"plan push to devices", planQuery(push.Intent{Targets: push.Targets{PushIDs: []string{"p"}}, Source: push.Source{Kind: push.SourceServer}}, 1), []any{"a", "p", 0, []byte("{}"), 1, 0, "", ""}},
		{"plan a page of members", planQuery(push.Intent{Source: push.Source{Kind: push.SourceMessage}}, 4), []any{"a", "u1", 1, []byte("{}"), 1, 0, "", "", "u2", "u3", "u4"}},
		{"plan a page of members once", planQuery(push.Intent{Source: push.Source{Kind: push.SourceMessage}, Once: true}, 4), []any{"a", "u1", 1, []byte("{}"), 1, 0, "", "", "u2", "u3", "u4"}},
	}
	for _, tt := range tests {
		rows, err := s.r.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+tt.query, tt.args...)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		for _, step := range plan {
			if strings.HasPrefix(step, "SCAN") || strings.Contains(step, "TEMP B-TREE") {
				t.Errorf("%s: plan %q scans or sorts", tt.name, plan)
			}
		}
	}
}

// TestPlanSize: a page of targets is planned by a statement sized to the
// next power of two, never smaller than the page, at most planPage.
func TestPlanSize(t *testing.T) {
	for _, tt := range []struct{ k, want int }{{1, 1}, {2, 2}, {3, 4}, {79, 128}, {1000, 1024}, {planPage, planPage}} {
		if got := planSize(tt.k); got != tt.want {
			t.Errorf("planSize(%d) = %d, want %d", tt.k, got, tt.want)
		}
	}
}

// TestBusy: a lock held by another connection beyond busy_timeout is
// reported as the retryable im.ErrBusy.
func TestBusy(t *testing.T) {
	path := filepath.Join(t.TempDir(), "herald.db")
	s := openTest(t, Config{Path: path})
	defer s.Close()

	holder, err := sql.Open("sqlite", dsn(path, "busy_timeout(0)")+"&_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	tx, err := holder.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()

	other, err := sql.Open("sqlite", dsn(path, "busy_timeout(0)")+"&_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	_, err = other.BeginTx(t.Context(), nil)
	if err == nil {
		t.Fatal("BeginTx while another connection holds the write lock: no error")
	}
	if got := mapErr("op", err); !errors.Is(got, im.ErrBusy) || !strings.HasPrefix(got.Error(), "op: ") {
		t.Errorf("mapErr(%v) = %v, want op: ... wrapping ErrBusy", err, got)
	}
}

func TestMapErr(t *testing.T) {
	if err := mapErr("op", nil); err != nil {
		t.Errorf("mapErr(nil) = %v", err)
	}
	if err := mapErr("op", sql.ErrNoRows); !errors.Is(err, im.ErrNotFound) {
		t.Errorf("mapErr(ErrNoRows) = %v, want ErrNotFound", err)
	}
	other := errors.New("disk on fire")
	if err := mapErr("op", other); !errors.Is(err, other) || errors.Is(err, im.ErrBusy) || err.Error() != "op: disk on fire" {
		t.Errorf("mapErr(other) = %v", err)
	}
}

func TestOpenConfig(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"defaults", Config{Path: filepath.Join(dir, "a.db")}, true},
		{"power", Config{Path: filepath.Join(dir, "b.db"), Durability: DurabilityPower, ReadConns: 1}, true},
		{"odd characters in path", Config{Path: filepath.Join(dir, "we?ird #%20name.db")}, true},
		{"no path", Config{}, false},
		{"unknown durability", Config{Path: filepath.Join(dir, "c.db"), Durability: 7}, false},
		{"negative readers", Config{Path: filepath.Join(dir, "d.db"), ReadConns: -1}, false},
		{"missing directory", Config{Path: filepath.Join(dir, "nope", "e.db")}, false},
	}
	for _, tt := range tests {
		s, err := Open(t.Context(), tt.cfg, nil)
		if (err == nil) != tt.ok {
			t.Errorf("%s: Open error %v, want ok %v", tt.name, err, tt.ok)
		}
		if err != nil {
			continue
		}
		var journal string
		var sync int
		if err := s.w.QueryRow("PRAGMA journal_mode").Scan(&journal); err != nil || journal != "wal" {
			t.Errorf("%s: journal_mode %q, %v; want wal", tt.name, journal, err)
		}
		if err := s.w.QueryRow("PRAGMA synchronous").Scan(&sync); err != nil || sync != 1+int(tt.cfg.Durability) {
			t.Errorf("%s: synchronous %d, %v; want %d", tt.name, sync, err, 1+int(tt.cfg.Durability))
		}
		var limit int64
		if err := s.w.QueryRow("PRAGMA journal_size_limit").Scan(&limit); err != nil || limit != walSizeLimit {
			t.Errorf("%s: journal_size_limit %d, %v; want %d", tt.name, limit, err, walSizeLimit)
		}
		if _, err := s.r.Exec("CREATE TABLE x (y)"); err == nil {
			t.Errorf("%s: a reader connection can write", tt.name)
		}
		if err := s.Close(); err != nil {
			t.Errorf("%s: Close: %v", tt.name, err)
		}
		if _, err := os.Stat(tt.cfg.Path); err != nil {
			t.Errorf("%s: database file: %v", tt.name, err)
		}
	}
}

// TestCanceled: a cancelled append reports the context's error, stores
// nothing and leaves the store usable.
func TestCanceled(t *testing.T) {
	s := openTest(t, Config{Path: filepath.Join(t.TempDir(), "herald.db")})
	defer s.Close()
	if err := s.CreateApp(t.Context(), im.App{ID: "a", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	msg := func(id int64) *im.Message {
		return &im.Message{AppID: "a", ID: id, ConvID: im.PeerConvID("x", "y"), Sender: "x", Recipient: "y", CreatedAt: time.Now()}
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.AppendMessages(ctx, []*im.Message{msg(1)}); !errors.Is(err, context.Canceled) {
		t.Errorf("AppendMessages with a cancelled context: err = %v, want context.Canceled", err)
	}
	res, err := s.AppendMessages(t.Context(), []*im.Message{msg(2)})
	if err != nil || res[0].Seq != 1 {
		t.Errorf("AppendMessages after a cancelled one = %+v, %v; want Seq 1", res, err)
	}
}

// TestSecondWriter: two stores on one file (a misconfiguration) cannot store
// a duplicate seq; the stale one fails once with ErrConflict, then recovers.
func TestSecondWriter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "herald.db")
	a, b := openTest(t, Config{Path: path}), openTest(t, Config{Path: path})
	defer a.Close()
	defer b.Close()
	if err := a.CreateApp(t.Context(), im.App{ID: "a", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	var id int64
	appendVia := func(s *Store) (int64, error) {
		id++
		m := &im.Message{AppID: "a", ID: id, ConvID: im.PeerConvID("x", "y"), Sender: "x", Recipient: "y", CreatedAt: time.Now()}
		res, err := s.AppendMessages(t.Context(), []*im.Message{m})
		if err != nil {
			return 0, err
		}
		return res[0].Seq, nil
	}
	for _, step := range []struct {
		s        *Store
		want     int64
		conflict bool
	}{{a, 1, false}, {b, 2, false}, {a, 0, true}, {a, 3, false}} {
		seq, err := appendVia(step.s)
		if step.conflict != errors.Is(err, im.ErrConflict) || (!step.conflict && (err != nil || seq != step.want)) {
			t.Errorf("append: seq %d, err %v; want seq %d, conflict %v", seq, err, step.want, step.conflict)
		}
	}
}

// TestSeqCache: the cache keeps at most two generations and promotes what
// it is asked for.
func TestSeqCache(t *testing.T) {
	c := newSeqCache(2)
	k := func(i int) convKey { return convKey{app: "a", conv: string(rune('a' + i))} }
	c.put(k(0), 10)
	c.put(k(1), 11)
	c.put(k(2), 12) // k0, k1 become the old generation
	if v, ok := c.get(k(0)); !ok || v != 10 {
		t.Errorf("get(k0) from the old generation = %d, %v", v, ok)
	}
	// k0 was promoted beside k2, filling the current generation; k3 starts a
	// new one and drops k1.
	c.put(k(3), 13)
	for i, want := range []bool{true, false, true, true} {
		if _, ok := c.get(k(i)); ok != want {
			t.Errorf("k%d cached = %v, want %v", i, ok, want)
		}
	}
	c.put(k(3), 14)
	if v, _ := c.get(k(3)); v != 14 {
		t.Errorf("k3 = %d after update, want 14", v)
	}
	c.forget(k(3))
	if _, ok := c.get(k(3)); ok {
		t.Error("k3 cached after forget")
	}
	if len(c.cur)+len(c.old) > 4 {
		t.Errorf("cache holds %d entries, bound is 4", len(c.cur)+len(c.old))
	}
}

// TestRunCheckpoints: committed pages reach the database file from the
// background checkpointer, without any commit checkpointing them (the WAL
// stays below the writer's own threshold).
func TestRunCheckpoints(t *testing.T) {
	path := filepath.Join(t.TempDir(), "herald.db")
	s := openTest(t, Config{Path: path})
	defer s.Close()
	if err := s.CreateApp(t.Context(), im.App{ID: "bench", Name: "bench", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	size := func() int64 {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	if _, err := s.AppendMessages(t.Context(), benchBatch(0, 500, 50)); err != nil {
		t.Fatal(err)
	}
	before := size()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.RunCheckpoints(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for size() == before {
		if time.Now().After(deadline) {
			t.Fatal("the database file did not grow: nothing was checkpointed")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// migratedTo opens the database at path with the schema migrated up to
// version and no further, to write rows as an older server did before
// opening the store on it (which migrates the rest). The caller closes it.
func migratedTo(t *testing.T, path string, version int64) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	fsys, err := fs.Sub(migrations, "migrations/sqlite")
	if err != nil {
		t.Fatal(err)
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, db, fsys, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(t.Context(), version); err != nil {
		t.Fatal(err)
	}
	return db
}

// TestCheckpointIntervalFollowsDurability checks that Open gives the
// background checkpoints the period measured for its durability: short
// without an fsync per commit, longer with one.
func TestCheckpointIntervalFollowsDurability(t *testing.T) {
	for _, tc := range []struct {
		d    Durability
		want time.Duration
	}{
		{DurabilityProcess, checkpointIntervalProcess},
		{DurabilityPower, checkpointIntervalPower},
	} {
		t.Run(tc.d.String(), func(t *testing.T) {
			s := openTest(t, Config{Path: filepath.Join(t.TempDir(), "herald.db"), Durability: tc.d})
			defer s.Close()
			if s.ckInterval != tc.want {
				t.Errorf("checkpoint interval %v, want %v", s.ckInterval, tc.want)
			}
		})
	}
	if checkpointIntervalProcess >= checkpointIntervalPower {
		t.Errorf("process interval %v should be shorter than power's %v", checkpointIntervalProcess, checkpointIntervalPower)
	}
}
