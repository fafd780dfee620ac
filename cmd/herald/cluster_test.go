package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/heraldim/herald/internal/emulator/local"
	"github.com/heraldim/herald/internal/protocol"
	"github.com/heraldim/herald/internal/store/pgtest"
	"github.com/heraldim/herald/internal/testkit"
	"github.com/heraldim/herald/internal/token"
)

// clusterNode is one `herald serve` process of a cluster test.
type clusterNode struct {
	id   string
	cmd  *exec.Cmd
	addr string
}

func (n clusterNode) ws() string { return "ws://" + n.addr + "/v1/ws" }

// cluster is what the nodes of TestClusterProcesses share: one PostgreSQL
// database, one NATS subject prefix, the keys, and one emulator process.
type cluster struct {
	t                 *testing.T
	pg, bus, prefix   string
	masterKey, opKey  string
	db                *sql.DB
	emu               local.Manifest
	appID, appSecret  string
	adminKey          string
	xiaomiControlURL  string
	xiaomiPackageName string
}

// start runs a node named id (its --node-id) on its own data directory.
func (c *cluster) start(id string) clusterNode {
	c.t.Helper()
	cmd, addr := startProcess(c.t, c.t.TempDir(), "--store", c.pg, "--bus", c.bus, "--bus-prefix", c.prefix,
		"--node-id", id, "--master-keys", c.masterKey, "--operator-key", c.opKey,
		// A dead node's claimed pushes are taken over after 8 s, not 2
		// min; at most 4 pushes in flight per node, so that the pushes
		// of a burst are claimed by several nodes.
		"--push-lease", "8s", "--push-concurrency", "4", "--user-message-rate", "0")
	return clusterNode{id: id, cmd: cmd, addr: addr}
}

// startEmulators runs `herald emulate` as a process of its own: the one
// set of vendor emulators every node pushes to.
func startEmulators(t *testing.T) local.Manifest {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "emu")
	cmd := exec.Command(os.Args[0], "emulate", "--dir", dir)
	cmd.Env = append(os.Environ(), "HERALD_TEST_AS_MAIN=1")
	cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	deadline := time.Now().Add(30 * time.Second)
	for {
		// emulators.json is written once every emulator listens.
		m, err := local.LoadManifest(dir)
		if err == nil {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("emulators not started: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// httpJSON makes a request with a bearer key and decodes a 2xx answer
// into out (when not nil).
func httpJSON(t *testing.T, method, url, bearer string, body []byte, out any) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		t.Fatalf("%s %s: %d %s", method, url, resp.StatusCode, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, url, err, b)
		}
	}
}

// registerDevice makes a device at the Xiaomi emulator and returns its
// regid (the push token).
func (c *cluster) registerDevice() string {
	c.t.Helper()
	var r struct {
		RegID string `json:"regid"`
	}
	body, _ := json.Marshal(map[string]string{"packageName": c.xiaomiPackageName})
	httpJSON(c.t, http.MethodPost, c.xiaomiControlURL+"/devices", "", body, &r)
	return r.RegID
}

// pushed returns the contents of the pushes the emulator accepted for a
// device, in order.
func (c *cluster) pushed(regid string) []string {
	c.t.Helper()
	var page struct {
		Deliveries []struct{ Description string } `json:"deliveries"`
	}
	httpJSON(c.t, http.MethodGet, c.xiaomiControlURL+"/devices/"+url.PathEscape(regid)+"/deliveries?after=0", "", nil, &page)
	out := make([]string, len(page.Deliveries))
	for i, d := range page.Deliveries {
		out[i] = d.Description
	}
	return out
}

// login dials node n and logs user in, with a Xiaomi device when regid is
// set, and waits for syncDone, returning what the sync delivered.
func (c *cluster) login(n clusterNode, user, regid string) (*testkit.Client, []protocol.Message) {
	c.t.Helper()
	tok, err := token.Mint(c.appID, c.appSecret, user, time.Hour, time.Now())
	if err != nil {
		c.t.Fatal(err)
	}
	req := protocol.LoginRequest{AppID: c.appID, UserID: user, Token: tok, Platform: "android", DeviceID: user + "-phone"}
	if regid != "" {
		req.Push = &protocol.PushRegistration{Vendor: "xiaomi", Token: regid, Environment: "production", BundleID: c.xiaomiPackageName}
	}
	cl := testkit.Dial(c.t, n.ws())
	if perr := cl.Call(protocol.TypeLogin, req, nil); perr != nil {
		c.t.Fatalf("login %s on %s: %v", user, n.id, perr)
	}
	msgs, count := cl.SyncDone(20 * time.Second)
	if count != len(msgs) {
		c.t.Fatalf("%s on %s: syncDone count %d, %d messages", user, n.id, count, len(msgs))
	}
	return cl, msgs
}

// send sends text to a peer with text as the push's content too, failing
// the test unless it is stored.
func send(t *testing.T, from *testkit.Client, to, text string) protocol.SendReply {
	t.Helper()
	var r protocol.SendReply
	if perr := from.Call(protocol.TypeSend, protocol.SendRequest{ConversationID: to, LocalMessageID: strings.ReplaceAll(text, " ", "_"), Type: protocol.MessageText,
		Text: text, PushConfig: &protocol.PushConfig{Title: "T", Content: text}}, &r); perr != nil {
		t.Fatalf("send %s: %v", text, perr)
	}
	return r
}

// expectLive reads the next message events of cl: seqs from, from+1, ...
// with texts.
func expectLive(t *testing.T, cl *testkit.Client, from int64, texts ...string) {
	t.Helper()
	for i, text := range texts {
		m := cl.Message(20 * time.Second)
		if m.ConversationSeq != from+int64(i) || m.Text != text {
			t.Fatalf("live message %d: seq %d %q, want seq %d %q", i, m.ConversationSeq, m.Text, from+int64(i), text)
		}
	}
}

// count runs a count query on the shared database.
func (c *cluster) count(q string, args ...any) int {
	c.t.Helper()
	var n int
	if err := c.db.QueryRowContext(context.Background(), q, args...).Scan(&n); err != nil {
		c.t.Fatalf("%s: %v", q, err)
	}
	return n
}

// waitFor polls cond every 50 ms until it holds, failing the test after
// timeout with what.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestClusterProcesses is the cluster's end-to-end proof with real
// processes: three `herald serve` nodes on one PostgreSQL database and one
// NATS server, pushing to one emulator process; live delivery across
// nodes; a node killed with SIGKILL (its users reconnect elsewhere and
// sync what they missed once, in order; the pushes it had claimed are sent
// by another node after their leases, each push exactly once); a fourth
// node joining while the others run.
func TestClusterProcesses(t *testing.T) {
	busURL := os.Getenv("HERALD_TEST_NATS")
	if busURL == "" {
		t.Skip("cluster process test skipped: set HERALD_TEST_NATS to a NATS server URL (e.g. nats://127.0.0.1:4222) and HERALD_TEST_POSTGRES")
	}
	pg := pgtest.Fresh(t) // skips when HERALD_TEST_POSTGRES is unset
	db, err := sql.Open("pgx", pg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	rnd := make([]byte, 32)
	_, _ = rand.Read(rnd)
	c := &cluster{t: t, pg: pg, bus: busURL, db: db,
		prefix:    "herald_t_" + hex.EncodeToString(rnd[:6]),
		masterKey: "k1:" + base64.StdEncoding.EncodeToString(rnd),
		opKey:     "op-" + hex.EncodeToString(rnd[:16])}
	c.emu = startEmulators(t)
	c.xiaomiControlURL, c.xiaomiPackageName = c.emu.Xiaomi.ControlURL, c.emu.Xiaomi.PackageName

	a, b, cc := c.start("node-a"), c.start("node-b"), c.start("node-c")

	// The app and its push credential, made through node A's operator
	// and admin APIs; the others read them from the shared store.
	var app struct {
		ID       string `json:"id"`
		Secret   string `json:"secret"`
		AdminKey string `json:"adminKey"`
	}
	httpJSON(t, http.MethodPost, "http://"+a.addr+"/v1/admin/apps", c.opKey, []byte(`{"name":"cluster"}`), &app)
	c.appID, c.appSecret, c.adminKey = app.ID, app.Secret, app.AdminKey
	cred, err := os.ReadFile(c.emu.Xiaomi.CredentialFile)
	if err != nil {
		t.Fatal(err)
	}
	httpJSON(t, http.MethodPut, "http://"+a.addr+"/v1/apps/"+c.appID+"/push/credentials/xiaomi", c.adminKey, cred, nil)

	// Live delivery across nodes, in order: alice on A, bob on B.
	bobPhone := c.registerDevice()
	alice, _ := c.login(a, "alice", "")
	bob, _ := c.login(b, "bob", bobPhone)
	// bob speaks first and alice hears it on A: B knows alice's session,
	// and A has had bob's login published on the bus before (one
	// publisher, one order).
	send(t, bob, "alice", "hi alice")
	expectLive(t, alice, 1, "hi alice")
	var live []string
	for i := range 20 {
		live = append(live, fmt.Sprintf("live-%02d", i))
	}
	for _, text := range live {
		send(t, alice, "bob", text)
	}
	expectLive(t, bob, 2, live...)
	lastSeen := int64(1 + len(live))
	bob.Ack("alice", lastSeen)
	// The ack is written by B's ack flush; wait for it, so that what bob
	// syncs later is exactly what he missed (an ack not yet flushed when
	// a node dies is delivered again at the next sync: at least once).
	waitFor(t, 10*time.Second, "bob's ack stored", func() bool {
		return c.count(`SELECT count(*) FROM cursors WHERE app_id = $1 AND user_id = 'bob' AND seq = $2`, c.appID, lastSeen) == 1
	})

	// Pushes in flight on B when it dies: carol is offline with a phone,
	// the emulator answers slowly, and dave on B sends to her, so B's
	// dispatcher claims the jobs its messages made.
	carolPhone := c.registerDevice()
	carol, _ := c.login(cc, "carol", carolPhone)
	carol.Close()
	dave, _ := c.login(b, "dave", "")
	httpJSON(t, http.MethodPost, c.xiaomiControlURL+"/faults", "", []byte(`{"kind":"slow","delay":"2s","times":100000}`), nil)
	onB := func() int {
		return c.count(`SELECT count(*) FROM push_jobs WHERE app_id = $1 AND user_id = 'carol' AND status = 'pending' AND lease_owner = $2`, c.appID, b.id)
	}
	for i := 0; onB() == 0; i++ {
		// carol's session end reaches B over the bus in milliseconds;
		// a message B planned before it made no push, which the
		// exactly-once check below allows for (it counts jobs).
		if i == 50 {
			t.Fatal("B claimed none of carol's pushes")
		}
		send(t, dave, "carol", fmt.Sprintf("carol-%02d", i))
		time.Sleep(20 * time.Millisecond)
	}
	// A burst more: B's dispatcher fills its 4 slots, the other nodes
	// claim the rest.
	for i := range 12 {
		send(t, dave, "carol", fmt.Sprintf("carol-burst-%02d", i))
	}
	waitFor(t, 10*time.Second, "B holding several of carol's pushes", func() bool { return onB() >= 2 })
	heldByB := onB() // in flight on B, held up by the emulator
	if err := b.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = b.cmd.Wait()
	httpJSON(t, http.MethodDelete, c.xiaomiControlURL+"/faults", "", nil, nil)
	select {
	case <-bob.Closed():
	case <-time.After(10 * time.Second):
		t.Fatal("bob's connection to the killed node stayed open")
	}

	// While B is dead, alice writes to bob. Until B's presence expires
	// (3 heartbeats) A still thinks bob online and plans no push; after
	// it, each message is pushed to bob's phone.
	var missed []string
	bobJobs := func() int {
		return c.count(`SELECT count(*) FROM push_jobs WHERE app_id = $1 AND user_id = 'bob'`, c.appID)
	}
	for i := 0; bobJobs() < 5; i++ {
		if i == 200 {
			t.Fatal("no push jobs for bob after B's presence should have expired")
		}
		text := fmt.Sprintf("missed-%03d", i)
		send(t, alice, "bob", text)
		missed = append(missed, text)
		time.Sleep(100 * time.Millisecond)
	}

	// Every push job ends delivered (B's after their leases end), and the
	// emulator got each exactly once.
	waitFor(t, 60*time.Second, "every push job finished", func() bool {
		return c.count(`SELECT count(*) FROM push_jobs WHERE app_id = $1 AND status = 'pending'`, c.appID) == 0
	})
	if n := c.count(`SELECT count(*) FROM push_jobs WHERE app_id = $1 AND status <> 'delivered'`, c.appID); n != 0 {
		rows, err := db.QueryContext(context.Background(), `SELECT id, user_id, status, reason, attempts FROM push_jobs WHERE app_id = $1 AND status <> 'delivered'`, c.appID)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var id, attempts int64
			var user, status, reason string
			_ = rows.Scan(&id, &user, &status, &reason, &attempts)
			t.Logf("job %d of %s: %s after %d attempts: %s", id, user, status, attempts, reason)
		}
		rows.Close()
		t.Fatalf("%d push jobs not delivered", n)
	}
	for _, p := range []struct{ user, regid, prefix string }{{"bob", bobPhone, "missed-"}, {"carol", carolPhone, "carol-"}} {
		jobs := c.count(`SELECT count(*) FROM push_jobs WHERE app_id = $1 AND user_id = $2`, c.appID, p.user)
		got := c.pushed(p.regid)
		seen := map[string]bool{}
		for _, s := range got {
			if seen[s] || !strings.HasPrefix(s, p.prefix) {
				t.Errorf("%s's phone got %q twice or unexpected: %q", p.user, s, got)
			}
			seen[s] = true
		}
		if len(got) != jobs {
			t.Errorf("%s: %d push jobs, the emulator accepted %d pushes: %q", p.user, jobs, len(got), got)
		}
	}
	if n := c.count(`SELECT count(*) FROM push_attempts pa JOIN push_jobs j ON j.id = pa.job_id
		WHERE j.app_id = $1 AND j.user_id = 'carol'`, c.appID); n == 0 {
		t.Error("no push attempts recorded for carol")
	}

	t.Logf("B held %d of carol's %d push jobs when killed; bob got %d push jobs of %d messages while offline",
		heldByB, c.count(`SELECT count(*) FROM push_jobs WHERE app_id = $1 AND user_id = 'carol'`, c.appID), bobJobs(), len(missed))
	if n := c.count(`SELECT count(*) FROM push_jobs WHERE app_id = $1 AND lease_owner = $2`, c.appID, b.id); n != 0 {
		t.Errorf("%d jobs still leased by the dead node", n)
	}

	// bob reconnects to C and syncs what he missed: once each, in order,
	// no gap.
	bob, msgs := c.login(cc, "bob", bobPhone)
	if len(msgs) != len(missed) {
		t.Fatalf("bob synced %d messages, missed %d", len(msgs), len(missed))
	}
	for i, m := range msgs {
		if m.ConversationSeq != lastSeen+1+int64(i) || m.Text != missed[i] {
			t.Fatalf("synced message %d: seq %d %q, want seq %d %q", i, m.ConversationSeq, m.Text, lastSeen+1+int64(i), missed[i])
		}
	}
	lastSeen += int64(len(missed))

	// A fourth node joins while A and C run: it leases a node number of
	// its own, serves logins and gets deliveries both ways.
	d := c.start("node-d")
	var numbers []int
	rows, err := db.QueryContext(context.Background(), `SELECT node_id FROM nodes WHERE owner IN ($1, $2, $3)`, a.id, cc.id, d.id)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var n int
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		numbers = append(numbers, n)
	}
	rows.Close()
	if len(numbers) != 3 {
		t.Fatalf("node numbers of A, C, D: %v", numbers)
	}
	erin, _ := c.login(d, "erin", "")
	send(t, erin, "alice", "hi from D")
	expectLive(t, alice, 1, "hi from D")
	send(t, alice, "erin", "to D")
	expectLive(t, erin, 2, "to D")
	send(t, erin, "bob", "D to C")
	expectLive(t, bob, 1, "D to C")
	send(t, alice, "bob", "A to C")
	expectLive(t, bob, lastSeen+1, "A to C")
}
