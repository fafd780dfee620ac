package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/heraldim/herald/internal/protocol"
	"github.com/heraldim/herald/internal/token"
)

// loginTimeout bounds one session's dial, login and login sync (a sync of
// many messages is bounded by the engine's drain timeout instead).
const loginTimeout = 30 * time.Second

// tokenTTL is the lifetime of the tokens a run mints: longer than any run.
const tokenTTL = 2 * time.Hour

// engine holds what every mode shares: the options, the run's user prefix
// and an HTTP client that only reaches loopback addresses.
type engine struct {
	cfg     Config
	prefix  string
	tr      *http.Transport
	hc      *http.Client
	metrics string
	labels  context.Context
	text    string
}

func newEngine(cfg Config, prefix string) *engine {
	tr := &http.Transport{
		DialContext:         loopbackDialer().DialContext,
		MaxIdleConnsPerHost: 2,
		IdleConnTimeout:     10 * time.Second,
	}
	murl, _ := metricsURL(cfg.ServerURL) // the URL was validated
	return &engine{
		cfg:     cfg,
		prefix:  prefix,
		tr:      tr,
		hc:      &http.Client{Transport: tr},
		metrics: murl,
		// Client goroutines carry this pprof label so that a CPU profile of
		// an in-process benchmark can leave them out (-tagignore).
		labels: pprof.WithLabels(context.Background(), pprof.Labels("herald", "loadgen")),
		text:   payload(cfg.Size),
	}
}

func (e *engine) close() { e.tr.CloseIdleConnections() }

// goLabelled runs f on a new goroutine labelled as load generator.
func (e *engine) goLabelled(f func()) {
	go func() {
		pprof.SetGoroutineLabels(e.labels)
		f()
	}()
}

func (e *engine) logf(format string, args ...any) {
	if e.cfg.Progress != nil {
		fmt.Fprintf(e.cfg.Progress, format+"\n", args...)
	}
}

func (e *engine) user(kind string, i int) string {
	return e.prefix + "-" + kind + strconv.Itoa(i)
}

// payload returns a text body of n bytes that needs no JSON escaping.
func payload(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'a' + byte(i%26)
	}
	return string(b)
}

// frame is the union of the server frames the load generator reads: one
// decoding pass, unknown fields skipped.
type frame struct {
	Type  string          `json:"type"`
	ID    string          `json:"id"`
	Data  frameData       `json:"data"`
	Error *protocol.Error `json:"error"`
}

type frameData struct {
	LocalMessageID    string `json:"localMessageID"`
	ConversationID    string `json:"conversationID"`
	ConversationSeq   int64  `json:"conversationSeq"`
	Offline           bool   `json:"offline"`
	Count             int    `json:"count"`
	HeartbeatInterval int64  `json:"heartbeatInterval"`
}

// conn is one raw protocol connection. Reads and writes use a context
// without deadline (a cancelled context would close the connection, and a
// deadline costs a timer per call); closing is explicit (close).
type conn struct {
	ws   *websocket.Conn
	user string
	// heartbeat is the interval the server asked for at login.
	heartbeat time.Duration
	buf       bytes.Buffer
	done      chan struct{} // closed when the reader goroutine returns
	closeOnce sync.Once
}

func (e *engine) dial(ctx context.Context, user string) (*conn, error) {
	ctx, cancel := context.WithTimeout(ctx, loginTimeout)
	defer cancel()
	u := e.serverFor(user)
	ws, _, err := websocket.Dial(ctx, u, &websocket.DialOptions{
		HTTPClient:      e.hc,
		CompressionMode: websocket.CompressionDisabled,
	})
	if err != nil {
		return nil, fmt.Errorf("loadgen: dial %s: %w", u, err)
	}
	ws.SetReadLimit(protocol.MaxFrameBytes * 4)
	return &conn{ws: ws, user: user, done: make(chan struct{})}, nil
}

// serverFor is the endpoint user's session dials (Config.MoreServerURLs):
// with n endpoints, user <prefix>-<kind><i> goes to endpoint i mod n, and
// to the next one for a receiver (kind r or yr).
func (e *engine) serverFor(user string) string {
	if len(e.cfg.MoreServerURLs) == 0 {
		return e.cfg.ServerURL
	}
	urls := append([]string{e.cfg.ServerURL}, e.cfg.MoreServerURLs...)
	name := strings.TrimPrefix(user, e.prefix+"-")
	digits := strings.TrimLeft(name, "abcdefghijklmnopqrstuvwxyz")
	i, _ := strconv.Atoi(digits)
	if kind := strings.TrimSuffix(name, digits); kind == "r" || kind == "yr" {
		i++
	}
	return urls[i%len(urls)]
}

func (e *engine) mint(user string) (string, error) {
	tok, err := token.Mint(e.cfg.AppID, e.cfg.Secret, user, tokenTTL, time.Now())
	if err != nil {
		return "", fmt.Errorf("loadgen: %w", err)
	}
	return tok, nil
}

func (c *conn) write(b []byte) error {
	return c.ws.Write(context.Background(), websocket.MessageText, b)
}

// read reads and decodes the next frame into f. f is valid until the next
// read on c.
func (c *conn) read(f *frame) error {
	_, r, err := c.ws.Reader(context.Background())
	if err != nil {
		return err
	}
	c.buf.Reset()
	if _, err := c.buf.ReadFrom(r); err != nil {
		return err
	}
	*f = frame{}
	if err := json.Unmarshal(c.buf.Bytes(), f); err != nil {
		return fmt.Errorf("loadgen: server sent a frame that is not JSON: %w", err)
	}
	return nil
}

// login logs c in with tok and reads up to the syncDone that follows,
// handing each synced message to onMsg (nil: ignore them), within
// loginTimeout. It returns syncDone's count. It must run before serve.
func (c *conn) login(appID, tok string, onMsg func(*frame)) (int, error) {
	timer := time.AfterFunc(loginTimeout, func() { _ = c.ws.CloseNow() })
	defer timer.Stop()
	return c.loginWith(appID, tok, onMsg, nil)
}

// loginWith is login without a deadline; onReply (if not nil) is called when
// the login reply arrives.
func (c *conn) loginWith(appID, tok string, onMsg func(*frame), onReply func()) (int, error) {
	req, _ := json.Marshal(protocol.LoginRequest{AppID: appID, UserID: c.user, Token: tok, Platform: "linux", DeviceID: "bench"})
	b, _ := json.Marshal(protocol.Frame{Type: protocol.TypeLogin, ID: "login", Data: req})
	if err := c.write(b); err != nil {
		return 0, fmt.Errorf("loadgen: login %s: %w", c.user, err)
	}
	var f frame
	loggedIn := false
	for {
		if err := c.read(&f); err != nil {
			return 0, fmt.Errorf("loadgen: login %s: %w", c.user, err)
		}
		switch {
		case f.Type == protocol.TypeReply && f.ID == "login":
			if onReply != nil {
				onReply()
			}
			if f.Error != nil {
				return 0, fmt.Errorf("loadgen: login %s: %w", c.user, f.Error)
			}
			c.heartbeat = time.Duration(f.Data.HeartbeatInterval) * time.Millisecond
			loggedIn = true
		case f.Type == protocol.EventMessage && onMsg != nil:
			onMsg(&f)
		case f.Type == protocol.EventSyncDone && loggedIn:
			return f.Data.Count, nil
		}
	}
}

// serve reads frames on a new goroutine, handing each to handle (nil:
// discard), until the connection ends.
func (e *engine) serve(c *conn, handle func(*frame)) {
	e.goLabelled(func() {
		defer close(c.done)
		var f frame
		for c.read(&f) == nil {
			if handle != nil {
				handle(&f)
			}
		}
	})
}

// close drops the connection and waits for its reader, if it was started.
func (c *conn) close(served bool) {
	c.closeOnce.Do(func() { _ = c.ws.CloseNow() })
	if served {
		<-c.done
	}
}

// open dials and logs in users[i] for every i, at most DialConcurrency at a
// time, and starts each connection's reader with handler(i, c) right after
// its login (handler runs before the reader starts, so what it stores is
// visible to the reader). On error every connection opened is closed.
func (e *engine) open(ctx context.Context, users []string, handler func(i int, c *conn) func(*frame)) ([]*conn, error) {
	conns := make([]*conn, len(users))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		errMu sync.Mutex
		first error
	)
	sem := make(chan struct{}, e.cfg.DialConcurrency)
	for i, u := range users {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		e.goLabelled(func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := e.openOne(ctx, u)
			if err != nil {
				errMu.Lock()
				if first == nil {
					first = fmt.Errorf("loadgen: session %d of %d: %w", i+1, len(users), err)
				}
				errMu.Unlock()
				cancel()
				return
			}
			e.serve(c, handler(i, c))
			conns[i] = c
		})
	}
	wg.Wait()
	if first == nil && ctx.Err() != nil {
		first = ctx.Err()
	}
	if first != nil {
		closeAll(conns)
		return nil, first
	}
	return conns, nil
}

func (e *engine) openOne(ctx context.Context, user string) (*conn, error) {
	tok, err := e.mint(user)
	if err != nil {
		return nil, err
	}
	c, err := e.dial(ctx, user)
	if err != nil {
		return nil, err
	}
	if _, err := c.login(e.cfg.AppID, tok, nil); err != nil {
		c.close(false)
		return nil, err
	}
	return c, nil
}

// closeAll closes every served connection in conns (nil entries skipped).
func closeAll(conns []*conn) {
	for _, c := range conns {
		if c != nil {
			c.close(true)
		}
	}
}

// appendSend appends a send frame whose request ID and local message ID are
// both n. to and text need no JSON escaping (user IDs and payload are
// plain ASCII).
func appendSend(b []byte, n int64, to, text string) []byte {
	b = append(b, `{"type":"send","id":"`...)
	b = strconv.AppendInt(b, n, 10)
	b = append(b, `","data":{"conversationID":"`...)
	b = append(b, to...)
	b = append(b, `","localMessageID":"`...)
	b = strconv.AppendInt(b, n, 10)
	b = append(b, `","type":1,"text":"`...)
	b = append(b, text...)
	return append(b, `"}}`...)
}

// appendAck appends a cumulative ack of the peer conversation with peer up
// to seq.
func appendAck(b []byte, peer string, seq int64) []byte {
	b = append(b, `{"type":"ack","data":{"acks":[{"conversationID":"`...)
	b = append(b, peer...)
	b = append(b, `","seq":`...)
	b = strconv.AppendInt(b, seq, 10)
	return append(b, `}]}}`...)
}

var pingFrame = []byte(`{"type":"ping","id":"hb"}`)

// errDrain: replies or deliveries were still outstanding when the drain
// timeout passed.
var errDrain = errors.New("drain timeout")

// waitFor polls cond every 5 ms until it holds, ctx ends or timeout passes.
func waitFor(ctx context.Context, timeout time.Duration, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Now().After(deadline) {
			return errDrain
		}
		time.Sleep(5 * time.Millisecond)
	}
	return nil
}

// watchProgress calls stall once if progress() does not change for timeout,
// checking every timeout/10. The returned function stops the watch.
func watchProgress(timeout time.Duration, progress func() int64, stall func()) (stop func()) {
	done := make(chan struct{})
	var once sync.Once
	go func() {
		t := time.NewTicker(timeout / 10)
		defer t.Stop()
		last, since := progress(), time.Now()
		for {
			select {
			case <-done:
				return
			case now := <-t.C:
				if p := progress(); p != last {
					last, since = p, now
				} else if now.Sub(since) >= timeout {
					stall()
					return
				}
			}
		}
	}()
	return func() { once.Do(func() { close(done) }) }
}
