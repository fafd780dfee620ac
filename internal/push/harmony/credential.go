package harmony

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/heraldim/herald/internal/push"
)

// serviceAccount is the part of a Huawei service account key file the JWT
// needs (Huawei's "基于服务账号生成鉴权令牌" guide shows the file).
type serviceAccount struct {
	ProjectID  string `json:"project_id"`
	KeyID      string `json:"key_id"`
	PrivateKey string `json:"private_key"`
	SubAccount string `json:"sub_account"`
	TokenURI   string `json:"token_uri"`

	key *rsa.PrivateKey
}

func credentialError(format string, args ...any) error {
	return fmt.Errorf("harmony: service account: %s: %w", fmt.Sprintf(format, args...), push.ErrCredential)
}

// parseServiceAccount decodes and checks a key file. Errors say what is
// wrong without quoting the file (a JSON error only by its offset).
func parseServiceAccount(data []byte) (*serviceAccount, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, credentialError("no service account JSON")
	}
	var sa serviceAccount
	if err := json.Unmarshal(data, &sa); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			return nil, credentialError("not valid JSON (syntax error at byte %d)", se.Offset)
		case errors.As(err, &te):
			return nil, credentialError("field %q is not a %s", te.Field, te.Type)
		default:
			return nil, credentialError("not valid JSON")
		}
	}
	switch {
	case sa.ProjectID == "":
		return nil, credentialError("project_id is missing")
	case strings.ContainsAny(sa.ProjectID, "/?#% \t\r\n"):
		return nil, credentialError("project_id %q cannot be a path segment", sa.ProjectID)
	case sa.KeyID == "":
		return nil, credentialError("key_id is missing")
	case sa.SubAccount == "":
		return nil, credentialError("sub_account is missing")
	case strings.TrimSpace(sa.PrivateKey) == "":
		return nil, credentialError("private_key is missing")
	}
	block, rest := pem.Decode([]byte(sa.PrivateKey))
	if block == nil {
		return nil, credentialError("private_key is not PEM-encoded")
	}
	if strings.TrimSpace(string(rest)) != "" {
		return nil, credentialError("private_key has data after its PEM block")
	}
	var key any
	var err error
	if key, err = x509.ParsePKCS8PrivateKey(block.Bytes); err != nil {
		if key, err = x509.ParsePKCS1PrivateKey(block.Bytes); err != nil {
			return nil, credentialError("private_key does not parse as a PKCS#8 or PKCS#1 private key")
		}
	}
	rk, ok := key.(*rsa.PrivateKey)
	if !ok {
		return nil, credentialError("private_key is not an RSA key (PS256 needs one)")
	}
	sa.key = rk
	return &sa, nil
}

// signJWT makes the service-account JWT: PS256 with the key_id as kid,
// iss the sub_account, aud the token URI, valid for an hour from now.
func (p *Provider) signJWT(now time.Time) (string, error) {
	t := jwt.NewWithClaims(jwt.SigningMethodPS256, jwt.MapClaims{
		"iss": p.sa.SubAccount,
		"aud": Audience,
		"iat": now.Unix(),
		"exp": now.Add(jwtLifetime).Unix(),
	})
	t.Header["kid"] = p.sa.KeyID
	t.Header["typ"] = "JWT"
	s, err := t.SignedString(p.sa.key)
	if err != nil {
		return "", fmt.Errorf("harmony: signing the JWT: %w", err)
	}
	return s, nil
}
