package apns

import (
	"testing"
	"time"
)

// TestTray: alerts show, the same apns-collapse-id replaces, VoIP and
// background pushes show nothing.
func TestTray(t *testing.T) {
	e := &Emulator{delivered: map[string]*deliveries{}, changed: make(chan struct{}), cfg: Config{MaxRecords: 100}}
	alert := func(title, collapse string) Delivery {
		return Delivery{Token: "ab", PushType: "alert", CollapseID: collapse,
			Payload: map[string]any{"aps": map[string]any{"alert": map[string]any{"title": title, "body": "b"}}}}
	}
	for _, d := range []Delivery{
		alert("one", "call-1"),
		alert("two", ""),
		{Token: "ab", PushType: "voip", CollapseID: "call-1", Payload: map[string]any{"aps": map[string]any{}}},
		{Token: "ab", PushType: "background", Payload: map[string]any{"aps": map[string]any{"content-available": 1}}},
		alert("three", "call-1"),
	} {
		e.record(d)
	}
	tray := e.Tray("AB")
	if len(tray) != 2 || tray[0].Title != "two" || tray[1].Title != "three" || tray[1].CollapseID != "call-1" {
		t.Fatalf("tray %+v", tray)
	}
}

// TestHoldAnswer: the held push is delivered at once and its answer waits
// for the release.
func TestHoldAnswer(t *testing.T) {
	f := start(t, Config{})
	tok := f.emu.RegisterDevice(bundleID, Development, false)
	accepted, release := f.emu.HoldAnswer(tok)
	req := f.alert(t, Development, tok)
	done := make(chan int, 1)
	go func() { done <- f.do(t, nil, req).status }()
	select {
	case <-accepted:
	case <-time.After(5 * time.Second):
		t.Fatal("push not accepted")
	}
	if n := len(f.emu.Deliveries(tok)); n != 1 {
		t.Fatalf("%d deliveries while held", n)
	}
	select {
	case st := <-done:
		t.Fatalf("answered %d while held", st)
	case <-time.After(50 * time.Millisecond):
	}
	release()
	if st := <-done; st != 200 {
		t.Fatalf("status %d", st)
	}
	// Spent: the next push is answered at once.
	if st := f.do(t, nil, f.alert(t, Development, tok)).status; st != 200 {
		t.Fatalf("status %d", st)
	}
}
