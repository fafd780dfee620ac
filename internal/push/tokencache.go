package push

import (
	"context"
	"sync"
	"time"
)

// Grant is an access token a vendor granted: Token, usable for Life
// counted from At (the time the fetch began, or ended, as the provider
// reckons it).
type Grant struct {
	Token string
	At    time.Time
	Life  time.Duration
}

// TokenCache is a provider's one cached vendor access token (FCM, Huawei,
// Honor, OPPO, vivo): every Send reuses it until its refresh time; Sends
// that find none valid wait for a single fetch (a channel, so that waiting
// honours the caller's context); a token stored by another node in the
// SharedToken is taken before fetching one; a token the vendor refused
// (Forget) is never taken back from the store. It is safe for concurrent
// use.
type TokenCache struct {
	shared SharedToken
	margin time.Duration
	now    func() time.Time
	sem    chan struct{}

	mu        sync.Mutex
	token     string    // "" when none
	refreshAt time.Time // when the cached token stops being used
	refused   string    // the last token the vendor refused
}

// NewTokenCache returns an empty cache. margin is how long before its
// expiry a token stops being used: a fetched one at min(margin, half its
// Life) before, one loaded from shared at margin before. now nil:
// time.Now.
func NewTokenCache(shared SharedToken, margin time.Duration, now func() time.Time) *TokenCache {
	if now == nil {
		now = time.Now
	}
	return &TokenCache{shared: shared, margin: margin, now: now, sem: make(chan struct{}, 1)}
}

// Token returns the cached token, or one another node stored, or calls
// fetch for a new one; fresh skips the cache and the store (a Check that
// proves the credential) and refills both. fetch's error is returned as
// it is; a cancelled wait for another fetch returns ctx.Err().
func (c *TokenCache) Token(ctx context.Context, fresh bool, fetch func(context.Context) (Grant, error)) (string, error) {
	if !fresh {
		if tok := c.Cached(); tok != "" {
			return tok, nil
		}
	}
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	defer func() { <-c.sem }()
	if !fresh {
		if tok := c.Cached(); tok != "" {
			return tok, nil // another Send fetched it while this one waited
		}
		c.mu.Lock()
		refused := c.refused
		c.mu.Unlock()
		// Another node may have fetched one.
		if t, ok := c.shared.Load(ctx, c.now(), c.margin, refused); ok {
			c.mu.Lock()
			c.token, c.refreshAt = t.Token, t.Expires.Add(-c.margin)
			c.mu.Unlock()
			return t.Token, nil
		}
	}
	g, err := fetch(ctx)
	if err != nil {
		return "", err
	}
	margin := min(c.margin, g.Life/2)
	c.mu.Lock()
	c.token, c.refreshAt = g.Token, g.At.Add(g.Life-margin)
	c.mu.Unlock()
	c.shared.Save(ctx, AccessToken{Token: g.Token, Expires: g.At.Add(g.Life)})
	return g.Token, nil
}

// Cached returns the cached token while it is before its refresh time,
// "" otherwise.
func (c *TokenCache) Cached() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.token != "" && c.now().Before(c.refreshAt) {
		return c.token
	}
	return ""
}

// Forget drops tok, which the vendor refused, from the cache unless
// another Send already replaced it, and keeps it from being taken back
// from the store.
func (c *TokenCache) Forget(tok string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.refused = tok
	if c.token == tok {
		c.token = ""
	}
}

// TokenRefusal is a vendor's answer refusing a token (OPPO's and vivo's
// auth calls), as the Result a Send returns for it: a fetch returns it as
// its error.
type TokenRefusal struct {
	Result Result
}

func (e *TokenRefusal) Error() string { return "token refused: " + e.Result.Reason }
