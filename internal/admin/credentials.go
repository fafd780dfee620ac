package admin

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/heraldim/herald/internal/im"
	"github.com/heraldim/herald/internal/protocol"
	"github.com/heraldim/herald/internal/push"
	"github.com/heraldim/herald/internal/push/apns"
	"github.com/heraldim/herald/internal/push/fcm"
	"github.com/heraldim/herald/internal/push/huawei"
	"github.com/heraldim/herald/internal/push/oppo"
	"github.com/heraldim/herald/internal/push/vivo"
	"github.com/heraldim/herald/internal/push/xiaomi"
)

// apnsConfig is the body of PUT .../credentials/apns and what is stored.
// Exactly one credential: token (KeyPEM, KeyID, TeamID) or certificate
// (CertPEM, CertKeyPEM).
type apnsConfig struct {
	Environments   []push.Environment `json:"environments,omitempty"`
	KeyPEM         string             `json:"keyPEM,omitempty"`
	KeyID          string             `json:"keyID,omitempty"`
	TeamID         string             `json:"teamID,omitempty"`
	CertPEM        string             `json:"certPEM,omitempty"`
	CertKeyPEM     string             `json:"certKeyPEM,omitempty"`
	ProductionURL  string             `json:"productionURL,omitempty"`
	DevelopmentURL string             `json:"developmentURL,omitempty"`
	CAPEM          string             `json:"caPEM,omitempty"`
	CheckTopic     string             `json:"checkTopic,omitempty"`
}

// fcmConfig is the body of PUT .../credentials/fcm and what is stored.
// ServiceAccountJSON is the key file either as a JSON string or as the
// object itself.
type fcmConfig struct {
	Environments       []push.Environment `json:"environments,omitempty"`
	ServiceAccountJSON json.RawMessage    `json:"serviceAccountJSON"`
	BaseURL            string             `json:"baseURL,omitempty"`
	TokenURL           string             `json:"tokenURL,omitempty"`
	CAPEM              string             `json:"caPEM,omitempty"`
	// DefaultChannelID is the Android notification channel of pushes
	// whose resource names none (or that name no resource).
	DefaultChannelID string `json:"defaultChannelID,omitempty"`
}

// huaweiConfig is the body of PUT .../credentials/huawei: the Push Kit
// app's OAuth2 client credentials.
type huaweiConfig struct {
	Environments   []push.Environment `json:"environments,omitempty"`
	AppID          string             `json:"appID"`
	ClientSecret   string             `json:"clientSecret"`
	SelfClassified bool               `json:"selfClassified,omitempty"`
	// BadgeClass is the app's launcher Activity, full class name: Huawei
	// sets a badge only with it. Required while a resource asks for a
	// badge.
	BadgeClass string `json:"badgeClass,omitempty"`
	BaseURL    string `json:"baseURL,omitempty"`
	TokenURL   string `json:"tokenURL,omitempty"`
	CAPEM      string `json:"caPEM,omitempty"`
}

// xiaomiConfig is the body of PUT .../credentials/xiaomi.
type xiaomiConfig struct {
	Environments []push.Environment `json:"environments,omitempty"`
	AppSecret    string             `json:"appSecret"`
	PackageName  string             `json:"packageName"`
	ChannelID    string             `json:"channelID,omitempty"`
	BaseURL      string             `json:"baseURL,omitempty"`
	CAPEM        string             `json:"caPEM,omitempty"`
}

// oppoConfig is the body of PUT .../credentials/oppo.
type oppoConfig struct {
	Environments         []push.Environment `json:"environments,omitempty"`
	AppKey               string             `json:"appKey"`
	MasterSecret         string             `json:"masterSecret"`
	ChannelID            string             `json:"channelID,omitempty"`
	Category             string             `json:"category,omitempty"`
	NotifyLevel          int                `json:"notifyLevel,omitempty"`
	PrivateMsgTemplateID string             `json:"privateMsgTemplateID,omitempty"`
	BaseURL              string             `json:"baseURL,omitempty"`
	CAPEM                string             `json:"caPEM,omitempty"`
}

// vivoConfig is the body of PUT .../credentials/vivo.
type vivoConfig struct {
	Environments []push.Environment `json:"environments,omitempty"`
	AppID        string             `json:"appID"`
	AppKey       string             `json:"appKey"`
	AppSecret    string             `json:"appSecret"`
	Category     string             `json:"category,omitempty"`
	BaseURL      string             `json:"baseURL,omitempty"`
	CAPEM        string             `json:"caPEM,omitempty"`
}

// credentialView is what the API shows of a credential: identifiers,
// never key material.
type credentialView struct {
	Vendor       push.Vendor        `json:"vendor"`
	Environments []push.Environment `json:"environments"`
	// Auth is "token" or "certificate" (APNs), "serviceAccount" (FCM).
	Auth          string     `json:"auth"`
	KeyID         string     `json:"keyID,omitempty"`
	TeamID        string     `json:"teamID,omitempty"`
	CertSubject   string     `json:"certSubject,omitempty"`
	CertExpiresAt *time.Time `json:"certExpiresAt,omitempty"`
	ProjectID     string     `json:"projectID,omitempty"`
	// AppID, AppKey, PackageName, ChannelID and Category identify the
	// Android vendors' credentials (their secrets are never shown).
	AppID       string `json:"appID,omitempty"`
	AppKey      string `json:"appKey,omitempty"`
	ClientID    string `json:"clientID,omitempty"` // Honor's OAuth client; HarmonyOS's app (revoke)
	PackageName string `json:"packageName,omitempty"`
	ChannelID   string `json:"channelID,omitempty"`
	Category    string `json:"category,omitempty"`
	// NotifyLevel is OPPO's reminder level sent (the default when the
	// credential sets none).
	NotifyLevel int `json:"notifyLevel,omitempty"`
	// SelfClassified and BadgeClass are Huawei's: the IM category is sent,
	// and the launcher Activity a badge needs.
	SelfClassified bool   `json:"selfClassified,omitempty"`
	BadgeClass     string `json:"badgeClass,omitempty"`
	// DefaultChannelID is FCM's channel for pushes without a resource's.
	DefaultChannelID string `json:"defaultChannelID,omitempty"`
	ClientEmail      string `json:"clientEmail,omitempty"`
	PrivateKeyID     string `json:"privateKeyID,omitempty"`
	// PublicKey and Subject are Web Push's VAPID public key (the pages'
	// applicationServerKey) and subject.
	PublicKey string `json:"publicKey,omitempty"`
	Subject   string `json:"subject,omitempty"`
	// URLs are shown when they replace the vendor's own.
	ProductionURL  string    `json:"productionURL,omitempty"`
	DevelopmentURL string    `json:"developmentURL,omitempty"`
	BaseURL        string    `json:"baseURL,omitempty"`
	TokenURL       string    `json:"tokenURL,omitempty"`
	CustomCA       bool      `json:"customCA,omitempty"`
	CheckTopic     string    `json:"checkTopic,omitempty"`
	CreatedAt      time.Time `json:"createdAt"`
	UpdatedAt      time.Time `json:"updatedAt"`
	// Active says whether the node pushes with it; LoadError says why not.
	Active    bool   `json:"active"`
	LoadError string `json:"loadError,omitempty"`
	// Failing holds, by environment, why the vendor refused the credential
	// during delivery.
	Failing map[push.Environment]string `json:"failing,omitempty"`
}

// credentialList is the answer of GET .../credentials.
type credentialList struct {
	Credentials []credentialView `json:"credentials"`
}

// checkReply is the answer of POST .../credentials/{vendor}/check.
type checkReply struct {
	OK bool `json:"ok"`
	// Refused is set when the check failed: true when the vendor refused
	// the credential.
	Refused   *bool  `json:"refused,omitempty"`
	Error     string `json:"error,omitempty"`
	LatencyMs int64  `json:"latencyMs"`
}

// supported are the vendors whose credentials the API takes today.
var supported = map[push.Vendor]bool{
	push.VendorAPNs: true, push.VendorFCM: true,
	push.VendorHuawei: true, push.VendorXiaomi: true, push.VendorOPPO: true, push.VendorVivo: true,
	push.VendorHarmony: true,
	push.VendorHonor:   true,
	push.VendorWebPush: true,
}

func pathVendor(v string) (push.Vendor, error) {
	if !supported[push.Vendor(v)] {
		return "", protocol.Errorf(protocol.CodeInvalidArgument, "vendor %q is not supported (apns, fcm, huawei, xiaomi, oppo, vivo, harmony, honor, webpush)", v)
	}
	return push.Vendor(v), nil
}

// environments checks and normalizes a credential's environment list;
// empty means both.
func environments(in []push.Environment) ([]push.Environment, error) {
	if len(in) == 0 {
		return []push.Environment{push.Development, push.Production}, nil
	}
	var out []push.Environment
	for _, e := range in {
		if e != push.Development && e != push.Production {
			return nil, protocol.Errorf(protocol.CodeInvalidArgument, "environment %q: want development or production", e)
		}
		if !slices.Contains(out, e) {
			out = append(out, e)
		}
	}
	slices.Sort(out)
	return out, nil
}

func caPool(caPEM string) (*x509.CertPool, error) {
	if caPEM == "" {
		return nil, nil // the system roots, which the vendors' hosts need
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM([]byte(caPEM)) {
		return nil, protocol.Errorf(protocol.CodeInvalidArgument, "caPEM holds no PEM certificate")
	}
	return pool, nil
}

// serviceAccount returns the key file of an FCM config, given as a JSON
// string or as the object.
func serviceAccount(raw json.RawMessage) ([]byte, error) {
	raw = bytes.TrimSpace(raw)
	switch {
	case len(raw) > 0 && raw[0] == '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, protocol.Errorf(protocol.CodeInvalidArgument, "serviceAccountJSON: not a JSON string")
		}
		return []byte(s), nil
	case len(raw) > 0 && raw[0] == '{':
		return raw, nil
	}
	return nil, protocol.Errorf(protocol.CodeInvalidCredential, "serviceAccountJSON is required: the service account key file, as a string or an object")
}

// providerError turns a provider constructor's error into the catalogue's:
// a credential that cannot be used, or another bad field. The providers'
// messages never contain key material.
func providerError(err error) error {
	if errors.Is(err, push.ErrCredential) {
		return protocol.Errorf(protocol.CodeInvalidCredential, "%s", err.Error())
	}
	return protocol.Errorf(protocol.CodeInvalidArgument, "%s", err.Error())
}

// build makes the provider of a stored (or about to be stored) config.
// Errors are *protocol.Error.
func (h *Handler) build(v push.Vendor, config []byte) (push.Provider, []push.Environment, error) {
	switch v {
	case push.VendorAPNs:
		var c apnsConfig
		if err := json.Unmarshal(config, &c); err != nil {
			return nil, nil, protocol.Errorf(protocol.CodeInvalidArgument, "unreadable APNs config")
		}
		envs, err := environments(c.Environments)
		if err != nil {
			return nil, nil, err
		}
		roots, err := caPool(c.CAPEM)
		if err != nil {
			return nil, nil, err
		}
		p, err := apns.New(apns.Config{
			ProductionURL: c.ProductionURL, DevelopmentURL: c.DevelopmentURL,
			KeyPEM: []byte(c.KeyPEM), KeyID: c.KeyID, TeamID: c.TeamID,
			CertPEM: []byte(c.CertPEM), CertKeyPEM: []byte(c.CertKeyPEM),
			RootCAs: roots, Now: h.cfg.Now, Tokens: h.tokens,
			CheckTopic: c.CheckTopic, CheckEnvironments: envs,
		})
		if err != nil {
			return nil, nil, providerError(err)
		}
		return p, envs, nil
	case push.VendorFCM:
		var c fcmConfig
		if err := json.Unmarshal(config, &c); err != nil {
			return nil, nil, protocol.Errorf(protocol.CodeInvalidArgument, "unreadable FCM config")
		}
		envs, err := environments(c.Environments)
		if err != nil {
			return nil, nil, err
		}
		roots, err := caPool(c.CAPEM)
		if err != nil {
			return nil, nil, err
		}
		sa, err := serviceAccount(c.ServiceAccountJSON)
		if err != nil {
			return nil, nil, err
		}
		if !push.ValidChannelID(c.DefaultChannelID) {
			return nil, nil, protocol.Errorf(protocol.CodeInvalidArgument, "defaultChannelID must be up to %d characters of A-Z a-z 0-9 _ - .", push.MaxResourceOptionLen)
		}
		p, err := fcm.New(fcm.Config{ServiceAccountJSON: sa, BaseURL: c.BaseURL, TokenURL: c.TokenURL, RootCAs: roots, Now: h.cfg.Now,
			DefaultChannelID: c.DefaultChannelID, Tokens: h.d.AccessTokens, Log: h.d.Log})
		if err != nil {
			return nil, nil, providerError(err)
		}
		return p, envs, nil
	case push.VendorHuawei:
		var c huaweiConfig
		return buildAndroid(config, &c, "Huawei", func() []push.Environment { return c.Environments }, func() string { return c.CAPEM },
			func(roots *x509.CertPool) (push.Provider, error) {
				if c.BadgeClass != "" && !javaClassName(c.BadgeClass) {
					return nil, errors.New("badgeClass must be the launcher Activity's full class name, such as com.example.chat.MainActivity")
				}
				return huawei.New(huawei.Config{AppID: c.AppID, ClientSecret: c.ClientSecret, SelfClassified: c.SelfClassified,
					BadgeClass: c.BadgeClass, BaseURL: c.BaseURL, TokenURL: c.TokenURL, RootCAs: roots, Now: h.cfg.Now,
					Tokens: h.d.AccessTokens, Log: h.d.Log})
			})
	case push.VendorXiaomi:
		var c xiaomiConfig
		return buildAndroid(config, &c, "Xiaomi", func() []push.Environment { return c.Environments }, func() string { return c.CAPEM },
			func(roots *x509.CertPool) (push.Provider, error) {
				return xiaomi.New(xiaomi.Config{AppSecret: c.AppSecret, PackageName: c.PackageName, ChannelID: c.ChannelID,
					BaseURL: c.BaseURL, RootCAs: roots, Now: h.cfg.Now})
			})
	case push.VendorOPPO:
		var c oppoConfig
		return buildAndroid(config, &c, "OPPO", func() []push.Environment { return c.Environments }, func() string { return c.CAPEM },
			func(roots *x509.CertPool) (push.Provider, error) {
				return oppo.New(oppo.Config{AppKey: c.AppKey, MasterSecret: c.MasterSecret, ChannelID: c.ChannelID,
					Category: c.Category, NotifyLevel: c.NotifyLevel, PrivateMsgTemplateID: c.PrivateMsgTemplateID,
					BaseURL: c.BaseURL, RootCAs: roots, Now: h.cfg.Now, Tokens: h.d.AccessTokens, Log: h.d.Log})
			})
	case push.VendorVivo:
		var c vivoConfig
		return buildAndroid(config, &c, "vivo", func() []push.Environment { return c.Environments }, func() string { return c.CAPEM },
			func(roots *x509.CertPool) (push.Provider, error) {
				return vivo.New(vivo.Config{AppID: c.AppID, AppKey: c.AppKey, AppSecret: c.AppSecret, Category: c.Category,
					BaseURL: c.BaseURL, RootCAs: roots, Now: h.cfg.Now, Tokens: h.d.AccessTokens, Log: h.d.Log})
			})
	case push.VendorHarmony:
		return h.buildHarmony(config)
	case push.VendorHonor:
		return h.buildHonor(config)
	case push.VendorWebPush:
		return h.buildWebPush(config)
	}
	return nil, nil, protocol.Errorf(protocol.CodeInvalidArgument, "vendor %q is not supported", v)
}

// environmental is a credential config with an environment list.
type environmental interface{ envs() *[]push.Environment }

func (c *huaweiConfig) envs() *[]push.Environment { return &c.Environments }
func (c *xiaomiConfig) envs() *[]push.Environment { return &c.Environments }
func (c *oppoConfig) envs() *[]push.Environment   { return &c.Environments }
func (c *vivoConfig) envs() *[]push.Environment   { return &c.Environments }

// decodeStored decodes a credential body into c, normalizes its
// environments and returns what is stored.
func decodeStored(w http.ResponseWriter, r *http.Request, c environmental) ([]byte, error) {
	if err := decode(w, r, c); err != nil {
		return nil, err
	}
	envs, err := environments(*c.envs())
	if err != nil {
		return nil, err
	}
	*c.envs() = envs
	return json.Marshal(c)
}

// buildAndroid builds the provider of one of the Android vendors' configs
// (and HarmonyOS's): decode into c, check its environments and CA, then
// construct. A construct error that is already the catalogue's (a field
// construct checks itself) is returned as it is; others go through
// providerError.
func buildAndroid(config []byte, c any, name string, envsOf func() []push.Environment, caOf func() string,
	construct func(*x509.CertPool) (push.Provider, error)) (push.Provider, []push.Environment, error) {
	if err := json.Unmarshal(config, c); err != nil {
		return nil, nil, protocol.Errorf(protocol.CodeInvalidArgument, "unreadable %s config", name)
	}
	envs, err := environments(envsOf())
	if err != nil {
		return nil, nil, err
	}
	roots, err := caPool(caOf())
	if err != nil {
		return nil, nil, err
	}
	p, err := construct(roots)
	if err != nil {
		if pe := (*protocol.Error)(nil); errors.As(err, &pe) {
			return nil, nil, err
		}
		return nil, nil, providerError(err)
	}
	return p, envs, nil
}

func closeProvider(p push.Provider) {
	if c, ok := p.(interface{ Close() }); ok {
		c.Close()
	}
}

// install makes lp the app's provider for vendor v, replacing (and
// closing) the one it had; nil lp removes it.
func (h *Handler) install(appID string, v push.Vendor, lp *liveProvider) {
	h.mu.Lock()
	defer h.mu.Unlock()
	k := liveKey{appID, v}
	old := h.live[k]
	for _, env := range []push.Environment{push.Development, push.Production} {
		var p push.Provider
		if lp != nil && lp.p != nil && slices.Contains(lp.envs, env) {
			p = lp.p
		}
		h.d.Providers.Set(appID, v, env, p)
	}
	if lp == nil {
		delete(h.live, k)
	} else {
		h.live[k] = lp
	}
	if old != nil && old.p != nil {
		// In-flight sends finish: Close drops idle connections only.
		closeProvider(old.p)
	}
	h.d.Failures.ResetFailing(appID, v)
}

// LoadProviders builds the providers of every app's stored credentials
// and installs them. A stored credential that no longer builds (its
// certificate expired while the server was down) is logged and listed
// with its load error; it does not stop the server.
func (h *Handler) LoadProviders(ctx context.Context) error {
	creds, err := h.d.Credentials.Credentials(ctx, "")
	if err != nil {
		return fmt.Errorf("admin: loading credentials: %w", err)
	}
	for _, c := range creds {
		h.installStored(c)
	}
	return nil
}

// installStored builds and installs the provider of a stored credential;
// one that does not build is installed with its load error.
func (h *Handler) installStored(c push.Credential) {
	p, envs, err := h.build(c.Vendor, c.Config)
	lp := &liveProvider{p: p, envs: envs}
	if err != nil {
		lp.err = protocol.AsError(err).Message
		h.d.Log.Error("stored push credential unusable", "app", c.AppID, "vendor", c.Vendor, "err", lp.err)
	}
	h.install(c.AppID, c.Vendor, lp)
}

// CredentialEvents is told of the push credential changes made through
// this node's admin API (Deps.CredentialEvents).
type CredentialEvents interface {
	CredentialsChanged(appID string)
}

// ReloadProviders reads appID's stored credentials again and installs
// them, removing the providers of vendors it no longer has a credential
// for: another node of the cluster changed them.
func (h *Handler) ReloadProviders(ctx context.Context, appID string) error {
	h.writeMu.Lock()
	defer h.writeMu.Unlock()
	creds, err := h.d.Credentials.Credentials(ctx, appID)
	if err != nil {
		return fmt.Errorf("admin: reloading credentials of %s: %w", appID, err)
	}
	stored := map[push.Vendor]bool{}
	for _, c := range creds {
		stored[c.Vendor] = true
		h.installStored(c)
	}
	for _, v := range push.Vendors {
		h.mu.Lock()
		_, live := h.live[liveKey{appID, v}]
		h.mu.Unlock()
		if live && !stored[v] {
			h.install(appID, v, nil)
		}
	}
	return nil
}

// credentialsChanged tells Deps.CredentialEvents, if set.
func (h *Handler) credentialsChanged(appID string) {
	if h.d.CredentialEvents != nil {
		h.d.CredentialEvents.CredentialsChanged(appID)
	}
}

// putCredential validates a credential by building its provider, stores
// it and installs the provider. Nothing is stored when it does not build.
func (h *Handler) putCredential(w http.ResponseWriter, r *http.Request, app im.App) error {
	v, err := pathVendor(r.PathValue("vendor"))
	if err != nil {
		return err
	}
	var stored []byte
	switch v {
	case push.VendorAPNs:
		var c apnsConfig
		if err := decode(w, r, &c); err != nil {
			return err
		}
		if c.Environments, err = environments(c.Environments); err != nil {
			return err
		}
		stored, err = json.Marshal(c)
	case push.VendorFCM:
		var c fcmConfig
		if err := decode(w, r, &c); err != nil {
			return err
		}
		if c.Environments, err = environments(c.Environments); err != nil {
			return err
		}
		var sa []byte
		if sa, err = serviceAccount(c.ServiceAccountJSON); err != nil {
			return err
		}
		// Stored as a JSON string: the key file byte for byte.
		if c.ServiceAccountJSON, err = json.Marshal(string(sa)); err != nil {
			return err
		}
		stored, err = json.Marshal(c)
	case push.VendorHuawei:
		stored, err = decodeStored(w, r, &huaweiConfig{})
	case push.VendorXiaomi:
		stored, err = decodeStored(w, r, &xiaomiConfig{})
	case push.VendorOPPO:
		stored, err = decodeStored(w, r, &oppoConfig{})
	case push.VendorVivo:
		stored, err = decodeStored(w, r, &vivoConfig{})
	case push.VendorHarmony:
		stored, err = decodeHarmony(w, r)
	case push.VendorHonor:
		stored, err = decodeStored(w, r, &honorConfig{})
	case push.VendorWebPush:
		var c webpushConfig
		if err = decode(w, r, &c); err == nil {
			stored, err = h.decodeWebPush(r.Context(), app.ID, &c)
		}
	}
	if err != nil {
		return fmt.Errorf("admin: encoding credential: %w", err)
	}
	p, envs, err := h.build(v, stored)
	if err != nil {
		return err
	}
	cred := push.Credential{AppID: app.ID, Vendor: v, Environments: envs, Config: stored}
	h.writeMu.Lock()
	defer h.writeMu.Unlock()
	if v == push.VendorHuawei {
		if err := h.huaweiBadgeClassKept(r.Context(), app.ID, stored); err != nil {
			closeProvider(p)
			return err
		}
	}
	if err := h.d.Credentials.PutCredential(r.Context(), cred); err != nil {
		closeProvider(p)
		return fmt.Errorf("admin: storing credential: %w", err)
	}
	h.install(app.ID, v, &liveProvider{p: p, envs: envs})
	h.credentialsChanged(app.ID)
	h.d.Log.Info("push credential set", "app", app.ID, "vendor", v, "environments", envs)
	creds, err := h.d.Credentials.Credentials(r.Context(), app.ID)
	if err != nil {
		return fmt.Errorf("admin: reading credentials: %w", err)
	}
	for _, c := range creds {
		if c.Vendor == v {
			writeJSON(w, http.StatusOK, h.view(c, h.d.Failures.Failing()))
			return nil
		}
	}
	return fmt.Errorf("admin: credential %s of %s vanished after it was stored", v, app.ID)
}

func (h *Handler) listCredentials(w http.ResponseWriter, r *http.Request, app im.App) error {
	creds, err := h.d.Credentials.Credentials(r.Context(), app.ID)
	if err != nil {
		return fmt.Errorf("admin: reading credentials: %w", err)
	}
	failing := h.d.Failures.Failing()
	out := make([]credentialView, 0, len(creds))
	for _, c := range creds {
		out = append(out, h.view(c, failing))
	}
	writeJSON(w, http.StatusOK, credentialList{Credentials: out})
	return nil
}

func (h *Handler) deleteCredential(w http.ResponseWriter, r *http.Request, app im.App) error {
	v, err := pathVendor(r.PathValue("vendor"))
	if err != nil {
		return err
	}
	h.writeMu.Lock()
	defer h.writeMu.Unlock()
	err = h.d.Credentials.DeleteCredential(r.Context(), app.ID, v)
	if errors.Is(err, push.ErrNotFound) {
		return protocol.Errorf(protocol.CodeNotFound, "the app has no %s credential", v)
	}
	if err != nil {
		return fmt.Errorf("admin: deleting credential: %w", err)
	}
	h.install(app.ID, v, nil)
	h.credentialsChanged(app.ID)
	h.d.Log.Info("push credential removed", "app", app.ID, "vendor", v)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// checkCredential proves the installed credential with the vendor.
func (h *Handler) checkCredential(w http.ResponseWriter, r *http.Request, app im.App) error {
	v, err := pathVendor(r.PathValue("vendor"))
	if err != nil {
		return err
	}
	h.mu.Lock()
	lp := h.live[liveKey{app.ID, v}]
	h.mu.Unlock()
	if lp == nil {
		return protocol.Errorf(protocol.CodeNotFound, "the app has no %s credential", v)
	}
	if lp.p == nil {
		return protocol.Errorf(protocol.CodeInvalidCredential, "the stored %s credential cannot be used: %s", v, lp.err)
	}
	checker, ok := lp.p.(push.Checker)
	if !ok {
		return protocol.Errorf(protocol.CodeInvalidArgument, "%s credentials cannot be checked", v)
	}
	ctx, cancel := h.vendorTimeout(r.Context())
	defer cancel()
	start := time.Now()
	err = checker.Check(ctx)
	res := checkReply{OK: err == nil, LatencyMs: time.Since(start).Milliseconds()}
	if err != nil {
		// refused: the vendor said no to the credential; otherwise the
		// vendor could not say (network, throttling, server error).
		refused := errors.Is(err, push.ErrCredential)
		res.Refused, res.Error = &refused, err.Error()
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

// view describes a stored credential without its secrets.
func (h *Handler) view(c push.Credential, failing map[string]string) credentialView {
	v := credentialView{Vendor: c.Vendor, Environments: c.Environments, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
	if v.Environments == nil {
		v.Environments = []push.Environment{}
	}
	switch c.Vendor {
	case push.VendorAPNs:
		var a apnsConfig
		_ = json.Unmarshal(c.Config, &a)
		v.KeyID, v.TeamID, v.CheckTopic = a.KeyID, a.TeamID, a.CheckTopic
		v.ProductionURL, v.DevelopmentURL, v.CustomCA = a.ProductionURL, a.DevelopmentURL, a.CAPEM != ""
		v.Auth = "token"
		if a.CertPEM != "" {
			v.Auth = "certificate"
			if b, _ := pem.Decode([]byte(a.CertPEM)); b != nil {
				if cert, err := x509.ParseCertificate(b.Bytes); err == nil {
					exp := cert.NotAfter.UTC()
					v.CertSubject, v.CertExpiresAt = cert.Subject.String(), &exp
				}
			}
		}
	case push.VendorFCM:
		var f fcmConfig
		_ = json.Unmarshal(c.Config, &f)
		v.Auth, v.BaseURL, v.TokenURL, v.CustomCA = "serviceAccount", f.BaseURL, f.TokenURL, f.CAPEM != ""
		v.DefaultChannelID = f.DefaultChannelID
		if sa, err := serviceAccount(f.ServiceAccountJSON); err == nil {
			var ids struct {
				ProjectID    string `json:"project_id"`
				ClientEmail  string `json:"client_email"`
				PrivateKeyID string `json:"private_key_id"`
			}
			_ = json.Unmarshal(sa, &ids)
			v.ProjectID, v.ClientEmail, v.PrivateKeyID = ids.ProjectID, ids.ClientEmail, ids.PrivateKeyID
		}
	case push.VendorHuawei:
		var hc huaweiConfig
		_ = json.Unmarshal(c.Config, &hc)
		v.Auth, v.AppID, v.BaseURL, v.TokenURL, v.CustomCA = "clientCredentials", hc.AppID, hc.BaseURL, hc.TokenURL, hc.CAPEM != ""
		v.SelfClassified, v.BadgeClass = hc.SelfClassified, hc.BadgeClass
	case push.VendorXiaomi:
		var xc xiaomiConfig
		_ = json.Unmarshal(c.Config, &xc)
		v.Auth, v.PackageName, v.ChannelID, v.BaseURL, v.CustomCA = "appSecret", xc.PackageName, xc.ChannelID, xc.BaseURL, xc.CAPEM != ""
	case push.VendorOPPO:
		var oc oppoConfig
		_ = json.Unmarshal(c.Config, &oc)
		v.Auth, v.AppKey, v.ChannelID, v.Category, v.BaseURL, v.CustomCA = "masterSecret", oc.AppKey, oc.ChannelID, oc.Category, oc.BaseURL, oc.CAPEM != ""
		// What is sent: the provider's defaults when the credential sets none.
		v.NotifyLevel = oc.NotifyLevel
		if v.Category == "" {
			v.Category = oppo.DefaultCategory
		}
		if v.NotifyLevel == 0 {
			v.NotifyLevel = oppo.DefaultNotifyLevel
		}
	case push.VendorVivo:
		var vc vivoConfig
		_ = json.Unmarshal(c.Config, &vc)
		v.Auth, v.AppID, v.AppKey, v.Category, v.BaseURL, v.CustomCA = "appSecret", vc.AppID, vc.AppKey, vc.Category, vc.BaseURL, vc.CAPEM != ""
	case push.VendorHarmony:
		viewHarmony(&v, c.Config)
	case push.VendorHonor:
		honorView(c.Config, &v)
	case push.VendorWebPush:
		viewWebPush(&v, c.Config)
	}
	h.mu.Lock()
	if lp := h.live[liveKey{c.AppID, c.Vendor}]; lp != nil {
		v.Active, v.LoadError = lp.p != nil, lp.err
	}
	h.mu.Unlock()
	for _, env := range c.Environments {
		if why, ok := failing[c.AppID+"/"+string(c.Vendor)+"/"+string(env)]; ok {
			if v.Failing == nil {
				v.Failing = map[push.Environment]string{}
			}
			v.Failing[env] = why
		}
	}
	return v
}

// javaClassName reports whether s is a full Java class name: dotted
// identifiers with at least a package ("com.example.MainActivity"), at most
// 255 bytes.
func javaClassName(s string) bool {
	if len(s) > 255 || !strings.Contains(s, ".") {
		return false
	}
	for _, part := range strings.Split(s, ".") {
		if part == "" {
			return false
		}
		for i, r := range part {
			letter := r == '_' || r == '$' || unicode.IsLetter(r)
			if !letter && (i == 0 || !unicode.IsDigit(r)) {
				return false
			}
		}
	}
	return true
}

// huaweiBadgeClassKept refuses a Huawei credential without a badge class
// while one of the app's resources asks for a badge: Huawei refuses such a
// badge (80100001), and the provider would have to drop every badge the
// resource asks for. The caller holds writeMu.
func (h *Handler) huaweiBadgeClassKept(ctx context.Context, appID string, config []byte) error {
	var c huaweiConfig
	if err := json.Unmarshal(config, &c); err != nil {
		return fmt.Errorf("admin: reading a Huawei config: %w", err)
	}
	if c.BadgeClass != "" {
		return nil
	}
	list, err := h.d.Resources.Resources(ctx, appID)
	if err != nil {
		return fmt.Errorf("admin: resources: %w", err)
	}
	for _, res := range list {
		if res.Spec.Badge {
			return protocol.Errorf(protocol.CodeInvalidCredential,
				"badgeClass is required: resource %q asks for a badge, and Huawei sets one only with the app's launcher Activity (full class name)", res.ID)
		}
	}
	return nil
}

// huaweiLacksBadgeClass reports whether the app has a Huawei credential
// without a badge class. The caller holds writeMu.
func (h *Handler) huaweiLacksBadgeClass(ctx context.Context, appID string) (bool, error) {
	creds, err := h.d.Credentials.Credentials(ctx, appID)
	if err != nil {
		return false, fmt.Errorf("admin: reading credentials: %w", err)
	}
	for _, c := range creds {
		if c.Vendor == push.VendorHuawei {
			var hc huaweiConfig
			_ = json.Unmarshal(c.Config, &hc) // an unreadable one has no class either
			return hc.BadgeClass == "", nil
		}
	}
	return false, nil
}
