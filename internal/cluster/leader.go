// Package cluster holds what the nodes of a cluster agree on through their
// shared PostgreSQL database: which node leads the work that must run on
// exactly one node at a time (the call state and its deadlines, the
// background loops that read a shared table without claiming rows).
//
// A single node (SQLite) always leads: Solo.
package cluster

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/jonboulle/clockwork"
)

// Lead is the work of a leader. It runs until ctx is done (leadership
// lost or the node stopping) and must then return promptly: the next
// leader starts only after the lock is released, and the lock is released
// only after Lead returned.
type Lead func(ctx context.Context)

// Leadership runs lead while this node leads, as often as it becomes the
// leader, until ctx is done.
type Leadership interface {
	Run(ctx context.Context, lead Lead) error
	// Leading reports whether lead is running now.
	Leading() bool
}

// Solo is the leadership of a node alone: it leads from the start to the
// end.
type Solo struct{ leading atomic.Bool }

// Run runs lead once, until ctx is done.
func (s *Solo) Run(ctx context.Context, lead Lead) error {
	s.leading.Store(true)
	defer s.leading.Store(false)
	lead(ctx)
	return nil
}

// Leading reports whether Run is running lead.
func (s *Solo) Leading() bool { return s.leading.Load() }

// DefaultInterval is how often a follower tries for the lock and a leader
// checks that its connection, and so its lock, is alive.
const DefaultInterval = time.Second

// pingTimeout bounds the leader's check of its connection. A leader that
// cannot reach the database for this long steps down: the database may
// already have dropped its session, and with it the lock.
const pingTimeout = 3 * time.Second

// ElectorConfig configures an Elector.
type ElectorConfig struct {
	// Name names the leadership; nodes with the same name elect one
	// leader among them. Required.
	Name string
	// Interval is DefaultInterval when zero.
	Interval time.Duration
	// Clock times the campaign; nil is the real clock. The database calls
	// themselves time out on real time.
	Clock clockwork.Clock
}

// Elector is a Leadership among nodes sharing a PostgreSQL database: the
// leader holds a session-level advisory lock (pg_try_advisory_lock) on a
// connection of its own. PostgreSQL releases the lock when that session
// ends, so a node killed outright loses its leadership as soon as the
// database sees its connection close; a node cut off from the database
// steps down at its next failed check (Interval + pingTimeout at most),
// while the database drops the session on its own keepalive timeout.
// Between those two moments no second node can lead: the lock is still
// held.
type Elector struct {
	db      *sql.DB
	key     int64
	cfg     ElectorConfig
	log     *slog.Logger
	leading atomic.Bool
}

// NewElector returns an Elector on db (a PostgreSQL pool; one of its
// connections is held while campaigning and leading). log nil discards.
func NewElector(db *sql.DB, cfg ElectorConfig, log *slog.Logger) (*Elector, error) {
	if cfg.Name == "" {
		return nil, errors.New("cluster: elector: Name is required")
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Clock == nil {
		cfg.Clock = clockwork.NewRealClock()
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Elector{db: db, key: lockKey(cfg.Name), cfg: cfg, log: log.With("leadership", cfg.Name)}, nil
}

// lockKey maps a leadership's name to its advisory lock key.
func lockKey(name string) int64 {
	h := fnv.New64a()
	h.Write([]byte("herald/leader/" + name))
	return int64(h.Sum64())
}

// Leading reports whether this node leads now.
func (e *Elector) Leading() bool { return e.leading.Load() }

// Run campaigns until ctx is done, running lead whenever this node leads.
// It returns nil when ctx is done; database errors are logged and retried.
func (e *Elector) Run(ctx context.Context, lead Lead) error {
	for {
		if err := e.term(ctx, lead); err != nil && ctx.Err() == nil {
			e.log.Warn("leadership campaign failed; retrying", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-e.cfg.Clock.After(e.cfg.Interval):
		}
	}
}

// term tries for the lock once; when it gets it, it leads until the lock
// is lost, lead returns or ctx is done, and then releases it.
func (e *Elector) term(ctx context.Context, lead Lead) error {
	conn, err := e.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("cluster: connection: %w", err)
	}
	defer conn.Close()
	var got bool
	if err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock($1)`, e.key).Scan(&got); err != nil {
		return fmt.Errorf("cluster: try lock: %w", err)
	}
	if !got {
		return nil
	}
	e.log.Info("leading")
	leadCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	e.leading.Store(true)
	go func() {
		defer close(done)
		lead(leadCtx)
	}()
	var lost error
watch:
	for {
		select {
		case <-ctx.Done():
			break watch
		case <-done:
			break watch
		case <-e.cfg.Clock.After(e.cfg.Interval):
			if err := ping(ctx, conn); err != nil {
				lost = err
				break watch
			}
		}
	}
	e.leading.Store(false)
	cancel()
	<-done
	if lost != nil {
		// The session may be gone with its lock; a new connection is
		// tried at the next campaign. This one is discarded.
		e.log.Warn("leadership lost: connection check failed", "err", lost)
		_ = conn.Raw(func(any) error { return sqlDriverBadConn })
		return nil
	}
	// Release on a context of its own: ctx may be done already.
	rctx, rcancel := context.WithTimeout(context.Background(), pingTimeout)
	defer rcancel()
	if _, err := conn.ExecContext(rctx, `SELECT pg_advisory_unlock($1)`, e.key); err != nil {
		e.log.Warn("leadership release failed; the session's end releases it", "err", err)
		_ = conn.Raw(func(any) error { return sqlDriverBadConn })
		return nil
	}
	e.log.Info("leadership released")
	return nil
}

// ping checks that conn's session is alive.
func ping(ctx context.Context, conn *sql.Conn) error {
	pctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	var one int
	return conn.QueryRowContext(pctx, `SELECT 1`).Scan(&one)
}
