package main

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestCLIServeEmulateDeviceHonor: herald device plays an Honor phone
// against serve --emulate: registered at login, the app in the
// background, an offline message is pushed through the Honor emulator and
// the system shows it; Honor raises no notificationArrived.
func TestCLIServeEmulateDeviceHonor(t *testing.T) {
	dir := t.TempDir()
	_, addr := startProcess(t, dir, "--emulate")
	common := []string{"--server", "ws://" + addr, "--data", dir}

	ctx, cancel := context.WithCancel(context.Background())
	var dout syncBuffer
	done := make(chan error, 1)
	go func() {
		stderr, err := runCLI(ctx, &dout, append([]string{"device", "--vendor", "honor", "--user", "bob", "--state", "background"}, common...)...)
		if err != nil {
			t.Logf("device stderr: %s", stderr)
		}
		done <- err
	}()
	defer func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("device: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("device did not stop when interrupted")
		}
	}()
	waitLine(t, &dout, done, `"event":"registered"`, `"pushID":"P`, `"errorCode":0`, `"vendor":"honor"`)
	waitLine(t, &dout, done, `"event":"appStateChanged"`, `"state":"background"`)

	var sout syncBuffer
	if stderr, err := runCLI(context.Background(), &sout, append([]string{"send", "--as", "alice", "--to", "bob",
		"--title", "T", "--content", "C", "--payload", "P1", "hello"}, common...)...); err != nil {
		t.Fatalf("send: %v\n%s", err, stderr)
	}
	out := waitLine(t, &dout, done, `"event":"notificationDisplayed"`, `"vendor":"honor"`, `"title":"T"`, `"content":"C"`, `"payload":"P1"`)
	if strings.Contains(out, "notificationArrived") {
		t.Errorf("Honor device raised notificationArrived:\n%s", out)
	}
}
