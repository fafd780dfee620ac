package im

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/heraldim/herald/internal/protocol"
)

// cutoffStore is a Store that answers TokensValidAfter from a map, counts
// the reads and can hold one read until released.
type cutoffStore struct {
	Store // nil: only the method below is used
	mu    sync.Mutex
	after map[string]time.Time
	reads int
	// hold, when set, makes the next read report on reading and wait
	// for release after it read its value.
	hold             bool
	reading, release chan struct{}
}

func (c *cutoffStore) TokensValidAfter(_ context.Context, _, userID string) (time.Time, error) {
	c.mu.Lock()
	c.reads++
	v := c.after[userID]
	hold := c.hold
	c.hold = false
	c.mu.Unlock()
	if hold {
		close(c.reading)
		<-c.release
	}
	return v, nil
}

func (c *cutoffStore) set(user string, t time.Time) {
	c.mu.Lock()
	c.after[user] = t
	c.mu.Unlock()
}

// TestRevocationCache: the cutoff is read once per user, read again after
// ForgetUser, and a read that raced a ForgetUser does not put its old
// value back.
func TestRevocationCache(t *testing.T) {
	st := &cutoffStore{after: map[string]time.Time{}}
	s, err := New(st, nopRouter{}, Config{}, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	t0 := time.UnixMilli(1_800_000_000_000)
	check := func(iat time.Time, want protocol.Code) {
		t.Helper()
		err := s.checkRevoked(ctx, "app", "alice", iat)
		switch {
		case want == 0 && err != nil:
			t.Fatalf("token of %v refused: %v", iat, err)
		case want != 0 && protocol.AsError(err).Code != want:
			t.Fatalf("token of %v: %v, want %d", iat, err, want)
		}
	}
	check(t0, 0)
	check(t0, 0)
	if st.reads != 1 {
		t.Fatalf("%d store reads for two logins, want 1", st.reads)
	}
	st.set("alice", t0.Add(500*time.Millisecond))
	check(t0, 0) // cached: the store changed behind the service's back
	s.ForgetUser("app", "alice")
	check(t0, protocol.CodeTokenRevoked)
	check(t0.Add(time.Second), 0)

	// A read of the old value that ends after a ForgetUser is not cached.
	s.ForgetUser("app", "alice")
	st.mu.Lock()
	st.hold, st.reading, st.release = true, make(chan struct{}), make(chan struct{})
	st.mu.Unlock()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.checkRevoked(ctx, "app", "alice", t0.Add(time.Second)) // reads t0+500ms
	}()
	<-st.reading
	st.set("alice", t0.Add(2*time.Second))
	s.ForgetUser("app", "alice")
	close(st.release)
	<-done
	check(t0.Add(time.Second), protocol.CodeTokenRevoked)
}
