// Package local runs the vendor emulators on this machine for `herald
// emulate` and `herald serve --emulate`: the APNs and FCM emulators with a
// team key and a Firebase service account made for the occasion, the
// Huawei, Xiaomi, OPPO, vivo and Honor emulators with an app and its
// credential each (android.go, honor.go), their control APIs on loopback listeners of their
// own, and a manifest (emulators.json) that tells other processes —
// `herald device`, a server configured by hand — every URL and credential
// file.
//
// It also plays the phone's side (phone.go): register a device through a
// control API and turn what the emulator delivered into what the device's
// system and push SDK would do, per the capability table of package push.
// The phones API (phones.go, Phones) serves that engine over HTTP on a
// loopback listener of its own, for programs not written in Go: the
// TypeScript SDK's tests and demos, a page in a browser.
package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	apnsemu "github.com/heraldim/herald/internal/emulator/apns"
	fcmemu "github.com/heraldim/herald/internal/emulator/fcm"
	harmonyemu "github.com/heraldim/herald/internal/emulator/harmony"
	honoremu "github.com/heraldim/herald/internal/emulator/honor"
	huaweiemu "github.com/heraldim/herald/internal/emulator/huawei"
	oppoemu "github.com/heraldim/herald/internal/emulator/oppo"
	vivoemu "github.com/heraldim/herald/internal/emulator/vivo"
	webpushemu "github.com/heraldim/herald/internal/emulator/webpush"
	xiaomiemu "github.com/heraldim/herald/internal/emulator/xiaomi"
)

// Files written into Config.Dir.
const (
	ManifestFile         = "emulators.json"
	APNsCAFile           = "apns-emulator-ca.pem"
	FCMCAFile            = "fcm-emulator-ca.pem"
	ServiceAccountFile   = "fcm-service-account.json"
	HuaweiCAFile         = "huawei-emulator-ca.pem"
	HuaweiCredentialFile = "huawei-credential.json"
	XiaomiCAFile         = "xiaomi-emulator-ca.pem"
	XiaomiCredentialFile = "xiaomi-credential.json"
	OPPOCAFile           = "oppo-emulator-ca.pem"
	OPPOCredentialFile   = "oppo-credential.json"
	VivoCAFile           = "vivo-emulator-ca.pem"
	VivoCredentialFile   = "vivo-credential.json"
	apnsKeyFilePattern   = "AuthKey_%s.p8" // Apple's name for a .p8 download
	defaultAPNsTeamID    = "HERALDTEAM"
	defaultAPNsKeyID     = "HERALDKEY1"
	defaultFCMProjectID  = "herald-dev"
	defaultBundleID      = "im.herald.dev"
	defaultHuaweiAppID   = "104460001"
	defaultVivoAppID     = "105460001"
	// defaultChannelID is the notification channel registered for the app
	// where the vendor has channels (Xiaomi, OPPO): the private-message
	// (私信) channel an IM app sends on.
	defaultChannelID       = "im"
	controlShutdownTimeout = 2 * time.Second
)

// Config says where the emulators listen and where their files go. Empty
// addresses pick a free loopback port.
type Config struct {
	// Dir receives the CA certificates, the .p8 key, the service account
	// and the manifest. Required; created when missing.
	Dir string
	// APNsProductionAddr and APNsDevelopmentAddr are APNs' two hosts;
	// APNsControlAddr its control API.
	APNsProductionAddr  string
	APNsDevelopmentAddr string
	APNsControlAddr     string
	// FCMAddr serves FCM and Google's token endpoint; FCMControlAddr the
	// control API.
	FCMAddr        string
	FCMControlAddr string
	// HuaweiAddr, XiaomiAddr, OPPOAddr and VivoAddr serve the Android
	// vendors' push APIs (Huawei's token endpoint too); the *ControlAddr
	// their control APIs.
	HuaweiAddr        string
	HuaweiControlAddr string
	XiaomiAddr        string
	XiaomiControlAddr string
	OPPOAddr          string
	OPPOControlAddr   string
	VivoAddr          string
	VivoControlAddr   string
	// HarmonyAddr serves HarmonyOS NEXT Push Kit (v3); HarmonyControlAddr
	// its control API.
	HarmonyAddr, HarmonyControlAddr string
	HonorAddr                       string
	HonorControlAddr                string
	// WebPushAddr serves the Web Push service emulator; WebPushControlAddr
	// its control API (the simulated browsers' side).
	WebPushAddr        string
	WebPushControlAddr string
	// PhonesAddr serves the phones API (Phones): emulated phones for
	// programs not written in Go.
	PhonesAddr string
	// BundleID is the app's iOS bundle ID and Android package name. Zero:
	// "im.herald.dev".
	BundleID string
	// Logger receives the emulators' server errors. Nil: discarded.
	Logger *slog.Logger
}

// Manifest is emulators.json: what a client of the emulators needs.
type Manifest struct {
	APNs   APNsInfo   `json:"apns"`
	FCM    FCMInfo    `json:"fcm"`
	Huawei HuaweiInfo `json:"huawei"`
	Xiaomi XiaomiInfo `json:"xiaomi"`
	OPPO   OPPOInfo   `json:"oppo"`
	Vivo   VivoInfo   `json:"vivo"`
	Honor  HonorInfo  `json:"honor"`
	Phones PhonesInfo `json:"phones"`

	Harmony HarmonyInfo `json:"harmony"`
	// WebPush is the Web Push service emulator (browsers).
	WebPush WebPushInfo `json:"webpush"`
}

// PhonesInfo locates the phones API (Phones).
type PhonesInfo struct {
	URL string `json:"url"`
}

// APNsInfo describes the APNs emulator and its credential.
type APNsInfo struct {
	ProductionURL  string `json:"productionURL"`
	DevelopmentURL string `json:"developmentURL"`
	ControlURL     string `json:"controlURL"`
	// CAFile is the PEM of the CA that signed the emulator's certificate.
	CAFile string `json:"caFile"`
	// KeyFile is the team's signing key (.p8), KeyID and TeamID its JWT
	// kid and iss.
	KeyFile  string `json:"keyFile"`
	KeyID    string `json:"keyID"`
	TeamID   string `json:"teamID"`
	BundleID string `json:"bundleID"`
}

// FCMInfo describes the FCM emulator and its service account.
type FCMInfo struct {
	URL                string `json:"url"`
	TokenURL           string `json:"tokenURL"`
	ControlURL         string `json:"controlURL"`
	CAFile             string `json:"caFile"`
	ServiceAccountFile string `json:"serviceAccountFile"`
	ProjectID          string `json:"projectID"`
	PackageName        string `json:"packageName"`
}

// The Android vendors' entries. CredentialFile holds the credential, its
// secret included, as the admin API's PUT /v1/apps/{app}/push/credentials/
// {vendor} takes it (baseURL and caPEM pointing at the emulator); the
// entries repeat only what is not secret.

// HuaweiInfo describes the Huawei Push Kit emulator and its app.
type HuaweiInfo struct {
	URL            string `json:"url"`
	TokenURL       string `json:"tokenURL"`
	ControlURL     string `json:"controlURL"`
	CAFile         string `json:"caFile"`
	CredentialFile string `json:"credentialFile"`
	AppID          string `json:"appID"`
	PackageName    string `json:"packageName"`
}

// XiaomiInfo describes the MiPush emulator and its app.
type XiaomiInfo struct {
	URL            string `json:"url"`
	ControlURL     string `json:"controlURL"`
	CAFile         string `json:"caFile"`
	CredentialFile string `json:"credentialFile"`
	PackageName    string `json:"packageName"`
	ChannelID      string `json:"channelID"`
}

// OPPOInfo describes the OPPO PUSH emulator and its app.
type OPPOInfo struct {
	URL            string `json:"url"`
	ControlURL     string `json:"controlURL"`
	CAFile         string `json:"caFile"`
	CredentialFile string `json:"credentialFile"`
	AppKey         string `json:"appKey"`
	PackageName    string `json:"packageName"`
	ChannelID      string `json:"channelID"`
}

// VivoInfo describes the vivo push emulator and its app.
type VivoInfo struct {
	URL            string `json:"url"`
	ControlURL     string `json:"controlURL"`
	CAFile         string `json:"caFile"`
	CredentialFile string `json:"credentialFile"`
	AppID          string `json:"appID"`
	PackageName    string `json:"packageName"`
}

// The credential files' documents (the admin API's field names).
type (
	huaweiCredential struct {
		AppID        string `json:"appID"`
		ClientSecret string `json:"clientSecret"`
		BaseURL      string `json:"baseURL"`
		TokenURL     string `json:"tokenURL"`
		CAPEM        string `json:"caPEM"`
	}
	xiaomiCredential struct {
		AppSecret   string `json:"appSecret"`
		PackageName string `json:"packageName"`
		ChannelID   string `json:"channelID"`
		BaseURL     string `json:"baseURL"`
		CAPEM       string `json:"caPEM"`
	}
	oppoCredential struct {
		AppKey       string `json:"appKey"`
		MasterSecret string `json:"masterSecret"`
		ChannelID    string `json:"channelID"`
		BaseURL      string `json:"baseURL"`
		CAPEM        string `json:"caPEM"`
	}
	vivoCredential struct {
		AppID     string `json:"appID"`
		AppKey    string `json:"appKey"`
		AppSecret string `json:"appSecret"`
		BaseURL   string `json:"baseURL"`
		CAPEM     string `json:"caPEM"`
	}
)

// ErrNoManifest: the directory has no emulators.json (no emulators were
// started for it).
var ErrNoManifest = errors.New("local: no " + ManifestFile + " (start herald emulate or herald serve --emulate)")

// Emulators is the running set. Close stops it.
type Emulators struct {
	APNs   *apnsemu.Emulator
	FCM    *fcmemu.Emulator
	Huawei *huaweiemu.Emulator
	Xiaomi *xiaomiemu.Emulator
	OPPO   *oppoemu.Emulator
	Vivo   *vivoemu.Emulator

	Harmony *harmonyemu.Emulator
	Honor   *honoremu.Emulator
	// WebPush is the Web Push service emulator.
	WebPush *webpushemu.Emulator
	// Phones serves the phones API at Manifest.Phones.URL.
	Phones   *Phones
	Manifest Manifest

	controls  []*http.Server
	wg        sync.WaitGroup
	closeOnce sync.Once
}

// Start makes the emulators and their credentials, starts every listener,
// writes the files into cfg.Dir and returns the running set. On error
// nothing is left running.
func Start(cfg Config) (_ *Emulators, err error) {
	if cfg.Dir == "" {
		return nil, errors.New("local: a directory is required")
	}
	if cfg.BundleID == "" {
		cfg.BundleID = defaultBundleID
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("local: %w", err)
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("local: %w", err)
	}
	e := &Emulators{}
	defer func() {
		if err != nil {
			e.Close()
		}
	}()

	// APNs: one team with the app and a token-signing key.
	if e.APNs, err = apnsemu.New(apnsemu.Config{ProductionAddr: cfg.APNsProductionAddr,
		DevelopmentAddr: cfg.APNsDevelopmentAddr, Logger: cfg.Logger}); err != nil {
		return nil, fmt.Errorf("local: %w", err)
	}
	e.APNs.AddApp(defaultAPNsTeamID, cfg.BundleID)
	p8, err := e.APNs.NewKey(defaultAPNsTeamID, defaultAPNsKeyID)
	if err != nil {
		return nil, fmt.Errorf("local: apns key: %w", err)
	}
	if err = e.APNs.Start(); err != nil {
		return nil, fmt.Errorf("local: apns: %w", err)
	}
	apnsCtl, err := e.serveControl(cfg.APNsControlAddr, e.APNs.ControlHandler(), cfg.Logger)
	if err != nil {
		return nil, fmt.Errorf("local: apns control: %w", err)
	}

	// FCM: one project with a service account.
	if e.FCM, err = fcmemu.New(fcmemu.Config{ErrorLog: slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn)}); err != nil {
		return nil, fmt.Errorf("local: %w", err)
	}
	if err = e.FCM.Start(cfg.FCMAddr); err != nil {
		e.FCM = nil // nothing to shut down
		return nil, fmt.Errorf("local: fcm: %w", err)
	}
	sa, err := e.FCM.CreateServiceAccount(defaultFCMProjectID)
	if err != nil {
		return nil, fmt.Errorf("local: fcm service account: %w", err)
	}
	fcmCtl, err := e.serveControl(cfg.FCMControlAddr, e.FCM.ControlHandler(), cfg.Logger)
	if err != nil {
		return nil, fmt.Errorf("local: fcm control: %w", err)
	}

	android, files, err := e.startAndroid(cfg, dir)
	if err != nil {
		return nil, err
	}
	harmonyInfo, harmonyFiles, err := e.startHarmony(cfg, dir)
	if err != nil {
		return nil, err
	}
	files = append(files, harmonyFiles...)
	web, webFiles, err := e.startWebPush(cfg, dir)
	if err != nil {
		return nil, err
	}
	files = append(files, webFiles...)

	m := Manifest{
		APNs: APNsInfo{
			ProductionURL: e.APNs.URL(apnsemu.Production), DevelopmentURL: e.APNs.URL(apnsemu.Development),
			ControlURL: apnsCtl, CAFile: filepath.Join(dir, APNsCAFile),
			KeyFile: filepath.Join(dir, fmt.Sprintf(apnsKeyFilePattern, defaultAPNsKeyID)),
			KeyID:   defaultAPNsKeyID, TeamID: defaultAPNsTeamID, BundleID: cfg.BundleID,
		},
		FCM: FCMInfo{
			URL: e.FCM.URL(), TokenURL: e.FCM.TokenURL(), ControlURL: fcmCtl,
			CAFile: filepath.Join(dir, FCMCAFile), ServiceAccountFile: filepath.Join(dir, ServiceAccountFile),
			ProjectID: defaultFCMProjectID, PackageName: cfg.BundleID,
		},
		Huawei: android.Huawei, Xiaomi: android.Xiaomi, OPPO: android.OPPO, Vivo: android.Vivo,
		Harmony: harmonyInfo,
		Honor:   android.Honor,
		WebPush: web,
	}
	// The phones API plays phones against the emulators above; it needs
	// no URL of its own.
	e.Phones = newPhones(m, e.trayIDs)
	if m.Phones.URL, err = e.serveControl(cfg.PhonesAddr, e.Phones.Handler(), cfg.Logger); err != nil {
		return nil, fmt.Errorf("local: phones: %w", err)
	}
	manifest, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("local: %w", err)
	}
	files = append([]file{
		{m.APNs.CAFile, e.APNs.CAPEM()},
		{m.APNs.KeyFile, p8},
		{m.FCM.CAFile, e.FCM.CACertPEM()},
		{m.FCM.ServiceAccountFile, sa},
	}, files...)
	// The manifest last: a reader that finds it finds every file.
	files = append(files, file{filepath.Join(dir, ManifestFile), append(manifest, '\n')})
	for _, f := range files {
		if err = writeFile(f.path, f.data); err != nil {
			return nil, err
		}
	}
	e.Manifest = m
	return e, nil
}

// writeFile writes through a temporary file, so a reader never sees half a
// file; credentials are private to the user.
func writeFile(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("local: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("local: %w", err)
	}
	return nil
}

// serveControl serves h on addr (a free loopback port when empty) and
// returns its base URL.
func (e *Emulators) serveControl(addr string, h http.Handler, log *slog.Logger) (string, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	e.controls = append(e.controls, srv)
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		_ = srv.Serve(ln)
	}()
	return "http://" + ln.Addr().String(), nil
}

// Close stops the emulators and their control APIs (cutting long-polls
// short), and waits for their goroutines. It is idempotent.
func (e *Emulators) Close() {
	e.closeOnce.Do(func() {
		// The phones first: they long-poll the control APIs, and their
		// own events long-polls end with them.
		if e.Phones != nil {
			e.Phones.Close()
		}
		// Then the emulators: closing them ends the control API's
		// long-polls, so that its shutdown does not wait for them.
		if e.APNs != nil {
			_ = e.APNs.Close()
		}
		if e.FCM != nil {
			_ = e.FCM.Shutdown(context.Background())
		}
		if e.Huawei != nil {
			_ = e.Huawei.Shutdown(context.Background())
		}
		if e.Xiaomi != nil {
			_ = e.Xiaomi.Shutdown(context.Background())
		}
		if e.OPPO != nil {
			_ = e.OPPO.Shutdown(context.Background())
		}
		if e.Vivo != nil {
			_ = e.Vivo.Shutdown(context.Background())
		}
		if e.Harmony != nil {
			_ = e.Harmony.Shutdown(context.Background())
		}
		if e.Honor != nil {
			_ = e.Honor.Shutdown(context.Background())
		}
		if e.WebPush != nil {
			_ = e.WebPush.Shutdown(context.Background())
		}
		for _, s := range e.controls {
			ctx, cancel := context.WithTimeout(context.Background(), controlShutdownTimeout)
			if s.Shutdown(ctx) != nil {
				_ = s.Close()
			}
			cancel()
		}
		e.wg.Wait()
	})
}

// LoadManifest reads dir's emulators.json.
func LoadManifest(dir string) (Manifest, error) {
	var m Manifest
	b, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if errors.Is(err, os.ErrNotExist) {
		return m, fmt.Errorf("%w in %s", ErrNoManifest, dir)
	}
	if err != nil {
		return m, fmt.Errorf("local: %w", err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("local: %s: %w", ManifestFile, err)
	}
	return m, nil
}
