package testkit

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/heraldim/herald/internal/config"
	"github.com/heraldim/herald/internal/emulator/local"
)

// StartEmulated starts a server as herald serve --emulate does: every
// vendor's emulator in process (local.Start), the dev app's pushes going
// through them, installed before the server runs. The emulators stop
// after the server (its push workers stop before the vendors they talk
// to). Their phones API is at the returned Emulators' Manifest.Phones.URL
// (NewPhone).
func StartEmulated(t testing.TB, mod func(*config.Config)) (*Server, *local.Emulators) {
	t.Helper()
	var emus *local.Emulators
	s := StartBefore(t, mod, func(s *Server) {
		e, err := local.Start(local.Config{Dir: filepath.Join(s.DataDir, "emulators")})
		if err != nil {
			t.Fatalf("start the emulators: %v", err)
		}
		// Registered before the server's own cleanup, so run after it.
		t.Cleanup(e.Close)
		provs, err := e.Manifest.Providers()
		if err != nil {
			t.Fatalf("the emulators' providers: %v", err)
		}
		t.Cleanup(provs.Close)
		provs.Install(s.Srv.Providers, s.App.AppID)
		emus = e
	})
	return s, emus
}

// Phone is an emulated phone of the phones API (docs/emulated-phone.md),
// driven over HTTP as a program not written in Go drives it.
type Phone struct {
	local.PhoneInfo
	t    testing.TB
	base string // the phone's URL
	next int    // the events read so far
	seen []local.Event
}

// NewPhone makes a phone of vendor in app state state on the phones API
// at url (Manifest.Phones.URL).
func NewPhone(t testing.TB, url, vendor, state string) *Phone {
	t.Helper()
	var info local.PhoneInfo
	phoneCall(t, http.MethodPost, url+"/phones", map[string]any{"vendor": vendor, "state": state}, http.StatusCreated, &info)
	p := &Phone{PhoneInfo: info, t: t, base: url + "/phones/" + info.PhoneID}
	t.Cleanup(func() { _ = phoneDo(http.MethodDelete, p.base, nil, http.StatusNoContent, nil) })
	return p
}

// WaitEvent returns the phone's first event named name (of any push when
// seq is 0, else of push seq), waiting up to timeout for it to come.
func (p *Phone) WaitEvent(name string, seq int, timeout time.Duration) local.Event {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		for _, e := range p.seen {
			if e.Event == name && (seq == 0 || e.Seq == seq) {
				return e
			}
		}
		left := time.Until(deadline)
		if left <= 0 {
			p.t.Fatalf("phone %s (%s): no %s event (seq %d) within %s; events %+v", p.PhoneID, p.Vendor, name, seq, timeout, p.seen)
		}
		var page struct {
			Deliveries []local.Event `json:"deliveries"`
			Next       int           `json:"next"`
		}
		wait := min(left, 5*time.Second).Round(time.Second)
		phoneCall(p.t, http.MethodGet, fmt.Sprintf("%s/events?after=%d&wait=%s", p.base, p.next, max(wait, time.Second)), nil, http.StatusOK, &page)
		p.seen = append(p.seen, page.Deliveries...)
		p.next = page.Next
	}
}

// Click taps the notification of push seq; it returns the
// notificationClicked event.
func (p *Phone) Click(seq int) local.Event {
	p.t.Helper()
	var e local.Event
	phoneCall(p.t, http.MethodPost, p.base+"/click", map[string]any{"seq": seq}, http.StatusOK, &e)
	return e
}

func phoneCall(t testing.TB, method, url string, body any, want int, out any) {
	t.Helper()
	if err := phoneDo(method, url, body, want, out); err != nil {
		t.Fatal(err)
	}
}

func phoneDo(method, url string, body any, want int, out any) error {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		r = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, r)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("phones API %s %s: %w", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		return fmt.Errorf("phones API %s %s: %d %s, want %d", method, url, resp.StatusCode, b, want)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("phones API %s %s: %w", method, url, err)
		}
	}
	return nil
}
