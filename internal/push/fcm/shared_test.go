package fcm

import (
	"context"
	"sync"
	"testing"

	"github.com/heraldim/herald/internal/push"
)

// memTokens is a push.TokenStore in memory, as two nodes see one store.
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

// TestSharedAccessToken: two providers of one service account on one token
// store (two nodes) make one token exchange between them; after FCM
// refuses the token, the one that saw the refusal fetches a new one, which
// the other reuses once it drops its own.
func TestSharedAccessToken(t *testing.T) {
	store := &memTokens{m: map[push.TokenKey]push.AccessToken{}}
	var cfg Config
	e := newEnv(t, func(c *Config) { c.Tokens = store; cfg = *c })
	other, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	tok := e.device()
	for _, p := range []*Provider{e.p, other, e.p, other} {
		if res := mustSend(t, p, alert(tok)); res.Outcome != push.Delivered {
			t.Fatalf("send: %+v", res)
		}
	}
	if g := e.emu.Stats().TokenGrants; g != 1 {
		t.Fatalf("token grants for two providers on one store = %d, want 1", g)
	}
	e.emu.ExpireAccessTokens()
	if res := mustSend(t, e.p, alert(tok)); res.Outcome != push.AuthFailed {
		t.Fatalf("send with an expired token: %+v, want AuthFailed", res)
	}
	if res := mustSend(t, e.p, alert(tok)); res.Outcome != push.Delivered {
		t.Fatalf("retry: %+v", res)
	}
	if res := mustSend(t, other, alert(tok)); res.Outcome != push.AuthFailed {
		t.Fatalf("the other's send with its expired copy: %+v, want AuthFailed", res)
	}
	if res := mustSend(t, other, alert(tok)); res.Outcome != push.Delivered {
		t.Fatalf("the other's retry: %+v", res)
	}
	if g := e.emu.Stats().TokenGrants; g != 2 {
		t.Fatalf("token grants = %d, want 2: the other reuses the stored new token", g)
	}
}
