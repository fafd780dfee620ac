package gateway

import "testing"

// TestDeviceClaims: a PushID held by a live session of one user is refused
// to another user, taken over by the same user, given back by undo to a
// same-user holder that still lives, and free once its holder ended. A
// session that takes another PushID (registerPush) gives up its old one,
// and gets it back when the new one's bind failed.
func TestDeviceClaims(t *testing.T) {
	c := newDeviceClaims()
	bob1, bob2, mallory, carol := &Session{}, &Session{}, &Session{}, &Session{}
	type step struct {
		name string
		do   func() bool
		want bool
	}
	var undo func()
	take := func(pushID, user string, s *Session) func() bool {
		return func() bool {
			u, ok := c.take("a", pushID, user, s)
			if ok {
				undo = u
			}
			return ok
		}
	}
	steps := []step{
		{"bob binds D", take("D", "bob", bob1), true},
		{"mallory refused", take("D", "mallory", mallory), false},
		{"another app's D is another device", func() bool { _, ok := c.take("b", "D", "mallory", mallory); return ok }, true},
		{"bob's second session takes it over", take("D", "bob", bob2), true},
		{"its bind failed: undo gives it back to bob1", func() bool { undo(); return true }, true},
		{"mallory still refused (bob1 holds it)", take("D", "mallory", mallory), false},
		{"bob1 ends: mallory takes it", func() bool { c.release(bob1); return take("D", "mallory", mallory)() }, true},
		{"bob refused now", take("D", "bob", bob2), false},
		{"mallory's bind failed: undo frees it (bob1 ended)", func() bool { undo(); return take("D", "carol", carol)() }, true},
		{"carol moves to E: D is free", func() bool { take("E", "carol", carol)(); return take("D", "bob", bob2)() }, true},
		{"carol registers F, its bind fails: undo gives her E back and frees F", func() bool {
			take("F", "carol", carol)()
			undo()
			return !take("E", "mallory", mallory)() && take("F", "mallory", mallory)()
		}, true},
		{"bob2 logs out: D free for mallory", func() bool { c.release(bob2); return take("D", "mallory", mallory)() }, true},
	}
	for _, st := range steps {
		if got := st.do(); got != st.want {
			t.Fatalf("%s: %v, want %v", st.name, got, st.want)
		}
	}
	c.release(mallory)
	c.release(carol)
	if len(c.m) != 0 || len(c.by) != 0 {
		t.Fatalf("claims left after every session ended: %v %v", c.m, c.by)
	}
}
