package fcm

import "github.com/heraldim/herald/internal/emulator/tray"

// TrayItem is one notification shown in the simulated phone's tray.
type TrayItem struct {
	// Tag is android.notification.tag ("" when none).
	Tag   string
	Title string
	Body  string
	// Name is the message name of the message shown.
	Name string
}

// Tray returns what the phone holding token shows, oldest first, as
// Android with Google Play services does for an app in the background:
// each delivered message with a notification block is shown; one whose
// android.notification.tag equals a shown notification's replaces it
// (FCM: "if not specified, each request creates a new notification"). Data
// messages are handed to the app and show nothing (whatever the app then
// draws is its own).
func (e *Emulator) Tray(token string) []TrayItem {
	var shown []TrayItem
	for _, d := range e.Deliveries(token) {
		if d.Dropped || d.Delivered.IsZero() {
			continue
		}
		item, ok := trayItem(d)
		if !ok {
			continue
		}
		shown = tray.Show(shown, item, func(old TrayItem) bool {
			return item.Tag != "" && old.Tag == item.Tag
		})
	}
	return shown
}

// trayItem is what d shows: android.notification's title and body over
// the cross-platform notification's; false for a data message.
func trayItem(d Delivery) (TrayItem, bool) {
	m := d.Message
	var an *AndroidNotification
	if m.Android != nil {
		an = m.Android.Notification
	}
	if m.Notification == nil && an == nil {
		return TrayItem{}, false
	}
	item := TrayItem{Name: d.Name}
	if m.Notification != nil {
		item.Title, item.Body = m.Notification.Title, m.Notification.Body
	}
	if an != nil {
		item.Tag = an.Tag
		if an.Title != "" {
			item.Title = an.Title
		}
		if an.Body != "" {
			item.Body = an.Body
		}
	}
	return item, true
}
