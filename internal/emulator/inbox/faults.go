package inbox

// Faults is the table of faults an emulator plays, by key (a token, a
// regId; "" for every send by convention). It does no locking: its owner
// guards it with its own mutex. The zero value is an empty table.
type Faults[F any] struct {
	m map[string]*fault[F]
}

type fault[F any] struct {
	f    F
	left int // uses left; 0: until cleared
}

// Set plays f for key from now on, replacing key's previous fault, for
// times uses (0: until cleared).
func (t *Faults[F]) Set(key string, f F, times int) {
	if t.m == nil {
		t.m = make(map[string]*fault[F])
	}
	t.m[key] = &fault[F]{f: f, left: times}
}

// Clear removes every fault.
func (t *Faults[F]) Clear() { clear(t.m) }

// Take returns key's fault (nil for none) and counts one use of it; the
// fault's last use removes it.
func (t *Faults[F]) Take(key string) *F {
	fs := t.m[key]
	if fs == nil {
		return nil
	}
	f := fs.f
	if fs.left > 0 {
		if fs.left--; fs.left == 0 {
			delete(t.m, key)
		}
	}
	return &f
}
