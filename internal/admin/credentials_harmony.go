package admin

import (
	"crypto/x509"
	"encoding/json"
	"net/http"

	"github.com/heraldim/herald/internal/push"
	"github.com/heraldim/herald/internal/push/harmony"
)

// harmonyConfig is the body of PUT .../credentials/harmony and what is
// stored: the HarmonyOS NEXT Push Kit project's service account key file
// (a JSON string or the object itself, stored as the string).
type harmonyConfig struct {
	Environments       []push.Environment `json:"environments,omitempty"`
	ServiceAccountJSON json.RawMessage    `json:"serviceAccountJSON"`
	// Category is the notification category of alerts (harmony.Categories;
	// zero: IM, which needs Huawei's self-classification entitlement).
	Category string `json:"category,omitempty"`
	// ClientID is the app's Client ID: with it a message revoke without a
	// pushConfig removes the shown notification with Push Kit's
	// messages:revoke (push/harmony revoke.go); without it the withdraw
	// replaces it.
	ClientID string `json:"clientID,omitempty"`
	// CallRight says the app holds the in-app call message entitlement.
	CallRight bool   `json:"callRight,omitempty"`
	BaseURL   string `json:"baseURL,omitempty"`
	CAPEM     string `json:"caPEM,omitempty"`
}

// decodeHarmony reads a PUT body and returns what is stored.
func decodeHarmony(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	var c harmonyConfig
	if err := decode(w, r, &c); err != nil {
		return nil, err
	}
	var err error
	if c.Environments, err = environments(c.Environments); err != nil {
		return nil, err
	}
	sa, err := serviceAccount(c.ServiceAccountJSON)
	if err != nil {
		return nil, err
	}
	if c.ServiceAccountJSON, err = json.Marshal(string(sa)); err != nil {
		return nil, err
	}
	return json.Marshal(c)
}

// buildHarmony makes the provider of a stored harmony config.
func (h *Handler) buildHarmony(config []byte) (push.Provider, []push.Environment, error) {
	var c harmonyConfig
	return buildAndroid(config, &c, "HarmonyOS", func() []push.Environment { return c.Environments }, func() string { return c.CAPEM },
		func(roots *x509.CertPool) (push.Provider, error) {
			sa, err := serviceAccount(c.ServiceAccountJSON)
			if err != nil {
				return nil, err
			}
			return harmony.New(harmony.Config{ServiceAccountJSON: sa, BaseURL: c.BaseURL, Category: c.Category,
				ClientID: c.ClientID, CallRight: c.CallRight, RootCAs: roots, Now: h.cfg.Now})
		})
}

// viewHarmony fills v with what may be shown of a harmony config: the
// project and key IDs and the client ID, never the key.
func viewHarmony(v *credentialView, config []byte) {
	var c harmonyConfig
	_ = json.Unmarshal(config, &c)
	v.Auth, v.BaseURL, v.CustomCA = "serviceAccount", c.BaseURL, c.CAPEM != ""
	v.Category, v.ClientID = c.Category, c.ClientID
	if v.Category == "" {
		v.Category = harmony.DefaultCategory
	}
	if sa, err := serviceAccount(c.ServiceAccountJSON); err == nil {
		var ids struct {
			ProjectID string `json:"project_id"`
			KeyID     string `json:"key_id"`
		}
		_ = json.Unmarshal(sa, &ids)
		v.ProjectID, v.PrivateKeyID = ids.ProjectID, ids.KeyID
	}
}
