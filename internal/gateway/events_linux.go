//go:build linux

package gateway

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/coder/websocket"

	"github.com/heraldim/herald/internal/protocol"
)

// poller watches the sockets of idle sessions with one epoll instance and
// one goroutine for all of them. Each socket is registered one-shot: when
// it becomes readable, a goroutine reads and handles what arrived and
// re-arms it when the socket has nothing more to read. A session that
// receives nothing therefore has no goroutine and no read buffer.
//
// The poller watches the sockets' own descriptors (the Go runtime's
// poller holds them too, for the writes and their deadlines); every system
// call on one goes through syscall.RawConn.Control, so that a descriptor
// closed meanwhile is never mistaken for a new one with the same number.
// Only the session's reader closes a socket (finish): others shut it down,
// which the poller reports, so that the end is always seen.
type poller struct {
	mu      sync.Mutex
	started bool
	stopped bool
	epfd    int
	wake    [2]int // a pipe that stops the loop
	conns   map[int32]*evConn
	done    chan struct{}
}

func newPoller() *poller { return &poller{conns: map[int32]*evConn{}} }

// eventsAvailable reports whether TransportEvents can run here.
const eventsAvailable = true

// start creates the epoll instance and its goroutine on first use (the
// gateway's constructor starts nothing).
func (p *poller) startLocked() error {
	if p.started {
		return nil
	}
	if p.stopped {
		return errors.New("gateway: poller stopped")
	}
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return fmt.Errorf("gateway: epoll: %w", err)
	}
	var pipe [2]int
	if err := syscall.Pipe2(pipe[:], syscall.O_CLOEXEC|syscall.O_NONBLOCK); err != nil {
		_ = syscall.Close(epfd)
		return fmt.Errorf("gateway: poller pipe: %w", err)
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(pipe[0])}
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, pipe[0], &ev); err != nil {
		_ = syscall.Close(epfd)
		_ = syscall.Close(pipe[0])
		_ = syscall.Close(pipe[1])
		return fmt.Errorf("gateway: epoll add: %w", err)
	}
	p.epfd, p.wake, p.started, p.done = epfd, pipe, true, make(chan struct{})
	go p.loop()
	return nil
}

func (p *poller) loop() {
	defer close(p.done)
	events := make([]syscall.EpollEvent, 256)
	for {
		n, err := syscall.EpollWait(p.epfd, events, -1)
		if err != nil {
			if errors.Is(err, syscall.EINTR) {
				continue
			}
			return
		}
		for i := range events[:n] {
			fd := events[i].Fd
			if fd == int32(p.wake[0]) {
				return
			}
			p.mu.Lock()
			c := p.conns[fd]
			p.mu.Unlock()
			if c != nil {
				go c.readReady()
			}
		}
	}
}

// add registers c's descriptor, armed.
func (p *poller) add(c *evConn) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.startLocked(); err != nil {
		return err
	}
	p.conns[c.key] = c
	err := c.ctl(func(fd int) error {
		ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT, Fd: int32(fd)}
		return syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_ADD, fd, &ev)
	})
	if err != nil {
		delete(p.conns, c.key)
		return fmt.Errorf("gateway: epoll add: %w", err)
	}
	return nil
}

// arm re-arms c after its reader found nothing more to read. Level
// semantics: data that arrived in between fires at once.
func (p *poller) arm(c *evConn) error {
	return c.ctl(func(fd int) error {
		ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT, Fd: int32(fd)}
		return syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_MOD, fd, &ev)
	})
}

// remove unregisters c's descriptor; the caller closes it after.
func (p *poller) remove(c *evConn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conns[c.key] == c {
		delete(p.conns, c.key)
	}
	if p.started && !p.stopped {
		_ = c.ctl(func(fd int) error { return syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_DEL, fd, nil) })
	}
}

// stop ends the poller's goroutine, once every session ended. Idempotent.
func (p *poller) stop() {
	p.mu.Lock()
	if p.stopped || !p.started {
		p.stopped = true
		p.mu.Unlock()
		return
	}
	p.stopped = true
	p.mu.Unlock()
	_, _ = syscall.Write(p.wake[1], []byte{1})
	<-p.done
	_ = syscall.Close(p.epfd)
	_ = syscall.Close(p.wake[0])
	_ = syscall.Close(p.wake[1])
}

// WebSocket opcodes (RFC 6455 5.2).
const (
	opContinuation = 0x0
	opText         = 0x1
	opBinary       = 0x2
	opClose        = 0x8
	opPing         = 0x9
	opPong         = 0xA
)

// closeWait bounds how long Close waits for the peer's close frame (as
// coder/websocket's Close).
const closeWait = 5 * time.Second

// readChunk is the size of one read(2); its buffer is pooled and held only
// while a socket is being read.
const readChunk = 4096

var chunks = sync.Pool{New: func() any { b := make([]byte, readChunk); return &b }}

// evConn is TransportEvents' wsConn: RFC 6455 framing over a socket the
// poller reads.
type evConn struct {
	s   *Session
	p   *poller
	nc  net.Conn        // the socket, as the Go runtime holds it
	rc  syscall.RawConn // nc's descriptor, for the reads and epoll
	key int32           // the descriptor's number, the poller's key
	w   *corkConn       // writes, over nc
	wmu sync.Mutex

	// Owned by the one reading goroutine (the registration is one-shot).
	in       []byte // bytes of a frame not complete yet; nil when none
	msg      []byte // a fragmented message being assembled
	msgOp    byte
	draining bool // the session stopped reading (logout): discard data
	ended    bool
	reading  atomic.Bool // a goroutine is reading (the one owner of the above)

	closeSent atomic.Bool
	started   atomic.Bool // start ran: a reader owns the socket's end
	closeOnce sync.Once
	closeRcvd chan struct{} // closed when the peer's close frame came or reading ended

	pongMu sync.Mutex
	pong   chan struct{}
}

// newEvConn takes over nc (a hijacked plain TCP connection) for s; buffered
// holds bytes net/http had read past the handshake.
func newEvConn(p *poller, nc net.Conn, cork *corkConn, buffered []byte) (*evConn, error) {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nil, errors.New("gateway: connection has no descriptor")
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("gateway: raw conn: %w", err)
	}
	key := int32(-1)
	if err := rc.Control(func(fd uintptr) { key = int32(fd) }); err != nil {
		return nil, fmt.Errorf("gateway: raw conn: %w", err)
	}
	c := &evConn{p: p, nc: nc, rc: rc, key: key, w: cork, closeRcvd: make(chan struct{})}
	if len(buffered) > 0 {
		c.in = append([]byte(nil), buffered...)
	}
	return c, nil
}

// start handles the bytes already buffered, in the caller's goroutine,
// then registers c with the poller.
func (c *evConn) start() error {
	c.started.Store(true)
	if len(c.in) > 0 {
		c.reading.Store(true)
		ok := c.consume(c.in)
		c.reading.Store(false)
		if !ok {
			c.finish()
			return nil
		}
	}
	return c.p.add(c)
}

// readReady reads until the socket would block, handling each complete
// message, then re-arms the registration; at the end of the stream it
// ends the session. One runs at a time (a stale event for a reused
// descriptor number finds the flag set, or nothing to read).
func (c *evConn) readReady() {
	if !c.reading.CompareAndSwap(false, true) {
		return
	}
	if c.ended {
		c.reading.Store(false)
		return
	}
	chunk := chunks.Get().(*[]byte)
	defer chunks.Put(chunk)
	for {
		n, err := c.read(*chunk)
		switch {
		case n > 0:
			data := (*chunk)[:n]
			if len(c.in) > 0 {
				c.in = append(c.in, data...)
				data = c.in
			}
			if !c.consume(data) {
				c.finish()
				c.reading.Store(false)
				return
			}
		case errors.Is(err, syscall.EINTR):
		case errors.Is(err, syscall.EAGAIN):
			if len(c.in) == 0 {
				c.in = nil // no buffer while idle
			}
			c.reading.Store(false)
			if c.p.arm(c) != nil {
				c.closeDead()
			}
			return
		default: // end of stream, reset, or closed
			c.finish()
			c.reading.Store(false)
			return
		}
	}
}

// closeDead ends a connection whose registration failed: shutting the
// socket down makes no event then, so the session ends from here.
func (c *evConn) closeDead() {
	if c.reading.CompareAndSwap(false, true) {
		c.finish()
		c.reading.Store(false)
	}
}

// ctl runs fn on c's descriptor, unless it was closed.
func (c *evConn) ctl(fn func(fd int) error) error {
	var err error
	if cerr := c.rc.Control(func(fd uintptr) { err = fn(int(fd)) }); cerr != nil {
		return cerr
	}
	return err
}

// errEOF is the end of a socket's stream.
var errEOF = errors.New("gateway: end of stream")

func (c *evConn) read(b []byte) (int, error) {
	n := 0
	err := c.ctl(func(fd int) error {
		var err error
		n, err = syscall.Read(fd, b)
		return err
	})
	if n < 0 {
		n = 0
	}
	if n == 0 && err == nil {
		err = errEOF
	}
	return n, err
}

// parse handles the complete frames of b and returns the incomplete rest
// (a slice of b); false: the connection must end.
func (c *evConn) parse(b []byte) ([]byte, bool) {
	for {
		if len(b) < 2 {
			break
		}
		fin, rsv, op := b[0]&0x80 != 0, b[0]&0x70, b[0]&0x0f
		masked, n := b[1]&0x80 != 0, int64(b[1]&0x7f)
		hdr := 2
		switch n {
		case 126:
			if len(b) < 4 {
				return b, true
			}
			n, hdr = int64(binary.BigEndian.Uint16(b[2:])), 4
		case 127:
			if len(b) < 10 {
				return b, true
			}
			n, hdr = int64(binary.BigEndian.Uint64(b[2:])), 10
		}
		if rsv != 0 || !masked || n < 0 {
			return nil, c.fail(websocket.StatusProtocolError, "protocol error")
		}
		control := op >= opClose
		if control && (!fin || n > 125) {
			return nil, c.fail(websocket.StatusProtocolError, "invalid control frame")
		}
		if !control && int64(len(c.msg))+n > protocol.MaxFrameBytes {
			c.s.g.metrics.badFrames.Inc()
			return nil, c.fail(websocket.StatusMessageTooBig, fmt.Sprintf("read limited at %d bytes", protocol.MaxFrameBytes+1))
		}
		if int64(len(b)) < int64(hdr)+4+n {
			break
		}
		key := b[hdr : hdr+4]
		payload := b[hdr+4 : int64(hdr)+4+n]
		for i := range payload {
			payload[i] ^= key[i&3]
		}
		b = b[int64(hdr)+4+n:]
		if !c.frame(fin, op, payload) {
			return nil, false
		}
	}
	return b, true
}

// consume parses data (c.in, or a read chunk when c.in is empty) and keeps
// its incomplete rest in c.in; false: the connection must end.
func (c *evConn) consume(data []byte) bool {
	rest, ok := c.parse(data)
	if !ok {
		return false
	}
	switch {
	case len(rest) == 0 && cap(c.in) > corkKeepBytes:
		c.in = nil // do not keep a large frame's memory
	case len(rest) == 0:
		c.in = c.in[:0]
	case len(c.in) > 0: // rest is the tail of c.in
		c.in = c.in[:copy(c.in, rest)]
	default: // rest is in the read chunk
		c.in = append(c.in[:0], rest...)
	}
	return true
}

// frame handles one frame; false: the connection must end.
func (c *evConn) frame(fin bool, op byte, payload []byte) bool {
	switch op {
	case opClose:
		code := websocket.StatusNoStatusRcvd
		if len(payload) >= 2 {
			code = websocket.StatusCode(binary.BigEndian.Uint16(payload))
		}
		if c.closeSent.CompareAndSwap(false, true) {
			echo := code
			if echo == websocket.StatusNoStatusRcvd {
				echo = websocket.StatusNormalClosure
			}
			_ = c.writeControl(opClose, closePayload(int(echo), ""))
		}
		c.closeOnce.Do(func() { close(c.closeRcvd) })
		return false
	case opPing:
		c.s.seen()
		return c.writeControl(opPong, payload) == nil
	case opPong:
		c.s.seen()
		c.pongMu.Lock()
		if c.pong != nil {
			close(c.pong)
			c.pong = nil
		}
		c.pongMu.Unlock()
		return true
	case opText, opBinary:
		if c.msgOp != 0 {
			return c.fail(websocket.StatusProtocolError, "new message before the last one ended")
		}
		if !fin {
			c.msg, c.msgOp = append([]byte(nil), payload...), op
			return true
		}
		return c.deliver(op, append([]byte(nil), payload...))
	case opContinuation:
		if c.msgOp == 0 {
			return c.fail(websocket.StatusProtocolError, "continuation without a message")
		}
		c.msg = append(c.msg, payload...)
		if !fin {
			return true
		}
		m, mop := c.msg, c.msgOp
		c.msg, c.msgOp = nil, 0
		return c.deliver(mop, m)
	}
	return c.fail(websocket.StatusProtocolError, "unknown opcode")
}

func (c *evConn) deliver(op byte, b []byte) (ok bool) {
	if c.draining {
		return true
	}
	defer func() {
		// As net/http does for a handler: a panic ends this session, not
		// the server. What was queued is still written, then a close.
		if r := recover(); r != nil {
			c.s.g.log.Error("panic handling a frame", "session", c.s.id, "panic", r, "stack", string(debug.Stack()))
			c.draining, ok = true, true
			c.s.closeWith(protocol.CloseInternal, "internal error")
		}
	}()
	typ := websocket.MessageText
	if op == opBinary {
		typ = websocket.MessageBinary
	}
	if c.s.onMessage(typ, b) {
		// The session stopped reading (logout); keep reading for the
		// peer's close frame, which the writer's Close waits for.
		c.draining = true
	}
	return true
}

// fail closes the connection with code (protocol errors, too big).
func (c *evConn) fail(code websocket.StatusCode, reason string) bool {
	if c.closeSent.CompareAndSwap(false, true) {
		_ = c.writeControl(opClose, closePayload(int(code), reason))
	}
	return false
}

// finish ends the reading side for good and then the session.
func (c *evConn) finish() {
	if c.ended {
		return
	}
	c.ended = true
	c.in, c.msg = nil, nil
	c.closeOnce.Do(func() { close(c.closeRcvd) })
	c.p.remove(c)
	_ = c.nc.Close()
	c.s.finish()
}

func closePayload(code int, reason string) []byte {
	if len(reason) > 123 {
		reason = reason[:123]
	}
	b := make([]byte, 2, 2+len(reason))
	binary.BigEndian.PutUint16(b, uint16(code))
	return append(b, reason...)
}

// writeFrame writes one unmasked frame (server to client) through the cork.
func (c *evConn) writeFrame(op byte, p []byte) error {
	var hdr [10]byte
	hdr[0] = 0x80 | op
	n := 2
	switch l := len(p); {
	case l <= 125:
		hdr[1] = byte(l)
	case l <= 0xffff:
		hdr[1] = 126
		binary.BigEndian.PutUint16(hdr[2:], uint16(l))
		n = 4
	default:
		hdr[1] = 127
		binary.BigEndian.PutUint64(hdr[2:], uint64(l))
		n = 10
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if len(p) <= 125 {
		// One write: a control frame passes the cork uncorked.
		var f [2 + 125]byte
		copy(f[:], hdr[:2])
		copy(f[2:], p)
		_, err := c.w.Write(f[:2+len(p)])
		return err
	}
	if _, err := c.w.Write(hdr[:n]); err != nil {
		return err
	}
	_, err := c.w.Write(p)
	return err
}

// writeControl writes a control frame with a deadline of its own when the
// cork is not holding it.
func (c *evConn) writeControl(op byte, p []byte) error {
	return c.writeFrame(op, p)
}

func (c *evConn) WriteText(b []byte) error { return c.writeFrame(opText, b) }

func (c *evConn) Close(code int, reason string) error {
	if !c.started.Load() {
		// Refused before it started (the gateway is shutting down):
		// nobody reads for the peer's answer.
		_ = c.writeControl(opClose, closePayload(code, reason))
		return c.nc.Close()
	}
	if c.closeSent.CompareAndSwap(false, true) {
		if err := c.writeControl(opClose, closePayload(code, reason)); err != nil {
			_ = c.CloseNow()
			return err
		}
	}
	t := time.NewTimer(closeWait)
	defer t.Stop()
	select {
	case <-c.closeRcvd:
	case <-t.C:
	}
	return c.CloseNow()
}

// CloseNow shuts the socket down, which the poller reports as readable
// (end of stream), so the reading side ends the session and closes it.
func (c *evConn) CloseNow() error {
	err := c.ctl(func(fd int) error { return syscall.Shutdown(fd, syscall.SHUT_RDWR) })
	if errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.ENOTCONN) {
		return nil
	}
	return err
}

func (c *evConn) Abort() error { return c.CloseNow() }

func (c *evConn) Ping(ctx context.Context) error {
	ch := make(chan struct{})
	c.pongMu.Lock()
	c.pong = ch
	c.pongMu.Unlock()
	if err := c.writeControl(opPing, nil); err != nil {
		return err
	}
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
