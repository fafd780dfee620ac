package herald

import (
	"math/rand/v2"
	"time"
)

// backoff returns how long to wait before reconnect attempt n (0 for the
// first): the ceiling doubles from min up to max, and the wait is drawn
// uniformly from its upper half ("equal jitter"), so that clients dropped
// together by a server restart do not come back in lockstep, while no wait
// is shorter than half the ceiling. r is a random number in [0, 1).
func backoff(n int, min, max time.Duration, r float64) time.Duration {
	ceil := min
	for i := 0; i < n && ceil < max; i++ {
		ceil *= 2
	}
	if ceil > max {
		ceil = max
	}
	half := ceil / 2
	return half + time.Duration(r*float64(ceil-half))
}

// sleepCtx waits d or until ctx is done; it reports whether d elapsed.
func sleepCtx(ctxDone <-chan struct{}, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctxDone:
		return false
	}
}

func jitter() float64 { return rand.Float64() }
