-- Schema version 24 (PostgreSQL; the same as sqlite/00024): push receipts
-- and statistics. See sqlite/00024 for what each table and event means.
-- Here the planned count is a statement-level trigger reading the
-- statement's new rows (a transition table): one upsert per planning
-- statement, whatever its number of jobs. Its shard is the transaction
-- ID modulo 8, so concurrent message commits rarely wait on one row.

-- +goose Up
CREATE TABLE push_receipts (
    job_id BIGINT NOT NULL,
    kind   TEXT COLLATE "C" NOT NULL,
    app_id TEXT COLLATE "C" NOT NULL,
    vendor TEXT COLLATE "C" NOT NULL,
    at     BIGINT NOT NULL,
    PRIMARY KEY (job_id, kind)
);

CREATE TABLE push_stats (
    app_id TEXT COLLATE "C" NOT NULL,
    hour   BIGINT NOT NULL,
    vendor TEXT COLLATE "C" NOT NULL,
    event  TEXT COLLATE "C" NOT NULL,
    reason TEXT COLLATE "C" NOT NULL,
    shard  INTEGER NOT NULL,
    n      BIGINT NOT NULL,
    PRIMARY KEY (app_id, hour, vendor, event, reason, shard)
);

-- +goose StatementBegin
CREATE FUNCTION push_stats_planned() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO push_stats (app_id, hour, vendor, event, reason, shard, n)
    SELECT app_id, created_at - created_at % 3600000, vendor, 'planned', '', (txid_current() % 8)::integer, COUNT(*)
    FROM new_jobs
    GROUP BY 1, 2, 3
    ORDER BY 1, 2, 3
    ON CONFLICT (app_id, hour, vendor, event, reason, shard) DO UPDATE SET n = push_stats.n + EXCLUDED.n;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER push_stats_planned AFTER INSERT ON push_jobs
    REFERENCING NEW TABLE AS new_jobs FOR EACH STATEMENT EXECUTE FUNCTION push_stats_planned();

-- +goose Down
DROP TRIGGER push_stats_planned ON push_jobs;
DROP FUNCTION push_stats_planned();
DROP TABLE push_stats;
DROP TABLE push_receipts;
