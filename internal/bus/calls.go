package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/heraldim/herald/internal/call"
	"github.com/heraldim/herald/internal/push"
)

// Calls across nodes. The call state (open calls, the ring gate, the
// deadlines) lives in the memory of one call.Service, which runs on one
// node of the cluster: the leader of the "calls" leadership. Every node
// reaches it through Calls, which implements what the gateway needs
// (gateway.Calls) and what the push dispatcher needs (push.RingClaimer):
//
//   - On the leader, Calls calls the local Service in process (no hop).
//   - On the others, it sends the request over NATS request/reply on
//     <p>.calls, the one subject that only the leader subscribes to
//     (Serve), so that no node needs to know who leads. The payloads are
//     the call package's domain types in JSON; a refusal keeps its
//     call.Code across the hop.
//   - When nobody answers (no leader during a failover, the bus down) or
//     the leader does not answer within the timeout, a request fails with
//     a *call.Error of CodeUnavailable (the client retries) and the ring
//     gate answers false: no ring is pushed that the leader could not
//     confirm.
//   - SessionEnded is published without a reply (it must not block), with
//     the sender's presence number: the leader applies the presence
//     update of the end before it checks the user (awaitPresence). One
//     lost in a failover costs a late ring, not the invitation, which the
//     next login still delivers.
//
// The leader's Service sends its events through the cluster router (the
// bus's SendEvent), so users on any node get them; LoggedIn's events are
// returned to the node of the session that logged in, which delivers them.

// CallService is what Calls forwards to: the call.Service of the leader.
type CallService interface {
	call.Operations
	push.RingClaimer
}

// CallsConfig tunes Calls. Zero values take the defaults.
type CallsConfig struct {
	// Timeout bounds a forwarded request. Default 5 s: a call request
	// writes to the store once or twice on the leader.
	Timeout time.Duration
	// GateTimeout bounds a forwarded ring-gate question (Ringing,
	// ClaimRing), asked by a push worker right before the vendor call.
	// Default 2 s; past it the ring is not sent (and retried as any push
	// whose gate said no is not: it is dropped, as a ring of an ended
	// call).
	GateTimeout time.Duration
}

// Calls is one node's way to the cluster's call service. Create it with
// NewCalls; the leader runs Serve while it leads.
type Calls struct {
	b   *Bus
	cfg CallsConfig
	cur atomic.Pointer[callTerm] // set while this node serves (leads)
}

var _ push.RingClaimer = (*Calls)(nil)

// callTerm is one leadership term's service, with the requests in flight
// in it (forwarded and local alike), which the term's end waits for: a
// request answered by a node that no longer leads would act on a state
// that the next leader does not see.
type callTerm struct {
	svc    CallService
	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup
}

func (t *callTerm) enter() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return false
	}
	t.wg.Add(1)
	return true
}

func (t *callTerm) close() {
	t.mu.Lock()
	t.closed = true
	t.mu.Unlock()
	t.wg.Wait()
}

// presenceWait bounds the wait of a session end for the presence update
// sent before it: past it (the update lost), the end is checked with the
// presence this node has, which the next heartbeat repairs anyway.
const presenceWait = time.Second

// NewCalls returns the calls of the node of b. It starts nothing.
func NewCalls(b *Bus, cfg CallsConfig) *Calls {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.GateTimeout <= 0 {
		cfg.GateTimeout = 2 * time.Second
	}
	return &Calls{b: b, cfg: cfg}
}

// Serving reports whether this node serves the cluster's calls now (it
// leads, and its Service is loaded).
func (c *Calls) Serving() bool { return c.cur.Load() != nil }

func (c *Calls) subject() string { return c.b.subject("calls") }

// Serve answers the cluster's call requests with svc until ctx is done:
// the leader runs it once svc holds the state (call.Service.Load). On
// return no request is in flight in svc any more, forwarded or local.
func (c *Calls) Serve(ctx context.Context, svc CallService) error {
	t := &callTerm{svc: svc}
	c.cur.Store(t)
	defer c.cur.Store(nil)
	defer t.close()
	sub, err := c.b.nc.Subscribe(c.subject(), func(m *nats.Msg) {
		if !t.enter() {
			return // the term is ending: the requester times out and retries
		}
		go func() {
			defer t.wg.Done()
			c.answer(ctx, svc, m)
		}()
	})
	if err != nil {
		return fmt.Errorf("bus: calls: subscribe: %w", err)
	}
	if err := c.b.nc.Flush(); err != nil {
		_ = sub.Unsubscribe()
		return fmt.Errorf("bus: calls: flush: %w", err)
	}
	<-ctx.Done()
	if err := sub.Unsubscribe(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
		return fmt.Errorf("bus: calls: unsubscribe: %w", err)
	}
	return nil
}

// local returns this node's term when it serves, entered (call done
// after the request); nil otherwise.
func (c *Calls) local() *callTerm {
	if t := c.cur.Load(); t != nil && t.enter() {
		return t
	}
	return nil
}

// The operations on the subject.
const (
	opInvite        = "invite"
	opCallingInvite = "callingInvite"
	opAccept        = "accept"
	opReject        = "reject"
	opCancel        = "cancel"
	opJoin          = "join"
	opQuit          = "quit"
	opEnd           = "end"
	opInfo          = "info"
	opLoggedIn      = "loggedIn"
	opSessionEnded  = "sessionEnded"
	opRinging       = "ringing"
	opClaimRing     = "claimRing"
)

// callRequest is one request on the subject.
type callRequest struct {
	Op     string          `json:"op"`
	AppID  string          `json:"a"`
	UserID string          `json:"u,omitempty"`
	Body   json.RawMessage `json:"b,omitempty"`
	// Node and Seq, on a session end: the sender and the number of its
	// presence update that preceded the end (see awaitPresence).
	Node string `json:"n,omitempty"`
	Seq  uint64 `json:"s,omitempty"`
}

// callReply is the leader's answer: Body, or a refusal (Code, Message), or
// an internal failure (Internal, logged on the leader too).
type callReply struct {
	Body     json.RawMessage `json:"b,omitempty"`
	Code     call.Code       `json:"c,omitempty"`
	Message  string          `json:"m,omitempty"`
	Internal string          `json:"i,omitempty"`
}

// ringQuery is a ring gate question: the job fields the gate reads.
type ringQuery struct {
	ID       int64  `json:"id,omitempty"`
	CallID   string `json:"c"`
	Attempts int    `json:"n,omitempty"`
}

// callEvent is a call.Event with its kind, so that it decodes to its type.
type callEvent struct {
	Kind string          `json:"k"`
	Data json.RawMessage `json:"d"`
}

// Event kinds.
const (
	evReceived     = "received"
	evStateChanged = "stateChanged"
	evCancelled    = "cancelled"
	evTimeout      = "timeout"
	evEnded        = "ended"
)

func encodeEvent(ev call.Event) (callEvent, error) {
	var kind string
	switch ev.(type) {
	case call.InvitationReceived:
		kind = evReceived
	case call.UserStateChanged:
		kind = evStateChanged
	case call.InvitationCancelled:
		kind = evCancelled
	case call.InvitationTimeout:
		kind = evTimeout
	case call.InvitationEnded:
		kind = evEnded
	default:
		return callEvent{}, fmt.Errorf("bus: calls: unknown event %T", ev)
	}
	d, err := json.Marshal(ev)
	return callEvent{Kind: kind, Data: d}, err
}

func decodeEvent(e callEvent) (call.Event, error) {
	switch e.Kind {
	case evReceived:
		return decodeAs[call.InvitationReceived](e)
	case evStateChanged:
		return decodeAs[call.UserStateChanged](e)
	case evCancelled:
		return decodeAs[call.InvitationCancelled](e)
	case evTimeout:
		return decodeAs[call.InvitationTimeout](e)
	case evEnded:
		return decodeAs[call.InvitationEnded](e)
	}
	return nil, fmt.Errorf("bus: calls: unknown event kind %q", e.Kind)
}

func decodeAs[T call.Event](e callEvent) (call.Event, error) {
	var v T
	if err := json.Unmarshal(e.Data, &v); err != nil {
		return nil, fmt.Errorf("bus: calls: event %s: %w", e.Kind, err)
	}
	return v, nil
}

// ErrCallLeader wraps an internal failure of a request on the leader
// (its cause is in the leader's log).
var ErrCallLeader = errors.New("bus: calls: the leader failed the request")

// unavailable is the refusal of a request that no leader answered.
func unavailable() *call.Error {
	return &call.Error{Code: call.CodeUnavailable,
		Message: "calls are unavailable for a moment (the cluster is changing its call leader); retry"}
}

// request sends one request to the leader and returns its reply body.
func (c *Calls) request(ctx context.Context, timeout time.Duration, op, appID, userID string, body any) (json.RawMessage, error) {
	req := callRequest{Op: op, AppID: appID, UserID: userID}
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("bus: calls: encoding %s: %w", op, err)
		}
		req.Body = b
	}
	data, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("bus: calls: encoding %s: %w", op, err)
	}
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	m, err := c.b.nc.RequestWithContext(rctx, c.subject(), data)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err() // the caller gave up (its session ended)
		}
		return nil, unavailable()
	}
	var rep callReply
	if err := json.Unmarshal(m.Data, &rep); err != nil {
		return nil, fmt.Errorf("bus: calls: reply to %s: %w", op, err)
	}
	switch {
	case rep.Code != 0:
		return nil, &call.Error{Code: rep.Code, Message: rep.Message}
	case rep.Internal != "":
		return nil, fmt.Errorf("%w: %s", ErrCallLeader, rep.Internal)
	}
	return rep.Body, nil
}

// forward is request for an operation with a typed reply.
func forward[Rep any](ctx context.Context, c *Calls, op, appID, userID string, body any) (Rep, error) {
	var rep Rep
	b, err := c.request(ctx, c.cfg.Timeout, op, appID, userID, body)
	if err != nil {
		return rep, err
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		return rep, fmt.Errorf("bus: calls: reply to %s: %w", op, err)
	}
	return rep, nil
}

// Invite implements gateway.Calls.
func (c *Calls) Invite(ctx context.Context, appID, inviter string, r call.Invitation) (call.Invited, error) {
	if t := c.local(); t != nil {
		defer t.wg.Done()
		return t.svc.Invite(ctx, appID, inviter, r)
	}
	return forward[call.Invited](ctx, c, opInvite, appID, inviter, r)
}

// CallingInvite implements gateway.Calls.
func (c *Calls) CallingInvite(ctx context.Context, appID, userID string, r call.MoreInvitees) (call.Invited, error) {
	if t := c.local(); t != nil {
		defer t.wg.Done()
		return t.svc.CallingInvite(ctx, appID, userID, r)
	}
	return forward[call.Invited](ctx, c, opCallingInvite, appID, userID, r)
}

// Accept implements gateway.Calls.
func (c *Calls) Accept(ctx context.Context, appID, userID string, r call.Action) (call.Outcome, error) {
	if t := c.local(); t != nil {
		defer t.wg.Done()
		return t.svc.Accept(ctx, appID, userID, r)
	}
	return forward[call.Outcome](ctx, c, opAccept, appID, userID, r)
}

// Reject implements gateway.Calls.
func (c *Calls) Reject(ctx context.Context, appID, userID string, r call.Action) (call.Outcome, error) {
	if t := c.local(); t != nil {
		defer t.wg.Done()
		return t.svc.Reject(ctx, appID, userID, r)
	}
	return forward[call.Outcome](ctx, c, opReject, appID, userID, r)
}

// Cancel implements gateway.Calls.
func (c *Calls) Cancel(ctx context.Context, appID, userID string, r call.Cancellation) (call.Outcome, error) {
	if t := c.local(); t != nil {
		defer t.wg.Done()
		return t.svc.Cancel(ctx, appID, userID, r)
	}
	return forward[call.Outcome](ctx, c, opCancel, appID, userID, r)
}

// Join implements gateway.Calls.
func (c *Calls) Join(ctx context.Context, appID, userID string, r call.Action) (call.Record, error) {
	if t := c.local(); t != nil {
		defer t.wg.Done()
		return t.svc.Join(ctx, appID, userID, r)
	}
	return forward[call.Record](ctx, c, opJoin, appID, userID, r)
}

// Quit implements gateway.Calls.
func (c *Calls) Quit(ctx context.Context, appID, userID string, r call.Action) (call.Outcome, error) {
	if t := c.local(); t != nil {
		defer t.wg.Done()
		return t.svc.Quit(ctx, appID, userID, r)
	}
	return forward[call.Outcome](ctx, c, opQuit, appID, userID, r)
}

// End implements gateway.Calls.
func (c *Calls) End(ctx context.Context, appID, userID string, r call.Action) (call.Outcome, error) {
	if t := c.local(); t != nil {
		defer t.wg.Done()
		return t.svc.End(ctx, appID, userID, r)
	}
	return forward[call.Outcome](ctx, c, opEnd, appID, userID, r)
}

// Info implements gateway.Calls.
func (c *Calls) Info(ctx context.Context, appID, userID, callID string) (call.Record, error) {
	if t := c.local(); t != nil {
		defer t.wg.Done()
		return t.svc.Info(ctx, appID, userID, callID)
	}
	return forward[call.Record](ctx, c, opInfo, appID, userID, callID)
}

// LoggedIn implements gateway.Calls: the leader marks the invitations
// received and returns their events, which are delivered here. When no
// leader answers, nothing is delivered (the invitations stay inviting:
// the next login, or the client's callInfo, gets them).
func (c *Calls) LoggedIn(ctx context.Context, appID, userID string, deliver func(call.Event)) {
	if t := c.local(); t != nil {
		defer t.wg.Done()
		t.svc.LoggedIn(ctx, appID, userID, deliver)
		return
	}
	evs, err := forward[[]callEvent](ctx, c, opLoggedIn, appID, userID, nil)
	if err != nil {
		if ctx.Err() == nil {
			c.b.log.Warn("bus: calls: login: the ringing invitations could not be read", "app", appID, "user", userID, "err", err)
		}
		return
	}
	for _, e := range evs {
		ev, err := decodeEvent(e)
		if err != nil {
			c.b.log.Warn("bus: calls: login", "err", err)
			continue
		}
		deliver(ev)
	}
}

// SessionEnded implements gateway.Calls; it never blocks (published
// without a reply when another node leads).
func (c *Calls) SessionEnded(appID, userID string) {
	if t := c.local(); t != nil {
		defer t.wg.Done()
		t.svc.SessionEnded(appID, userID)
		return
	}
	// The gateway told the bus of the session's end first: the leader
	// waits for that update before it looks whether the user is still
	// online somewhere.
	c.b.publish(c.subject(), callRequest{Op: opSessionEnded, AppID: appID, UserID: userID,
		Node: c.b.cfg.NodeID, Seq: c.b.presenceSeq()})
}

// Ringing implements push.CallGate; false when the leader cannot be
// asked.
func (c *Calls) Ringing(appID, callID, userID string) bool {
	if t := c.local(); t != nil {
		defer t.wg.Done()
		return t.svc.Ringing(appID, callID, userID)
	}
	return c.gate(opRinging, appID, userID, ringQuery{CallID: callID})
}

// ClaimRing implements push.RingClaimer; false when the leader cannot be
// asked.
func (c *Calls) ClaimRing(j push.Job) bool {
	if t := c.local(); t != nil {
		defer t.wg.Done()
		return t.svc.ClaimRing(j)
	}
	return c.gate(opClaimRing, j.AppID, j.UserID, ringQuery{ID: j.ID, CallID: j.CallID, Attempts: j.Attempts})
}

func (c *Calls) gate(op, appID, userID string, q ringQuery) bool {
	b, err := c.request(context.Background(), c.cfg.GateTimeout, op, appID, userID, q)
	if err != nil {
		c.b.log.Warn("bus: calls: ring gate not answered: the ring is not sent", "app", appID, "call", q.CallID, "user", userID, "err", err)
		return false
	}
	var yes bool
	return json.Unmarshal(b, &yes) == nil && yes
}

// answer runs one request on the leader and replies.
func (c *Calls) answer(ctx context.Context, svc CallService, m *nats.Msg) {
	var req callRequest
	if err := json.Unmarshal(m.Data, &req); err != nil {
		c.b.log.Warn("bus: calls: a request that does not decode", "err", err)
		c.reply(m, nil, fmt.Errorf("request does not decode: %w", err))
		return
	}
	v, err := c.run(ctx, svc, req)
	if req.Op == opSessionEnded {
		return // published without a reply
	}
	if err != nil {
		if ce := (*call.Error)(nil); !errors.As(err, &ce) {
			c.b.log.Error("bus: calls: forwarded request failed", "op", req.Op, "app", req.AppID, "user", req.UserID, "err", err)
		}
	}
	c.reply(m, v, err)
}

func (c *Calls) reply(m *nats.Msg, v any, err error) {
	if m.Reply == "" {
		return
	}
	var rep callReply
	var ce *call.Error
	switch {
	case errors.As(err, &ce):
		rep.Code, rep.Message = ce.Code, ce.Message
	case err != nil:
		rep.Internal = err.Error()
	default:
		b, merr := json.Marshal(v)
		if merr != nil {
			rep.Internal = merr.Error()
		} else {
			rep.Body = b
		}
	}
	data, err := json.Marshal(rep)
	if err != nil {
		return
	}
	if err := m.Respond(data); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
		c.b.log.Warn("bus: calls: reply not sent", "err", err)
	}
}

// run decodes req's body and runs it on svc.
func (c *Calls) run(ctx context.Context, svc CallService, req callRequest) (any, error) {
	app, user := req.AppID, req.UserID
	switch req.Op {
	case opInvite:
		return with(req, func(r call.Invitation) (any, error) { return svc.Invite(ctx, app, user, r) })
	case opCallingInvite:
		return with(req, func(r call.MoreInvitees) (any, error) { return svc.CallingInvite(ctx, app, user, r) })
	case opAccept:
		return with(req, func(r call.Action) (any, error) { return svc.Accept(ctx, app, user, r) })
	case opReject:
		return with(req, func(r call.Action) (any, error) { return svc.Reject(ctx, app, user, r) })
	case opCancel:
		return with(req, func(r call.Cancellation) (any, error) { return svc.Cancel(ctx, app, user, r) })
	case opJoin:
		return with(req, func(r call.Action) (any, error) { return svc.Join(ctx, app, user, r) })
	case opQuit:
		return with(req, func(r call.Action) (any, error) { return svc.Quit(ctx, app, user, r) })
	case opEnd:
		return with(req, func(r call.Action) (any, error) { return svc.End(ctx, app, user, r) })
	case opInfo:
		return with(req, func(id string) (any, error) { return svc.Info(ctx, app, user, id) })
	case opLoggedIn:
		evs := []callEvent{}
		var encErr error
		svc.LoggedIn(ctx, app, user, func(ev call.Event) {
			e, err := encodeEvent(ev)
			if err != nil {
				encErr = err
				return
			}
			evs = append(evs, e)
		})
		return evs, encErr
	case opSessionEnded:
		c.b.awaitPresence(req.Node, req.Seq, presenceWait)
		svc.SessionEnded(app, user)
		return nil, nil
	case opRinging:
		return with(req, func(q ringQuery) (any, error) { return svc.Ringing(app, q.CallID, user), nil })
	case opClaimRing:
		return with(req, func(q ringQuery) (any, error) {
			return svc.ClaimRing(push.Job{ID: q.ID, AppID: app, CallID: q.CallID, UserID: user, Attempts: q.Attempts}), nil
		})
	}
	return nil, fmt.Errorf("unknown operation %q", req.Op)
}

// with decodes req's body as a Req and runs f on it.
func with[Req any](req callRequest, f func(Req) (any, error)) (any, error) {
	var r Req
	if err := json.Unmarshal(req.Body, &r); err != nil {
		return nil, fmt.Errorf("%s: body does not decode: %w", req.Op, err)
	}
	return f(r)
}
