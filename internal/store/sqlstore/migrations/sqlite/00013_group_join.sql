-- Schema version 13: group join policy and join requests.

-- +goose Up

-- join_mode says how a user who is not invited joins: 0 any (groupJoin
-- makes it a member), 1 approval (groupJoin files a join request), 2 invite
-- only. Groups that exist keep 0, as before; the server creates new ones
-- with 1 unless asked otherwise.
ALTER TABLE im_groups ADD COLUMN join_mode INTEGER NOT NULL DEFAULT 0;

-- group_join_requests holds a user's latest request to join a group of
-- approval mode: state 0 pending, 1 accepted, 2 rejected. Asking again
-- after a decision replaces the row; adding the user as a member (accept,
-- invite) marks a pending row accepted in the same transaction.
CREATE TABLE group_join_requests (
    app_id     TEXT    NOT NULL,
    group_id   TEXT    NOT NULL,
    user_id    TEXT    NOT NULL,
    message    TEXT    NOT NULL,
    state      INTEGER NOT NULL,
    created_at BIGINT  NOT NULL,
    updated_at BIGINT  NOT NULL,
    PRIMARY KEY (app_id, group_id, user_id)
) WITHOUT ROWID;

-- +goose Down
DROP TABLE group_join_requests;
ALTER TABLE im_groups DROP COLUMN join_mode;
