-- Schema version 1 of the embedded store.
--
-- Conventions shared with the PostgreSQL store (its own migrations, the same
-- query text): timestamps are Unix milliseconds in BIGINT; binary columns are
-- BLOB here and BYTEA there; the only SQLite-specific pieces are INTEGER
-- PRIMARY KEY (the rowid alias) and WITHOUT ROWID.

-- +goose Up

-- apps are the tenants. Every other table references one, so that no row can
-- exist for an app the server does not know.
CREATE TABLE apps (
    id         TEXT   NOT NULL PRIMARY KEY,
    name       TEXT   NOT NULL,
    secret     TEXT   NOT NULL,
    admin_key  TEXT   NOT NULL,
    created_at BIGINT NOT NULL
);

-- messages holds every stored message. id is the server message ID: unique
-- and time-ordered, so making it the rowid appends new rows at the end of the
-- table's b-tree instead of splitting pages in the middle.
CREATE TABLE messages (
    id               INTEGER NOT NULL PRIMARY KEY,
    app_id           TEXT    NOT NULL REFERENCES apps (id),
    conv_id          TEXT    NOT NULL,
    seq              BIGINT  NOT NULL,
    conv_type        INTEGER NOT NULL,
    sender           TEXT    NOT NULL,
    recipient        TEXT    NOT NULL,
    type             INTEGER NOT NULL,
    sub_type         INTEGER NOT NULL,
    text             TEXT    NOT NULL,
    data             BLOB,
    searched_content TEXT    NOT NULL,
    extended_data    TEXT    NOT NULL,
    priority         INTEGER NOT NULL,
    -- NULL when the client gave no local ID: such messages are never
    -- deduplicated (NULLs are distinct in a unique index).
    local_id         TEXT,
    content_hash     BLOB,
    push_config      BLOB,
    created_at       BIGINT  NOT NULL
);

-- History paging, seq allocation (MAX(seq)) and the last-message join.
CREATE UNIQUE INDEX messages_conv_seq ON messages (app_id, conv_id, seq);

-- Idempotent sends: one message per sender and local ID in an app.
CREATE UNIQUE INDEX messages_local_id ON messages (app_id, sender, local_id)
    WHERE local_id IS NOT NULL;

-- conversations is each user's conversation list: one row per participant
-- (owner_id) and conversation. last_msg_id is the list's order key.
-- unread counts messages of others after read_seq.
CREATE TABLE conversations (
    app_id      TEXT    NOT NULL REFERENCES apps (id),
    owner_id    TEXT    NOT NULL,
    conv_id     TEXT    NOT NULL,
    conv_type   INTEGER NOT NULL,
    peer_id     TEXT    NOT NULL,
    last_seq    BIGINT  NOT NULL,
    last_msg_id BIGINT  NOT NULL,
    unread      BIGINT  NOT NULL DEFAULT 0,
    read_seq    BIGINT  NOT NULL DEFAULT 0,
    PRIMARY KEY (app_id, owner_id, conv_id)
) WITHOUT ROWID;

CREATE INDEX conversations_order ON conversations (app_id, owner_id, last_msg_id);

-- cursors is each device's acknowledged position per conversation.
CREATE TABLE cursors (
    app_id    TEXT   NOT NULL REFERENCES apps (id),
    user_id   TEXT   NOT NULL,
    device_id TEXT   NOT NULL,
    conv_id   TEXT   NOT NULL,
    seq       BIGINT NOT NULL,
    PRIMARY KEY (app_id, user_id, device_id, conv_id)
) WITHOUT ROWID;

-- +goose Down
DROP TABLE cursors;
DROP TABLE conversations;
DROP TABLE messages;
DROP TABLE apps;
