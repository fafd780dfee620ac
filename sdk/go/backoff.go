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

// hintedWait returns the wait before a reconnect attempt that follows a
// refusal with a retry hint (the handshake's Retry-After): at least the
// hint, plus jitter of up to a quarter of it (at most max), so that the
// clients a cap refused together do not all come back at the same
// instant; never less than the backoff d. The hint was bounded by
// maxRetryHint already.
func hintedWait(hint, d, maxJitter time.Duration, r float64) time.Duration {
	j := min(hint/4, maxJitter)
	return max(d, hint+time.Duration(r*float64(j)))
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
