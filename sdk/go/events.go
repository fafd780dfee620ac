package herald

import (
	"time"

	"github.com/heraldim/herald/internal/protocol"
)

// EventHandler holds the functions that receive a Client's events. Any of
// them may be nil. They are called on one goroutine, one at a time, in the
// order the events happened, never while the SDK holds a lock: a handler may
// call any Client method (a slow handler delays later events, not the
// connection). A message is acknowledged to the server after the handler
// that received it returned.
type EventHandler struct {
	// ConnectionStateChanged reports a new connection state and why.
	// extended carries details: "closeCode" and "reason" when the server
	// closed the connection, "code" and "message" when a login was refused,
	// the kick "reason" and "message" on ConnectionEventKickedOut.
	ConnectionStateChanged func(state ConnectionState, event ConnectionEvent, extended map[string]any)
	// ReceivePeerMessage delivers messages of one peer conversation, in
	// conversation order, each once. fromUserID is the conversation's ID: the
	// other user. Messages this user sent from another device arrive here
	// too (SenderUserID tells), as do command messages.
	ReceivePeerMessage func(msgs []Message, info MessageReceivedInfo, fromUserID string)
	// ReceiveGroupMessage delivers messages of one group conversation, in
	// conversation order, each once: ConversationType is
	// ConversationTypeGroup and fromGroupID the group's ID. Messages this
	// user sent from another device arrive here too.
	ReceiveGroupMessage func(msgs []Message, info MessageReceivedInfo, fromGroupID string)
	// SyncDone reports that the offline messages that follow a login (or a
	// reconnect) were all delivered; count is how many the server sent,
	// duplicates of messages already delivered included.
	SyncDone func(count int)
	// TokenWillExpire warns that the token expires in second seconds: get a
	// fresh one from the app's backend and call RenewToken.
	TokenWillExpire func(second int)

	// GroupStateChanged tells that this user entered a group (created it,
	// joined, was invited) or left one (left, was kicked out, the group was
	// dismissed).
	GroupStateChanged func(info GroupStateChangedInfo)
	// GroupMemberStateChanged tells the members of a group that other users
	// entered or left it.
	GroupMemberStateChanged func(info GroupMemberStateChangedInfo)
	// GroupMemberInfoUpdated tells the members of a group that roles changed
	// (SetGroupMemberRole, TransferGroupOwner).
	GroupMemberInfoUpdated func(info GroupMemberInfoUpdatedInfo)

	// CallInvitationReceived rings this user: at the invitation, or at a
	// login before the invitation's deadline.
	CallInvitationReceived func(info CallInvitationReceivedInfo, callID string)
	// CallInvitationCancelled tells an invitee that the inviter cancelled.
	CallInvitationCancelled func(info CallInvitationCancelledInfo, callID string)
	// CallInvitationTimeout tells an invitee that it did not answer in time.
	CallInvitationTimeout func(info CallInvitationTimeoutInfo, callID string)
	// CallUserStateChanged tells the users of a call that users' states
	// changed (accepted, rejected, timed out, quit, ...).
	CallUserStateChanged func(info CallUserStateChangeInfo)
	// CallInvitationEnded tells the users of a call that it ended.
	CallInvitationEnded func(info CallInvitationEndedInfo)

	// GroupApplicationListChanged tells the owner and the admins of a group
	// that a user asks to join it (action "added").
	GroupApplicationListChanged func(applications []GroupApplicationInfo, action GroupApplicationListChangeAction)
	// GroupApplicationUpdated tells the applicant, the owner and the admins
	// that a join request was accepted or rejected.
	GroupApplicationUpdated func(info GroupApplicationUpdatedInfo)
	// GroupJoinModeUpdated tells the members of a group that its join mode
	// changed.
	GroupJoinModeUpdated func(info GroupJoinModeUpdatedInfo)

	// MessageRevokeReceived tells that messages were revoked (by their
	// sender, a group's owner or admin, or the app's server): each is the
	// revoked message in its place (Type MessageTypeRevoke).
	MessageRevokeReceived func(msgs []Message)
	// ConversationChanged tells every live session of the user that
	// conversations changed (ZIM conversationChanged), e.g. a notification
	// status set on another device.
	ConversationChanged func(infoList []ConversationChangeInfo)
	// UserRuleUpdated tells every session of the user that its offline
	// push rule changed (UpdateUserOfflinePushRule on any device).
	UserRuleUpdated func(rule UserRule)
}

type eventKind int

const (
	evState eventKind = iota
	evMessages
	evOwnSent // bookkeeping only: the app's own sent message counts as handled
	evSyncDone
	evTokenWillExpire
	evNotify // a group or call event: notify calls its handler
)

// maxBatch bounds how many messages one ReceivePeerMessage call carries.
const maxBatch = 100

// maxQueued is how many received messages may wait for the app's handlers
// before the SDK stops reading from the connection (see waitBacklog): at
// most a few MB of ordinary messages.
const maxQueued = 10000

type event struct {
	kind eventKind

	state    ConnectionState
	cevent   ConnectionEvent
	extended map[string]any

	conv    convKey
	msgs    []Message
	offline bool
	epoch   uint64
	seq     int64 // evOwnSent

	count int // evSyncDone, evTokenWillExpire

	notify func(EventHandler) // evNotify
}

type convKey struct {
	id  string
	typ ConversationType
}

// convPos is the delivery bookkeeping of one conversation.
type convPos struct {
	// received is the highest seq queued for the app (or sent by it): a
	// message at or below it is a duplicate, dropped on arrival. The server
	// resends what was not acknowledged when a connection is replaced.
	received int64
	// handled is the highest seq whose handler returned, in order: what may
	// be acknowledged.
	handled int64
	// sent is the highest seq acknowledged on the current connection.
	sent int64
}

func (c *Client) posLocked(k convKey) *convPos {
	p := c.pos[k]
	if p == nil {
		p = &convPos{}
		c.pos[k] = p
	}
	return p
}

// received takes a message from the reader: it drops duplicates and queues
// the rest for the app, appending to the last queued batch of the same
// conversation when it can.
func (c *Client) received(w protocol.Message) {
	m := messageFromWire(w)
	k := convKey{m.ConversationID, m.ConversationType}
	c.mu.Lock()
	defer c.mu.Unlock()
	if m.ConversationSeq > 0 { // command messages have none and are not stored
		p := c.posLocked(k)
		if m.ConversationSeq <= p.received {
			c.log.Debug("herald: duplicate message dropped", "conversation", k.id, "seq", m.ConversationSeq, "received", p.received)
			return
		}
		if p.received > 0 && m.ConversationSeq > p.received+1 {
			// The server promises no gaps; one can still appear when
			// another client with this device ID acknowledged messages, or
			// history was trimmed. Deliver what there is.
			c.log.Warn("herald: gap in conversation", "conversation", k.id, "after", p.received, "seq", m.ConversationSeq)
		}
		p.received = m.ConversationSeq
	}
	if c.closed {
		return
	}
	c.queuedMsgs++
	if n := len(c.queue); n > 0 {
		last := c.queue[n-1]
		if last.kind == evMessages && last.conv == k && last.offline == w.Offline && len(last.msgs) < maxBatch {
			last.msgs = append(last.msgs, m)
			return
		}
	}
	c.enqueueLocked(&event{kind: evMessages, conv: k, msgs: []Message{m}, offline: w.Offline, epoch: c.epoch})
}

// ownSent records the seq of a message this client sent, on the reader
// before the next frame: later deliveries at or below it are duplicates, and
// it is acknowledged once the messages queued before it were handled.
func (c *Client) ownSent(k convKey, seq int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.posLocked(k)
	if seq > p.received {
		p.received = seq
	}
	c.enqueueLocked(&event{kind: evOwnSent, conv: k, seq: seq, epoch: c.epoch})
}

// loggedIn publishes a session whose login succeeded.
func (c *Client) loggedIn(s *session) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sess = s
	for _, p := range c.pos {
		p.sent = 0 // a new connection: acknowledge every position again
	}
	c.setStateLocked(ConnectionStateConnected, ConnectionEventSuccess, nil)
}

// backlogged reports whether more than maxQueued messages wait for the
// app's handlers.
func (c *Client) backlogged() bool { return c.queuedOver(c.maxQueued) }

func (c *Client) queuedOver(n int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.queuedMsgs > n
}

func (c *Client) enqueue(e *event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.enqueueLocked(e)
}

// enqueueLocked queues an event and starts the dispatcher if none runs.
func (c *Client) enqueueLocked(e *event) {
	if c.closed {
		return
	}
	c.queue = append(c.queue, e)
	if !c.dispatching {
		c.dispatching = true
		go c.dispatch()
	}
}

// dispatch delivers queued events in order and exits when the queue is
// empty; enqueueLocked starts it again. At most one runs at a time.
func (c *Client) dispatch() {
	for {
		c.mu.Lock()
		if len(c.queue) == 0 || c.closed {
			c.dispatching = false
			c.queue = nil // release the consumed backing array
			c.mu.Unlock()
			return
		}
		e := c.queue[0]
		c.queue[0] = nil
		c.queue = c.queue[1:]
		if e.kind == evMessages {
			c.queuedMsgs -= len(e.msgs)
		}
		if e.kind == evOwnSent {
			if e.epoch == c.epoch {
				c.handledLocked(e.conv, e.seq, 1)
			}
			c.mu.Unlock()
			continue
		}
		h := c.handler
		c.mu.Unlock()

		switch e.kind {
		case evState:
			if h.ConnectionStateChanged != nil {
				h.ConnectionStateChanged(e.state, e.cevent, e.extended)
			}
		case evMessages:
			info := MessageReceivedInfo{IsOfflineMessage: e.offline}
			switch {
			case e.conv.typ == ConversationTypeGroup && h.ReceiveGroupMessage != nil:
				h.ReceiveGroupMessage(e.msgs, info, e.conv.id)
			case e.conv.typ != ConversationTypeGroup && h.ReceivePeerMessage != nil:
				h.ReceivePeerMessage(e.msgs, info, e.conv.id)
			}
			var top int64
			for _, m := range e.msgs {
				top = max(top, m.ConversationSeq)
			}
			if top > 0 {
				c.mu.Lock()
				if e.epoch == c.epoch {
					c.handledLocked(e.conv, top, len(e.msgs))
				}
				c.mu.Unlock()
			}
		case evSyncDone:
			if h.SyncDone != nil {
				h.SyncDone(e.count)
			}
		case evTokenWillExpire:
			if h.TokenWillExpire != nil {
				h.TokenWillExpire(e.count)
			}
		case evNotify:
			e.notify(h)
		}
	}
}

// handledLocked records that a conversation was handled up to seq (n
// messages) and schedules the acknowledgement.
func (c *Client) handledLocked(k convKey, seq int64, n int) {
	p := c.posLocked(k)
	if seq <= p.handled {
		return
	}
	p.handled = seq
	if seq > p.received {
		p.received = seq // handled after a Logout reset received
	}
	c.unacked += n
	if c.unacked >= c.cfg.AckBatch {
		c.kickAcksLocked()
		return
	}
	c.armAcksLocked()
}

func (c *Client) armAcks() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.armAcksLocked()
}

// armAcksLocked makes sure a flush happens within AckInterval.
func (c *Client) armAcksLocked() {
	if c.ackTimer != nil || c.closed {
		return
	}
	c.ackTimer = time.AfterFunc(c.cfg.AckInterval, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.ackTimer = nil
		c.kickAcksLocked()
	})
}

func (c *Client) kickAcksLocked() {
	select {
	case c.ackKick <- struct{}{}:
	default:
	}
}

// acksDue returns the positions handled beyond what the current connection
// acknowledged, and how many handled messages they cover.
func (c *Client) acksDue() ([]protocol.AckPosition, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []protocol.AckPosition
	for k, p := range c.pos {
		if p.handled > p.sent {
			out = append(out, protocol.AckPosition{ConversationID: k.id, ConversationType: int(k.typ), Seq: p.handled})
		}
	}
	if len(out) == 0 {
		c.unacked = 0
	}
	return out, c.unacked
}

// acksSent records positions queued for the server; count is the number of
// handled messages they cover (messages handled since acksDue still count).
func (c *Client) acksSent(acks []protocol.AckPosition, count int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, a := range acks {
		p := c.posLocked(convKey{a.ConversationID, ConversationType(a.ConversationType)})
		p.sent = max(p.sent, a.Seq)
	}
	c.unacked = max(0, c.unacked-count)
}

// resetPositionsLocked forgets the delivery bookkeeping (another user logs
// in) along with the queued messages of the previous user.
func (c *Client) resetPositionsLocked() {
	c.pos = make(map[convKey]*convPos)
	c.epoch++
	c.unacked = 0
	c.dropQueuedLocked()
}

// dropQueuedLocked drops the queued events but state changes (group and
// call events go too: they describe a login that ended). The dropped
// messages were not handled, so they are not acknowledged and their
// conversations' received positions go back to what was handled: the
// server delivers them again at the next login. A queued own-sent position
// still counts unless a dropped message of its conversation precedes it.
func (c *Client) dropQueuedLocked() {
	kept := c.queue[:0]
	blocked := make(map[convKey]bool)
	for _, e := range c.queue {
		switch e.kind {
		case evState:
			kept = append(kept, e)
		case evMessages:
			c.queuedMsgs -= len(e.msgs)
			if e.epoch == c.epoch {
				blocked[e.conv] = true
			}
		case evOwnSent:
			if e.epoch == c.epoch && !blocked[e.conv] {
				c.handledLocked(e.conv, e.seq, 1)
			}
		}
	}
	clear(c.queue[len(kept):])
	c.queue = kept
	for _, p := range c.pos {
		p.received = p.handled
	}
}
