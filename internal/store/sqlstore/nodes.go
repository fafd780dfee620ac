package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Node numbers.
//
// Message IDs embed the number of the node that made them (im.NewIDGen,
// 0-1023). One SQLite node is configured with its number (--node-id). The
// nodes sharing a PostgreSQL database each hold a lease on a number in the
// nodes table instead: ClaimNode takes the lowest number whose lease is
// free or expired, RenewNode extends it while the node runs, ReleaseNode
// gives it back at shutdown. Lease times are the database's clock, never
// the nodes' (their clocks may disagree). A node whose renewals fail must
// stop making IDs before its lease can expire: NodeLease.Run returns
// ErrNodeLeaseLost well before that, and the server stops.

// NodeNumbers is how many node numbers there are (im.NewIDGen keeps 10
// bits).
const NodeNumbers = 1024

// ErrNoNodeNumber is returned by ClaimNode when all NodeNumbers numbers
// are leased by live nodes.
var ErrNoNodeNumber = errors.New("every node number is leased by a running node")

// ErrNodeLeaseLost is returned when a node's lease is no longer its own:
// RenewNode found another owner (or none), or NodeLease.Run could not renew
// it in time.
var ErrNodeLeaseLost = errors.New("node number lease lost")

// qNodes lists the leases; qClaimNode takes number $1 for owner $2 until
// now + $3 ms when it is free or expired (0 rows otherwise);
// qRenewNode extends owner $2's lease on $1; qReleaseNode ends it.
const (
	qNodes     = `SELECT node_id, lease_until, %[1]s FROM nodes ORDER BY node_id`
	qClaimNode = `INSERT INTO nodes (node_id, owner, lease_until, claimed_at) VALUES ($1, $2, %[1]s + $3, %[1]s)
ON CONFLICT (node_id) DO UPDATE SET owner = excluded.owner, lease_until = excluded.lease_until,
	claimed_at = excluded.claimed_at
WHERE nodes.lease_until < excluded.claimed_at`
	qRenewNode   = `UPDATE nodes SET lease_until = %[1]s + $3 WHERE node_id = $1 AND owner = $2 AND lease_until >= %[1]s`
	qReleaseNode = `DELETE FROM nodes WHERE node_id = $1 AND owner = $2`
)

// nodeQuery fills the dialect's "now in Unix ms" into q.
func (s *Store) nodeQuery(q string) string { return fmt.Sprintf(q, s.d.nowMillis) }

// ClaimNode leases the lowest free node number to owner (a name unique to
// this process) for ttl and returns it; ErrNoNodeNumber when none is free.
func (s *Store) ClaimNode(ctx context.Context, owner string, ttl time.Duration) (int, error) {
	op := s.d.name + ": claim node number"
	if owner == "" || ttl <= 0 {
		return 0, fmt.Errorf("%s: owner and a positive ttl are required", op)
	}
	for attempt := 0; attempt < 10; attempt++ {
		taken, err := s.liveNodes(ctx)
		if err != nil {
			return 0, ctxErr(ctx, op, err)
		}
		n := 0
		for n < NodeNumbers && taken[n] {
			n++
		}
		if n == NodeNumbers {
			return 0, fmt.Errorf("%s: %w", op, ErrNoNodeNumber)
		}
		res, err := s.w.ExecContext(ctx, s.nodeQuery(qClaimNode), n, owner, ttl.Milliseconds())
		if err != nil {
			return 0, ctxErr(ctx, op, err)
		}
		if k, err := res.RowsAffected(); err != nil {
			return 0, ctxErr(ctx, op, err)
		} else if k == 1 {
			return n, nil
		}
		// Another node took n between the read and the claim: look again.
	}
	return 0, fmt.Errorf("%s: %w", op, ErrNoNodeNumber)
}

// liveNodes returns the numbers with an unexpired lease.
func (s *Store) liveNodes(ctx context.Context) (map[int]bool, error) {
	rows, err := s.r.QueryContext(ctx, s.nodeQuery(qNodes))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	taken := map[int]bool{}
	for rows.Next() {
		var n int
		var until, now int64
		if err := rows.Scan(&n, &until, &now); err != nil {
			return nil, err
		}
		if until >= now {
			taken[n] = true
		}
	}
	return taken, rows.Err()
}

// RenewNode extends owner's lease on node to ttl from now;
// ErrNodeLeaseLost when the lease is not owner's any more (it expired, and
// perhaps another node took the number).
func (s *Store) RenewNode(ctx context.Context, node int, owner string, ttl time.Duration) error {
	op := s.d.name + ": renew node number"
	res, err := s.w.ExecContext(ctx, s.nodeQuery(qRenewNode), node, owner, ttl.Milliseconds())
	if err != nil {
		return ctxErr(ctx, op, err)
	}
	if k, err := res.RowsAffected(); err != nil {
		return ctxErr(ctx, op, err)
	} else if k == 0 {
		return fmt.Errorf("%s %d: %w", op, node, ErrNodeLeaseLost)
	}
	return nil
}

// ReleaseNode ends owner's lease on node, so that the number is free at
// once. Releasing a lease that is not owner's changes nothing.
func (s *Store) ReleaseNode(ctx context.Context, node int, owner string) error {
	_, err := s.w.ExecContext(ctx, qReleaseNode, node, owner)
	return ctxErr(ctx, s.d.name+": release node number", err)
}

// NodeLeaseTTL is how long a node number lease lasts without renewal: 30 s
// lets a node ride out a database failover of several seconds, and frees
// the number of a node that died half a minute later.
const NodeLeaseTTL = 30 * time.Second

// NodeLease keeps a claimed node number. Create it with ClaimNodeLease.
type NodeLease struct {
	s      *Store
	Node   int    // the number, for im.Config.NodeID
	owner  string // this process
	ttl    time.Duration
	every  time.Duration // renewal period: ttl/6
	giveUp time.Duration // Run fails after this long without a renewal: ttl*2/3
	now    func() time.Time
}

// Owner returns the name the lease is held under.
func (l *NodeLease) Owner() string { return l.owner }

// ClaimNodeLease claims a node number for owner (ClaimNode with
// NodeLeaseTTL); keep it with Run.
func (s *Store) ClaimNodeLease(ctx context.Context, owner string) (*NodeLease, error) {
	n, err := s.ClaimNode(ctx, owner, NodeLeaseTTL)
	if err != nil {
		return nil, err
	}
	return &NodeLease{s: s, Node: n, owner: owner, ttl: NodeLeaseTTL,
		every: NodeLeaseTTL / 6, giveUp: NodeLeaseTTL * 2 / 3, now: time.Now}, nil
}

// Run renews the lease every ttl/6 until ctx ends, then releases it and
// returns nil. It returns ErrNodeLeaseLost when the lease is another's, or
// when no renewal succeeded for 2/3 of the ttl: the lease on the database
// ends no sooner than ttl after the start of the last renewal that
// succeeded, so the node has a third of the ttl (10 s) to stop making IDs
// before another node may take its number. Its caller must stop the node
// then.
func (l *NodeLease) Run(ctx context.Context) error {
	t := time.NewTicker(l.every)
	defer t.Stop()
	last := l.now() // the claim counts as a renewal
	for {
		select {
		case <-ctx.Done():
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			_ = l.s.ReleaseNode(rctx, l.Node, l.owner) // else it expires
			return nil
		case <-t.C:
		}
		start := l.now()
		rctx, cancel := context.WithTimeout(ctx, l.every)
		err := l.s.RenewNode(rctx, l.Node, l.owner, l.ttl)
		cancel()
		switch {
		case err == nil:
			last = start
		case errors.Is(err, ErrNodeLeaseLost):
			return err
		case ctx.Err() != nil:
			continue
		default:
			l.s.log.Warn("node number lease renewal failed", "node", l.Node, "err", err)
		}
		if l.now().Sub(last) >= l.giveUp {
			return fmt.Errorf("%s: node number %d not renewed for %s: %w", l.s.d.name, l.Node, l.now().Sub(last).Round(time.Second), ErrNodeLeaseLost)
		}
	}
}
