package apns

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/heraldim/herald/internal/push"
)

// ProviderToken is a signed provider token (ES256 JWT) and its iat.
type ProviderToken struct {
	Token string
	// Issued is the JWT's iat, in whole seconds.
	Issued time.Time
}

// TokenKey names a signing key in a TokenStore: the team, the key ID and
// the hex SHA-256 of the public key's PKIX encoding, so that a key replaced
// under the same key ID never gets its predecessor's tokens.
type TokenKey struct {
	TeamID    string
	KeyID     string
	KeySHA256 string
}

// TokenStore keeps the current provider token of each signing key where
// every process pushing with that key finds it, so that a restart or a
// second node reuses the token APNs already knows instead of making a new
// one (APNs refuses a team's new token within 20 minutes of the previous
// one: 429 TooManyProviderTokenUpdates). Implemented by the stores
// (store/sqlstore); safe for concurrent use by
// several processes.
type TokenStore interface {
	// ProviderToken returns the token stored for k; found is false when
	// there is none.
	ProviderToken(ctx context.Context, k TokenKey) (tok ProviderToken, found bool, err error)
	// SwapProviderToken stores next for k only if the token stored is
	// still the one issued at prev (prev zero: only if none is stored), a
	// compare-and-set, and returns the token stored afterwards: next when
	// it won, else the one another process stored first, which the caller
	// adopts. Two processes that both found no usable token thus end up
	// using one.
	SwapProviderToken(ctx context.Context, k TokenKey, prev time.Time, next ProviderToken) (ProviderToken, error)
}

// tokenSource makes and caches the provider token (ES256 JWT). APNs wants
// one token reused by every request of a team for 20 to 60 minutes, so
// there is exactly one current token, replaced when it reaches the refresh
// age or at once after APNs called it expired.
//
// With a TokenStore the current token is shared with every process on the
// store: a token is read from the store when this process has none or its
// own needs replacing (another process may have replaced it already), and
// a new one is stored by compare-and-set, the loser adopting the winner's.
// The in-memory copy in front means a push costs no store read while the
// token is fresh. A store that fails does not stop pushes: the token is
// made in memory and a warning logged (the risk is a 429 from APNs if
// another process makes its own meanwhile, which is deferred, not lost).
//
// Why no 20-minute floor after 403 ExpiredProviderToken: APNs says a token
// is expired when its iat is more than an hour old by Apple's clock. If a
// token we think young is refused, our clock is behind Apple's; as long as
// it is less than an hour behind, a token made now is accepted, while
// keeping the refused one fails every push until the floor passes (20
// minutes of failed iOS pushes). The risk of replacing it is a 429, which
// does not apply: APNs counts a change only once it adopted a token, and
// it adopted this one long enough ago to call it an hour old. Only when the
// replacement itself is refused as expired before APNs ever accepted it is
// our clock more than an hour behind: then no new token can help, and the
// push is AuthFailed (the credential shows as failing) instead of minting
// tokens in a loop.
type tokenSource struct {
	key     *ecdsa.PrivateKey
	keyID   string
	teamID  string
	refresh time.Duration
	now     func() time.Time
	id      TokenKey
	store   TokenStore // nil: memory only
	log     *slog.Logger

	mu       sync.Mutex
	cur      string
	issued   time.Time
	refused  string // the last token APNs answered ExpiredProviderToken to
	renewed  bool   // cur was made because APNs refused its predecessor as expired
	accepted bool   // APNs accepted cur at least once
}

// TokenCache shares provider tokens among the Providers of one process,
// and, with a TokenStore, with every process on that store. APNs counts
// token changes per team, whatever the key or connection (Apple DTS,
// developer forums thread 702056): two Providers for two apps of the same
// team, each making its own token, would get 429
// TooManyProviderTokenUpdates. Providers given the same TokenCache and the
// same key (team ID, key ID and key) use one token. The first Provider's
// clock and refresh age govern a shared token. Safe for concurrent use.
type TokenCache struct {
	store TokenStore
	log   *slog.Logger

	mu      sync.Mutex
	sources map[string]*tokenSource
}

// NewTokenCache returns an empty cache. store, when not nil, persists the
// tokens and shares them with the other processes on it; log receives
// token changes and store failures (nil: discarded).
func NewTokenCache(store TokenStore, log *slog.Logger) *TokenCache {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &TokenCache{store: store, log: log, sources: map[string]*tokenSource{}}
}

// source returns the shared token source for ts's key, registering ts when
// there is none.
func (c *TokenCache) source(ts *tokenSource) *tokenSource {
	id := ts.id.TeamID + "/" + ts.id.KeyID + "/" + ts.id.KeySHA256
	c.mu.Lock()
	defer c.mu.Unlock()
	if got := c.sources[id]; got != nil {
		return got
	}
	ts.store, ts.log = c.store, c.log
	c.sources[id] = ts
	return ts
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
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("apns: %w: %v", push.ErrCredential, err)
	}
	sum := sha256.Sum256(pub)
	return &tokenSource{key: key, keyID: keyID, teamID: teamID, refresh: refresh, now: now,
		id:  TokenKey{TeamID: teamID, KeyID: keyID, KeySHA256: hex.EncodeToString(sum[:])},
		log: slog.New(slog.DiscardHandler)}, nil
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

// age is how old a token issued at issued is by our clock; a clock that
// stepped back counts as no age, keeping the token rather than churning.
func (s *tokenSource) age(issued, now time.Time) time.Duration {
	return max(now.Sub(issued), 0)
}

// token returns the current provider token: the one in memory while it is
// younger than the refresh age and not refused; else a usable one from the
// store; else a new one (stored by compare-and-set). An error means the
// token could not be signed, or ctx ended while the store was asked.
func (s *tokenSource) token(ctx context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if s.cur != "" && s.cur != s.refused && s.age(s.issued, now) < s.refresh {
		return s.cur, nil
	}
	return s.replaceLocked(ctx, now, "refresh age")
}

// usableLocked reports whether a stored token may be adopted: not the one
// APNs refused, younger than the refresh age.
func (s *tokenSource) usableLocked(t ProviderToken, now time.Time) bool {
	return t.Token != "" && t.Token != s.refused && s.age(t.Issued, now) < s.refresh
}

// replaceLocked makes cur a usable token, adopting the store's or making a
// new one, and returns it. why says, for the log, why a new one was needed.
func (s *tokenSource) replaceLocked(ctx context.Context, now time.Time, why string) (string, error) {
	if s.store == nil {
		return s.mintLocked(now, why)
	}
	stored, found, err := s.store.ProviderToken(ctx, s.id)
	if err != nil {
		if ctx.Err() != nil {
			return "", fmt.Errorf("apns: provider token: %w", err)
		}
		s.log.Warn("apns: provider token store unreadable; using a token kept in memory only",
			"team", s.teamID, "key", s.keyID, "err", err)
		return s.mintLocked(now, why)
	}
	if found && s.usableLocked(stored, now) {
		if stored.Token != s.cur {
			s.cur, s.issued, s.renewed, s.accepted = stored.Token, stored.Issued, false, false
			s.log.Debug("apns: provider token adopted from the store", "team", s.teamID, "key", s.keyID, "issued", stored.Issued)
		}
		return s.cur, nil
	}
	var prev time.Time
	if found {
		prev = stored.Issued
	}
	next, err := s.sign(now)
	if err != nil {
		return "", err
	}
	won, err := s.store.SwapProviderToken(ctx, s.id, prev, next)
	switch {
	case err != nil && ctx.Err() != nil:
		return "", fmt.Errorf("apns: provider token: %w", err)
	case err != nil:
		s.log.Warn("apns: provider token not stored; using it from memory only",
			"team", s.teamID, "key", s.keyID, "err", err)
		won = next
	case won.Token != next.Token && !s.usableLocked(won, now):
		// Another process stored a token we would not use: ours serves
		// this process; the next refresh tries the store again.
		s.log.Warn("apns: provider token stored by another process is unusable; using ours from memory",
			"team", s.teamID, "key", s.keyID, "stored_issued", won.Issued)
		won = next
	}
	s.setLocked(won, why, won.Token == next.Token)
	return s.cur, nil
}

// sign makes a new provider token issued now.
func (s *tokenSource) sign(now time.Time) (ProviderToken, error) {
	issued := now.Truncate(time.Second) // iat has second precision
	t := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{
		"iss": s.teamID,
		"iat": issued.Unix(),
	})
	t.Header["kid"] = s.keyID
	signed, err := t.SignedString(s.key)
	if err != nil {
		return ProviderToken{}, fmt.Errorf("apns: %w: signing provider token: %v", push.ErrCredential, err)
	}
	return ProviderToken{Token: signed, Issued: issued}, nil
}

// mintLocked makes a new token in memory only.
func (s *tokenSource) mintLocked(now time.Time, why string) (string, error) {
	next, err := s.sign(now)
	if err != nil {
		return "", err
	}
	s.setLocked(next, why, true)
	return s.cur, nil
}

func (s *tokenSource) setLocked(t ProviderToken, why string, minted bool) {
	s.cur, s.issued, s.renewed, s.accepted = t.Token, t.Issued, false, false
	if minted {
		s.log.Info("apns: new provider token", "team", s.teamID, "key", s.keyID, "issued", t.Issued, "why", why)
	}
}

// accept records that APNs accepted tok (it answered past authentication).
func (s *tokenSource) accept(tok string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if tok == s.cur {
		s.accepted = true
	}
}

// expired handles APNs' 403 ExpiredProviderToken to a request carrying
// tok. It returns true when the request may be sent again at once with a
// current token: tok was already replaced, or a new one was made (or
// adopted from the store) now. It returns false when the replacement
// itself was refused before APNs ever accepted it: our clock is more than
// an hour behind Apple's and no token we make can work. err is from
// signing or an ended ctx.
func (s *tokenSource) expired(ctx context.Context, tok string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if tok != s.cur {
		return true, nil // an answer about an older token: cur is newer
	}
	if s.renewed && !s.accepted {
		s.log.Error("apns: a provider token made just now is refused as expired: this host's clock is more than an hour behind Apple's",
			"team", s.teamID, "key", s.keyID, "issued", s.issued)
		return false, nil
	}
	s.refused = tok
	if _, err := s.replaceLocked(ctx, s.now(), "APNs refused it as expired"); err != nil {
		return false, err
	}
	s.renewed = true
	return true, nil
}

// issuedAt returns when tok was issued, if it is the current token.
func (s *tokenSource) issuedAt(tok string) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.issued, tok == s.cur && tok != ""
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
