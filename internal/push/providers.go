package push

import (
	"context"
	"sync"
)

// ProviderSet holds each app's providers by vendor and environment. It is
// filled from the apps' configured credentials; a vendor without one has
// no provider, and its pushes fail with ErrVendorNotConfigured in the trace.
type ProviderSet struct {
	mu sync.RWMutex
	m  map[providerKey]Provider
}

type providerKey struct {
	app    string
	vendor Vendor
	env    Environment
}

var _ Providers = (*ProviderSet)(nil)

// NewProviderSet returns an empty set.
func NewProviderSet() *ProviderSet { return &ProviderSet{m: map[providerKey]Provider{}} }

// Set installs (or with nil removes) the provider of an app's vendor and
// environment.
func (s *ProviderSet) Set(appID string, v Vendor, env Environment, p Provider) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := providerKey{appID, v, env}
	if p == nil {
		delete(s.m, k)
		return
	}
	s.m[k] = p
}

// Provider implements Providers.
func (s *ProviderSet) Provider(_ context.Context, appID string, v Vendor, env Environment) (Provider, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if p, ok := s.m[providerKey{appID, v, env}]; ok {
		return p, nil
	}
	return nil, ErrVendorNotConfigured
}
