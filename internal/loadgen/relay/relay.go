// Package relay is the yardstick of issue 14's throughput and latency goals:
// a minimal durable message relay that speaks just enough of Herald's wire
// protocol (login, send and its reply, message delivery, ping; acks are
// read and ignored) for `herald bench` to drive it exactly as it drives the
// server.
//
// Each message is one INSERT into an embedded SQLite table (the same driver
// and durability settings as the server's store: WAL, synchronous=NORMAL,
// one writer connection, BEGIN IMMEDIATE) in a group commit of up to
// Config.CommitBatch messages; the sender's reply and the recipient's
// delivery are written after the commit. Conversation sequence numbers are
// counted in memory (read back from the table at start).
//
// It is a benchmark baseline, not a product: no groups, no push, no sync of
// stored messages, no heartbeats or timeouts, no limits, no idempotency by
// local message ID, one process, tokens checked against one app. Its cost
// per message is what the machine needs to persist and deliver a message at
// all; the server's distance from it is the price of everything else.
package relay

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/heraldim/herald/internal/protocol"
)

// Defaults of Config.
const (
	// DefaultCommitBatch matches the server's --commit-batch default.
	DefaultCommitBatch = 512
	// DefaultSendQueue is the frames a session may have waiting to be
	// written before it is closed as slow, like the server's send queue.
	DefaultSendQueue = 1024
)

// heartbeat is the interval announced at login. The relay does not enforce
// it; the load generator pings at this pace in idle mode only.
const heartbeat = 30 * time.Second

// Config configures a Relay.
type Config struct {
	// Path is the SQLite database file (created if missing). Required.
	Path string
	// AppID and Secret are the one app whose tokens are accepted at login.
	// Required.
	AppID, Secret string
	// CommitBatch is the most messages per transaction; zero means
	// DefaultCommitBatch.
	CommitBatch int
	// SendQueue is the frames a session may have waiting; zero means
	// DefaultSendQueue.
	SendQueue int
	// Log receives failures; nil discards them.
	Log *slog.Logger
}

// Relay is the baseline server. Create it with New, serve ServeHTTP and run
// Run; Close releases the database after Run returned.
type Relay struct {
	cfg   Config
	db    *sql.DB
	ins   *sql.Stmt
	log   *slog.Logger
	sends chan *pending
	// stopped is closed when Run returns: readers stop queueing sends.
	stopped chan struct{}
	mux     *http.ServeMux

	mu       sync.Mutex
	sessions map[string]map[*session]struct{} // user -> sessions

	seqs   map[string]int64 // conversation key -> last seq; commit loop only
	nextID int64            // commit loop only
}

// pending is one send waiting for its commit.
type pending struct {
	from       *session
	reqID      string
	to, local  string
	typ        int
	text       string
	seq, id, t int64 // set by the commit
}

// New opens (creating it if needed) the database and prepares the relay. It
// starts no goroutines.
func New(ctx context.Context, cfg Config) (*Relay, error) {
	if cfg.Path == "" || cfg.AppID == "" || cfg.Secret == "" {
		return nil, errors.New("relay: Path, AppID and Secret are required")
	}
	if cfg.CommitBatch < 0 || cfg.SendQueue < 0 {
		return nil, errors.New("relay: CommitBatch and SendQueue must not be negative")
	}
	if cfg.CommitBatch == 0 {
		cfg.CommitBatch = DefaultCommitBatch
	}
	if cfg.SendQueue == 0 {
		cfg.SendQueue = DefaultSendQueue
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// The server's writer settings (sqlstore.Open): WAL, synchronous=NORMAL,
	// a 5 s busy timeout, BEGIN IMMEDIATE, one connection kept forever.
	db, err := sql.Open("sqlite", "file:"+cfg.Path+
		"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("relay: open: %w", err)
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	r := &Relay{cfg: cfg, db: db, log: log, sessions: map[string]map[*session]struct{}{}, seqs: map[string]int64{},
		sends: make(chan *pending, 4*cfg.CommitBatch), stopped: make(chan struct{})}
	if err := r.prepare(ctx); err != nil {
		_ = db.Close()
		return nil, err
	}
	r.mux = http.NewServeMux()
	r.mux.HandleFunc("/v1/ws", r.serveWS)
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), collectors.NewGoCollector())
	r.mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return r, nil
}

// schema is the relay's one table: a row per message, with the one index a
// relay that could serve sync needs (conversation, seq).
const schema = `CREATE TABLE IF NOT EXISTS messages (
	id         INTEGER PRIMARY KEY,
	conv       TEXT    NOT NULL,
	seq        INTEGER NOT NULL,
	sender     TEXT    NOT NULL,
	local_id   TEXT    NOT NULL,
	type       INTEGER NOT NULL,
	body       TEXT    NOT NULL,
	created_at INTEGER NOT NULL,
	UNIQUE (conv, seq)
)`

func (r *Relay) prepare(ctx context.Context) error {
	if _, err := r.db.ExecContext(ctx, schema); err != nil {
		return fmt.Errorf("relay: schema: %w", err)
	}
	rows, err := r.db.QueryContext(ctx, `SELECT conv, MAX(seq) FROM messages GROUP BY conv`)
	if err != nil {
		return fmt.Errorf("relay: read seqs: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			conv string
			seq  int64
		)
		if err := rows.Scan(&conv, &seq); err != nil {
			return fmt.Errorf("relay: read seqs: %w", err)
		}
		r.seqs[conv] = seq
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("relay: read seqs: %w", err)
	}
	if err := r.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(id), 0) FROM messages`).Scan(&r.nextID); err != nil {
		return fmt.Errorf("relay: read ids: %w", err)
	}
	r.ins, err = r.db.PrepareContext(ctx, `INSERT INTO messages (id, conv, seq, sender, local_id, type, body, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return fmt.Errorf("relay: prepare: %w", err)
	}
	return nil
}

// ServeHTTP serves /v1/ws (the protocol subset) and /metrics (process and
// Go runtime metrics, which `herald bench` reads for the CPU used).
func (r *Relay) ServeHTTP(w http.ResponseWriter, req *http.Request) { r.mux.ServeHTTP(w, req) }

// Run runs the commit loop until ctx ends; call it once. Sends that arrive
// after it returned are never answered.
func (r *Relay) Run(ctx context.Context) error {
	defer close(r.stopped)
	batch := make([]*pending, 0, r.cfg.CommitBatch)
	for {
		select {
		case <-ctx.Done():
			return nil
		case p := <-r.sends:
			batch = append(batch[:0], p)
		}
	fill:
		for len(batch) < r.cfg.CommitBatch {
			select {
			case p := <-r.sends:
				batch = append(batch, p)
			default:
				break fill
			}
		}
		r.commit(ctx, batch)
	}
}

// Close closes the database. Call it after Run returned.
func (r *Relay) Close() error {
	if r.ins != nil {
		_ = r.ins.Close()
	}
	return r.db.Close()
}

// convKey names a peer conversation by its two users, in order.
func convKey(a, b string) string {
	if a > b {
		a, b = b, a
	}
	return a + "\x00" + b
}

// commit stores batch in one transaction, one INSERT per message, then
// answers each sender and delivers each message.
func (r *Relay) commit(ctx context.Context, batch []*pending) {
	now := time.Now().UnixMilli()
	err := r.insert(ctx, batch, now)
	if err != nil {
		r.log.Error("relay: commit failed", "messages", len(batch), "err", err)
		for _, p := range batch {
			p.from.reply(p.reqID, nil, protocol.Errorf(protocol.CodeInternal, ""))
		}
		return
	}
	for _, p := range batch {
		r.seqs[convKey(p.from.user, p.to)] = p.seq
		p.t = now
		// Frames are encoded by the sessions' writers, off the commit loop.
		p.from.queue(outFrame{sent: p})
		r.deliver(p.to, outFrame{msg: p})
	}
}

func (r *Relay) insert(ctx context.Context, batch []*pending, now int64) (err error) {
	tx, err := r.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	st := tx.StmtContext(ctx, r.ins)
	// Sequence numbers of this batch, committed to r.seqs only with it.
	next := map[string]int64{}
	id := r.nextID
	for _, p := range batch {
		k := convKey(p.from.user, p.to)
		seq, ok := next[k]
		if !ok {
			seq = r.seqs[k]
		}
		seq++
		next[k] = seq
		id++
		p.seq, p.id = seq, id
		if _, err := st.ExecContext(ctx, id, k, seq, p.from.user, p.local, p.typ, p.text, now); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	r.nextID = id
	return nil
}

// deliver queues frame f on every session of user.
func (r *Relay) deliver(user string, f outFrame) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for s := range r.sessions[user] {
		s.queue(f)
	}
}

func (r *Relay) register(s *session) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.sessions[s.user]
	if m == nil {
		m = map[*session]struct{}{}
		r.sessions[s.user] = m
	}
	m[s] = struct{}{}
}

func (r *Relay) unregister(s *session) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if m := r.sessions[s.user]; m != nil {
		delete(m, s)
		if len(m) == 0 {
			delete(r.sessions, s.user)
		}
	}
}
