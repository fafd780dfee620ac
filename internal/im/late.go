package im

import (
	"context"
	"fmt"
	"time"

	"github.com/heraldim/herald/internal/protocol"
)

// A message with a push config is pushed to a recipient that has no live
// session when it is committed (planPush, planGroupPush). A recipient that
// still counts as live then — an app frozen in the background whose
// half-open connection the server ends only after the heartbeat window, a
// client that closed its socket a moment before the server noticed — gets
// the message written to a session that dies without acknowledging it.
// Such a message is pushed when that session ends, by the same rule, as if
// the recipient had been offline at the commit:
//
//   - The gateway reports a session that ended without logging out
//     (SessionEnded) with the conversations in which it was handed messages
//     with a push config that it has not acknowledged; a session that
//     acknowledged everything it was handed reports nothing.
//   - The service checks, off the caller's goroutine, that the user has no
//     other live session (that one got the messages too, and its own end
//     will be checked in turn), takes the device's acknowledged positions
//     (Pending: stored cursors and those still in memory, the session's own
//     acks included; for groups never below the member's join) and those of
//     the user's other devices (a message another device acknowledged
//     reached the user), and plans the push jobs of the messages left that
//     have a push config and that the user did not send, expiring as they
//     would have at the commit, on every enabled device bound to the user
//     that has no job for that message yet (Store.PlanPushOnce): a message
//     planned at its commit, or at the end of another session, is never
//     pushed twice to a device.
//   - Messages the session got by the login sync count as well as live
//     ones: one committed while another session of the user lived was not
//     pushed then, and if that session ended while this one lived, this
//     end is the last chance; one that was pushed at its commit is skipped
//     by PlanPushOnce.
//   - The checks are in memory until they ran: a crash in between loses
//     them, and the messages, still unacknowledged, are delivered at the
//     next login instead (promise 2; only the notification is lost).
//   - In a cluster, a node that dies reports none of its sessions' ends.
//     Another node checks them instead (SessionsLost) once the dead node's
//     presence expires: it does not know what the sessions were handed, so
//     it takes every conversation the device has not acknowledged to its
//     end, from the acknowledged positions (everything there would have
//     been handed to a live session by its login sync or live), which also
//     covers the messages committed while the dead node still counted as
//     live. PlanPushOnce skips what was pushed already.
//
// A user with an offline push rule (pushrule.go) is checked by its rule
// instead of "no other live session": while it is live elsewhere, the
// ended session's messages go to the devices the rule leaves (never one
// with a live session), with Store.PlanPushOnceTo; the same holds for
// recheckPush, which then also queues a message whose recipient was live
// at the commit (or whose rule the cache does not know yet). Weak-network
// pushes (weak.go) run on the same worker.
//
// Every end but a logout counts: a dropped connection, the heartbeat
// timeout, a slow consumer, an expired token, a server restart (checked
// before the store closes), a kick (which leaves the session that
// displaced it live, so the usual rule plans nothing). A logout unbinds the
// device and owes nothing.
//
// The same holds for the narrow race at the commit itself: a peer
// recipient counted live when its message was planned but gone when the
// message was routed (its session ended during the commit) is planned
// again here (recheckPush). Not covered: a group member counted live by its
// message's fan-out (planGroupPush) whose session left before the route
// worker handed it the message; both run just after the commit.

// lateQueue bounds the checks waiting for the worker. Past it a check is
// dropped (and logged): its messages stay unacknowledged for the next
// login.
const lateQueue = 4096

// SessionEnd is a logged-in session that ended for any reason but a
// logout, as the gateway reports it.
type SessionEnd struct {
	AppID, UserID, DeviceID string
	// From maps each conversation in which the session was handed a
	// message with a push config (written, or queued and not written) to
	// the seq after which those messages begin. Conversations the client
	// acknowledged as far as it was handed are left out.
	From map[string]int64
	// lost: the session's node died and From is unknown: every
	// conversation counts from the acknowledged positions (SessionsLost).
	lost bool
}

// lateWork is one check for the late planner: a session's end, or one
// committed message whose recipient left during its commit.
type lateWork struct {
	end  *SessionEnd
	msg  *Message
	weak *WeakPush // weak.go
}

// SessionEnded queues the check of a session that ended without logging
// out (see the comment at the top of this file). It never blocks; after
// the service stopped it does nothing.
func (s *Service) SessionEnded(e SessionEnd) {
	if len(e.From) == 0 {
		s.lateChecked()
		return
	}
	s.queueLate(lateWork{end: &e})
}

// SessionsLost queues the checks of a user's sessions on a node that died
// (see the comment at the top of this file), one per device. It never
// blocks; after the service stopped it does nothing.
func (s *Service) SessionsLost(appID, userID string, devices []string) {
	seen := make(map[string]bool, len(devices))
	for _, d := range devices {
		if seen[d] {
			continue
		}
		seen[d] = true
		s.queueLate(lateWork{end: &SessionEnd{AppID: appID, UserID: userID, DeviceID: d, lost: true}})
	}
}

// recheckPush is called after peer message m was routed, when its
// recipient was live at planPush: if it has no live session now, the
// message may have been routed to nobody, and its push is planned late.
// It is cheap (one registry lookup) and never blocks.
func (s *Service) recheckPush(m *Message) {
	if m.PushConfig == nil || m.ConvType == protocol.ConversationGroup || len(m.PushUsers) > 0 {
		return
	}
	if s.router.Online(m.AppID, m.Recipient) && !s.mayHaveRule(m.AppID, m.Recipient) {
		return // live, default rule: the session has it
	}
	s.queueLate(lateWork{msg: m})
}

func (s *Service) queueLate(w lateWork) {
	s.lateMu.RLock()
	defer s.lateMu.RUnlock()
	if s.lateClosed {
		return
	}
	select {
	case s.late <- w:
	default:
		s.metrics.lateDropped.Inc()
		if w.end != nil {
			s.log.Warn("too many ended sessions to check for pushes; their unacknowledged messages wait for the next login",
				"app", w.end.AppID, "user", w.end.UserID)
			s.lateChecked()
		}
	}
}

// closeLate stops taking checks; lateLoop returns once it ran those queued.
func (s *Service) closeLate() {
	s.lateMu.Lock()
	defer s.lateMu.Unlock()
	if !s.lateClosed {
		s.lateClosed = true
		close(s.late)
	}
}

// lateLoop runs the queued checks until closeLate.
func (s *Service) lateLoop(ctx context.Context) {
	for w := range s.late {
		var err error
		switch {
		case w.end != nil:
			err = s.checkSessionEnd(ctx, w.end)
			s.lateChecked()
		case w.weak != nil:
			err = s.checkWeak(ctx, w.weak)
		default:
			err = s.checkRouted(ctx, w.msg)
		}
		if err != nil {
			s.log.Warn("planning pushes of unacknowledged messages failed; they wait for the next login", "err", err)
		}
	}
}

// checkSessionEnd plans the pushes e's session leaves owed.
func (s *Service) checkSessionEnd(ctx context.Context, e *SessionEnd) error {
	all, to, err := s.pushTargets(ctx, e.AppID, e.UserID)
	if err != nil {
		return fmt.Errorf("im: session end: %w", err)
	}
	if !all && len(to) == 0 {
		return nil // the live session has the messages
	}
	ps, err := s.Pending(ctx, e.AppID, e.UserID, e.DeviceID)
	if err != nil {
		return fmt.Errorf("im: session end: %w", err)
	}
	now := s.cfg.Now()
	var plans []PushPlan
	for _, p := range ps {
		from, ok := e.From[p.ConvID]
		if !ok && !e.lost {
			continue
		}
		// What another device of the user acknowledged reached the user
		// while it had a live session there: as at the commit, no push.
		other, err := s.userCursor(ctx, e.AppID, e.UserID, p.ConvID)
		if err != nil {
			return fmt.Errorf("im: session end: %w", err)
		}
		// Up to the conversation's last message: those after what the
		// session was handed were committed once it was gone, and were
		// planned at their commit (PlanPushOnce skips them).
		after := max(from, p.Cursor, other)
	read:
		for after < p.LastSeq {
			ms, err := s.store.MessagesAfter(ctx, e.AppID, p.ConvID, after, lateReadPage)
			if err != nil {
				return fmt.Errorf("im: session end: %w", err)
			}
			for i := range ms {
				m := &ms[i]
				if m.Seq > p.LastSeq {
					break read
				}
				after = m.Seq
				if pl, ok := s.pushPlanFor(m, e.UserID, now); ok {
					plans = append(plans, pl)
				}
			}
			if len(ms) < lateReadPage {
				break
			}
		}
	}
	if !all {
		return s.planLateTo(ctx, e.AppID, e.UserID, to, plans, now)
	}
	return s.planLate(ctx, e.AppID, e.UserID, plans, now)
}

// lateReadPage is how many stored messages one read of checkSessionEnd
// fetches.
const lateReadPage = 500

// checkRouted plans the push of m, committed while its recipient counted
// live, if the recipient is (still) offline, or to the devices its push
// rule leaves (pushrule.go).
func (s *Service) checkRouted(ctx context.Context, m *Message) error {
	now := s.cfg.Now()
	pl, ok := s.pushPlanFor(m, m.Recipient, now)
	if !ok {
		return nil
	}
	return s.planRuled(ctx, m.AppID, m.Recipient, []PushPlan{pl}, now)
}

func (s *Service) planLate(ctx context.Context, appID, userID string, plans []PushPlan, now time.Time) error {
	if len(plans) == 0 {
		return nil
	}
	n, err := s.store.PlanPushOnce(ctx, appID, userID, plans, now)
	if err != nil {
		return fmt.Errorf("im: plan late pushes: %w", err)
	}
	s.metrics.latePushes.Add(float64(n))
	if n > 0 && s.cfg.PushPlanned != nil {
		s.cfg.PushPlanned()
	}
	return nil
}

// pushPlanFor returns stored message m's push to user, planned now, as its
// commit would have planned it: only with a push config, never to its
// sender, expiring PushTTL after the commit (nothing once that passed).
func (s *Service) pushPlanFor(m *Message, user string, now time.Time) (PushPlan, bool) {
	if m.PushConfig == nil || m.Sender == user {
		return PushPlan{}, false
	}
	exp := s.pushExpiry(m)
	if !now.Before(exp) {
		return PushPlan{}, false
	}
	return PushPlan{MessageID: m.ID, PushConfig: *m.PushConfig, ExpiresAt: exp}, true
}

// pushExpiry is when the push of m stops being worth sending.
func (s *Service) pushExpiry(m *Message) time.Time { return m.CreatedAt.Add(s.cfg.PushTTL) }

// lateChecked counts one ended session checked and wakes the waiters of
// SessionEndsChecked.
func (s *Service) lateChecked() { s.checked.Add() }

// SessionEndsChecked returns how many ended sessions (reported by
// SessionEnded) have been checked, and a channel closed when that number
// next changes: a test waits on it for a check to have run.
func (s *Service) SessionEndsChecked() (uint64, <-chan struct{}) { return s.checked.Load() }
