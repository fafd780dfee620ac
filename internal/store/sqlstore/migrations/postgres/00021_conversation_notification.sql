-- Schema version 21 (PostgreSQL; the same as sqlite/00021): conversation
-- notification status (ZIM setConversationNotificationStatus) and message
-- mentions.
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
    app_id              TEXT COLLATE "C" NOT NULL REFERENCES apps (id),
    user_id             TEXT COLLATE "C" NOT NULL,
    conv_id             TEXT COLLATE "C" NOT NULL,
    notification_status BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    PRIMARY KEY (app_id, user_id, conv_id)
);

CREATE TABLE message_mentions (
    app_id     TEXT COLLATE "C" NOT NULL REFERENCES apps (id),
    message_id BIGINT NOT NULL,
    user_id    TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (app_id, message_id, user_id)
);

ALTER TABLE messages ADD COLUMN mentions TEXT COLLATE "C";

-- +goose Down
ALTER TABLE messages DROP COLUMN mentions;
DROP TABLE message_mentions;
DROP TABLE conversation_settings;
