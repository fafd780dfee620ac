package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/heraldim/herald/internal/devapp"
	"github.com/heraldim/herald/internal/protocol"
	"github.com/heraldim/herald/internal/testkit"
	"github.com/heraldim/herald/internal/token"
)

// TestMain lets the test binary act as the herald binary when re-executed,
// so process-level tests run the real main without a separate build.
func TestMain(m *testing.M) {
	if os.Getenv("HERALD_TEST_AS_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// startProcess runs `herald serve` as a child process on dir and waits until
// it is ready.
func startProcess(t *testing.T, dir string, extra ...string) (*exec.Cmd, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	args := append([]string{"serve", "--data", dir, "--addr", addr, "--log-level", "warn"}, extra...)
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "HERALD_TEST_AS_MAIN=1")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return cmd, addr
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("server on %s not ready: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestKilledAfterAcksLosesNothing is promise 1: every message whose send was
// acknowledged survives a SIGKILL of the server process right after.
func TestKilledAfterAcksLosesNothing(t *testing.T) {
	for _, durability := range []string{"process", "power"} {
		t.Run(durability, func(t *testing.T) {
			dir := t.TempDir()
			cmd, addr := startProcess(t, dir, "--durability", durability, "--user-message-rate", "0") // 300 sends at once
			app, err := devapp.Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			tok := func(u string) string {
				s, err := token.Mint(app.AppID, app.Secret, u, time.Hour, time.Now())
				if err != nil {
					t.Fatal(err)
				}
				return s
			}
			alice := testkit.Dial(t, "ws://"+addr+"/v1/ws")
			if err := alice.Login(app.AppID, "alice", tok("alice"), "ios", "a"); err != nil {
				t.Fatal(err)
			}
			alice.SyncDone(10 * time.Second)
			const n = 300
			replies := make([]chan protocol.Frame, n)
			for i := range n {
				id := fmt.Sprint(i)
				replies[i] = alice.Expect(id)
				alice.Send(protocol.TypeSend, id, protocol.SendRequest{ConversationID: "bob", LocalMessageID: id, Type: 1, Text: "m" + id})
			}
			for i := range n {
				if f := alice.Wait(replies[i], 10*time.Second); f.Error != nil {
					t.Fatalf("send %d: %v", i, f.Error)
				}
			}
			// Every send is acknowledged: kill at once, no chance to flush.
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			_ = cmd.Wait()

			_, addr = startProcess(t, dir, "--durability", durability)
			bob := testkit.Dial(t, "ws://"+addr+"/v1/ws")
			if err := bob.Login(app.AppID, "bob", tok("bob"), "android", "b"); err != nil {
				t.Fatal(err)
			}
			msgs, count := bob.SyncDone(10 * time.Second)
			if count != n {
				t.Fatalf("after SIGKILL and restart bob synced %d of %d acknowledged messages", count, n)
			}
			for i, m := range msgs {
				if m.ConversationSeq != int64(i+1) || m.Text != fmt.Sprint("m", i) {
					t.Fatalf("message %d = seq %d %q", i, m.ConversationSeq, m.Text)
				}
			}
		})
	}
}
