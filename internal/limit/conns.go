// Package limit holds Herald's admission limits: caps on open and
// not-yet-authenticated connections, globally and per client address, and
// token-bucket rate limits kept per key (user, app) that forget idle keys.
package limit

import (
	"fmt"
	"net/netip"
	"sync"
)

// Reason says which cap refused a connection; its String is the metric
// label and the error code's name.
type Reason int

// The caps, in the order they are checked.
const (
	TooManyConnections Reason = iota + 1
	TooManyConnectionsFromIP
	TooManyUnauthenticated
	TooManyUnauthenticatedFromIP
)

func (r Reason) String() string {
	switch r {
	case TooManyConnections:
		return "too_many_connections"
	case TooManyConnectionsFromIP:
		return "too_many_connections_from_ip"
	case TooManyUnauthenticated:
		return "too_many_unauthenticated"
	case TooManyUnauthenticatedFromIP:
		return "too_many_unauthenticated_from_ip"
	}
	return "unknown"
}

// Reasons lists every Reason (for metrics to expose each at zero).
func Reasons() []Reason {
	return []Reason{TooManyConnections, TooManyConnectionsFromIP, TooManyUnauthenticated, TooManyUnauthenticatedFromIP}
}

// RefusedError is the error of Conns.Open when a cap is reached.
type RefusedError struct{ Reason Reason }

func (e *RefusedError) Error() string { return fmt.Sprintf("limit: connection refused: %s", e.Reason) }

// ConnCaps are the connection caps; zero (or less) means no cap.
type ConnCaps struct {
	Total             int // open connections
	PerIP             int // open connections from one client address
	Unauthenticated   int // connections not logged in yet
	UnauthenticatedIP int // connections not logged in yet from one client address
}

// Conns counts open connections, and those not authenticated yet, in all
// and per client address. Per-address entries exist only while the address
// has a connection open, so the map never outgrows the open connections.
// Safe for concurrent use.
type Conns struct {
	caps ConnCaps

	mu     sync.Mutex
	total  int
	unauth int
	perIP  map[netip.Addr]*ipCount
}

type ipCount struct{ total, unauth int }

// NewConns returns counters enforcing caps.
func NewConns(caps ConnCaps) *Conns {
	return &Conns{caps: caps, perIP: map[netip.Addr]*ipCount{}}
}

// Open admits a new, unauthenticated connection from ip, or refuses it
// with a *RefusedError when it would exceed a cap (and counts nothing).
func (c *Conns) Open(ip netip.Addr) (*Conn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.perIP[ip]
	if n == nil {
		n = &ipCount{}
	}
	refuse := func(r Reason) (*Conn, error) { return nil, &RefusedError{Reason: r} }
	switch {
	case c.caps.Total > 0 && c.total >= c.caps.Total:
		return refuse(TooManyConnections)
	case c.caps.PerIP > 0 && n.total >= c.caps.PerIP:
		return refuse(TooManyConnectionsFromIP)
	case c.caps.Unauthenticated > 0 && c.unauth >= c.caps.Unauthenticated:
		return refuse(TooManyUnauthenticated)
	case c.caps.UnauthenticatedIP > 0 && n.unauth >= c.caps.UnauthenticatedIP:
		return refuse(TooManyUnauthenticatedFromIP)
	}
	c.total++
	c.unauth++
	n.total++
	n.unauth++
	c.perIP[ip] = n
	return &Conn{c: c, ip: ip}, nil
}

// Counts returns the open connections and those not authenticated yet.
func (c *Conns) Counts() (total, unauthenticated int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.total, c.unauth
}

// Addresses returns how many client addresses have a connection open.
func (c *Conns) Addresses() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.perIP)
}

// Conn is one admitted connection's place in the counts.
type Conn struct {
	c      *Conns
	ip     netip.Addr
	authed bool
	closed bool
}

// Authenticated moves the connection out of the unauthenticated counts
// (after its login). Calling it again, or after Close, does nothing.
func (t *Conn) Authenticated() {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	if t.authed || t.closed {
		return
	}
	t.authed = true
	t.c.unauth--
	t.c.perIP[t.ip].unauth--
}

// Close removes the connection from the counts. Idempotent; nil does
// nothing.
func (t *Conn) Close() {
	if t == nil {
		return
	}
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	if t.closed {
		return
	}
	t.closed = true
	n := t.c.perIP[t.ip]
	t.c.total--
	n.total--
	if !t.authed {
		t.c.unauth--
		n.unauth--
	}
	if n.total == 0 {
		delete(t.c.perIP, t.ip)
	}
}
