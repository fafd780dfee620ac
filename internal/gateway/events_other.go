//go:build !linux

package gateway

import (
	"errors"
	"net"
)

// eventsAvailable reports whether TransportEvents can run here: not on
// this OS, where every session gets a reading goroutine.
const eventsAvailable = false

type poller struct{}

func newPoller() *poller { return &poller{} }

func (p *poller) stop() {}

type evConn struct {
	wsConn
	s *Session
}

func newEvConn(*poller, net.Conn, *corkConn, []byte) (*evConn, error) {
	return nil, errors.New("gateway: the events transport needs Linux")
}

func (c *evConn) start() error { return errors.New("gateway: the events transport needs Linux") }
