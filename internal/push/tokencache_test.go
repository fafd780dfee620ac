package push_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldim/herald/internal/push"
	"github.com/heraldim/herald/internal/store/sqlstore"
)

// tokenRig is two nodes' caches of one account on one real store, a clock
// and a counting fetch.
type tokenRig struct {
	now     atomic.Pointer[time.Time]
	fetches atomic.Int32
	life    time.Duration
	a, b    *push.TokenCache
}

func newTokenRig(t *testing.T, margin, life time.Duration) *tokenRig {
	t.Helper()
	st, err := sqlstore.Open(t.Context(), sqlstore.Config{Path: filepath.Join(t.TempDir(), "h.db")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	r := &tokenRig{life: life}
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	r.now.Store(&start)
	shared := push.SharedToken{Store: st, Key: push.TokenKey{Vendor: push.VendorOPPO, Account: "key", Secret: push.SecretHash("secret")}}
	r.a = push.NewTokenCache(shared, margin, r.clock)
	r.b = push.NewTokenCache(shared, margin, r.clock)
	return r
}

func (r *tokenRig) clock() time.Time { return *r.now.Load() }

func (r *tokenRig) advance(d time.Duration) {
	n := r.clock().Add(d)
	r.now.Store(&n)
}

func (r *tokenRig) fetch(context.Context) (push.Grant, error) {
	n := r.fetches.Add(1)
	return push.Grant{Token: fmt.Sprintf("tok-%d", n), At: r.clock(), Life: r.life}, nil
}

func (r *tokenRig) token(t *testing.T, c *push.TokenCache, fresh bool) string {
	t.Helper()
	tok, err := c.Token(context.Background(), fresh, r.fetch)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestTokenCacheRefreshAndShare: a fetched token is used until min(margin,
// half its life) before it expires; the other node takes it from the
// store until margin before its expiry; a refused token is not taken back;
// fresh fetches whatever is cached.
func TestTokenCacheRefreshAndShare(t *testing.T) {
	r := newTokenRig(t, 5*time.Minute, time.Hour)
	if tok := r.token(t, r.a, false); tok != "tok-1" {
		t.Fatalf("first token %q", tok)
	}
	if tok := r.token(t, r.b, false); tok != "tok-1" || r.fetches.Load() != 1 {
		t.Fatalf("other node: %q after %d fetches, want tok-1 from the store", tok, r.fetches.Load())
	}
	r.advance(55*time.Minute - time.Second)
	if r.a.Cached() != "tok-1" || r.b.Cached() != "tok-1" {
		t.Fatalf("before the margin: cached %q, %q", r.a.Cached(), r.b.Cached())
	}
	r.advance(time.Second)
	if r.a.Cached() != "" || r.b.Cached() != "" {
		t.Fatalf("at the margin: cached %q, %q, want none", r.a.Cached(), r.b.Cached())
	}
	if tok := r.token(t, r.b, false); tok != "tok-2" {
		t.Fatalf("after the margin: %q, want a new fetch", tok)
	}
	if tok := r.token(t, r.a, false); tok != "tok-2" || r.fetches.Load() != 2 {
		t.Fatalf("first node after the refresh: %q after %d fetches", tok, r.fetches.Load())
	}

	// The vendor refuses tok-2 on node a: a does not take it back from the
	// store, it fetches tok-3, which b takes once it drops its own copy.
	r.a.Forget("tok-2")
	if tok := r.token(t, r.a, false); tok != "tok-3" {
		t.Fatalf("after the refusal: %q, want tok-3", tok)
	}
	if tok := r.token(t, r.b, false); tok != "tok-2" {
		t.Fatalf("b before its own refusal: %q", tok)
	}
	r.b.Forget("tok-2")
	if tok := r.token(t, r.b, false); tok != "tok-3" || r.fetches.Load() != 3 {
		t.Fatalf("b after its refusal: %q after %d fetches, want tok-3 from the store", tok, r.fetches.Load())
	}
	r.a.Forget("tok-1") // no longer cached: a keeps tok-3
	if r.a.Cached() != "tok-3" {
		t.Fatalf("forgetting a replaced token dropped %q", r.a.Cached())
	}

	if tok := r.token(t, r.a, true); tok != "tok-4" {
		t.Fatalf("fresh: %q, want a new fetch", tok)
	}
	if tok := r.token(t, r.a, false); tok != "tok-4" {
		t.Fatalf("after fresh: %q, want the refilled cache", tok)
	}
}

// TestTokenCacheMargins: a short-lived token is replaced halfway through
// its life when the margin is larger than that; with no margin (vivo) it
// is used to its end, and stored as expiring then.
func TestTokenCacheMargins(t *testing.T) {
	r := newTokenRig(t, 5*time.Minute, 4*time.Minute)
	r.token(t, r.a, false)
	r.advance(2*time.Minute - time.Second)
	if r.a.Cached() == "" {
		t.Fatal("a 4-minute token dropped before half its life")
	}
	r.advance(time.Second)
	if r.a.Cached() != "" {
		t.Fatal("a 4-minute token kept past half its life")
	}

	r = newTokenRig(t, 0, time.Hour)
	r.token(t, r.a, false)
	r.advance(time.Hour - time.Second)
	if r.a.Cached() == "" || r.token(t, r.b, false) != "tok-1" {
		t.Fatal("without a margin a token is used, and shared, to its end")
	}
	r.advance(time.Second)
	if r.a.Cached() != "" || r.token(t, r.b, false) != "tok-2" {
		t.Fatal("without a margin a token is used past its end")
	}
}

// TestTokenCacheOneFetch: Sends that find no token wait for one fetch; one
// whose context ends while it waits gets the context's error; a fetch's
// error is returned as it is and caches nothing.
func TestTokenCacheOneFetch(t *testing.T) {
	r := newTokenRig(t, 5*time.Minute, time.Hour)
	release := make(chan struct{})
	entered := make(chan struct{})
	slow := func(ctx context.Context) (push.Grant, error) {
		close(entered)
		<-release
		return r.fetch(ctx)
	}
	var wg sync.WaitGroup
	toks := make([]string, 8)
	wg.Add(1)
	go func() {
		defer wg.Done()
		toks[0], _ = r.a.Token(context.Background(), false, slow)
	}()
	<-entered // the first Send holds the fetch
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := r.a.Token(ctx, false, r.fetch); !errors.Is(err, context.Canceled) {
		t.Fatalf("a cancelled wait: %v", err)
	}
	for i := 1; i < len(toks); i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			toks[i], _ = r.a.Token(context.Background(), false, r.fetch)
		}()
	}
	close(release)
	wg.Wait()
	for i, tok := range toks {
		if tok != "tok-1" {
			t.Fatalf("Send %d got %q", i, tok)
		}
	}
	if n := r.fetches.Load(); n != 1 {
		t.Fatalf("%d fetches for %d Sends, want 1", n, len(toks))
	}

	refused := errors.New("refused")
	if _, err := r.a.Token(context.Background(), true, func(context.Context) (push.Grant, error) { return push.Grant{}, refused }); !errors.Is(err, refused) {
		t.Fatalf("fetch error: %v", err)
	}
	if r.a.Cached() != "tok-1" {
		t.Fatalf("a failed fetch changed the cache: %q", r.a.Cached())
	}
}
