package local

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"

	huaweiemu "github.com/heraldim/herald/internal/emulator/huawei"
	oppoemu "github.com/heraldim/herald/internal/emulator/oppo"
	vivoemu "github.com/heraldim/herald/internal/emulator/vivo"
	xiaomiemu "github.com/heraldim/herald/internal/emulator/xiaomi"
)

// file is one file Start writes.
type file struct {
	path string
	data []byte
}

// startAndroid starts the Huawei, Xiaomi, OPPO, vivo and Honor emulators and their
// control APIs, registers one app each for cfg.BundleID (with the "im"
// channel where the vendor has channels), and returns their manifest
// entries and the files to write (CA certificates and credentials). What it
// started is in e, for Close.
func (e *Emulators) startAndroid(cfg Config, dir string) (Manifest, []file, error) {
	var m Manifest
	var files []file
	errLog := slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn)
	credential := func(name string, v any) (string, error) {
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return "", fmt.Errorf("local: %w", err)
		}
		path := filepath.Join(dir, name)
		files = append(files, file{path, append(b, '\n')})
		return path, nil
	}
	ca := func(name string, pem []byte) string {
		path := filepath.Join(dir, name)
		files = append(files, file{path, pem})
		return path
	}

	// Huawei: an AppGallery Connect app (its ID is the OAuth client ID).
	var err error
	if e.Huawei, err = huaweiemu.New(huaweiemu.Config{ErrorLog: errLog}); err != nil {
		return m, nil, fmt.Errorf("local: %w", err)
	}
	if err = e.Huawei.Start(listenAddr(cfg.HuaweiAddr)); err != nil {
		return m, nil, fmt.Errorf("local: huawei: %w", err)
	}
	hwSecret := randomSecret()
	e.Huawei.RegisterApp(defaultHuaweiAppID, hwSecret)
	hwCtl, err := e.serveControl(cfg.HuaweiControlAddr, e.Huawei.ControlHandler(), cfg.Logger)
	if err != nil {
		return m, nil, fmt.Errorf("local: huawei control: %w", err)
	}
	m.Huawei = HuaweiInfo{URL: e.Huawei.URL(), TokenURL: e.Huawei.TokenURL(), ControlURL: hwCtl,
		CAFile: ca(HuaweiCAFile, e.Huawei.CACertPEM()), AppID: defaultHuaweiAppID, PackageName: cfg.BundleID}
	if m.Huawei.CredentialFile, err = credential(HuaweiCredentialFile, huaweiCredential{AppID: defaultHuaweiAppID,
		ClientSecret: hwSecret, BaseURL: m.Huawei.URL, TokenURL: m.Huawei.TokenURL, CAPEM: string(e.Huawei.CACertPEM())}); err != nil {
		return m, nil, err
	}

	// Xiaomi: the package with its AppSecret and the IM channel.
	if e.Xiaomi, err = xiaomiemu.New(xiaomiemu.Config{ErrorLog: errLog}); err != nil {
		return m, nil, fmt.Errorf("local: %w", err)
	}
	if err = e.Xiaomi.Start(listenAddr(cfg.XiaomiAddr)); err != nil {
		return m, nil, fmt.Errorf("local: xiaomi: %w", err)
	}
	miSecret := randomSecret()
	if err = e.Xiaomi.AddApp(cfg.BundleID, miSecret, defaultChannelID); err != nil {
		return m, nil, fmt.Errorf("local: xiaomi: %w", err)
	}
	miCtl, err := e.serveControl(cfg.XiaomiControlAddr, e.Xiaomi.ControlHandler(), cfg.Logger)
	if err != nil {
		return m, nil, fmt.Errorf("local: xiaomi control: %w", err)
	}
	m.Xiaomi = XiaomiInfo{URL: e.Xiaomi.URL(), ControlURL: miCtl, CAFile: ca(XiaomiCAFile, e.Xiaomi.CACertPEM()),
		PackageName: cfg.BundleID, ChannelID: defaultChannelID}
	if m.Xiaomi.CredentialFile, err = credential(XiaomiCredentialFile, xiaomiCredential{AppSecret: miSecret,
		PackageName: cfg.BundleID, ChannelID: defaultChannelID, BaseURL: m.Xiaomi.URL, CAPEM: string(e.Xiaomi.CACertPEM())}); err != nil {
		return m, nil, err
	}

	// OPPO: the emulator makes the AppKey and MasterSecret.
	if e.OPPO, err = oppoemu.New(oppoemu.Config{ErrorLog: errLog}); err != nil {
		return m, nil, fmt.Errorf("local: %w", err)
	}
	if err = e.OPPO.Start(listenAddr(cfg.OPPOAddr)); err != nil {
		return m, nil, fmt.Errorf("local: oppo: %w", err)
	}
	app := e.OPPO.CreateApp(cfg.BundleID, defaultChannelID)
	opCtl, err := e.serveControl(cfg.OPPOControlAddr, e.OPPO.ControlHandler(), cfg.Logger)
	if err != nil {
		return m, nil, fmt.Errorf("local: oppo control: %w", err)
	}
	m.OPPO = OPPOInfo{URL: e.OPPO.URL(), ControlURL: opCtl, CAFile: ca(OPPOCAFile, e.OPPO.CACertPEM()),
		AppKey: app.AppKey, PackageName: cfg.BundleID, ChannelID: defaultChannelID}
	if m.OPPO.CredentialFile, err = credential(OPPOCredentialFile, oppoCredential{AppKey: app.AppKey,
		MasterSecret: app.MasterSecret, ChannelID: defaultChannelID, BaseURL: m.OPPO.URL, CAPEM: string(e.OPPO.CACertPEM())}); err != nil {
		return m, nil, err
	}

	// vivo: a numeric app ID with its key and secret.
	if e.Vivo, err = vivoemu.New(vivoemu.Config{ErrorLog: errLog}); err != nil {
		return m, nil, fmt.Errorf("local: %w", err)
	}
	if err = e.Vivo.Start(listenAddr(cfg.VivoAddr)); err != nil {
		return m, nil, fmt.Errorf("local: vivo: %w", err)
	}
	vivoApp := vivoemu.App{ID: defaultVivoAppID, Key: randomSecret(), Secret: randomSecret()}
	if err = e.Vivo.AddApp(vivoApp); err != nil {
		return m, nil, fmt.Errorf("local: vivo: %w", err)
	}
	viCtl, err := e.serveControl(cfg.VivoControlAddr, e.Vivo.ControlHandler(), cfg.Logger)
	if err != nil {
		return m, nil, fmt.Errorf("local: vivo control: %w", err)
	}
	m.Vivo = VivoInfo{URL: e.Vivo.URL(), ControlURL: viCtl, CAFile: ca(VivoCAFile, e.Vivo.CACertPEM()),
		AppID: defaultVivoAppID, PackageName: cfg.BundleID}
	if m.Vivo.CredentialFile, err = credential(VivoCredentialFile, vivoCredential{AppID: vivoApp.ID, AppKey: vivoApp.Key,
		AppSecret: vivoApp.Secret, BaseURL: m.Vivo.URL, CAPEM: string(e.Vivo.CACertPEM())}); err != nil {
		return m, nil, err
	}

	// Honor: an App ID with its OAuth client.
	if m.Honor, err = e.startHonor(cfg, errLog, credential, ca); err != nil {
		return m, nil, err
	}
	return m, files, nil
}

// listenAddr is addr, or a free loopback port when empty.
func listenAddr(addr string) string {
	if addr == "" {
		return "127.0.0.1:0"
	}
	return addr
}

// randomSecret is a fresh 128-bit secret in hex.
func randomSecret() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
