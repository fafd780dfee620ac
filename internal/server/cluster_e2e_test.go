package server_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"

	"github.com/heraldim/herald/internal/config"
	"github.com/heraldim/herald/internal/protocol"
	"github.com/heraldim/herald/internal/push"
	"github.com/heraldim/herald/internal/store/pgtest"
	"github.com/heraldim/herald/internal/testkit"
)

// startCluster runs two nodes on one bus (HERALD_TEST_NATS, else an
// embedded NATS server) and the shared store of HERALD_TEST_POSTGRES. Both
// nodes start from one data directory's copy, so that they share the
// development app whatever the store.
func startCluster(t *testing.T) (a, b *testkit.Server) {
	t.Helper()
	nodes := startNodes(t, 2, nil)
	return nodes[0], nodes[1]
}

// startClusterPG is startCluster, also returning the store's URL.
func startClusterPG(t *testing.T) (a, b *testkit.Server, pg string) {
	t.Helper()
	nodes, pg := startNodesPG(t, 2, nil)
	return nodes[0], nodes[1], pg
}

// startNodes runs n nodes as startCluster does, each with mod applied
// last (nil: none). The nodes' bus subjects have a prefix of the test's
// own, so that tests sharing HERALD_TEST_NATS do not meet.
func startNodes(t *testing.T, n int, mod func(*config.Config)) []*testkit.Server {
	t.Helper()
	nodes, _ := startNodesPG(t, n, mod)
	return nodes
}

// startNodesPG is startNodes, also returning the store's URL.
func startNodesPG(t *testing.T, n int, mod func(*config.Config)) ([]*testkit.Server, string) {
	t.Helper()
	pg := pgtest.Fresh(t) // skips when HERALD_TEST_POSTGRES is unset: cluster mode needs a shared store
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
	r := make([]byte, 4)
	if _, err := rand.Read(r); err != nil {
		t.Fatal(err)
	}
	prefix := "ht" + hex.EncodeToString(r)
	// One set of keys for every node: the seed's data directory (its
	// master key, operator key and dev app) is copied to the others.
	seed := testkit.Start(t, testkit.PostgresAt(pg, nil))
	seed.Stop(t)
	nodes := make([]*testkit.Server, n)
	for i := range nodes {
		dir := seed.DataDir
		if i > 0 {
			dir = t.TempDir()
			copyDir(t, seed.DataDir, dir)
		}
		nodes[i] = testkit.Start(t, func(c *config.Config) {
			c.DataDir, c.Bus, c.BusPrefix, c.Store = dir, busURL, prefix, pg
			if mod != nil {
				mod(c)
			}
		})
	}
	return nodes, pg
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

// TestClusterPushCredentials: a push credential stored or removed through
// one node's admin API is installed or removed on the other as well, so
// that every node's dispatcher can send the jobs it claims.
func TestClusterPushCredentials(t *testing.T) {
	a, b := startCluster(t)
	installed := func() bool {
		_, err := b.Srv.Providers.Provider(context.Background(), b.App.AppID, push.VendorXiaomi, push.Production)
		return err == nil
	}
	if installed() {
		t.Fatal("node b has a Xiaomi provider before any credential")
	}
	mustAdmin(t, a, 200, "PUT", "/push/credentials/xiaomi", map[string]any{"appSecret": "mi-secret", "packageName": "im.herald.test"})
	waitUntil(t, "node b installs the credential stored on node a", installed)
	mustAdmin(t, a, 204, "DELETE", "/push/credentials/xiaomi", nil)
	waitUntil(t, "node b removes the credential removed on node a", func() bool { return !installed() })
}
