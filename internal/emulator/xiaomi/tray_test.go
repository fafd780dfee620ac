package xiaomi

import (
	"testing"

	"github.com/heraldim/herald/internal/emulator/inbox"
)

// TestTray: the same notify_id replaces; without one messages share a
// slot; pass-through shows nothing.
func TestTray(t *testing.T) {
	e := &Emulator{}
	e.log = inbox.NewLog[Delivery](&e.mu, nil, ErrClosed)
	for _, d := range []Delivery{
		{RegID: "r", Title: "one", NotifyID: "7"},
		{RegID: "r", Title: "two"},
		{RegID: "r", Title: "data", PassThrough: true},
		{RegID: "r", Title: "three"},
		{RegID: "r", Title: "four", NotifyID: "7"},
	} {
		e.log.Record(d.RegID, d)
	}
	tray := e.Tray("r")
	if len(tray) != 2 || tray[0].Title != "three" || tray[1].Title != "four" {
		t.Fatalf("tray %+v", tray)
	}
}
