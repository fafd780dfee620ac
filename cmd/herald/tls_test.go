package main

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/heraldim/herald/internal/emulator/pki"
)

// TestHangupReloadsCertificate: herald serve with tls-cert and tls-key
// (file polling off) serves the new certificate's files after a SIGHUP.
func TestHangupReloadsCertificate(t *testing.T) {
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	newPair := func() (*x509.Certificate, *big.Int) {
		_, _, leaf, err := pki.New("Herald test", nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := pki.WriteFiles(leaf, cert, key); err != nil {
			t.Fatal(err)
		}
		c, _ := x509.ParseCertificate(leaf.Certificate[0])
		ca, _ := x509.ParseCertificate(leaf.Certificate[1])
		return ca, c.SerialNumber
	}
	ca1, serial1 := newPair()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(os.Args[0], "serve", "--data", filepath.Join(dir, "data"), "--addr", addr,
		"--tls-cert", cert, "--tls-key", key, "--tls-reload-interval", "0", "--log-format", "json")
	cmd.Env = append(os.Environ(), "HERALD_TEST_AS_MAIN=1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines, stop := make(chan string), make(chan struct{})
	t.Cleanup(func() { close(stop); _ = cmd.Process.Kill(); _ = cmd.Wait() })
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-stop: // the test ended: read on until the pipe closes
			}
		}
	}()
	waitLog := func(msg string) {
		t.Helper()
		timeout := time.After(30 * time.Second)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("server exited before logging %q", msg)
				}
				if strings.Contains(l, `"msg":"`+msg+`"`) {
					return
				}
			case <-timeout:
				t.Fatalf("no %q in the log", msg)
			}
		}
	}
	served := func(pool *x509.CertPool) *big.Int {
		t.Helper()
		conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool})
		if err != nil {
			t.Fatalf("TLS dial: %v", err)
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].SerialNumber
	}
	waitLog("herald serving")
	pool := x509.NewCertPool()
	pool.AddCert(ca1)
	if got := served(pool); got.Cmp(serial1) != 0 {
		t.Fatalf("served serial %s, want %s", got, serial1)
	}
	ca2, serial2 := newPair()
	pool.AddCert(ca2)
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitLog("tls: certificate loaded")
	if got := served(pool); got.Cmp(serial2) != 0 {
		t.Fatalf("served serial %s after SIGHUP, want %s", got, serial2)
	}
}
