package apns

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/heraldim/herald/internal/push"
)

// tokenSource makes and caches the provider token (ES256 JWT). APNs wants
// one token reused by every request of a team for 20 to 60 minutes, so
// there is exactly one current token, replaced when it reaches the refresh
// age, or early after APNs called it expired — but never before it is
// MinTokenRefresh old.
//
// Why the 20-minute floor holds even after 403 ExpiredProviderToken: APNs
// says a token is expired when its iat is more than an hour old by Apple's
// clock. A token we made less than 20 minutes ago can only look that old if
// our clock is at least 40 minutes behind Apple's, and then a fresh token
// (iat = our now) would be refused just the same — while making it would
// risk 429 TooManyProviderTokenUpdates, which Apple DTS says leaves the
// connection unusable for a while. So a token at least 20 minutes old is
// replaced at once; a younger one is kept and the push reported AuthFailed
// (the dispatcher retries once, then alerts on a failing credential, which
// is what a 40-minute clock error deserves).
type tokenSource struct {
	key     *ecdsa.PrivateKey
	keyID   string
	teamID  string
	refresh time.Duration
	now     func() time.Time

	mu     sync.Mutex
	cur    string
	issued time.Time
	stale  bool // APNs answered ExpiredProviderToken for cur
}

// TokenCache shares provider tokens among the Providers of one process.
// APNs counts token changes per team, whatever the key or connection
// (Apple DTS, developer forums thread 702056): two Providers for two apps
// of the same team, each making its own token, would get 429
// TooManyProviderTokenUpdates. Providers given the same TokenCache and the
// same key (team ID, key ID and key) use one token. The first Provider's
// clock and refresh age govern a shared token. Safe for concurrent use.
type TokenCache struct {
	mu      sync.Mutex
	sources map[string]*tokenSource
}

// NewTokenCache returns an empty cache.
func NewTokenCache() *TokenCache {
	return &TokenCache{sources: map[string]*tokenSource{}}
}

// source returns the shared token source for ts's key, registering ts when
// there is none.
func (c *TokenCache) source(ts *tokenSource) (*tokenSource, error) {
	pub, err := x509.MarshalPKIXPublicKey(&ts.key.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("apns: %w: %v", push.ErrCredential, err)
	}
	sum := sha256.Sum256(pub)
	id := ts.teamID + "/" + ts.keyID + "/" + hex.EncodeToString(sum[:])
	c.mu.Lock()
	defer c.mu.Unlock()
	if got := c.sources[id]; got != nil {
		return got, nil
	}
	c.sources[id] = ts
	return ts, nil
}

func newTokenSource(keyPEM []byte, keyID, teamID string, refresh time.Duration, now func() time.Time) (*tokenSource, error) {
	if keyID == "" {
		return nil, fmt.Errorf("apns: %w: key ID is missing (the 10-character ID shown with the .p8 key)", push.ErrCredential)
	}
	if teamID == "" {
		return nil, fmt.Errorf("apns: %w: team ID is missing (the 10-character developer team ID)", push.ErrCredential)
	}
	if !isIdentifier(keyID) {
		return nil, fmt.Errorf("apns: %w: key ID %q: want letters and digits only", push.ErrCredential, keyID)
	}
	if !isIdentifier(teamID) {
		return nil, fmt.Errorf("apns: %w: team ID %q: want letters and digits only", push.ErrCredential, teamID)
	}
	key, err := parseSigningKey(keyPEM)
	if err != nil {
		return nil, err
	}
	return &tokenSource{key: key, keyID: keyID, teamID: teamID, refresh: refresh, now: now}, nil
}

// parseSigningKey parses a .p8 key. Errors name what is wrong, never the
// key's bytes.
func parseSigningKey(keyPEM []byte) (*ecdsa.PrivateKey, error) {
	if len(keyPEM) == 0 {
		return nil, fmt.Errorf("apns: %w: signing key is missing (the .p8 file's contents)", push.ErrCredential)
	}
	block, _ := pem.Decode(keyPEM)
	if block == nil {
		return nil, fmt.Errorf("apns: %w: signing key is not PEM-encoded (want the .p8 file's -----BEGIN PRIVATE KEY----- block)", push.ErrCredential)
	}
	if block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("apns: %w: signing key is a %q PEM block; want \"PRIVATE KEY\" (PKCS#8, as in a .p8 file)", push.ErrCredential, block.Type)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		// x509's ASN.1 detail helps nobody holding a .p8 file.
		return nil, fmt.Errorf("apns: %w: signing key does not parse as a PKCS#8 private key (is the .p8 file complete?)", push.ErrCredential)
	}
	key, ok := parsed.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("apns: %w: signing key is a %T; APNs keys are EC P-256", push.ErrCredential, parsed)
	}
	if key.Curve != elliptic.P256() {
		return nil, fmt.Errorf("apns: %w: signing key is on curve %s; ES256 needs P-256", push.ErrCredential, key.Curve.Params().Name)
	}
	return key, nil
}

// token returns the current provider token, making a new one when there is
// none, when it reached the refresh age, or when APNs called it expired and
// it is at least MinTokenRefresh old.
func (s *tokenSource) token() (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	age := now.Sub(s.issued)
	if age < 0 {
		age = 0 // the clock stepped back: keep the token rather than churn
	}
	if s.cur != "" && age < s.refresh && !(s.stale && age >= MinTokenRefresh) {
		return s.cur, nil
	}
	issued := now.Truncate(time.Second) // iat has second precision
	t := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{
		"iss": s.teamID,
		"iat": issued.Unix(),
	})
	t.Header["kid"] = s.keyID
	signed, err := t.SignedString(s.key)
	if err != nil {
		return "", fmt.Errorf("apns: %w: signing provider token: %v", push.ErrCredential, err)
	}
	s.cur, s.issued, s.stale = signed, issued, false
	return signed, nil
}

// expired records that APNs answered ExpiredProviderToken to a request
// carrying tok. Only the current token is marked: an answer to an older one
// says nothing about its successor.
func (s *tokenSource) expired(tok string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if tok == s.cur {
		s.stale = true
	}
}

// loadCertificate parses a client certificate and checks it is usable now.
func loadCertificate(certPEM, keyPEM []byte, now time.Time) (tls.Certificate, error) {
	if len(certPEM) == 0 || len(keyPEM) == 0 {
		return tls.Certificate{}, fmt.Errorf("apns: %w: certificate authentication needs both the certificate and its private key", push.ErrCredential)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		// tls's messages describe the mismatch or format, not the key.
		return tls.Certificate{}, fmt.Errorf("apns: %w: client certificate: %v", push.ErrCredential, err)
	}
	leaf := cert.Leaf
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return tls.Certificate{}, fmt.Errorf("apns: %w: client certificate: %v", push.ErrCredential, err)
		}
		cert.Leaf = leaf
	}
	if now.After(leaf.NotAfter) {
		return tls.Certificate{}, fmt.Errorf("apns: %w: client certificate %q expired on %s", push.ErrCredential, leaf.Subject.CommonName, leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	if now.Before(leaf.NotBefore) {
		return tls.Certificate{}, fmt.Errorf("apns: %w: client certificate %q is not valid before %s", push.ErrCredential, leaf.Subject.CommonName, leaf.NotBefore.UTC().Format(time.RFC3339))
	}
	return cert, nil
}

// isIdentifier reports whether s is a non-empty run of ASCII letters and
// digits, the shape of Apple's key and team IDs (10 characters today; the
// length is not enforced so a longer future ID does not break us).
func isIdentifier(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z') {
			return false
		}
	}
	return true
}
