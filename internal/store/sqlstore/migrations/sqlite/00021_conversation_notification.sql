-- Schema version 21: conversation notification status (ZIM
-- setConversationNotificationStatus) and message mentions.
--
-- conversation_settings holds a user's notification status of one
-- conversation, keyed by the canonical conversation key (messages.conv_id:
-- "p:a:b" or "g:group"). No row: notify (1). 2 do not disturb, 3 mentions
-- only (groups). Push planning reads it in the planning statement itself.
--
-- message_mentions names, per message, the users its mention list names;
-- user_id '' stands for @all (isMentionAll: '' is no valid user ID). The
-- planning statement looks a device's user up here; messages.mentions keeps
-- the list as delivered (JSON, NULL when none).

-- +goose Up
CREATE TABLE conversation_settings (
    app_id              TEXT    NOT NULL REFERENCES apps (id),
    user_id             TEXT    NOT NULL,
    conv_id             TEXT    NOT NULL,
    notification_status INTEGER NOT NULL,
    updated_at          BIGINT  NOT NULL,
    PRIMARY KEY (app_id, user_id, conv_id)
) WITHOUT ROWID;

CREATE TABLE message_mentions (
    app_id     TEXT   NOT NULL REFERENCES apps (id),
    message_id BIGINT NOT NULL,
    user_id    TEXT   NOT NULL,
    PRIMARY KEY (app_id, message_id, user_id)
) WITHOUT ROWID;

ALTER TABLE messages ADD COLUMN mentions TEXT;

-- +goose Down
ALTER TABLE messages DROP COLUMN mentions;
DROP TABLE message_mentions;
DROP TABLE conversation_settings;
