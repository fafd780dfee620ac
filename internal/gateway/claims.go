package gateway

import (
	"sync"
)

// deviceClaims records, per PushID, the session that bound it at its login
// while that session lives on this node. A device follows its last login
// (the seed's behaviour), but a vendor token proves nothing about who holds
// the phone: a login of another user with the same token is refused while
// the session that bound the device is connected, so that a copied token
// cannot take a user's pushes from under its live session. Once that
// session ended (logout, disconnect, heartbeat timeout) the next login
// takes the device, and the store records the rebind for the trace.
//
// Claims are taken before the store's bind and held until the session
// ends, so two logins racing for one device cannot both bind it.
type deviceClaims struct {
	mu sync.Mutex
	m  map[claimKey]claim
	by map[*Session]claimKey // the claim each session holds
}

type claimKey struct{ app, pushID string }

type claim struct {
	s    *Session
	user string
}

func newDeviceClaims() *deviceClaims {
	return &deviceClaims{m: map[claimKey]claim{}, by: map[*Session]claimKey{}}
}

// take makes s, logging in (or registering a device) as user, the holder
// of the app's PushID; a session holds one claim, so one it held on
// another PushID is dropped. It fails, returning false, when a session of
// another user holds it. undo, when the bind that follows fails, gives
// the claim back to whoever held it before (a same-user session) and
// gives s back the claim it held before, unless another session took
// that one meanwhile.
func (c *deviceClaims) take(app, pushID, user string, s *Session) (undo func(), ok bool) {
	k := claimKey{app, pushID}
	c.mu.Lock()
	defer c.mu.Unlock()
	prev, held := c.m[k]
	if held && prev.s != s && prev.user != user {
		return nil, false
	}
	old, hadOld := c.by[s]
	if hadOld && old != k {
		c.dropLocked(s, old)
	}
	c.m[k] = claim{s: s, user: user}
	c.by[s] = k
	return func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if cur, ok := c.m[k]; !ok || cur.s != s {
			return
		}
		c.dropLocked(s, k)
		// The same user's session that held it before still lives
		// (it keeps its entry in by until it ends): it holds it again.
		if held && prev.s != s {
			if pk, ok := c.by[prev.s]; ok && pk == k {
				c.m[k] = prev
			}
		}
		if hadOld && old != k {
			if _, taken := c.m[old]; !taken {
				c.m[old] = claim{s: s, user: user}
				c.by[s] = old
			}
		}
	}, true
}

// release drops the claim s holds, if any: s ended or logged out.
func (c *deviceClaims) release(s *Session) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if k, ok := c.by[s]; ok {
		c.dropLocked(s, k)
	}
}

func (c *deviceClaims) dropLocked(s *Session, k claimKey) {
	delete(c.by, s)
	if cur, ok := c.m[k]; ok && cur.s == s {
		delete(c.m, k)
	}
}
