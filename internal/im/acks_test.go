package im

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"

	"github.com/heraldim/herald/internal/route"
)

// cursorStore is a Store whose SaveCursors blocks until released, so that a
// test can look at the service while an ack flush is being written.
type cursorStore struct {
	Store   // nil: only the methods below are used
	mu      sync.Mutex
	cursor  int64
	writing chan struct{} // closed when SaveCursors began
	release chan struct{}
}

func (c *cursorStore) SaveCursors(_ context.Context, cs []Cursor) error {
	close(c.writing)
	<-c.release
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, x := range cs {
		c.cursor = max(c.cursor, x.Seq)
	}
	return nil
}

func (c *cursorStore) Pending(context.Context, string, string, string) ([]Pending, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return []Pending{{ConvID: "alice", Cursor: c.cursor, LastSeq: 5}}, nil
}

// TestPendingSeesAcksBeingFlushed: a position acknowledged and taken by a
// flush whose write has not committed yet still counts for the device's
// sync, so a login in that window does not get acknowledged messages
// again.
func TestPendingSeesAcksBeingFlushed(t *testing.T) {
	st := &cursorStore{writing: make(chan struct{}), release: make(chan struct{})}
	s, err := New(st, nopRouter{}, Config{}, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	if err != nil {
		t.Fatal(err)
	}
	s.ackMu.Lock()
	s.acks[cursorKey{"app", "bob", "dev", "alice"}] = 3
	s.ackMu.Unlock()
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.flushAcks(context.Background())
	}()
	<-st.writing
	ps, err := s.Pending(context.Background(), "app", "bob", "dev")
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 1 || ps[0].Cursor != 3 {
		t.Fatalf("pending while the flush writes: %+v, want cursor 3", ps)
	}
	close(st.release)
	<-done
	if ps, _ := s.Pending(context.Background(), "app", "bob", "dev"); len(ps) != 1 || ps[0].Cursor != 3 {
		t.Fatalf("pending after the flush: %+v, want cursor 3", ps)
	}
}

func (c *cursorStore) UserCursor(context.Context, string, string, string) (int64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cursor, nil
}

// TestUserCursorSeesAcksBeforeAndDuringFlush: how far any device of a user
// got counts positions not yet written and being written, so a session's
// end does not push what another device acknowledged a moment ago.
func TestUserCursorSeesAcksBeforeAndDuringFlush(t *testing.T) {
	st := &cursorStore{writing: make(chan struct{}), release: make(chan struct{})}
	s, err := New(st, nopRouter{}, Config{}, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	if err != nil {
		t.Fatal(err)
	}
	s.ackMu.Lock()
	s.acks[cursorKey{"app", "bob", "desk", "alice"}] = 3
	s.userAcks[cursorKey{"app", "bob", "", "alice"}] = 3
	s.ackMu.Unlock()
	want := func(when string) {
		t.Helper()
		got, err := s.userCursor(context.Background(), "app", "bob", "alice")
		if err != nil || got != 3 {
			t.Fatalf("user cursor %s: %d %v, want 3", when, got, err)
		}
	}
	want("before the flush")
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.flushAcks(context.Background())
	}()
	<-st.writing
	want("while the flush writes")
	close(st.release)
	<-done
	want("after the flush")
	s.ackMu.Lock()
	defer s.ackMu.Unlock()
	if len(s.userAcks) != 0 || s.userFlushing != nil {
		t.Fatalf("memory after the flush: %v %v", s.userAcks, s.userFlushing)
	}
}

// nopRouter routes nothing: the tests here deliver no message.
type nopRouter struct{}

func (nopRouter) Route(*Message, route.SessionID)                   {}
func (nopRouter) Online(string, string) bool                        { return false }
func (nopRouter) RouteGroup(*Message, []Recipient, route.SessionID) {}
func (nopRouter) GroupEvent(string, string, GroupEvent)             {}
