package gateway

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"
)

// corkFlushBytes is how much a corked connection gathers before it writes
// anyway, so that a long sync streams instead of piling up in memory.
const corkFlushBytes = 64 * 1024

// corkKeepBytes is the largest cork buffer kept between batches; a bigger
// one (after a sync) is dropped so that idle sessions stay small.
const corkKeepBytes = 8 * 1024

// corkConn is the network connection under a session's WebSocket. The
// WebSocket library flushes every message with its own write(2); while the
// session's writer drains a batch of queued frames it corks the connection,
// gathering those writes, and uncorks once at the end: one system call for
// the batch instead of one per frame, which is most of a writer's cost under
// load. Writes from other goroutines (pongs, close frames) pass through the
// same buffer in order. This is TCP_CORK done above the socket, so it works
// the same on every OS.
type corkConn struct {
	net.Conn
	mu      sync.Mutex
	corked  bool
	timeout time.Duration
	buf     []byte
}

// Write gathers p while corked; otherwise it writes it through.
func (c *corkConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.corked {
		return c.Conn.Write(p)
	}
	c.buf = append(c.buf, p...)
	if len(c.buf) >= corkFlushBytes {
		if err := c.flushLocked(); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// cork starts gathering writes; every write must complete within timeout
// from now (a client that does not read makes the session end).
func (c *corkConn) cork(timeout time.Duration) {
	c.mu.Lock()
	c.corked, c.timeout = true, timeout
	c.mu.Unlock()
}

// uncork writes what was gathered and stops gathering.
func (c *corkConn) uncork() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.corked = false
	err := c.flushLocked()
	// Writes between batches (pongs, close frames) carry their own timeouts.
	_ = c.Conn.SetWriteDeadline(time.Time{})
	return err
}

func (c *corkConn) flushLocked() error {
	if len(c.buf) == 0 {
		return nil
	}
	_ = c.Conn.SetWriteDeadline(time.Now().Add(c.timeout))
	_, err := c.Conn.Write(c.buf)
	if cap(c.buf) > corkKeepBytes {
		c.buf = nil // do not keep a burst's memory for an idle session
	} else {
		c.buf = c.buf[:0]
	}
	return err
}

// flush writes what was gathered so far and stays corked: the writer calls
// it before slow work (a sync reading the store) so that frames queued
// before, such as the login reply, are not held back by it.
func (c *corkConn) flush() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.flushLocked()
}

// corkingWriter hands the WebSocket library a corkConn when it hijacks the
// HTTP connection.
type corkingWriter struct {
	http.ResponseWriter
	conn *corkConn
}

// Hijack implements http.Hijacker.
func (w *corkingWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("gateway: response writer cannot be hijacked")
	}
	c, brw, err := hj.Hijack()
	if err != nil {
		return nil, nil, err
	}
	w.conn = &corkConn{Conn: c}
	// Reuse net/http's write buffer (already flushed) rather than holding
	// a second one per connection.
	brw.Writer.Reset(w.conn)
	return w.conn, brw, nil
}
