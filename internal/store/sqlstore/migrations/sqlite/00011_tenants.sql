-- Schema version 11: apps managed by the operator at run time: disabled
-- apps, credentials rotated with an overlap, deleted apps.

-- +goose Up

-- disabled_at is when the operator disabled the app (0: enabled): its
-- logins and its admin API are refused. prev_secret and prev_admin_key are
-- the values before the last rotation, still accepted until
-- prev_secret_until and prev_admin_key_until (Unix ms; '' and 0 when none),
-- so that live clients and backends keep working while they move to the
-- new ones. The previous values are secrets like the current ones.
ALTER TABLE apps ADD COLUMN disabled_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE apps ADD COLUMN prev_secret TEXT NOT NULL DEFAULT '';
ALTER TABLE apps ADD COLUMN prev_secret_until BIGINT NOT NULL DEFAULT 0;
ALTER TABLE apps ADD COLUMN prev_admin_key TEXT NOT NULL DEFAULT '';
ALTER TABLE apps ADD COLUMN prev_admin_key_until BIGINT NOT NULL DEFAULT 0;
ALTER TABLE apps ADD COLUMN updated_at BIGINT NOT NULL DEFAULT 0;
UPDATE apps SET updated_at = created_at;

-- deleted_apps keeps the IDs of deleted apps: an ID is never given to a
-- new app, so nothing cached or held for the deleted one (a token, a
-- client's stored state, a node's cache) can reach the new one.
CREATE TABLE deleted_apps (
    id         TEXT   NOT NULL PRIMARY KEY,
    deleted_at BIGINT NOT NULL
);

-- +goose Down
DROP TABLE deleted_apps;
ALTER TABLE apps DROP COLUMN updated_at;
ALTER TABLE apps DROP COLUMN prev_admin_key_until;
ALTER TABLE apps DROP COLUMN prev_admin_key;
ALTER TABLE apps DROP COLUMN prev_secret_until;
ALTER TABLE apps DROP COLUMN prev_secret;
ALTER TABLE apps DROP COLUMN disabled_at;
