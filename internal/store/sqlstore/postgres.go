package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// DefaultMaxConns is the size of the PostgreSQL connection pool when
// PostgresConfig.MaxConns is zero: 16 lets a node's commit loop, its push
// workers and its readers run beside each other while a cluster of a few
// nodes stays far below the server's default max_connections (100).
const DefaultMaxConns = 16

// PostgresConfig configures a store on PostgreSQL. URL is required.
type PostgresConfig struct {
	// URL is the connection string, postgres://user:pass@host:port/db?...
	// (any parameter pgx accepts, e.g. sslmode).
	URL string
	// MaxConns caps the pool, which serves writes and reads alike; zero
	// means DefaultMaxConns.
	MaxConns int
	// Sealer encrypts the secret columns, as Config.Sealer.
	Sealer Sealer
}

// OpenPostgres opens the store on the PostgreSQL database at cfg.URL,
// brings its schema up to date and prepares the store: the same Store, and
// the same queries, as Open's, through the pgx database/sql driver.
//
// Several nodes may open the same database at once: the migrations run
// under a PostgreSQL session lock, so one node applies them and the others
// wait and find nothing left to do. Unlike SQLite, other processes write
// beside this one: seqs are allocated under per-conversation locks
// (seqalloc.go), nothing is cached across transactions, and a transaction
// failing on a serialization failure or deadlock is retried. There is one
// pool, for writes and reads; RunCheckpoints has nothing to do. log
// receives the migrations applied; nil discards them.
func OpenPostgres(ctx context.Context, cfg PostgresConfig, log *slog.Logger) (*Store, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	const op = "postgres: open"
	if cfg.URL == "" {
		return nil, errors.New(op + ": URL is required")
	}
	switch {
	case cfg.MaxConns < 0:
		return nil, fmt.Errorf("%s: MaxConns %d is negative", op, cfg.MaxConns)
	case cfg.MaxConns == 0:
		cfg.MaxConns = DefaultMaxConns
	}
	s := &Store{
		d:          postgresDialect,
		skipLocked: true,
		// Appends run in parallel up to the pool's size: seqs need no
		// process-wide lock here (seqalloc.go), and a conversation's
		// batches still follow each other under its lock.
		writeSem: make(chan struct{}, cfg.MaxConns),
		sealer:   cfg.Sealer,
		log:      log,
	}
	ok := false
	defer func() {
		if !ok {
			s.Close()
		}
	}()
	db, err := sql.Open("pgx", cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	db.SetMaxOpenConns(cfg.MaxConns)
	db.SetMaxIdleConns(cfg.MaxConns)
	// Connections are recycled now and then, so that a pool spread over a
	// failover, or one leaked server-side resource, does not live forever.
	db.SetConnMaxLifetime(time.Hour)
	db.SetConnMaxIdleTime(5 * time.Minute)
	s.w, s.r = db, db
	if err := db.PingContext(ctx); err != nil {
		return nil, ctxErr(ctx, op+" "+redactURL(cfg.URL), err)
	}
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if err := s.d.migrate(ctx, db, log, goose.WithSessionLocker(locker)); err != nil {
		return nil, err
	}
	if s.sealer != nil {
		if err := resealSecrets(ctx, s.d, s.w, s.sealer, log); err != nil {
			return nil, err
		}
	}
	if err := s.prepare(ctx); err != nil {
		return nil, err
	}
	ok = true
	log.Info("postgres store open", "url", redactURL(cfg.URL), "max_conns", cfg.MaxConns)
	return s, nil
}

// redactURL returns u without its password, for errors and logs.
func redactURL(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(unparsable URL)"
	}
	return p.Redacted()
}
