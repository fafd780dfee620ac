package im

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/heraldim/herald/internal/protocol"
	"github.com/heraldim/herald/internal/push"
	"github.com/heraldim/herald/internal/route"
)

// The user offline push rule (ZIM's updateUserOfflinePushRule with a
// ZIMUserOfflinePushRule, and the userRuleUpdated event; "Set custom push
// rules", zegocloud.com/docs/zim-web/offline-push-notifications/set-custom-push-rules,
// and pub.dev zego_zim ZIM.updateUserOfflinePushRule):
//
//   - A user without a rule keeps the default: a recipient with any live
//     session gets no push on any device (the session has the message;
//     late.go pushes what it leaves unacknowledged). ZIM's rule starts
//     with both lists empty (pub.dev zego_zim,
//     ZIMUserOfflinePushRule.onlinePlatforms = []), which silences
//     nothing by itself, and its documentation does not say what a user
//     live on several devices gets without a rule; so the default stays
//     Herald's behaviour before rules existed, on which every existing
//     test relies. (ZIM 3.3.0's offlinePushEnabled switches are not
//     implemented.)
//   - A user with a rule has its push decided per device while it has a
//     live session: a device gets the push unless it has a live session
//     itself (by its PushID, from presence: route.SessionInfo.PushID) or
//     the user is live on one of OnlinePlatforms and the device's platform
//     is one of NotToReceiveOfflinePushPlatforms. So {OnlinePlatforms:
//     [win, macOS, linux], NotToReceive: [iPhoneOS, android, iPadOS]}
//     silences phones while a desktop is online, and a phone whose user is
//     online only on another phone still gets its push.
//   - A user with no live session gets its push on every device, rule or
//     not.
//
// The decision reads presence (in memory, across nodes: the bus carries
// every session's platform and PushID) and the rule (cached per user; a
// change on another node drops the entry, Config.PushRuleChanged). Pushes
// decided by the rule are planned after the commit by the late worker
// (late.go) with Store.PlanPushOnceTo, so that the commit path reads no
// more than the cache, and a device never gets a message twice.

// OfflinePushRule is a user's offline push rule: while the user has a live
// session on one of OnlinePlatforms, its devices whose platform is one of
// NotToReceive get no offline push. Platforms are ZIMPlatformType
// numbers (protocol.PushPlatform).
type OfflinePushRule struct {
	OnlinePlatforms []int
	NotToReceive    []int
	UpdatedAt       time.Time
}

// PushRuleStore is what the push rule needs from persistence; part of
// Store.
type PushRuleStore interface {
	// UserPushRule returns the user's rule; ErrNotFound when it has none.
	UserPushRule(ctx context.Context, appID, userID string) (OfflinePushRule, error)
	// SetUserPushRule stores the user's rule, replacing any before.
	SetUserPushRule(ctx context.Context, appID, userID string, r OfflinePushRule) error
	// UserDevices returns the devices bound to the user.
	UserDevices(ctx context.Context, appID, userID string) ([]push.Device, error)
	// PlanPushOnceTo is PlanPushOnce restricted to those of pushIDs that
	// are enabled devices bound to userID.
	PlanPushOnceTo(ctx context.Context, appID, userID string, pushIDs []string, plans []PushPlan, now time.Time) (int, error)
}

// maxPushRules bounds the cache of rules (emptied past it).
const maxPushRules = 1 << 20

// pushRules caches each user's rule (nil: the default), read from the
// store once per user and process; gen counts the drops (ForgetPushRule)
// so that a load that read the store before one is not cached. The zero
// value is ready.
type pushRules struct {
	mu    sync.Mutex
	gen   uint64
	rules map[cursorKey]*OfflinePushRule
}

// cached returns the user's rule as cached; known is false when it was not
// read yet.
func (c *pushRules) cached(appID, userID string) (r *OfflinePushRule, known bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, known = c.rules[cursorKey{app: appID, user: userID}]
	return r, known
}

func (c *pushRules) forget(appID, userID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	delete(c.rules, cursorKey{app: appID, user: userID})
}

// forgetApp drops the cached rules of an app (deleted).
func (c *pushRules) forgetApp(appID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for k := range c.rules {
		if k.app == appID {
			delete(c.rules, k)
		}
	}
}

// forgetAll drops every cached rule (ForgetAll).
func (c *pushRules) forgetAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	clear(c.rules)
}

// pushRule returns the user's rule (nil: the default), from the cache or
// the store.
func (s *Service) pushRule(ctx context.Context, appID, userID string) (*OfflinePushRule, error) {
	c := &s.rules
	c.mu.Lock()
	r, ok := c.rules[cursorKey{app: appID, user: userID}]
	gen := c.gen
	c.mu.Unlock()
	if ok {
		return r, nil
	}
	got, err := s.store.UserPushRule(ctx, appID, userID)
	switch {
	case errors.Is(err, ErrNotFound):
		r = nil
	case err != nil:
		return nil, fmt.Errorf("im: push rule: %w", err)
	default:
		r = &got
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen == gen {
		if c.rules == nil || len(c.rules) >= maxPushRules {
			c.rules = map[cursorKey]*OfflinePushRule{}
		}
		c.rules[cursorKey{app: appID, user: userID}] = r
	}
	return r, nil
}

// ForgetPushRule drops the cached rule of a user, after another node
// changed it in the store (Config.PushRuleChanged there).
func (s *Service) ForgetPushRule(appID, userID string) { s.rules.forget(appID, userID) }

// UpdateUserOfflinePushRule validates and stores the user's rule, then
// sends userRuleUpdated to every live session of the user (on every node,
// when the router carries events). Bad input changes nothing
// (protocol.ValidatePushRule).
func (s *Service) UpdateUserOfflinePushRule(ctx context.Context, appID, userID string, req protocol.OfflinePushRule) (protocol.OfflinePushRule, error) {
	online, notTo, perr := protocol.ValidatePushRule(req)
	if perr != nil {
		return protocol.OfflinePushRule{}, perr
	}
	r := OfflinePushRule{OnlinePlatforms: online, NotToReceive: notTo, UpdatedAt: s.cfg.Now()}
	if err := s.store.SetUserPushRule(ctx, appID, userID, r); err != nil {
		return protocol.OfflinePushRule{}, fmt.Errorf("im: update push rule: %w", err)
	}
	s.rules.forget(appID, userID)
	if s.cfg.PushRuleChanged != nil {
		s.cfg.PushRuleChanged(appID, userID)
	}
	wire := r.Wire()
	if ev, ok := s.router.(route.Events); ok {
		ev.SendEvent(appID, userID, protocol.EventUserRuleUpdated, protocol.UserRuleUpdated{UserRule: protocol.UserRule{OfflinePushRule: wire}})
	}
	return wire, nil
}

// UserOfflinePushRule returns the user's rule as the wire shows it (the
// default: both lists empty).
func (s *Service) UserOfflinePushRule(ctx context.Context, appID, userID string) (protocol.OfflinePushRule, error) {
	r, err := s.pushRule(ctx, appID, userID)
	if err != nil {
		return protocol.OfflinePushRule{}, err
	}
	if r == nil {
		return OfflinePushRule{}.Wire(), nil
	}
	return r.Wire(), nil
}

// Wire is the rule on the wire: both lists present.
func (r OfflinePushRule) Wire() protocol.OfflinePushRule {
	out := protocol.OfflinePushRule{OnlinePlatforms: []int{}, NotToReceiveOfflinePushPlatforms: []int{}}
	out.OnlinePlatforms = append(out.OnlinePlatforms, r.OnlinePlatforms...)
	out.NotToReceiveOfflinePushPlatforms = append(out.NotToReceiveOfflinePushPlatforms, r.NotToReceive...)
	return out
}

// liveSessions returns the user's live sessions when the router tells
// them (route.Presence), else nil and whether the user is online.
func (s *Service) liveSessions(appID, userID string) ([]route.SessionInfo, bool) {
	if p, ok := s.router.(route.Presence); ok {
		ss := p.UserSessions(appID, userID)
		return ss, len(ss) > 0
	}
	return nil, s.router.Online(appID, userID)
}

// pushTargets decides which of the user's devices get a push now: every
// enabled device bound to it (all: the user has no live session), those of
// ids (the user is live and has a rule), or none (live, default rule).
func (s *Service) pushTargets(ctx context.Context, appID, userID string) (all bool, ids []string, err error) {
	sessions, online := s.liveSessions(appID, userID)
	if !online {
		return true, nil, nil
	}
	if len(sessions) == 0 {
		return false, nil, nil // live, but the router does not say where
	}
	r, err := s.pushRule(ctx, appID, userID)
	if err != nil || r == nil {
		return false, nil, err
	}
	live := map[string]bool{}
	silence := false
	for _, ss := range sessions {
		if ss.PushID != "" {
			live[ss.PushID] = true
		}
		if p, ok := protocol.PushPlatform(ss.Platform); ok && slices.Contains(r.OnlinePlatforms, p) {
			silence = true
		}
	}
	devices, err := s.store.UserDevices(ctx, appID, userID)
	if err != nil {
		return false, nil, fmt.Errorf("im: push targets: %w", err)
	}
	for _, d := range devices {
		if !d.Enabled || live[d.PushID] {
			continue
		}
		if p, ok := protocol.PushPlatform(d.Platform); ok && silence && slices.Contains(r.NotToReceive, p) {
			continue
		}
		ids = append(ids, d.PushID)
	}
	return false, ids, nil
}

// mayHaveRule reports, from the cache alone, whether a live recipient's
// push must be decided by its rule after the commit: it has one, or it
// was not read yet. It never blocks on the store.
func (s *Service) mayHaveRule(appID, userID string) bool {
	r, known := s.rules.cached(appID, userID)
	return !known || r != nil
}

// planRuled plans the pushes of plans for a user as pushTargets decides.
func (s *Service) planRuled(ctx context.Context, appID, userID string, plans []PushPlan, now time.Time) error {
	if len(plans) == 0 {
		return nil
	}
	all, ids, err := s.pushTargets(ctx, appID, userID)
	switch {
	case err != nil:
		return err
	case all:
		return s.planLate(ctx, appID, userID, plans, now)
	case len(ids) == 0:
		return nil
	}
	return s.planLateTo(ctx, appID, userID, ids, plans, now)
}

// planLateTo is planLate to some of the user's devices.
func (s *Service) planLateTo(ctx context.Context, appID, userID string, ids []string, plans []PushPlan, now time.Time) error {
	if len(plans) == 0 || len(ids) == 0 {
		return nil
	}
	n, err := s.store.PlanPushOnceTo(ctx, appID, userID, ids, plans, now)
	if err != nil {
		return fmt.Errorf("im: plan pushes to devices: %w", err)
	}
	s.metrics.latePushes.Add(float64(n))
	if n > 0 && s.cfg.PushPlanned != nil {
		s.cfg.PushPlanned()
	}
	return nil
}
