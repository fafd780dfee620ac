// Package im is Herald's messaging core: authentication of logins, sending
// with group commit, acknowledgement positions, sync, history, conversation
// lists and read marks. It knows nothing of WebSockets: the gateway calls it
// and implements its Router to reach live sessions.
//
// Sending (Send, SendAs and Import take an Outgoing), history,
// conversation lists, read marks and the group operations take and return
// im's own request and reply types; the gateway and the admin API convert
// from and to the wire types of package protocol (the group replies and
// events with the gateway's converters, gateway/convert.go). An Outgoing
// is still judged by protocol.ValidateSend (Outgoing.Validate), so every
// entry point gives the same codes and messages. The group events are im's
// own (GroupEvent); the client-facing errors still use protocol's types.
package im

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/heraldim/herald/internal/cluster"
	"github.com/heraldim/herald/internal/progress"
	"github.com/heraldim/herald/internal/protocol"
	"github.com/heraldim/herald/internal/route"
	"github.com/heraldim/herald/internal/token"
)

// Router hands messages and events to live sessions. The gateway
// implements it (its Hub on one node, or gateway.IMRouter over a wire
// router).
type Router interface {
	// Route delivers m to every live session of its participants except
	// origin (the sending session, which gets its reply instead;
	// route.NoSession skips none). It is called in commit order and must
	// not block.
	Route(m *Message, origin route.SessionID)
	// Online reports whether a user has a live session. A recipient that is
	// not online when its message is committed gets a push (with a push
	// config); one that comes online just after gets both, which is the
	// side to err on.
	Online(appID, userID string) bool
	// RouteGroup delivers group message m to the live sessions of members
	// that joined before it (Recipient.Floor < m.Seq; every member for a
	// command, whose Seq is 0), except origin. It must not block.
	RouteGroup(m *Message, members []Recipient, origin route.SessionID)
	// GroupEvent writes a group event to every live session of a user
	// (the gateway converts it to the wire). It must not block.
	GroupEvent(appID, userID string, ev GroupEvent)
}

// Config tunes the service.
type Config struct {
	// CommitBatch is the most messages committed in one transaction.
	CommitBatch int
	// NodeID is this node's number in message IDs.
	NodeID int
	// AckFlush is how often acknowledged positions are written. Default
	// (zero) 100 ms: a crash forgets at most this much of acks, which only
	// means a few messages are delivered again (clients deduplicate by seq).
	AckFlush time.Duration
	// PushTTL is how long a message's push stays worth sending. Default
	// (zero) 24 h: a notification older than a day tells the user nothing
	// the app does not show at the next login.
	PushTTL time.Duration
	// TokenLeeway is the clock skew allowed on token expiry and issue time.
	TokenLeeway time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// PushPlanned, if set, is called after a commit that planned push jobs
	// (to wake the push dispatcher). It must not block.
	PushPlanned func()
	// GroupPushLeader runs the planning of group pushes (groupPushLoop)
	// on one node of a cluster: each page of a group message's members is
	// planned by the leader alone. Nil: this node plans (a node alone).
	GroupPushLeader cluster.Leadership
	// GroupPushQueued, if set, is called after a commit that left group
	// pushes to plan (to wake the leader on another node: see
	// WakeGroupPushes). It must not block.
	GroupPushQueued func()
	// MaxGroupMembers is the most members a group may have. Default
	// protocol.DefaultMaxGroupMembers.
	MaxGroupMembers int
	// RouteWorkers is how many goroutines hand group messages to members'
	// sessions (each owns a shard of the groups). Default 2.
	RouteWorkers int
	// GroupChanged, if set, is called after a change of a group was
	// written (its cached snapshot replaced), so that the other nodes of
	// a cluster drop their copy (ForgetGroup). It must not block.
	GroupChanged func(appID, groupID string)
	// RevokeWindow is how long after sending a message its sender may
	// revoke it (revoke.go). Default (zero) DefaultRevokeWindow.
	RevokeWindow time.Duration
	// PushRuleChanged, if set, is called after a user's offline push rule
	// was written, so that the other nodes of a cluster drop their copy
	// (ForgetPushRule). It must not block.
	PushRuleChanged func(appID, userID string)
	// Hooks, if set, moderates client sends before they are stored and
	// records message.sent webhook events with their commit (nil: off).
	Hooks SendHooks
}

// SendHooks are the webhook hooks of the send path (webhook.Service).
type SendHooks interface {
	// BeforeSend may change req in place, or refuse it with a
	// *protocol.Error. It is called for clients' stored messages only.
	BeforeSend(ctx context.Context, appID, from string, req *Outgoing) error
	// WantsAfterSend reports whether the app's messages get a
	// message.sent event, written in their commit transaction. It must
	// not block.
	WantsAfterSend(appID string) bool
	// Committed is called after a commit that wrote such events. It must
	// not block.
	Committed()
}

// Sender identifies who sends: the logged-in user of a session.
type Sender struct {
	AppID  string
	UserID string
	// Server marks a message sent by the app's server (the REST API): it
	// is not moderated by the before-send hook.
	Server bool
}

// SendResult is what a send resulted in, given to its done callback.
type SendResult struct {
	Msg       *Message
	Duplicate bool
}

type pendingSend struct {
	msg    *Message
	origin route.SessionID
	done   func(SendResult, error)
}

// Service is the messaging core. Create it with New, start Run, and call
// Stop when no more sends will come.
type Service struct {
	store   Store
	router  Router
	log     *slog.Logger
	cfg     Config
	ids     *IDGen
	metrics *metrics

	sends   chan *pendingSend
	stopMu  sync.RWMutex
	stopped bool

	ackMu sync.Mutex
	acks  map[cursorKey]int64
	// flushing holds the positions flushAcks is writing, until the write
	// committed: Pending applies them too, so that a login in between
	// does not get acknowledged messages again.
	flushing map[cursorKey]int64
	flushed  uint64 // flushes whose write ended, for Pending
	ackCh    chan struct{}
	// userAcks and userFlushing are acks and flushing by user instead of
	// device (device left empty): how far any device of the user got, for
	// userCursor.
	userAcks     map[cursorKey]int64
	userFlushing map[cursorKey]int64

	appMu sync.RWMutex
	apps  map[string]App
	// appGen counts ForgetApp calls, so that a read that raced one is
	// not cached.
	appGen uint64

	groups     *groupCache
	known      *knownSeqs // committed seqs, to check acks against
	rate       *commitRate
	routes     []chan groupRoute
	fanoutWake chan struct{}

	// late takes the checks of ended sessions (late.go); lateMu guards
	// its closing.
	late       chan lateWork
	lateMu     sync.RWMutex
	lateClosed bool
	// checked counts the ended sessions checked (SessionEndsChecked).
	checked progress.Counter

	// recorded remembers users recorded since start, so that a login
	// writes the users table only the first time (bounded: emptied past
	// maxRecorded).
	recordedMu sync.Mutex
	recorded   map[cursorKey]struct{}

	// revoked caches the users' token revocation cutoffs (users.go).
	revoked revocations
	// rules caches the users' offline push rules (pushrule.go).
	rules pushRules
}

const maxRecorded = 1 << 20

type cursorKey struct{ app, user, device, conv string }

// ErrStopped is returned by Send after Stop.
var ErrStopped = errors.New("im: service stopped")

// New returns a service over store that routes through router. It starts no
// goroutine: call Run.
func New(store Store, router Router, cfg Config, log *slog.Logger, reg Registerer) (*Service, error) {
	if store == nil || router == nil || log == nil {
		return nil, errors.New("im: new: store, router and logger are required")
	}
	if cfg.CommitBatch <= 0 {
		cfg.CommitBatch = 512
	}
	if cfg.PushTTL <= 0 {
		cfg.PushTTL = 24 * time.Hour
	}
	if cfg.AckFlush <= 0 {
		cfg.AckFlush = 100 * time.Millisecond
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.RevokeWindow <= 0 {
		cfg.RevokeWindow = DefaultRevokeWindow
	}
	if cfg.MaxGroupMembers <= 0 {
		cfg.MaxGroupMembers = protocol.DefaultMaxGroupMembers
	}
	if cfg.RouteWorkers <= 0 {
		cfg.RouteWorkers = 2
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	s := &Service{
		store:      store,
		router:     router,
		log:        log,
		cfg:        cfg,
		ids:        NewIDGen(cfg.NodeID, cfg.Now),
		metrics:    m,
		sends:      make(chan *pendingSend, 4*cfg.CommitBatch),
		acks:       map[cursorKey]int64{},
		userAcks:   map[cursorKey]int64{},
		ackCh:      make(chan struct{}, 1),
		apps:       map[string]App{},
		groups:     newGroupCache(),
		known:      newKnownSeqs(knownSeqsGeneration),
		rate:       newCommitRate(),
		fanoutWake: make(chan struct{}, 1),
		recorded:   map[cursorKey]struct{}{},
		late:       make(chan lateWork, lateQueue),
	}
	for range cfg.RouteWorkers {
		s.routes = append(s.routes, make(chan groupRoute, cfg.CommitBatch))
	}
	return s, nil
}

// Run commits sends and flushes acknowledgements until Stop was called and
// everything queued before it is written. ctx bounds store calls; cancelling
// it abandons what is queued (senders get an error and will retry).
func (s *Service) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	ackStop := make(chan struct{})
	wg.Add(2)
	go func() {
		defer wg.Done()
		s.ackLoop(ctx, ackStop)
	}()
	lateDone := make(chan struct{})
	go func() {
		defer close(lateDone)
		s.lateLoop(ctx)
	}()
	go func() {
		defer wg.Done()
		s.runGroupPushes(ctx, ackStop)
	}()
	var routes sync.WaitGroup
	for _, ch := range s.routes {
		routes.Add(1)
		go func() {
			defer routes.Done()
			s.routeGroups(ctx, ch)
		}()
	}
	s.commitLoop(ctx)
	for _, ch := range s.routes {
		close(ch)
	}
	routes.Wait()
	// The checks read acknowledged positions: they run before the last
	// flush of acks, which only moves positions forward.
	s.closeLate()
	<-lateDone
	close(ackStop)
	wg.Wait()
	return nil
}

// Stop refuses further sends; Run returns once what was queued is committed.
// It is idempotent.
func (s *Service) Stop() {
	s.stopMu.Lock()
	defer s.stopMu.Unlock()
	if !s.stopped {
		s.stopped = true
		close(s.sends)
	}
}

// App returns an app, cached after the first read. Changes of an app
// (rotation, disabling, deletion) call ForgetApp, so that the next read
// sees them.
func (s *Service) App(ctx context.Context, id string) (App, error) {
	s.appMu.RLock()
	a, ok := s.apps[id]
	gen := s.appGen
	s.appMu.RUnlock()
	if ok {
		return a, nil
	}
	a, err := s.store.App(ctx, id)
	if err != nil {
		return App{}, err
	}
	s.appMu.Lock()
	// A ForgetApp since the read may have been for a change the read
	// missed: do not cache what may be the state before it.
	if s.appGen == gen {
		s.apps[id] = a
	}
	s.appMu.Unlock()
	return a, nil
}

// ForgetApp drops the cached copy of an app, after its credentials or state
// changed in the store or it was deleted.
func (s *Service) ForgetApp(id string) {
	s.appMu.Lock()
	delete(s.apps, id)
	s.appGen++
	s.appMu.Unlock()
}

// Authenticate checks a login token for appID and userID. Its errors are
// *protocol.Error with the documented codes.
func (s *Service) Authenticate(ctx context.Context, appID, userID, tok string) (token.Claims, error) {
	if !protocol.ValidUserID(userID) {
		return token.Claims{}, protocol.Errorf(protocol.CodeInvalidUserID, "")
	}
	if userID == protocol.SystemUserID {
		return token.Claims{}, protocol.Errorf(protocol.CodeReservedUserID, "nobody logs in as the system user %s", protocol.SystemUserID)
	}
	if appID == "" {
		return token.Claims{}, protocol.Errorf(protocol.CodeAppUnknown, "appID is required")
	}
	tokApp, err := token.AppID(tok)
	if err != nil {
		return token.Claims{}, protocol.Errorf(protocol.CodeTokenInvalid, "")
	}
	if tokApp != appID {
		return token.Claims{}, protocol.Errorf(protocol.CodeAppUnknown, "")
	}
	app, err := s.App(ctx, appID)
	if errors.Is(err, ErrNotFound) {
		return token.Claims{}, protocol.Errorf(protocol.CodeAppUnknown, "")
	}
	if err != nil {
		return token.Claims{}, fmt.Errorf("im: authenticate: %w", err)
	}
	if app.Disabled() {
		return token.Claims{}, protocol.Errorf(protocol.CodeAppDisabled, "")
	}
	// The current secret, then the previous one while its overlap after a
	// rotation lasts.
	var c token.Claims
	for _, secret := range app.Secrets(s.cfg.Now()) {
		// A token signed with another secret is invalid under this one;
		// valid or expired means the signature matched.
		if c, err = token.Verify(tok, secret, s.cfg.Now(), s.cfg.TokenLeeway); err == nil || errors.Is(err, token.ErrExpired) {
			break
		}
	}
	switch {
	case errors.Is(err, token.ErrExpired):
		return token.Claims{}, protocol.Errorf(protocol.CodeTokenExpired, "")
	case err != nil:
		return token.Claims{}, protocol.Errorf(protocol.CodeTokenInvalid, "")
	case c.UserID != userID:
		return token.Claims{}, protocol.Errorf(protocol.CodeTokenInvalid, "token is for another user")
	}
	if err := s.checkRevoked(ctx, appID, userID, c.IssuedAt); err != nil {
		return token.Claims{}, err
	}
	return c, nil
}

// LoggedIn records that a user logged in: from then on it is a user of the
// app that groups and calls may name.
func (s *Service) LoggedIn(ctx context.Context, appID, userID string) error {
	// The live user's push rule is cached from its login on (pushrule.go):
	// its messages' commits on this node then know whether it has one.
	if _, err := s.pushRule(ctx, appID, userID); err != nil {
		return err
	}
	k := cursorKey{app: appID, user: userID}
	s.recordedMu.Lock()
	_, done := s.recorded[k]
	s.recordedMu.Unlock()
	if done {
		return nil
	}
	if err := s.store.RecordUser(ctx, appID, userID); err != nil {
		return fmt.Errorf("im: logged in: %w", err)
	}
	s.recordedMu.Lock()
	if len(s.recorded) >= maxRecorded {
		clear(s.recorded)
	}
	s.recorded[k] = struct{}{}
	s.recordedMu.Unlock()
	return nil
}

// UnknownUsers returns those of users that never logged in to the app.
func (s *Service) UnknownUsers(ctx context.Context, appID string, users []string) ([]string, error) {
	u, err := s.store.UnknownUsers(ctx, appID, users)
	if err != nil {
		return nil, fmt.Errorf("im: unknown users: %w", err)
	}
	return u, nil
}

// Send validates and sends a message from sender. Stored types are queued for
// group commit; done is called once, after the message is committed (or
// found to be a retry) and after it was routed to live sessions: from the
// commit goroutine for peer messages, from the group's route worker for
// group messages. Commands are routed at once and never stored. Validation
// errors (and, for groups, membership errors) are returned directly (done
// is not called), as *protocol.Error. ctx bounds the membership check's
// store reads. origin is the sending session's ID, which routing skips
// (it gets the reply instead). Send blocks only when the commit queue is
// full.
func (s *Service) Send(ctx context.Context, from Sender, req *Outgoing, origin route.SessionID, done func(SendResult, error)) error {
	if err := req.Validate(); err != nil {
		return err
	}
	if h := s.cfg.Hooks; h != nil && !from.Server && req.Type != protocol.MessageCommand {
		// The app's moderation, before anything is stored; the hook
		// validates what it modified.
		if err := h.BeforeSend(ctx, from.AppID, from.UserID, req); err != nil {
			return err
		}
	}
	var convID string
	switch req.ConvType {
	case protocol.ConversationGroup:
		// Members only, and not into a dismissed group. A member removed
		// between this check and the commit still gets its message stored:
		// it was a member when it sent.
		if _, _, err := s.memberOf(ctx, from.AppID, from.UserID, req.ConversationID); err != nil {
			return err
		}
		convID = GroupConvID(req.ConversationID)
	default:
		if req.ConversationID == from.UserID {
			return protocol.Errorf(protocol.CodeInvalidConversation, "cannot send a message to yourself")
		}
		convID = PeerConvID(from.UserID, req.ConversationID)
	}
	return s.submit(ctx, from, req, convID, origin, SendOptions{}, done)
}

// newMessage is the message a validated send request makes in conversation
// convID, from sender (the stored fields; ID, sequence and times are set
// later).
func newMessage(appID, convID, sender string, req *Outgoing) *Message {
	return &Message{
		AppID:           appID,
		ConvID:          convID,
		ConvType:        req.ConvType,
		Sender:          sender,
		Recipient:       req.ConversationID,
		Type:            req.Type,
		SubType:         req.SubType,
		Text:            req.Text,
		Data:            req.Data,
		SearchedContent: req.SearchedContent,
		ExtendedData:    req.ExtendedData,
		Priority:        req.Priority,
		LocalID:         req.LocalID,
		MentionedUsers:  req.MentionedUserIDs,
		MentionAll:      req.MentionAll,
	}
}

// submit builds the message of a validated request into conversation convID
// and queues it for commit (a command: routes it at once). It is Send's and
// SendAs's common part.
func (s *Service) submit(ctx context.Context, from Sender, req *Outgoing, convID string, origin route.SessionID, opts SendOptions, done func(SendResult, error)) error {
	m := newMessage(from.AppID, convID, from.UserID, req)
	m.SkipSender = opts.NoSenderSessions
	if s.cfg.Hooks != nil {
		m.Webhook = s.cfg.Hooks.WantsAfterSend(from.AppID)
	}
	if req.PushConfig != nil {
		c := *req.PushConfig
		m.PushConfig = &c
	}
	m.ContentHash = contentHash(m)
	m.ID, m.CreatedAt = s.ids.Next()

	if m.Type == protocol.MessageCommand {
		if m.ConvType == protocol.ConversationGroup {
			sn, err := s.group(ctx, m.AppID, m.Recipient)
			if err != nil {
				return err
			}
			s.router.RouteGroup(m, routed(sn.recips, m), origin) // Seq 0: every member sees it
		} else {
			s.routePeer(m, origin)
		}
		s.metrics.commands.Inc()
		done(SendResult{Msg: m}, nil)
		return nil
	}

	s.stopMu.RLock()
	defer s.stopMu.RUnlock()
	if s.stopped {
		return protocol.Errorf(protocol.CodeUnavailable, "")
	}
	s.sends <- &pendingSend{msg: m, origin: origin, done: done}
	return nil
}

// contentHash digests what makes a message the same message: where it goes
// and what it says. A retry carries the same; a reused local ID does not.
func contentHash(m *Message) []byte {
	h := sha256.New()
	var n [8]byte
	field := func(b []byte) {
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	field([]byte(m.ConvID))
	field([]byte(strconv.Itoa(m.Type)))
	field([]byte(strconv.Itoa(m.SubType)))
	field([]byte(m.Text))
	field(m.Data)
	field([]byte(m.SearchedContent))
	field([]byte(m.ExtendedData))
	mentionHash(field, m)
	return h.Sum(nil)
}

func (s *Service) commitLoop(ctx context.Context) {
	batch := make([]*pendingSend, 0, s.cfg.CommitBatch)
	msgs := make([]*Message, 0, s.cfg.CommitBatch)
	for {
		first, ok := <-s.sends
		if !ok {
			return
		}
		batch = append(batch[:0], first)
	fill:
		for len(batch) < s.cfg.CommitBatch {
			select {
			case p, ok := <-s.sends:
				if !ok {
					break fill
				}
				batch = append(batch, p)
			default:
				break fill
			}
		}
		msgs = msgs[:0]
		for _, p := range batch {
			s.planPush(p.msg)
			msgs = append(msgs, p.msg)
		}
		s.commit(ctx, batch, msgs)
	}
}

func (s *Service) commit(ctx context.Context, batch []*pendingSend, msgs []*Message) {
	start := time.Now()
	var (
		res []AppendResult
		err error
	)
	// A busy store is retried briefly: the batch is all-or-nothing, so a
	// retry cannot store anything twice.
	for attempt := 0; ; attempt++ {
		res, err = s.store.AppendMessages(ctx, msgs)
		if err == nil || !errors.Is(err, ErrBusy) || attempt == 3 || ctx.Err() != nil {
			break
		}
		time.Sleep(time.Duration(attempt+1) * 20 * time.Millisecond)
	}
	s.metrics.commitSeconds.Observe(time.Since(start).Seconds())
	s.metrics.batchSize.Observe(float64(len(batch)))
	if err != nil {
		s.log.Error("commit failed", "messages", len(batch), "err", err)
		for _, p := range batch {
			p.done(SendResult{}, protocol.Errorf(protocol.CodeInternal, ""))
		}
		return
	}
	planned, hooked, fanout := false, false, false
	now := time.Now()
	for i, p := range batch {
		if !res[i].Duplicate && !res[i].Conflict {
			s.rate.note(p.msg.AppID, 1, now)
		}
		hooked = hooked || (p.msg.Webhook && !res[i].Duplicate && !res[i].Conflict)
		r := res[i]
		if !r.Conflict {
			s.known.note(convRef{p.msg.AppID, p.msg.ConvID}, r.Seq)
		}
		planned = planned || (len(p.msg.PushUsers) > 0 && !r.Duplicate && !r.Conflict)
		if p.msg.GroupPush && !r.Duplicate && !r.Conflict {
			// Woken before the replies, as the planning reads presence:
			// the sooner, the fewer members leave in between.
			s.WakeGroupPushes()
			fanout = true
		}
		switch {
		case r.Conflict:
			p.done(SendResult{}, protocol.Errorf(protocol.CodeLocalIDConflict, ""))
		case r.Duplicate:
			m := *p.msg
			m.ID, m.Seq, m.CreatedAt = r.ID, r.Seq, r.CreatedAt
			s.metrics.duplicates.Inc()
			p.done(SendResult{Msg: &m, Duplicate: true}, nil)
		case p.msg.ConvType == protocol.ConversationGroup:
			p.msg.Seq = r.Seq
			s.metrics.messages.Inc()
			s.routes[s.routeShard(p.msg.Recipient)] <- groupRoute{p: p}
		default:
			p.msg.Seq = r.Seq
			s.metrics.messages.Inc()
			s.routePeer(p.msg, p.origin)
			p.done(SendResult{Msg: p.msg}, nil)
			s.recheckPush(p.msg)
		}
	}
	if planned && s.cfg.PushPlanned != nil {
		s.cfg.PushPlanned()
	}
	if hooked {
		s.cfg.Hooks.Committed()
	}
	if fanout && s.cfg.GroupPushQueued != nil {
		s.cfg.GroupPushQueued()
	}
}

// planPush marks an offline recipient of a message with a push config for
// push jobs, written with the message (promise 4). The sender's own devices
// are never pushed for its own message. A recipient live now whose session
// ends without acknowledging the message gets its push then (late.go).
// A recipient's notification status (dnd.go) is applied by the store's
// planning statement, on this path as on the others.
func (s *Service) planPush(m *Message) {
	m.PushUsers = m.PushUsers[:0]
	if m.PushConfig != nil && m.ConvType == protocol.ConversationGroup {
		// A group's members are too many to look up here: the message
		// records its push, planned after the commit (groupPushLoop).
		m.GroupPush = true
		m.PushExpires = s.pushExpiry(m)
		return
	}
	if m.PushConfig == nil || s.router.Online(m.AppID, m.Recipient) {
		return
	}
	m.PushUsers = append(m.PushUsers, m.Recipient)
	m.PushExpires = s.pushExpiry(m)
}

// Ack records that a device received a conversation's messages up to seq.
// Positions are written in batches every AckFlush. A position beyond the
// conversation's last message fails the whole frame with
// CodeAckBeyondLast and changes nothing: stored, it would hide the
// messages still to come up to it from the device's sync. A position in a
// group the user is not in is ignored (it could only hide messages from a
// later membership, and answering it would tell a non-member how far the
// group got).
func (s *Service) Ack(ctx context.Context, appID, userID, deviceID string, acks []protocol.AckPosition) error {
	if len(acks) > protocol.MaxAcksPerFrame {
		return protocol.Errorf(protocol.CodeInvalidArgument, "at most %d acks per frame", protocol.MaxAcksPerFrame)
	}
	convs := make([]string, len(acks))
	for i, a := range acks {
		switch a.ConversationType {
		case protocol.ConversationPeer:
			if !protocol.ValidUserID(a.ConversationID) || a.ConversationID == userID {
				return protocol.Errorf(protocol.CodeInvalidUserID, "conversationID is not a valid peer")
			}
			convs[i] = PeerConvID(userID, a.ConversationID)
		case protocol.ConversationGroup:
			if !protocol.ValidGroupID(a.ConversationID) {
				return protocol.GroupIDError()
			}
			convs[i] = GroupConvID(a.ConversationID)
		default:
			return protocol.Errorf(protocol.CodeInvalidConversation, "conversationType must be 0 (peer) or 2 (group)")
		}
		if a.Seq < 0 {
			return protocol.Errorf(protocol.CodeInvalidArgument, "seq must not be negative")
		}
	}
	for i, a := range acks {
		if a.Seq == 0 {
			continue // moves nothing
		}
		group := ""
		if a.ConversationType == protocol.ConversationGroup {
			if _, _, err := s.memberOf(ctx, appID, userID, a.ConversationID); err != nil {
				if protocol.AsError(err).Code == protocol.CodeInternal {
					return err
				}
				convs[i] = "" // not a member: ignored
				continue
			}
			group = a.ConversationID
		}
		last, err := s.lastSeqAtLeast(ctx, appID, userID, convs[i], group, a.Seq)
		if err != nil {
			return err
		}
		if a.Seq > last {
			return protocol.Errorf(protocol.CodeAckBeyondLast, "conversation %s: seq %d is beyond its last message", a.ConversationID, a.Seq)
		}
	}
	s.ackMu.Lock()
	for i, a := range acks {
		if convs[i] == "" {
			continue
		}
		k := cursorKey{appID, userID, deviceID, convs[i]}
		if a.Seq > s.acks[k] {
			s.acks[k] = a.Seq
		}
		if k.device = ""; a.Seq > s.userAcks[k] {
			s.userAcks[k] = a.Seq
		}
	}
	n := len(s.acks)
	s.ackMu.Unlock()
	if n >= 4096 {
		select {
		case s.ackCh <- struct{}{}:
		default:
		}
	}
	return nil
}

func (s *Service) ackLoop(ctx context.Context, stop <-chan struct{}) {
	t := time.NewTicker(s.cfg.AckFlush)
	defer t.Stop()
	for {
		select {
		case <-stop:
			s.flushAcks(ctx)
			return
		case <-t.C:
		case <-s.ackCh:
		}
		s.flushAcks(ctx)
	}
}

func (s *Service) flushAcks(ctx context.Context) {
	s.ackMu.Lock()
	if len(s.acks) == 0 {
		s.ackMu.Unlock()
		return
	}
	pending := s.acks
	s.acks = map[cursorKey]int64{}
	s.flushing = pending
	s.userFlushing = s.userAcks
	s.userAcks = map[cursorKey]int64{}
	s.ackMu.Unlock()
	cs := make([]Cursor, 0, len(pending))
	for k, seq := range pending {
		cs = append(cs, Cursor{AppID: k.app, UserID: k.user, DeviceID: k.device, ConvID: k.conv, Seq: seq})
	}
	if err := s.store.SaveCursors(ctx, cs); err != nil {
		s.log.Warn("saving acknowledged positions failed; they will be delivered again", "positions", len(cs), "err", err)
	}
	s.ackMu.Lock()
	s.flushing = nil
	s.userFlushing = nil
	s.flushed++
	s.ackMu.Unlock()
}

// userCursor returns how far any device of the user acknowledged a
// conversation, acks not yet written included. Memory is read before the
// store: a flush that ends in between wrote what memory held.
func (s *Service) userCursor(ctx context.Context, appID, userID, convID string) (int64, error) {
	k := cursorKey{app: appID, user: userID, conv: convID}
	s.ackMu.Lock()
	mem := max(s.userAcks[k], s.userFlushing[k])
	s.ackMu.Unlock()
	stored, err := s.store.UserCursor(ctx, appID, userID, convID)
	if err != nil {
		return 0, fmt.Errorf("im: user cursor: %w", err)
	}
	return max(mem, stored), nil
}

// Pending returns the conversations in which the device has unacknowledged
// messages. Positions acknowledged but not yet flushed are applied.
func (s *Service) Pending(ctx context.Context, appID, userID, deviceID string) ([]Pending, error) {
	for {
		s.ackMu.Lock()
		gen := s.flushed
		s.ackMu.Unlock()
		ps, err := s.store.Pending(ctx, appID, userID, deviceID)
		if err != nil {
			return nil, fmt.Errorf("im: pending: %w", err)
		}
		s.ackMu.Lock()
		if s.flushed != gen {
			// A flush committed while the store was read: the positions
			// it took from memory may be in neither what was read nor
			// memory now. Read again (flushes are AckFlush apart).
			s.ackMu.Unlock()
			continue
		}
		out := ps[:0]
		for _, p := range ps {
			// Acknowledged but not yet written, or being written now.
			k := cursorKey{appID, userID, deviceID, p.ConvID}
			p.Cursor = max(p.Cursor, s.acks[k], s.flushing[k])
			if p.LastSeq > p.Cursor {
				out = append(out, p)
			}
		}
		s.ackMu.Unlock()
		return out, nil
	}
}

// MessagesAfter reads a conversation forward from afterSeq.
func (s *Service) MessagesAfter(ctx context.Context, appID, convID string, afterSeq int64, limit int) ([]Message, error) {
	ms, err := s.store.MessagesAfter(ctx, appID, convID, afterSeq, limit)
	if err != nil {
		return nil, fmt.Errorf("im: messages after: %w", err)
	}
	return ms, nil
}

// HistoryQuery pages through a conversation of the user. Without AfterSeq
// it pages back, newest first: BeforeSeq 0 means from the newest message.
// With AfterSeq (present, even 0) it pages forward, oldest first: the
// messages with a seq above *AfterSeq; BeforeSeq must then be 0.
type HistoryQuery struct {
	ConversationID string
	ConvType       int
	BeforeSeq      int64
	AfterSeq       *int64
	Count          int // 0: the default page size
}

// HistoryPage is a page of stored messages in the query's order; HasMore
// says there are more in that direction.
type HistoryPage struct {
	Messages []Message
	HasMore  bool
}

// ConversationQuery pages through the user's conversations, most recently
// active first. Before is the OrderKey of the last conversation of the
// previous page (0 for the first page).
type ConversationQuery struct {
	Count  int // 0: the default page size
	Before int64
}

// ConversationPage is a page of the user's conversations; HasMore says
// there are more.
type ConversationPage struct {
	Conversations []Conversation
	HasMore       bool
}

// ReadMark marks a conversation of the user read up to Seq (0: everything).
type ReadMark struct {
	ConversationID string
	ConvType       int
	Seq            int64
}

// History returns a page of a conversation of user: newest first, or
// oldest first when q.AfterSeq is set.
func (s *Service) History(ctx context.Context, appID, userID string, q HistoryQuery) (HistoryPage, error) {
	convID, floor, err := s.ConvFor(ctx, appID, userID, q.ConversationID, q.ConvType)
	if err != nil {
		return HistoryPage{}, err
	}
	n, perr := protocol.PageCount(q.Count)
	if perr != nil {
		return HistoryPage{}, perr
	}
	if q.BeforeSeq < 0 {
		return HistoryPage{}, protocol.Errorf(protocol.CodeInvalidArgument, "beforeSeq must not be negative")
	}
	var ms []Message
	if q.AfterSeq != nil {
		after := *q.AfterSeq
		if after < 0 {
			return HistoryPage{}, protocol.Errorf(protocol.CodeInvalidArgument, "afterSeq must not be negative")
		}
		if q.BeforeSeq != 0 {
			return HistoryPage{}, protocol.Errorf(protocol.CodeInvalidArgument, "beforeSeq and afterSeq are exclusive: give one")
		}
		// A group member sees nothing sent before it joined.
		ms, err = s.store.MessagesAfter(ctx, appID, convID, max(after, floor), n+1)
		if err != nil {
			return HistoryPage{}, fmt.Errorf("im: history: %w", err)
		}
	} else {
		ms, err = s.store.MessagesBefore(ctx, appID, convID, q.BeforeSeq, n+1)
		if err != nil {
			return HistoryPage{}, fmt.Errorf("im: history: %w", err)
		}
		// A group member sees nothing sent before it joined.
		for i := range ms {
			if ms[i].Seq <= floor {
				ms = ms[:i]
				break
			}
		}
	}
	var out HistoryPage
	if len(ms) > n {
		out.HasMore = true
		ms = ms[:n]
	}
	out.Messages = ms
	return out, nil
}

// Conversations returns a page of the user's conversation list.
func (s *Service) Conversations(ctx context.Context, appID, userID string, q ConversationQuery) (ConversationPage, error) {
	n, perr := protocol.PageCount(q.Count)
	if perr != nil {
		return ConversationPage{}, perr
	}
	if q.Before < 0 {
		return ConversationPage{}, protocol.Errorf(protocol.CodeInvalidArgument, "before must not be negative")
	}
	cs, err := s.store.Conversations(ctx, appID, userID, q.Before, n+1)
	if err != nil {
		return ConversationPage{}, fmt.Errorf("im: conversations: %w", err)
	}
	var out ConversationPage
	if len(cs) > n {
		out.HasMore = true
		cs = cs[:n]
	}
	out.Conversations = cs
	return out, nil
}

// MarkRead marks the user's conversation read up to r.Seq and returns the
// unread count left.
func (s *Service) MarkRead(ctx context.Context, appID, userID string, r ReadMark) (int64, error) {
	convID, _, err := s.ConvFor(ctx, appID, userID, r.ConversationID, r.ConvType)
	if err != nil {
		return 0, err
	}
	if r.Seq < 0 {
		return 0, protocol.Errorf(protocol.CodeInvalidArgument, "seq must not be negative")
	}
	var n int64
	if r.ConvType == protocol.ConversationGroup {
		n, err = s.store.MarkGroupRead(ctx, appID, userID, r.ConversationID, r.Seq)
		if errors.Is(err, ErrNotFound) {
			return 0, protocol.Errorf(protocol.CodeNotGroupMember, "")
		}
	} else {
		n, err = s.store.MarkRead(ctx, appID, userID, convID, r.Seq)
	}
	if errors.Is(err, ErrNotFound) {
		return 0, protocol.Errorf(protocol.CodeInvalidConversation, "no such conversation")
	}
	if err != nil {
		return 0, fmt.Errorf("im: mark read: %w", err)
	}
	return n, nil
}

// ConvFor validates a conversation named by a user and returns its key and
// the seq at or below which the user may see nothing (a group member's
// joined position; 0 for peers). Errors are *protocol.Error where the
// client is at fault.
func (s *Service) ConvFor(ctx context.Context, appID, userID, conversationID string, convType int) (string, int64, error) {
	if convType == protocol.ConversationGroup {
		_, me, err := s.memberOf(ctx, appID, userID, conversationID)
		if err != nil {
			return "", 0, err
		}
		return GroupConvID(conversationID), me.JoinedSeq, nil
	}
	c, perr := s.peerConv(userID, conversationID, convType)
	if perr != nil {
		return "", 0, perr
	}
	return c, 0, nil
}

func (s *Service) peerConv(userID, conversationID string, convType int) (string, *protocol.Error) {
	if convType != protocol.ConversationPeer {
		return "", protocol.Errorf(protocol.CodeInvalidConversation, "conversationType must be 0 (peer) or 2 (group)")
	}
	if !protocol.ValidUserID(conversationID) {
		return "", protocol.Errorf(protocol.CodeInvalidUserID, "conversationID is not a valid user ID")
	}
	if conversationID == userID {
		return "", protocol.Errorf(protocol.CodeInvalidConversation, "no conversation with yourself")
	}
	return PeerConvID(userID, conversationID), nil
}

// ToWire converts a stored message to its wire form as seen by viewer.
func ToWire(m *Message, viewer string, offline bool) protocol.Message {
	conv := m.Sender
	if viewer == m.Sender || m.ConvType == protocol.ConversationGroup {
		conv = m.Recipient
	}
	w := protocol.Message{
		MessageID:        strconv.FormatInt(m.ID, 10),
		LocalMessageID:   m.LocalID,
		ConversationID:   conv,
		ConversationType: m.ConvType,
		ConversationSeq:  m.Seq,
		SenderUserID:     m.Sender,
		Type:             m.Type,
		Text:             m.Text,
		Data:             m.Data,
		SubType:          m.SubType,
		SearchedContent:  m.SearchedContent,
		ExtendedData:     m.ExtendedData,
		Priority:         m.Priority,
		Timestamp:        m.CreatedAt.UnixMilli(),
		Offline:          offline,
		System:           m.Sender == protocol.SystemUserID,
		RevokeFields:     revokeFields(m),
		MentionedUserIDs: m.MentionedUsers,
		IsMentionAll:     m.MentionAll,
	}
	if m.Revoke != nil {
		w.Type = protocol.MessageRevoke
	}
	return w
}
