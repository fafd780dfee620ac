-- Schema version 24: push receipts and statistics.
--
-- push_receipts holds the receipts the apps report (notificationArrived,
-- notificationClicked) for a push job: one row per job and kind, so a
-- receipt reported twice is recorded once.
--
-- push_stats is the rollup the admin API's statistics read
-- (GET /v1/apps/{app}/push/stats): per app, vendor, hour (Unix ms of the
-- hour's start, UTC), event and reason, a count. Its rows are added to in
-- the transactions that record what they count:
--   planned   a job was written (the trigger below, on every planning path)
--   sent      a vendor was called (FinishAttempts)
--   accepted  the vendor accepted a job (FinishAttempts)
--   failed    a job ended without delivery; reason is the final attempt's
--             outcome (FinishAttempts)
--   arrived, clicked  a receipt was recorded (RecordReceipt)
-- shard spreads one counter over several rows so that concurrent
-- transactions on PostgreSQL do not queue on one row lock; readers sum
-- the shards. SQLite has one writer and always writes shard 0.

-- +goose Up
CREATE TABLE push_receipts (
    job_id BIGINT NOT NULL,
    kind   TEXT   NOT NULL,
    app_id TEXT   NOT NULL,
    vendor TEXT   NOT NULL,
    at     BIGINT NOT NULL,
    PRIMARY KEY (job_id, kind)
);

CREATE TABLE push_stats (
    app_id TEXT    NOT NULL,
    hour   BIGINT  NOT NULL,
    vendor TEXT    NOT NULL,
    event  TEXT    NOT NULL,
    reason TEXT    NOT NULL,
    shard  INTEGER NOT NULL,
    n      BIGINT  NOT NULL,
    PRIMARY KEY (app_id, hour, vendor, event, reason, shard)
);

-- +goose StatementBegin
CREATE TRIGGER push_stats_planned AFTER INSERT ON push_jobs
BEGIN
    INSERT INTO push_stats (app_id, hour, vendor, event, reason, shard, n)
    VALUES (NEW.app_id, NEW.created_at - NEW.created_at % 3600000, NEW.vendor, 'planned', '', 0, 1)
    ON CONFLICT (app_id, hour, vendor, event, reason, shard) DO UPDATE SET n = n + 1;
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER push_stats_planned;
DROP TABLE push_stats;
DROP TABLE push_receipts;
