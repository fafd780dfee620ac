package fcm

import (
	"testing"
	"time"

	"github.com/heraldim/herald/internal/emulator/inbox"
)

// TestTray: the same notification tag replaces; without one each is new;
// data messages and messages not delivered show nothing.
func TestTray(t *testing.T) {
	e := &Emulator{}
	e.log = inbox.NewLog[Delivery](&e.mu, nil, ErrClosed)
	now := time.Now()
	note := func(title, tag string) Message {
		return Message{Notification: &Notification{Title: title}, Android: &AndroidConfig{Notification: &AndroidNotification{Tag: tag}}}
	}
	for _, d := range []Delivery{
		{Message: note("one", "call-1"), Delivered: now},
		{Message: note("two", ""), Delivered: now},
		{Message: Message{Data: map[string]string{"k": "v"}}, Delivered: now},
		{Message: note("held", "call-1"), Dropped: true},
		{Message: note("three", "call-1"), Delivered: now},
	} {
		e.log.Record("tok", d)
	}
	tray := e.Tray("tok")
	if len(tray) != 2 || tray[0].Title != "two" || tray[1].Title != "three" || tray[1].Tag != "call-1" {
		t.Fatalf("tray %+v", tray)
	}
}
