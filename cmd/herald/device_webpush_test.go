package main

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestCLIServeEmulateDeviceWebPush: herald device --vendor webpush plays a
// browser against serve --emulate: it subscribes at the Web Push emulator,
// registers the subscription, and once it is in the background a push is
// decrypted and shown, and notificationArrived raised (the service worker
// tells an open page).
func TestCLIServeEmulateDeviceWebPush(t *testing.T) {
	dir := t.TempDir()
	_, addr := startProcess(t, dir, "--emulate")
	common := []string{"--server", "ws://" + addr, "--data", dir}

	ctx, cancel := context.WithCancel(context.Background())
	var dout syncBuffer
	done := make(chan error, 1)
	go func() {
		stderr, err := runCLI(ctx, &dout, append([]string{"device", "--vendor", "webpush", "--user", "bob", "--state", "background"}, common...)...)
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
	waitLine(t, &dout, done, `"event":"registered"`, `"pushID":"P`, `"errorCode":0`, `"vendor":"webpush"`, `"token":"{`)
	waitLine(t, &dout, done, `"event":"appStateChanged"`, `"state":"background"`)

	var sout syncBuffer
	if stderr, err := runCLI(context.Background(), &sout, append([]string{"send", "--as", "alice", "--to", "bob",
		"--title", "T", "--content", "C", "--payload", "P1", "hello"}, common...)...); err != nil {
		t.Fatalf("send: %v\n%s", err, stderr)
	}
	waitLine(t, &dout, done, `"event":"notificationDisplayed"`, `"title":"T"`, `"content":"C"`, `"payload":"P1"`)
	out := waitLine(t, &dout, done, `"event":"notificationArrived"`, `"title":"T"`, `"content":"C"`, `"payload":"P1"`)
	if strings.Contains(out, "throughMessageReceived") {
		t.Errorf("a browser raised throughMessageReceived:\n%s", out)
	}
	for _, l := range jsonLinesOf(t, out) {
		if l["event"] == "notificationDisplayed" || l["event"] == "notificationArrived" {
			if l["vendor"] != "webpush" || l["kind"] != "notification" {
				t.Errorf("line %v", l)
			}
		}
	}
}
