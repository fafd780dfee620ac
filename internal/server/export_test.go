package server

import (
	"github.com/heraldim/herald/internal/push"
	"github.com/heraldim/herald/internal/store/sqlstore"
)

// Store returns the node's store, for tests that drive it into failures.
func (s *Server) Store() *sqlstore.Store { return s.store }

// TLSReloads returns how many certificate reloads were tried (SIGHUP,
// ReloadTLS or changed files) and a channel closed at the next one.
func (s *Server) TLSReloads() (uint64, <-chan struct{}) { return s.certs.attempts.Load() }

// ServesCalls reports whether this node runs the calls now: always on one
// node; in a cluster while it leads them and has loaded them.
func (s *Server) ServesCalls() bool {
	if s.callsBus == nil {
		return true
	}
	return s.callsBus.Serving()
}

// CallGate returns the ring gate the node's push dispatcher asks.
func (s *Server) CallGate() push.RingClaimer {
	if s.callsBus == nil {
		return s.calls
	}
	return s.callsBus
}
