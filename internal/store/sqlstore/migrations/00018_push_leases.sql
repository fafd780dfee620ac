-- Schema version 18: a push queue shared by several nodes. A dispatcher
-- claims due jobs by leasing them (ClaimJobs): lease_owner is the claiming
-- node's ID and lease_until (Unix ms) the end of its lease; a job whose
-- lease is still running is claimed by no one else, and only its lease
-- owner records its outcome (FinishAttempts), which ends the lease
-- (lease_owner '', lease_until 0). A node that dies leaves leases that
-- expire, and its jobs are claimed again by another node.

-- +goose Up
ALTER TABLE push_jobs ADD COLUMN lease_owner TEXT NOT NULL DEFAULT '';
ALTER TABLE push_jobs ADD COLUMN lease_until BIGINT NOT NULL DEFAULT 0;

-- The claim's scan: a vendor's due pending jobs, oldest first, with the
-- lease end in the index so that leased jobs at the head of the queue are
-- passed over without reading their rows (replaces push_jobs_due_vendor).
CREATE INDEX push_jobs_claim ON push_jobs (vendor, not_before, id, lease_until) WHERE status = 'pending';
DROP INDEX push_jobs_due_vendor;

-- +goose Down
CREATE INDEX push_jobs_due_vendor ON push_jobs (vendor, not_before, id) WHERE status = 'pending';
DROP INDEX push_jobs_claim;
ALTER TABLE push_jobs DROP COLUMN lease_until;
ALTER TABLE push_jobs DROP COLUMN lease_owner;
