// Package queuebench holds a benchmark only: the push queue's claim on
// PostgreSQL (FOR UPDATE SKIP LOCKED) against a NATS JetStream work-queue
// stream, for enqueue, claim and ack of many jobs (docs/benchmarks.md).
// It reads HERALD_TEST_POSTGRES and HERALD_TEST_NATS and skips without
// them.
package queuebench
