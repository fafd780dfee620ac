-- Schema version 7: the APNs provider tokens (JWTs) in use, shared by every
-- process on the store, so that a restart or a second node reuses the token
-- APNs already knows: APNs refuses a team's new token within 20 minutes of
-- the previous one (429 TooManyProviderTokenUpdates).

-- +goose Up

-- apns_provider_tokens holds the current token of each signing key. A key
-- is its team, its key ID and the SHA-256 (hex) of its public key, so a
-- key replaced under the same ID never inherits its predecessor's token.
-- issued_at is the token's iat in Unix seconds: the value a replacement
-- compares and sets, so that of two processes replacing one token only the
-- first one's is stored. updated_at is Unix milliseconds. The token is a
-- bearer credential for an hour: the file is as sensitive as the keys in
-- push_credentials.
CREATE TABLE apns_provider_tokens (
    team_id    TEXT   NOT NULL,
    key_id     TEXT   NOT NULL,
    key_sha256 TEXT   NOT NULL,
    token      TEXT   NOT NULL,
    issued_at  BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (team_id, key_id, key_sha256)
);

-- +goose Down
DROP TABLE apns_provider_tokens;
