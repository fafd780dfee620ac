-- Schema version 4: push resources, the app-level named delivery options
-- (sound, category, channel, priority, badge) that a push config refers to
-- by its resourcesID.

-- +goose Up

-- push_resources holds one row per app and resource ID. spec is the
-- resource's JSON (push.ResourceSpec), checked when it was stored.
CREATE TABLE push_resources (
    app_id     TEXT   NOT NULL REFERENCES apps (id),
    id         TEXT   NOT NULL,
    spec       BLOB   NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (app_id, id)
);

-- +goose Down
DROP TABLE push_resources;
