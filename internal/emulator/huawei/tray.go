package huawei

import "github.com/heraldim/herald/internal/emulator/tray"

// TrayItem is one notification shown in the simulated phone's tray.
type TrayItem struct {
	// NotifyID is android.notification.notify_id (nil when absent or -1:
	// the phone picks a fresh one); Tag android.notification.tag.
	NotifyID *int
	Tag      string
	Title    string
	Body     string
	// RequestID is the requestId of the message shown.
	RequestID string
}

// Tray returns what the phone holding token shows, oldest first, as
// EMUI's notification centre does: each notification message is shown;
// one with the notify_id of a shown notification overwrites it (Huawei:
// "different notification messages can use the same notification ID, so
// that new messages can overwrite old messages"), and so does one with a
// shown notification's tag. Pass-through (data) messages are handed to
// the app and show nothing.
func (e *Emulator) Tray(token string) []TrayItem {
	var shown []TrayItem
	for _, d := range e.Deliveries(token) {
		item, ok := trayItem(d)
		if !ok {
			continue
		}
		shown = tray.Show(shown, item, func(old TrayItem) bool {
			sameID := item.NotifyID != nil && old.NotifyID != nil && *item.NotifyID == *old.NotifyID
			return sameID || item.Tag != "" && item.Tag == old.Tag
		})
	}
	return shown
}

func trayItem(d Delivery) (TrayItem, bool) {
	if d.Pass() {
		return TrayItem{}, false
	}
	item := TrayItem{RequestID: d.RequestID}
	if n := d.Message.Notification; n != nil {
		item.Title, item.Body = n.Title, n.Body
	}
	if a := d.Message.Android; a != nil && a.Notification != nil {
		an := a.Notification
		if an.Title != "" {
			item.Title = an.Title
		}
		if an.Body != "" {
			item.Body = an.Body
		}
		if an.NotifyID != nil && *an.NotifyID >= 0 {
			id := *an.NotifyID
			item.NotifyID = &id
		}
		item.Tag = an.Tag
	}
	return item, true
}
