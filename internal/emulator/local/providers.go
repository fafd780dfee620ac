package local

import (
	"crypto/x509"
	"errors"
	"fmt"
	"os"

	"github.com/heraldim/herald/internal/push"
	"github.com/heraldim/herald/internal/push/apns"
	"github.com/heraldim/herald/internal/push/fcm"
)

// Providers are push providers configured for the emulators of a manifest.
type Providers struct {
	APNs *apns.Provider
	FCM  *fcm.Provider
}

// Providers builds an APNs and an FCM provider from the manifest's files,
// as an operator would configure them from a .p8 key and a service account
// file, with the emulators' CAs as trust roots.
func (m Manifest) Providers() (*Providers, error) {
	apnsRoots, err := certPool(m.APNs.CAFile)
	if err != nil {
		return nil, err
	}
	key, err := os.ReadFile(m.APNs.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("local: apns key: %w", err)
	}
	ap, err := apns.New(apns.Config{ProductionURL: m.APNs.ProductionURL, DevelopmentURL: m.APNs.DevelopmentURL,
		KeyPEM: key, KeyID: m.APNs.KeyID, TeamID: m.APNs.TeamID, RootCAs: apnsRoots})
	if err != nil {
		return nil, fmt.Errorf("local: %w", err)
	}
	fcmRoots, err := certPool(m.FCM.CAFile)
	if err != nil {
		ap.Close()
		return nil, err
	}
	sa, err := os.ReadFile(m.FCM.ServiceAccountFile)
	if err != nil {
		ap.Close()
		return nil, fmt.Errorf("local: service account: %w", err)
	}
	fp, err := fcm.New(fcm.Config{ServiceAccountJSON: sa, BaseURL: m.FCM.URL, TokenURL: m.FCM.TokenURL, RootCAs: fcmRoots})
	if err != nil {
		ap.Close()
		return nil, fmt.Errorf("local: %w", err)
	}
	return &Providers{APNs: ap, FCM: fp}, nil
}

// Install sets the providers as appID's: APNs for both environments (a
// debug build's device uses the sandbox), FCM for production (FCM has one
// environment; a debug Android device's PushID gets no pushes, as the
// seed's enableDebug warns).
func (p *Providers) Install(set *push.ProviderSet, appID string) {
	set.Set(appID, push.VendorAPNs, push.Development, p.APNs)
	set.Set(appID, push.VendorAPNs, push.Production, p.APNs)
	set.Set(appID, push.VendorFCM, push.Production, p.FCM)
}

// Close releases the providers' connections.
func (p *Providers) Close() {
	p.APNs.Close()
	p.FCM.Close()
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
