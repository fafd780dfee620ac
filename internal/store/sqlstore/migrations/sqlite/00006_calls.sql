-- Schema version 6: call invitations, and call pushes in the push queue.

-- +goose Up

-- calls holds one row per call invitation. deadline is when the first
-- invitation stops ringing (created_at + timeout). closed_at is when the
-- call stopped changing: in general mode when no invitee is left ringing,
-- in advanced mode when it ended; 0 while open. Open calls are loaded at
-- start so that their deadlines fire even across a restart.
CREATE TABLE calls (
    app_id        TEXT    NOT NULL REFERENCES apps (id),
    call_id       TEXT    NOT NULL,
    inviter       TEXT    NOT NULL,
    mode          INTEGER NOT NULL,
    extended_data TEXT    NOT NULL DEFAULT '',
    created_at    BIGINT  NOT NULL,
    deadline      BIGINT  NOT NULL,
    closed_at     BIGINT  NOT NULL DEFAULT 0,
    PRIMARY KEY (app_id, call_id)
);

-- The start-up scan of open calls.
CREATE INDEX calls_open ON calls (app_id, call_id) WHERE closed_at = 0;

-- call_users holds every user of a call (the inviter included) with its
-- state (protocol.Call* numbering). deadline is when this user's
-- invitation stops ringing (0 for the inviter); invited_by who invited it;
-- position keeps the order users joined the list.
CREATE TABLE call_users (
    app_id        TEXT    NOT NULL,
    call_id       TEXT    NOT NULL,
    user_id       TEXT    NOT NULL,
    position      INTEGER NOT NULL,
    state         INTEGER NOT NULL,
    invited_by    TEXT    NOT NULL DEFAULT '',
    extended_data TEXT    NOT NULL DEFAULT '',
    deadline      BIGINT  NOT NULL DEFAULT 0,
    updated_at    BIGINT  NOT NULL,
    PRIMARY KEY (app_id, call_id, user_id)
) WITHOUT ROWID;

-- Push jobs say what they announce: '' a message, call_invite a call's
-- ring, call_cancel its cancellation; call_id names the call. A call's
-- pending ring jobs for a user are dropped in the transaction that stops
-- the user's invitation ringing.
ALTER TABLE push_jobs ADD COLUMN kind TEXT NOT NULL DEFAULT '';
ALTER TABLE push_jobs ADD COLUMN call_id TEXT NOT NULL DEFAULT '';
CREATE INDEX push_jobs_call ON push_jobs (app_id, call_id, user_id) WHERE call_id <> '';

-- +goose Down
DROP INDEX push_jobs_call;
ALTER TABLE push_jobs DROP COLUMN call_id;
ALTER TABLE push_jobs DROP COLUMN kind;
DROP TABLE call_users;
DROP TABLE calls;
