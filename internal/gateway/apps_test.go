package gateway

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/heraldim/herald/internal/im"
	"github.com/heraldim/herald/internal/protocol"
	"github.com/heraldim/herald/internal/token"
)

// raceService is a Service whose first Authenticate waits until the test
// released it, so that a test can disable the app between a login's check
// and its registration. Only the methods a login uses are implemented.
type raceService struct {
	Service // nil: not used
	entered chan struct{}
	release chan struct{}
	once    sync.Once

	mu       sync.Mutex
	disabled bool
}

func (r *raceService) Authenticate(_ context.Context, appID, userID, _ string) (token.Claims, error) {
	first := false
	r.once.Do(func() { first = true })
	if first {
		close(r.entered)
		<-r.release
		// The check as it was before the app was disabled.
		return token.Claims{AppID: appID, UserID: userID, Expires: time.Now().Add(time.Hour)}, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.disabled {
		return token.Claims{}, protocol.Errorf(protocol.CodeAppDisabled, "")
	}
	return token.Claims{AppID: appID, UserID: userID, Expires: time.Now().Add(time.Hour)}, nil
}

func (r *raceService) LoggedIn(context.Context, string, string) error { return nil }

func (r *raceService) Pending(context.Context, string, string, string) ([]im.Pending, error) {
	return nil, nil
}

func (r *raceService) SessionEnded(im.SessionEnd) {}

type noDevices struct{ Devices }

// TestCloseAppCatchesARacingLogin: a login whose token was checked before
// its app was disabled, and that registers after CloseApp swept the hub,
// is closed with 4006 all the same.
func TestCloseAppCatchesARacingLogin(t *testing.T) {
	svc := &raceService{entered: make(chan struct{}), release: make(chan struct{})}
	g, err := New(svc, noDevices{}, nil, NewHub(), Config{HeartbeatInterval: time.Minute, OfflineAfter: 3 * time.Minute,
		LoginTimeout: time.Minute, WriteTimeout: 10 * time.Second, MultiLogin: PolicyMulti, SendQueue: 64},
		slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(g)
	defer srv.Close()
	defer func() { _ = g.Shutdown(context.Background()) }()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	login, _ := json.Marshal(protocol.LoginRequest{AppID: "a", UserID: "alice", Token: "t", Platform: "ios", DeviceID: "d"})
	frame, _ := json.Marshal(protocol.Frame{Type: protocol.TypeLogin, ID: "1", Data: login})
	if err := conn.Write(ctx, websocket.MessageText, frame); err != nil {
		t.Fatal(err)
	}
	<-svc.entered
	// The operator disables the app now: nothing is registered yet.
	svc.mu.Lock()
	svc.disabled = true
	svc.mu.Unlock()
	if n := g.CloseApp(ctx, "a"); n != 0 {
		t.Fatalf("CloseApp closed %d sessions before the login registered", n)
	}
	close(svc.release)

	sawReply := false
	for {
		_, b, err := conn.Read(ctx)
		if err != nil {
			if code := websocket.CloseStatus(err); code != protocol.CloseAppDisabled {
				t.Fatalf("connection ended with %v (close code %d), want %d", err, code, protocol.CloseAppDisabled)
			}
			break
		}
		var f protocol.Frame
		if err := json.Unmarshal(b, &f); err != nil {
			t.Fatal(err)
		}
		if f.Type == protocol.TypeReply && f.ID == "1" {
			sawReply = f.Error == nil
		}
	}
	if !sawReply {
		t.Fatal("the login's reply did not arrive before the close")
	}
}
