package push

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"time"
)

// TokenKey names one vendor account's access token: the vendor, the
// account (FCM's service account e-mail, Huawei's or vivo's app ID, OPPO's
// app key, Honor's client ID) and the SHA-256 (hex) of the secret it is
// fetched with (SecretHash), so that a secret replaced under the same
// account never inherits its predecessor's token.
type TokenKey struct {
	Vendor  Vendor
	Account string
	Secret  string
}

// SecretHash returns the hex SHA-256 of a secret, for TokenKey.Secret.
func SecretHash(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

// AccessToken is a vendor access token and when it expires.
type AccessToken struct {
	Token   string
	Expires time.Time
}

// TokenStore keeps vendor access tokens (FCM, Huawei, OPPO, vivo, Honor) where
// every node on the store finds them: the vendors limit how often tokens
// are fetched, so the nodes share one per account instead of fetching one
// each. The store seals them like the other secrets.
type TokenStore interface {
	// AccessToken returns the token stored for k; found is false when
	// there is none.
	AccessToken(ctx context.Context, k TokenKey) (t AccessToken, found bool, err error)
	// PutAccessToken stores t for k unless the token stored expires later
	// (of two nodes that fetched at once, the later token stays; on a tie,
	// t replaces it).
	PutAccessToken(ctx context.Context, k TokenKey, t AccessToken) error
}

// SharedToken is a provider's view of its token in a TokenStore. Its zero
// value (no Store) shares nothing: every method does nothing. Store errors
// are logged and otherwise ignored: a provider that cannot read or write
// the store fetches and keeps its own token, as it would alone.
type SharedToken struct {
	Store TokenStore
	Key   TokenKey
	Log   *slog.Logger // nil: errors are not logged
}

// Load returns the stored token if it is usable until after now+margin
// and is not refused (the token the vendor just turned down, which a
// node must not take back from the store).
func (s SharedToken) Load(ctx context.Context, now time.Time, margin time.Duration, refused string) (AccessToken, bool) {
	if s.Store == nil {
		return AccessToken{}, false
	}
	t, found, err := s.Store.AccessToken(ctx, s.Key)
	if err != nil {
		s.warn("shared access token unreadable; fetching one", err)
		return AccessToken{}, false
	}
	if !found || t.Token == "" || t.Token == refused || !now.Add(margin).Before(t.Expires) {
		return AccessToken{}, false
	}
	return t, true
}

// Save stores a token this provider fetched, for the other nodes.
func (s SharedToken) Save(ctx context.Context, t AccessToken) {
	if s.Store == nil {
		return
	}
	if err := s.Store.PutAccessToken(ctx, s.Key, t); err != nil {
		s.warn("shared access token not stored", err)
	}
}

func (s SharedToken) warn(msg string, err error) {
	if s.Log != nil {
		s.Log.Warn(msg, "vendor", s.Key.Vendor, "account", s.Key.Account, "err", err)
	}
}
