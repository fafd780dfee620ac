-- Schema version 12: user profiles and token revocation (the server API's
-- users).

-- +goose Up

-- nickname, avatar_url and extra (an app-defined string) are the profile an
-- app's backend imports or updates; a user created by its first login has
-- them empty. updated_at is when the profile last changed (created_at for
-- a row never updated; 0 for rows older than this version).
-- tokens_valid_after (Unix ms, 0: none) refuses login tokens issued before
-- it (revoke-tokens).
ALTER TABLE users ADD COLUMN nickname TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN avatar_url TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN extra TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN updated_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN tokens_valid_after BIGINT NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE users DROP COLUMN tokens_valid_after;
ALTER TABLE users DROP COLUMN updated_at;
ALTER TABLE users DROP COLUMN extra;
ALTER TABLE users DROP COLUMN avatar_url;
ALTER TABLE users DROP COLUMN nickname;
