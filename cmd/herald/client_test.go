package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldim/herald/internal/testkit"
)

// syncBuffer is a bytes.Buffer safe for a command writing while a test
// reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// runCLI runs the herald command line in process.
func runCLI(ctx context.Context, stdout *syncBuffer, args ...string) (string, error) {
	root := newRootCmd()
	var stderr syncBuffer
	root.SetOut(stdout)
	root.SetErr(&stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	return stderr.String(), err
}

func jsonLinesOf(t *testing.T, s string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(s), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("not a JSON line: %q", line)
		}
		out = append(out, m)
	}
	return out
}

func TestCLITokenSendListen(t *testing.T) {
	srv := testkit.Start(t, nil)
	common := []string{"--server", srv.HTTP, "--data", srv.DataDir}
	ctx := context.Background()

	var out syncBuffer
	if _, err := runCLI(ctx, &out, append([]string{"token", "--user", "alice"}, common[2:]...)...); err != nil {
		t.Fatal(err)
	}
	if tok := strings.TrimSpace(out.String()); strings.Count(tok, ".") != 2 {
		t.Fatalf("token = %q", tok)
	}

	send := func(args ...string) (map[string]any, string, error) {
		var out syncBuffer
		stderr, err := runCLI(ctx, &out, append(append([]string{"send"}, common...), args...)...)
		if err != nil {
			return nil, stderr, err
		}
		lines := jsonLinesOf(t, out.String())
		if len(lines) != 1 {
			t.Fatalf("send printed %d lines", len(lines))
		}
		return lines[0], stderr, nil
	}
	first, _, err := send("--as", "alice", "--to", "bob", "--title", "T", "--content", "C", "--priority", "high", "offline hello")
	if err != nil {
		t.Fatal(err)
	}
	if first["seq"] != 1.0 || first["priority"] != 3.0 || first["sender"] != "alice" || first["conversationID"] != "bob" {
		t.Errorf("send result = %v", first)
	}
	a, _, err := send("--as", "alice", "--to", "bob", "--type", "custom", "--sub-type", "9", "--local-id", "L1", "--base64", "AAEC")
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := send("--as", "alice", "--to", "bob", "--type", "custom", "--sub-type", "9", "--local-id", "L1", "--base64", "AAEC")
	if err != nil {
		t.Fatal(err)
	}
	if a["messageID"] != b["messageID"] || a["seq"] != 2.0 || b["seq"] != 2.0 {
		t.Errorf("retry with the same local ID: %v then %v", a, b)
	}
	_, _, err = send("--as", "alice", "--to", "alice", "me")
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != exitServerError || !strings.Contains(err.Error(), "40005") {
		t.Errorf("send to self: %v", err)
	}

	// listen: the offline messages, syncDone, a live one, then a clean
	// logout on cancellation.
	lctx, cancel := context.WithCancel(ctx)
	var lout syncBuffer
	done := make(chan error, 1)
	go func() {
		_, err := runCLI(lctx, &lout, append([]string{"listen", "--as", "bob"}, common...)...)
		done <- err
	}()
	waitFor := func(what string, cond func(string) bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for !cond(lout.String()) {
			if time.Now().After(deadline) {
				t.Fatalf("listen: no %s in:\n%s", what, lout.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitFor("syncDone", func(s string) bool { return strings.Contains(s, `"syncDone"`) })
	if _, _, err := send("--as", "alice", "--to", "bob", "live hello"); err != nil {
		t.Fatal(err)
	}
	waitFor("live message", func(s string) bool { return strings.Contains(s, "live hello") })
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("listen: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("listen did not stop")
	}
	var kinds []string
	for _, l := range jsonLinesOf(t, lout.String()) {
		k := l["event"].(string)
		switch k {
		case "message":
			k += map[bool]string{true: "/offline", false: "/live"}[l["offline"].(bool)]
		case "connectionStateChanged":
			k = l["state"].(string)
		}
		kinds = append(kinds, k)
	}
	want := "connecting connected message/offline message/offline syncDone message/live disconnected"
	if got := strings.Join(kinds, " "); got != want {
		t.Errorf("listen printed %s\nwant %s", got, want)
	}
	if !strings.Contains(lout.String(), `"data":"AAEC"`) || !strings.Contains(lout.String(), `"subType":9`) {
		t.Errorf("custom message not printed with its data: %s", lout.String())
	}

	// A restarted listen on the same device resumes after what it printed.
	lctx, cancel = context.WithCancel(ctx)
	lout = syncBuffer{}
	go func() {
		_, err := runCLI(lctx, &lout, append([]string{"listen", "--as", "bob"}, common...)...)
		done <- err
	}()
	waitFor("syncDone", func(s string) bool { return strings.Contains(s, `"syncDone"`) })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(lout.String(), `{"event":"syncDone","count":0}`) || strings.Contains(lout.String(), `"message"`) {
		t.Errorf("restarted listen got messages again:\n%s", lout.String())
	}
}

func TestCLIListenKicked(t *testing.T) {
	srv := testkit.Start(t, nil)
	common := []string{"--server", srv.HTTP, "--data", srv.DataDir}
	var out1, out2 syncBuffer
	done := make(chan error, 1)
	go func() {
		_, err := runCLI(context.Background(), &out1, append([]string{"listen", "--as", "bob"}, common...)...)
		done <- err
	}()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(out1.String(), `"syncDone"`) {
		if time.Now().After(deadline) {
			t.Fatal("first listen not logged in")
		}
		time.Sleep(10 * time.Millisecond)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done2 := make(chan error, 1)
	go func() {
		_, err := runCLI(ctx, &out2, append([]string{"listen", "--as", "bob", "--device", "second"}, common...)...)
		done2 <- err
	}()
	defer func() {
		cancel()
		if err := <-done2; err != nil {
			t.Errorf("second listen: %v", err)
		}
	}()
	select {
	case err := <-done:
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != exitKicked {
			t.Fatalf("kicked listen returned %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("first listen was not kicked")
	}
	if !strings.Contains(out1.String(), `"event":"kicked","reason":1`) {
		t.Errorf("no kicked line:\n%s", out1.String())
	}
	// The kick reaches the first listener as soon as the server accepts the
	// second login, which may be before the second listener has seen its
	// reply: let it finish logging in before it is interrupted.
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(out2.String(), `"syncDone"`); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("second listen not logged in")
		}
	}
}
