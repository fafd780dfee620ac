package push

import (
	"crypto/ecdh"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
)

// A web push device's Token is its browser's push subscription as the
// page got it from pushManager.subscribe: the JSON of
// PushSubscription.toJSON() (W3C Push API, §"PushSubscription
// interface"), {"endpoint": ..., "keys": {"p256dh": ..., "auth": ...}}
// (expirationTime, when given, is ignored). Registration.Validate parses
// it and Device stores it in its canonical form (WebSubscription.Token),
// so that the same subscription always has the same PushID however the
// page spelt its JSON.

// Limits of a web subscription.
const (
	// MaxWebEndpointLen bounds the endpoint URL: the push services' are
	// 150-400 bytes (FCM, Mozilla autopush, Apple); 2048 leaves room and
	// keeps a token well under MaxWebTokenLen.
	MaxWebEndpointLen = 2048
	// MaxWebTokenLen bounds a web push token (the subscription's JSON).
	MaxWebTokenLen = 4096
	// WebAuthSecretLen is the auth secret's length (RFC 8291 §3.2: 16
	// octets).
	WebAuthSecretLen = 16
)

// WebSubscription is a browser's push subscription: where to POST
// (Endpoint, on the browser maker's push service), the browser's ECDH
// P-256 public key (P256DH, uncompressed, 65 bytes) and its auth secret
// (Auth, 16 bytes).
type WebSubscription struct {
	Endpoint string
	P256DH   []byte
	Auth     []byte
}

type webSubscriptionJSON struct {
	Endpoint string `json:"endpoint"`
	Keys     struct {
		P256DH string `json:"p256dh"`
		Auth   string `json:"auth"`
	} `json:"keys"`
}

// ParseWebSubscription reads a web push token: the endpoint must be an
// absolute https URL of at most MaxWebEndpointLen bytes, p256dh a point
// of P-256 (uncompressed, base64url with or without padding, as browsers
// give it) and auth 16 bytes. Errors wrap ErrInvalidRegistration.
func ParseWebSubscription(token string) (WebSubscription, error) {
	bad := func(format string, args ...any) (WebSubscription, error) {
		return WebSubscription{}, fmt.Errorf("%w: web push subscription: %s", ErrInvalidRegistration, fmt.Sprintf(format, args...))
	}
	var j webSubscriptionJSON
	if err := json.Unmarshal([]byte(token), &j); err != nil {
		return bad("token must be the JSON of PushSubscription.toJSON(): %v", err)
	}
	if len(j.Endpoint) > MaxWebEndpointLen {
		return bad("endpoint longer than %d bytes", MaxWebEndpointLen)
	}
	u, err := url.Parse(j.Endpoint)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.Fragment != "" {
		return bad("endpoint must be an absolute https URL")
	}
	key, err := decodeB64URL(j.Keys.P256DH)
	if err != nil || len(key) != 65 {
		return bad("keys.p256dh must be a 65-byte uncompressed P-256 point in base64url")
	}
	if _, err := ecdh.P256().NewPublicKey(key); err != nil {
		return bad("keys.p256dh is not a point of P-256")
	}
	auth, err := decodeB64URL(j.Keys.Auth)
	if err != nil || len(auth) != WebAuthSecretLen {
		return bad("keys.auth must be %d bytes in base64url", WebAuthSecretLen)
	}
	return WebSubscription{Endpoint: j.Endpoint, P256DH: key, Auth: auth}, nil
}

// Token is the subscription's canonical token: its JSON with the keys in
// unpadded base64url.
func (s WebSubscription) Token() string {
	var j webSubscriptionJSON
	j.Endpoint = s.Endpoint
	j.Keys.P256DH = base64.RawURLEncoding.EncodeToString(s.P256DH)
	j.Keys.Auth = base64.RawURLEncoding.EncodeToString(s.Auth)
	b, _ := json.Marshal(j) // strings only: cannot fail
	return string(b)
}

// CanonicalToken is a device token as it is stored and hashed into the
// PushID: a web push subscription in its canonical JSON
// (WebSubscription.Token), any other vendor's token as given. A web push
// token that does not parse is an error wrapping ErrInvalidRegistration.
func CanonicalToken(v Vendor, token string) (string, error) {
	if v != VendorWebPush {
		return token, nil
	}
	s, err := ParseWebSubscription(token)
	if err != nil {
		return "", err
	}
	return s.Token(), nil
}

// decodeB64URL decodes base64url with or without padding (RFC 4648 §5).
func decodeB64URL(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}
