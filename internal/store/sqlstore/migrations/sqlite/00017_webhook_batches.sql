-- Schema version 17: message.sent events by commit batch. A commit writes
-- one outbox row per app naming all of the batch's messages (payload: their
-- IDs, see webhook.EncodeIDs; size: how many) instead of one row per
-- message. The worker delivers them in order, one request each, and
-- records how far it got (progress). A message whose delivery failed while
-- the rest of the batch went through is split off into its own row (with
-- batch_id naming its batch, so that its event ID stays the same), retried
-- on its own; splits counts those rows. Rows written before this version
-- (one per message, message_id set) are still read and delivered.

-- +goose Up
ALTER TABLE webhook_outbox ADD COLUMN size INTEGER NOT NULL DEFAULT 0;
ALTER TABLE webhook_outbox ADD COLUMN progress INTEGER NOT NULL DEFAULT 0;
ALTER TABLE webhook_outbox ADD COLUMN splits INTEGER NOT NULL DEFAULT 0;
ALTER TABLE webhook_outbox ADD COLUMN batch_id INTEGER;

-- The split rows of a batch (the deliveries listing).
CREATE INDEX webhook_outbox_batch ON webhook_outbox (batch_id) WHERE batch_id IS NOT NULL;

-- +goose Down
DROP INDEX webhook_outbox_batch;
ALTER TABLE webhook_outbox DROP COLUMN batch_id;
ALTER TABLE webhook_outbox DROP COLUMN splits;
ALTER TABLE webhook_outbox DROP COLUMN progress;
ALTER TABLE webhook_outbox DROP COLUMN size;
