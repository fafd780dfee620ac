package local

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"

	harmonyemu "github.com/heraldim/herald/internal/emulator/harmony"
	"github.com/heraldim/herald/internal/push/harmony"
)

// Files and defaults of the HarmonyOS NEXT Push Kit emulator.
const (
	HarmonyCAFile           = "harmony-emulator-ca.pem"
	HarmonyCredentialFile   = "harmony-credential.json"
	defaultHarmonyProjectID = "101653523863785276"
)

// HarmonyInfo describes the HarmonyOS NEXT Push Kit (v3) emulator and its
// project. CredentialFile holds the admin API's PUT .../credentials/harmony
// body: the service account key file (private key included), baseURL and
// caPEM pointing at the emulator.
type HarmonyInfo struct {
	URL            string `json:"url"`
	ControlURL     string `json:"controlURL"`
	CAFile         string `json:"caFile"`
	CredentialFile string `json:"credentialFile"`
	ProjectID      string `json:"projectID"`
	PackageName    string `json:"packageName"`
}

// harmonyCredential is the credential file's document (the admin API's
// field names).
type harmonyCredential struct {
	ServiceAccountJSON string `json:"serviceAccountJSON"`
	ClientID           string `json:"clientID"`
	BaseURL            string `json:"baseURL"`
	CAPEM              string `json:"caPEM"`
}

// startHarmony starts the HarmonyOS emulator and its control API with one
// project holding a service account key and Huawei's self-classification
// entitlement (so the IM category holds), and returns its manifest entry
// and the files to write.
func (e *Emulators) startHarmony(cfg Config, dir string) (HarmonyInfo, []file, error) {
	var info HarmonyInfo
	var err error
	if e.Harmony, err = harmonyemu.New(harmonyemu.Config{ErrorLog: slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn)}); err != nil {
		return info, nil, fmt.Errorf("local: %w", err)
	}
	if err = e.Harmony.Start(listenAddr(cfg.HarmonyAddr)); err != nil {
		return info, nil, fmt.Errorf("local: harmony: %w", err)
	}
	sa, err := e.Harmony.NewServiceAccount(defaultHarmonyProjectID)
	if err != nil {
		return info, nil, fmt.Errorf("local: harmony service account: %w", err)
	}
	e.Harmony.SetSelfClassified(defaultHarmonyProjectID, true)
	ctl, err := e.serveControl(cfg.HarmonyControlAddr, e.Harmony.ControlHandler(), cfg.Logger)
	if err != nil {
		return info, nil, fmt.Errorf("local: harmony control: %w", err)
	}
	cred, err := json.MarshalIndent(harmonyCredential{ServiceAccountJSON: string(sa),
		ClientID: e.Harmony.ClientID(defaultHarmonyProjectID), BaseURL: e.Harmony.URL(),
		CAPEM: string(e.Harmony.CACertPEM())}, "", "  ")
	if err != nil {
		return info, nil, fmt.Errorf("local: %w", err)
	}
	info = HarmonyInfo{URL: e.Harmony.URL(), ControlURL: ctl, CAFile: filepath.Join(dir, HarmonyCAFile),
		CredentialFile: filepath.Join(dir, HarmonyCredentialFile), ProjectID: defaultHarmonyProjectID, PackageName: cfg.BundleID}
	return info, []file{{info.CAFile, e.Harmony.CACertPEM()}, {info.CredentialFile, append(cred, '\n')}}, nil
}

// harmonyProvider builds the provider of the manifest's harmony entry, as
// an operator would from the credential file.
func (m Manifest) harmonyProvider() (*harmony.Provider, error) {
	var c harmonyCredential
	roots, err := readCredential(m.Harmony.CredentialFile, m.Harmony.CAFile, &c)
	if err != nil {
		return nil, err
	}
	p, err := harmony.New(harmony.Config{ServiceAccountJSON: []byte(c.ServiceAccountJSON), ClientID: c.ClientID, BaseURL: c.BaseURL, RootCAs: roots})
	if err != nil {
		return nil, fmt.Errorf("local: %w", err)
	}
	return p, nil
}

// harmonyTrayIDs are the requestIds of what the emulator's tray shows for
// token.
func (e *Emulators) harmonyTrayIDs(token string) map[string]bool {
	ids := make(map[string]bool)
	for _, it := range e.Harmony.Tray(token) {
		ids[it.RequestID] = true
	}
	return ids
}

// decodeHarmony reads a delivery of the harmony control API: push-type 0
// is a notification (clickAction.data is the custom data), 6 a
// background message and 10 an in-app call message (extraData, a JSON
// object of strings, holds title, content and the custom data).
func decodeHarmony(raw json.RawMessage) (Received, bool, error) {
	var d struct {
		Seq       int    `json:"seq"`
		RequestID string `json:"requestId"`
		PushType  string `json:"pushType"`
		Body      struct {
			Payload struct {
				Notification *struct {
					Title       string `json:"title"`
					Body        string `json:"body"`
					ClickAction struct {
						Data map[string]string `json:"data"`
					} `json:"clickAction"`
				} `json:"notification"`
				ExtraData string `json:"extraData"`
			} `json:"payload"`
		} `json:"body"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		return Received{}, false, fmt.Errorf("local: harmony delivery: %w", err)
	}
	r := Received{Seq: d.Seq, MessageID: d.RequestID}
	if n := d.Body.Payload.Notification; n != nil {
		r.Alert, r.Kind, r.Title, r.Content = true, "notification", n.Title, n.Body
		r.Extras = extras(n.ClickAction.Data)
	} else {
		var data map[string]string
		_ = json.Unmarshal([]byte(d.Body.Payload.ExtraData), &data) // extraData need not be JSON
		r.Kind, r.Title, r.Content, r.Extras = "data", data["title"], data["content"], extras(data)
		if d.PushType == "10" {
			r.Kind = "call"
		}
	}
	r.Payload = r.Extras["payload"]
	return r, true, nil
}
