package apns

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"time"
)

// The emulator's own PKI: a CA made at New (ECDSA P-256, like Apple's key
// type), a server certificate for the loopback addresses and Apple's host
// names, and client certificates issued on request for certificate-based
// authentication. Nothing here is persisted: a new emulator has a new CA.

// caLifetime is long enough that a CA written to a file by `herald emulate`
// outlives any session using it.
const caLifetime = 10 * 365 * 24 * time.Hour

type pki struct {
	caCert *x509.Certificate
	caKey  *ecdsa.PrivateKey
	caPEM  []byte
	server tls.Certificate
}

func newPKI(hosts []string) (*pki, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	// Certificate validity uses the real clock, not the emulator's: TLS
	// peers check it against theirs.
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{CommonName: "Herald APNs emulator CA", Organization: []string{"Herald emulator"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(caLifetime),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}
	p := &pki{caCert: caCert, caKey: caKey, caPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})}

	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	srvTmpl := &x509.Certificate{
		SerialNumber: randomSerial(),
		Subject:      pkix.Name{CommonName: "api.push.apple.com (emulated)"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(caLifetime),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		// Apple's names too, so a client that resolves them to the
		// emulator (a hosts file, a custom dialer) verifies the chain.
		DNSNames: []string{"localhost", "api.push.apple.com", "api.sandbox.push.apple.com", "api.development.push.apple.com"},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			srvTmpl.IPAddresses = append(srvTmpl.IPAddresses, ip)
		} else if h != "" {
			srvTmpl.DNSNames = append(srvTmpl.DNSNames, h)
		}
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, caCert, &srvKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	p.server = tls.Certificate{Certificate: [][]byte{srvDER}, PrivateKey: srvKey}
	return p, nil
}

// CertificateRequest describes a client certificate for certificate-based
// authentication, as Apple's developer portal would issue it.
type CertificateRequest struct {
	// TeamID is the developer team the certificate belongs to (recorded
	// with each delivery).
	TeamID string
	// Topics are the exact apns-topic values the certificate may push to:
	// a bundle ID for an "Apple Push Notification service SSL" certificate,
	// bundle + ".voip" for a VoIP Services certificate, or several. With a
	// single topic apns-topic may be omitted (it defaults to that topic);
	// with several it is required, as at APNs.
	Topics []string
	// Environments the certificate is valid for. Empty: both (Apple's
	// current "Sandbox & Production" certificates).
	Environments []Environment
	// NotBefore and NotAfter bound the validity. Zero: one hour ago and one
	// year from now (Apple's certificates last a year).
	NotBefore, NotAfter time.Time
}

// IssueCertificate makes a client certificate signed by the emulator's CA
// and registers it. It returns the certificate and its private key
// (PKCS#8), PEM-encoded, ready for a provider's certificate configuration.
// An expired certificate can be issued (NotAfter in the past) to test that
// it is refused; the emulator's TLS layer refuses it as APNs would.
func (e *Emulator) IssueCertificate(req CertificateRequest) (certPEM, keyPEM []byte, err error) {
	if len(req.Topics) == 0 {
		return nil, nil, errors.New("apns emulator: a certificate needs at least one topic")
	}
	for _, env := range req.Environments {
		if env != Production && env != Development {
			return nil, nil, fmt.Errorf("apns emulator: unknown environment %q", env)
		}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	notBefore, notAfter := req.NotBefore, req.NotAfter
	if notBefore.IsZero() {
		notBefore = now.Add(-time.Hour)
	}
	if notAfter.IsZero() {
		notAfter = now.Add(365 * 24 * time.Hour)
	}
	tmpl := &x509.Certificate{
		SerialNumber: randomSerial(),
		Subject: pkix.Name{
			CommonName:         "Apple Push Services: " + req.Topics[0],
			OrganizationalUnit: []string{req.TeamID},
		},
		NotBefore:   notBefore,
		NotAfter:    notAfter,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, e.pki.caCert, &key.PublicKey, e.pki.caKey)
	if err != nil {
		return nil, nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	envs := map[Environment]bool{}
	for _, env := range req.Environments {
		envs[env] = true
	}
	if len(envs) == 0 {
		envs[Production], envs[Development] = true, true
	}
	topics := map[string]bool{}
	for _, t := range req.Topics {
		topics[t] = true
	}
	e.mu.Lock()
	e.certs[sha256.Sum256(der)] = &clientCert{teamID: req.TeamID, topics: topics, single: singleTopic(req.Topics), envs: envs}
	e.mu.Unlock()
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), nil
}

// RevokeCertificate forgets a certificate issued by IssueCertificate: its
// TLS handshake still succeeds (the CA signed it) but every request is
// answered 403 BadCertificate.
func (e *Emulator) RevokeCertificate(certPEM []byte) error {
	block, _ := pem.Decode(certPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		return errors.New("apns emulator: not a PEM certificate")
	}
	e.mu.Lock()
	delete(e.certs, sha256.Sum256(block.Bytes))
	e.mu.Unlock()
	return nil
}

// CAPEM returns the emulator CA's certificate, PEM-encoded: clients trust
// it to verify the emulator's server certificate.
func (e *Emulator) CAPEM() []byte { return append([]byte(nil), e.pki.caPEM...) }

// CertPool returns a pool holding the emulator's CA.
func (e *Emulator) CertPool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(e.pki.caCert)
	return pool
}

// WriteCA writes the CA certificate (PEM) to path, for clients in other
// processes.
func (e *Emulator) WriteCA(path string) error {
	if err := os.WriteFile(path, e.pki.caPEM, 0o644); err != nil {
		return fmt.Errorf("apns emulator: write CA: %w", err)
	}
	return nil
}

func singleTopic(topics []string) string {
	if len(topics) == 1 {
		return topics[0]
	}
	return ""
}

func randomSerial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		// crypto/rand does not fail on supported platforms.
		panic(err)
	}
	return n
}
