-- Schema version 20 (PostgreSQL; the same as sqlite/00020): the "once" check of push planning ("no job for this
-- message and device yet") looks a job up by app, message and device.
-- Group fan-out pages plan once too (a member's late push after a session
-- ended may have come first), so a page of a large group checks every
-- member's device: with push_jobs_message alone each check read every job
-- of the message. push_jobs_message stays: it gives a message's jobs in ID
-- order (the trace) without a sort.

-- +goose Up
CREATE INDEX push_jobs_message_device ON push_jobs (app_id, message_id, push_id);

-- +goose Down
DROP INDEX push_jobs_message_device;
