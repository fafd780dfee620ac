-- Schema version 7: the history of each device's binding, for the delivery
-- trace (who a PushID was moved from and to, and when).

-- +goose Up

-- device_events has one row per change of a device's binding: kind is
-- bound (from no user), rebound (from one user to another), unbound
-- (logout, admin unbind) or removed (unregistered, or the vendor refused
-- its token; reason says which). Written in the transaction of the change;
-- the newest 100 per device are kept.
CREATE TABLE device_events (
    id        INTEGER NOT NULL PRIMARY KEY,
    app_id    TEXT    NOT NULL REFERENCES apps (id),
    push_id   TEXT    NOT NULL,
    at        BIGINT  NOT NULL,
    kind      TEXT    NOT NULL,
    from_user TEXT    NOT NULL,
    to_user   TEXT    NOT NULL,
    reason    TEXT    NOT NULL DEFAULT ''
);

-- The trace by PushID, newest first; trimming the oldest.
CREATE INDEX device_events_push_id ON device_events (app_id, push_id, id);

-- +goose Down
DROP TABLE device_events;
