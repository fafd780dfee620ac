package console_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/heraldim/herald/internal/console/consoletest"
	harmonyemu "github.com/heraldim/herald/internal/emulator/harmony"
	"github.com/heraldim/herald/internal/protocol"
	"github.com/heraldim/herald/internal/push"
	"github.com/heraldim/herald/internal/push/webpush"
)

// vendorsSet is the credentials table's caption with n credentials
// stored: of every vendor the server has.
func vendorsSet(n int) string { return fmt.Sprintf("%d of %d vendors set", n, len(push.Vendors)) }

// The console's one list of vendors (web/src/vendors.ts) is the server's
// push.Vendors, in its order: a vendor added to the server and not to the
// console fails here.
func TestVendorsArePushVendors(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(webDir, "src", "vendors.ts"))
	if err != nil {
		t.Fatal(err)
	}
	var got []push.Vendor
	for _, m := range regexp.MustCompile(`\{ id: "([a-z]+)", name: "[^"]+" \}`).FindAllSubmatch(src, -1) {
		got = append(got, push.Vendor(m[1]))
	}
	if !slices.Equal(got, push.Vendors) {
		t.Fatalf("web/src/vendors.ts lists %v, push.Vendors is %v", got, push.Vendors)
	}
}

// credViews is GET /push/credentials with the fields these tests read.
type credViews struct {
	Credentials []struct {
		Vendor       string `json:"vendor"`
		ProjectID    string `json:"projectID"`
		PrivateKeyID string `json:"privateKeyID"`
		Category     string `json:"category"`
		ClientID     string `json:"clientID"`
		PublicKey    string `json:"publicKey"`
		Subject      string `json:"subject"`
	} `json:"credentials"`
}

// recordPUTs makes the page keep the body of every PUT it sends, in
// window.puts.
func recordPUTs(c *consoletest.Console) {
	c.Eval(`(() => { window.puts = []; const f = window.fetch;
		window.fetch = (u, o) => { if (o && o.method === "PUT") window.puts.push(JSON.parse(o.body)); return f(u, o); }; })()`)
}

// lastPUT is the body of the page's last PUT.
func lastPUT(t *testing.T, c *consoletest.Console) map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(c.Ctx, consoletest.Timeout)
	defer cancel()
	b, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]any](`window.puts[window.puts.length - 1]`))
	if err != nil {
		t.Fatalf("the page's last PUT: %v", err)
	}
	return b
}

// The two vendors' forms store what the admin API takes: a HarmonyOS NEXT
// credential from its service account key file, with a category and the
// call entitlement, checked ok by the harmony emulator, then replaced
// from a credential file (its key file an object) and checked; a Web Push
// credential with a subject only, whose generated public key the row
// shows; one with a public key but no private key refused with 40013,
// nothing changed; an uploaded key pair stored and shown, and kept when
// replaced without a key.
func TestCredentialsHarmonyAndWebPush(t *testing.T) {
	c := consoletest.Start(t, nil)
	em, err := harmonyemu.New(harmonyemu.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := em.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = em.Shutdown(context.Background()) })
	const project = "101653523863785276"
	sa, err := em.NewServiceAccount(project)
	if err != nil {
		t.Fatal(err)
	}
	var saIDs struct {
		KeyID string `json:"key_id"`
	}
	if err := json.Unmarshal(sa, &saIDs); err != nil {
		t.Fatal(err)
	}
	saFile := writeFile(t, "harmony-service-account.json", sa)
	caFile := writeFile(t, "harmony-ca.pem", em.CACertPEM())

	c.SignIn(c.Server.App.AppID, c.Server.App.AdminKey)
	c.Go("credentials", "Push credentials")
	c.WaitText("table", vendorsSet(0))
	recordPUTs(c)

	// HarmonyOS NEXT: the key file, category WORK, the call entitlement,
	// the emulator's endpoint and CA.
	c.Click(`[data-action="edit-harmony"]`)
	c.WaitText("#cred-editor", "Add the HarmonyOS NEXT Push Kit credential")
	editorFocused(c, "cred-editor")
	c.Run(chromedp.SetUploadFiles(chromedp.CSS(`input[name="serviceAccountJSON"]`), []string{saFile}))
	c.WaitText(`form[data-vendor="harmony"]`, "Loaded harmony-service-account.json")
	c.Type(`form[data-vendor="harmony"] input[name="category"]`, "WORK")
	c.Type(`form[data-vendor="harmony"] input[name="clientID"]`, "112233")
	c.Click(`form[data-vendor="harmony"] input[name="callRight"]`)
	c.Click(`details.advanced > summary`)
	c.Type(`input[name="baseURL"]`, em.URL())
	c.Run(chromedp.SetUploadFiles(chromedp.CSS(`input[name="caPEM"]`), []string{caFile}))
	c.WaitText(`form[data-vendor="harmony"]`, "Loaded harmony-ca.pem")
	c.Click(`form[data-vendor="harmony"] button[type="submit"]`)
	c.WaitText("table", vendorsSet(1))
	c.WaitText("[data-testid=live]", "HarmonyOS NEXT Push Kit credential saved")
	c.WaitText("table", project)
	c.WaitText("table", saIDs.KeyID)
	c.WaitText("table", "WORK")
	sent := lastPUT(t, c)
	if sent["callRight"] != true || sent["category"] != "WORK" || sent["clientID"] != "112233" || sent["baseURL"] != em.URL() || sent["serviceAccountJSON"] != string(sa) {
		t.Fatalf("the harmony form sent %v, want the key file, category WORK, client ID 112233, callRight and the emulator's URL", sent)
	}
	var list credViews
	if st := adminGet(t, c, "/push/credentials", &list); st != 200 || len(list.Credentials) != 1 ||
		list.Credentials[0].Vendor != "harmony" || list.Credentials[0].ProjectID != project || list.Credentials[0].Category != "WORK" || list.Credentials[0].ClientID != "112233" {
		t.Fatalf("stored credentials %d %+v, want harmony of %s, category WORK, client ID 112233", st, list, project)
	}
	c.Click(`[data-action="check-harmony"]`)
	c.WaitText(`[data-testid="check-result"]`, "HarmonyOS NEXT Push Kit accepted the credential")
	c.WaitJS(`!document.body.textContent.includes("PRIVATE KEY")`, "the private key not shown", "")

	// Replaced from a credential file as herald serve --emulate writes
	// one (the key file as an object, the endpoint and CA beside it).
	sa2, err := em.NewServiceAccount(project)
	if err != nil {
		t.Fatal(err)
	}
	var sa2IDs struct {
		KeyID string `json:"key_id"`
	}
	if err := json.Unmarshal(sa2, &sa2IDs); err != nil {
		t.Fatal(err)
	}
	doc, _ := json.Marshal(map[string]any{"serviceAccountJSON": json.RawMessage(sa2), "baseURL": em.URL(),
		"caPEM": string(em.CACertPEM()), "category": "IM"})
	credFile := writeFile(t, "harmony-credential.json", doc)
	c.Click(`[data-action="edit-harmony"]`)
	c.WaitText("#cred-editor", "Replace the HarmonyOS NEXT Push Kit credential")
	editorFocused(c, "cred-editor")
	c.Run(chromedp.SetUploadFiles(chromedp.CSS(`input[name="credentialFile"]`), []string{credFile}))
	c.WaitText(`form[data-vendor="harmony"]`, "Loaded harmony-credential.json (service account)")
	c.WaitText(`form[data-vendor="harmony"]`, "Loaded harmony-credential.json (CA)")
	c.Click(`form[data-vendor="harmony"] button[type="submit"]`)
	c.WaitJS(`!document.querySelector("#cred-editor")`, "the editor closed", "")
	c.WaitText("table", sa2IDs.KeyID)
	c.Click(`[data-action="check-harmony"]`)
	c.WaitText(`[data-testid="check-result"]`, "HarmonyOS NEXT Push Kit accepted the credential")

	// Web Push: a public key without its private key is refused.
	c.Click(`[data-action="edit-webpush"]`)
	c.WaitText("#cred-editor", "Add the Web Push (browsers) credential")
	editorFocused(c, "cred-editor")
	c.WaitText(`form[data-vendor="webpush"]`, "the server generates the key pair")
	if n := c.Count(`form[data-vendor="webpush"] input[name="baseURL"]`); n != 0 {
		t.Fatal("the Web Push form offers a base URL, which its credential has not")
	}
	_, otherPub, err := webpush.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	c.Type(`form[data-vendor="webpush"] input[name="subject"]`, "mailto:ops@example.com")
	c.Type(`form[data-vendor="webpush"] input[name="publicKey"]`, otherPub)
	c.Click(`form[data-vendor="webpush"] button[type="submit"]`)
	c.WaitText(`form[data-vendor="webpush"] .error-box`, code(protocol.CodeInvalidCredential))
	c.WaitText(`form[data-vendor="webpush"] .error-box`, "publicKey without its privateKey")
	if st := adminGet(t, c, "/push/credentials", &list); st != 200 || len(list.Credentials) != 1 {
		t.Fatalf("after a refused Web Push credential: %d %+v, want harmony's alone", st, list)
	}

	// The subject alone: the server makes the key pair, the row shows its
	// public key.
	c.Eval(`(() => { const e = document.querySelector('input[name="publicKey"]'); e.value = ""; e.dispatchEvent(new Event("input", {bubbles: true})); })()`)
	c.Click(`form[data-vendor="webpush"] button[type="submit"]`)
	c.WaitText("table", vendorsSet(2))
	c.WaitText("table", "mailto:ops@example.com")
	generated := c.Text(`[data-testid="webpush-public-key"]`)
	if pt, err := base64.RawURLEncoding.DecodeString(generated); err != nil || len(pt) != 65 || pt[0] != 4 {
		t.Fatalf("the shown public key %q is not an uncompressed P-256 point (%v)", generated, err)
	}
	if webPushKey(t, c) != generated {
		t.Fatalf("the page shows public key %q, the API %q", generated, webPushKey(t, c))
	}

	// An uploaded key pair replaces it; its private key is never shown.
	priv, pub, err := webpush.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	c.Click(`[data-action="edit-webpush"]`)
	c.WaitText("#cred-editor", "Replace the Web Push (browsers) credential")
	editorFocused(c, "cred-editor")
	c.WaitText(`form[data-vendor="webpush"]`, "the stored key pair is kept")
	c.WaitJS(`document.querySelector('input[name="subject"]').value === "mailto:ops@example.com"`, "the stored subject in the form", "")
	c.Type(`form[data-vendor="webpush"] input[name="privateKey"]`, priv)
	c.Type(`form[data-vendor="webpush"] input[name="publicKey"]`, pub)
	c.Click(`form[data-vendor="webpush"] button[type="submit"]`)
	c.WaitJS(`!document.querySelector("#cred-editor")`, "the editor closed", "")
	c.WaitText(`[data-testid="webpush-public-key"]`, pub)
	if got := webPushKey(t, c); got != pub {
		t.Fatalf("stored public key %q, want the uploaded %q", got, pub)
	}
	c.WaitJS(`!document.body.textContent.includes(`+consoletest.JS(priv)+`)`, "the private key not shown", "")
	c.Screenshot("credentials-harmony-webpush")

	// Replaced without a key (a new subject): the key pair stays.
	c.Click(`[data-action="edit-webpush"]`)
	editorFocused(c, "cred-editor")
	c.Eval(`(() => { const e = document.querySelector('input[name="subject"]'); e.value = ""; e.dispatchEvent(new Event("input", {bubbles: true})); })()`)
	c.Type(`form[data-vendor="webpush"] input[name="subject"]`, "https://ops.example.com/push")
	c.Click(`form[data-vendor="webpush"] button[type="submit"]`)
	c.WaitText("table", "https://ops.example.com/push")
	c.WaitText(`[data-testid="webpush-public-key"]`, pub)
	if got := webPushKey(t, c); got != pub {
		t.Fatalf("after a replacement without a key the public key is %q, want the stored %q", got, pub)
	}
	c.WaitText("table", vendorsSet(2))

	c.Narrow(true)
	c.WaitJS(`document.documentElement.scrollWidth <= 360`, "no sideways scrolling of the page at 360 px", "")
	c.Narrow(false)
}

// webPushKey is the public key of the app's Web Push credential, as the
// admin API shows it.
func webPushKey(t *testing.T, c *consoletest.Console) string {
	t.Helper()
	var list credViews
	if st := adminGet(t, c, "/push/credentials", &list); st != 200 {
		t.Fatalf("GET /push/credentials: %d", st)
	}
	for _, cr := range list.Credentials {
		if cr.Vendor == "webpush" {
			return cr.PublicKey
		}
	}
	t.Fatalf("no webpush credential stored: %+v", list)
	return ""
}

// The simulated phones of the two vendors, made on the debug page against
// the emulators: each is registered with its own platform (harmonyos,
// web), and a test push to its PushID is delivered and raises the
// phone's callback with the push's text.
func TestDebugHarmonyAndWebPushPhones(t *testing.T) {
	c, _ := consoletest.StartEmulated(t, nil)
	app := c.Server.App
	c.SignIn(app.AppID, app.AdminKey)
	c.Go("debug", "Push debugging")
	c.WaitText(`#debug-phone`, "Simulated phone")
	for i, tc := range []struct{ vendor, platform string }{{"harmony", "harmonyos"}, {"webpush", "web"}} {
		c.Eval(`(() => { const s = document.querySelector('form[aria-label="Create a simulated phone"] select[name="vendor"]');
			s.value = ` + consoletest.JS(tc.vendor) + `; s.dispatchEvent(new Event("change", {bubbles: true})); })()`)
		c.Click(`form[aria-label="Create a simulated phone"] button[type="submit"]`)
		phoneID := fmt.Sprintf("phone-%d", i+1)
		c.WaitText(`[data-testid="phone-id"]`, phoneID)
		c.WaitText(`[data-testid="phone"]`, tc.vendor+", "+tc.platform)
		c.WaitJS(`!!document.querySelector('[data-testid="phone-pushid"]')`, "the phone's PushID", "")
		pushID := c.Text(`[data-testid="phone-pushid"]`)
		dev, err := c.Server.Srv.PushDevice(t.Context(), app.AppID, pushID)
		if err != nil || string(dev.Vendor) != tc.vendor || dev.Platform != tc.platform || dev.Token == "" {
			t.Fatalf("%s phone registered as %+v (%v), want vendor %s, platform %s", tc.vendor, dev, err, tc.vendor, tc.platform)
		}
		c.WaitJS(`document.querySelector('form[aria-label="Send a test push"] input[name="pushID"]').value === `+consoletest.JS(pushID),
			"the phone's PushID in the form", "")
		content := "Hello " + tc.vendor
		c.Eval(`(() => { const i = document.querySelector('form[aria-label="Send a test push"] input[name="content"]');
			i.value = ` + consoletest.JS(content) + `; i.dispatchEvent(new Event("input", {bubbles: true})); })()`)
		c.Click(`form[aria-label="Send a test push"] button[type="submit"]`)
		c.WaitText(`[data-testid="debug-answer"]`, tc.vendor+" (")
		c.WaitText(`[data-testid="debug-outcome"]`, "delivered")
		c.WaitText(`[data-testid="phone-events"] table`, content)
		c.WaitText(`[data-testid="phone-events"] table`, "notification")
	}
}
