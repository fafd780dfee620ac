package config

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/heraldim/herald/internal/emulator/pki"
)

// TestTLSAndAdminOptions: tls-cert and tls-key come together and must load
// as a pair when the configuration is read; admin-addr must not be addr.
func TestTLSAndAdminOptions(t *testing.T) {
	dir := t.TempDir()
	pair := func(name string) (string, string) {
		_, _, leaf, err := pki.New("test", nil)
		if err != nil {
			t.Fatal(err)
		}
		cert, key := filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
		if err := pki.WriteFiles(leaf, cert, key); err != nil {
			t.Fatal(err)
		}
		return cert, key
	}
	cert, key := pair("a")
	otherCert, _ := pair("b")

	c, err := load(t, []string{"--tls-cert", cert, "--tls-key", key, "--admin-addr", "127.0.0.1:9090"}, nil)
	if err != nil || c.TLSCert != cert || c.TLSKey != key || c.AdminAddr != "127.0.0.1:9090" {
		t.Fatalf("good options: %+v, %v", c, err)
	}
	if d := Default(); d.AdminAddr != "" || d.TLSCert != "" || d.TLSReloadInterval <= 0 || d.WriteProbeInterval <= 0 {
		t.Fatalf("defaults: admin %q, cert %q, reload %s, probe %s", d.AdminAddr, d.TLSCert, d.TLSReloadInterval, d.WriteProbeInterval)
	}
	cases := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"cert without key", []string{"--tls-cert", cert}, nil, "tls-cert and tls-key must be given together"},
		{"key without cert", nil, map[string]string{"HERALD_TLS_KEY": key}, "tls-cert and tls-key must be given together"},
		{"missing file", []string{"--tls-cert", filepath.Join(dir, "none.crt"), "--tls-key", key}, nil, "no such file"},
		{"key of another certificate", []string{"--tls-cert", otherCert, "--tls-key", key}, nil, "tls-cert, tls-key: tls: private key does not match public key"},
		{"not PEM", []string{"--tls-cert", filepath.Join(dir, "a.key"), "--tls-key", filepath.Join(dir, "a.crt")}, nil, "tls-cert, tls-key"},
		{"admin on addr", []string{"--addr", "127.0.0.1:9000", "--admin-addr", "127.0.0.1:9000"}, nil, "admin-addr must differ from addr"},
		{"negative reload", []string{"--tls-reload-interval", "-1s"}, nil, "tls-reload-interval"},
		{"zero probe", []string{"--write-probe-interval", "0s"}, nil, "write-probe-interval must be positive"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(t, tc.args, tc.env)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want mention of %q", err, tc.want)
			}
		})
	}
}
