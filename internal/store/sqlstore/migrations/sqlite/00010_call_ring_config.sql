-- Schema version 10: the push config of each call invitation.

-- +goose Up

-- push_config is the ring push config (protocol.PushConfig as JSON) of the
-- invitation that rang this user (NULL: the invitation had none, or the
-- user is the inviter). A ringing invitee whose last live session ends
-- without a logout is rung with it then, as if it had been offline at the
-- invitation.
ALTER TABLE call_users ADD COLUMN push_config BLOB;

-- +goose Down
ALTER TABLE call_users DROP COLUMN push_config;
