-- Schema version 19 (as ../sqlite/00019_nodes.sql): node numbers. Every node of a cluster sharing one
-- database holds a lease on a number (0-1023) that goes into its message
-- IDs, so that no two running nodes mint the same ID. A lease renewed
-- while its node runs, taken over once it expired. (A single SQLite node
-- keeps --node-id; the table exists in both dialects for schema parity.)

-- +goose Up
CREATE TABLE nodes (
    node_id     BIGINT NOT NULL PRIMARY KEY,
    owner       TEXT COLLATE "C"   NOT NULL,
    lease_until BIGINT NOT NULL,
    claimed_at  BIGINT NOT NULL
);

-- +goose Down
DROP TABLE nodes;
