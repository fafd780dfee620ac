-- Schema version 5: users and groups.

-- +goose Up

-- users records every user that ever logged in to an app: group members and
-- call invitees must be users of the app.
CREATE TABLE users (
    app_id     TEXT   NOT NULL REFERENCES apps (id),
    user_id    TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (app_id, user_id)
) WITHOUT ROWID;

-- im_groups holds one row per group, dismissed ones included (their IDs
-- stay taken and requests on them get group_dismissed). last_seq and
-- last_msg_id describe the group conversation's last message: the members'
-- conversation lists and sync read them, so a message updates one row here
-- however many members the group has.
CREATE TABLE im_groups (
    app_id        TEXT    NOT NULL REFERENCES apps (id),
    group_id      TEXT    NOT NULL,
    name          TEXT    NOT NULL,
    extended_data TEXT    NOT NULL,
    owner_id      TEXT    NOT NULL,
    member_count  INTEGER NOT NULL,
    last_seq      BIGINT  NOT NULL DEFAULT 0,
    last_msg_id   BIGINT  NOT NULL DEFAULT 0,
    dismissed_at  BIGINT  NOT NULL DEFAULT 0,
    created_at    BIGINT  NOT NULL,
    PRIMARY KEY (app_id, group_id)
);

-- group_members holds the current members. A member sees the messages with
-- seq > joined_seq (those sent after it joined); read_seq is its read
-- position (unread = the group's last_seq - read_seq: its own messages move
-- it). Leaving deletes the row: nothing reaches a user after it left.
CREATE TABLE group_members (
    app_id     TEXT    NOT NULL,
    group_id   TEXT    NOT NULL,
    user_id    TEXT    NOT NULL,
    role       INTEGER NOT NULL,
    joined_seq BIGINT  NOT NULL,
    read_seq   BIGINT  NOT NULL,
    joined_at  BIGINT  NOT NULL,
    PRIMARY KEY (app_id, group_id, user_id)
) WITHOUT ROWID;

-- A user's groups: conversation list, sync, group list.
CREATE INDEX group_members_user ON group_members (app_id, user_id, group_id);

-- group_fanouts is a group message's offline push still to be planned:
-- written with the message, then turned into push jobs a page of members
-- at a time (after_user is how far it got), so that a large group does not
-- hold up the sender's ack and a crash resumes where it stopped.
CREATE TABLE group_fanouts (
    message_id  BIGINT NOT NULL PRIMARY KEY,
    app_id      TEXT   NOT NULL,
    group_id    TEXT   NOT NULL,
    seq         BIGINT NOT NULL,
    sender      TEXT   NOT NULL,
    push_config BLOB   NOT NULL,
    expires_at  BIGINT NOT NULL,
    after_user  TEXT   NOT NULL DEFAULT '',
    created_at  BIGINT NOT NULL
);

-- +goose Down
DROP TABLE group_fanouts;
DROP TABLE group_members;
DROP TABLE im_groups;
DROP TABLE users;
