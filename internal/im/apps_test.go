package im

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/heraldim/herald/internal/protocol"
	"github.com/heraldim/herald/internal/token"
)

// appStore is a Store that holds one app and counts its reads.
type appStore struct {
	Store // nil: only App is used
	mu    sync.Mutex
	app   App
	reads int
}

func (a *appStore) App(_ context.Context, id string) (App, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.reads++
	if id != a.app.ID {
		return App{}, ErrNotFound
	}
	return a.app, nil
}

// TokensValidAfter: no user's tokens were revoked.
func (a *appStore) TokensValidAfter(context.Context, string, string) (time.Time, error) {
	return time.Time{}, nil
}

func (a *appStore) set(app App) {
	a.mu.Lock()
	a.app = app
	a.mu.Unlock()
}

// TestAuthenticateRotationAndDisable: a token of the previous secret logs
// in until the overlap ends on the service's clock, then not; a disabled
// app refuses logins; each change is seen once ForgetApp was called.
func TestAuthenticateRotationAndDisable(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	now := t0
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }

	st := &appStore{app: App{ID: "a", Secret: "one", AdminKey: "k"}}
	s, err := New(st, nopRouter{}, Config{Now: clock}, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	mint := func(secret string) string {
		tok, err := token.Mint("a", secret, "alice", 48*time.Hour, clock())
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	auth := func(tok string) protocol.Code {
		t.Helper()
		_, err := s.Authenticate(ctx, "a", "alice", tok)
		if err == nil {
			return 0
		}
		var pe *protocol.Error
		if !errors.As(err, &pe) {
			t.Fatalf("Authenticate: %v", err)
		}
		return pe.Code
	}
	old := mint("one")
	if c := auth(old); c != 0 {
		t.Fatalf("before rotation: %d", c)
	}
	st.set(App{ID: "a", Secret: "two", PrevSecret: "one", PrevSecretUntil: t0.Add(time.Hour)})
	if c := auth(mint("two")); c != protocol.CodeTokenInvalid {
		t.Fatalf("the cached app must be used until ForgetApp: %d", c)
	}
	s.ForgetApp("a")
	for _, tt := range []struct {
		name    string
		advance time.Duration
		tok     string
		want    protocol.Code
	}{
		{"new secret", 0, mint("two"), 0},
		{"previous secret in the overlap", 59 * time.Minute, old, 0},
		{"previous secret after the overlap", time.Minute, old, protocol.CodeTokenInvalid},
		{"new secret after the overlap", 0, mint("two"), 0},
		{"another secret", 0, mint("three"), protocol.CodeTokenInvalid},
	} {
		advance(tt.advance)
		if c := auth(tt.tok); c != tt.want {
			t.Errorf("%s: code %d, want %d", tt.name, c, tt.want)
		}
	}
	st.set(App{ID: "a", Secret: "two", DisabledAt: t0})
	s.ForgetApp("a")
	if c := auth(mint("two")); c != protocol.CodeAppDisabled {
		t.Errorf("disabled app: code %d, want %d", c, protocol.CodeAppDisabled)
	}
	st.set(App{ID: "other"})
	s.ForgetApp("a")
	if c := auth(mint("two")); c != protocol.CodeAppUnknown {
		t.Errorf("deleted app: code %d, want %d", c, protocol.CodeAppUnknown)
	}
}

// savedCursors is a Store that records the cursors written.
type savedCursors struct {
	Store // nil: only SaveCursors is used
	mu    sync.Mutex
	saved []Cursor
}

func (c *savedCursors) SaveCursors(_ context.Context, cs []Cursor) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.saved = append(c.saved, cs...)
	return nil
}

// TestDropAppForgetsUnwrittenAcks: the positions of an app about to be
// deleted are not written; other apps' are.
func TestDropAppForgetsUnwrittenAcks(t *testing.T) {
	st := &savedCursors{}
	s, err := New(st, nopRouter{}, Config{}, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	if err != nil {
		t.Fatal(err)
	}
	s.ackMu.Lock()
	for _, app := range []string{"gone", "kept"} {
		s.acks[cursorKey{app: app, user: "alice", device: "d", conv: "c"}] = 3
		s.userAcks[cursorKey{app: app, user: "alice", conv: "c"}] = 3
	}
	s.ackMu.Unlock()
	s.DropApp("gone")
	s.flushAcks(t.Context())
	if len(st.saved) != 1 || st.saved[0].AppID != "kept" {
		t.Fatalf("saved %+v, want only the kept app's position", st.saved)
	}
	s.ackMu.Lock()
	defer s.ackMu.Unlock()
	for k := range s.userAcks {
		if k.app == "gone" {
			t.Fatalf("user position of the dropped app left: %+v", k)
		}
	}
}
