package honor

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/heraldim/herald/internal/push"
)

// memTokens is a push.TokenStore in memory, as two nodes' providers see
// one store.
type memTokens struct {
	mu sync.Mutex
	m  map[push.TokenKey]push.AccessToken
}

func (s *memTokens) AccessToken(_ context.Context, k push.TokenKey) (push.AccessToken, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.m[k]
	return t, ok, nil
}

func (s *memTokens) PutAccessToken(_ context.Context, k push.TokenKey, t push.AccessToken) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !t.Expires.Before(s.m[k].Expires) {
		s.m[k] = t
	}
	return nil
}

// TestSharedToken: two providers (two nodes) on one token store fetch one
// token between them; one Honor refused is not taken back from the store.
func TestSharedToken(t *testing.T) {
	store := &memTokens{m: map[push.TokenKey]push.AccessToken{}}
	f := setup(t, func(c *Config) { c.Tokens = store })
	other, err := New(Config{AppID: appID, ClientID: clientID, ClientSecret: secret, BaseURL: f.emu.URL(), TokenURL: f.emu.TokenURL(),
		RootCAs: f.emu.CertPool(), Now: f.clock.Now, Tokens: store})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	alert := push.Notification{Token: f.token, Kind: push.KindAlert, Title: "t", Content: "c"}
	for _, p := range []*Provider{f.p, other, f.p, other} {
		if res, err := p.Send(context.Background(), alert); err != nil || res.Outcome != push.Delivered {
			t.Fatalf("Send: %+v %v", res, err)
		}
	}
	if g := f.emu.Stats().TokenGrants; g != 1 {
		t.Fatalf("grants for two providers on one store = %d, want 1", g)
	}
	if k := (push.TokenKey{Vendor: push.VendorHonor, Account: clientID, Secret: push.SecretHash(secret)}); store.m[k].Token == "" {
		t.Fatalf("no token stored under %+v", k)
	}
	f.clock.Advance(time.Minute)
	f.emu.ExpireAccessTokens()
	if res, _ := f.p.Send(context.Background(), alert); res.Outcome != push.AuthFailed {
		t.Fatalf("expired: %+v", res)
	}
	if res, err := f.p.Send(context.Background(), alert); err != nil || res.Outcome != push.Delivered {
		t.Fatalf("retry: %+v %v", res, err)
	}
	if g := f.emu.Stats().TokenGrants; g != 2 {
		t.Fatalf("grants = %d, want 2 (the refused token not reused)", g)
	}
	other.forget(other.cached()) // as if Honor had refused the other's copy too
	if res, err := other.Send(context.Background(), alert); err != nil || res.Outcome != push.Delivered {
		t.Fatalf("other: %+v %v", res, err)
	}
	if g := f.emu.Stats().TokenGrants; g != 2 {
		t.Fatalf("grants = %d, want 2: the other provider reuses the stored token", g)
	}
}
