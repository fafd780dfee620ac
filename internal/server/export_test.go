package server

import "github.com/heraldim/herald/internal/store/sqlstore"

// Store returns the node's store, for tests that drive it into failures.
func (s *Server) Store() *sqlstore.Store { return s.store }

// TLSReloads returns how many certificate reloads were tried (SIGHUP,
// ReloadTLS or changed files) and a channel closed at the next one.
func (s *Server) TLSReloads() (uint64, <-chan struct{}) { return s.certs.attempts.Load() }
