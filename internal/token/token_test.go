package token

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestMintVerify(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	tok, err := Mint("app1", "s3cret", "alice", time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	c, err := Verify(tok, "s3cret", now.Add(time.Minute), DefaultLeeway)
	if err != nil {
		t.Fatal(err)
	}
	if c.AppID != "app1" || c.UserID != "alice" || !c.Expires.Equal(now.Add(time.Hour)) || c.Nonce == "" {
		t.Fatalf("claims %+v", c)
	}
	if app, err := AppID(tok); err != nil || app != "app1" {
		t.Fatalf("AppID = %q, %v", app, err)
	}
	other, _ := Mint("app1", "s3cret", "alice", time.Hour, now)
	if other == tok {
		t.Fatal("two tokens minted in the same second are equal: the nonce is missing")
	}
}

func TestVerifyRejects(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	good, _ := Mint("app1", "s3cret", "alice", time.Hour, now)
	none := jwt.NewWithClaims(jwt.SigningMethodNone, jwtClaims{App: "app1", RegisteredClaims: jwt.RegisteredClaims{Subject: "alice", ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour)), IssuedAt: jwt.NewNumericDate(now), ID: "n"}})
	noneTok, _ := none.SignedString(jwt.UnsafeAllowNoneSignatureType)
	noExp, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwtClaims{App: "app1", RegisteredClaims: jwt.RegisteredClaims{Subject: "alice", IssuedAt: jwt.NewNumericDate(now), ID: "n"}}).SignedString([]byte("s3cret"))
	noApp, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwtClaims{RegisteredClaims: jwt.RegisteredClaims{Subject: "alice", ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour)), IssuedAt: jwt.NewNumericDate(now), ID: "n"}}).SignedString([]byte("s3cret"))
	tooLong, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwtClaims{App: "app1", RegisteredClaims: jwt.RegisteredClaims{Subject: "alice", ExpiresAt: jwt.NewNumericDate(now.Add(365 * 24 * time.Hour)), IssuedAt: jwt.NewNumericDate(now), ID: "n"}}).SignedString([]byte("s3cret"))
	cases := []struct {
		name string
		tok  string
		at   time.Time
		want error
	}{
		{"wrong secret", good, now, ErrInvalid},
		{"expired", good, now.Add(2 * time.Hour), ErrExpired},
		{"expired within leeway", good, now.Add(time.Hour + 10*time.Second), nil},
		{"issued in the future", good, now.Add(-time.Hour), ErrInvalid},
		{"alg none", noneTok, now, ErrInvalid},
		{"no exp", noExp, now, ErrInvalid},
		{"no app", noApp, now, ErrInvalid},
		{"lifetime too long", tooLong, now, ErrInvalid},
		{"tampered", good[:len(good)-2] + "xx", now, ErrInvalid},
		{"garbage", "not.a.token", now, ErrInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			secret := "s3cret"
			if tc.name == "wrong secret" {
				secret = "other"
			}
			_, err := Verify(tc.tok, secret, tc.at, DefaultLeeway)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("unexpected %v", err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestMintRejects(t *testing.T) {
	now := time.Now()
	for _, tc := range []struct {
		app, secret, user string
		ttl               time.Duration
	}{{"", "s", "u", time.Hour}, {"a", "", "u", time.Hour}, {"a", "s", "", time.Hour}, {"a", "s", "u", 0}, {"a", "s", "u", MaxTTL + time.Second}} {
		if _, err := Mint(tc.app, tc.secret, tc.user, tc.ttl, now); err == nil || !strings.HasPrefix(err.Error(), "token: mint") {
			t.Errorf("Mint(%+v) = %v, want an error", tc, err)
		}
	}
}
