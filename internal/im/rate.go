package im

import (
	"sync"
	"time"
)

// commitRate counts each app's committed messages per second over the last
// minute, for the console's live page: the messages table has no index by
// time, so counting there would scan it.
type commitRate struct {
	mu   sync.Mutex
	apps map[string]*[rateSeconds]rateBucket
}

// rateSeconds is the window of CommittedLastMinute.
const rateSeconds = 60

type rateBucket struct {
	sec int64 // Unix second the count is of
	n   int
}

func newCommitRate() *commitRate { return &commitRate{apps: map[string]*[rateSeconds]rateBucket{}} }

// note counts n messages of app committed at now.
func (c *commitRate) note(app string, n int, now time.Time) {
	sec := now.Unix()
	c.mu.Lock()
	defer c.mu.Unlock()
	bs := c.apps[app]
	if bs == nil {
		bs = new([rateSeconds]rateBucket)
		c.apps[app] = bs
	}
	b := &bs[sec%rateSeconds]
	if b.sec != sec {
		*b = rateBucket{sec: sec}
	}
	b.n += n
}

// lastMinute returns app's messages committed in the 60 seconds up to now.
func (c *commitRate) lastMinute(app string, now time.Time) int {
	sec := now.Unix()
	c.mu.Lock()
	defer c.mu.Unlock()
	bs := c.apps[app]
	if bs == nil {
		return 0
	}
	n := 0
	for _, b := range bs {
		if b.sec > sec-rateSeconds && b.sec <= sec {
			n += b.n
		}
	}
	return n
}

func (c *commitRate) drop(app string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.apps, app)
}

// CommittedLastMinute returns how many messages of the app this node
// committed in the last 60 seconds (duplicates not counted).
func (s *Service) CommittedLastMinute(appID string) int {
	return s.rate.lastMinute(appID, time.Now())
}
