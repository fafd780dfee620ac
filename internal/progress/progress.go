// Package progress provides Counter: a count that can be awaited, for the
// services' background checks that tests wait on instead of sleeping.
package progress

import "sync"

// Counter counts events and lets a caller wait for the next one. The zero
// value is ready to use.
type Counter struct {
	mu      sync.Mutex
	n       uint64
	changed chan struct{}
}

// Add counts one event and wakes the waiters.
func (c *Counter) Add() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	if c.changed != nil {
		close(c.changed)
		c.changed = nil
	}
}

// Load returns the count and a channel closed at the next Add.
func (c *Counter) Load() (uint64, <-chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.changed == nil {
		c.changed = make(chan struct{})
	}
	return c.n, c.changed
}
