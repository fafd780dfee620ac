package admin

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"

	"github.com/heraldim/herald/internal/protocol"
	"github.com/heraldim/herald/internal/push"
	"github.com/heraldim/herald/internal/push/webpush"
)

// webpushConfig is the body of PUT .../credentials/webpush and what is
// stored: the app's VAPID key pair and subject. PrivateKey (base64url, the
// 32-byte P-256 scalar, as the web-push libraries print it) may be left
// out: the app's stored key is kept, or, the first time, one is
// generated, since a new key orphans every browser subscription made with
// the old one. PublicKey, when given, must be the private key's (a check
// on an uploaded pair); the stored config always has it.
type webpushConfig struct {
	Environments []push.Environment `json:"environments,omitempty"`
	PrivateKey   string             `json:"privateKey,omitempty"`
	PublicKey    string             `json:"publicKey,omitempty"`
	Subject      string             `json:"subject"`
	CAPEM        string             `json:"caPEM,omitempty"`
}

// decodeWebPush reads a webpush credential body, fills in the key (the
// stored one, else a new one) and returns what is stored. Errors are
// *protocol.Error or store errors.
func (h *Handler) decodeWebPush(ctx context.Context, appID string, c *webpushConfig) ([]byte, error) {
	envs, err := environments(c.Environments)
	if err != nil {
		return nil, err
	}
	c.Environments = envs
	if c.PrivateKey == "" {
		if c.PublicKey != "" {
			return nil, protocol.Errorf(protocol.CodeInvalidCredential, "publicKey without its privateKey")
		}
		creds, err := h.d.Credentials.Credentials(ctx, appID)
		if err != nil {
			return nil, fmt.Errorf("admin: reading credentials: %w", err)
		}
		for _, s := range creds {
			var old webpushConfig
			if s.Vendor == push.VendorWebPush && json.Unmarshal(s.Config, &old) == nil && old.PrivateKey != "" {
				c.PrivateKey = old.PrivateKey
			}
		}
		if c.PrivateKey == "" {
			if c.PrivateKey, _, err = webpush.GenerateKey(); err != nil {
				return nil, err
			}
		}
	}
	pub, err := webpush.PublicKeyOf(c.PrivateKey)
	if err != nil {
		return nil, providerError(err)
	}
	if c.PublicKey != "" && c.PublicKey != pub {
		return nil, protocol.Errorf(protocol.CodeInvalidCredential, "publicKey is not the public key of privateKey")
	}
	c.PublicKey = pub
	return json.Marshal(c)
}

// buildWebPush makes the provider of a stored webpush config.
func (h *Handler) buildWebPush(config []byte) (push.Provider, []push.Environment, error) {
	var c webpushConfig
	return buildAndroid(config, &c, "Web Push", func() []push.Environment { return c.Environments }, func() string { return c.CAPEM },
		func(roots *x509.CertPool) (push.Provider, error) {
			return webpush.New(webpush.Config{PrivateKey: c.PrivateKey, Subject: c.Subject, RootCAs: roots, Now: h.cfg.Now})
		})
}

// viewWebPush fills in what the API shows of a webpush credential: the
// public key (the pages' applicationServerKey) and the subject.
func viewWebPush(v *credentialView, config []byte) {
	var c webpushConfig
	_ = json.Unmarshal(config, &c)
	v.Auth, v.PublicKey, v.Subject, v.CustomCA = "vapid", c.PublicKey, c.Subject, c.CAPEM != ""
}
