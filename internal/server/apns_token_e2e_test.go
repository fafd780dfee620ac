package server_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldim/herald/internal/config"
	apnsemu "github.com/heraldim/herald/internal/emulator/apns"
	"github.com/heraldim/herald/internal/protocol"
	"github.com/heraldim/herald/internal/push"
	"github.com/heraldim/herald/internal/push/apns"
	"github.com/heraldim/herald/internal/testkit"
)

const (
	tokenTeam = "TEAM123456"
	tokenKey  = "KEY1234567"
)

// offsetClock is the real clock moved by a settable offset: a server's or
// Apple's clock that a test can jump forward.
type offsetClock struct{ off atomic.Int64 }

func (c *offsetClock) Now() time.Time          { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *offsetClock) Advance(d time.Duration) { c.off.Add(int64(d)) }

// newAPNsEmulator runs an APNs emulator with Apple's rules (a team's token
// may change once per 20 minutes, expires after an hour), one app (bundle)
// and one key of tokenTeam, on clock now (nil: the real one).
func newAPNsEmulator(t *testing.T, now func() time.Time) (*apnsemu.Emulator, []byte) {
	t.Helper()
	em, err := apnsemu.New(apnsemu.Config{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if err := em.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { em.Close() })
	em.AddApp(tokenTeam, bundle)
	key, err := em.NewKey(tokenTeam, tokenKey)
	if err != nil {
		t.Fatal(err)
	}
	return em, key
}

// putAPNsCredential sets the dev app's APNs credential through the admin
// API, as an operator does: the server builds the provider itself (with
// its store-backed token cache) and loads it again at every start.
func putAPNsCredential(t *testing.T, s *testkit.Server, em *apnsemu.Emulator, key []byte) {
	t.Helper()
	cred := map[string]any{
		"keyPEM": string(key), "keyID": tokenKey, "teamID": tokenTeam,
		"productionURL": em.URL(apnsemu.Production), "developmentURL": em.URL(apnsemu.Development),
		"caPEM": string(em.CAPEM()),
	}
	if st, b := adminCall(t, s, "PUT", "/push/credentials/apns", cred); st != 200 {
		t.Fatalf("PUT apns credential: %d %v", st, b)
	}
}

// teamTokens returns the distinct provider tokens the emulator saw,
// accepted or refused, and how many requests it refused for a provider
// token reason.
func teamTokens(em *apnsemu.Emulator) (tokens map[string]bool, refused map[string]int) {
	tokens, refused = map[string]bool{}, map[string]int{}
	for _, r := range em.Requests() {
		if r.ProviderToken != "" {
			tokens[r.ProviderToken] = true
		}
		switch r.Reason {
		case apns.ReasonTooManyProviderTokenUpdates, apns.ReasonExpiredProviderToken, apns.ReasonInvalidProviderToken:
			refused[r.Reason]++
		}
	}
	return tokens, refused
}

// sendAndDeliver sends a message with a push config to bob and waits until
// the emulator has n pushes for tok and bob's newest job is delivered.
func sendAndDeliver(t *testing.T, s *testkit.Server, em *apnsemu.Emulator, tok, localID string, n int) push.Job {
	t.Helper()
	sender := s.LoginAs(t, "alice", "server", "script")
	sender.SyncDone(wait)
	sendWithPush(t, sender, "bob", localID, &protocol.PushConfig{Title: localID, Content: "c"})
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if _, err := em.WaitDeliveries(ctx, tok, n); err != nil {
		_, refused := teamTokens(em)
		t.Fatalf("push %s not delivered: %v (refused %v, jobs %+v)", localID, err, refused, jobsFor(t, s, "bob"))
	}
	return waitJob(t, s, "bob", push.JobDelivered)
}

// TestAPNsTokenSurvivesRestart: a server restarted on the same data dir,
// against the same APNs (which saw its token a moment ago), pushes with the
// token it stored instead of making a new one, which APNs would refuse
// for 20 minutes (429 TooManyProviderTokenUpdates). The push after the
// restart is accepted on its first attempt.
func TestAPNsTokenSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	em, key := newAPNsEmulator(t, nil)
	tok := em.RegisterDevice(bundle, apnsemu.Development, false)

	s1 := testkit.Start(t, func(c *config.Config) { c.DataDir = dir })
	putAPNsCredential(t, s1, em, key)
	goOffline(t, s1, "bob", protocol.PushRegistration{Vendor: "apns", Token: tok, Environment: "development", BundleID: bundle})
	if j := sendAndDeliver(t, s1, em, tok, "before", 1); j.Attempts != 1 {
		t.Fatalf("before the restart: %d attempts", j.Attempts)
	}
	s1.Stop(t)

	s2 := testkit.Start(t, func(c *config.Config) { c.DataDir = dir })
	if j := sendAndDeliver(t, s2, em, tok, "after", 2); j.Attempts != 1 {
		t.Fatalf("after the restart: delivered on attempt %d, want 1 (trace %+v)", j.Attempts, j)
	}
	tokens, refused := teamTokens(em)
	if len(tokens) != 1 || len(refused) != 0 {
		t.Fatalf("APNs saw %d provider tokens for the team and refused %v; want 1 and none", len(tokens), refused)
	}
}

// TestAPNsTokenSharedByTwoProcesses: a second process on the same store
// (its own token cache, its own provider, as a second node would have)
// pushes with the token the server stored; APNs sees one token for the
// team, whichever process pushes.
func TestAPNsTokenSharedByTwoProcesses(t *testing.T) {
	em, key := newAPNsEmulator(t, nil)
	tok := em.RegisterDevice(bundle, apnsemu.Development, false)
	s := testkit.Start(t, nil)
	putAPNsCredential(t, s, em, key)

	// The other process: the same database, its own cache and provider.
	other := testkit.OpenStore(t, s.DataDir, s.Srv.Sealer())
	p, err := apns.New(apns.Config{
		ProductionURL: em.URL(apnsemu.Production), DevelopmentURL: em.URL(apnsemu.Development),
		KeyPEM: key, KeyID: tokenKey, TeamID: tokenTeam, RootCAs: em.CertPool(),
		Tokens: apns.NewTokenCache(other, nil),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	otherSend := func(id string) {
		t.Helper()
		res, err := p.Send(context.Background(), push.Notification{ID: id, Token: tok, Environment: push.Development,
			Kind: push.KindAlert, Priority: push.PriorityHigh, Topic: bundle, Title: "from the other process"})
		if err != nil {
			t.Fatal(err)
		}
		if res.Outcome != push.Delivered {
			t.Fatalf("the other process's push: %+v", res)
		}
	}

	// The other process pushes first and stores its token; the server,
	// pushing next, takes it from the store; then the other again.
	otherSend("5a9c1a3e-0d0c-4f0a-9a37-6f1de5e6c001")
	goOffline(t, s, "bob", protocol.PushRegistration{Vendor: "apns", Token: tok, Environment: "development", BundleID: bundle})
	if j := sendAndDeliver(t, s, em, tok, "m1", 2); j.Attempts != 1 {
		t.Fatalf("the server's push: %d attempts", j.Attempts)
	}
	otherSend("5a9c1a3e-0d0c-4f0a-9a37-6f1de5e6c002")
	tokens, refused := teamTokens(em)
	if len(tokens) != 1 || len(refused) != 0 {
		t.Fatalf("two processes used %d provider tokens, refused %v; want 1 and none", len(tokens), refused)
	}
}

// TestAPNsExpiredProviderTokenReplaced: Apple's clock runs ahead of ours
// until the token, 30 minutes old to us, is over an hour old to APNs (403
// ExpiredProviderToken). The provider makes a new token at once and the
// push is sent again with it, the refusal not counted as an attempt. The
// provider is built by the test to get a settable clock; it keeps its
// token in the server's store like the server's own.
//
// The retry of the Deferred outcome is the dispatcher's (held, no attempt
// counted); without it the job fails with the refusal.
func TestAPNsExpiredProviderTokenReplaced(t *testing.T) {
	var apple, ours offsetClock
	em, key := newAPNsEmulator(t, apple.Now)
	tok := em.RegisterDevice(bundle, apnsemu.Development, false)
	s := testkit.Start(t, nil)
	st := testkit.OpenStore(t, s.DataDir, s.Srv.Sealer())
	p, err := apns.New(apns.Config{
		ProductionURL: em.URL(apnsemu.Production), DevelopmentURL: em.URL(apnsemu.Development),
		KeyPEM: key, KeyID: tokenKey, TeamID: tokenTeam, RootCAs: em.CertPool(),
		Now: ours.Now, Tokens: apns.NewTokenCache(st, nil),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	s.Srv.Providers.Set(s.App.AppID, push.VendorAPNs, push.Development, p)

	goOffline(t, s, "bob", protocol.PushRegistration{Vendor: "apns", Token: tok, Environment: "development", BundleID: bundle})
	sendAndDeliver(t, s, em, tok, "m1", 1)

	ours.Advance(30 * time.Minute)
	apple.Advance(61 * time.Minute)
	j := sendAndDeliver(t, s, em, tok, "m2", 2)
	tokens, refused := teamTokens(em)
	if refused[apns.ReasonExpiredProviderToken] != 1 || len(tokens) != 2 {
		t.Fatalf("APNs refused %v and saw %d tokens; want one ExpiredProviderToken and 2 tokens", refused, len(tokens))
	}
	if j.Attempts != 1 {
		t.Fatalf("delivered with %d attempts counted, want 1 (the refusal is not an attempt)", j.Attempts)
	}
}
