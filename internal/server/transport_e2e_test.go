package server_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/heraldim/herald/internal/config"
	"github.com/heraldim/herald/internal/emulator/pki"
	"github.com/heraldim/herald/internal/protocol"
	"github.com/heraldim/herald/internal/testkit"
	herald "github.com/heraldim/herald/sdk/go"
)

// get requests base+path (with the dev app's admin key when admin) and
// returns the status and body.
func get(t *testing.T, hc *http.Client, s *testkit.Server, base, path string, admin bool) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if admin {
		req.Header.Set("Authorization", "Bearer "+s.App.AdminKey)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("GET %s%s: %v", base, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// TestAdminListener: with admin-addr set, the public listener serves the
// WebSocket and the health checks only (the admin API and /metrics answer
// 404 there) and the admin listener serves the admin API, /metrics and the
// health checks (not the WebSocket); without it, one listener serves all.
func TestAdminListener(t *testing.T) {
	for _, split := range []bool{false, true} {
		t.Run(fmt.Sprintf("split=%v", split), func(t *testing.T) {
			s := testkit.Start(t, func(c *config.Config) {
				if split {
					c.AdminAddr = "127.0.0.1:0"
				}
			})
			public, admin := s.HTTP, "http://"+s.Srv.AdminAddr()
			if (public != admin) != split {
				t.Fatalf("public %s, admin %s, split %v", public, admin, split)
			}
			adminPath := "/v1/apps/" + s.App.AppID + "/push/credentials"
			onPublic := http.StatusOK
			if split {
				onPublic = http.StatusNotFound
			}
			hc := http.DefaultClient
			for _, tc := range []struct {
				base, path string
				admin      bool
				want       int
			}{
				{public, "/healthz", false, http.StatusOK},
				{public, "/readyz", false, http.StatusOK},
				{public, adminPath, true, onPublic},
				{public, "/metrics", false, onPublic},
				{admin, adminPath, true, http.StatusOK},
				{admin, adminPath, false, http.StatusUnauthorized},
				{admin, "/metrics", false, http.StatusOK},
				{admin, "/healthz", false, http.StatusOK},
				{admin, "/readyz", false, http.StatusOK},
			} {
				if code, body := get(t, hc, s, tc.base, tc.path, tc.admin); code != tc.want {
					t.Errorf("GET %s%s: %d %s, want %d", tc.base, tc.path, code, body, tc.want)
				}
			}
			if split {
				// The admin listener has no WebSocket: a plain GET of
				// /v1/ws is 404 there, while the public one answers it
				// (400: not an upgrade).
				if code, _ := get(t, hc, s, admin, "/v1/ws", false); code != http.StatusNotFound {
					t.Errorf("GET /v1/ws on the admin listener: %d, want 404", code)
				}
			}
			alice, bob := s.LoginAs(t, "alice", "ios", "a1"), s.LoginAs(t, "bob", "ios", "b1")
			if _, err := alice.SendText("bob", "l1", "hello"); err != nil {
				t.Fatalf("send on the public listener: %v", err)
			}
			if m := nextMessage(t, bob); m.Text != "hello" {
				t.Fatalf("bob got %+v", m)
			}
		})
	}
}

// certFiles makes a CA and a server certificate for the loopback
// addresses, writes the certificate's files to cert and key, and returns
// the CA and the certificate's serial.
func certFiles(t *testing.T, cert, key string) (*x509.Certificate, *big.Int) {
	t.Helper()
	_, _, leaf, err := pki.New("Herald test", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := pki.WriteFiles(leaf, cert, key); err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(leaf.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(leaf.Certificate[1])
	if err != nil {
		t.Fatal(err)
	}
	return ca, c.SerialNumber
}

// poolOf is a pool trusting cas.
func poolOf(cas ...*x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	for _, ca := range cas {
		p.AddCert(ca)
	}
	return p
}

// servedSerial opens a TLS connection to addr trusting pool, offering
// HTTP/2 too, and returns the serial of the certificate served; the
// server must pick HTTP/1.1 (the WebSocket upgrade needs it).
func servedSerial(t *testing.T, addr string, pool *x509.CertPool) *big.Int {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, NextProtos: []string{"h2", "http/1.1"}})
	if err != nil {
		t.Fatalf("TLS dial %s: %v", addr, err)
	}
	defer conn.Close()
	st := conn.ConnectionState()
	if st.NegotiatedProtocol != "http/1.1" || st.Version < tls.VersionTLS12 {
		t.Errorf("negotiated %q, TLS version %x; want http/1.1, 1.2 or later", st.NegotiatedProtocol, st.Version)
	}
	return st.PeerCertificates[0].SerialNumber
}

// sdkClient is a Go SDK client of s over wss, trusting pool.
func sdkClient(t *testing.T, s *testkit.Server, pool *x509.CertPool, user string) (*herald.Client, chan herald.Message) {
	t.Helper()
	c, err := herald.Create(herald.Config{
		Server:     "wss://" + s.Srv.Addr(),
		AppID:      s.App.AppID,
		DeviceID:   user + "-1",
		HTTPClient: &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Destroy)
	got := make(chan herald.Message, 16)
	c.SetEventHandler(herald.EventHandler{ReceivePeerMessage: func(msgs []herald.Message, _ herald.MessageReceivedInfo, _ string) {
		for _, m := range msgs {
			got <- m
		}
	}})
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := c.Login(ctx, user, s.Token(t, user, time.Hour)); err != nil {
		t.Fatalf("login %s over wss: %v", user, err)
	}
	return c, got
}

// sendOver sends text from c to user and waits for it in got.
func sendOver(t *testing.T, c *herald.Client, to string, got chan herald.Message, text string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if _, err := c.SendMessage(ctx, herald.NewTextMessage(text), to, herald.ConversationTypePeer, herald.MessageSendConfig{}); err != nil {
		t.Fatalf("send %q over wss: %v", text, err)
	}
	select {
	case m := <-got:
		if m.Text != text {
			t.Fatalf("%s got %q, want %q", to, m.Text, text)
		}
	case <-ctx.Done():
		t.Fatalf("%s did not get %q", to, text)
	}
}

// TestTLSWebSocket: with tls-cert and tls-key the server speaks only TLS
// (1.2 or later, HTTP/1.1): the Go SDK logs in and sends over wss, the
// admin listener serves HTTPS with the same certificate. ReloadTLS (what
// SIGHUP calls) puts a replaced pair in use for new connections while the
// sessions open go on; a bad pair is refused, logged and counted, and the
// certificate in use stays.
func TestTLSWebSocket(t *testing.T) {
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	ca1, serial1 := certFiles(t, cert, key)
	pool1 := poolOf(ca1)
	s := testkit.Start(t, func(c *config.Config) {
		c.TLSCert, c.TLSKey = cert, key
		c.TLSReloadInterval = 0 // SIGHUP (ReloadTLS) only: files changing alone change nothing
		c.AdminAddr = "127.0.0.1:0"
	})
	addr := s.Srv.Addr()
	if got := servedSerial(t, addr, pool1); got.Cmp(serial1) != 0 {
		t.Fatalf("served serial %s, want %s", got, serial1)
	}
	// Plain HTTP on the TLS port is refused.
	if code, _ := get(t, http.DefaultClient, s, "http://"+addr, "/healthz", false); code != http.StatusBadRequest {
		t.Errorf("plain HTTP on the TLS listener: %d, want 400", code)
	}
	alice, _ := sdkClient(t, s, pool1, "alice")
	_, bobGot := sdkClient(t, s, pool1, "bob")
	sendOver(t, alice, "bob", bobGot, "over wss")

	ca2, serial2 := certFiles(t, cert, key)
	pool2 := poolOf(ca2)
	pool := poolOf(ca1, ca2) // both trusted: only the serial tells them apart
	if got := servedSerial(t, addr, pool); got.Cmp(serial1) != 0 {
		t.Fatalf("served serial %s before the reload, want still %s", got, serial1)
	}
	if err := s.Srv.ReloadTLS(); err != nil {
		t.Fatalf("ReloadTLS: %v", err)
	}
	if got := servedSerial(t, addr, pool); got.Cmp(serial2) != 0 {
		t.Fatalf("served serial %s after the reload, want %s", got, serial2)
	}
	if got := servedSerial(t, s.Srv.AdminAddr(), pool); got.Cmp(serial2) != 0 {
		t.Errorf("admin listener serves serial %s, want %s", got, serial2)
	}
	sendOver(t, alice, "bob", bobGot, "after the reload") // sessions opened before go on
	carol, _ := sdkClient(t, s, pool2, "carol")           // a new one trusts the new CA only
	sendOver(t, carol, "bob", bobGot, "from carol")

	if err := os.WriteFile(key, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.Srv.ReloadTLS(); err == nil {
		t.Fatal("ReloadTLS accepted a key that is no key")
	}
	if got := servedSerial(t, addr, pool); got.Cmp(serial2) != 0 {
		t.Fatalf("served serial %s after a bad reload, want still %s", got, serial2)
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	defer hc.CloseIdleConnections()
	code, body := get(t, hc, s, "https://"+s.Srv.AdminAddr(), "/metrics", false)
	if code != http.StatusOK {
		t.Fatalf("metrics over https: %d", code)
	}
	for _, want := range []string{`herald_tls_reloads_total{result="ok"} 1`, `herald_tls_reloads_total{result="error"} 1`} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// TestTLSReloadOnFileChange: with tls-reload-interval set, replacing the
// certificate files is enough: new connections get the new certificate.
func TestTLSReloadOnFileChange(t *testing.T) {
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	ca1, serial1 := certFiles(t, cert, key)
	s := testkit.Start(t, func(c *config.Config) {
		c.TLSCert, c.TLSKey = cert, key
		c.TLSReloadInterval = 5 * time.Millisecond
	})
	if got := servedSerial(t, s.Srv.Addr(), poolOf(ca1)); got.Cmp(serial1) != 0 {
		t.Fatalf("served serial %s, want %s", got, serial1)
	}
	ca2, serial2 := certFiles(t, cert, key)
	pool := poolOf(ca1, ca2)
	timeout := time.After(wait)
	for {
		// Each file is replaced on its own: a reload may catch the new
		// certificate with the old key, fail, and be tried again.
		_, reloaded := s.Srv.TLSReloads()
		if got := servedSerial(t, s.Srv.Addr(), pool); got.Cmp(serial2) == 0 {
			break
		}
		select {
		case <-reloaded:
		case <-timeout:
			t.Fatal("the replaced files were not loaded")
		}
	}
	_, _ = sdkClient(t, s, poolOf(ca2), "alice")
}

// readyz returns /readyz's status and its checks.store.
func readyz(t *testing.T, s *testkit.Server) (int, string) {
	t.Helper()
	code, body := get(t, http.DefaultClient, s, s.HTTP, "/readyz", false)
	var r struct {
		Checks map[string]string `json:"checks"`
	}
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatalf("readyz body %q: %v", body, err)
	}
	return code, r.Checks["store"]
}

// TestReadyzStoreWriteFailing: when the database cannot grow (its
// max_page_count at its size, as on a full disk), sends fail and /readyz
// answers 503 with "write failing: ..." although the store still answers
// reads; once there is room again the write probe notices by itself, with
// no send, and /readyz is 200 again.
func TestReadyzStoreWriteFailing(t *testing.T) {
	testkit.SQLiteOnly(t, "fills the database by capping SQLite's max_page_count")
	s := testkit.Start(t, func(c *config.Config) { c.WriteProbeInterval = 5 * time.Millisecond })
	alice := s.LoginAs(t, "alice", "server", "a1")
	if _, err := alice.SendText("bob", "l0", "hello"); err != nil {
		t.Fatal(err)
	}
	if code, store := readyz(t, s); code != http.StatusOK || store != "ok" {
		t.Fatalf("readyz before: %d %q", code, store)
	}
	st := s.Srv.Store()
	ctx := context.Background()
	pages, err := st.PageCount(ctx)
	if err != nil {
		t.Fatal(err)
	}
	failing := st.WriteHealthChanged() // before the probe can fail too
	if _, err := st.SetMaxPageCount(ctx, pages); err != nil {
		t.Fatal(err)
	}
	var sendErr *protocol.Error
	for i := 0; i < 100 && sendErr == nil; i++ { // until the free pages are used up
		_, sendErr = alice.SendText("bob", fmt.Sprint("big", i), strings.Repeat("x", protocol.MaxTextBytes))
	}
	if sendErr == nil {
		t.Fatal("100 sends of 32 KB fit in a database that cannot grow")
	}
	select {
	case <-failing:
	case <-time.After(wait):
		t.Fatal("the store did not record the failed commit")
	}
	code, store := readyz(t, s)
	if code != http.StatusServiceUnavailable || !strings.HasPrefix(store, "write failing: ") || !strings.Contains(store, "full") {
		t.Fatalf("readyz with a full database: %d %q; want 503, write failing: ...full", code, store)
	}
	if v := s.Metric(t, "herald_store_write_failing"); v != 1 {
		t.Errorf("herald_store_write_failing = %v, want 1", v)
	}

	recovered := st.WriteHealthChanged()
	if _, err := st.SetMaxPageCount(ctx, 1<<30); err != nil {
		t.Fatal(err)
	}
	select {
	case <-recovered:
	case <-time.After(wait):
		t.Fatal("the write probe did not notice the room made")
	}
	if code, store := readyz(t, s); code != http.StatusOK || store != "ok" {
		t.Fatalf("readyz after: %d %q", code, store)
	}
	if v := s.Metric(t, "herald_store_write_failing"); v != 0 {
		t.Errorf("herald_store_write_failing = %v, want 0", v)
	}
	if _, err := alice.SendText("bob", "l1", "back"); err != nil {
		t.Fatalf("send after recovery: %v", err)
	}
}
