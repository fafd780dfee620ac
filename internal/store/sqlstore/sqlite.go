// Package sqlstore implements im.Store, push.Store and the other stores on
// SQL databases: an embedded SQLite database (the pure-Go modernc.org/sqlite
// driver, Open), the default store of a single-node Herald, and PostgreSQL
// (the pgx driver, OpenPostgres), which several nodes share. Both run the
// same Store and the same query text ($n placeholders, ON CONFLICT); what
// differs lives in one dialect value (dialect.go). Each dialect has its own
// migrations (migrations/sqlite, migrations/postgres): a new migration adds
// one file to each, under the same number (migrations/README.md;
// TestSchemaParity compares the two schemas).
//
// On SQLite, one process owns the database file. It writes through a single connection
// (SQLite allows one writer at a time; one connection avoids lock waits
// between our own writers) and reads through a small pool, which WAL mode
// lets run alongside the writer. Because it is the only writer, the store
// caches each conversation's last Seq in memory. Two processes must not open
// the same file: their caches would disagree. The unique index on
// (app, conversation, seq) then fails the losing batch with im.ErrConflict
// instead of storing a duplicate seq, and the cache reloads after a failure.
//
// On PostgreSQL, other processes write beside this one: there is no seq
// cache, seqs are allocated under per-conversation locks (seqalloc.go), and
// each node leases its node number for message IDs (nodes.go).
package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/heraldim/herald/internal/im"
)

var _ im.Store = (*Store)(nil)

//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrations embed.FS

// Durability says which failure a committed write survives. The zero value
// is DurabilityProcess.
type Durability int

const (
	// DurabilityProcess (the default): WAL with synchronous=NORMAL. A commit
	// survives the process being killed; the last commits before a power
	// loss or kernel crash may be lost (the database stays consistent).
	// Commits cost no fsync.
	DurabilityProcess Durability = iota
	// DurabilityPower: WAL with synchronous=FULL. A commit survives power
	// loss: each commit waits for an fsync of the WAL, so callers should
	// group messages into batches (AppendMessages) to share one fsync.
	DurabilityPower
)

// String returns the name used in configuration: "process" or "power".
func (d Durability) String() string {
	switch d {
	case DurabilityProcess:
		return "process"
	case DurabilityPower:
		return "power"
	}
	return fmt.Sprintf("Durability(%d)", int(d))
}

// synchronous returns the SQLite synchronous setting for d.
func (d Durability) synchronous() (string, error) {
	switch d {
	case DurabilityProcess:
		return "NORMAL", nil
	case DurabilityPower:
		return "FULL", nil
	}
	return "", fmt.Errorf("unknown durability %d", int(d))
}

// DefaultReadConns is the size of the reader pool when Config.ReadConns is
// zero: enough to keep reads flowing beside the writer on a small machine,
// while each connection holds its own page cache (2 MB by default).
const DefaultReadConns = 4

// busyTimeoutMS is how long a connection waits for a lock before failing
// with SQLITE_BUSY (reported as im.ErrBusy). 5 s: far above a normal batch
// commit, short enough that a stuck writer surfaces as errors.
const busyTimeoutMS = 5000

// walSizeLimit is the size the WAL file is truncated to after a checkpoint.
// 64 MB: about a minute of sustained writes at full speed here.
const walSizeLimit = 64 << 20

// Config configures the store. The zero value is not usable: Path is
// required.
type Config struct {
	// Path is the database file. Its directory must exist; the file and its
	// -wal and -shm companions are created on first use.
	Path string
	// Durability selects what a commit survives; zero is
	// DurabilityProcess.
	Durability Durability
	// ReadConns is the number of reader connections; zero means
	// DefaultReadConns.
	ReadConns int
	// Sealer encrypts the secret columns (apps' secrets, vendor
	// credentials, APNs provider tokens). Open seals the plaintext values
	// older versions left and re-wraps those sealed under a non-primary
	// key. nil stores secrets in plaintext and refuses to read sealed
	// ones: for tests and tools that read no secrets; the server always
	// sets one.
	Sealer Sealer
}

// Store is an im.Store on SQLite. Create it with Open; it is safe for
// concurrent use.
//
// Beyond the im.Store contract: every row belongs to an app that exists, so
// appending messages or saving cursors for an unknown app fails with
// im.ErrNotFound (and nothing of the batch is stored). Times are stored with
// millisecond precision and returned in UTC.
type Store struct {
	d dialect // what differs between SQLite and PostgreSQL

	w  *sql.DB // the one writer connection
	r  *sql.DB // reader pool, query_only
	ck *sql.DB // one connection for background checkpoints (RunCheckpoints)

	// writeSem serialises AppendMessages (capacity 1; a channel rather than
	// a mutex so that waiting honours the context). It guards seqs.
	writeSem chan struct{}
	seqs     *seqCache

	sealer Sealer // nil: secrets in plaintext

	// anonParams writes the placeholders of the statements built in code
	// (multi-row statements) as "?" rather than "$n": SQLite looks a
	// numbered parameter's name up in a list when binding it, which makes
	// binding quadratic in the parameters of a statement (1,152 in a
	// 64-row INSERT). Zero, "$n", is what PostgreSQL needs.
	anonParams bool
	// skipLocked makes claims of push jobs skip rows other transactions
	// hold (FOR UPDATE SKIP LOCKED, see claimQuery): true on PostgreSQL,
	// where several nodes claim at once; false on SQLite, which has one
	// writer and no such clause.
	skipLocked bool

	// Prepared statements of the hot paths; w* on the writer, r* on the
	// readers.
	wInsertMessages      *multiRow
	wUpsertConversations *multiRow
	wPlanMessages        *multiRow
	wFinishJobs          *multiRow
	wInsertAttempts      *multiRow
	wClaimJobs           *sql.Stmt
	wClaimedJobs         []*sql.Stmt // by log2 of the IDs read (claimedJobs)
	wMessageByLocalID    *sql.Stmt
	wLastSeq             *sql.Stmt
	wSaveCursor          *sql.Stmt
	wInsertPushJobs      *sql.Stmt
	wInsertAttempt       *sql.Stmt
	wFinishJob           *sql.Stmt
	rMessagesAfter       *sql.Stmt
	rMessagesBefore      *sql.Stmt
	rConversations       *sql.Stmt
	rConversation        *sql.Stmt
	rPending             *sql.Stmt

	closeOnce sync.Once
	closeErr  error

	log    *slog.Logger
	health writeHealth
	// ckInterval is RunCheckpoints' period (Durability.checkpointInterval;
	// shorter in tests); ckObserve, when set, sees every checkpoint's outcome.
	ckInterval time.Duration
	ckObserve  func(error)
	ckFailures atomic.Uint64
}

// Open opens (creating it if needed) the database at cfg.Path, brings its
// schema up to date and prepares the store. It starts no goroutines of its
// own (database/sql runs one per pool, which Close stops). log receives the
// migrations applied and the settings; nil discards them.
func Open(ctx context.Context, cfg Config, log *slog.Logger) (*Store, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Path == "" {
		return nil, errors.New("sqlite: open: Path is required")
	}
	syncMode, err := cfg.Durability.synchronous()
	if err != nil {
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	switch {
	case cfg.ReadConns < 0:
		return nil, fmt.Errorf("sqlite: open: ReadConns %d is negative", cfg.ReadConns)
	case cfg.ReadConns == 0:
		cfg.ReadConns = DefaultReadConns
	}

	s := &Store{
		d:          sqliteDialect,
		writeSem:   make(chan struct{}, 1),
		seqs:       newSeqCache(seqCacheGeneration),
		sealer:     cfg.Sealer,
		log:        log,
		ckInterval: cfg.Durability.checkpointInterval(),
		anonParams: true,
	}
	if err := createPrivate(cfg.Path); err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			s.Close()
		}
	}()

	// The writer opens first: it switches the file to WAL (persistent) and
	// applies the migrations before any reader looks at the schema.
	s.w, err = sql.Open("sqlite", dsn(cfg.Path,
		"busy_timeout("+fmt.Sprint(busyTimeoutMS)+")",
		"journal_mode(WAL)",
		"synchronous("+syncMode+")",
		"foreign_keys(ON)",
		// 64 MiB of page cache for the writer (the default is 2 MiB): a batch
		// over hundreds of conversations touches that many index pages, and
		// rereading them from the OS cost ~8% of a commit.
		"cache_size(-65536)",
		// Statement journals in memory: a statement that writes many rows
		// (the multi-row INSERTs of AppendMessages) keeps the pages it
		// changes in one, to undo itself alone on failure; in a temporary
		// file that was a write(2) per page, 25% of those INSERTs' time.
		// They hold one statement's pages and nothing durable.
		"temp_store(MEMORY)",
		// RunCheckpoints copies the WAL into the database file from its own
		// connection, off the commit path (checkpoints inside commits were
		// ~8% of a commit's time). The writer still checkpoints by itself
		// when the WAL passes this many pages (40 MiB): a safety net for
		// when nobody runs RunCheckpoints.
		"wal_autocheckpoint("+fmt.Sprint(autoCheckpointPages)+")",
		// Checkpoints reset the WAL but do not shrink it: without a limit
		// it keeps the size of its largest burst forever.
		"journal_size_limit("+fmt.Sprint(walSizeLimit)+")",
	)+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("sqlite: open writer: %w", err)
	}
	// One connection, kept forever: SQLite has one writer at a time anyway,
	// and a closed connection would lose its prepared statements and cache.
	s.w.SetMaxOpenConns(1)
	s.w.SetMaxIdleConns(1)
	s.w.SetConnMaxLifetime(0)
	s.w.SetConnMaxIdleTime(0)
	if err := s.w.PingContext(ctx); err != nil {
		return nil, mapErr("sqlite: open "+cfg.Path, err)
	}
	if err := s.d.migrate(ctx, s.w, log); err != nil {
		return nil, err
	}
	if s.sealer != nil {
		if err := resealSecrets(ctx, s.d, s.w, s.sealer, log); err != nil {
			return nil, err
		}
	}

	s.r, err = sql.Open("sqlite", dsn(cfg.Path,
		"busy_timeout("+fmt.Sprint(busyTimeoutMS)+")",
		"query_only(1)",
	))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open readers: %w", err)
	}
	s.r.SetMaxOpenConns(cfg.ReadConns)
	s.r.SetMaxIdleConns(cfg.ReadConns)
	s.r.SetConnMaxLifetime(0)
	s.r.SetConnMaxIdleTime(0)

	s.ck, err = sql.Open("sqlite", dsn(cfg.Path, "busy_timeout("+fmt.Sprint(busyTimeoutMS)+")"))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open checkpointer: %w", err)
	}
	s.ck.SetMaxOpenConns(1)

	if err := s.prepare(ctx); err != nil {
		return nil, err
	}
	ok = true
	log.Info("sqlite store open", "path", cfg.Path, "durability", cfg.Durability.String(),
		"read_conns", cfg.ReadConns)
	return s, nil
}

// createPrivate creates the database file readable by its owner only
// (0600) before SQLite opens it: SQLite creates a missing file 0644 (less
// the umask) and gives its -wal and -shm companions the database file's
// mode. A file left by an older version, and its companions, are narrowed
// to 0600.
func createPrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("sqlite: open: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("sqlite: open: %w", err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("sqlite: open: %w", err)
		}
		if fi.Mode().Perm()&0o077 != 0 {
			if err := os.Chmod(p, fi.Mode().Perm()&0o700); err != nil {
				return fmt.Errorf("sqlite: open: %w", err)
			}
		}
	}
	return nil
}

// dsn builds a modernc.org/sqlite DSN for path with the given PRAGMAs. The
// path becomes a file: URI, so the characters URIs reserve are escaped.
func dsn(path string, pragmas ...string) string {
	var b strings.Builder
	b.WriteString("file:")
	b.WriteString(strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path))
	for i, p := range pragmas {
		if i == 0 {
			b.WriteByte('?')
		} else {
			b.WriteByte('&')
		}
		b.WriteString("_pragma=")
		b.WriteString(url.QueryEscape(p))
	}
	return b.String()
}

// prepare prepares the statements of the hot paths.
func (s *Store) prepare(ctx context.Context) error {
	for _, p := range []struct {
		db    *sql.DB
		query string
		stmt  **sql.Stmt
	}{
		{s.w, qMessageByLocalID, &s.wMessageByLocalID},
		{s.w, qLastSeq, &s.wLastSeq},
		{s.w, qSaveCursor, &s.wSaveCursor},
		{s.w, qPlanMessage, &s.wInsertPushJobs},
		{s.w, qInsertAttempt, &s.wInsertAttempt},
		{s.w, qFinishJob, &s.wFinishJob},
		{s.r, qMessagesAfter, &s.rMessagesAfter},
		{s.r, qMessagesBefore, &s.rMessagesBefore},
		{s.r, qConversations, &s.rConversations},
		{s.r, qConversation, &s.rConversation},
		{s.r, qPending, &s.rPending},
	} {
		stmt, err := p.db.PrepareContext(ctx, p.query)
		if err != nil {
			return mapErr("store: prepare", err)
		}
		*p.stmt = stmt
	}
	var err error
	if s.wInsertMessages, err = prepareMultiRow(ctx, s.w, messageCols, maxMessageRows, func(rows int) string {
		return valuesSQL(qInsertMessagesHead, messageCols, "", qInsertMessagesTail, rows, s.anonParams)
	}); err != nil {
		return mapErr("store: prepare", err)
	}
	if s.wUpsertConversations, err = prepareMultiRow(ctx, s.w, conversationCols, maxConversationRows, func(rows int) string {
		return valuesSQL(qUpsertConversationsHead, conversationCols, qUpsertConversationsRow, qUpsertConversationsTail, rows, s.anonParams)
	}); err != nil {
		return mapErr("store: prepare", err)
	}
	if s.wPlanMessages, err = prepareMultiRow(ctx, s.w, planBatchCols, maxPlanBatchRows, func(rows int) string {
		return planBatchSQL(rows, s.d.blob, s.anonParams)
	}); err != nil {
		return mapErr("store: prepare", err)
	}
	if err := s.prepareClaims(ctx); err != nil {
		return mapErr("store: prepare", err)
	}
	if s.wFinishJobs, err = prepareMultiRow(ctx, s.w, finishCols, maxFinishRows, func(rows int) string {
		return typedValuesSQL(qFinishJobsHead, finishJobTypes, qFinishJobsTail, rows, s.anonParams)
	}); err != nil {
		return mapErr("store: prepare", err)
	}
	if s.wInsertAttempts, err = prepareMultiRow(ctx, s.w, attemptCols, maxFinishRows, func(rows int) string {
		return typedValuesSQL(qInsertAttemptsHead, attemptTypes, qInsertAttemptsTail, rows, s.anonParams)
	}); err != nil {
		return mapErr("store: prepare", err)
	}
	return nil
}

// Ping checks that both the writer and a reader answer.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.w.PingContext(ctx); err != nil {
		return mapErr("store: ping writer", err)
	}
	if err := s.r.PingContext(ctx); err != nil {
		return mapErr("store: ping reader", err)
	}
	return nil
}

// Close closes the statements and connections. It is meant to be called
// once, after every user stopped; later calls return the first result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		var errs []error
		for _, st := range []*sql.Stmt{
			s.wMessageByLocalID, s.wLastSeq, s.wSaveCursor, s.wInsertPushJobs,
			s.wInsertAttempt, s.wFinishJob, s.wClaimJobs,
			s.rMessagesAfter, s.rMessagesBefore, s.rConversations, s.rConversation, s.rPending,
		} {
			if st != nil {
				errs = append(errs, st.Close())
			}
		}
		errs = append(errs, s.wInsertMessages.close()...)
		errs = append(errs, s.wUpsertConversations.close()...)
		errs = append(errs, s.wPlanMessages.close()...)
		for _, st := range s.wClaimedJobs {
			errs = append(errs, st.Close())
		}
		errs = append(errs, s.wFinishJobs.close()...)
		errs = append(errs, s.wInsertAttempts.close()...)
		// Readers first: the last connection to close checkpoints the WAL
		// into the database file, and that should be the writer.
		if s.ck != nil {
			errs = append(errs, s.ck.Close())
		}
		if s.r != nil && s.r != s.w {
			errs = append(errs, s.r.Close())
		}
		if s.w != nil {
			errs = append(errs, s.w.Close())
		}
		if err := errors.Join(errs...); err != nil {
			s.closeErr = fmt.Errorf("store: close: %w", err)
		}
	})
	return s.closeErr
}

// autoCheckpointPages is the WAL size at which the writer checkpoints by
// itself, when RunCheckpoints does not keep the WAL smaller.
const autoCheckpointPages = 10000

// How often RunCheckpoints copies the WAL into the database file, by
// durability (docs/benchmarks.md, "Checkpoint interval"). Without an fsync
// per commit, small frequent checkpoints keep their CPU bursts short beside
// the commits: at 10,000 msgs/s p99 fell by a sixth from 200 ms to 50 ms,
// at 1,000 msgs/s in every round. With one (DurabilityPower), each
// checkpoint's two fsyncs compete with the commits' own, and 50 ms made
// the tail worse: it stays at 200 ms.
const (
	checkpointIntervalProcess = 50 * time.Millisecond
	checkpointIntervalPower   = 200 * time.Millisecond
)

// checkpointInterval returns RunCheckpoints' period for d.
func (d Durability) checkpointInterval() time.Duration {
	if d == DurabilityPower {
		return checkpointIntervalPower
	}
	return checkpointIntervalProcess
}

// checkpointBackoffMax caps the wait between checkpoints after failures,
// which doubles from the checkpoint interval per failure in a row. 10 s: a
// failing disk is not hammered, a recovered one is used again soon.
const checkpointBackoffMax = 10 * time.Second

// RunCheckpoints copies committed WAL frames into the database file every
// checkpoint interval (50 ms, 200 ms with DurabilityPower) from a connection of its own, so that commits do not
// pay for it, until ctx ends. PASSIVE checkpoints never block the writer or
// readers; a checkpoint that cannot finish (a reader holds an old snapshot,
// or the lock is busy) is simply resumed next time. Any other failure (a
// full disk, an I/O error) is logged and counted (CheckpointFailures), and
// the next attempt waits twice as long as the last, up to 10 s, until one
// succeeds: only ctx stops it, and it returns nil then. Optional: without
// it the writer checkpoints inside commits once the WAL is large.
//
// On PostgreSQL, which has no WAL file of ours to checkpoint, it only
// waits for ctx to end.
func (s *Store) RunCheckpoints(ctx context.Context) error {
	if s.ck == nil {
		<-ctx.Done()
		return nil
	}
	delay := s.ckInterval
	t := time.NewTimer(delay)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		_, err := s.ck.ExecContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)")
		if ctx.Err() != nil {
			return nil
		}
		if err != nil && errors.Is(mapErr("", err), im.ErrBusy) {
			err = nil
		}
		if err != nil {
			n := s.ckFailures.Add(1)
			delay = min(2*delay, max(checkpointBackoffMax, s.ckInterval))
			s.log.Warn("sqlite checkpoint failed; retrying", "err", err, "failures", n, "retry_in", delay)
		} else {
			delay = s.ckInterval
		}
		if s.ckObserve != nil {
			s.ckObserve(err)
		}
		t.Reset(delay)
	}
}

// CheckpointFailures returns how many background checkpoints failed since
// the store opened (busy ones, which are resumed, do not count).
func (s *Store) CheckpointFailures() uint64 { return s.ckFailures.Load() }
