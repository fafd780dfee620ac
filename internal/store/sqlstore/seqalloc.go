package sqlstore

import (
	"context"
	"database/sql"
	"hash/fnv"
	"slices"

	"github.com/heraldim/herald/internal/im"
)

// Seq allocation across processes.
//
// A conversation's next seq is its last stored seq plus one. On SQLite the
// process is the only writer: writeSem serialises the batches and the seq
// cache (seqcache.go) remembers each conversation's last seq. On PostgreSQL
// several nodes append to the same conversations at once, so each batch
// transaction first takes a transaction-scoped advisory lock per
// conversation it writes (lockConversations), then reads MAX(seq) under
// it. The lock is held until commit or rollback, so
//
//   - two batches of one conversation never read the same last seq (seqs
//     are unique and dense: no gap, since a rolled-back batch took none);
//   - they commit in seq order: a reader never sees seq n+1 before n;
//   - the conversation rows, the group row and the members' read positions
//     a batch updates belong to its conversations, so their updates are
//     serialised too (last_seq only grows, unread adds up).
//
// Locks are taken in the order of their keys, the same in every process,
// so two batches over the same conversations cannot deadlock on them. Two
// conversations whose keys collide (a 64-bit hash) share a lock, which
// only costs them some waiting.

// qLockConversation takes one conversation's lock until the transaction
// ends.
const qLockConversation = `SELECT pg_advisory_xact_lock($1)`

// convLockKey is the advisory lock key of conversation k: a 64-bit FNV-1a
// hash of its app and conversation IDs (0 separates them: no ID holds it).
func convLockKey(k convKey) int64 {
	h := fnv.New64a()
	h.Write([]byte(k.app))
	h.Write([]byte{0})
	h.Write([]byte(k.conv))
	return int64(h.Sum64())
}

// lockConversations takes, on a database written by several processes,
// the lock of every conversation of msgs in ascending key order. On SQLite
// it does nothing: writeSem already serialises the batches.
func (s *Store) lockConversations(ctx context.Context, tx *sql.Tx, msgs []*im.Message) error {
	if !s.d.shared {
		return nil
	}
	keys := make([]int64, 0, 8)
	for _, m := range msgs {
		keys = append(keys, convLockKey(convKey{app: m.AppID, conv: m.ConvID}))
	}
	return lockKeys(ctx, tx, keys)
}

// lockConversation takes, on a database written by several processes, the
// lock of one conversation, for the transactions other than appends that
// read a conversation's state and write it back (MarkRead: its unread count
// must not overwrite what a concurrent append added; a group's members and
// read positions against its last seq). A transaction takes one such lock
// at most, or uses lockConversations, so the lock order holds.
func (s *Store) lockConversation(ctx context.Context, tx *sql.Tx, appID, convID string) error {
	if !s.d.shared {
		return nil
	}
	return lockKeys(ctx, tx, []int64{convLockKey(convKey{app: appID, conv: convID})})
}

// lockKeys takes the advisory locks keys in ascending order.
func lockKeys(ctx context.Context, tx *sql.Tx, keys []int64) error {
	slices.Sort(keys)
	keys = slices.Compact(keys)
	for _, k := range keys {
		if _, err := tx.ExecContext(ctx, qLockConversation, k); err != nil {
			return err
		}
	}
	return nil
}
