-- Schema version 3: each app's vendor push credentials, set through the
-- admin REST API and loaded into the push providers at start.

-- +goose Up

-- push_credentials holds one credential per app and vendor. config is the
-- vendor-specific JSON document the provider is built from, secrets
-- included (signing keys, certificates' keys, service accounts): the
-- database file is as sensitive as the credentials themselves and lives in
-- the data directory, which is created 0700. environments is a
-- comma-separated list of the environments the credential serves.
CREATE TABLE push_credentials (
    app_id       TEXT   NOT NULL REFERENCES apps (id),
    vendor       TEXT   NOT NULL,
    environments TEXT   NOT NULL,
    config       BLOB   NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (app_id, vendor)
);

-- +goose Down
DROP TABLE push_credentials;
