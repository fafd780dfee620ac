package sqlstore

import (
	"fmt"
	"slices"
	"testing"

	"github.com/heraldim/herald/internal/push"
)

// TestDeviceEvents: every change of a device's binding is recorded, and
// nothing else: a re-registration by the same user or without a user is
// no change, an unbind of another user's device changes nothing.
func TestDeviceEvents(t *testing.T) {
	s := pushStore(t)
	ctx := t.Context()
	d := device("a1", "tok1", "bob")
	other := device("a2", "tok1", "zed") // same token in another app
	type ev struct {
		kind     push.DeviceEventKind
		from, to string
		reason   string
	}
	steps := []struct {
		name string
		do   func() error
		want []ev // newest first, after the step
	}{
		{"first registration", func() error { return s.RegisterDevice(ctx, d) },
			[]ev{{push.DeviceBound, "", "bob", ""}}},
		{"same user again", func() error { return s.RegisterDevice(ctx, d) }, nil},
		{"no user keeps the binding", func() error { u := d; u.UserID = ""; return s.RegisterDevice(ctx, u) }, nil},
		{"another app", func() error { return s.RegisterDevice(ctx, other) }, nil},
		{"rebound", func() error { m := d; m.UserID = "mallory"; return s.RegisterDevice(ctx, m) },
			[]ev{{push.DeviceRebound, "bob", "mallory", ""}}},
		{"unbind by a user it is not bound to", func() error { return s.UnbindDevice(ctx, "a1", d.PushID, "bob") }, nil},
		{"unbound", func() error { return s.UnbindDevice(ctx, "a1", d.PushID, "mallory") },
			[]ev{{push.DeviceUnbound, "mallory", "", ""}}},
		{"bound again", func() error { return s.RegisterDevice(ctx, d) },
			[]ev{{push.DeviceBound, "", "bob", ""}}},
		{"removed", func() error { return s.DeleteDevice(ctx, "a1", d.PushID, "unregistered") },
			[]ev{{push.DeviceRemoved, "bob", "", "unregistered"}}},
	}
	var want []ev
	for _, st := range steps {
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		want = append(slices.Clone(st.want), want...)
		es, err := s.DeviceEvents(ctx, "a1", d.PushID, 50)
		if err != nil {
			t.Fatalf("%s: DeviceEvents: %v", st.name, err)
		}
		got := make([]ev, len(es))
		for i, e := range es {
			got[i] = ev{e.Kind, e.FromUser, e.ToUser, e.Reason}
			if e.At.IsZero() || e.AppID != "a1" || e.PushID != d.PushID {
				t.Errorf("%s: event %+v", st.name, e)
			}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("%s: events %+v, want %+v", st.name, got, want)
		}
	}
	if es, _ := s.DeviceEvents(ctx, "a2", other.PushID, 50); len(es) != 1 || es[0].ToUser != "zed" {
		t.Fatalf("a2's events %+v", es)
	}
}

// TestDeviceEventsTrimmed: a device keeps its newest keepDeviceEvents
// events.
func TestDeviceEventsTrimmed(t *testing.T) {
	s := pushStore(t)
	ctx := t.Context()
	d := device("a1", "tok1", "")
	for i := range keepDeviceEvents + 20 {
		d.UserID = fmt.Sprintf("u%d", i)
		if err := s.RegisterDevice(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	es, err := s.DeviceEvents(ctx, "a1", d.PushID, 1000)
	if err != nil {
		t.Fatal(err)
	}
	last := fmt.Sprintf("u%d", keepDeviceEvents+19)
	if len(es) != keepDeviceEvents || es[0].ToUser != last || es[len(es)-1].ToUser != fmt.Sprintf("u%d", 20) {
		t.Fatalf("%d events, newest %+v, oldest %+v", len(es), es[0], es[len(es)-1])
	}
}
