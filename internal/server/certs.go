package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/heraldim/herald/internal/progress"
)

// certSource serves the TLS certificate from a pair of PEM files and loads
// it again on Reload and, when polled, whenever the files change. A pair
// that does not load keeps the certificate in use.
type certSource struct {
	certFile, keyFile string
	log               *slog.Logger
	reloads           *prometheus.CounterVec // by result: ok, error

	cur      atomic.Pointer[tls.Certificate]
	attempts progress.Counter // reloads tried, for tests to wait on

	mu    sync.Mutex // serialises loads; guards stamp
	stamp [2]fileStamp
}

// fileStamp is what polling compares to see a file changed.
type fileStamp struct {
	mod  time.Time
	size int64
}

func stat(path string) fileStamp {
	fi, err := os.Stat(path) // follows symlinks: a swapped link counts as a change
	if err != nil {
		return fileStamp{}
	}
	return fileStamp{mod: fi.ModTime(), size: fi.Size()}
}

// newCertSource loads the pair once; a pair that does not load is an error.
func newCertSource(certFile, keyFile string, log *slog.Logger, reg prometheus.Registerer) (*certSource, error) {
	c := &certSource{certFile: certFile, keyFile: keyFile, log: log,
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_tls_reloads_total",
			Help: "TLS certificate reloads (SIGHUP or changed files), by result: ok, or error (the previous certificate stays in use).",
		}, []string{"result"})}
	if err := c.load(); err != nil {
		return nil, fmt.Errorf("server: tls: %w", err)
	}
	reg.MustRegister(c.reloads, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "herald_tls_certificate_expiry_timestamp_seconds",
		Help: "When the TLS certificate in use expires (Unix time): alert well before it.",
	}, func() float64 { return float64(c.cur.Load().Leaf.NotAfter.Unix()) }))
	c.logLoaded()
	return c, nil
}

func (c *certSource) logLoaded() {
	leaf := c.cur.Load().Leaf
	c.log.Info("tls: certificate loaded", "cert", c.certFile, "subject", leaf.Subject.String(),
		"serial", leaf.SerialNumber.String(), "not_after", leaf.NotAfter)
}

// load reads the pair and puts it in use.
func (c *certSource) load() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	// Stamped before reading, and even when the pair does not load: a
	// file that changes while it is read, or a pair caught half replaced,
	// is read again once a file changes again, never in a loop.
	c.stamp = [2]fileStamp{stat(c.certFile), stat(c.keyFile)}
	cert, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return err
	}
	if cert.Leaf == nil && len(cert.Certificate) > 0 {
		if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return err
		}
	}
	c.cur.Store(&cert)
	return nil
}

// Reload loads the files again. On failure the certificate in use stays,
// the error is logged and counted, and returned.
func (c *certSource) Reload() error {
	defer c.attempts.Add()
	if err := c.load(); err != nil {
		c.reloads.WithLabelValues("error").Inc()
		c.log.Error("tls: new certificate not loaded; the previous one stays in use",
			"cert", c.certFile, "key", c.keyFile, "err", err)
		return fmt.Errorf("server: tls reload: %w", err)
	}
	c.reloads.WithLabelValues("ok").Inc()
	c.logLoaded()
	return nil
}

// changed reports whether either file differs from when it was last loaded.
func (c *certSource) changed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return stat(c.certFile) != c.stamp[0] || stat(c.keyFile) != c.stamp[1]
}

// Watch reloads the pair whenever a file's modification time or size
// changed since the last load, checking every interval, until ctx ends. A
// pair caught half replaced fails to load and is tried again once the
// other file changes; a bad pair is not tried again until it changes.
func (c *certSource) Watch(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if c.changed() {
			_ = c.Reload() // logged and counted
		}
	}
}

// tlsConfig is the listeners' TLS configuration: TLS 1.2 or later, the
// certificate from c at every handshake.
func (c *certSource) tlsConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return c.cur.Load(), nil
		},
		// HTTP/1.1 only: a WebSocket upgrade needs it (the gateway
		// hijacks the connection), and nothing here gains from HTTP/2.
		NextProtos: []string{"http/1.1"},
	}
}
