-- Schema version 23: message revoke. A revoked message keeps its
-- row (id, seq, created_at: its place in the conversation) and loses its
-- body (text, data, searched_content and push_config are cleared when it is
-- revoked). revoked_at is when (Unix ms; 0: not revoked), revoked_by the
-- user who revoked it ('' for the app's server), revoke_status the
-- protocol's revoke status (who: sender, server API, group admin or owner)
-- and revoke_data the revokeExtendedData. type stays the original type,
-- which clients see as originalMessageType.

-- +goose Up
ALTER TABLE messages ADD COLUMN revoked_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN revoked_by TEXT NOT NULL DEFAULT '';
ALTER TABLE messages ADD COLUMN revoke_status INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN revoke_data TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE messages DROP COLUMN revoke_data;
ALTER TABLE messages DROP COLUMN revoke_status;
ALTER TABLE messages DROP COLUMN revoked_by;
ALTER TABLE messages DROP COLUMN revoked_at;
