//go:build linux

package gateway

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/heraldim/herald/internal/protocol"
)

// rawWS is a hand-written WebSocket client, to send what a library would
// not (split, fragmented, unmasked or oversized frames).
type rawWS struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func startEvents(t *testing.T) *httptest.Server {
	t.Helper()
	g, err := New(&raceService{}, noDevices{}, nil, NewHub(), Config{HeartbeatInterval: time.Minute, OfflineAfter: 3 * time.Minute,
		LoginTimeout: time.Minute, WriteTimeout: 10 * time.Second, MultiLogin: PolicyMulti, SendQueue: 64, Transport: TransportEvents},
		slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(g)
	t.Cleanup(func() {
		_ = g.Shutdown(context.Background())
		srv.Close()
	})
	return srv
}

const upgradeRequest = "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
	"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"

// dialRaw opens a WebSocket; extra is written right after the upgrade
// request, in the same write.
func dialRaw(t *testing.T, srv *httptest.Server, extra []byte) *rawWS {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(append([]byte(upgradeRequest), extra...)); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Sec-WebSocket-Accept") != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Fatalf("handshake: %d %v", resp.StatusCode, resp.Header)
	}
	return &rawWS{t: t, c: c, br: br}
}

// frame encodes a client frame; masked unless told otherwise.
func frame(fin bool, op byte, p []byte, masked bool) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	b := []byte{b0}
	m := byte(0)
	if masked {
		m = 0x80
	}
	switch l := len(p); {
	case l <= 125:
		b = append(b, m|byte(l))
	case l <= 0xffff:
		b = append(b, m|126, byte(l>>8), byte(l))
	default:
		b = append(b, m|127)
		b = binary.BigEndian.AppendUint64(b, uint64(l))
	}
	if !masked {
		return append(b, p...)
	}
	key := []byte{1, 2, 3, 4}
	b = append(b, key...)
	for i, c := range p {
		b = append(b, c^key[i&3])
	}
	return b
}

func (w *rawWS) write(b []byte) {
	if _, err := w.c.Write(b); err != nil {
		w.t.Fatal(err)
	}
}

// read returns the next server frame's opcode and payload.
func (w *rawWS) read() (byte, []byte) {
	w.t.Helper()
	var h [2]byte
	if _, err := io.ReadFull(w.br, h[:]); err != nil {
		w.t.Fatalf("reading a frame: %v", err)
	}
	n := int(h[1] & 0x7f)
	switch n {
	case 126:
		var l [2]byte
		_, _ = io.ReadFull(w.br, l[:])
		n = int(binary.BigEndian.Uint16(l[:]))
	case 127:
		var l [8]byte
		_, _ = io.ReadFull(w.br, l[:])
		n = int(binary.BigEndian.Uint64(l[:]))
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(w.br, p); err != nil {
		w.t.Fatalf("reading a payload: %v", err)
	}
	return h[0] & 0x0f, p
}

// wantReply reads the reply to request id: not logged in.
func (w *rawWS) wantReply(id string) {
	w.t.Helper()
	op, p := w.read()
	var f protocol.Frame
	if op != opText || json.Unmarshal(p, &f) != nil || f.ID != id || f.Error == nil || f.Error.Code != protocol.CodeNotLoggedIn {
		w.t.Fatalf("got op %d %q, want the not-logged-in reply to %s", op, p, id)
	}
}

// wantClose reads a close frame with code, then the end of the stream.
func (w *rawWS) wantClose(code int) {
	w.t.Helper()
	op, p := w.read()
	if op != opClose || len(p) < 2 || int(binary.BigEndian.Uint16(p)) != code {
		w.t.Fatalf("got op %d %q, want a close with %d", op, p, code)
	}
	if _, err := w.br.ReadByte(); err != io.EOF {
		w.t.Fatalf("after the close: %v, want the end of the stream", err)
	}
}

func pingRequest(id string) []byte { return []byte(`{"type":"ping","id":"` + id + `"}`) }

func TestEventsFraming(t *testing.T) {
	srv := startEvents(t)
	t.Run("frame split into single bytes", func(t *testing.T) {
		w := dialRaw(t, srv, nil)
		for _, b := range frame(true, opText, pingRequest("a"), true) {
			w.write([]byte{b})
		}
		w.wantReply("a")
	})
	t.Run("frame in the handshake's packet", func(t *testing.T) {
		w := dialRaw(t, srv, frame(true, opText, pingRequest("b"), true))
		w.wantReply("b")
	})
	t.Run("fragments with a ping between", func(t *testing.T) {
		w := dialRaw(t, srv, nil)
		req := pingRequest("c")
		var b []byte
		b = append(b, frame(false, opText, req[:5], true)...)
		b = append(b, frame(true, opPing, []byte("hi"), true)...)
		b = append(b, frame(false, opContinuation, req[5:9], true)...)
		b = append(b, frame(true, opContinuation, req[9:], true)...)
		w.write(b)
		if op, p := w.read(); op != opPong || string(p) != "hi" {
			t.Fatalf("got op %d %q, want the pong", op, p)
		}
		w.wantReply("c")
	})
	t.Run("two messages in one write", func(t *testing.T) {
		w := dialRaw(t, srv, nil)
		w.write(append(frame(true, opText, pingRequest("d"), true), frame(true, opText, pingRequest("e"), true)...))
		w.wantReply("d")
		w.wantReply("e")
	})
	t.Run("unmasked frame", func(t *testing.T) {
		w := dialRaw(t, srv, nil)
		w.write(frame(true, opText, pingRequest("f"), false))
		w.wantClose(1002)
	})
	t.Run("message over the limit", func(t *testing.T) {
		w := dialRaw(t, srv, nil)
		w.write([]byte{0x81, 0x80 | 127, 0, 0, 0, 0, 0x10, 0, 0, 0, 1, 2, 3, 4}) // 256 MiB announced
		w.wantClose(1009)
	})
	t.Run("client close is answered", func(t *testing.T) {
		w := dialRaw(t, srv, nil)
		w.write(frame(true, opClose, []byte{0x03, 0xe8}, true))
		w.wantClose(1000)
	})
}

// TestEventsIdleSessionsHaveNoGoroutine: connections that sent nothing
// for a while hold no goroutine each.
func TestEventsIdleSessionsHaveNoGoroutine(t *testing.T) {
	srv := startEvents(t)
	dialRaw(t, srv, nil) // starts the poller
	before := runtime.NumGoroutine()
	const n = 50
	for range n {
		w := dialRaw(t, srv, nil)
		w.write(frame(true, opText, pingRequest("x"), true))
		w.wantReply("x")
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		grown := runtime.NumGoroutine() - before
		if grown < n/5 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d idle sessions hold %d goroutines", n, grown)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestEventsProtocolErrors: frames RFC 6455 forbids end the connection with
// 1002; a close without a status is answered with 1000.
func TestEventsProtocolErrors(t *testing.T) {
	srv := startEvents(t)
	req := pingRequest("p")
	rsv := frame(true, opText, req, true)
	rsv[0] |= 0x40
	for _, tc := range []struct {
		name string
		b    []byte
		code int
	}{
		{"reserved opcode", frame(true, 0x3, req, true), 1002},
		{"reserved control opcode", frame(true, 0xB, nil, true), 1002},
		{"continuation without a message", frame(true, opContinuation, req, true), 1002},
		{"new message inside a fragmented one", append(frame(false, opText, req[:4], true), frame(true, opText, req, true)...), 1002},
		{"fragmented ping", frame(false, opPing, []byte("hi"), true), 1002},
		{"ping over 125 bytes", frame(true, opPing, make([]byte, 126), true), 1002},
		{"rsv bit without an extension", rsv, 1002},
		{"64-bit length with its top bit set", []byte{0x81, 0x80 | 127, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4}, 1002},
		{"close without a status", frame(true, opClose, nil, true), 1000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := dialRaw(t, srv, nil)
			w.write(tc.b)
			w.wantClose(tc.code)
		})
	}
}

// TestEventsHeaderSplitInLength: a header that ends inside its extended
// length, then the rest, is one frame.
func TestEventsHeaderSplitInLength(t *testing.T) {
	srv := startEvents(t)
	req := []byte(`{"type":"ping","id":"q","pad":"` + strings.Repeat("x", 200) + `"}`)
	b := frame(true, opText, req, true) // 16-bit length: a 4-byte header, then the mask
	w := dialRaw(t, srv, nil)
	for _, part := range [][]byte{b[:3], b[3:6], b[6:]} {
		w.write(part)
	}
	w.wantReply("q")
}
