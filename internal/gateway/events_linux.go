//go:build linux

package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/coder/websocket"
	"github.com/gobwas/ws"

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
//
// The WebSocket protocol itself (handshake, frame headers, masking, close
// bodies) is gobwas/ws's; only the loop is ours. Its companion netpoll
// library (mailru/easygo) is not served by our module proxy; the network
// engines that are (nbio, gnet) bring their own event loops, connection
// types and read buffers (gnet owns the listener), which would replace the
// session's read path, the cork and net/http's server rather than sit
// under a hijacked connection. The loop is ~150 lines of epoll with
// one-shot registrations.
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

// The RFC 6455 opcodes as the low bits of a frame's first byte (the
// package's raw test client writes frames byte by byte).
const (
	opContinuation = byte(ws.OpContinuation)
	opText         = byte(ws.OpText)
	opClose        = byte(ws.OpClose)
	opPing         = byte(ws.OpPing)
	opPong         = byte(ws.OpPong)
)

// closeWait bounds how long Close waits for the peer's close frame (as
// coder/websocket's Close).
const closeWait = 5 * time.Second

// readChunk is the size of one read(2).
const readChunk = 4096

// readBuf is what a socket's reader needs while it reads: the read(2)
// buffer and the frame header parser's state. It is pooled and held only
// while a socket is being read, so an idle session holds none of it.
type readBuf struct {
	chunk [readChunk]byte
	r     bytes.Reader               // over the bytes being parsed, for ws.ReadHeaderBuffer
	hdr   [ws.MaxHeaderSize - 2]byte // ws.ReadHeaderBuffer's scratch
}

var readBufs = sync.Pool{New: func() any { return new(readBuf) }}

// evConn is TransportEvents' wsConn: RFC 6455 framing (gobwas/ws) over a
// socket the poller reads.
type evConn struct {
	s    *Session
	p    *poller
	nc   net.Conn        // the socket, as the Go runtime holds it
	rc   syscall.RawConn // nc's descriptor, for the reads and epoll
	key  int32           // the descriptor's number, the poller's key
	w    *corkConn       // writes, over nc
	wmu  sync.Mutex
	whdr [ws.MaxHeaderSize]byte // a data frame's header being written; under wmu

	// Owned by the one reading goroutine (the registration is one-shot).
	in       []byte    // bytes of a frame not complete yet; nil when none
	msg      []byte    // a fragmented message being assembled
	msgOp    ws.OpCode // its opcode (text or binary); OpContinuation (0): none
	draining bool      // the session stopped reading (logout): discard data
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
		rb := readBufs.Get().(*readBuf)
		ok := c.consume(rb, c.in)
		readBufs.Put(rb)
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
	rb := readBufs.Get().(*readBuf)
	defer readBufs.Put(rb)
	for {
		n, err := c.read(rb.chunk[:])
		switch {
		case n > 0:
			data := rb.chunk[:n]
			if len(c.in) > 0 {
				c.in = append(c.in, data...)
				data = c.in
			}
			if !c.consume(rb, data) {
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
// (a slice of b); false: the connection must end. A header is read by
// ws.ReadHeaderBuffer over the bytes at hand: when they end inside it, the
// reader's end of input means "wait for more", as does a payload not
// complete yet. A message over the limit is refused from its header,
// before its payload arrives.
func (c *evConn) parse(rb *readBuf, b []byte) ([]byte, bool) {
	for len(b) >= ws.MinHeaderSize {
		rb.r.Reset(b)
		h, err := ws.ReadHeaderBuffer(&rb.r, rb.hdr[:])
		switch {
		case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
			return b, true
		case err != nil:
			return nil, c.fail(ws.StatusProtocolError, err.Error())
		}
		state := ws.StateServerSide // no extension is negotiated
		if c.msgOp != ws.OpContinuation {
			state = state.Set(ws.StateFragmented)
		}
		if err := ws.CheckHeader(h, state); err != nil {
			return nil, c.fail(ws.StatusProtocolError, err.Error())
		}
		if !h.OpCode.IsControl() && int64(len(c.msg))+h.Length > protocol.MaxFrameBytes {
			c.s.g.metrics.badFrames.Inc()
			return nil, c.fail(ws.StatusMessageTooBig, fmt.Sprintf("read limited at %d bytes", protocol.MaxFrameBytes+1))
		}
		hdr := len(b) - rb.r.Len()
		if int64(len(b)-hdr) < h.Length {
			break
		}
		end := hdr + int(h.Length)
		payload := b[hdr:end]
		ws.Cipher(payload, h.Mask, 0)
		b = b[end:]
		if !c.frame(h, payload) {
			return nil, false
		}
	}
	return b, true
}

// consume parses data (c.in, or a read chunk when c.in is empty) and keeps
// its incomplete rest in c.in; false: the connection must end.
func (c *evConn) consume(rb *readBuf, data []byte) bool {
	rest, ok := c.parse(rb, data)
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

// frame handles one frame whose header ws.CheckHeader accepted (so a
// control frame is final and short, a continuation continues a message, a
// new message does not interrupt one); false: the connection must end.
func (c *evConn) frame(h ws.Header, payload []byte) bool {
	switch h.OpCode {
	case ws.OpClose:
		code, _ := ws.ParseCloseFrameDataUnsafe(payload)
		if c.closeSent.CompareAndSwap(false, true) {
			echo := code
			if echo.Empty() || echo == ws.StatusNoStatusRcvd {
				echo = ws.StatusNormalClosure
			}
			_ = c.writeControl(ws.OpClose, ws.NewCloseFrameBody(echo, ""))
		}
		c.closeOnce.Do(func() { close(c.closeRcvd) })
		return false
	case ws.OpPing:
		c.s.seen()
		return c.writeControl(ws.OpPong, payload) == nil
	case ws.OpPong:
		c.s.seen()
		c.pongMu.Lock()
		if c.pong != nil {
			close(c.pong)
			c.pong = nil
		}
		c.pongMu.Unlock()
		return true
	case ws.OpText, ws.OpBinary:
		if !h.Fin {
			c.msg, c.msgOp = append([]byte(nil), payload...), h.OpCode
			return true
		}
		return c.deliver(h.OpCode, append([]byte(nil), payload...))
	case ws.OpContinuation:
		c.msg = append(c.msg, payload...)
		if !h.Fin {
			return true
		}
		m, op := c.msg, c.msgOp
		c.msg, c.msgOp = nil, ws.OpContinuation
		return c.deliver(op, m)
	}
	return c.fail(ws.StatusProtocolError, ws.ErrProtocolOpCodeReserved.Error())
}

func (c *evConn) deliver(op ws.OpCode, b []byte) (ok bool) {
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
	if op == ws.OpBinary {
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
func (c *evConn) fail(code ws.StatusCode, reason string) bool {
	if c.closeSent.CompareAndSwap(false, true) {
		_ = c.writeControl(ws.OpClose, ws.NewCloseFrameBody(code, reason))
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

// writeControl writes a control frame (server to client: unmasked) in one
// write, so that it passes an uncorked cork as one system call.
func (c *evConn) writeControl(op ws.OpCode, p []byte) error {
	b, err := ws.CompileFrame(ws.NewFrame(op, true, p))
	if err != nil {
		return fmt.Errorf("gateway: control frame: %w", err)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_, err = c.w.Write(b)
	return err
}

// WriteText writes one unmasked text frame through the cork (the session's
// writer corks it for its batch: header and payload are gathered).
func (c *evConn) WriteText(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := ws.WriteHeaderBuffer(c.w, ws.Header{Fin: true, OpCode: ws.OpText, Length: int64(len(b))}, c.whdr[:]); err != nil {
		return err
	}
	_, err := c.w.Write(b)
	return err
}

func (c *evConn) Close(code int, reason string) error {
	body := ws.NewCloseFrameBody(ws.StatusCode(code), reason)
	if !c.started.Load() {
		// Refused before it started (the gateway is shutting down):
		// nobody reads for the peer's answer.
		_ = c.writeControl(ws.OpClose, body)
		return c.nc.Close()
	}
	if c.closeSent.CompareAndSwap(false, true) {
		if err := c.writeControl(ws.OpClose, body); err != nil {
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
	if err := c.writeControl(ws.OpPing, nil); err != nil {
		return err
	}
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
