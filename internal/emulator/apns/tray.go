package apns

import (
	"strings"

	"github.com/heraldim/herald/internal/emulator/tray"
)

// TrayItem is one notification shown in the simulated phone's notification
// centre.
type TrayItem struct {
	// CollapseID is the apns-collapse-id it came with ("" when none).
	CollapseID string
	Title      string
	Body       string
	// APNSID is the apns-id of the push shown.
	APNSID string
}

// Tray returns what the phone holding token shows, oldest first, as iOS
// does: every delivered alert push with an alert is shown; one whose
// apns-collapse-id equals a shown notification's replaces it (Apple: "the
// same collapse identifier ... replaces the earlier notification"). VoIP,
// background and other push types show nothing: a VoIP push is handed to
// the app (CallKit), not to the notification centre.
func (e *Emulator) Tray(token string) []TrayItem {
	var shown []TrayItem
	for _, d := range e.Deliveries(token) {
		if d.PushType != "alert" {
			continue
		}
		item, ok := trayItem(d)
		if !ok {
			continue
		}
		shown = tray.Show(shown, item, func(old TrayItem) bool {
			return item.CollapseID != "" && old.CollapseID == item.CollapseID
		})
	}
	return shown
}

// trayItem reads the alert of d: aps.alert as a string (the body) or a
// dictionary with title and body. A push without one shows nothing.
func trayItem(d Delivery) (TrayItem, bool) {
	item := TrayItem{CollapseID: d.CollapseID, APNSID: d.APNSID}
	switch a := d.Aps()["alert"].(type) {
	case string:
		item.Body = a
	case map[string]any:
		item.Title, _ = a["title"].(string)
		item.Body, _ = a["body"].(string)
	default:
		return TrayItem{}, false
	}
	if strings.TrimSpace(item.Title+item.Body) == "" {
		return TrayItem{}, false
	}
	return item, true
}
