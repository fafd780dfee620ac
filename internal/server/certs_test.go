package server

import (
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/heraldim/herald/internal/emulator/pki"
)

// TestCertSource: a pair that does not load is refused at start and, on a
// reload, keeps the certificate in use, counts an error and is not tried
// again until a file changes; a good pair replaces the certificate.
func TestCertSource(t *testing.T) {
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	write := func() tls.Certificate {
		_, _, leaf, err := pki.New("test", nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := pki.WriteFiles(leaf, cert, key); err != nil {
			t.Fatal(err)
		}
		return leaf
	}
	log := slog.New(slog.DiscardHandler)
	if _, err := newCertSource(cert, key, log, prometheus.NewRegistry()); err == nil {
		t.Fatal("newCertSource without files succeeded")
	}
	first := write()
	reg := prometheus.NewRegistry()
	c, err := newCertSource(cert, key, log, reg)
	if err != nil {
		t.Fatal(err)
	}
	served := func() []byte {
		got, err := c.tlsConfig().GetCertificate(&tls.ClientHelloInfo{})
		if err != nil {
			t.Fatal(err)
		}
		return got.Certificate[0]
	}
	if string(served()) != string(first.Certificate[0]) {
		t.Fatal("not serving the loaded certificate")
	}
	if c.changed() {
		t.Fatal("files unchanged since the load reported as changed")
	}

	if err := os.WriteFile(key, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if !c.changed() {
		t.Fatal("rewritten key not seen as changed")
	}
	if err := c.Reload(); err == nil {
		t.Fatal("Reload of a bad key succeeded")
	}
	if string(served()) != string(first.Certificate[0]) {
		t.Error("a bad reload replaced the certificate")
	}
	if c.changed() {
		t.Error("a bad pair would be tried again although no file changed")
	}
	if n := reloads(t, reg, "error"); n != 1 {
		t.Errorf("error reloads = %v, want 1", n)
	}

	second := write()
	if !c.changed() {
		t.Fatal("new pair not seen as changed")
	}
	if err := c.Reload(); err != nil {
		t.Fatalf("Reload of a good pair: %v", err)
	}
	if string(served()) != string(second.Certificate[0]) {
		t.Error("the new certificate is not served")
	}
	if n := reloads(t, reg, "ok"); n != 1 {
		t.Errorf("ok reloads = %v, want 1", n)
	}
	leaf, err := x509.ParseCertificate(second.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	if got := gauge(t, reg, "herald_tls_certificate_expiry_timestamp_seconds"); got != float64(leaf.NotAfter.Unix()) {
		t.Errorf("expiry gauge %v, want %d", got, leaf.NotAfter.Unix())
	}
	if cfg := c.tlsConfig(); cfg.MinVersion != tls.VersionTLS12 {
		t.Errorf("MinVersion %x, want TLS 1.2", cfg.MinVersion)
	}
}

// reloads returns herald_tls_reloads_total{result} from reg.
func reloads(t *testing.T, reg *prometheus.Registry, result string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "herald_tls_reloads_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "result" && l.GetValue() == result {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// gauge returns the unlabelled gauge name from reg.
func gauge(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no gauge %s", name)
	return 0
}
