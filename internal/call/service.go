// Package call is the call invitation service: invitations with a deadline,
// the invitees' answers, cancels and timeouts, and for advanced-mode calls
// inviting more users, joining, quitting and ending.
//
// The requests (Invite, CallingInvite, Accept, Reject, Cancel, Join, Quit,
// End, Info) take and return the package's own types; the gateway decodes
// and validates the wire frames and converts the replies (see
// internal/gateway/calls.go). The events sent through the Hub and LoggedIn
// (Event) and the refusals (*Error with a Code) are the package's too; the
// gateway converts them to the wire.
//
// Every call is kept in memory while it is open and in the store for good.
// Each state change is written to the store (with the pushes it plans and
// the ring pushes it stops, in one transaction) before its events go out.
// Deadlines are durable: open calls are loaded at start (Load) and one
// timer goroutine (Run) times out the invitations due, at once for those
// whose deadline passed while the server was down.
//
// Semantics:
//
//   - The inviter is in the call from the start: its state is accepted.
//   - An invitee online at the invitation (or at a later login before its
//     deadline) gets callInvitationReceived and its state becomes
//     received; an offline one stays inviting and, when the inviter gave a
//     push config, its bound devices get a ring push expiring at the
//     deadline. A received invitee whose last session ends without a
//     logout becomes inviting again and is rung then (late.go).
//   - A general-mode call closes when no invitee is left ringing (all
//     answered, were cancelled or timed out); an advanced-mode call closes
//     when it ends (callEnd, or the last participant quit).
//   - Events go to every live session of every user involved: the users
//     still ringing or in the call, and those whose state just changed.
package call

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/heraldim/herald/internal/progress"
	"github.com/heraldim/herald/internal/protocol"
	"github.com/heraldim/herald/internal/push"
)

// Hub is what the service needs from the session registry: presence and
// its events, with no session crossing it (the gateway's Hub on one node,
// or gateway.CallHub over a wire router: they convert the events to the
// wire).
type Hub interface {
	// Online reports whether the user has a live session.
	Online(appID, userID string) bool
	// CallEvent writes ev to every live session of the user; it never
	// blocks.
	CallEvent(appID, userID string, ev Event)
}

// Config tunes the service. Zero values take the defaults.
type Config struct {
	// PushPlanned is called after a change planned push jobs (the
	// dispatcher's Wake); nil: nobody is told.
	PushPlanned func()
	// CancelPushTTL is how long a cancel push stays worth sending.
	// Default 24 h, as a message's push: it tells of a missed call.
	CancelPushTTL time.Duration
	// WithdrawContent is the content of the push that withdraws a ring
	// already with the vendor when the invitation stops ringing without a
	// cancel push config (the title stays the ring's), by the invitee's
	// new state (protocol.Call*). Missing states take
	// defaultWithdrawContent's.
	WithdrawContent map[int]string
	// Clock is the clock of the deadlines and of the timer that times
	// them out; nil is the real clock.
	Clock clockwork.Clock
	// Ended, if set, is told of every call that closed (webhook events),
	// with the reason of the change that closed it and every user's
	// final state. It must not block.
	Ended func(appID, callID, reason string, users []User)
}

// defaultWithdrawContent returns the content of a withdraw push by the
// invitee's new state: what the phone's tray shows in place of the ring.
// A function, not a package map, so that no caller can change another's
// defaults.
func defaultWithdrawContent() map[int]string {
	return map[int]string{
		protocol.CallAccepted:  "Answered on another device",
		protocol.CallRejected:  "Declined",
		protocol.CallCancelled: "Call cancelled",
		protocol.CallTimeout:   "Missed call",
		protocol.CallEnded:     "Call ended",
	}
}

// Operations is what a session's node asks of the call service: the
// requests of the protocol's call frames, a login's ringing invitations
// and a session's end. The gateway takes it; in a cluster the bus's
// forwarder implements it on every node and the leader's Service answers.
type Operations interface {
	Invite(ctx context.Context, appID, inviter string, r Invitation) (Invited, error)
	CallingInvite(ctx context.Context, appID, userID string, r MoreInvitees) (Invited, error)
	Accept(ctx context.Context, appID, userID string, r Action) (Outcome, error)
	Reject(ctx context.Context, appID, userID string, r Action) (Outcome, error)
	Cancel(ctx context.Context, appID, userID string, r Cancellation) (Outcome, error)
	Join(ctx context.Context, appID, userID string, r Action) (Record, error)
	Quit(ctx context.Context, appID, userID string, r Action) (Outcome, error)
	End(ctx context.Context, appID, userID string, r Action) (Outcome, error)
	Info(ctx context.Context, appID, userID, callID string) (Record, error)
	// LoggedIn delivers the invitations still ringing for the user to one
	// session that just logged in, through deliver, and marks them
	// received.
	LoggedIn(ctx context.Context, appID, userID string, deliver func(Event))
	// SessionEnded reports a logged-in session of the user that ended
	// without a logout, for the rings it may owe; it must not block.
	SessionEnded(appID, userID string)
}

var _ Operations = (*Service)(nil)

// Service implements the gateway's Calls and the push dispatcher's
// CallGate. Create it with New, Load the open calls, then Run it.
type Service struct {
	store   Store
	hub     Hub
	cfg     Config
	log     *slog.Logger
	metrics *metrics

	// mu serialises state changes: a change is decided, stored and its
	// events sent under it, so that events of one call go out in order and
	// a login sees either the invitation or its ring event.
	mu    sync.Mutex
	calls map[callKey]*state
	// ringing indexes open calls by the users they ring, for logins.
	ringingBy map[userKey]map[string]bool
	timers    deadlines
	wake      chan struct{}

	// gate is the dispatcher's view, under its own lock so that a push
	// worker never waits for a store write: invitee -> deadline while
	// ringing. Entries are added before the transaction that plans ring
	// pushes commits, and removed before the one that stops them.
	gateMu sync.RWMutex
	gate   map[ringKey]time.Time
	// claimed holds, per invitee still ringing, the ring attempts that
	// passed the gate (ClaimRing): job ID -> attempt number. When the
	// invitee stops ringing they are taken, under gateMu with the gate
	// entry, and withdrawn in the same transaction.
	claimed map[ringKey]map[int64]int
	// gateUsers counts, per user, its gate entries: SessionEnded queues
	// only the ends of users something rings.
	gateUsers map[userKey]int

	// ends queues the users whose session ended without a logout, for Run
	// to check (see late.go); checked counts the checks of session ends
	// run (SessionEndsChecked).
	ends    chan endCheck
	checked progress.Counter
}

var (
	_ push.CallGate    = (*Service)(nil)
	_ push.RingClaimer = (*Service)(nil)
)

type callKey struct{ app, call string }
type userKey struct{ app, user string }
type ringKey struct{ app, call, user string }

// state is an open call in memory.
type state struct {
	Record
	timerAt time.Time // the deadline a timer entry waits for; zero: none
}

func (c *state) user(id string) *User {
	for i := range c.Users {
		if c.Users[i].UserID == id {
			return &c.Users[i]
		}
	}
	return nil
}

// New returns a service; it starts nothing and loads nothing. Its metrics
// go to reg (nil: none).
func New(st Store, hub Hub, cfg Config, log *slog.Logger, reg prometheus.Registerer) (*Service, error) {
	if st == nil || hub == nil || log == nil {
		return nil, errors.New("call: store, hub and logger are required")
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	if cfg.CancelPushTTL <= 0 {
		cfg.CancelPushTTL = 24 * time.Hour
	}
	if cfg.Clock == nil {
		cfg.Clock = clockwork.NewRealClock()
	}
	if cfg.PushPlanned == nil {
		cfg.PushPlanned = func() {}
	}
	wc := defaultWithdrawContent()
	for k, v := range cfg.WithdrawContent {
		wc[k] = v
	}
	cfg.WithdrawContent = wc
	return &Service{store: st, hub: hub, cfg: cfg, log: log, metrics: m,
		calls: map[callKey]*state{}, ringingBy: map[userKey]map[string]bool{},
		wake: make(chan struct{}, 1), gate: map[ringKey]time.Time{}, claimed: map[ringKey]map[int64]int{},
		gateUsers: map[userKey]int{}, ends: make(chan endCheck, endQueue)}, nil
}

// Load reads the open calls from the store and schedules their deadlines.
// Call it once before Run and before the push dispatcher runs: until then
// the gate holds every ring push back.
func (s *Service) Load(ctx context.Context) error {
	recs, err := s.store.OpenCalls(ctx)
	if err != nil {
		return fmt.Errorf("call: load: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range recs {
		c := &state{Record: r}
		s.calls[callKey{r.AppID, r.CallID}] = c
		for _, u := range c.Users {
			if ringingState(u.State) {
				s.index(c, u)
			}
		}
		s.scheduleNext(c)
	}
	s.metrics.open.Set(float64(len(s.calls)))
	s.log.Info("calls loaded", "open", len(recs))
	return nil
}

// Reset drops every open call from memory, with its deadlines and its
// gate entries (until the next Load the gate holds every ring back). In a
// cluster the calls run on the leader only: a node that stops leading
// resets, and one that starts leading resets and loads, so that it holds
// the store's state and not a stale copy of an earlier term. Call it
// while Run is not running.
func (s *Service) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = map[callKey]*state{}
	s.ringingBy = map[userKey]map[string]bool{}
	s.timers = deadlines{}
	s.gateMu.Lock()
	s.gate = map[ringKey]time.Time{}
	s.claimed = map[ringKey]map[int64]int{}
	s.gateUsers = map[userKey]int{}
	s.gateMu.Unlock()
	s.metrics.open.Set(0)
}

// Run times out invitations at their deadlines and checks the ended
// sessions (SessionEnded) until ctx ends; the checks queued then still run
// before it returns (the store must be open until then).
func (s *Service) Run(ctx context.Context) error {
	t := s.cfg.Clock.NewTimer(time.Hour)
	defer t.Stop()
	for {
		s.mu.Lock()
		wait := time.Hour
		if next, ok := s.timers.peek(); ok {
			wait = max(next.at.Sub(s.cfg.Clock.Now()), 0)
		}
		s.mu.Unlock()
		t.Reset(wait)
		select {
		case <-ctx.Done():
			s.drainEnds(context.WithoutCancel(ctx))
			return nil
		case e := <-s.ends:
			// Not cut short by the stop: the check owes its ring before
			// the store closes, as drainEnds does.
			s.checkEnd(context.WithoutCancel(ctx), e)
		case <-s.wake:
		case <-t.Chan():
		}
		s.fireDue(ctx)
	}
}

// fireDue times out what is due.
func (s *Service) fireDue(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.cfg.Clock.Now()
	for {
		next, ok := s.timers.peek()
		if !ok || next.at.After(now) {
			return
		}
		s.timers.pop()
		c := s.calls[next.key]
		if c == nil || !c.timerAt.Equal(next.at) {
			continue // stale: the call closed or was rescheduled
		}
		c.timerAt = time.Time{}
		s.timeout(ctx, c, now)
	}
}

func (s *Service) wakeTimer() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// schedule makes sure a timer entry fires for c at or before at.
func (s *Service) schedule(c *state, at time.Time) {
	if !c.timerAt.IsZero() && !at.Before(c.timerAt) {
		return
	}
	c.timerAt = at
	s.timers.push(deadline{at: at, key: callKey{c.AppID, c.CallID}})
	s.wakeTimer()
}

// scheduleNext schedules c's earliest ringing deadline.
func (s *Service) scheduleNext(c *state) {
	var first time.Time
	for _, u := range c.Users {
		if ringingState(u.State) && (first.IsZero() || u.Deadline.Before(first)) {
			first = u.Deadline
		}
	}
	if !first.IsZero() {
		s.schedule(c, first)
	}
}

// Ringing implements push.CallGate.
func (s *Service) Ringing(appID, callID, userID string) bool {
	s.gateMu.RLock()
	d, ok := s.gate[ringKey{appID, callID, userID}]
	s.gateMu.RUnlock()
	return ok && s.cfg.Clock.Now().Before(d)
}

// ClaimRing implements push.RingClaimer: Ringing, and when true the
// record that attempt j.Attempts+1 of ring job j goes to the vendor, in
// one step under the gate's lock, so that an invitation that stops
// ringing either saw the claim (and withdraws the ring) or made the claim
// fail.
func (s *Service) ClaimRing(j push.Job) bool {
	k := ringKey{j.AppID, j.CallID, j.UserID}
	s.gateMu.Lock()
	defer s.gateMu.Unlock()
	d, ok := s.gate[k]
	if !ok || !s.cfg.Clock.Now().Before(d) {
		return false
	}
	m := s.claimed[k]
	if m == nil {
		m = map[int64]int{}
		s.claimed[k] = m
	}
	m[j.ID] = j.Attempts + 1
	return true
}

// gateSet sets users' gate entries from their states. It returns the ring
// attempts claimed for those who stopped ringing (see claimed).
func (s *Service) gateSet(app, call string, users []User) map[string][]RingClaim {
	s.gateMu.Lock()
	defer s.gateMu.Unlock()
	var taken map[string][]RingClaim
	for _, u := range users {
		k := ringKey{app, call, u.UserID}
		uk := userKey{app, u.UserID}
		_, had := s.gate[k]
		if ringingState(u.State) {
			if !had {
				s.gateUsers[uk]++
			}
			s.gate[k] = u.Deadline
			continue
		}
		if had {
			if s.gateUsers[uk]--; s.gateUsers[uk] <= 0 {
				delete(s.gateUsers, uk)
			}
		}
		delete(s.gate, k)
		if m := s.claimed[k]; len(m) > 0 {
			if taken == nil {
				taken = map[string][]RingClaim{}
			}
			for id, a := range m {
				taken[u.UserID] = append(taken[u.UserID], RingClaim{JobID: id, Attempt: a})
			}
			slices.SortFunc(taken[u.UserID], func(a, b RingClaim) int { return int(a.JobID - b.JobID) })
		}
		delete(s.claimed, k)
	}
	return taken
}

// restoreClaims gives back claims taken by a gateSet whose change was not
// stored.
func (s *Service) restoreClaims(app, call string, taken map[string][]RingClaim) {
	if len(taken) == 0 {
		return
	}
	s.gateMu.Lock()
	defer s.gateMu.Unlock()
	for user, cs := range taken {
		k := ringKey{app, call, user}
		m := s.claimed[k]
		if m == nil {
			m = map[int64]int{}
			s.claimed[k] = m
		}
		for _, c := range cs {
			m[c.JobID] = c.Attempt
		}
	}
}

// index records that c rings u.
func (s *Service) index(c *state, u User) {
	k := userKey{c.AppID, u.UserID}
	m := s.ringingBy[k]
	if m == nil {
		m = map[string]bool{}
		s.ringingBy[k] = m
	}
	m[c.CallID] = true
	s.gateSet(c.AppID, c.CallID, []User{u})
}

func (s *Service) unindex(app, call, user string) {
	k := userKey{app, user}
	if m := s.ringingBy[k]; m != nil {
		delete(m, call)
		if len(m) == 0 {
			delete(s.ringingBy, k)
		}
	}
}

func ringingState(st int) bool {
	return st == protocol.CallInviting || st == protocol.CallReceived
}

// The requests below are validated by the caller (the gateway runs
// protocol.ValidateCall* on the wire frame, which also fills in the default
// timeout). Their refusals are *Error, with a Code the gateway maps to the
// wire (WireCallError); other errors are internal. The events the service
// sends are Event values.

// Invitation invites users to a new call.
type Invitation struct {
	Invitees     []string
	Mode         int
	Timeout      int // seconds
	ExtendedData string
	PushConfig   *push.Content // nil: no ring push
}

// MoreInvitees invites more users into an advanced-mode call.
type MoreInvitees struct {
	CallID     string
	Invitees   []string
	Timeout    int // seconds
	PushConfig *push.Content
}

// Action answers or acts on a call: accept, reject, join, quit, end.
type Action struct {
	CallID       string
	ExtendedData string
}

// Cancellation cancels the inviter's invitations still unanswered: all, or
// those named in Invitees.
type Cancellation struct {
	CallID       string
	Invitees     []string
	ExtendedData string
	PushConfig   *push.Content // nil: no cancel push
}

// ErrorUser names an invitee a request did not apply to, and why.
type ErrorUser struct {
	UserID string
	Code   Code
	Reason string // "": the code's own message
}

// Invited answers Invite and CallingInvite: the call, the invitation's
// timeout and deadline, and the invitees not invited.
type Invited struct {
	CallID        string
	Timeout       int
	Deadline      time.Time
	ErrorInvitees []ErrorUser
}

// Outcome answers the requests that only confirm; ErrorInvitees lists the
// named invitees a cancel did not apply to.
type Outcome struct {
	CallID        string
	ErrorInvitees []ErrorUser
}

// Invite invites users to a new call by inviter.
func (s *Service) Invite(ctx context.Context, appID, inviter string, r Invitation) (Invited, error) {
	return s.invite(ctx, appID, inviter, r)
}

// CallingInvite invites more users into an advanced-mode call.
func (s *Service) CallingInvite(ctx context.Context, appID, userID string, r MoreInvitees) (Invited, error) {
	return s.callingInvite(ctx, appID, userID, r)
}

// Accept accepts the user's invitation.
func (s *Service) Accept(ctx context.Context, appID, userID string, r Action) (Outcome, error) {
	return s.answer(ctx, appID, userID, r, protocol.CallAccepted)
}

// Reject rejects the user's invitation.
func (s *Service) Reject(ctx context.Context, appID, userID string, r Action) (Outcome, error) {
	return s.answer(ctx, appID, userID, r, protocol.CallRejected)
}

// Cancel cancels the inviter's invitations still unanswered.
func (s *Service) Cancel(ctx context.Context, appID, userID string, r Cancellation) (Outcome, error) {
	return s.cancel(ctx, appID, userID, r)
}

// Join joins an advanced-mode call; it returns the call.
func (s *Service) Join(ctx context.Context, appID, userID string, r Action) (Record, error) {
	return s.join(ctx, appID, userID, r)
}

// Quit leaves an advanced-mode call; the last participant's quit ends it.
func (s *Service) Quit(ctx context.Context, appID, userID string, r Action) (Outcome, error) {
	return s.quit(ctx, appID, userID, r)
}

// End ends an advanced-mode call.
func (s *Service) End(ctx context.Context, appID, userID string, r Action) (Outcome, error) {
	return s.end(ctx, appID, userID, r)
}

// Info returns a call the user is in or was invited to.
func (s *Service) Info(ctx context.Context, appID, userID, callID string) (Record, error) {
	return s.info(ctx, appID, userID, callID)
}

// newCallID returns a fresh call ID: 20 random base32 characters.
func newCallID() (string, error) {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("call: id: %w", err)
	}
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:])), nil
}

// dedupe keeps the first occurrence of each user.
func dedupe(users []string) []string {
	out := make([]string, 0, len(users))
	for _, u := range users {
		if !slices.Contains(out, u) {
			out = append(out, u)
		}
	}
	return out
}

// known splits invitees into the users of the app and errors for the
// others.
func (s *Service) known(ctx context.Context, appID string, invitees []string) ([]string, []ErrorUser, error) {
	unknown, err := s.store.UnknownUsers(ctx, appID, invitees)
	if err != nil {
		return nil, nil, fmt.Errorf("call: users: %w", err)
	}
	var ok []string
	var errs []ErrorUser
	for _, u := range invitees {
		if slices.Contains(unknown, u) {
			errs = append(errs, ErrorUser{UserID: u, Code: CodeUserNotFound, Reason: "no such user"})
			continue
		}
		ok = append(ok, u)
	}
	return ok, errs, nil
}

// ringPushes plans ring pushes to the offline users among invitees (state
// inviting) whose invitation has a push config, expiring at their
// deadlines. It is the one rule for rings: at the invitation and when an
// invitee's last session ends (ringLate).
func ringPushes(invitees []User) []Push {
	var out []Push
	for _, u := range invitees {
		if u.State == protocol.CallInviting && u.PushConfig != nil {
			out = append(out, Push{UserID: u.UserID, Kind: push.JobCallInvite, Config: *u.PushConfig, ExpiresAt: u.Deadline})
		}
	}
	return out
}

func (s *Service) invite(ctx context.Context, appID, inviter string, r Invitation) (Invited, error) {
	invitees, errs, err := s.known(ctx, appID, dedupe(r.Invitees))
	if err != nil {
		return Invited{}, err
	}
	if len(invitees) == 0 {
		return Invited{}, refused(CodeUserNotFound, "no invitee is a user of the app")
	}
	id, err := newCallID()
	if err != nil {
		return Invited{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.cfg.Clock.Now()
	deadline := now.Add(time.Duration(r.Timeout) * time.Second)
	rec := Record{AppID: appID, CallID: id, Inviter: inviter, Mode: r.Mode, ExtendedData: r.ExtendedData,
		CreatedAt: now, Deadline: deadline,
		Users: []User{{UserID: inviter, State: protocol.CallAccepted, UpdatedAt: now}}}
	cfg := r.PushConfig
	var rung []User
	for _, u := range invitees {
		st := protocol.CallInviting
		if s.hub.Online(appID, u) {
			st = protocol.CallReceived
		}
		nu := User{UserID: u, State: st, InvitedBy: inviter, Deadline: deadline, UpdatedAt: now, PushConfig: cfg}
		rec.Users = append(rec.Users, nu)
		rung = append(rung, nu)
	}
	pushes := ringPushes(rung)
	// The gate must know the invitation before its ring pushes exist.
	s.gateSet(appID, id, rung)
	if err := s.store.SaveCall(ctx, Change{AppID: appID, CallID: id, New: &rec, Pushes: pushes, Now: now}); err != nil {
		s.gateSet(appID, id, ended(rung))
		return Invited{}, fmt.Errorf("call: invite: %w", err)
	}
	c := &state{Record: rec}
	s.calls[callKey{appID, id}] = c
	s.metrics.calls.Inc()
	s.metrics.open.Inc()
	s.metrics.entered(rec.Users)
	for _, u := range rung {
		s.index(c, u)
	}
	s.schedule(c, deadline)
	if len(pushes) > 0 {
		s.cfg.PushPlanned()
	}
	for _, u := range rung {
		if u.State == protocol.CallReceived {
			s.hub.CallEvent(appID, u.UserID, s.received(c, u, now))
		}
	}
	s.recheckRung(appID, rung)
	s.hub.CallEvent(appID, inviter, UserStateChanged{CallID: id, Users: slices.Clone(c.Users)})
	return Invited{CallID: id, Timeout: r.Timeout, Deadline: deadline, ErrorInvitees: errs}, nil
}

// ended returns users as no longer ringing (to undo gate entries).
func ended(users []User) []User {
	out := slices.Clone(users)
	for i := range out {
		out[i].State = protocol.CallEnded
	}
	return out
}

// received is the ring event of invitee u at now.
func (s *Service) received(c *state, u User, now time.Time) InvitationReceived {
	left := u.Deadline.Sub(now)
	secs := int((left + time.Second - 1) / time.Second)
	inviter := u.InvitedBy
	if inviter == "" {
		inviter = c.Inviter
	}
	return InvitationReceived{CallID: c.CallID, Inviter: inviter, Mode: c.Mode, Timeout: max(secs, 0),
		Deadline: u.Deadline, ExtendedData: c.ExtendedData, CreatedAt: c.CreatedAt, Users: slices.Clone(c.Users)}
}

// lookup returns an open call, or a closed one read from the store
// (closed is then true). Callers hold s.mu.
func (s *Service) lookup(ctx context.Context, appID, callID string) (c *state, closed bool, err error) {
	if c := s.calls[callKey{appID, callID}]; c != nil {
		return c, false, nil
	}
	r, err := s.store.Call(ctx, appID, callID)
	if errors.Is(err, ErrNotFound) {
		return nil, false, refused(CodeCallNotFound, "")
	}
	if err != nil {
		return nil, false, fmt.Errorf("call: %w", err)
	}
	return &state{Record: r}, true, nil
}

// answeredErr is the error for acting on an invitation in state st (not
// ringing).
func answeredErr(st int) *Error {
	switch st {
	case protocol.CallAccepted, protocol.CallRejected, protocol.CallQuit:
		return refused(CodeAnswered, "")
	}
	return refused(CodeEnded, "")
}

// commit stores ch, keeping the gate and the memory in step: the gate loses
// the users that stop ringing before the store write (a ring push read
// before the write must not go out after it) and gets them back if the
// write fails. On success the call's users are updated in memory, a
// general-mode call with nobody left ringing is closed, and the timers
// rescheduled. Callers hold s.mu.
func (s *Service) commit(ctx context.Context, c *state, ch Change) error {
	return s.commitWithdrawing(ctx, c, ch, nil)
}

// commitWithdrawing is commit with the push config of the withdraw pushes
// (see withdraws).
func (s *Service) commitWithdrawing(ctx context.Context, c *state, ch Change, withdrawCfg *push.Content) error {
	ch.AppID, ch.CallID = c.AppID, c.CallID
	if ch.Now.IsZero() {
		ch.Now = s.cfg.Clock.Now()
	}
	// The call after the change.
	next := slices.Clone(c.Users)
	for _, u := range ch.Users {
		if p := indexOf(next, u.UserID); p >= 0 {
			next[p] = u
		} else {
			next = append(next, u)
		}
	}
	if ch.ClosedAt.IsZero() && c.Mode == protocol.CallModeGeneral && !slices.ContainsFunc(next, func(u User) bool { return ringingState(u.State) }) {
		ch.ClosedAt = ch.Now
	}
	var stop, prev []User
	for _, u := range ch.Users {
		if !ringingState(u.State) {
			if p := c.user(u.UserID); p != nil && ringingState(p.State) {
				ch.StopRinging = append(ch.StopRinging, u.UserID)
				stop = append(stop, u)
				prev = append(prev, *p)
			}
		}
	}
	var start []User
	for _, u := range ch.Users {
		if ringingState(u.State) {
			start = append(start, u)
		}
	}
	taken := s.gateSet(c.AppID, c.CallID, stop)
	s.gateSet(c.AppID, c.CallID, start)
	ch.Withdraws = s.withdraws(ch, stop, taken, withdrawCfg)
	if err := s.store.SaveCall(ctx, ch); err != nil {
		s.gateSet(c.AppID, c.CallID, prev)
		s.restoreClaims(c.AppID, c.CallID, taken)
		s.gateSet(c.AppID, c.CallID, ended(start))
		return fmt.Errorf("call: %w", err)
	}
	c.Users = next
	s.metrics.entered(ch.Users)
	for _, u := range stop {
		s.unindex(c.AppID, c.CallID, u.UserID)
	}
	for _, u := range start {
		s.index(c, u)
	}
	if !ch.ClosedAt.IsZero() {
		c.ClosedAt = ch.ClosedAt
		for _, u := range c.Users {
			s.unindex(c.AppID, c.CallID, u.UserID)
		}
		s.gateSet(c.AppID, c.CallID, ended(c.Users))
		delete(s.calls, callKey{c.AppID, c.CallID})
		s.metrics.open.Dec()
		if s.cfg.Ended != nil {
			s.cfg.Ended(c.AppID, c.CallID, ch.DropReason, slices.Clone(c.Users))
		}
	} else {
		s.scheduleNext(c)
	}
	if len(ch.Pushes) > 0 || len(ch.Withdraws) > 0 {
		s.cfg.PushPlanned()
	}
	return nil
}

// withdraws plans the withdrawal of the rings of the users who stop
// ringing in ch: a push with the ring's collapse ID to each device whose
// ring the vendor accepted (the store knows, across restarts) or may have
// (taken: the attempts that passed the gate, in flight). A user who gets
// a cancel push in ch needs none: the cancel goes to every device with
// the same collapse ID. cfg is the cancel's push config (nil: the ring's
// own, its content replaced by Config.WithdrawContent for the new state).
func (s *Service) withdraws(ch Change, stop []User, taken map[string][]RingClaim, cfg *push.Content) []Withdraw {
	var out []Withdraw
	for _, u := range stop {
		claims := taken[u.UserID]
		if slices.ContainsFunc(ch.Pushes, func(p Push) bool {
			return p.UserID == u.UserID && p.Kind == push.JobCallCancel
		}) {
			continue
		}
		w := Withdraw{UserID: u.UserID, Rings: claims, Config: cfg, ExpiresAt: ch.Now.Add(s.cfg.CancelPushTTL)}
		if cfg == nil {
			w.Content = s.cfg.WithdrawContent[u.State]
			if w.Content == "" {
				w.Content = s.cfg.WithdrawContent[protocol.CallEnded]
			}
		}
		out = append(out, w)
	}
	return out
}

func indexOf(us []User, id string) int {
	return slices.IndexFunc(us, func(u User) bool { return u.UserID == id })
}

// involved returns the users events of c go to: those still ringing or in
// the call, and those named in also.
func involved(c *state, also ...User) []string {
	var out []string
	for _, u := range c.Users {
		if ringingState(u.State) || u.State == protocol.CallAccepted {
			out = append(out, u.UserID)
		}
	}
	for _, u := range also {
		if !slices.Contains(out, u.UserID) {
			out = append(out, u.UserID)
		}
	}
	return out
}

// tell sends a callUserStateChanged with changed to everyone involved.
func (s *Service) tell(c *state, changed []User) {
	ev := UserStateChanged{CallID: c.CallID, Users: slices.Clone(changed)}
	for _, u := range involved(c, changed...) {
		s.hub.CallEvent(c.AppID, u, ev)
	}
}

// answer is callAccept and callReject.
func (s *Service) answer(ctx context.Context, appID, userID string, r Action, to int) (Outcome, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, closed, err := s.lookup(ctx, appID, r.CallID)
	if err != nil {
		return Outcome{}, err
	}
	u := c.user(userID)
	if u == nil || userID == c.Inviter {
		return Outcome{}, refused(CodeNotInvitee, "")
	}
	now := s.cfg.Clock.Now()
	switch {
	case !ringingState(u.State):
		return Outcome{}, answeredErr(u.State)
	case closed || !now.Before(u.Deadline):
		// The deadline passed; the timer is about to say so.
		return Outcome{}, refused(CodeEnded, "")
	}
	nu := *u
	nu.State, nu.ExtendedData, nu.UpdatedAt = to, r.ExtendedData, now
	reason := "call accepted"
	if to == protocol.CallRejected {
		reason = "call rejected"
	}
	if err := s.commit(ctx, c, Change{Users: []User{nu}, DropReason: reason, Now: now}); err != nil {
		return Outcome{}, err
	}
	s.tell(c, []User{nu})
	return Outcome{CallID: c.CallID}, nil
}

func (s *Service) cancel(ctx context.Context, appID, userID string, r Cancellation) (Outcome, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, closed, err := s.lookup(ctx, appID, r.CallID)
	if err != nil {
		return Outcome{}, err
	}
	if userID != c.Inviter {
		return Outcome{}, refused(CodePermissionDenied, "only the inviter can cancel")
	}
	now := s.cfg.Clock.Now()
	names := dedupe(r.Invitees)
	if len(names) == 0 {
		for _, u := range c.Users {
			if u.UserID != c.Inviter {
				names = append(names, u.UserID)
			}
		}
	}
	var targets []User
	var errs []ErrorUser
	for _, id := range names {
		u := c.user(id)
		var perr *Error
		switch {
		case u == nil || id == c.Inviter:
			perr = refused(CodeNotInvitee, "not invited to this call")
		case !ringingState(u.State):
			perr = answeredErr(u.State)
		case closed || !now.Before(u.Deadline):
			perr = refused(CodeEnded, "the invitation timed out")
		}
		if perr != nil {
			if len(r.Invitees) > 0 {
				errs = append(errs, ErrorUser{UserID: id, Code: perr.Code, Reason: perr.Message})
			} else if perr.Code == CodeAnswered || len(errs) == 0 {
				// Cancelling all: remember why nothing may be left.
				errs = []ErrorUser{{UserID: id, Code: perr.Code, Reason: perr.Message}}
			}
			continue
		}
		nu := *u
		nu.State, nu.ExtendedData, nu.UpdatedAt = protocol.CallCancelled, r.ExtendedData, now
		targets = append(targets, nu)
	}
	if len(targets) == 0 {
		code := CodeEnded
		if len(errs) > 0 {
			code = errs[0].Code
		}
		return Outcome{}, refused(code, "no invitation left to cancel")
	}
	if len(r.Invitees) == 0 {
		errs = nil
	}
	var pushes []Push
	cfg := r.PushConfig
	if cfg != nil {
		for _, u := range targets {
			if !s.hub.Online(appID, u.UserID) {
				pushes = append(pushes, Push{UserID: u.UserID, Kind: push.JobCallCancel, Config: *cfg, ExpiresAt: now.Add(s.cfg.CancelPushTTL)})
			}
		}
	}
	if err := s.commitWithdrawing(ctx, c, Change{Users: targets, Pushes: pushes, DropReason: "call cancelled", Now: now}, cfg); err != nil {
		return Outcome{}, err
	}
	ev := InvitationCancelled{CallID: c.CallID, Inviter: c.Inviter, Mode: c.Mode, ExtendedData: r.ExtendedData}
	for _, u := range targets {
		s.hub.CallEvent(appID, u.UserID, ev)
	}
	s.tell(c, targets)
	return Outcome{CallID: c.CallID, ErrorInvitees: errs}, nil
}

// timeout times out c's invitations whose deadline is at or before now.
// Callers hold s.mu.
func (s *Service) timeout(ctx context.Context, c *state, now time.Time) {
	var due []User
	for _, u := range c.Users {
		if ringingState(u.State) && !now.Before(u.Deadline) {
			u.State, u.UpdatedAt = protocol.CallTimeout, now
			due = append(due, u)
		}
	}
	if len(due) == 0 {
		s.scheduleNext(c)
		return
	}
	if err := s.commit(ctx, c, Change{Users: due, DropReason: "call invitation timed out", Now: now}); err != nil {
		s.log.Error("timing out a call", "app", c.AppID, "call", c.CallID, "err", err)
		if ctx.Err() == nil {
			s.schedule(c, now.Add(time.Second))
		}
		return
	}
	ev := InvitationTimeout{CallID: c.CallID, Mode: c.Mode}
	for _, u := range due {
		s.hub.CallEvent(c.AppID, u.UserID, ev)
	}
	s.tell(c, due)
}

// LoggedIn implements gateway.Calls: the invitations still ringing for the
// user go to the new session, and those not received yet become received.
func (s *Service) LoggedIn(ctx context.Context, appID, userID string, deliver func(Event)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]string, 0, len(s.ringingBy[userKey{appID, userID}]))
	for id := range s.ringingBy[userKey{appID, userID}] {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	now := s.cfg.Clock.Now()
	for _, id := range ids {
		c := s.calls[callKey{appID, id}]
		if c == nil {
			continue
		}
		u := c.user(userID)
		if u == nil || !ringingState(u.State) || !now.Before(u.Deadline) {
			continue
		}
		if u.State == protocol.CallInviting {
			nu := *u
			nu.State, nu.UpdatedAt = protocol.CallReceived, now
			if err := s.commit(ctx, c, Change{Users: []User{nu}, Now: now}); err != nil {
				// Ring anyway: the invitation is real, only its state is
				// not recorded.
				s.log.Error("marking a call invitation received", "app", appID, "call", id, "err", err)
			} else {
				defer s.tell(c, []User{nu})
			}
			u = c.user(userID)
		}
		deliver(s.received(c, *u, now))
	}
}

// requireAdvanced refuses the advanced-mode requests on a general call.
func requireAdvanced(c *state) *Error {
	if c.Mode != protocol.CallModeAdvanced {
		return refused(CodeInvalidArgument, "only an advanced-mode call allows this")
	}
	return nil
}

func (s *Service) callingInvite(ctx context.Context, appID, userID string, r MoreInvitees) (Invited, error) {
	invitees, errs, err := s.known(ctx, appID, dedupe(r.Invitees))
	if err != nil {
		return Invited{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, closed, err := s.lookup(ctx, appID, r.CallID)
	if err != nil {
		return Invited{}, err
	}
	if perr := requireAdvanced(c); perr != nil {
		return Invited{}, perr
	}
	if u := c.user(userID); u == nil || u.State != protocol.CallAccepted {
		if closed {
			return Invited{}, refused(CodeEnded, "")
		}
		return Invited{}, refused(CodeNotInvitee, "not in the call")
	}
	if closed {
		return Invited{}, refused(CodeEnded, "")
	}
	now := s.cfg.Clock.Now()
	deadline := now.Add(time.Duration(r.Timeout) * time.Second)
	cfg := r.PushConfig
	var rung []User
	for _, id := range invitees {
		if u := c.user(id); u != nil && (ringingState(u.State) || u.State == protocol.CallAccepted) {
			errs = append(errs, ErrorUser{UserID: id, Code: CodeInvalidInvitees, Reason: "already invited to or in the call"})
			continue
		}
		st := protocol.CallInviting
		if s.hub.Online(appID, id) {
			st = protocol.CallReceived
		}
		rung = append(rung, User{UserID: id, State: st, InvitedBy: userID, Deadline: deadline, UpdatedAt: now, PushConfig: cfg})
	}
	if len(rung) == 0 {
		return Invited{}, refused(errs[0].Code, "no invitee can be invited: %s", errs[0].Reason)
	}
	pushes := ringPushes(rung)
	if err := s.commit(ctx, c, Change{Users: rung, Pushes: pushes, Now: now}); err != nil {
		return Invited{}, err
	}
	for _, u := range rung {
		if u.State == protocol.CallReceived {
			s.hub.CallEvent(appID, u.UserID, s.received(c, u, now))
		}
	}
	s.recheckRung(appID, rung)
	s.tell(c, rung)
	return Invited{CallID: c.CallID, Timeout: r.Timeout, Deadline: deadline, ErrorInvitees: errs}, nil
}

func (s *Service) join(ctx context.Context, appID, userID string, r Action) (Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, closed, err := s.lookup(ctx, appID, r.CallID)
	if err != nil {
		return Record{}, err
	}
	if perr := requireAdvanced(c); perr != nil {
		return Record{}, perr
	}
	u := c.user(userID)
	switch {
	case u == nil:
		return Record{}, refused(CodeNotInvitee, "")
	case closed:
		return Record{}, refused(CodeEnded, "")
	case u.State == protocol.CallAccepted:
		return snapshot(c), nil // joining twice is harmless
	}
	now := s.cfg.Clock.Now()
	nu := *u
	nu.State, nu.ExtendedData, nu.UpdatedAt = protocol.CallAccepted, r.ExtendedData, now
	if err := s.commit(ctx, c, Change{Users: []User{nu}, DropReason: "joined the call", Now: now}); err != nil {
		return Record{}, err
	}
	s.tell(c, []User{nu})
	return snapshot(c), nil
}

// participant finds the advanced-mode call callID in which userID takes
// part (accepted). Callers hold s.mu.
func (s *Service) participant(ctx context.Context, appID, userID, callID string) (*state, *User, error) {
	c, closed, err := s.lookup(ctx, appID, callID)
	if err != nil {
		return nil, nil, err
	}
	if perr := requireAdvanced(c); perr != nil {
		return nil, nil, perr
	}
	u := c.user(userID)
	switch {
	case u == nil:
		return nil, nil, refused(CodeNotInvitee, "")
	case closed:
		return nil, nil, refused(CodeEnded, "")
	case u.State != protocol.CallAccepted:
		return nil, nil, refused(CodeNotInvitee, "not in the call")
	}
	return c, u, nil
}

func (s *Service) quit(ctx context.Context, appID, userID string, r Action) (Outcome, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, u, err := s.participant(ctx, appID, userID, r.CallID)
	if err != nil {
		return Outcome{}, err
	}
	now := s.cfg.Clock.Now()
	nu := *u
	nu.State, nu.ExtendedData, nu.UpdatedAt = protocol.CallQuit, r.ExtendedData, now
	for _, o := range c.Users {
		if o.UserID != userID && o.State == protocol.CallAccepted {
			if err := s.commit(ctx, c, Change{Users: []User{nu}, Now: now}); err != nil {
				return Outcome{}, err
			}
			s.tell(c, []User{nu})
			return Outcome{CallID: c.CallID}, nil
		}
	}
	// The last participant left: the call ends.
	return s.endCall(ctx, c, userID, nu, r.ExtendedData, now)
}

func (s *Service) end(ctx context.Context, appID, userID string, r Action) (Outcome, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, u, err := s.participant(ctx, appID, userID, r.CallID)
	if err != nil {
		return Outcome{}, err
	}
	now := s.cfg.Clock.Now()
	nu := *u
	nu.State, nu.ExtendedData, nu.UpdatedAt = protocol.CallEnded, r.ExtendedData, now
	return s.endCall(ctx, c, userID, nu, r.ExtendedData, now)
}

// endCall ends advanced call c by user by (whose new state is self): every
// user still ringing or in the call becomes ended. Callers hold s.mu.
func (s *Service) endCall(ctx context.Context, c *state, by string, self User, ext string, now time.Time) (Outcome, error) {
	users := []User{self}
	for _, u := range c.Users {
		if u.UserID != by && (ringingState(u.State) || u.State == protocol.CallAccepted) {
			u.State, u.UpdatedAt = protocol.CallEnded, now
			users = append(users, u)
		}
	}
	to := involved(c)
	if !slices.Contains(to, by) {
		to = append(to, by)
	}
	if err := s.commit(ctx, c, Change{Users: users, ClosedAt: now, DropReason: "call ended", Now: now}); err != nil {
		return Outcome{}, err
	}
	ev := InvitationEnded{CallID: c.CallID, OperatedBy: by, Mode: c.Mode, ExtendedData: ext, EndedAt: now}
	for _, u := range to {
		s.hub.CallEvent(c.AppID, u, ev)
	}
	return Outcome{CallID: c.CallID}, nil
}

func (s *Service) info(ctx context.Context, appID, userID, callID string) (Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, _, err := s.lookup(ctx, appID, callID)
	if err != nil {
		return Record{}, err
	}
	if c.user(userID) == nil {
		return Record{}, refused(CodeNotInvitee, "")
	}
	return snapshot(c), nil
}

// snapshot is a copy of c's record, for a reply.
func snapshot(c *state) Record {
	r := c.Record
	r.Users = slices.Clone(c.Users)
	return r
}
