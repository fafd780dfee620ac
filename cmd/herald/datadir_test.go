package main

import (
	"bytes"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestServeRefusesDataDirInUse: a second `herald serve` on the data
// directory of a running one exits at once with a message naming the
// directory and the running server's PID; after that server was killed
// (the kernel drops its lock), serve starts on the directory again.
func TestServeRefusesDataDirInUse(t *testing.T) {
	dir := t.TempDir()
	first, _ := startProcess(t, dir)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	second := exec.Command(os.Args[0], "serve", "--data", dir, "--addr", addr, "--log-level", "warn")
	second.Env = append(os.Environ(), "HERALD_TEST_AS_MAIN=1")
	var stderr bytes.Buffer
	second.Stderr = &stderr
	done := make(chan error, 1)
	if err := second.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- second.Wait() }()
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		_ = second.Process.Kill()
		t.Fatalf("a second serve on %s is still running", dir)
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("second serve: %v, want exit code 1 (stderr %q)", err, stderr.String())
	}
	msg := stderr.String()
	for _, want := range []string{"herald: data directory " + dir + " is in use", "process " + strconv.Itoa(first.Process.Pid), filepath.Join(dir, "herald.lock")} {
		if !strings.Contains(msg, want) {
			t.Errorf("stderr %q does not say %q", msg, want)
		}
	}

	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait()
	startProcess(t, dir)
}
