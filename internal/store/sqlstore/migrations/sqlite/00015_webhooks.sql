-- Schema version 15: per-app webhooks and their durable outbox.

-- +goose Up

-- webhooks is an app's webhook configuration: where events go (url), the
-- events it subscribed to (comma-separated names), the signing secret
-- (through the store's seal), and the optional before-send hook.
CREATE TABLE webhooks (
    app_id                TEXT    NOT NULL PRIMARY KEY REFERENCES apps (id),
    url                   TEXT    NOT NULL,
    secret                TEXT    NOT NULL,
    events                TEXT    NOT NULL,
    enabled               INTEGER NOT NULL,
    before_send_url       TEXT    NOT NULL,
    before_send_timeout   BIGINT  NOT NULL,
    before_send_fail_open INTEGER NOT NULL,
    updated_at            BIGINT  NOT NULL
);

-- webhook_outbox holds every event until it was delivered (kept for the
-- debugging listing, trimmed) or given up on (status dead, kept). A
-- message.sent row is written in the message's own commit transaction and
-- names the message (message_id) instead of carrying a payload: the worker
-- reads the message when it delivers.
CREATE TABLE webhook_outbox (
    id          INTEGER NOT NULL PRIMARY KEY,
    app_id      TEXT    NOT NULL REFERENCES apps (id),
    event       TEXT    NOT NULL,
    message_id  INTEGER,
    payload     BLOB,
    created_at  BIGINT  NOT NULL,
    status      TEXT    NOT NULL DEFAULT 'pending',
    attempts    INTEGER NOT NULL DEFAULT 0,
    next_at     BIGINT  NOT NULL,
    last_status INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT    NOT NULL DEFAULT '',
    done_at     BIGINT  NOT NULL DEFAULT 0
);

-- The worker's read of due events.
CREATE INDEX webhook_outbox_due ON webhook_outbox (next_at) WHERE status = 'pending';
-- The debugging listing, newest first.
CREATE INDEX webhook_outbox_app ON webhook_outbox (app_id, id);

-- +goose Down
DROP TABLE webhook_outbox;
DROP TABLE webhooks;
