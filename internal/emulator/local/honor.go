package local

import (
	"fmt"
	"log"

	honoremu "github.com/heraldim/herald/internal/emulator/honor"
	"github.com/heraldim/herald/internal/push/honor"
)

// Honor's files and app.
const (
	HonorCAFile          = "honor-emulator-ca.pem"
	HonorCredentialFile  = "honor-credential.json"
	defaultHonorAppID    = "104436001"
	defaultHonorClientID = "1893470000000001"
)

// HonorInfo describes the Honor Push emulator and its app.
type HonorInfo struct {
	URL            string `json:"url"`
	TokenURL       string `json:"tokenURL"`
	ControlURL     string `json:"controlURL"`
	CAFile         string `json:"caFile"`
	CredentialFile string `json:"credentialFile"`
	AppID          string `json:"appID"`
	ClientID       string `json:"clientID"`
	PackageName    string `json:"packageName"`
}

// honorCredential is the credential file's document (the admin API's
// field names).
type honorCredential struct {
	AppID        string `json:"appID"`
	ClientID     string `json:"clientID"`
	ClientSecret string `json:"clientSecret"`
	BaseURL      string `json:"baseURL"`
	TokenURL     string `json:"tokenURL"`
	CAPEM        string `json:"caPEM"`
}

// startHonor starts the Honor emulator and its control API with one app
// (an App ID and its OAuth client), and returns its manifest entry;
// credential and ca record the files to write.
func (e *Emulators) startHonor(cfg Config, errLog *log.Logger, credential func(string, any) (string, error),
	ca func(string, []byte) string) (HonorInfo, error) {
	var info HonorInfo
	var err error
	if e.Honor, err = honoremu.New(honoremu.Config{ErrorLog: errLog}); err != nil {
		return info, fmt.Errorf("local: %w", err)
	}
	if err = e.Honor.Start(listenAddr(cfg.HonorAddr)); err != nil {
		return info, fmt.Errorf("local: honor: %w", err)
	}
	app := honoremu.App{AppID: defaultHonorAppID, ClientID: defaultHonorClientID, ClientSecret: randomSecret()}
	if err = e.Honor.RegisterApp(app); err != nil {
		return info, fmt.Errorf("local: honor: %w", err)
	}
	ctl, err := e.serveControl(cfg.HonorControlAddr, e.Honor.ControlHandler(), cfg.Logger)
	if err != nil {
		return info, fmt.Errorf("local: honor control: %w", err)
	}
	info = HonorInfo{URL: e.Honor.URL(), TokenURL: e.Honor.TokenURL(), ControlURL: ctl,
		CAFile: ca(HonorCAFile, e.Honor.CACertPEM()), AppID: app.AppID, ClientID: app.ClientID, PackageName: cfg.BundleID}
	info.CredentialFile, err = credential(HonorCredentialFile, honorCredential{AppID: app.AppID, ClientID: app.ClientID,
		ClientSecret: app.ClientSecret, BaseURL: info.URL, TokenURL: info.TokenURL, CAPEM: string(e.Honor.CACertPEM())})
	return info, err
}

// honorProvider builds the Honor provider of the manifest's credential.
func (m Manifest) honorProvider() (*honor.Provider, error) {
	var c honorCredential
	roots, err := readCredential(m.Honor.CredentialFile, m.Honor.CAFile, &c)
	if err != nil {
		return nil, err
	}
	p, err := honor.New(honor.Config{AppID: c.AppID, ClientID: c.ClientID, ClientSecret: c.ClientSecret,
		BaseURL: c.BaseURL, TokenURL: c.TokenURL, RootCAs: roots})
	if err != nil {
		return nil, fmt.Errorf("local: %w", err)
	}
	return p, nil
}

// honorDevice is RegisterDevice's part for Honor: the control API and the
// body that registers a token.
func honorDevice(m Manifest) (control, bundleID string, body map[string]any) {
	return m.Honor.ControlURL, m.Honor.PackageName, map[string]any{"appID": m.Honor.AppID}
}

// honorTray is trayIDs' part for Honor.
func (e *Emulators) honorTray(token string, ids map[string]bool) {
	for _, it := range e.Honor.Tray(token) {
		ids[it.RequestID] = true
	}
}
