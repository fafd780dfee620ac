package console_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/heraldim/herald/internal/console/consoletest"
	apnsemu "github.com/heraldim/herald/internal/emulator/apns"
)

// adminPost posts body to the dev app's admin API path p, failing the
// test unless it answers 200.
func adminPost(t *testing.T, c *consoletest.Console, p string, body any) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, c.Server.HTTP+"/v1/apps/"+c.Server.App.AppID+p, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+c.Server.App.AdminKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		got, _ := io.ReadAll(resp.Body)
		t.Fatalf("POST %s: %d %s", p, resp.StatusCode, got)
	}
}

// The live overview: a logged-in user's session shows (users online, the
// platform table), and a push sent through the emulated APNs shows as a
// delivered call to the vendor, with no reload of the page. Pausing
// stops the polls and says so.
func TestOverviewLive(t *testing.T) {
	c, emus := consoletest.StartEmulated(t, nil)
	app := c.Server.App
	c.SignIn(app.AppID, app.AdminKey)
	c.WaitText("main h1", "Overview")
	c.WaitJS(`document.querySelector('[data-testid="ov-users"]').textContent === "0"`, "no user online", "")
	c.WaitText(`#main table`, "No live session.")

	tok := emus.APNs.RegisterDevice("im.herald.dev", apnsemu.Development, false)
	pushID := registerPhone(t, c.Server, "carol", "apns", tok, "development", "im.herald.dev")
	c.WaitJS(`document.querySelector('[data-testid="ov-users"]').textContent === "1"`, "carol online", "")
	c.WaitText(`#main table`, "ios")

	adminPost(t, c, "/push/send", map[string]any{"pushIDs": []string{pushID}, "title": "Hi", "content": "From the overview test"})
	c.WaitText(`#ov-pushes-h + div table`, "delivered")
	c.WaitText(`#ov-pushes-h + div table`, "apns")
	c.WaitText(`#ov-pushes-h + div table`, "call to the vendor")
	c.WaitJS(`Number(document.querySelector('[data-testid="ov-pushes"]').textContent) >= 1`, "a push in the last 5 minutes", "")
	// A message sent counts in the last minute.
	alice := c.Server.LoginAs(t, "alice", "web", "browser-alice")
	alice.SyncDone(10 * time.Second)
	if _, err := alice.SendText("carol", "l1", "hello"); err != nil {
		t.Fatalf("send: %v", err)
	}
	c.WaitJS(`Number(document.querySelector('[data-testid="ov-messages"]').textContent) >= 1`, "a message in the last minute (%q)", `[data-testid="ov-messages"]`)
	c.WaitJS(`document.querySelector('[data-testid="ov-users"]').textContent === "2"`, "alice and carol online", "")
	c.WaitText(`#main table`, "web")
	c.Screenshot("overview")

	// A hidden tab pauses the polls and says so; visible again, they go on.
	c.Eval(`Object.defineProperty(document, "hidden", {value: true, configurable: true}); document.dispatchEvent(new Event("visibilitychange"))`)
	c.WaitText(`[data-testid="ov-updated"]`, "Paused while the tab is hidden.")
	c.Eval(`Object.defineProperty(document, "hidden", {value: false, configurable: true}); document.dispatchEvent(new Event("visibilitychange"))`)
	c.WaitText(`[data-testid="ov-updated"]`, "Updated")

	c.Click(`.overview-bar button`)
	c.WaitText(`[data-testid="ov-updated"]`, "Paused.")
	c.WaitJS(`document.querySelector('.overview-bar button').getAttribute("aria-pressed") === "true"`, "the pause button pressed", "")
	c.Click(`.overview-bar button`)
	c.WaitText(`[data-testid="ov-updated"]`, "Updated")

	c.Narrow(true)
	c.WaitJS(`document.documentElement.scrollWidth <= window.innerWidth`, "no sideways scroll of the page at 360 px", "")
	c.Screenshot("overview-narrow")
	c.Narrow(false)
}
