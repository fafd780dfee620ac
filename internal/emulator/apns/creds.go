package apns

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"strings"
	"time"
)

// team is a developer team: its apps and the state of its provider token.
type team struct {
	bundles map[string]bool
	// current is the provider token most recently adopted, since when it
	// was first seen; adopted lists tokens already accepted (with their
	// iat) so that a server still using the previous token is not counted
	// as an update.
	current string
	since   time.Time
	adopted map[string]time.Time
}

type signingKey struct {
	teamID string
	pub    *ecdsa.PublicKey
}

type clientCert struct {
	teamID string
	topics map[string]bool
	single string // the default topic when the certificate has only one
	envs   map[Environment]bool
}

// credential is who a request authenticated as.
type credential struct {
	teamID string
	keyID  string      // token auth
	cert   *clientCert // certificate auth
}

func (e *Emulator) teamLocked(teamID string) *team {
	t := e.teams[teamID]
	if t == nil {
		t = &team{bundles: map[string]bool{}, adopted: map[string]time.Time{}}
		e.teams[teamID] = t
	}
	return t
}

// AddApp registers bundleID as an app of teamID: the team's provider tokens
// may push to it (and to its suffixed topics, e.g. bundleID + ".voip").
func (e *Emulator) AddApp(teamID, bundleID string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.teamLocked(teamID).bundles[bundleID] = true
}

// AddKey registers a team's signing key by its public half.
func (e *Emulator) AddKey(teamID, keyID string, pub *ecdsa.PublicKey) error {
	if teamID == "" || keyID == "" {
		return errors.New("apns emulator: team ID and key ID are required")
	}
	if pub == nil || pub.Curve != elliptic.P256() {
		return errors.New("apns emulator: APNs signing keys are EC P-256")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.teamLocked(teamID)
	e.keys[keyID] = &signingKey{teamID: teamID, pub: pub}
	return nil
}

// NewKey makes a signing key for teamID, registers it as keyID and returns
// its private half as a .p8 file would hold it (PKCS#8 PEM).
func (e *Emulator) NewKey(teamID, keyID string) ([]byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	if err := e.AddKey(teamID, keyID, &key.PublicKey); err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// RevokeKey forgets a signing key: its tokens are then answered 403
// InvalidProviderToken, as after revoking a key in the developer portal.
func (e *Emulator) RevokeKey(keyID string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.keys, keyID)
}

// authenticate finds the request's credential. It returns an APNs status
// and reason when there is none.
func (e *Emulator) authenticate(env Environment, authz string, peerDER []byte, now time.Time) (*credential, int, string) {
	if authz != "" {
		return e.verifyProviderToken(authz, now)
	}
	if peerDER != nil {
		e.mu.Lock()
		c := e.certs[sha256.Sum256(peerDER)]
		e.mu.Unlock()
		if c == nil {
			return nil, 403, "BadCertificate"
		}
		if !c.envs[env] {
			return nil, 403, "BadCertificateEnvironment"
		}
		return &credential{teamID: c.teamID, cert: c}, 0, ""
	}
	return nil, 403, "MissingProviderToken"
}

// verifyProviderToken checks an authorization header's bearer JWT the way
// APNs describes it: compact JWS, header alg ES256 and a known kid, claims
// iss (the key's team) and iat, an ECDSA P-256 SHA-256 signature over
// "header.claims" as 64 bytes r||s (RFC 7518 §3.4). Written here from the
// RFCs rather than with a JWT library, so the provider's library is judged,
// not reused.
// maxVerifiedTokens bounds the cache of provider tokens whose signature
// was verified; past it the cache starts over.
const maxVerifiedTokens = 1024

func (e *Emulator) verifyProviderToken(authz string, now time.Time) (*credential, int, string) {
	const invalid = "InvalidProviderToken"
	scheme, tok, ok := strings.Cut(authz, " ")
	if !ok || !strings.EqualFold(scheme, "bearer") || tok == "" {
		return nil, 403, "MissingProviderToken"
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil, 403, invalid
	}
	var hdr struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
	}
	if !decodeSegment(parts[0], &hdr) || hdr.Alg != "ES256" || hdr.Kid == "" {
		return nil, 403, invalid
	}
	var claims struct {
		Iss string      `json:"iss"`
		Iat json.Number `json:"iat"`
	}
	if !decodeSegment(parts[1], &claims) || claims.Iss == "" {
		return nil, 403, invalid
	}
	iat, err := claims.Iat.Int64()
	if err != nil {
		return nil, 403, invalid
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || len(sig) != 64 {
		return nil, 403, invalid
	}

	e.mu.Lock()
	defer e.mu.Unlock()
	key := e.keys[hdr.Kid]
	if key == nil || key.teamID != claims.Iss {
		return nil, 403, invalid
	}
	// A provider sends the same token on every request for up to an
	// hour: verify its signature once per key (a revoked or replaced key
	// is not found again, so its tokens are verified anew). Without this,
	// one ECDSA verification per request, under e.mu, was most of the
	// emulator's CPU and serialised its handlers.
	if e.verified[tok] != key {
		digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
		r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
		if !ecdsa.Verify(key.pub, digest[:], r, s) {
			return nil, 403, invalid
		}
		if len(e.verified) >= maxVerifiedTokens {
			clear(e.verified)
		}
		e.verified[tok] = key
	}
	issued := time.Unix(iat, 0)
	if issued.After(now) {
		return nil, 403, invalid // issued in the future: a skewed clock
	}
	if now.Sub(issued) > e.cfg.MaxTokenAge {
		return nil, 403, "ExpiredProviderToken"
	}

	// A team's provider token may change at most once per interval.
	t := e.teamLocked(claims.Iss)
	if _, known := t.adopted[tok]; !known {
		if t.current != "" && e.cfg.TokenUpdateInterval > 0 && now.Sub(t.since) < e.cfg.TokenUpdateInterval {
			return nil, 429, "TooManyProviderTokenUpdates"
		}
		for old, oldIat := range t.adopted {
			if now.Sub(oldIat) > e.cfg.MaxTokenAge {
				delete(t.adopted, old) // expired anyway: forget it
			}
		}
		t.adopted[tok] = issued
		t.current, t.since = tok, now
	}
	return &credential{teamID: claims.Iss, keyID: hdr.Kid}, 0, ""
}

// decodeSegment decodes one base64url JWT segment holding a JSON object.
func decodeSegment(seg string, v any) bool {
	raw, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	return dec.Decode(v) == nil
}

// Suffixes that APNs topics carry per push type (Apple's "Sending
// notification requests to APNs"; vendors.md §1.3).
var topicSuffix = map[string]string{
	"alert":        "",
	"background":   "",
	"voip":         ".voip",
	"complication": ".complication",
	"fileprovider": ".pushkit.fileprovider",
	"location":     ".location-query",
	"liveactivity": ".push-type.liveactivity",
	"pushtotalk":   ".voip-ptt",
	"mdm":          "", // the MDM certificate's UID: not checked
}

// splitTopic returns a topic's bundle ID and the push type its suffix
// implies ("" for a bare bundle ID).
func splitTopic(topic string) (bundle, suffixType string) {
	// Longest suffixes first, so ".voip-ptt" is not read as ".voip".
	for _, pt := range []string{"liveactivity", "fileprovider", "location", "complication", "pushtotalk", "voip"} {
		if b, ok := strings.CutSuffix(topic, topicSuffix[pt]); ok && b != "" {
			return b, pt
		}
	}
	return topic, ""
}

// topicAllowed reports whether the credential may push to topic.
func (e *Emulator) topicAllowed(c *credential, topic string) bool {
	if c.cert != nil {
		return c.cert.topics[topic]
	}
	bundle, _ := splitTopic(topic)
	e.mu.Lock()
	defer e.mu.Unlock()
	t := e.teams[c.teamID]
	return t != nil && t.bundles[bundle]
}
