package xiaomi

import "github.com/heraldim/herald/internal/emulator/tray"

// TrayItem is one notification shown in the simulated phone's tray.
type TrayItem struct {
	// NotifyID is the notify_id it came with ("" when none).
	NotifyID    string
	Title       string
	Description string
	// MsgID is the message ID of the message shown.
	MsgID string
}

// Tray returns what the phone holding regID shows, oldest first, as MiPush
// does: each notification message (pass_through 0) is shown, and one with
// the notify_id of a shown notification replaces it. Without notify_id
// messages share one slot (Xiaomi: "by default the notification bar shows
// only one push message; set different notify_id values to show several,
// the same notify_id overwrites"). Pass-through messages go to the app and
// show nothing.
func (e *Emulator) Tray(regID string) []TrayItem {
	var shown []TrayItem
	for _, d := range e.Deliveries(regID) {
		if d.PassThrough {
			continue
		}
		shown = tray.Show(shown, TrayItem{NotifyID: d.NotifyID, Title: d.Title, Description: d.Description, MsgID: d.MsgID},
			func(old TrayItem) bool { return old.NotifyID == d.NotifyID })
	}
	return shown
}
