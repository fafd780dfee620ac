-- Schema version 22: each user's offline push rule (ZIM's
-- ZIMUserOfflinePushRule, set by updateUserOfflinePushRule): while the
-- user has a live session on one of online_platforms, its devices of
-- not_to_receive get no offline push. Both lists are ZIMPlatformType
-- numbers, comma separated ("1,4,5"); a user without a row has the
-- default rule (any live session: no push to any device).

-- +goose Up
CREATE TABLE user_push_rules (
    app_id           TEXT   NOT NULL REFERENCES apps (id),
    user_id          TEXT   NOT NULL,
    online_platforms TEXT   NOT NULL DEFAULT '',
    not_to_receive   TEXT   NOT NULL DEFAULT '',
    updated_at       BIGINT NOT NULL,
    PRIMARY KEY (app_id, user_id)
);

-- +goose Down
DROP TABLE user_push_rules;
