package testkit

import (
	"context"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"
)

// freezeConn is a network connection that can be frozen: from then on it
// reads nothing and silently drops what is written, like a phone whose app
// was frozen in the background or whose network vanished without a FIN.
type freezeConn struct {
	net.Conn
	once   sync.Once
	frozen chan struct{}
	closed chan struct{}
	cOnce  sync.Once
}

func (c *freezeConn) freeze() { c.once.Do(func() { close(c.frozen) }) }

func (c *freezeConn) isFrozen() bool {
	select {
	case <-c.frozen:
		return true
	default:
		return false
	}
}

func (c *freezeConn) Read(p []byte) (int, error) {
	for {
		if c.isFrozen() {
			<-c.closed
			return 0, net.ErrClosed
		}
		n, err := c.Conn.Read(p)
		if c.isFrozen() {
			continue // what arrives after the freeze is never seen
		}
		return n, err
	}
}

func (c *freezeConn) Write(p []byte) (int, error) {
	if c.isFrozen() {
		return len(p), nil
	}
	return c.Conn.Write(p)
}

func (c *freezeConn) Close() error {
	c.cOnce.Do(func() { close(c.closed) })
	return c.Conn.Close()
}

// DialFreezable dials like Dial, and returns with the client a function that
// freezes its connection.
func DialFreezable(t testing.TB, url string) (*Client, func()) {
	t.Helper()
	var fc *freezeConn
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		fc = &freezeConn{Conn: c, frozen: make(chan struct{}), closed: make(chan struct{})}
		return fc, nil
	}}
	c := dial(t, url, &http.Client{Transport: tr})
	return c, fc.freeze
}
