package vivo

import "github.com/heraldim/herald/internal/emulator/tray"

// TrayItem is one notification shown in the simulated phone's tray.
type TrayItem struct {
	// NotifyID is the notifyId it came with (0 when none).
	NotifyID int
	Title    string
	Content  string
	// TaskID is the taskId of the push shown.
	TaskID string
}

// Tray returns what the phone holding regID shows, oldest first: each
// push is shown (vivo carries notifications only), and one with the
// notifyId of a shown notification replaces it; without notifyId each one
// is new. (notifyId's semantics are UNCONFIRMED from vivo's documents:
// those of the other vendors' notification IDs.)
func (e *Emulator) Tray(regID string) []TrayItem {
	var shown []TrayItem
	for _, d := range e.Deliveries(regID) {
		m := d.Message
		shown = tray.Show(shown, TrayItem{NotifyID: m.NotifyID, Title: m.Title, Content: m.Content, TaskID: d.TaskID},
			func(old TrayItem) bool { return m.NotifyID != 0 && old.NotifyID == m.NotifyID })
	}
	return shown
}
