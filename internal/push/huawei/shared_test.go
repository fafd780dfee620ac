package huawei

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	emu "github.com/heraldim/herald/internal/emulator/huawei"
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
// token between them; one the vendor refused is not taken back from the
// store.
func TestSharedToken(t *testing.T) {
	store := &memTokens{m: map[push.TokenKey]push.AccessToken{}}
	f := setup(t, func(c *Config) { c.Tokens = store })
	other, err := New(Config{AppID: appID, ClientSecret: secret, BaseURL: f.emu.URL(), TokenURL: f.emu.TokenURL(),
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

	// A token near its end is not taken from the store: the first
	// provider to need one fetches it, the other reuses it.
	f.clock.Advance(56 * time.Minute)
	for _, p := range []*Provider{other, f.p} {
		if res, err := p.Send(context.Background(), alert); err != nil || res.Outcome != push.Delivered {
			t.Fatalf("Send after 56 min: %+v %v", res, err)
		}
	}
	if g := f.emu.Stats().TokenGrants; g != 2 {
		t.Fatalf("grants after the refresh = %d, want 2", g)
	}

	// Huawei refuses the token: the provider does not take it back from
	// the store, it fetches a new one, which the other provider reuses.
	if err := f.emu.SetFault("", emu.Fault{Kind: emu.FaultAuthExpired, Times: 1}); err != nil {
		t.Fatal(err)
	}
	if res, _ := f.p.Send(context.Background(), alert); res.Outcome != push.AuthFailed || !strings.HasPrefix(res.Reason, "80200003") {
		t.Fatalf("auth expired: %+v", res)
	}
	if res, err := f.p.Send(context.Background(), alert); err != nil || res.Outcome != push.Delivered {
		t.Fatalf("retry: %+v %v", res, err)
	}
	if g := f.emu.Stats().TokenGrants; g != 3 {
		t.Fatalf("grants after 80200003 = %d, want 3 (the refused token not reused)", g)
	}
	other.forget(other.cached()) // as if Huawei had refused the other's copy too
	if res, err := other.Send(context.Background(), alert); err != nil || res.Outcome != push.Delivered {
		t.Fatalf("other after the refresh: %+v %v", res, err)
	}
	if g := f.emu.Stats().TokenGrants; g != 3 {
		t.Fatalf("grants = %d, want 3: the other provider reuses the stored token", g)
	}
}
