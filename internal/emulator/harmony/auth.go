package harmony

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"time"
)

// jwtSkew is how far in the future an iat may be (clocks drift).
const jwtSkew = time.Minute

// authFailure is why a JWT was refused: the business code and Huawei's
// message.
type authFailure struct {
	code, msg string
}

// checkJWT verifies the Authorization header's JWT for projectID, as
// Huawei's "基于服务账号生成鉴权令牌" guide builds it: header {kid, typ
// "JWT", alg "PS256"}, payload {iss: sub_account, aud: token_uri, iat,
// exp}, signature SHA256withRSA/PSS. It returns nil when the JWT is good.
func (e *Emulator) checkJWT(auth, projectID string, now time.Time) *authFailure {
	bad := func(why string) *authFailure {
		return &authFailure{code: codeAuth, msg: "Oauth authentication error: " + why}
	}
	tok, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok || tok == "" {
		return bad("Authorization must be \"Bearer \" and the JWT")
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return bad("the JWT must have three dot-separated parts")
	}
	rawHeader, err1 := base64.RawURLEncoding.DecodeString(parts[0])
	rawClaims, err2 := base64.RawURLEncoding.DecodeString(parts[1])
	sig, err3 := base64.RawURLEncoding.DecodeString(parts[2])
	if err1 != nil || err2 != nil || err3 != nil {
		return bad("a JWT part is not unpadded base64url")
	}
	var header struct {
		Kid string `json:"kid"`
		Typ string `json:"typ"`
		Alg string `json:"alg"`
	}
	if strictDecode(rawHeader, &header) != nil {
		return bad("the JWT header is not {kid, typ, alg}")
	}
	if header.Alg != "PS256" {
		return bad("alg must be PS256")
	}
	if header.Typ != "JWT" {
		return bad("typ must be JWT")
	}
	e.mu.Lock()
	key := e.keys[header.Kid]
	e.mu.Unlock()
	if key == nil {
		return bad("unknown kid (no such service account key)")
	}
	if key.projectID != projectID {
		return bad("the service account belongs to another project")
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if rsa.VerifyPSS(key.public, crypto.SHA256, digest[:], sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}) != nil {
		return bad("signature does not verify with the service account's public key")
	}
	var claims struct {
		Iss *string  `json:"iss"`
		Aud *string  `json:"aud"`
		Iat *float64 `json:"iat"`
		Exp *float64 `json:"exp"`
	}
	if json.Unmarshal(rawClaims, &claims) != nil {
		return bad("the JWT payload is not a JSON object of iss, aud, iat, exp")
	}
	switch {
	case claims.Iss == nil || *claims.Iss != key.subAccount:
		return bad("iss must be the service account's sub_account")
	case claims.Aud == nil || *claims.Aud != Audience:
		return bad("aud must be " + Audience)
	case claims.Iat == nil || claims.Exp == nil:
		return bad("iat and exp are required")
	}
	iat := time.Unix(int64(*claims.Iat), 0)
	exp := time.Unix(int64(*claims.Exp), 0)
	switch {
	case iat.After(now.Add(jwtSkew)):
		return bad("iat is in the future")
	case !exp.After(iat):
		return bad("exp must be after iat")
	case exp.Sub(iat) > e.cfg.MaxJWTLifetime:
		return bad("the JWT is valid for longer than " + e.cfg.MaxJWTLifetime.String())
	case !now.Before(exp):
		return &authFailure{code: codeJWTExpired, msg: "Jwt token expired"}
	}
	return nil
}

// strictDecode decodes JSON refusing unknown fields.
func strictDecode(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}
