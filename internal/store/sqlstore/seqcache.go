package sqlstore

// convKey names a conversation across apps.
type convKey struct {
	app, conv string
}

// seqCacheGeneration bounds the seq cache: it holds between one and two
// generations of this many conversations (~100 bytes each), so a server with
// millions of conversations keeps the active ones without growing unbounded.
const seqCacheGeneration = 1 << 16

// seqCache remembers the last Seq of recently written conversations so that
// AppendMessages need not look it up with MAX(seq) in every batch. This is
// sound only because this process is the only writer of the database
// (SQLite). On PostgreSQL the store has no seq cache (a nil *seqCache,
// which always misses): seqalloc.go.
//
// It keeps two generations: lookups promote entries from the old one to the
// current one, and when the current one is full it becomes the old one (the
// previous old one is dropped). That approximates LRU without per-entry
// bookkeeping. A miss costs one index lookup, so forgetting is always safe.
//
// seqCache is not safe for concurrent use; Store.writeSem guards it.
type seqCache struct {
	size     int
	cur, old map[convKey]int64
}

func newSeqCache(size int) *seqCache {
	return &seqCache{size: size, cur: make(map[convKey]int64)}
}

// get returns the cached last seq of k.
func (c *seqCache) get(k convKey) (int64, bool) {
	if c == nil {
		return 0, false
	}
	if v, ok := c.cur[k]; ok {
		return v, true
	}
	if v, ok := c.old[k]; ok {
		c.put(k, v)
		return v, true
	}
	return 0, false
}

// put records v as the last seq of k.
func (c *seqCache) put(k convKey, v int64) {
	if c == nil {
		return
	}
	if _, ok := c.cur[k]; !ok && len(c.cur) >= c.size {
		c.old, c.cur = c.cur, make(map[convKey]int64, c.size)
	}
	c.cur[k] = v
}

// forget drops k, so that its last seq is read from the database next time.
func (c *seqCache) forget(k convKey) {
	if c == nil {
		return
	}
	delete(c.cur, k)
	delete(c.old, k)
}
