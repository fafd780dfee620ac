package local

import (
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/heraldim/herald/internal/push"
	"github.com/heraldim/herald/internal/push/apns"
	"github.com/heraldim/herald/internal/push/fcm"
	"github.com/heraldim/herald/internal/push/harmony"
	"github.com/heraldim/herald/internal/push/honor"
	"github.com/heraldim/herald/internal/push/huawei"
	"github.com/heraldim/herald/internal/push/oppo"
	"github.com/heraldim/herald/internal/push/vivo"
	"github.com/heraldim/herald/internal/push/webpush"
	"github.com/heraldim/herald/internal/push/xiaomi"
)

// Providers are push providers configured for the emulators of a manifest.
type Providers struct {
	APNs   *apns.Provider
	FCM    *fcm.Provider
	Huawei *huawei.Provider
	Xiaomi *xiaomi.Provider
	OPPO   *oppo.Provider
	Vivo   *vivo.Provider

	Harmony *harmony.Provider
	Honor   *honor.Provider
	// WebPush sends to the simulated browsers with the manifest's VAPID
	// key.
	WebPush *webpush.Provider
}

// Providers builds a provider per vendor from the manifest's files, as an
// operator would configure them from a .p8 key, a service account file and
// the Android vendors' credentials, with the emulators' CAs as trust roots.
func (m Manifest) Providers() (_ *Providers, err error) {
	p := &Providers{}
	defer func() {
		if err != nil {
			p.Close()
		}
	}()
	apnsRoots, err := certPool(m.APNs.CAFile)
	if err != nil {
		return nil, err
	}
	key, err := os.ReadFile(m.APNs.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("local: apns key: %w", err)
	}
	if p.APNs, err = apns.New(apns.Config{ProductionURL: m.APNs.ProductionURL, DevelopmentURL: m.APNs.DevelopmentURL,
		KeyPEM: key, KeyID: m.APNs.KeyID, TeamID: m.APNs.TeamID, RootCAs: apnsRoots}); err != nil {
		return nil, fmt.Errorf("local: %w", err)
	}
	fcmRoots, err := certPool(m.FCM.CAFile)
	if err != nil {
		return nil, err
	}
	sa, err := os.ReadFile(m.FCM.ServiceAccountFile)
	if err != nil {
		return nil, fmt.Errorf("local: service account: %w", err)
	}
	if p.FCM, err = fcm.New(fcm.Config{ServiceAccountJSON: sa, BaseURL: m.FCM.URL, TokenURL: m.FCM.TokenURL, RootCAs: fcmRoots}); err != nil {
		return nil, fmt.Errorf("local: %w", err)
	}

	var hc huaweiCredential
	roots, err := readCredential(m.Huawei.CredentialFile, m.Huawei.CAFile, &hc)
	if err != nil {
		return nil, err
	}
	if p.Huawei, err = huawei.New(huawei.Config{AppID: hc.AppID, ClientSecret: hc.ClientSecret,
		BaseURL: hc.BaseURL, TokenURL: hc.TokenURL, RootCAs: roots}); err != nil {
		return nil, fmt.Errorf("local: %w", err)
	}
	var xc xiaomiCredential
	if roots, err = readCredential(m.Xiaomi.CredentialFile, m.Xiaomi.CAFile, &xc); err != nil {
		return nil, err
	}
	if p.Xiaomi, err = xiaomi.New(xiaomi.Config{AppSecret: xc.AppSecret, PackageName: xc.PackageName,
		ChannelID: xc.ChannelID, BaseURL: xc.BaseURL, RootCAs: roots}); err != nil {
		return nil, fmt.Errorf("local: %w", err)
	}
	var oc oppoCredential
	if roots, err = readCredential(m.OPPO.CredentialFile, m.OPPO.CAFile, &oc); err != nil {
		return nil, err
	}
	if p.OPPO, err = oppo.New(oppo.Config{AppKey: oc.AppKey, MasterSecret: oc.MasterSecret,
		ChannelID: oc.ChannelID, BaseURL: oc.BaseURL, RootCAs: roots}); err != nil {
		return nil, fmt.Errorf("local: %w", err)
	}
	var vc vivoCredential
	if roots, err = readCredential(m.Vivo.CredentialFile, m.Vivo.CAFile, &vc); err != nil {
		return nil, err
	}
	if p.Vivo, err = vivo.New(vivo.Config{AppID: vc.AppID, AppKey: vc.AppKey, AppSecret: vc.AppSecret,
		BaseURL: vc.BaseURL, RootCAs: roots}); err != nil {
		return nil, fmt.Errorf("local: %w", err)
	}
	if p.Harmony, err = m.harmonyProvider(); err != nil {
		return nil, err
	}
	if p.Honor, err = m.honorProvider(); err != nil {
		return nil, err
	}
	if p.WebPush, err = m.webPushProvider(); err != nil {
		return nil, err
	}
	return p, nil
}

// readCredential reads a credential file into v and the CA file into a
// pool.
func readCredential(credFile, caFile string, v any) (*x509.CertPool, error) {
	b, err := os.ReadFile(credFile)
	if err != nil {
		return nil, fmt.Errorf("local: credential: %w", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return nil, fmt.Errorf("local: %s: %w", credFile, err)
	}
	return certPool(caFile)
}

// Install sets the providers as appID's for both environments: APNs (a
// debug build's device uses the sandbox), and FCM, Huawei, Xiaomi, OPPO,
// vivo and Honor (their APIs have one environment, which serves debug builds too, as
// a credential stored through the admin API without "environments" does).
func (p *Providers) Install(set *push.ProviderSet, appID string) {
	set.Set(appID, push.VendorAPNs, push.Development, p.APNs)
	set.Set(appID, push.VendorAPNs, push.Production, p.APNs)
	for v, prov := range map[push.Vendor]push.Provider{push.VendorFCM: p.FCM, push.VendorHuawei: p.Huawei,
		push.VendorXiaomi: p.Xiaomi, push.VendorOPPO: p.OPPO, push.VendorVivo: p.Vivo,
		push.VendorHarmony: p.Harmony, push.VendorHonor: p.Honor, push.VendorWebPush: p.WebPush} {
		set.Set(appID, v, push.Development, prov)
		set.Set(appID, v, push.Production, prov)
	}
}

// Close releases the providers' connections.
func (p *Providers) Close() {
	if p.APNs != nil {
		p.APNs.Close()
	}
	if p.FCM != nil {
		p.FCM.Close()
	}
	if p.Huawei != nil {
		p.Huawei.Close()
	}
	if p.Xiaomi != nil {
		p.Xiaomi.Close()
	}
	if p.OPPO != nil {
		p.OPPO.Close()
	}
	if p.Vivo != nil {
		p.Vivo.Close()
	}
	if p.Harmony != nil {
		p.Harmony.Close()
	}
	if p.Honor != nil {
		p.Honor.Close()
	}
	if p.WebPush != nil {
		p.WebPush.Close()
	}
}

func certPool(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("local: CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, errors.New("local: CA file " + path + " holds no certificate")
	}
	return pool, nil
}
