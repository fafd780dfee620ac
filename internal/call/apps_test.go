package call_test

import "testing"

// TestForgetApp: a deleted app's open calls leave memory and the push gate;
// other apps' calls stay.
func TestForgetApp(t *testing.T) {
	r := newRig(t, "")
	rep := r.invite(t, 60, "bob")
	r.svc.ForgetApp("other")
	if !r.svc.Ringing("app", rep.CallID, "bob") {
		t.Fatal("forgetting another app stopped this app's call")
	}
	r.svc.ForgetApp("app")
	if r.svc.Ringing("app", rep.CallID, "bob") {
		t.Fatal("the forgotten app's call still rings")
	}
}
