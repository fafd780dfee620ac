package limit

import (
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var (
	ipA = netip.MustParseAddr("198.51.100.1")
	ipB = netip.MustParseAddr("198.51.100.2")
)

func refusal(t *testing.T, err error) Reason {
	t.Helper()
	var re *RefusedError
	if !errors.As(err, &re) {
		t.Fatalf("err = %v, want a refusal", err)
	}
	return re.Reason
}

func TestConnCaps(t *testing.T) {
	cases := []struct {
		name  string
		caps  ConnCaps
		open  []netip.Addr // opened (and left unauthenticated) first
		authN int          // how many of them log in
		next  netip.Addr
		want  Reason // 0: admitted
	}{
		{"no caps", ConnCaps{}, []netip.Addr{ipA, ipA, ipA}, 0, ipA, 0},
		{"total", ConnCaps{Total: 2}, []netip.Addr{ipA, ipB}, 2, ipB, TooManyConnections},
		{"per ip", ConnCaps{PerIP: 2}, []netip.Addr{ipA, ipA}, 2, ipA, TooManyConnectionsFromIP},
		{"per ip, other ip", ConnCaps{PerIP: 2}, []netip.Addr{ipA, ipA}, 0, ipB, 0},
		{"unauthenticated", ConnCaps{Unauthenticated: 2}, []netip.Addr{ipA, ipB}, 0, ipB, TooManyUnauthenticated},
		{"unauthenticated, one logged in", ConnCaps{Unauthenticated: 2}, []netip.Addr{ipA, ipB}, 1, ipB, 0},
		{"unauthenticated per ip", ConnCaps{UnauthenticatedIP: 1}, []netip.Addr{ipA}, 0, ipA, TooManyUnauthenticatedFromIP},
		{"unauthenticated per ip, logged in", ConnCaps{UnauthenticatedIP: 1}, []netip.Addr{ipA}, 1, ipA, 0},
		{"unauthenticated per ip, other ip", ConnCaps{UnauthenticatedIP: 1}, []netip.Addr{ipA}, 0, ipB, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := NewConns(tc.caps)
			for i, ip := range tc.open {
				conn, err := c.Open(ip)
				if err != nil {
					t.Fatalf("open %d: %v", i, err)
				}
				if i < tc.authN {
					conn.Authenticated()
				}
			}
			before, beforeU := c.Counts()
			_, err := c.Open(tc.next)
			if tc.want == 0 {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if got := refusal(t, err); got != tc.want {
				t.Fatalf("reason %s, want %s", got, tc.want)
			}
			if n, u := c.Counts(); n != before || u != beforeU {
				t.Fatalf("a refusal changed the counts: %d/%d -> %d/%d", before, beforeU, n, u)
			}
		})
	}
}

func TestConnCloseFreesAndForgetsAddress(t *testing.T) {
	c := NewConns(ConnCaps{Total: 1, UnauthenticatedIP: 1})
	a, err := c.Open(ipA)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Open(ipB); refusal(t, err) != TooManyConnections {
		t.Fatal("second connection admitted")
	}
	a.Authenticated()
	a.Authenticated() // idempotent
	if n, u := c.Counts(); n != 1 || u != 0 {
		t.Fatalf("counts %d/%d", n, u)
	}
	a.Close()
	a.Close() // idempotent
	a.Authenticated()
	if n, u := c.Counts(); n != 0 || u != 0 || c.Addresses() != 0 {
		t.Fatalf("after close: counts %d/%d, %d addresses", n, u, c.Addresses())
	}
	b, err := c.Open(ipB)
	if err != nil {
		t.Fatal(err)
	}
	b.Close() // closed unauthenticated
	if n, u := c.Counts(); n != 0 || u != 0 || c.Addresses() != 0 {
		t.Fatalf("after close: counts %d/%d, %d addresses", n, u, c.Addresses())
	}
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

func TestKeyed(t *testing.T) {
	clk := &clock{t: time.Unix(1e9, 0)}
	k := NewKeyed(Bucket{Rate: 2, Burst: 3}, clk.now, nil)
	for i := range 3 {
		if _, ok := k.Allow("a"); !ok {
			t.Fatalf("event %d of the burst refused", i)
		}
	}
	d, ok := k.Allow("a")
	if ok || d != 500*time.Millisecond {
		t.Fatalf("over the burst: ok %v, retry after %s, want refused after 500ms", ok, d)
	}
	if _, ok := k.Allow("b"); !ok {
		t.Fatal("another key refused")
	}
	// A refusal took nothing: after the announced delay one more passes.
	clk.advance(d)
	if _, ok := k.Allow("a"); !ok {
		t.Fatal("refused after the retry delay")
	}
	if _, ok := k.Allow("a"); ok {
		t.Fatal("allowed twice after one refill")
	}
	if NewKeyed(Bucket{}, nil, nil) != nil {
		t.Fatal("an unlimited bucket is not nil")
	}
	var none *Keyed
	if _, ok := none.Allow("x"); !ok {
		t.Fatal("nil Keyed refused")
	}
}

func TestKeyedForgetsIdleKeys(t *testing.T) {
	clk := &clock{t: time.Unix(1e9, 0)}
	// One event takes 20 s to refill, five take 100 s.
	k := NewKeyed(Bucket{Rate: 0.05, Burst: 5}, clk.now, nil)
	for i := range 1000 {
		k.Allow(string(rune('a'+i%26)) + time.Duration(i).String())
	}
	if k.Keys() != 1000 {
		t.Fatalf("%d keys", k.Keys())
	}
	// Emptied bucket: not yet refilled at the next sweep, so kept.
	for range 5 {
		k.Allow("busy")
	}
	clk.advance(sweepEvery)
	k.Allow("new")
	if k.Keys() != 2 {
		t.Fatalf("%d keys after the sweep, want busy and new", k.Keys())
	}
	// Two minutes on, the busy bucket is full too and goes (a fresh one
	// would be in the same state), as does new's.
	clk.advance(sweepEvery)
	k.Allow("other")
	if k.Keys() != 1 {
		t.Fatalf("%d keys after the second sweep, want 1", k.Keys())
	}
}

func TestMessages(t *testing.T) {
	clk := &clock{t: time.Unix(1e9, 0)}
	user := NewKeyed(Bucket{Rate: 1, Burst: 2}, clk.now, nil)
	app := NewKeyed(Bucket{Rate: 1, Burst: 3}, clk.now, nil)
	m := NewMessages(user, app, clk.now)
	for i := range 2 {
		if _, _, ok := m.Allow("app1", "alice"); !ok {
			t.Fatalf("alice's send %d refused", i)
		}
	}
	if d, scope, ok := m.Allow("app1", "alice"); ok || scope != ScopeUser || d != time.Second {
		t.Fatalf("alice over her rate: %v %s %s", ok, scope, d)
	}
	// Alice's refused send took nothing from the app: bob has one left.
	if _, _, ok := m.Allow("app1", "bob"); !ok {
		t.Fatal("bob refused")
	}
	if d, scope, ok := m.Allow("app1", "bob"); ok || scope != ScopeApp || d != time.Second {
		t.Fatalf("app over its rate: %v %s %s", ok, scope, d)
	}
	// The app's refusal gave bob's token back: once the app refills, bob
	// sends one, and has one more of his own (had the refused send kept
	// it, his own limit would refuse the next one).
	clk.advance(time.Second)
	if _, _, ok := m.Allow("app1", "bob"); !ok {
		t.Fatal("bob refused after the app refilled")
	}
	if _, scope, ok := m.Allow("app1", "bob"); ok || scope != ScopeApp {
		t.Fatalf("bob's next send: %v %s, want refused by the app", ok, scope)
	}
	// Users of other apps are not concerned.
	if _, _, ok := m.Allow("app2", "alice"); !ok {
		t.Fatal("alice of another app refused")
	}
	var none *Messages
	if _, _, ok := none.Allow("a", "b"); !ok {
		t.Fatal("nil Messages refused")
	}
}

func TestFromFileLimit(t *testing.T) {
	for _, tc := range []struct {
		n    uint64
		want int
	}{
		{1024, 717},
		{65536, 62004},
		{1 << 20, 995892},
		{0, 995892},
		{1 << 40, 995892},
		{300, 150}, // n/2 floor
	} {
		if got := FromFileLimit(tc.n); got != tc.want {
			t.Errorf("FromFileLimit(%d) = %d, want %d", tc.n, got, tc.want)
		}
	}
	if FileLimit() == 0 {
		t.Log("no file limit known here")
	}
}

// TestKeyedConcurrent: sends racing on one key get exactly the burst,
// and other keys their own.
func TestKeyedConcurrent(t *testing.T) {
	clk := &clock{t: time.Unix(1e9, 0)}
	k := NewKeyed(Bucket{Rate: 1, Burst: 50}, clk.now, nil)
	var wg sync.WaitGroup
	var allowed [4]atomic.Int64
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 100 {
				key := (g + i) % len(allowed)
				if _, ok := k.Allow(fmt.Sprint("user", key)); ok {
					allowed[key].Add(1)
				}
			}
		}()
	}
	wg.Wait()
	for i := range allowed {
		if n := allowed[i].Load(); n != 50 {
			t.Errorf("key %d: %d allowed, want the burst of 50", i, n)
		}
	}
}
