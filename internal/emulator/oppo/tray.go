package oppo

import "github.com/heraldim/herald/internal/emulator/tray"

// TrayItem is one notification shown in the simulated phone's tray.
type TrayItem struct {
	// NotifyID is the notify_id it came with (0 when none).
	NotifyID int
	Title    string
	Content  string
	// MessageID is the messageId of the message shown.
	MessageID string
}

// Tray returns what the phone holding regID shows, oldest first: each
// notification is shown, and one with the notify_id of a shown
// notification replaces it (OPPO: "same id overwrites"); without notify_id
// each one is new.
func (e *Emulator) Tray(regID string) []TrayItem {
	var shown []TrayItem
	for _, d := range e.Deliveries(regID) {
		n := d.Notification
		shown = tray.Show(shown, TrayItem{NotifyID: n.NotifyID, Title: n.Title, Content: n.Content, MessageID: d.MessageID},
			func(old TrayItem) bool { return n.NotifyID != 0 && old.NotifyID == n.NotifyID })
	}
	return shown
}
