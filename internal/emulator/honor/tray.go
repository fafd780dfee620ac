package honor

import "github.com/heraldim/herald/internal/emulator/tray"

// TrayItem is one notification shown in the simulated phone's tray.
type TrayItem struct {
	// NotifyID is android.notification.notifyId (nil when absent or -1:
	// the phone picks a fresh one); Tag android.notification.tag.
	NotifyID *int
	Tag      string
	Title    string
	Body     string
	// RequestID is the data.requestId of the message shown.
	RequestID string
}

// Tray returns what the phone holding token shows, oldest first: each
// notification message is shown; one with the notifyId of a shown
// notification overwrites it (Honor: "不同的通知栏消息可以拥有相同的
// notifyId，实现新的消息覆盖上一条消息"), and so does one with a shown
// notification's tag ("同一应用下使用同一个消息标签的消息会相互覆盖").
// Pass-through messages are handed to the app and show nothing.
func (e *Emulator) Tray(token string) []TrayItem {
	var shown []TrayItem
	for _, d := range e.Deliveries(token) {
		if d.Pass() {
			continue
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
		shown = tray.Show(shown, item, func(old TrayItem) bool {
			sameID := item.NotifyID != nil && old.NotifyID != nil && *item.NotifyID == *old.NotifyID
			return sameID || item.Tag != "" && item.Tag == old.Tag
		})
	}
	return shown
}

// Badge returns the number the app icon of the phone holding token shows,
// and whether any notification set one: each notification message's
// android.notification.badge, in order, sets it to setNum or raises it
// by addNum (setNum wins when both are given, as in Push Kit, whose
// server Honor's was built from: "If both add_num and set_num are set,
// set_num will take the precedence", developer.huawei.com HMSCore-Guides
// "Badges"; UNCONFIRMED for Honor).
func (e *Emulator) Badge(token string) (int, bool) {
	n, set := 0, false
	for _, d := range e.Deliveries(token) {
		a := d.Message.Android
		if a == nil || a.Notification == nil || a.Notification.Badge == nil {
			continue
		}
		switch b := a.Notification.Badge; {
		case b.SetNum != nil:
			n, set = *b.SetNum, true
		case b.AddNum != nil:
			n, set = n+*b.AddNum, true
		}
	}
	return n, set
}
