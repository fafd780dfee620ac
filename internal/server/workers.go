package server

import (
	"database/sql"
	"fmt"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver of the leadership pool

	"github.com/heraldim/herald/internal/bus"
	"github.com/heraldim/herald/internal/cluster"
)

// The background loops that read a shared table without claiming its rows
// run on one node of a cluster, the leader of their leadership (see
// docs/operations.md, "Cluster mode", for every loop and where it runs).
const (
	leadWebhooks    = "webhooks"     // webhook outbox delivery
	leadGroupPushes = "group-pushes" // group push planning, a page of members at a time
)

// opWakeWorkers tells the leaders that a node wrote work for them (group
// pushes to plan, webhook events to deliver): they look now rather than
// at their next poll.
const opWakeWorkers = "wakeWorkers"

// leaderConns bounds the leadership pool, shared by the three
// leaderships (webhooks, group pushes, calls): each leader holds one
// connection while it leads; a follower borrows one to try for the lock.
const leaderConns = 5

// workers holds the leaderships of the node's leader-only loops; both nil
// on SQLite (a node alone runs them itself). Its pool, db, serves the
// calls' leadership too.
type workers struct {
	db                    *sql.DB
	webhooks, groupPushes *cluster.Elector
}

// newWorkers opens the leadership pool and the electors on a shared
// (PostgreSQL) store; on SQLite it returns the zero workers. The pool is
// the leaders' own, so that a held lock never takes a connection from the
// store's.
func (s *Server) newWorkers() (workers, error) {
	if !s.cfg.StorePostgres() {
		return workers{}, nil
	}
	db, err := sql.Open("pgx", s.cfg.Store)
	if err != nil {
		return workers{}, fmt.Errorf("server: leadership pool: %w", err)
	}
	db.SetMaxOpenConns(leaderConns)
	w := workers{db: db}
	if w.webhooks, err = cluster.NewElector(db, cluster.ElectorConfig{Name: leadWebhooks}, s.log); err != nil {
		_ = db.Close()
		return workers{}, fmt.Errorf("server: %w", err)
	}
	if w.groupPushes, err = cluster.NewElector(db, cluster.ElectorConfig{Name: leadGroupPushes}, s.log); err != nil {
		_ = db.Close()
		return workers{}, fmt.Errorf("server: %w", err)
	}
	return w, nil
}

// leadership returns e as the Leadership a service takes: nil (the
// service runs the loop itself) when there is no elector.
func leadership(e *cluster.Elector) cluster.Leadership {
	if e == nil {
		return nil
	}
	return e
}

// close closes the leadership pool, once the loops stopped.
func (w workers) close() {
	if w.db != nil {
		_ = w.db.Close()
	}
}

// wakeWorkers is called after this node wrote work for a leader: when the
// leader is another node, it is told over the bus. Without a bus the
// leader polls (a second at most: webhook.Options.Poll and the group push
// loop's ticker).
func (s *Server) wakeWorkers(e *cluster.Elector) {
	if s.bus == nil || e == nil || e.Leading() {
		return
	}
	s.bus.Broadcast(bus.Control{Op: opWakeWorkers})
}

// WorkersLeading reports whether this node leads the webhook delivery and
// the group push planning (both true for a node alone).
func (s *Server) WorkersLeading() (webhooks, groupPushes bool) {
	if s.workers.db == nil {
		return true, true
	}
	return s.workers.webhooks.Leading(), s.workers.groupPushes.Leading()
}

// sessionsLost has the sessions of a node that died checked for the pushes
// they leave owed (im.Service.SessionsLost), on one node: the group push
// leader's (the planning it does is as shared as the group pages'). When
// no node leads at that moment the checks are not made, and the messages,
// unacknowledged, are delivered at the next login (only the notification
// is lost).
func (s *Server) sessionsLost(node string, lost []bus.LostUser) {
	if s.svc == nil || s.workers.groupPushes == nil || !s.workers.groupPushes.Leading() {
		return
	}
	n := 0
	for _, u := range lost {
		devices := make([]string, 0, len(u.Sessions))
		for _, ss := range u.Sessions {
			if ss.DeviceID != "" {
				devices = append(devices, ss.DeviceID)
			}
		}
		s.svc.SessionsLost(u.AppID, u.UserID, devices)
		n += len(devices)
	}
	s.log.Info("checking the sessions of a lost node for owed pushes", "node", node, "users", len(lost), "devices", n)
}
