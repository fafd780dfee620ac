-- Schema version 7: one queue per vendor. The dispatcher reads each
-- vendor's due jobs on its own, so that one vendor's backlog never delays
-- another's; this index serves that read (and replaces the all-vendor one).

-- +goose Up
CREATE INDEX push_jobs_due_vendor ON push_jobs (vendor, not_before, id) WHERE status = 'pending';
DROP INDEX push_jobs_due;

-- +goose Down
CREATE INDEX push_jobs_due ON push_jobs (not_before) WHERE status = 'pending';
DROP INDEX push_jobs_due_vendor;
