package call

import (
	"context"
	"slices"
	"time"

	"github.com/heraldim/herald/internal/protocol"
)

// An invitation with a push config rings an invitee's devices with a push
// when the invitee has no live session at the invitation (ringPushes). An
// invitee that still counts as live then — an app frozen in the background
// whose half-open connection the server ends only after the heartbeat
// window, a client that closed its socket a moment before the server
// noticed — gets callInvitationReceived on a session that is dying, and
// becomes received. Such an invitee is rung when that session ends, by the
// same rule, as if it had been offline at the invitation (the same as
// im's late pushes of unacknowledged messages, internal/im/late.go):
//
//   - The gateway reports every logged-in session that ended without a
//     logout (SessionEnded), the same ends as for messages: a dropped
//     connection, the heartbeat timeout, a slow consumer, an expired
//     token, a kick, a server restart (checked before the store closes).
//     A logout unbinds the device and owes nothing. Only the ends of
//     users with an invitation in the gate (ringing) are queued, so that
//     a mass disconnect does not fill the queue; a session that ends
//     during an invitation that counted it live is caught right after
//     the invitation (recheckRung).
//   - The service checks, off the caller's goroutine and under the lock of
//     state changes, that the user has no other live session (that one
//     rings; its own end is checked in turn). For each of the user's
//     invitations still ringing (inviting or received, before its
//     deadline, the call open) that carried a push config, the user
//     becomes inviting again — what an offline invitee is, so that the
//     next login delivers the invitation again and marks it received —
//     and its enabled bound devices that have no ring job of that call yet
//     get one (Push.Once), expiring at the deadline, in the transaction of
//     the state change. A device rung at the invitation, or at the end of
//     another session, is never rung twice.
//   - The rings are ordinary ring jobs: the dispatcher asks the gate before
//     the vendor, an answer, cancel or timeout drops them or withdraws
//     them as any other ring.
//   - The checks are in memory until they ran: a crash in between loses
//     them (the invitation is still delivered at the next login before
//     its deadline; only the ring is lost).

// endQueue bounds the checks waiting for Run. Past it a check is dropped
// (and logged): the invitation is delivered at the next login.
const endQueue = 4096

// endCheck is one check for Run: a user whose session ended (session), or
// an invitee found offline right after its invitation marked it received
// (recheckRung).
type endCheck struct {
	k       userKey
	session bool
}

// SessionEnded queues the check of a session of userID that ended without
// logging out (see the comment at the top of this file). It never blocks;
// the end of a user that nothing rings is checked at once (it owes
// nothing).
func (s *Service) SessionEnded(appID, userID string) {
	s.queueEnd(endCheck{k: userKey{appID, userID}, session: true})
}

// recheckRung closes the race of an invitee's session that ends during
// its invitation: counted live (received), it may have left the hub and
// been reported before the invitation was in the gate, which SessionEnded
// looks at. An invitee received but offline right after the invitation
// is checked as if its session ended now. Callers hold s.mu.
func (s *Service) recheckRung(appID string, rung []User) {
	for _, u := range rung {
		if u.State == protocol.CallReceived && u.PushConfig != nil && !s.hub.Online(appID, u.UserID) {
			s.queueEnd(endCheck{k: userKey{appID, u.UserID}})
		}
	}
}

func (s *Service) queueEnd(e endCheck) {
	s.gateMu.RLock()
	ringing := s.gateUsers[e.k] > 0
	s.gateMu.RUnlock()
	if !ringing {
		if e.session {
			s.endChecked()
		}
		return
	}
	select {
	case s.ends <- e:
	default:
		s.log.Warn("too many ended sessions to check for call rings; their invitations wait for the next login",
			"app", e.k.app, "user", e.k.user)
		if e.session {
			s.endChecked()
		}
	}
}

// drainEnds runs the checks queued, until none is left.
func (s *Service) drainEnds(ctx context.Context) {
	for {
		select {
		case e := <-s.ends:
			s.checkEnd(ctx, e)
		default:
			return
		}
	}
}

// checkEnd rings e's user's devices for the invitations its ended session
// leaves unrung, if the user has no live session left.
func (s *Service) checkEnd(ctx context.Context, e endCheck) {
	if e.session {
		defer s.endChecked()
	}
	k := e.k
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hub.Online(k.app, k.user) {
		return // the live session rings
	}
	ids := make([]string, 0, len(s.ringingBy[k]))
	for id := range s.ringingBy[k] {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	now := s.cfg.Clock.Now()
	for _, id := range ids {
		c := s.calls[callKey{k.app, id}]
		if c == nil {
			continue
		}
		s.ringLate(ctx, c, k.user, now)
	}
}

// ringLate makes user, offline now, an offline invitee of c: inviting, its
// devices rung as at the invitation. Callers hold s.mu.
func (s *Service) ringLate(ctx context.Context, c *state, user string, now time.Time) {
	u := c.user(user)
	if u == nil || !ringingState(u.State) || !now.Before(u.Deadline) || u.PushConfig == nil {
		return
	}
	nu := *u
	changed := nu.State != protocol.CallInviting
	if changed {
		nu.State, nu.UpdatedAt = protocol.CallInviting, now
	}
	pushes := ringPushes([]User{nu})
	for i := range pushes {
		pushes[i].Once = true
	}
	ch := Change{Pushes: pushes, Now: now}
	if changed {
		ch.Users = []User{nu}
	}
	if err := s.commit(ctx, c, ch); err != nil {
		s.log.Error("ringing the devices of an invitee whose session ended", "app", c.AppID, "call", c.CallID, "user", user, "err", err)
		return
	}
	if changed {
		s.tell(c, []User{nu})
	}
}

// endChecked counts one ended session checked and wakes the waiters of
// SessionEndsChecked.
func (s *Service) endChecked() { s.checked.Add() }

// SessionEndsChecked returns how many ended sessions (reported by
// SessionEnded) have been checked, and a channel closed when that number
// next changes: a test waits on it for a check to have run.
func (s *Service) SessionEndsChecked() (uint64, <-chan struct{}) { return s.checked.Load() }
