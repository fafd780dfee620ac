package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/heraldim/herald/internal/push/apns"
)

// TokenStore is what the provider-token contract needs of a store.
type TokenStore interface {
	apns.TokenStore
	Close() error
}

// TokenOpener opens the token store whose data lives under dir, as Opener.
type TokenOpener func(t *testing.T, dir string) TokenStore

// RunProviderTokens runs the apns.TokenStore contract against the stores
// open returns: the compare-and-set every process relies on to end up with
// one APNs provider token per key.
func RunProviderTokens(t *testing.T, open TokenOpener) {
	key := apns.TokenKey{TeamID: "TEAM000001", KeyID: "KEY0000001", KeySHA256: "ab12"}
	tok := func(s string, sec int64) apns.ProviderToken {
		return apns.ProviderToken{Token: s, Issued: base.Add(time.Duration(sec) * time.Second)}
	}
	want := func(t *testing.T, got apns.ProviderToken, w apns.ProviderToken) {
		t.Helper()
		if got.Token != w.Token || !got.Issued.Equal(w.Issued) {
			t.Fatalf("token %q issued %s, want %q issued %s", got.Token, got.Issued, w.Token, w.Issued)
		}
	}
	openOne := func(t *testing.T, dir string) TokenStore {
		s := open(t, dir)
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		return s
	}

	t.Run("CompareAndSet", func(t *testing.T) {
		s := openOne(t, t.TempDir())
		ctx := t.Context()
		if _, found, err := s.ProviderToken(ctx, key); err != nil || found {
			t.Fatalf("empty store: found %v, err %v", found, err)
		}
		a, b, c := tok("a", 0), tok("b", 1), tok("c", 1500)
		got, err := s.SwapProviderToken(ctx, key, time.Time{}, a)
		if err != nil {
			t.Fatal(err)
		}
		want(t, got, a)
		// A second process that also found none loses and adopts a.
		if got, err = s.SwapProviderToken(ctx, key, time.Time{}, b); err != nil {
			t.Fatal(err)
		}
		want(t, got, a)
		// Replacing a, knowing it: wins.
		if got, err = s.SwapProviderToken(ctx, key, a.Issued, c); err != nil {
			t.Fatal(err)
		}
		want(t, got, c)
		// Replacing a, which is no longer there: loses to c.
		if got, err = s.SwapProviderToken(ctx, key, a.Issued, b); err != nil {
			t.Fatal(err)
		}
		want(t, got, c)
		stored, found, err := s.ProviderToken(ctx, key)
		if err != nil || !found {
			t.Fatalf("found %v, err %v", found, err)
		}
		want(t, stored, c)

		// Keys are apart: another key hash (a replaced key under the same
		// ID), another key ID, another team.
		for _, k := range []apns.TokenKey{
			{TeamID: key.TeamID, KeyID: key.KeyID, KeySHA256: "cd34"},
			{TeamID: key.TeamID, KeyID: "KEY0000002", KeySHA256: key.KeySHA256},
			{TeamID: "TEAM000002", KeyID: key.KeyID, KeySHA256: key.KeySHA256},
		} {
			if _, found, err := s.ProviderToken(ctx, k); err != nil || found {
				t.Fatalf("%+v: found %v, err %v", k, found, err)
			}
		}
		// An empty token is refused and changes nothing.
		if _, err := s.SwapProviderToken(ctx, key, c.Issued, apns.ProviderToken{}); err == nil {
			t.Fatal("an empty token was accepted")
		}
		if stored, _, _ = s.ProviderToken(ctx, key); stored.Token != c.Token {
			t.Fatalf("an empty token replaced %q with %q", c.Token, stored.Token)
		}
	})

	t.Run("SurvivesRestart", func(t *testing.T) {
		dir := t.TempDir()
		s := open(t, dir)
		a := tok("a", 0)
		if _, err := s.SwapProviderToken(t.Context(), key, time.Time{}, a); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		s = openOne(t, dir)
		got, found, err := s.ProviderToken(t.Context(), key)
		if err != nil || !found {
			t.Fatalf("after a restart: found %v, err %v", found, err)
		}
		want(t, got, a)
	})

	t.Run("ConcurrentFirstUse", func(t *testing.T) {
		s := openOne(t, t.TempDir())
		const n = 16
		got := make([]apns.ProviderToken, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got[i], errs[i] = s.SwapProviderToken(t.Context(), key, time.Time{}, tok(fmt.Sprint("t", i), int64(i)))
			}()
		}
		wg.Wait()
		for i := range n {
			if errs[i] != nil {
				t.Fatal(errs[i])
			}
			want(t, got[i], got[0])
		}
	})
}
