package im

import (
	"context"
	"fmt"
	"slices"

	"github.com/heraldim/herald/internal/protocol"
)

// Weak-network push: a message with a push config handed live to a
// session that does not acknowledge it within the gateway's window
// (gateway.Config.WeakPushAfter) is pushed to that session's device, the
// one it registered for push, once. The gateway keeps, per session, the
// deadline of the oldest such message not acknowledged and checks it on
// its once-a-second ticker (no timer per message); an acknowledgement
// that comes first removes it. The service then plans, off the caller's
// goroutine (the late worker, late.go), the messages the device has still
// not acknowledged (Pending: stored and in-memory positions) that have a
// push config and were not sent by the user, with Store.PlanPushOnceTo:
// the device never gets a message twice, whether it was pushed at the
// commit, by an earlier weak-network check, or at the session's end
// (late.go, which uses the same "once" planning). The user's offline push
// rule still holds: a device its rule silences gets nothing
// (ruleSilences).

// WeakSpan is a range of seqs (From, To] of one conversation.
type WeakSpan struct{ From, To int64 }

// WeakPush is a live session that left messages with a push config
// unacknowledged past the window, as the gateway reports it.
type WeakPush struct {
	AppID, UserID, DeviceID, PushID string
	// Platform is the session's login platform.
	Platform string
	// Spans maps each conversation to the messages handed and not
	// acknowledged in time.
	Spans map[string]WeakSpan
}

// WeakNetwork queues the check of w (see the comment at the top of this
// file). It never blocks; after the service stopped it does nothing.
func (s *Service) WeakNetwork(w WeakPush) {
	if w.PushID == "" || len(w.Spans) == 0 {
		return
	}
	s.queueLate(lateWork{weak: &w})
}

// checkWeak plans w's pushes to its device.
func (s *Service) checkWeak(ctx context.Context, w *WeakPush) error {
	silenced, err := s.ruleSilences(ctx, w.AppID, w.UserID, w.Platform)
	if err != nil || silenced {
		return err
	}
	ps, err := s.Pending(ctx, w.AppID, w.UserID, w.DeviceID)
	if err != nil {
		return fmt.Errorf("im: weak network: %w", err)
	}
	now := s.cfg.Now()
	var plans []PushPlan
	for _, p := range ps {
		sp, ok := w.Spans[p.ConvID]
		if !ok {
			continue
		}
		after, to := max(sp.From, p.Cursor), min(sp.To, p.LastSeq)
	read:
		for after < to {
			ms, err := s.store.MessagesAfter(ctx, w.AppID, p.ConvID, after, lateReadPage)
			if err != nil {
				return fmt.Errorf("im: weak network: %w", err)
			}
			for i := range ms {
				m := &ms[i]
				if m.Seq > to {
					break read
				}
				after = m.Seq
				if pl, ok := s.pushPlanFor(m, w.UserID, now); ok {
					plans = append(plans, pl)
				}
			}
			if len(ms) < lateReadPage {
				break
			}
		}
	}
	return s.planLateTo(ctx, w.AppID, w.UserID, []string{w.PushID}, plans, now)
}

// ruleSilences reports whether the user's offline push rule silences a
// device of platform now: the user is live on one of its OnlinePlatforms
// and platform is one of its NotToReceive.
func (s *Service) ruleSilences(ctx context.Context, appID, userID, platform string) (bool, error) {
	if !s.mayHaveRule(appID, userID) {
		return false, nil
	}
	r, err := s.pushRule(ctx, appID, userID)
	if err != nil || r == nil {
		return false, err
	}
	p, ok := protocol.PushPlatform(platform)
	if !ok || !slices.Contains(r.NotToReceive, p) {
		return false, nil
	}
	sessions, _ := s.liveSessions(appID, userID)
	for _, ss := range sessions {
		if q, ok := protocol.PushPlatform(ss.Platform); ok && slices.Contains(r.OnlinePlatforms, q) {
			return true, nil
		}
	}
	return false, nil
}
