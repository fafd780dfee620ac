package im

import "testing"

// TestKnownSeqs: a conversation's known seq only grows, survives one
// generation change (promoted on lookup) and is forgotten after two.
func TestKnownSeqs(t *testing.T) {
	a, b, c, d := convRef{"x", "a"}, convRef{"x", "b"}, convRef{"x", "c"}, convRef{"y", "a"}
	ks := newKnownSeqs(2)
	steps := []struct {
		name string
		note map[convRef]int64
		want map[convRef]int64
	}{
		{"empty", nil, map[convRef]int64{a: 0}},
		{"noted", map[convRef]int64{a: 5}, map[convRef]int64{a: 5, d: 0}},
		{"never back", map[convRef]int64{a: 3}, map[convRef]int64{a: 5}},
		{"forward", map[convRef]int64{a: 7}, map[convRef]int64{a: 7}},
		// b fills the generation; c starts a new one, a is promoted by get.
		{"rollover", map[convRef]int64{b: 1}, map[convRef]int64{b: 1}},
		{"new generation", map[convRef]int64{c: 2}, map[convRef]int64{a: 7, c: 2}},
		{"old kept for a lookup", nil, map[convRef]int64{b: 1}},
		{"other app", map[convRef]int64{d: 4}, map[convRef]int64{d: 4, a: 7}},
	}
	for _, st := range steps {
		for k, v := range st.note {
			ks.note(k, v)
		}
		for k, want := range st.want {
			if got := ks.get(k); got != want {
				t.Errorf("%s: get(%v) = %d, want %d", st.name, k, got, want)
			}
		}
	}
	// Filling two more generations forgets everything noted before.
	for i := range 6 {
		ks.note(convRef{"z", string(rune('a' + i))}, 1)
	}
	if got := ks.get(a); got != 0 {
		t.Errorf("after two generations: get(a) = %d, want 0", got)
	}

	// A lower seq noted for a conversation only in the old generation
	// keeps the higher one.
	ks = newKnownSeqs(1)
	ks.note(a, 9)
	ks.note(b, 1)
	ks.note(a, 3)
	if got := ks.get(a); got != 9 {
		t.Errorf("lower note over the old generation: get(a) = %d, want 9", got)
	}
}
