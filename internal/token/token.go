// Package token mints and verifies login tokens.
//
// A login token is a JWT (RFC 7519) signed with HMAC-SHA256 (alg HS256) under
// the app's server secret. Its claims:
//
//	app  string  the app ID
//	sub  string  the user ID
//	iat  number  issued at, Unix seconds
//	exp  number  expiry, Unix seconds (required)
//	jti  string  a random nonce, so that two tokens minted in the same second differ
//
// Any JWT library in any language can therefore mint one on an app's backend.
// The server accepts only HS256, requires every claim above and allows a
// configurable leeway of clock skew on exp and iat (DefaultLeeway).
package token

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Errors returned by Verify and Parse.
var (
	ErrInvalid = errors.New("token invalid")
	ErrExpired = errors.New("token expired")
)

// DefaultLeeway is the clock skew tolerated by default between an app's
// backend and the server.
const DefaultLeeway = 30 * time.Second

// MaxTTL bounds a token's lifetime; a longer-lived token is refused so that a
// leaked one does not stay usable for long.
const MaxTTL = 30 * 24 * time.Hour

// Claims are the verified contents of a token.
type Claims struct {
	AppID    string
	UserID   string
	IssuedAt time.Time
	Expires  time.Time
	Nonce    string
}

type jwtClaims struct {
	App string `json:"app"`
	jwt.RegisteredClaims
}

// Mint returns a token for userID in appID, signed with secret, valid for ttl
// from now.
func Mint(appID, secret, userID string, ttl time.Duration, now time.Time) (string, error) {
	if appID == "" || userID == "" || secret == "" {
		return "", fmt.Errorf("token: mint: app ID, user ID and secret are required")
	}
	if ttl <= 0 || ttl > MaxTTL {
		return "", fmt.Errorf("token: mint: ttl %s out of range (0, %s]", ttl, MaxTTL)
	}
	var nonce [12]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return "", fmt.Errorf("token: mint: %w", err)
	}
	c := jwtClaims{
		App: appID,
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   userID,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
			ID:        hex.EncodeToString(nonce[:]),
		},
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString([]byte(secret))
	if err != nil {
		return "", fmt.Errorf("token: mint: %w", err)
	}
	return s, nil
}

// AppID returns the app claim of a token without verifying it, so that the
// server can look up the secret to verify it with.
func AppID(tok string) (string, error) {
	var c jwtClaims
	if _, _, err := jwt.NewParser().ParseUnverified(tok, &c); err != nil {
		return "", fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if c.App == "" {
		return "", fmt.Errorf("%w: no app claim", ErrInvalid)
	}
	return c.App, nil
}

// Verify checks tok's signature under secret and its claims at time now,
// allowing leeway of clock skew. It
// returns ErrExpired for an expired token and ErrInvalid (wrapped) for any
// other fault.
func Verify(tok, secret string, now time.Time, leeway time.Duration) (Claims, error) {
	var c jwtClaims
	p := jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(leeway),
		jwt.WithTimeFunc(func() time.Time { return now }),
	)
	_, err := p.ParseWithClaims(tok, &c, func(*jwt.Token) (any, error) { return []byte(secret), nil })
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return Claims{}, ErrExpired
	case err != nil:
		return Claims{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if c.App == "" || c.Subject == "" || c.IssuedAt == nil || c.ID == "" {
		return Claims{}, fmt.Errorf("%w: app, sub, iat and jti claims are required", ErrInvalid)
	}
	if c.ExpiresAt.Sub(c.IssuedAt.Time) > MaxTTL+leeway {
		return Claims{}, fmt.Errorf("%w: lifetime over %s", ErrInvalid, MaxTTL)
	}
	return Claims{
		AppID:    c.App,
		UserID:   c.Subject,
		IssuedAt: c.IssuedAt.Time,
		Expires:  c.ExpiresAt.Time,
		Nonce:    c.ID,
	}, nil
}
