package apns

import (
	"bytes"
	"context"
	"net/http"
	"testing"
	"time"
)

// TestHoldRelease: held requests wait for Release; one whose client gave up
// while held is still delivered (APNs had it in full), and one answered
// after Release is a normal 200.
func TestHoldRelease(t *testing.T) {
	f := start(t, Config{})
	tok := f.emu.RegisterDevice(bundleID, Production, false)
	f.emu.Hold()
	ctx, cancel := context.WithCancel(context.Background())
	abandoned := make(chan error, 1)
	go func() {
		r := f.alert(t, Production, tok)
		req, _ := http.NewRequestWithContext(ctx, r.method, f.emu.URL(r.env)+r.path, bytes.NewReader(r.body))
		req.Header = r.header
		resp, err := f.client.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		abandoned <- err
	}()
	answered := make(chan rawResp, 1)
	go func() { answered <- f.do(t, nil, f.alert(t, Production, tok)) }()
	wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer wcancel()
	if err := f.emu.WaitHeld(wctx, 2); err != nil {
		t.Fatalf("requests not held: %v", err)
	}
	if n := len(f.emu.Deliveries(tok)); n != 0 {
		t.Fatalf("%d delivered while held", n)
	}
	cancel()
	if err := <-abandoned; err == nil {
		t.Fatal("the abandoned request was answered")
	}
	f.emu.Release()
	if got := <-answered; got.status != 200 {
		t.Fatalf("after Release: %d %s", got.status, got.reason)
	}
	if _, err := f.emu.WaitDeliveries(wctx, tok, 2); err != nil {
		t.Fatalf("the abandoned request was not delivered on Release: %v (%d delivered)", err, len(f.emu.Deliveries(tok)))
	}
	if f.emu.Held() != 0 {
		t.Fatalf("still held: %d", f.emu.Held())
	}
}
