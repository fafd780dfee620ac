package progress

import "testing"

func TestCounter(t *testing.T) {
	var c Counter
	n, changed := c.Load()
	if n != 0 {
		t.Fatalf("zero Counter counts %d", n)
	}
	select {
	case <-changed:
		t.Fatal("changed closed before any Add")
	default:
	}
	c.Add()
	select {
	case <-changed:
	default:
		t.Fatal("Add did not close the channel Load returned")
	}
	if n, again := c.Load(); n != 1 || again == changed {
		t.Fatalf("after one Add: %d and the same channel: %v", n, again == changed)
	}
}
