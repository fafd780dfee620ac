package gateway

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/coder/websocket"
)

// Transports: how the gateway reads and writes a session's WebSocket
// (Config.Transport).
const (
	// TransportEvents reads idle connections through one shared poller
	// (epoll): a session has no goroutine while nothing arrives and
	// nothing is written. Linux only and plain connections only; a TLS
	// connection (--tls-cert), or any connection on another OS, is served
	// as with TransportGoroutine.
	TransportEvents = "events"
	// TransportGoroutine gives each session a reading goroutine blocked in
	// a read (coder/websocket).
	TransportGoroutine = "goroutine"
)

// wsConn is a session's WebSocket as the session uses it: text messages
// out, close frames, pings. Reading is the transport's own (it calls
// Session.onMessage).
type wsConn interface {
	// WriteText writes one text message, through the session's cork.
	WriteText(b []byte) error
	// Close sends a close frame and waits (bounded) for the peer's before
	// it closes the connection.
	Close(code int, reason string) error
	// CloseNow closes the connection without a close frame.
	CloseNow() error
	// Abort closes the socket under a Close in progress, cutting it short.
	Abort() error
	// Ping sends a WebSocket ping and waits for its pong or ctx.
	Ping(ctx context.Context) error
}

// coderConn is TransportGoroutine's wsConn.
type coderConn struct {
	c    *websocket.Conn
	cork *corkConn
}

func (c coderConn) WriteText(b []byte) error {
	return c.c.Write(context.Background(), websocket.MessageText, b)
}

func (c coderConn) Close(code int, reason string) error {
	return c.c.Close(websocket.StatusCode(code), reason)
}

func (c coderConn) CloseNow() error { return c.c.CloseNow() }

func (c coderConn) Abort() error {
	if c.cork == nil {
		return c.c.CloseNow()
	}
	return c.cork.Conn.Close()
}

func (c coderConn) Ping(ctx context.Context) error { return c.c.Ping(ctx) }

// checkHandshake validates a WebSocket upgrade request as websocket.Accept
// does, with the same statuses and messages, so that both transports
// refuse the same requests the same way. It reports the status and error
// of a refusal (0, nil: acceptable).
func checkHandshake(w http.ResponseWriter, r *http.Request, originPatterns []string) (int, error) {
	if !r.ProtoAtLeast(1, 1) {
		return http.StatusUpgradeRequired, fmt.Errorf("WebSocket protocol violation: handshake request must be at least HTTP/1.1: %q", r.Proto)
	}
	if !headerHasToken(r.Header, "Connection", "upgrade") {
		w.Header().Set("Connection", "Upgrade")
		w.Header().Set("Upgrade", "websocket")
		return http.StatusUpgradeRequired, fmt.Errorf("WebSocket protocol violation: Connection header %q does not contain Upgrade", r.Header.Get("Connection"))
	}
	if !headerHasToken(r.Header, "Upgrade", "websocket") {
		w.Header().Set("Connection", "Upgrade")
		w.Header().Set("Upgrade", "websocket")
		return http.StatusUpgradeRequired, fmt.Errorf("WebSocket protocol violation: Upgrade header %q does not contain websocket", r.Header.Get("Upgrade"))
	}
	if r.Method != http.MethodGet {
		return http.StatusMethodNotAllowed, fmt.Errorf("WebSocket protocol violation: handshake request method is not GET but %q", r.Method)
	}
	if r.Header.Get("Sec-WebSocket-Version") != "13" {
		w.Header().Set("Sec-WebSocket-Version", "13")
		return http.StatusBadRequest, fmt.Errorf("unsupported WebSocket protocol version (only 13 is supported): %q", r.Header.Get("Sec-WebSocket-Version"))
	}
	keys := r.Header.Values("Sec-WebSocket-Key")
	if len(keys) != 1 {
		return http.StatusBadRequest, errors.New("WebSocket protocol violation: missing or multiple Sec-WebSocket-Key headers")
	}
	if v, err := base64.StdEncoding.DecodeString(strings.TrimSpace(keys[0])); err != nil || len(v) != 16 {
		return http.StatusBadRequest, fmt.Errorf("WebSocket protocol violation: invalid Sec-WebSocket-Key %q, must be a 16 byte base64 encoded string", keys[0])
	}
	if err := checkOrigin(r, originPatterns); err != nil {
		return http.StatusForbidden, err
	}
	return 0, nil
}

// checkOrigin allows a request without an Origin header, a same-origin
// one, and one whose origin host matches a pattern (path.Match, case
// folded; a pattern with "://" matches scheme://host), as
// websocket.AcceptOptions.OriginPatterns.
func checkOrigin(r *http.Request, patterns []string) error {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return nil
	}
	u, err := url.Parse(origin)
	if err != nil {
		return fmt.Errorf("failed to parse Origin header %q: %w", origin, err)
	}
	if strings.EqualFold(r.Host, u.Host) {
		return nil
	}
	for _, p := range patterns {
		target := u.Host
		if strings.Contains(p, "://") {
			target = u.Scheme + "://" + u.Host
		}
		ok, err := path.Match(strings.ToLower(p), strings.ToLower(target))
		if err != nil {
			return errors.New(http.StatusText(http.StatusForbidden))
		}
		if ok {
			return nil
		}
	}
	if u.Host == "" {
		return fmt.Errorf("request Origin %q is not a valid URL with a host", origin)
	}
	return fmt.Errorf("request Origin %q is not authorized for Host %q", u.Host, r.Host)
}

// headerHasToken reports whether a comma-separated header holds token
// (case-insensitive).
func headerHasToken(h http.Header, key, token string) bool {
	for _, v := range h.Values(key) {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}
