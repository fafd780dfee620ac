-- Schema version 2: offline push. Devices with their PushIDs and bindings,
-- and the durable push queue with its delivery trace.

-- +goose Up

-- devices are registered push endpoints. push_id is opaque and stable for
-- the same vendor token and environment. user_id is the one user the device
-- is bound to ('' when none): binding takes the device from its previous
-- user, logout clears it, unregistering deletes the row.
CREATE TABLE devices (
    app_id      TEXT    NOT NULL REFERENCES apps (id),
    push_id     TEXT    NOT NULL,
    vendor      TEXT    NOT NULL,
    token       TEXT    NOT NULL,
    voip_token  TEXT    NOT NULL DEFAULT '',
    environment TEXT    NOT NULL,
    platform    TEXT    NOT NULL DEFAULT '',
    bundle_id   TEXT    NOT NULL DEFAULT '',
    user_id     TEXT    NOT NULL DEFAULT '',
    enabled     INTEGER NOT NULL DEFAULT 1,
    -- foreground presentation on iOS: bit 1 alert, 2 sound, 4 badge
    foreground  INTEGER NOT NULL DEFAULT 0,
    created_at  BIGINT  NOT NULL,
    updated_at  BIGINT  NOT NULL,
    PRIMARY KEY (app_id, push_id)
);

-- Push planning reads the devices bound to a recipient.
CREATE INDEX devices_user ON devices (app_id, user_id) WHERE user_id <> '';

-- push_jobs is the durable queue: one row per notification per device,
-- written in the same transaction as its message. status: pending (due at
-- not_before), delivered, dropped (device gone or push refused for good),
-- expired (its time passed before the vendor took it), held (quota), failed
-- (attempts used up or credential failing).
CREATE TABLE push_jobs (
    id          INTEGER NOT NULL PRIMARY KEY,
    app_id      TEXT    NOT NULL REFERENCES apps (id),
    message_id  BIGINT  NOT NULL,
    user_id     TEXT    NOT NULL,
    push_id     TEXT    NOT NULL,
    vendor      TEXT    NOT NULL,
    push_config BLOB    NOT NULL,
    status      TEXT    NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    not_before  BIGINT  NOT NULL,
    expires_at  BIGINT  NOT NULL, -- 0: no expiry of its own
    reason      TEXT    NOT NULL DEFAULT '',
    created_at  BIGINT  NOT NULL,
    updated_at  BIGINT  NOT NULL
);

-- The dispatcher's scan: due pending jobs, oldest first.
CREATE INDEX push_jobs_due ON push_jobs (not_before) WHERE status = 'pending';
-- The delivery trace by message, user and device.
CREATE INDEX push_jobs_message ON push_jobs (app_id, message_id);
CREATE INDEX push_jobs_user ON push_jobs (app_id, user_id, id);
CREATE INDEX push_jobs_push_id ON push_jobs (app_id, push_id, id);

-- push_attempts records every call to a vendor for the delivery trace.
CREATE TABLE push_attempts (
    job_id     BIGINT  NOT NULL,
    attempt    INTEGER NOT NULL,
    at         BIGINT  NOT NULL,
    outcome    TEXT    NOT NULL,
    status     INTEGER NOT NULL,
    reason     TEXT    NOT NULL,
    latency_ms BIGINT  NOT NULL,
    PRIMARY KEY (job_id, attempt)
) WITHOUT ROWID;

-- +goose Down
DROP TABLE push_attempts;
DROP TABLE push_jobs;
DROP TABLE devices;
