package webhook

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"
)

// staleStore is an outbox in memory whose second read of due rows
// returns the rows as they were when it began, only once row 2's outcome
// was written: as a store's read does when its snapshot is taken while
// rows are in flight and the reader then waits (a loaded machine) while
// their deliveries finish and are recorded.
type staleStore struct {
	Store
	svc *Service

	mu       sync.Mutex
	pending  map[int64]Row
	finishes map[int64]int // FinishEvents outcomes by row
	reads    int
	// retaken says that row 1, as the third read began, was in flight or
	// recorded twice: taken again from the stale read. (Row 2 may still be
	// in flight from the first read then: its release follows its write.)
	retaken bool

	finishing1 chan struct{} // closed as row 1's outcome is being written
	read2      chan struct{} // closed once the second read took its snapshot
	finished2  chan struct{} // closed once row 2's outcome is written
	read3      chan struct{} // closed as the third read begins
}

func (s *staleStore) DueEvents(ctx context.Context, _ time.Time, _ int, _ []string) ([]Row, error) {
	s.mu.Lock()
	s.reads++
	n := s.reads
	var snap []Row
	for _, r := range s.pending {
		snap = append(snap, r)
	}
	slices.SortFunc(snap, func(a, b Row) int { return int(a.ID - b.ID) })
	if n == 3 {
		s.svc.inMu.Lock()
		s.retaken = s.finishes[1] > 1 || s.svc.inflight[1]
		s.svc.inMu.Unlock()
	}
	s.mu.Unlock()
	switch n {
	case 2:
		close(s.read2)
		select {
		case <-s.finished2:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	case 3:
		close(s.read3)
	}
	return snap, nil
}

func (s *staleStore) FinishEvents(_ context.Context, outs []Outcome) error {
	s.mu.Lock()
	first1 := s.finishes[1] == 0 && slices.ContainsFunc(outs, func(o Outcome) bool { return o.ID == 1 })
	s.mu.Unlock()
	if first1 {
		close(s.finishing1)
		<-s.read2 // the second read began while row 1 was in flight
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range outs {
		s.finishes[o.ID]++
		if o.Status != StatusPending {
			delete(s.pending, o.ID)
		}
		if o.ID == 2 && s.finishes[2] == 1 {
			close(s.finished2)
		}
	}
	return nil
}

func (s *staleStore) NextDue(context.Context) (time.Time, error) { return time.Time{}, nil }
func (s *staleStore) PendingEvents(context.Context) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.pending), nil
}
func (s *staleStore) TrimEvents(context.Context, time.Time) error                { return nil }
func (s *staleStore) EnqueueEvents(context.Context, []NewEvent) ([]int64, error) { return nil, nil }

// TestStaleReadNotDeliveredAgain: a read of due rows that began while a
// row was in flight and returned after its outcome was written and the
// row released does not deliver the row again; the next read, which sees
// the outcome, is made at once.
func TestStaleReadNotDeliveredAgain(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	release2 := make(chan struct{})
	var once sync.Once
	free2 := func() { once.Do(func() { close(release2) }) }
	defer free2()
	var mu sync.Mutex
	got := map[string]int{}
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		id := r.Header.Get(HeaderEventID)
		mu.Lock()
		got[id]++
		mu.Unlock()
		if id == EventID(2) {
			select {
			case <-release2:
			case <-r.Context().Done():
			}
		}
	}))
	defer rcv.Close()

	st := &staleStore{pending: map[int64]Row{}, finishes: map[int64]int{},
		finishing1: make(chan struct{}), read2: make(chan struct{}), finished2: make(chan struct{}), read3: make(chan struct{})}
	for id := int64(1); id <= 2; id++ {
		st.pending[id] = Row{ID: id, AppID: "app", Event: EventUserLogin, Payload: []byte(`{"userID":"u"}`),
			Status: StatusPending, CreatedAt: now, NextAt: now}
	}
	svc, err := New(st, Options{Poll: time.Hour, Now: func() time.Time { return now }, Rand: func() float64 { return 0 }},
		slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	if err != nil {
		t.Fatal(err)
	}
	st.svc = svc
	svc.cfgs["app"] = Config{AppID: "app", URL: rcv.URL, Secret: "whsec_test_test_test", Events: []string{EventUserLogin}, Enabled: true}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = svc.Run(ctx)
	}()
	defer func() { cancel(); free2(); <-done }()

	// Both rows are taken by the first read; row 2's request is held.
	// While row 1's outcome is being written, the second read begins...
	<-st.finishing1
	svc.Wake()
	<-st.read2
	// ... and returns once row 1 was released and row 2's outcome
	// written: both rows as they were, pending.
	free2()
	<-st.read3

	st.mu.Lock()
	retaken := st.retaken
	st.mu.Unlock()
	if retaken {
		t.Fatal("row 1 was taken again from the read that began before its outcome was written")
	}
	cancel()
	<-done
	mu.Lock()
	defer mu.Unlock()
	if got[EventID(1)] != 1 || got[EventID(2)] != 1 || len(got) != 2 {
		t.Fatalf("requests by event ID %v, want one each for evt_1 and evt_2", got)
	}
	if st.finishes[1] != 1 || st.finishes[2] != 1 {
		t.Fatalf("outcomes written %v, want one for each row", st.finishes)
	}
}
