package admin

import (
	"crypto/x509"
	"encoding/json"
	"errors"

	"github.com/heraldim/herald/internal/push"
	"github.com/heraldim/herald/internal/push/honor"
)

// honorConfig is the body of PUT .../credentials/honor: the App ID of the
// app's Honor Push service and the OAuth client (Client ID and Client
// Secret) the console shows beside it.
type honorConfig struct {
	Environments []push.Environment `json:"environments,omitempty"`
	AppID        string             `json:"appID"`
	ClientID     string             `json:"clientID"`
	ClientSecret string             `json:"clientSecret"`
	// BadgeClass is the app's launcher Activity, full class name: Honor
	// sets a badge only with it; without it no badge is sent.
	BadgeClass string `json:"badgeClass,omitempty"`
	BaseURL    string `json:"baseURL,omitempty"`
	TokenURL   string `json:"tokenURL,omitempty"`
	CAPEM      string `json:"caPEM,omitempty"`
}

func (c *honorConfig) envs() *[]push.Environment { return &c.Environments }

// buildHonor makes the provider of a stored Honor config.
func (h *Handler) buildHonor(config []byte) (push.Provider, []push.Environment, error) {
	var c honorConfig
	return buildAndroid(config, &c, "Honor", func() []push.Environment { return c.Environments }, func() string { return c.CAPEM },
		func(roots *x509.CertPool) (push.Provider, error) {
			if c.BadgeClass != "" && !javaClassName(c.BadgeClass) {
				return nil, errors.New("badgeClass must be the launcher Activity's full class name, such as com.example.chat.MainActivity")
			}
			return honor.New(honor.Config{AppID: c.AppID, ClientID: c.ClientID, ClientSecret: c.ClientSecret,
				BadgeClass: c.BadgeClass, BaseURL: c.BaseURL, TokenURL: c.TokenURL, RootCAs: roots, Now: h.cfg.Now,
				Tokens: h.d.AccessTokens, Log: h.d.Log})
		})
}

// honorView fills what the API shows of a stored Honor config.
func honorView(config []byte, v *credentialView) {
	var c honorConfig
	_ = json.Unmarshal(config, &c)
	v.Auth, v.AppID, v.ClientID, v.BaseURL, v.TokenURL, v.CustomCA = "clientCredentials", c.AppID, c.ClientID, c.BaseURL, c.TokenURL, c.CAPEM != ""
	v.BadgeClass = c.BadgeClass
}
