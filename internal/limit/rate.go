package limit

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"
)

// Bucket is a token-bucket limit: Rate events per second on average, up to
// Burst at once. A Rate of zero (or less) means unlimited.
type Bucket struct {
	Rate  float64
	Burst int
}

// Unlimited reports whether b limits nothing.
func (b Bucket) Unlimited() bool { return b.Rate <= 0 }

// sweepEvery is how often Keyed looks for idle keys to forget.
const sweepEvery = time.Minute

// Keyed keeps one token bucket per key (a user, an app), all alike. A
// key's bucket that has refilled completely is forgotten at the next
// sweep (at most once a minute, during a call: no goroutine): a fresh one
// is in the same state, so forgetting it changes no answer, and memory
// stays bounded by the keys active within about a minute plus the time a
// bucket takes to refill. A nil *Keyed allows everything.
type Keyed struct {
	b       Bucket
	now     func() time.Time
	limited prometheus.Counter
	seed    maphash.Seed
	// lastSweep is the clock's unix nanoseconds at the last sweep.
	lastSweep atomic.Int64
	// shards spread the keys so that concurrent sends rarely wait on
	// each other, and a sweep holds up only one shard's keys.
	shards [keyedShards]keyedShard
}

const keyedShards = 32

type keyedShard struct {
	mu sync.Mutex
	m  map[string]*rate.Limiter
}

// NewKeyed returns per-key buckets of b on the clock now (nil: time.Now),
// counting refusals in limited (nil: not counted). It returns nil, which
// allows everything, when b is unlimited.
func NewKeyed(b Bucket, now func() time.Time, limited prometheus.Counter) *Keyed {
	if b.Unlimited() {
		return nil
	}
	if now == nil {
		now = time.Now
	}
	b.Burst = max(1, b.Burst) // a bucket holding nothing would refuse forever
	k := &Keyed{b: b, now: now, limited: limited, seed: maphash.MakeSeed()}
	for i := range k.shards {
		k.shards[i].m = map[string]*rate.Limiter{}
	}
	return k
}

// Allow takes one event from key's bucket. When the bucket is empty it
// takes nothing and returns false with the time after which one event
// will be allowed.
func (k *Keyed) Allow(key string) (retryAfter time.Duration, ok bool) {
	if k == nil {
		return 0, true
	}
	now := k.now()
	r := k.reserve(key, now)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		k.refused()
		return d, false
	}
	return 0, true
}

// reserve takes a reservation of one event from key's bucket at now.
func (k *Keyed) reserve(key string, now time.Time) *rate.Reservation {
	if last := k.lastSweep.Load(); now.UnixNano()-last >= int64(sweepEvery) && k.lastSweep.CompareAndSwap(last, now.UnixNano()) {
		k.sweep(now)
	}
	sh := &k.shards[maphash.String(k.seed, key)%keyedShards]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	l := sh.m[key]
	if l == nil {
		l = rate.NewLimiter(rate.Limit(k.b.Rate), k.b.Burst)
		sh.m[key] = l
	}
	return l.ReserveN(now, 1)
}

// sweep forgets the full buckets, one shard at a time.
func (k *Keyed) sweep(now time.Time) {
	for i := range k.shards {
		sh := &k.shards[i]
		sh.mu.Lock()
		for key, l := range sh.m {
			if l.TokensAt(now) >= float64(k.b.Burst) {
				delete(sh.m, key)
			}
		}
		sh.mu.Unlock()
	}
}

func (k *Keyed) refused() {
	if k.limited != nil {
		k.limited.Inc()
	}
}

// Keys returns how many keys have a bucket (for tests of the eviction).
func (k *Keyed) Keys() int {
	if k == nil {
		return 0
	}
	n := 0
	for i := range k.shards {
		sh := &k.shards[i]
		sh.mu.Lock()
		n += len(sh.m)
		sh.mu.Unlock()
	}
	return n
}

// Messages limits message sends per user and per app: a send takes one
// event from its user's bucket and one from its app's, or from neither.
// Buckets are per node: a user's sessions on this node share one.
type Messages struct {
	user, app *Keyed
	now       func() time.Time
}

// NewMessages returns the message limits; either bucket set may be nil
// (unlimited; see NewKeyed).
func NewMessages(user, app *Keyed, now func() time.Time) *Messages {
	if now == nil {
		now = time.Now
	}
	return &Messages{user: user, app: app, now: now}
}

// Scope says which limit refused a send.
type Scope string

// The scopes of the rate limits (the metric's label).
const (
	ScopeUser Scope = "user"
	ScopeApp  Scope = "app"
	ScopeREST Scope = "rest"
)

// Allow takes one send of userID in appID. When a limit refuses it, it
// takes nothing from either and says which limit and when to retry.
func (m *Messages) Allow(appID, userID string) (retryAfter time.Duration, scope Scope, ok bool) {
	if m == nil || (m.user == nil && m.app == nil) {
		return 0, "", true
	}
	now := m.now()
	var ur, ar *rate.Reservation
	if m.user != nil {
		ur = m.user.reserve(appID+"\x00"+userID, now)
		if d := ur.DelayFrom(now); d > 0 {
			ur.CancelAt(now)
			m.user.refused()
			return d, ScopeUser, false
		}
	}
	if m.app != nil {
		ar = m.app.reserve(appID, now)
		if d := ar.DelayFrom(now); d > 0 {
			ar.CancelAt(now)
			if ur != nil {
				ur.CancelAt(now)
			}
			m.app.refused()
			return d, ScopeApp, false
		}
	}
	return 0, "", true
}
