package im

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/heraldim/herald/internal/protocol"
	"github.com/heraldim/herald/internal/push"
)

// Message revoke (ZIM revokeMessage): a stored message becomes a revoke
// marker for everyone. It keeps its ID, seq and time, loses its body, and
// every participant's live sessions get messageRevokeReceived; sync,
// history and the conversation list give the marker from then on. Its
// push jobs not yet sent are dropped and the notifications of it already
// shown are withdrawn (a push with the message's collapse ID, see
// push.MessageCollapseID), all in the revoke's transaction.

// DefaultRevokeWindow is Config.RevokeWindow's default: 2 minutes, the
// revoke window ZIM's documentation gives for a sender's own messages.
const DefaultRevokeWindow = 2 * time.Minute

// Revocation says who revoked a message, when, and with what extended
// data; a Message's Revoke is nil while it is not revoked.
type Revocation struct {
	At time.Time
	// By is the revoking user ("" for the app's server without an
	// operatedUserID).
	By string
	// Status is the protocol's revoke status (protocol.RevokeStatus*).
	Status       int
	ExtendedData string
}

// Revoke is one revoke for RevokeStore.RevokeMessage.
type Revoke struct {
	AppID     string
	MessageID int64
	Rev       Revocation
	// Withdraw is the push that withdraws the notifications of the message
	// already shown (Source push.SourceMessageWithdraw, Replaces set): the
	// store plans it to the devices whose push of the message the vendor
	// took, or may be taking now.
	Withdraw push.Intent
}

// RevokeResult is what a revoke changed besides the message.
type RevokeResult struct {
	// Dropped counts the message's push jobs not yet sent that were
	// dropped; Withdraws the withdraw jobs planned.
	Dropped   int
	Withdraws int
}

// RevokeStore is what revoking needs from persistence (store/sqlstore).
type RevokeStore interface {
	// MessageByID returns a stored message; ErrNotFound if none.
	MessageByID(ctx context.Context, appID string, id int64) (Message, error)
	// RevokeMessage, in one transaction: makes the message a revoke
	// marker (body cleared, r.Rev stored), drops its pending push jobs
	// and its group push still to plan, and plans r.Withdraw. ErrNotFound
	// if there is no such message, ErrConflict if it was revoked before
	// (nothing changes then).
	RevokeMessage(ctx context.Context, r Revoke) (RevokeResult, error)
}

// MessageRevoked tells one user's live sessions that messages were
// revoked (messageRevokeReceived); Viewer is that user, for the
// conversation IDs (ToWire).
type MessageRevoked struct {
	Viewer   string
	Messages []*Message
}

func (MessageRevoked) groupEvent() {}

// RevokeOutcome is a revoke's outcome: the marker, and what it changed.
type RevokeOutcome struct {
	Msg *Message
	RevokeResult
}

// RevokeMessage revokes a message of one of userID's conversations: its
// sender may within Config.RevokeWindow of sending it; a group's owner
// and admins may revoke any message of the group at any time.
func (s *Service) RevokeMessage(ctx context.Context, appID, userID string, req protocol.RevokeMessageRequest) (RevokeOutcome, error) {
	if perr := req.Config.Validate(); perr != nil {
		return RevokeOutcome{}, perr
	}
	id, err := parseMessageID(req.MessageID)
	if err != nil {
		return RevokeOutcome{}, err
	}
	convID, floor, err := s.ConvFor(ctx, appID, userID, req.ConversationID, req.ConversationType)
	if err != nil {
		return RevokeOutcome{}, err
	}
	m, err := s.revokable(ctx, appID, id)
	if err != nil {
		return RevokeOutcome{}, err
	}
	if m.ConvID != convID || m.Seq <= floor {
		// Another conversation's message, or one sent before the user
		// joined the group: the same answer as none at all.
		return RevokeOutcome{}, protocol.Errorf(protocol.CodeMessageNotFound, "")
	}
	now := s.cfg.Now()
	status := -1
	if m.Sender == userID && now.Sub(m.CreatedAt) <= s.cfg.RevokeWindow {
		status = protocol.RevokeStatusSelf
	} else if m.ConvType == protocol.ConversationGroup {
		_, me, err := s.memberOf(ctx, appID, userID, req.ConversationID)
		if err != nil {
			return RevokeOutcome{}, err
		}
		switch {
		case me.Role == protocol.RoleOwner:
			status = protocol.RevokeStatusGroupOwner
		case isAdmin(me.Role):
			status = protocol.RevokeStatusGroupAdmin
		}
	}
	switch {
	case status >= 0:
	case m.Sender == userID:
		return RevokeOutcome{}, protocol.Errorf(protocol.CodeRevokeWindowPassed, "a message may be revoked within %s of sending it", s.cfg.RevokeWindow)
	default:
		return RevokeOutcome{}, protocol.Errorf(protocol.CodeRevokeNotAllowed, "")
	}
	return s.revoke(ctx, &m, Revocation{At: now, By: userID, Status: status, ExtendedData: req.Config.RevokeExtendedData}, req.Config.PushConfig)
}

// RevokeMessageAs revokes any message of the app for its server (the REST
// API), whoever sent it and whenever: operatedUserID, when given, is
// recorded as the user who revoked it.
func (s *Service) RevokeMessageAs(ctx context.Context, appID, messageID, operatedUserID string, cfg protocol.MessageRevokeConfig) (RevokeOutcome, error) {
	if perr := cfg.Validate(); perr != nil {
		return RevokeOutcome{}, perr
	}
	if operatedUserID != "" && !protocol.ValidUserID(operatedUserID) {
		return RevokeOutcome{}, protocol.Errorf(protocol.CodeInvalidUserID, "operatedUserID is not a valid user ID")
	}
	id, err := parseMessageID(messageID)
	if err != nil {
		return RevokeOutcome{}, err
	}
	m, err := s.revokable(ctx, appID, id)
	if err != nil {
		return RevokeOutcome{}, err
	}
	rev := Revocation{At: s.cfg.Now(), By: operatedUserID, Status: protocol.RevokeStatusServerAPI, ExtendedData: cfg.RevokeExtendedData}
	return s.revoke(ctx, &m, rev, cfg.PushConfig)
}

// parseMessageID reads a message ID of the wire.
func parseMessageID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, protocol.Errorf(protocol.CodeInvalidArgument, "messageID must be a message's decimal ID")
	}
	return id, nil
}

func (s *Service) revokeStore() (RevokeStore, error) {
	rs, ok := s.store.(RevokeStore)
	if !ok {
		return nil, protocol.Errorf(protocol.CodeUnavailable, "this store cannot revoke messages")
	}
	return rs, nil
}

// revokable returns stored message id if it may still be revoked.
func (s *Service) revokable(ctx context.Context, appID string, id int64) (Message, error) {
	rs, err := s.revokeStore()
	if err != nil {
		return Message{}, err
	}
	m, err := rs.MessageByID(ctx, appID, id)
	switch {
	case errors.Is(err, ErrNotFound):
		return Message{}, protocol.Errorf(protocol.CodeMessageNotFound, "")
	case err != nil:
		return Message{}, fmt.Errorf("im: revoke: %w", err)
	case m.Revoke != nil:
		return Message{}, protocol.Errorf(protocol.CodeMessageAlreadyRevoked, "")
	}
	return m, nil
}

// revoke writes rev on m (with the withdraw push of pc, or of the
// original push's config when nil) and tells the participants.
func (s *Service) revoke(ctx context.Context, m *Message, rev Revocation, pc *protocol.PushConfig) (RevokeOutcome, error) {
	rs, err := s.revokeStore()
	if err != nil {
		return RevokeOutcome{}, err
	}
	rev.At = rev.At.Truncate(time.Millisecond)
	w := push.Intent{AppID: m.AppID, Source: push.Source{Kind: push.SourceMessageWithdraw, MessageID: m.ID},
		ExpiresAt: rev.At.Add(s.cfg.PushTTL), Replaces: &push.Replaced{RingConfig: pc == nil}}
	if pc != nil {
		w.Content = push.Content{Title: pc.Title, Content: pc.Content, Payload: pc.Payload, ResourcesID: pc.ResourcesID}
	} else {
		w.Content = push.Content{Content: protocol.DefaultRevokedContent}
	}
	res, err := rs.RevokeMessage(ctx, Revoke{AppID: m.AppID, MessageID: m.ID, Rev: rev, Withdraw: w})
	switch {
	case errors.Is(err, ErrConflict):
		return RevokeOutcome{}, protocol.Errorf(protocol.CodeMessageAlreadyRevoked, "")
	case errors.Is(err, ErrNotFound):
		return RevokeOutcome{}, protocol.Errorf(protocol.CodeMessageNotFound, "")
	case err != nil:
		return RevokeOutcome{}, fmt.Errorf("im: revoke: %w", err)
	}
	Revoked(m, rev)
	if res.Withdraws > 0 && s.cfg.PushPlanned != nil {
		s.cfg.PushPlanned()
	}
	s.metrics.revokes.WithLabelValues(revokeStatusLabel(rev.Status)).Inc()
	s.tellRevoked(ctx, m)
	return RevokeOutcome{Msg: m, RevokeResult: res}, nil
}

// Revoked makes m the revoke marker rev makes of it, as the store keeps
// it: the body cleared, the type kept (clients see it as
// originalMessageType).
func Revoked(m *Message, rev Revocation) {
	m.Text, m.Data, m.SearchedContent, m.PushConfig = "", nil, "", nil
	m.Revoke = &rev
}

// tellRevoked sends messageRevokeReceived to the live sessions of m's
// participants: both users of a peer conversation, the members of a group
// that see m (joined before it).
func (s *Service) tellRevoked(ctx context.Context, m *Message) {
	if m.ConvType != protocol.ConversationGroup {
		for _, u := range []string{m.Sender, m.Recipient} {
			s.router.GroupEvent(m.AppID, u, MessageRevoked{Viewer: u, Messages: []*Message{m}})
		}
		return
	}
	sn, err := s.group(ctx, m.AppID, m.Recipient)
	if err != nil {
		// The revoke is stored: members that are live now get it by
		// history and the conversation list.
		s.log.Warn("revoke: group not read for its event", "app", m.AppID, "group", m.Recipient, "err", err)
		return
	}
	for _, r := range sn.recips {
		if r.Floor < m.Seq {
			s.router.GroupEvent(m.AppID, r.UserID, MessageRevoked{Viewer: r.UserID, Messages: []*Message{m}})
		}
	}
}

// revokeStatusLabel names a revoke status in the metrics.
func revokeStatusLabel(st int) string {
	switch st {
	case protocol.RevokeStatusSelf:
		return "self"
	case protocol.RevokeStatusServerAPI:
		return "server_api"
	case protocol.RevokeStatusGroupAdmin:
		return "group_admin"
	case protocol.RevokeStatusGroupOwner:
		return "group_owner"
	}
	return "unknown"
}

// revokeFields is a revoked message's wire fields (nil when m is not
// revoked).
func revokeFields(m *Message) *protocol.RevokeFields {
	if m.Revoke == nil {
		return nil
	}
	r := m.Revoke
	return &protocol.RevokeFields{RevokeType: protocol.RevokeTypeTwoWay, RevokeStatus: r.Status,
		RevokeTimestamp: r.At.UnixMilli(), OperatedUserID: r.By, RevokeExtendedData: r.ExtendedData,
		OriginalMessageType: m.Type}
}
