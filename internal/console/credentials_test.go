package console_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/heraldim/herald/internal/console/consoletest"
	apnsemu "github.com/heraldim/herald/internal/emulator/apns"
	fcmemu "github.com/heraldim/herald/internal/emulator/fcm"
	xiaomiemu "github.com/heraldim/herald/internal/emulator/xiaomi"
	"github.com/heraldim/herald/internal/protocol"
)

// writeFile writes a file for the page to upload and returns its path.
func writeFile(t *testing.T, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// code is how ErrorBox shows a catalogue code: "Error 40013".
func code(c protocol.Code) string { return "Error " + strconv.Itoa(int(c)) }

// adminGet calls the app's admin API and decodes its JSON reply.
func adminGet(t *testing.T, c *consoletest.Console, path string, out any) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, c.Server.HTTP+"/v1/apps/"+c.Server.App.AppID+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.Server.App.AdminKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		_ = json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode
}

type credList struct {
	Credentials []struct {
		Vendor    string `json:"vendor"`
		ProjectID string `json:"projectID"`
	} `json:"credentials"`
}

// An FCM credential through the page against the FCM emulator: a file
// that is no key file is refused with its code and nothing is stored; the
// service account uploaded (with the emulator's endpoint and CA) is
// stored and the check shows the emulator's ok; replaced by an account
// the emulator no longer knows, the check shows the refusal and the row
// says failing; deleted after a confirmation.
func TestCredentialsFCMAddCheckReplaceDelete(t *testing.T) {
	c := consoletest.Start(t, nil)
	em, err := fcmemu.New(fcmemu.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := em.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = em.Shutdown(context.Background()) })
	em.AddProject("herald-test")
	good, err := em.CreateServiceAccount("herald-test")
	if err != nil {
		t.Fatal(err)
	}
	caFile := writeFile(t, "fcm-ca.pem", em.CACertPEM())
	goodFile := writeFile(t, "service-account.json", good)
	junkFile := writeFile(t, "junk.json", []byte("this is no key file"))

	c.SignIn(c.Server.App.AppID, c.Server.App.AdminKey)
	c.Go("credentials", "Push credentials")
	c.WaitText("table", vendorsSet(0))

	// Add, with a file that is no service account: refused, nothing stored.
	c.Click(`[data-action="edit-fcm"]`)
	c.WaitText("#cred-editor", "Add the FCM (Google) credential")
	editorFocused(c, "cred-editor")
	c.Run(chromedp.SetUploadFiles(chromedp.CSS(`input[name="serviceAccountJSON"]`), []string{junkFile}))
	c.WaitText(`form[data-vendor="fcm"]`, "Loaded junk.json")
	c.Click(`form[data-vendor="fcm"] button[type="submit"]`)
	c.WaitText(`form[data-vendor="fcm"] .error-box`, code(protocol.CodeInvalidCredential))
	c.WaitJS(`document.activeElement && document.activeElement.contains(document.querySelector("form .error-box"))`, "the focus on the error", "")
	var list credList
	if st := adminGet(t, c, "/push/credentials", &list); st != 200 || len(list.Credentials) != 0 {
		t.Fatalf("after a refused credential: %d %+v, want none stored", st, list)
	}

	// The real key file, with the emulator's endpoint and CA.
	c.Run(chromedp.SetUploadFiles(chromedp.CSS(`input[name="serviceAccountJSON"]`), []string{goodFile}))
	c.WaitText(`form[data-vendor="fcm"]`, "Loaded service-account.json")
	c.Click(`details.advanced > summary`)
	c.Type(`input[name="baseURL"]`, em.URL())
	c.Run(chromedp.SetUploadFiles(chromedp.CSS(`input[name="caPEM"]`), []string{caFile}))
	c.WaitText(`form[data-vendor="fcm"]`, "Loaded fcm-ca.pem")
	c.Click(`form[data-vendor="fcm"] button[type="submit"]`)
	c.WaitText("table", vendorsSet(1))
	c.WaitText("table", "herald-test")
	c.WaitText("[data-testid=live]", "FCM (Google) credential saved")
	if n := c.Count("#cred-editor"); n != 0 {
		t.Fatalf("the editor is still open after saving")
	}
	if st := adminGet(t, c, "/push/credentials", &list); st != 200 || len(list.Credentials) != 1 || list.Credentials[0].ProjectID != "herald-test" {
		t.Fatalf("stored credentials %d %+v, want FCM of herald-test", st, list)
	}

	c.Click(`[data-action="check-fcm"]`)
	c.WaitText(`[data-testid="check-result"]`, "FCM (Google) accepted the credential")
	c.WaitJS(`document.activeElement && document.activeElement.dataset.testid === "check-result"`, "the focus on the check's result", "")
	c.WaitText("table", "ok (checked)")
	c.Screenshot("credentials")

	// Replaced by an account the emulator has since removed: stored (it
	// builds), refused by the vendor's token endpoint on the check.
	bad, err := em.CreateServiceAccount("herald-test")
	if err != nil {
		t.Fatal(err)
	}
	var ids struct {
		ClientEmail string `json:"client_email"`
	}
	if err := json.Unmarshal(bad, &ids); err != nil {
		t.Fatal(err)
	}
	em.RemoveServiceAccount(ids.ClientEmail)
	badFile := writeFile(t, "revoked.json", bad)
	c.Click(`[data-action="edit-fcm"]`)
	c.WaitText("#cred-editor", "Replace the FCM (Google) credential")
	editorFocused(c, "cred-editor")
	c.Run(chromedp.SetUploadFiles(chromedp.CSS(`input[name="serviceAccountJSON"]`), []string{badFile}))
	c.WaitText(`form[data-vendor="fcm"]`, "Loaded revoked.json")
	c.WaitJS(`document.querySelector('input[name="baseURL"]').value === `+consoletest.JS(em.URL()), "the stored base URL in the form", "")
	c.Run(chromedp.SetUploadFiles(chromedp.CSS(`input[name="caPEM"]`), []string{caFile}))
	c.WaitText(`form[data-vendor="fcm"]`, "Loaded fcm-ca.pem")
	c.Click(`form[data-vendor="fcm"] button[type="submit"]`)
	c.WaitJS(`!document.querySelector("#cred-editor")`, "the editor closed", "")
	c.WaitText("[data-testid=live]", "FCM (Google) credential saved")
	c.WaitJS(`!document.querySelector('[data-testid="check-result"]')`, "the old check's result gone", "")
	c.Click(`[data-action="check-fcm"]`)
	c.WaitText(`[data-testid="check-result"]`, "FCM (Google) refused the credential")
	c.WaitJS(`(document.querySelector('[data-testid="check-result"] .check-error')||{}).textContent.length > 0`, "the vendor's reason", "")
	c.WaitText(`[data-state="failing"]`, "failing check")
	c.Screenshot("credentials-failing")

	c.Narrow(true)
	c.WaitJS(`document.documentElement.scrollWidth <= 360`, "no sideways scrolling of the page at 360 px", "")
	c.Screenshot("credentials-narrow")
	c.Narrow(false)

	// Delete, after the confirmation.
	c.Click(`[data-action="delete-fcm"]`)
	c.WaitText(`[role="alertdialog"]`, "Delete the FCM (Google) credential?")
	c.WaitJS(`document.activeElement && document.activeElement.getAttribute("role") === "alertdialog"`, "the focus on the confirmation", "")
	if st := adminGet(t, c, "/push/credentials", &list); st != 200 || len(list.Credentials) != 1 {
		t.Fatalf("asking for the confirmation deleted the credential: %d %+v", st, list)
	}
	c.Click(`[data-testid="confirm-delete"]`)
	c.WaitText("table", vendorsSet(0))
	c.WaitText("[data-testid=live]", "FCM (Google) credential deleted")
	if st := adminGet(t, c, "/push/credentials", &list); st != 200 || len(list.Credentials) != 0 {
		t.Fatalf("after delete: %d %+v, want none", st, list)
	}
}

// Fields typed for an Android vendor: a Huawei credential without its
// client secret is refused with the API's code; with it, it is stored and
// its secret is never shown back.
func TestCredentialsHuaweiFieldsRefusedThenStored(t *testing.T) {
	c := consoletest.Start(t, nil)
	c.SignIn(c.Server.App.AppID, c.Server.App.AdminKey)
	c.Go("credentials", "Push credentials")
	c.Click(`[data-action="edit-huawei"]`)
	c.WaitText("#cred-editor", "Add the Huawei Push Kit credential")
	editorFocused(c, "cred-editor")
	c.Type(`input[name="appID"]`, "10086")
	c.Type(`input[name="badgeClass"]`, "not a class")
	c.Type(`input[name="clientSecret"]`, "hw-secret-value")
	c.Click(`form[data-vendor="huawei"] button[type="submit"]`)
	c.WaitText(`form[data-vendor="huawei"] .error-box`, code(protocol.CodeInvalidArgument))
	c.WaitText(`form[data-vendor="huawei"] .error-box`, "badgeClass")
	var list credList
	if st := adminGet(t, c, "/push/credentials", &list); st != 200 || len(list.Credentials) != 0 {
		t.Fatalf("after a refused credential: %d %+v, want none stored", st, list)
	}
	c.Eval(`(() => { const e = document.querySelector('input[name="badgeClass"]'); e.value = ""; e.dispatchEvent(new Event("input", {bubbles: true})); })()`)
	c.Type(`input[name="badgeClass"]`, "com.example.chat.MainActivity")
	c.Click(`form[data-vendor="huawei"] button[type="submit"]`)
	c.WaitText("table", vendorsSet(1))
	c.WaitText("table", "com.example.chat.MainActivity")
	c.WaitJS(`!document.body.textContent.includes("hw-secret-value")`, "the secret not shown", "")
}

// APNs through the page against the APNs emulator: token auth with the
// .p8 file (its key ID read from Apple's file name) checked ok; replaced
// by a client certificate (one PEM holding the certificate and its key),
// whose subject and expiry the row shows, checked ok; once the emulator
// revokes the certificate, the check shows the refusal.
func TestCredentialsAPNsTokenThenCertificate(t *testing.T) {
	c := consoletest.Start(t, nil)
	em, err := apnsemu.New(apnsemu.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := em.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = em.Close() })
	const team, keyID, bundle = "TEAM123456", "KEY1234567", "im.herald.test"
	em.AddApp(team, bundle)
	key, err := em.NewKey(team, keyID)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := writeFile(t, "AuthKey_"+keyID+".p8", key)
	caFile := writeFile(t, "apns-ca.pem", em.CAPEM())
	notAfter := time.Now().Add(20 * 24 * time.Hour).UTC().Truncate(time.Second)
	certPEM, certKey, err := em.IssueCertificate(apnsemu.CertificateRequest{TeamID: team, Topics: []string{bundle}, NotAfter: notAfter})
	if err != nil {
		t.Fatal(err)
	}
	bothFile := writeFile(t, "apns-cert.pem", append(append([]byte{}, certPEM...), certKey...))

	c.SignIn(c.Server.App.AppID, c.Server.App.AdminKey)
	c.Go("credentials", "Push credentials")
	c.Click(`[data-action="edit-apns"]`)
	c.WaitText("#cred-editor", "Add the APNs (Apple) credential")
	editorFocused(c, "cred-editor")
	c.Run(chromedp.SetUploadFiles(chromedp.CSS(`input[name="keyPEM"]`), []string{keyFile}))
	c.WaitJS(`document.querySelector('input[name="keyID"]').value === `+consoletest.JS(keyID), "the key ID read from the file name", "")
	c.Type(`input[name="teamID"]`, team)
	c.Type(`input[name="checkTopic"]`, bundle)
	c.Click(`details.advanced > summary`)
	c.Type(`input[name="productionURL"]`, em.URL(apnsemu.Production))
	c.Type(`input[name="developmentURL"]`, em.URL(apnsemu.Development))
	c.Run(chromedp.SetUploadFiles(chromedp.CSS(`input[name="caPEM"]`), []string{caFile}))
	c.WaitText(`form[data-vendor="apns"]`, "Loaded apns-ca.pem")
	c.Screenshot("credentials-apns-form")
	c.Click(`form[data-vendor="apns"] button[type="submit"]`)
	c.WaitJS(`!document.querySelector("#cred-editor")`, "the editor closed", "")
	c.WaitText("table", keyID)
	c.Click(`[data-action="check-apns"]`)
	c.WaitText(`[data-testid="check-result"]`, "APNs (Apple) accepted the credential")

	// Replaced by the certificate.
	c.Click(`[data-action="edit-apns"]`)
	c.WaitText("#cred-editor", "Replace the APNs (Apple) credential")
	editorFocused(c, "cred-editor")
	c.Click(`input[name="apnsAuth"][value="certificate"]`)
	c.Run(chromedp.SetUploadFiles(chromedp.CSS(`input[name="certPEM"]`), []string{bothFile}))
	c.WaitText(`form[data-vendor="apns"]`, "Loaded apns-cert.pem")
	c.Run(chromedp.SetUploadFiles(chromedp.CSS(`input[name="caPEM"]`), []string{caFile}))
	c.WaitText(`form[data-vendor="apns"]`, "Loaded apns-ca.pem")
	c.Click(`form[data-vendor="apns"] button[type="submit"]`)
	c.WaitJS(`!document.querySelector("#cred-editor")`, "the editor closed", "")
	c.WaitText("table", "certificate")
	c.WaitText("table", "expires")
	c.WaitText(`[data-state="failing"]`, "certificate expires") // within 30 days
	c.Click(`[data-action="check-apns"]`)
	c.WaitText(`[data-testid="check-result"]`, "APNs (Apple) accepted the credential")

	if err := em.RevokeCertificate(certPEM); err != nil {
		t.Fatal(err)
	}
	c.Click(`[data-action="check-apns"]`)
	c.WaitText(`[data-testid="check-result"]`, "refused")
	c.WaitText(`[data-state="failing"]`, "failing check")
}

// An Android vendor's credential from a credential file (the JSON that
// herald serve --emulate writes): the file fills the form, the credential
// is stored and the Xiaomi emulator's check says ok; a wrong secret typed
// over it is stored but refused by the check.
func TestCredentialsXiaomiFromFile(t *testing.T) {
	c := consoletest.Start(t, nil)
	em, err := xiaomiemu.New(xiaomiemu.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := em.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = em.Shutdown(context.Background()) })
	const pkg = "im.herald.test"
	if err := em.AddApp(pkg, "mi-secret", "im"); err != nil {
		t.Fatal(err)
	}
	doc, _ := json.Marshal(map[string]string{"appSecret": "mi-secret", "packageName": pkg, "channelID": "im",
		"baseURL": em.URL(), "caPEM": string(em.CACertPEM())})
	credFile := writeFile(t, "xiaomi-credential.json", doc)

	c.SignIn(c.Server.App.AppID, c.Server.App.AdminKey)
	c.Go("credentials", "Push credentials")
	c.Click(`[data-action="edit-xiaomi"]`)
	c.WaitText("#cred-editor", "Add the Xiaomi MiPush credential")
	editorFocused(c, "cred-editor")
	c.Run(chromedp.SetUploadFiles(chromedp.CSS(`input[name="credentialFile"]`), []string{credFile}))
	c.WaitJS(`document.querySelector('input[name="packageName"]').value === `+consoletest.JS(pkg), "the form filled from the file", "")
	c.WaitText(`form[data-vendor="xiaomi"]`, "Loaded xiaomi-credential.json (CA)")
	c.Click(`form[data-vendor="xiaomi"] button[type="submit"]`)
	c.WaitJS(`!document.querySelector("#cred-editor")`, "the editor closed", "")
	c.WaitText("table", pkg)
	c.Click(`[data-action="check-xiaomi"]`)
	c.WaitText(`[data-testid="check-result"]`, "Xiaomi MiPush accepted the credential")
	c.WaitJS(`!document.body.textContent.includes("mi-secret")`, "the secret not shown", "")

	c.Click(`[data-action="edit-xiaomi"]`)
	editorFocused(c, "cred-editor")
	c.Run(chromedp.SetUploadFiles(chromedp.CSS(`input[name="credentialFile"]`), []string{credFile}))
	c.WaitText(`form[data-vendor="xiaomi"]`, "Loaded xiaomi-credential.json (CA)")
	c.Type(`input[name="appSecret"]`, "-wrong")
	c.Click(`form[data-vendor="xiaomi"] button[type="submit"]`)
	c.WaitJS(`!document.querySelector("#cred-editor")`, "the editor closed", "")
	c.Click(`[data-action="check-xiaomi"]`)
	c.WaitText(`[data-testid="check-result"]`, "refused")
	c.WaitText(`[data-state="failing"]`, "failing check")
}
