package herald

import (
	"time"

	"github.com/heraldim/herald/internal/token"
)

// GenerateToken mints a login token for userID in appID, signed with the
// app's server secret and valid for ttl (at most 30 days).
//
// The secret must never ship inside a client app: call this on the app's
// backend (or in tools and tests) and hand the token to the client. The
// token is a standard HS256 JWT, so backends in other languages can mint it
// with any JWT library (claims: app, sub, iat, exp, jti).
func GenerateToken(appID, secret, userID string, ttl time.Duration) (string, error) {
	return token.Mint(appID, secret, userID, ttl, time.Now())
}
