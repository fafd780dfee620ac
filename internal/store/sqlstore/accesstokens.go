package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/heraldim/herald/internal/push"
)

var _ push.TokenStore = (*Store)(nil)

// The queries are plain SQL that PostgreSQL runs as is.
const (
	qAccessToken = `SELECT token, expires_at FROM vendor_access_tokens
WHERE vendor = $1 AND account = $2 AND secret_sha256 = $3`
	// qPutAccessToken keeps the token that expires later (the newer one on a
	// tie, such as a token refetched at once after a refusal): of two nodes
	// that fetched at once, the later-expiring token stays whichever writes
	// last.
	qPutAccessToken = `INSERT INTO vendor_access_tokens (vendor, account, secret_sha256, token, expires_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (vendor, account, secret_sha256) DO UPDATE SET
	token = excluded.token, expires_at = excluded.expires_at, updated_at = excluded.updated_at
WHERE excluded.expires_at >= vendor_access_tokens.expires_at`
)

// AccessToken implements push.TokenStore.
func (s *Store) AccessToken(ctx context.Context, k push.TokenKey) (push.AccessToken, bool, error) {
	const op = "store: access token"
	var t push.AccessToken
	var expires int64
	err := s.r.QueryRowContext(ctx, qAccessToken, string(k.Vendor), k.Account, k.Secret).Scan(&t.Token, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return push.AccessToken{}, false, nil
	}
	if err != nil {
		return push.AccessToken{}, false, ctxErr(ctx, op, err)
	}
	if t.Token, err = s.openValue(accessTokenAAD(string(k.Vendor), k.Account, k.Secret), t.Token); err != nil {
		return push.AccessToken{}, false, fmt.Errorf("%s: %w", op, err)
	}
	t.Expires = fromMillis(expires)
	return t, true, nil
}

// PutAccessToken implements push.TokenStore.
func (s *Store) PutAccessToken(ctx context.Context, k push.TokenKey, t push.AccessToken) error {
	const op = "store: put access token"
	if t.Token == "" || t.Expires.IsZero() || k.Account == "" || k.Secret == "" {
		return fmt.Errorf("%s: empty token, expiry, account or secret hash", op)
	}
	sealed, err := s.sealValue(accessTokenAAD(string(k.Vendor), k.Account, k.Secret), t.Token)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if _, err := s.w.ExecContext(ctx, qPutAccessToken, string(k.Vendor), k.Account, k.Secret, sealed,
		t.Expires.UnixMilli(), time.Now().UnixMilli()); err != nil {
		return ctxErr(ctx, op, err)
	}
	return nil
}
