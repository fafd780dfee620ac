package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/heraldim/herald/internal/push/apns"
)

var _ apns.TokenStore = (*Store)(nil)

// The queries are plain SQL that PostgreSQL runs as is (ON CONFLICT DO
// NOTHING since 9.5).
const (
	qProviderToken = `SELECT token, issued_at FROM apns_provider_tokens
WHERE team_id = $1 AND key_id = $2 AND key_sha256 = $3`
	// qSwapProviderToken replaces the token issued at $6 (compare-and-set);
	// it changes nothing when another process replaced it first.
	qSwapProviderToken = `UPDATE apns_provider_tokens SET token = $4, issued_at = $5, updated_at = $7
WHERE team_id = $1 AND key_id = $2 AND key_sha256 = $3 AND issued_at = $6`
	// qInsertProviderToken stores the first token of a key; it changes
	// nothing when another process stored one first.
	qInsertProviderToken = `INSERT INTO apns_provider_tokens (team_id, key_id, key_sha256, token, issued_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (team_id, key_id, key_sha256) DO NOTHING`
)

// ProviderToken returns the APNs provider token stored for k; found is
// false when there is none.
func (s *Store) ProviderToken(ctx context.Context, k apns.TokenKey) (apns.ProviderToken, bool, error) {
	var t apns.ProviderToken
	var issued int64
	err := s.r.QueryRowContext(ctx, qProviderToken, k.TeamID, k.KeyID, k.KeySHA256).Scan(&t.Token, &issued)
	if errors.Is(err, sql.ErrNoRows) {
		return apns.ProviderToken{}, false, nil
	}
	if err != nil {
		return apns.ProviderToken{}, false, ctxErr(ctx, "store: provider token", err)
	}
	if t.Token, err = s.openValue(providerTokenAAD(k.TeamID, k.KeyID, k.KeySHA256), t.Token); err != nil {
		return apns.ProviderToken{}, false, fmt.Errorf("store: provider token: %w", err)
	}
	t.Issued = time.Unix(issued, 0)
	return t, true, nil
}

// SwapProviderToken stores next for k if the stored token is the one
// issued at prev (prev zero: if there is none), and returns the token
// stored afterwards (see apns.TokenStore). The compare-and-set and the
// read are one transaction, so the answer is the token that won.
func (s *Store) SwapProviderToken(ctx context.Context, k apns.TokenKey, prev time.Time, next apns.ProviderToken) (apns.ProviderToken, error) {
	const op = "store: swap provider token"
	if next.Token == "" || next.Issued.IsZero() {
		return apns.ProviderToken{}, fmt.Errorf("%s: empty token or issued time", op)
	}
	aad := providerTokenAAD(k.TeamID, k.KeyID, k.KeySHA256)
	sealed, err := s.sealValue(aad, next.Token)
	if err != nil {
		return apns.ProviderToken{}, fmt.Errorf("%s: %w", op, err)
	}
	now := time.Now().UnixMilli()
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return apns.ProviderToken{}, ctxErr(ctx, op, err)
	}
	defer func() { _ = tx.Rollback() }() // after Commit it does nothing
	if !prev.IsZero() {
		if _, err := tx.ExecContext(ctx, qSwapProviderToken, k.TeamID, k.KeyID, k.KeySHA256,
			sealed, next.Issued.Unix(), prev.Unix(), now); err != nil {
			return apns.ProviderToken{}, ctxErr(ctx, op, err)
		}
	}
	// Also when prev is set: the row may have been deleted since it was
	// read; when the update above won, this conflicts and does nothing.
	if _, err := tx.ExecContext(ctx, qInsertProviderToken, k.TeamID, k.KeyID, k.KeySHA256,
		sealed, next.Issued.Unix(), now); err != nil {
		return apns.ProviderToken{}, ctxErr(ctx, op, err)
	}
	var won apns.ProviderToken
	var issued int64
	if err := tx.QueryRowContext(ctx, qProviderToken, k.TeamID, k.KeyID, k.KeySHA256).Scan(&won.Token, &issued); err != nil {
		return apns.ProviderToken{}, ctxErr(ctx, op, err)
	}
	if err := tx.Commit(); err != nil {
		return apns.ProviderToken{}, ctxErr(ctx, op, err)
	}
	if won.Token, err = s.openValue(aad, won.Token); err != nil {
		return apns.ProviderToken{}, fmt.Errorf("%s: %w", op, err)
	}
	won.Issued = time.Unix(issued, 0)
	return won, nil
}
