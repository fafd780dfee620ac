package server_test

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"

	"github.com/heraldim/herald/internal/config"
	"github.com/heraldim/herald/internal/protocol"
	"github.com/heraldim/herald/internal/store/pgtest"
	"github.com/heraldim/herald/internal/testkit"
)

// startCluster runs two nodes on one bus (HERALD_TEST_NATS, else an
// embedded NATS server) and the shared store of HERALD_TEST_POSTGRES. Both
// nodes start from one data directory's copy, so that they share the
// development app whatever the store.
func startCluster(t *testing.T) (a, b *testkit.Server) {
	t.Helper()
	a, b, _ = startClusterPG(t)
	return a, b
}

// startClusterPG is startCluster, also returning the store's URL.
func startClusterPG(t *testing.T) (a, b *testkit.Server, pg string) {
	t.Helper()
	pg = pgtest.Fresh(t) // skips when HERALD_TEST_POSTGRES is unset: cluster mode needs a shared store
	busURL := os.Getenv("HERALD_TEST_NATS")
	if busURL == "" {
		ns, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
		if err != nil {
			t.Fatal(err)
		}
		go ns.Start()
		if !ns.ReadyForConnections(10 * time.Second) {
			t.Fatal("embedded nats-server not ready")
		}
		t.Cleanup(ns.Shutdown)
		busURL = ns.ClientURL()
	}
	// One set of keys for both nodes: the seed's data directory (its
	// master key, operator key and dev app) is copied to the second.
	seed := testkit.Start(t, testkit.PostgresAt(pg, nil))
	seed.Stop(t)
	dirB := t.TempDir()
	copyDir(t, seed.DataDir, dirB)
	mod := func(dir string) func(*config.Config) {
		return func(c *config.Config) { c.DataDir, c.Bus, c.Store = dir, busURL, pg }
	}
	a = testkit.Start(t, mod(seed.DataDir))
	b = testkit.Start(t, mod(dirB))
	return a, b, pg
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	ents, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.IsDir() || filepath.Ext(e.Name()) == ".lock" {
			continue
		}
		src, err := os.Open(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		dst, err := os.OpenFile(filepath.Join(to, e.Name()), os.O_CREATE|os.O_WRONLY, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(dst, src); err != nil {
			t.Fatal(err)
		}
		_ = src.Close()
		_ = dst.Close()
	}
}

// recordOn logs user in once on s and out again, so that s's store knows
// the user whether or not the nodes share one.
func recordOn(t *testing.T, s *testkit.Server, user string) {
	t.Helper()
	c := s.LoginAs(t, user, "server", "setup")
	c.SyncDone(wait)
	c.Close()
	waitUntil(t, user+" gone from "+s.HTTP, func() bool { return !s.Online(user) })
}

// waitUntil polls cond (presence crosses the bus asynchronously).
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestClusterRoutesAcrossNodes: a user with sessions on both nodes gets a
// message sent on one of them on both, live; each node knows the other's
// users online.
func TestClusterRoutesAcrossNodes(t *testing.T) {
	a, b := startCluster(t)
	bobA := a.LoginAs(t, "bob", "ios", "phone")
	bobA.SyncDone(wait)
	bobB := b.LoginAs(t, "bob", "web", "laptop")
	bobB.SyncDone(wait)
	alice := b.LoginAs(t, "alice", "web", "w")
	alice.SyncDone(wait)
	waitUntil(t, "node a sees alice online", func() bool { return a.Online("alice") })
	waitUntil(t, "node b sees bob's session on a", func() bool {
		return len(b.Srv.UserSessions(b.App.AppID, "bob")) == 2
	})
	if _, err := alice.SendText("bob", "m1", "across"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*testkit.Client{bobA, bobB} {
		if m := c.Message(wait); m.Text != "across" {
			t.Fatalf("bob got %+v", m)
		}
	}
}

// TestClusterKicks: a same-platform login on one node kicks the session on
// the other; an admin kick on one node closes the user's sessions on both.
func TestClusterKicks(t *testing.T) {
	a, b := startCluster(t)
	first := a.LoginAs(t, "bob", "ios", "phone1")
	first.SyncDone(wait)
	waitUntil(t, "node b sees bob", func() bool { return b.Online("bob") })
	second := b.LoginAs(t, "bob", "ios", "phone2")
	second.SyncDone(wait)
	f := first.Next(wait)
	var k protocol.Kicked
	_ = json.Unmarshal(f.Data, &k)
	if f.Type != protocol.EventKicked || k.Reason != protocol.KickSamePlatform {
		t.Fatalf("first session got %s %s, want kicked (same platform)", f.Type, f.Data)
	}
	if code := first.CloseCode(wait); code != protocol.CloseKicked {
		t.Fatalf("close code %d, want %d", code, protocol.CloseKicked)
	}

	recordOn(t, b, "carol")
	carolA := a.LoginAs(t, "carol", "ios", "p")
	carolA.SyncDone(wait)
	waitUntil(t, "node b sees carol", func() bool { return b.Online("carol") })
	body := mustAdmin(t, b, 200, "POST", "/users/carol/kick", nil)
	if body["sessions"] != float64(1) {
		t.Fatalf("kick on node b counted %v sessions, want 1 (on node a)", body["sessions"])
	}
	wantKicked(t, carolA)
	if code := carolA.CloseCode(wait); code != protocol.CloseKickedByServer {
		t.Fatalf("carol on node a: close code %d, want %d", code, protocol.CloseKickedByServer)
	}
	waitUntil(t, "carol offline on both nodes", func() bool { return !a.Online("carol") && !b.Online("carol") })
}

// TestClusterRevoke: a token revocation on one node closes the user's
// older sessions on the other.
func TestClusterRevoke(t *testing.T) {
	a, b := startCluster(t)
	recordOn(t, b, "dave")
	dave := a.LoginAs(t, "dave", "ios", "p")
	dave.SyncDone(wait)
	waitUntil(t, "node b sees dave", func() bool { return b.Online("dave") })
	mustAdmin(t, b, 200, "POST", "/users/dave/revoke-tokens", map[string]any{})
	if code := dave.CloseCode(wait); code != protocol.CloseTokenRevoked {
		t.Fatalf("dave on node a: close code %d, want %d", code, protocol.CloseTokenRevoked)
	}
}
