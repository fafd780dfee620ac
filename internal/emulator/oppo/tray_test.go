package oppo

import (
	"testing"

	"github.com/heraldim/herald/internal/emulator/inbox"
)

// TestTray: the same notify_id replaces; without one each is new.
func TestTray(t *testing.T) {
	e := &Emulator{}
	e.log = inbox.NewLog[Delivery](&e.mu, nil, ErrClosed)
	for _, n := range []Notification{{Title: "one", NotifyID: 7}, {Title: "two"}, {Title: "three"}, {Title: "four", NotifyID: 7}} {
		e.log.Record("r", Delivery{RegID: "r", Notification: n})
	}
	tray := e.Tray("r")
	if len(tray) != 3 || tray[0].Title != "two" || tray[1].Title != "three" || tray[2].Title != "four" {
		t.Fatalf("tray %+v", tray)
	}
}
