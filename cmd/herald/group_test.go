package main

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/heraldim/herald/internal/testkit"
)

// cliRunner runs herald commands against one test server.
type cliRunner struct {
	t      *testing.T
	common []string
}

func newCLIRunner(t *testing.T) *cliRunner {
	srv := testkit.Start(t, nil)
	return &cliRunner{t: t, common: []string{"--server", srv.HTTP, "--data", srv.DataDir}}
}

// run runs a command with the server flags and returns its stdout and
// stderr.
func (r *cliRunner) run(args ...string) (string, string, error) {
	var out syncBuffer
	stderr, err := runCLI(context.Background(), &out, append(args, r.common...)...)
	return out.String(), stderr, err
}

// ok runs a command that must succeed and returns its stdout.
func (r *cliRunner) ok(args ...string) string {
	r.t.Helper()
	out, stderr, err := r.run(args...)
	if err != nil {
		r.t.Fatalf("herald %s: %v\nstderr: %s", strings.Join(args, " "), err, stderr)
	}
	return out
}

// refused runs a command that the server must refuse with code.
func (r *cliRunner) refused(code string, args ...string) {
	r.t.Helper()
	_, stderr, err := r.run(args...)
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != exitServerError || !strings.Contains(err.Error(), code) {
		r.t.Errorf("herald %s: got %v (stderr %q), want exit 3 with %s", strings.Join(args, " "), err, stderr, code)
	}
}

// listening is a herald listen running in the background.
type listening struct {
	t      *testing.T
	out    *syncBuffer
	cancel context.CancelFunc
	done   chan error
}

// listen starts herald listen for user and waits for its syncDone.
func (r *cliRunner) listen(user string) *listening {
	r.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	l := &listening{t: r.t, out: &syncBuffer{}, cancel: cancel, done: make(chan error, 1)}
	go func() {
		_, err := runCLI(ctx, l.out, append([]string{"listen", "--as", user}, r.common...)...)
		l.done <- err
	}()
	r.t.Cleanup(l.stop)
	l.waitLine("syncDone")
	return l
}

// waitLine waits for a printed line holding every part and returns it.
func (l *listening) waitLine(parts ...string) map[string]any {
	l.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		for _, line := range strings.Split(l.out.String(), "\n") {
			all := line != ""
			for _, p := range parts {
				all = all && strings.Contains(line, p)
			}
			if all {
				return jsonLinesOf(l.t, line)[0]
			}
		}
		if time.Now().After(deadline) {
			l.t.Fatalf("listen printed no line with %q:\n%s", parts, l.out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (l *listening) stop() {
	if l.cancel == nil {
		return
	}
	l.cancel()
	l.cancel = nil
	select {
	case err := <-l.done:
		if err != nil {
			l.t.Errorf("listen: %v", err)
		}
	case <-time.After(10 * time.Second):
		l.t.Error("listen did not stop")
	}
}

func TestCLIGroups(t *testing.T) {
	r := newCLIRunner(t)
	bob := r.listen("bob")
	for _, u := range []string{"carol", "dave"} { // users must have logged in once
		if out := r.ok("group", "list", "--as", u); out != "" {
			t.Errorf("%s's groups: %q", u, out)
		}
	}

	if id := strings.TrimSpace(r.ok("group", "create", "--as", "alice", "--name", "Team", "--members", "bob,carol", "--id", "team", "--join-mode", "any")); id != "team" {
		t.Fatalf("group create printed %q", id)
	}
	ev := bob.waitLine(`"groupStateChanged"`, `"team"`)
	if ev["state"] != "enter" || ev["groupEvent"] != "created" || ev["operatedBy"] != "alice" {
		t.Errorf("groupStateChanged line %v", ev)
	}
	if g, _ := ev["group"].(map[string]any); g["name"] != "Team" || g["memberCount"] != 3.0 || g["myRole"] != "member" {
		t.Errorf("group in the event: %v", ev["group"])
	}
	if id := strings.TrimSpace(r.ok("group", "create", "--as", "alice", "--name", "Other")); id == "" || id == "team" {
		t.Errorf("group create with a server-made ID printed %q", id)
	}
	if out, stderr, err := r.run("group", "create", "--as", "alice", "--name", "X", "--members", "nobody", "--id", "x"); err != nil ||
		strings.TrimSpace(out) != "x" || !strings.Contains(stderr, "nobody: 40401") {
		t.Errorf("create with a user who never logged in: %q %q %v", out, stderr, err)
	}
	if j := jsonLinesOf(t, r.ok("group", "join", "--as", "carol", "x")); len(j) != 1 || j[0]["pending"] != true || j[0]["joinMode"] != "approval" {
		t.Errorf("join of an approval group printed %v", j)
	}
	if _, _, err := r.run("group", "create", "--as", "alice", "--name", "X", "--join-mode", "open"); err == nil {
		t.Error("create with --join-mode open succeeded")
	}
	if as := jsonLinesOf(t, r.ok("group", "applications", "--as", "alice", "x")); len(as) != 1 || as[0]["userID"] != "carol" || as[0]["state"] != "pending" {
		t.Errorf("group applications printed %v", as)
	}
	r.refused("40300", "group", "accept", "--as", "carol", "x", "carol")
	if a := jsonLinesOf(t, r.ok("group", "accept", "--as", "alice", "x", "carol")); len(a) != 1 || a[0]["state"] != "accepted" {
		t.Errorf("group accept printed %v", a)
	}
	r.refused("40908", "group", "reject", "--as", "alice", "x", "carol")
	r.ok("group", "join-mode", "--as", "alice", "x", "invite")
	r.refused("40303", "group", "join", "--as", "dave", "x")
	if _, _, err := r.run("group", "join-mode", "--as", "alice", "x", "open"); err == nil {
		t.Error("join-mode open succeeded")
	}
	r.refused("40901", "group", "create", "--as", "alice", "--id", "team")

	// Group messages, with a push config.
	sent := jsonLinesOf(t, r.ok("send", "--as", "alice", "--group", "team", "--title", "Alice", "--content", "hi", "hello team"))
	if len(sent) != 1 || sent[0]["conversationType"] != 2.0 || sent[0]["conversationID"] != "team" || sent[0]["seq"] != 1.0 {
		t.Errorf("send --group printed %v", sent)
	}
	msg := bob.waitLine(`"message"`, "hello team")
	if msg["conversationType"] != 2.0 || msg["conversationID"] != "team" || msg["sender"] != "alice" || msg["offline"] != false {
		t.Errorf("group message line %v", msg)
	}
	if _, _, err := r.run("send", "--as", "alice", "--group", "team", "--to", "bob", "x"); err == nil {
		t.Error("send with both --to and --group succeeded")
	}
	if _, _, err := r.run("send", "--as", "alice", "x"); err == nil {
		t.Error("send with neither --to nor --group succeeded")
	}
	r.refused("40300", "send", "--as", "dave", "--group", "team", "not a member")

	// Queries.
	info := jsonLinesOf(t, r.ok("group", "info", "--as", "carol", "team"))
	if len(info) != 1 || info[0]["memberCount"] != 3.0 || info[0]["owner"] != "alice" || info[0]["myRole"] != "member" || info[0]["groupID"] != "team" {
		t.Errorf("group info printed %v", info)
	}
	members := jsonLinesOf(t, r.ok("group", "members", "--as", "carol", "team"))
	var ms []string
	for _, m := range members {
		ms = append(ms, m["userID"].(string)+"="+m["role"].(string))
	}
	if got := strings.Join(ms, " "); got != "alice=owner bob=member carol=member" {
		t.Errorf("group members printed %s", got)
	}
	if list := jsonLinesOf(t, r.ok("group", "list", "--as", "bob")); len(list) != 1 || list[0]["groupID"] != "team" {
		t.Errorf("group list printed %v", list)
	}
	r.refused("40300", "group", "info", "--as", "dave", "team")
	r.refused("40402", "group", "info", "--as", "dave", "nosuchgroup")

	// Membership and roles.
	inv := jsonLinesOf(t, r.ok("group", "invite", "--as", "bob", "team", "dave"))
	if len(inv) != 1 || inv[0]["memberCount"] != 4.0 {
		t.Errorf("group invite printed %v", inv)
	}
	bob.waitLine(`"groupMemberStateChanged"`, `"invited"`, `"dave"`)
	r.refused("40301", "group", "kick", "--as", "carol", "team", "dave")
	if kick := jsonLinesOf(t, r.ok("group", "kick", "--as", "alice", "team", "dave,nobody")); len(kick) != 1 || kick[0]["memberCount"] != 3.0 {
		t.Errorf("group kick printed %v", kick)
	}
	bob.waitLine(`"groupMemberStateChanged"`, `"kickedOut"`, `"dave"`)
	r.ok("group", "set-role", "--as", "alice", "team", "bob", "admin")
	upd := bob.waitLine(`"groupMemberInfoUpdated"`)
	if ms, _ := upd["members"].([]any); len(ms) != 1 || ms[0].(map[string]any)["role"] != "admin" {
		t.Errorf("groupMemberInfoUpdated line %v", upd)
	}
	if _, _, err := r.run("group", "set-role", "--as", "alice", "team", "bob", "king"); err == nil {
		t.Error("set-role king succeeded")
	}
	r.refused("40905", "group", "leave", "--as", "alice", "team")
	r.ok("group", "transfer", "--as", "alice", "team", "bob")
	r.ok("group", "leave", "--as", "alice", "team")
	if j := jsonLinesOf(t, r.ok("group", "join", "--as", "dave", "team")); len(j) != 1 || j[0]["groupID"] != "team" || j[0]["owner"] != "bob" {
		t.Errorf("group join printed %v", j)
	}
	r.refused("40301", "group", "dismiss", "--as", "carol", "team")
	r.ok("group", "dismiss", "--as", "bob", "team")
	bob.waitLine(`"groupStateChanged"`, `"dismissed"`)
	r.refused("41000", "group", "info", "--as", "bob", "team")
	bob.stop()
}
