package local

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"

	webpushemu "github.com/heraldim/herald/internal/emulator/webpush"
	"github.com/heraldim/herald/internal/push/webpush"
)

// Files of the Web Push emulator written into Config.Dir.
const (
	WebPushCAFile         = "webpush-emulator-ca.pem"
	WebPushCredentialFile = "webpush-credential.json"
	defaultWebPushSubject = "mailto:dev@herald.invalid"
)

// WebPushInfo describes the Web Push service emulator and the app's VAPID
// credential. CredentialFile is the body of PUT .../push/credentials/
// webpush (privateKey and subject, caPEM the emulator's CA); PublicKey is
// the applicationServerKey pages subscribe with.
type WebPushInfo struct {
	URL            string `json:"url"`
	ControlURL     string `json:"controlURL"`
	CAFile         string `json:"caFile"`
	CredentialFile string `json:"credentialFile"`
	PublicKey      string `json:"publicKey"`
	Subject        string `json:"subject"`
}

type webpushCredential struct {
	PrivateKey string `json:"privateKey"`
	PublicKey  string `json:"publicKey"`
	Subject    string `json:"subject"`
	CAPEM      string `json:"caPEM"`
}

// startWebPush starts the Web Push emulator and its control API and makes
// the app's VAPID key pair; it returns the manifest entry and the files
// to write. What it started is in e, for Close.
func (e *Emulators) startWebPush(cfg Config, dir string) (WebPushInfo, []file, error) {
	var info WebPushInfo
	var err error
	if e.WebPush, err = webpushemu.New(webpushemu.Config{ErrorLog: slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn)}); err != nil {
		return info, nil, fmt.Errorf("local: %w", err)
	}
	if err = e.WebPush.Start(listenAddr(cfg.WebPushAddr)); err != nil {
		return info, nil, fmt.Errorf("local: webpush: %w", err)
	}
	ctl, err := e.serveControl(cfg.WebPushControlAddr, e.WebPush.ControlHandler(), cfg.Logger)
	if err != nil {
		return info, nil, fmt.Errorf("local: webpush control: %w", err)
	}
	priv, pub, err := webpush.GenerateKey()
	if err != nil {
		return info, nil, fmt.Errorf("local: %w", err)
	}
	ca := e.WebPush.CACertPEM()
	info = WebPushInfo{URL: e.WebPush.URL(), ControlURL: ctl, CAFile: filepath.Join(dir, WebPushCAFile),
		CredentialFile: filepath.Join(dir, WebPushCredentialFile), PublicKey: pub, Subject: defaultWebPushSubject}
	cred, err := jsonFile(webpushCredential{PrivateKey: priv, PublicKey: pub, Subject: defaultWebPushSubject, CAPEM: string(ca)})
	if err != nil {
		return info, nil, err
	}
	return info, []file{{info.CAFile, ca}, {info.CredentialFile, cred}}, nil
}

// webPushProvider builds the provider of the manifest's Web Push
// credential file.
func (m Manifest) webPushProvider() (*webpush.Provider, error) {
	var c webpushCredential
	roots, err := readCredential(m.WebPush.CredentialFile, m.WebPush.CAFile, &c)
	if err != nil {
		return nil, err
	}
	p, err := webpush.New(webpush.Config{PrivateKey: c.PrivateKey, Subject: c.Subject, RootCAs: roots})
	if err != nil {
		return nil, fmt.Errorf("local: %w", err)
	}
	return p, nil
}

// registerBrowser subscribes a simulated browser with the manifest's Web
// Push emulator for d (RegisterDevice with vendor webpush).
func (d *Device) registerBrowser(ctx context.Context, m Manifest) error {
	if m.WebPush.ControlURL == "" || m.WebPush.PublicKey == "" {
		return fmt.Errorf("local: the manifest has no Web Push emulator")
	}
	b, err := SubscribeBrowser(ctx, m.WebPush.ControlURL, m.WebPush.PublicKey, d.client)
	if err != nil {
		return err
	}
	d.browser, d.Token = b, b.Token()
	return nil
}

// Browser is the simulated browser of a webpush device (nil for the other
// vendors).
func (d *Device) Browser() *Browser { return d.browser }

// watchBrowser is Watch for a webpush device: the browser connects to the
// push service, decrypts each push and shows it; the reactions follow the
// capability table as for a phone.
func (d *Device) watchBrowser(ctx context.Context, got func(Received) error) error {
	after := 0
	for ctx.Err() == nil {
		shown, next, err := d.browser.Receive(ctx, after)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		for _, n := range shown {
			extras := map[string]string{}
			for k, v := range n.Extras {
				extras[k] = v
			}
			if n.Payload != "" {
				extras["payload"] = n.Payload
			}
			if err := got(Received{Alert: true, Kind: "notification", Title: n.Title, Content: n.Content, Payload: n.Payload,
				Seq: n.Seq, MessageID: n.MessageID, Extras: extras}); err != nil {
				return err
			}
		}
		after = next
	}
	return nil
}

// browserTrayIDs returns the message IDs the device's browser shows.
func (d *Device) browserTrayIDs() map[string]bool {
	ids := map[string]bool{}
	for _, n := range d.browser.Tray() {
		ids[n.MessageID] = true
	}
	return ids
}

// jsonFile is v as a credential file's content.
func jsonFile(v any) ([]byte, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("local: %w", err)
	}
	return append(b, '\n'), nil
}
