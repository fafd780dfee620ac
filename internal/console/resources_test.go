package console_test

import (
	"testing"

	"github.com/chromedp/chromedp/kb"

	"github.com/heraldim/herald/internal/console/consoletest"
	"github.com/heraldim/herald/internal/protocol"
)

type resourceReply struct {
	ID   string `json:"id"`
	APNs *struct {
		Sound    string `json:"sound"`
		PushType string `json:"pushType"`
	} `json:"apns"`
	FCM *struct {
		ChannelID string `json:"channelID"`
		Priority  string `json:"priority"`
	} `json:"fcm"`
	Xiaomi *struct {
		Kind string `json:"kind"`
	} `json:"xiaomi"`
	Badge bool `json:"badge"`
}

// setSelect picks value in the select named name, as a user does (a
// change event).
func setSelect(c *consoletest.Console, name, value string) {
	c.T.Helper()
	c.Eval(`(() => { const e = document.querySelector('select[name=` + consoletest.JS(name) + `]'); e.value = ` + consoletest.JS(value) +
		`; e.dispatchEvent(new Event("change", {bubbles: true})); })()`)
}

// editorFocused waits for an editor's heading (id) to hold the focus, as
// it does once the editor is shown: typing before would race it.
func editorFocused(c *consoletest.Console, id string) {
	c.T.Helper()
	c.WaitJS(`document.activeElement && document.activeElement.id === `+consoletest.JS(id), "the focus on the editor's heading "+id, "")
}

// Resources through the page: create one with APNs and FCM options, edit
// it, see the server's 40015 next to the form for options it refuses
// (nothing saved), and delete it after a confirmation.
func TestResourcesCreateEditValidateDelete(t *testing.T) {
	c := consoletest.Start(t, nil)
	c.SignIn(c.Server.App.AppID, c.Server.App.AdminKey)
	c.Go("resources", "Resources")
	c.WaitText("table", "No resource yet.")

	c.Click(`[data-action="new-resource"]`)
	c.WaitText("#res-editor", "New resource")
	editorFocused(c, "res-editor")
	c.Type(`input[name="id"]`, "call")
	c.Click(`input[name="use-apns"]`)
	c.Type(`input[name="apns.sound"]`, "ring.caf")
	setSelect(c, "apns.pushType", "voip")
	c.Click(`input[name="use-fcm"]`)
	c.Type(`input[name="fcm.channelID"]`, "calls")
	setSelect(c, "fcm.priority", "high")
	c.Click(`form button[type="submit"]`)
	c.WaitText("table", "Resources (1)")
	c.WaitText("table", "sound ring.caf")
	c.WaitText("[data-testid=live]", "Resource call saved")
	var r resourceReply
	if st := adminGet(t, c, "/push/resources/call", &r); st != 200 || r.APNs == nil || r.APNs.Sound != "ring.caf" || r.APNs.PushType != "voip" ||
		r.FCM == nil || r.FCM.ChannelID != "calls" || r.FCM.Priority != "high" {
		t.Fatalf("stored resource %d %+v", st, r)
	}
	c.Screenshot("resources")

	// A channel the server refuses: the hint warns, the server's 40015 is
	// shown in the form and focused, and the stored resource is unchanged.
	c.Click(`[data-action="edit-call"]`)
	c.WaitText("#res-editor", "Edit resource call")
	editorFocused(c, "res-editor")
	c.WaitJS(`document.querySelector('input[name="fcm.channelID"]').value === "calls"`, "the stored channel in the form", "")
	c.Type(`input[name="fcm.channelID"]`, " bad!")
	c.WaitText(`fieldset[data-vendor="fcm"]`, "Only A-Z a-z 0-9 _ - . are allowed.")
	c.Click(`form button[type="submit"]`)
	c.WaitText(`[data-testid="resource-error"] .error-box`, code(protocol.CodeInvalidResource))
	c.WaitText(`[data-testid="resource-error"] .error-box`, "fcm.channelID")
	c.WaitText(`fieldset[data-vendor="fcm"] [data-testid="server-error"]`, "40015")
	c.WaitJS(`document.activeElement && document.activeElement.dataset.testid === "resource-error"`, "the focus on the error", "")
	if st := adminGet(t, c, "/push/resources/call", &r); st != 200 || r.FCM == nil || r.FCM.ChannelID != "calls" {
		t.Fatalf("a refused edit changed the resource: %d %+v", st, r)
	}
	c.Screenshot("resources-invalid")

	// Xiaomi has no pass-through: data is refused too; then a valid edit.
	c.Eval(`(() => { const e = document.querySelector('input[name="fcm.channelID"]'); e.value = "calls2"; e.dispatchEvent(new Event("input", {bubbles: true})); })()`)
	c.Click(`input[name="use-xiaomi"]`)
	setSelect(c, "xiaomi.kind", "data")
	c.WaitText(`fieldset[data-vendor="xiaomi"]`, "no pass-through")
	c.Click(`form button[type="submit"]`)
	c.WaitText(`[data-testid="resource-error"] .error-box`, "xiaomi.kind")
	c.WaitText(`fieldset[data-vendor="xiaomi"] [data-testid="server-error"]`, "xiaomi.kind")
	if n := c.Count(`fieldset[data-vendor="fcm"] [data-testid="server-error"]`); n != 0 {
		t.Fatalf("the FCM fieldset still shows the earlier refusal")
	}
	setSelect(c, "xiaomi.kind", "notification")
	c.Click(`form button[type="submit"]`)
	c.WaitJS(`!document.querySelector("#res-editor")`, "the editor closed", "")
	c.WaitText("table", "Xiaomi: kind notification")
	if st := adminGet(t, c, "/push/resources/call", &r); st != 200 || r.FCM == nil || r.FCM.ChannelID != "calls2" || r.Xiaomi == nil || r.Xiaomi.Kind != "notification" {
		t.Fatalf("edited resource %d %+v", st, r)
	}

	// A second one (saved from the keyboard), then delete the first after the confirmation.
	c.Click(`[data-action="new-resource"]`)
	editorFocused(c, "res-editor")
	c.Click(`input[name="badge"]`)
	// From the keyboard: Enter in the ID field saves.
	c.Type(`input[name="id"]`, "msg")
	c.Key(kb.Enter)
	c.WaitText("table", "Resources (2)")
	c.Narrow(true)
	c.WaitJS(`document.documentElement.scrollWidth <= 360`, "no sideways scrolling of the page at 360 px", "")
	c.Screenshot("resources-narrow")
	c.Narrow(false)

	c.Click(`[data-action="delete-call"]`)
	c.WaitText(`[role="alertdialog"]`, "Delete resource call?")
	c.WaitJS(`document.activeElement && document.activeElement.getAttribute("role") === "alertdialog"`, "the focus on the confirmation", "")
	c.Click(`[data-testid="confirm-delete"]`)
	c.WaitText("table", "Resources (1)")
	c.WaitText("[data-testid=live]", "Resource call deleted")
	if st := adminGet(t, c, "/push/resources/call", nil); st != 404 {
		t.Fatalf("deleted resource: GET %d, want 404", st)
	}
	if st := adminGet(t, c, "/push/resources/msg", &r); st != 200 || !r.Badge {
		t.Fatalf("the other resource: %d %+v", st, r)
	}
}
