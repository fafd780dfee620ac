-- Schema version 18 (PostgreSQL; the same as sqlite/00018): a push queue shared by several nodes, and the vendors'
-- access tokens shared by them. A dispatcher claims due jobs by leasing
-- them (ClaimJobs): lease_owner is the claiming
-- node's ID and lease_until (Unix ms) the end of its lease; a job whose
-- lease is still running is claimed by no one else, and only its lease
-- owner records its outcome (FinishAttempts), which ends the lease
-- (lease_owner '', lease_until 0). A node that dies leaves leases that
-- expire, and its jobs are claimed again by another node.

-- +goose Up
ALTER TABLE push_jobs ADD COLUMN lease_owner TEXT COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE push_jobs ADD COLUMN lease_until BIGINT NOT NULL DEFAULT 0;

-- The claim's scan: a vendor's due pending jobs, oldest first, with the
-- lease end in the index so that leased jobs at the head of the queue are
-- passed over without reading their rows (replaces push_jobs_due_vendor).
CREATE INDEX push_jobs_claim ON push_jobs (vendor, not_before, id, lease_until) WHERE status = 'pending';
DROP INDEX push_jobs_due_vendor;

-- vendor_access_tokens holds the current access token of each vendor
-- account (FCM, Huawei, OPPO, vivo), shared by every node on the store: the
-- vendors limit how often tokens are fetched. secret_sha256 is the SHA-256
-- (hex) of the secret the token was fetched with, so a replaced secret
-- never inherits its predecessor's token. token is sealed (a bearer
-- credential until expires_at, Unix ms).
CREATE TABLE vendor_access_tokens (
    vendor        TEXT COLLATE "C" NOT NULL,
    account       TEXT COLLATE "C" NOT NULL,
    secret_sha256 TEXT COLLATE "C" NOT NULL,
    token         TEXT COLLATE "C" NOT NULL,
    expires_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    PRIMARY KEY (vendor, account, secret_sha256)
);

-- +goose Down
DROP TABLE vendor_access_tokens;
CREATE INDEX push_jobs_due_vendor ON push_jobs (vendor, not_before, id) WHERE status = 'pending';
DROP INDEX push_jobs_claim;
ALTER TABLE push_jobs DROP COLUMN lease_until;
ALTER TABLE push_jobs DROP COLUMN lease_owner;
