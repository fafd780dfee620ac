package apns

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	apnsemu "github.com/heraldim/herald/internal/emulator/apns"
	"github.com/heraldim/herald/internal/push"
)

// memTokens is an in-memory TokenStore with the contract's compare-and-set
// (the real ones are run against storetest.RunProviderTokens); fail makes
// every call fail.
type memTokens struct {
	mu    sync.Mutex
	toks  map[TokenKey]ProviderToken
	fail  error
	reads int
	swaps int
}

func newMemTokens() *memTokens { return &memTokens{toks: map[TokenKey]ProviderToken{}} }

func (m *memTokens) ProviderToken(_ context.Context, k TokenKey) (ProviderToken, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.reads++
	if m.fail != nil {
		return ProviderToken{}, false, m.fail
	}
	t, ok := m.toks[k]
	return t, ok, nil
}

func (m *memTokens) SwapProviderToken(_ context.Context, k TokenKey, prev time.Time, next ProviderToken) (ProviderToken, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.swaps++
	if m.fail != nil {
		return ProviderToken{}, m.fail
	}
	cur, ok := m.toks[k]
	if !ok || (!prev.IsZero() && cur.Issued.Equal(prev)) {
		m.toks[k] = next
		return next, nil
	}
	return cur, nil
}

func (m *memTokens) counts() (reads, swaps int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.reads, m.swaps
}

// Two processes (two TokenCaches) on one store, both starting at once with
// no token: they use one token, and after the refresh age one new one.
func TestTokenStoreSharedByProcesses(t *testing.T) {
	f := setup(t, nil)
	tok := f.emu.RegisterDevice(bundleID, apnsemu.Production, false)
	store := newMemTokens()
	var ps []*Provider
	for range 2 {
		cache := NewTokenCache(store, nil)
		ps = append(ps, newProvider(t, withKey(f, func(c *Config) { c.Tokens = cache })))
	}
	sendAll := func() {
		t.Helper()
		var wg sync.WaitGroup
		results := make([]push.Result, 20)
		errs := make([]error, 20)
		for i := range results {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i], errs[i] = ps[i%2].Send(context.Background(), alert(tok, push.Production))
			}()
		}
		wg.Wait()
		for i := range results {
			if errs[i] != nil {
				t.Fatal(errs[i])
			}
			wantResult(t, results[i], push.Delivered, 200, "")
		}
	}
	sendAll()
	if n := len(f.providerTokens()); n != 1 {
		t.Fatalf("%d provider tokens for two processes, want 1", n)
	}
	// The fresh token in memory costs no store read.
	reads, _ := store.counts()
	sendAll()
	if r, _ := store.counts(); r != reads {
		t.Fatalf("%d store reads for pushes with a fresh token", r-reads)
	}

	f.clock.Add(51 * time.Minute)
	f.emuClock.Add(51 * time.Minute)
	sendAll()
	if n := len(f.providerTokens()); n != 2 {
		t.Fatalf("%d provider tokens after the refresh age, want 2", n)
	}
}

// A restart (a new TokenCache on the same store) within 20 minutes reuses
// the token APNs knows; without the store it would make a new one and get
// 429 TooManyProviderTokenUpdates.
func TestTokenStoreSurvivesRestart(t *testing.T) {
	f := setup(t, nil)
	tok := f.emu.RegisterDevice(bundleID, apnsemu.Production, false)
	store := newMemTokens()
	for run := range 3 {
		p := newProvider(t, withKey(f, func(c *Config) { c.Tokens = NewTokenCache(store, nil) }))
		res, err := p.Send(context.Background(), alert(tok, push.Production))
		if err != nil {
			t.Fatal(err)
		}
		wantResult(t, res, push.Delivered, 200, "")
		p.Close()
		f.clock.Add(time.Minute)
		f.emuClock.Add(time.Minute)
		if n := len(f.providerTokens()); n != 1 {
			t.Fatalf("run %d: %d provider tokens, want 1", run, n)
		}
	}
}

// 403 ExpiredProviderToken with a store: the first process to hear it
// replaces the token in the store; the other adopts that one instead of
// making its own.
func TestTokenStoreExpiredReplacedOnce(t *testing.T) {
	f := setup(t, nil)
	tok := f.emu.RegisterDevice(bundleID, apnsemu.Production, false)
	store := newMemTokens()
	a := newProvider(t, withKey(f, func(c *Config) { c.Tokens = NewTokenCache(store, nil) }))
	b := newProvider(t, withKey(f, func(c *Config) { c.Tokens = NewTokenCache(store, nil) }))
	for _, p := range []*Provider{a, b} {
		res, err := p.Send(context.Background(), alert(tok, push.Production))
		if err != nil {
			t.Fatal(err)
		}
		wantResult(t, res, push.Delivered, 200, "")
	}
	f.clock.Add(30 * time.Minute)
	f.emuClock.Add(61 * time.Minute)
	for _, p := range []*Provider{a, b} {
		res, err := p.Send(context.Background(), alert(tok, push.Production))
		if err != nil {
			t.Fatal(err)
		}
		wantResult(t, res, push.Deferred, 403, "ExpiredProviderToken")
	}
	for _, p := range []*Provider{a, b} {
		res, err := p.Send(context.Background(), alert(tok, push.Production))
		if err != nil {
			t.Fatal(err)
		}
		wantResult(t, res, push.Delivered, 200, "")
	}
	if n := len(f.providerTokens()); n != 2 {
		t.Fatalf("%d provider tokens, want 2 (one replacement for both)", n)
	}
}

// A store that fails does not stop pushes: the token is kept in memory,
// with a warning in the log.
func TestTokenStoreFailureFallsBackToMemory(t *testing.T) {
	f := setup(t, nil)
	tok := f.emu.RegisterDevice(bundleID, apnsemu.Production, false)
	store := newMemTokens()
	store.fail = errors.New("disk I/O error")
	var logs bytes.Buffer
	var logMu sync.Mutex
	log := slog.New(slog.NewTextHandler(lockedWriter{&logMu, &logs}, nil))
	p := newProvider(t, withKey(f, func(c *Config) { c.Tokens = NewTokenCache(store, log) }))
	for range 3 {
		res, err := p.Send(context.Background(), alert(tok, push.Production))
		if err != nil {
			t.Fatalf("a store failure stopped the push: %v", err)
		}
		wantResult(t, res, push.Delivered, 200, "")
	}
	if n := len(f.providerTokens()); n != 1 {
		t.Fatalf("%d provider tokens, want 1", n)
	}
	logMu.Lock()
	out := logs.String()
	logMu.Unlock()
	if !strings.Contains(out, "level=WARN") || !strings.Contains(out, "disk I/O error") {
		t.Fatalf("no warning logged:\n%s", out)
	}

	// A cancelled context while the store is asked is the push's error,
	// not a reason to make a token in memory.
	store.fail = context.Canceled
	f.clock.Add(51 * time.Minute)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := p.Send(ctx, alert(tok, push.Production)); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
