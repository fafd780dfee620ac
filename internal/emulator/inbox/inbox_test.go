package inbox

import (
	"context"
	"errors"
	"sync"
	"testing"
)

var errClosed = errors.New("closed")

func TestLogNextWaitsForRecord(t *testing.T) {
	var mu sync.Mutex
	done := make(chan struct{})
	l := NewLog[string](&mu, done, errClosed)
	got := make(chan string)
	go func() {
		d, err := l.Next(context.Background(), "a")
		if err != nil {
			t.Error(err)
		}
		got <- d
	}()
	mu.Lock()
	l.Record("b", "other")
	l.Record("a", "first")
	l.Record("a", "second")
	mu.Unlock()
	if d := <-got; d != "first" {
		t.Fatalf("Next = %q, want first", d)
	}
	if d, err := l.Next(context.Background(), "a"); err != nil || d != "second" {
		t.Fatalf("Next = %q, %v; want second", d, err)
	}
	if ds := l.Deliveries("a"); len(ds) != 2 || ds[0] != "first" {
		t.Fatalf("Deliveries = %q", ds)
	}
	close(done)
	if _, err := l.Next(context.Background(), "a"); !errors.Is(err, errClosed) {
		t.Fatalf("Next after done: %v, want %v", err, errClosed)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	l2 := NewLog[string](&mu, make(chan struct{}), errClosed)
	if _, err := l2.Next(ctx, "a"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Next with ended ctx: %v", err)
	}
}

func TestLogAfter(t *testing.T) {
	var mu sync.Mutex
	l := NewLog[string](&mu, make(chan struct{}), errClosed)
	conv := func(seq int, d string) [2]any { return [2]any{seq, d} }
	out, next, changed := after(l, "a", 0, conv)
	if len(out) != 0 || out == nil || next != 0 {
		t.Fatalf("empty: %v %d", out, next)
	}
	mu.Lock()
	l.Record("a", "x")
	l.Record("a", "y")
	mu.Unlock()
	select {
	case <-changed:
	default:
		t.Fatal("Record did not close the changed channel")
	}
	out, next, _ = after(l, "a", 1, conv)
	if len(out) != 1 || out[0] != [2]any{2, "y"} || next != 2 {
		t.Fatalf("after 1: %v %d", out, next)
	}
	if _, next, _ = after(l, "a", 5, conv); next != 5 {
		t.Fatalf("after beyond the end: next %d, want 5", next)
	}
}

func TestFaultsTimes(t *testing.T) {
	var f Faults[string]
	if f.Take("a") != nil {
		t.Fatal("empty table gave a fault")
	}
	f.Set("a", "twice", 2)
	f.Set("", "always", 0)
	for i := range 2 {
		if p := f.Take("a"); p == nil || *p != "twice" {
			t.Fatalf("use %d: %v", i, p)
		}
	}
	if p := f.Take("a"); p != nil {
		t.Fatalf("after its times: %q", *p)
	}
	for range 3 {
		if p := f.Take(""); p == nil || *p != "always" {
			t.Fatal("until-cleared fault ended")
		}
	}
	f.Clear()
	if f.Take("") != nil {
		t.Fatal("Clear left a fault")
	}
}
