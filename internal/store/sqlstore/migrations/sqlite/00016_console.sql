-- Schema version 16: the console's live page. Its overview is polled every
-- few seconds per app: these indexes keep its push queries to the app's
-- own rows (no scan of other apps' jobs).

-- +goose Up

-- The app's queue depth by vendor and status: its open jobs only.
CREATE INDEX push_jobs_app_open ON push_jobs (app_id, vendor, status) WHERE status IN ('pending', 'held');
-- The app's recent outcomes: its jobs changed since a time (an attempt
-- sets its job's updated_at), then their attempts by primary key.
CREATE INDEX push_jobs_app_updated ON push_jobs (app_id, updated_at);

-- +goose Down
DROP INDEX push_jobs_app_updated;
DROP INDEX push_jobs_app_open;
