package push

import (
	"context"
	"errors"
	"fmt"
)

// Registration is what a device reports at login to receive pushes.
type Registration struct {
	Vendor      Vendor
	Token       string
	VoIPToken   string
	Environment Environment
	Platform    string
	BundleID    string
	// PushID, when given, must be the PushID of this token and environment:
	// a mismatch means the client mixed up its registrations.
	PushID     string
	Enabled    bool
	Foreground int
}

// ErrInvalidRegistration: a registration names an unknown vendor or
// environment, has no token or bundle, or a PushID that is not its own.
var ErrInvalidRegistration = errors.New("push: invalid registration")

// MaxTokenLen bounds vendor tokens (APNs tokens are 64 hex characters today
// but Apple may lengthen them; FCM tokens are about 160 characters).
const MaxTokenLen = 512

var vendors = map[Vendor]bool{
	VendorAPNs: true, VendorFCM: true, VendorHuawei: true, VendorXiaomi: true, VendorOPPO: true, VendorVivo: true,
	VendorHarmony: true,
	VendorHonor:   true,
	VendorWebPush: true,
}

// Validate checks a registration and returns its PushID.
func (r Registration) Validate(appID string) (string, error) {
	switch {
	case !vendors[r.Vendor]:
		return "", fmt.Errorf("%w: unknown vendor %q", ErrInvalidRegistration, r.Vendor)
	case r.Environment != Production && r.Environment != Development:
		return "", fmt.Errorf("%w: environment must be production or development", ErrInvalidRegistration)
	case r.Vendor != VendorWebPush && (r.Token == "" || len(r.Token) > MaxTokenLen || len(r.VoIPToken) > MaxTokenLen):
		return "", fmt.Errorf("%w: token must be 1 to %d characters", ErrInvalidRegistration, MaxTokenLen)
	case r.Vendor == VendorWebPush && (r.Token == "" || len(r.Token) > MaxWebTokenLen):
		return "", fmt.Errorf("%w: a web push token must be 1 to %d characters", ErrInvalidRegistration, MaxWebTokenLen)
	case r.VoIPToken != "" && r.Vendor != VendorAPNs:
		return "", fmt.Errorf("%w: only APNs devices have a VoIP token", ErrInvalidRegistration)
	case r.BundleID == "" || len(r.BundleID) > 255:
		return "", fmt.Errorf("%w: bundle ID (or package name) is required", ErrInvalidRegistration)
	}
	token, err := r.canonicalToken()
	if err != nil {
		return "", err
	}
	id := NewPushID(appID, r.Vendor, r.Environment, token)
	if r.PushID != "" && r.PushID != id {
		return "", fmt.Errorf("%w: pushID does not belong to this token and environment", ErrInvalidRegistration)
	}
	return id, nil
}

// canonicalToken is the registration's token as stored (CanonicalToken).
func (r Registration) canonicalToken() (string, error) { return CanonicalToken(r.Vendor, r.Token) }

// Registry keeps devices and their bindings to users.
type Registry struct {
	store Store
}

// NewRegistry returns a registry over store.
func NewRegistry(store Store) *Registry { return &Registry{store: store} }

// Bind registers the device and binds it to userID, taking it from any user
// it was bound to (promise 6: one user per device). It returns the PushID.
func (g *Registry) Bind(ctx context.Context, appID, userID string, r Registration) (string, error) {
	d, err := r.Device(appID, userID)
	if err != nil {
		return "", err
	}
	if err := g.store.RegisterDevice(ctx, d); err != nil {
		return "", fmt.Errorf("push: bind: %w", err)
	}
	return d.PushID, nil
}

// Device validates the registration and returns the device it registers in
// appID, bound to userID (none when empty).
func (r Registration) Device(appID, userID string) (Device, error) {
	id, err := r.Validate(appID)
	if err != nil {
		return Device{}, err
	}
	token, _ := r.canonicalToken() // Validate parsed it
	return Device{AppID: appID, PushID: id, Vendor: r.Vendor, Token: token, VoIPToken: r.VoIPToken,
		Environment: r.Environment, Platform: r.Platform, BundleID: r.BundleID, UserID: userID,
		Enabled: r.Enabled, Foreground: r.Foreground}, nil
}

// Unbind removes the device's binding to userID (logout): the device gets
// none of that user's pushes from now on.
func (g *Registry) Unbind(ctx context.Context, appID, userID, pushID string) error {
	if err := g.store.UnbindDevice(ctx, appID, pushID, userID); err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("push: unbind: %w", err)
	}
	return nil
}

// Unregister removes the device if it is bound to userID: it gets no push
// at all from now on.
func (g *Registry) Unregister(ctx context.Context, appID, userID, pushID string) error {
	d, err := g.store.Device(ctx, appID, pushID)
	if err != nil {
		return fmt.Errorf("push: unregister: %w", err)
	}
	if d.UserID != userID {
		return fmt.Errorf("push: unregister: %w", ErrNotFound)
	}
	if err := g.store.DeleteDevice(ctx, appID, pushID, "unregistered"); err != nil {
		return fmt.Errorf("push: unregister: %w", err)
	}
	return nil
}
