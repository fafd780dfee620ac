package im

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/heraldim/herald/internal/protocol"
)

// Conversation notification status (ZIM setConversationNotificationStatus)
// and mentions. A user's status of a conversation is stored per user and
// conversation (NotifyStore) and applies to all its devices:
//
//   - Pushes: the status is read by the push planning statements
//     themselves (store/sqlstore plan.go), at every place a message's push
//     is planned — at the commit (planPush's PushUsers), a group's fan-out
//     pages (planGroupPush) and the late pushes of ended sessions
//     (late.go) — so that no planning path skips it: a recipient's device
//     gets no job for a message of a conversation it set to do-not-disturb
//     or mentions-only, unless the message's mention list names the
//     recipient or @all.
//   - Unread counts are not changed by the status; the badge
//     (push.Content.EnableBadge) leaves out the do-not-disturb ones.
//   - Every live session of the user gets conversationChanged with the
//     conversation and its new status; conversationList carries it for
//     sessions that were offline.

// NotifyStore is what notification statuses need from persistence; part
// of Store.
type NotifyStore interface {
	// SetNotifyStatus stores userID's notification status of conversation
	// convID (a canonical key: PeerConvID or GroupConvID), replacing the
	// one before.
	SetNotifyStatus(ctx context.Context, appID, userID, convID string, status int, at time.Time) error
}

// ConversationChanged is the event that tells the live sessions of a user
// that one of its conversations changed (conversationChanged on the
// wire). It travels with the group events (Router.GroupEvent), the one
// path of per-user events to every node's sessions.
type ConversationChanged struct {
	// UserID is the user whose conversation it is (the viewer of its last
	// message).
	UserID string
	// Conversation as the user's conversation list shows it. A
	// conversation without a message yet has its ID, type and status.
	Conversation Conversation
}

func (ConversationChanged) groupEvent() {}

// NotifyStatusRequest sets the caller's notification status of one of
// its conversations (ConversationID as seen by the caller: the peer's
// user ID, or the group ID).
type NotifyStatusRequest struct {
	Status         int
	ConversationID string
	ConvType       int
}

// NotifyStatusResult is what SetConversationNotificationStatus set.
type NotifyStatusResult struct {
	ConversationID string
	ConvType       int
	Status         int
}

// SetConversationNotificationStatus stores userID's notification status of
// a conversation and tells every live session of the user (the caller's
// too) with conversationChanged. A group conversation needs membership;
// mentions-only is for groups only (CodeInvalidNotifyStatus). A request
// that fails changes nothing.
func (s *Service) SetConversationNotificationStatus(ctx context.Context, appID, userID string, req NotifyStatusRequest) (NotifyStatusResult, error) {
	if perr := protocol.ValidNotifyStatus(req.Status, req.ConvType); perr != nil {
		if req.ConvType != protocol.ConversationPeer && req.ConvType != protocol.ConversationGroup {
			return NotifyStatusResult{}, protocol.Errorf(protocol.CodeInvalidConversation, "conversationType must be 0 (peer) or 2 (group)")
		}
		return NotifyStatusResult{}, perr
	}
	convID, _, err := s.ConvFor(ctx, appID, userID, req.ConversationID, req.ConvType)
	if err != nil {
		return NotifyStatusResult{}, err
	}
	return s.setNotifyStatus(ctx, appID, userID, convID, req)
}

func (s *Service) setNotifyStatus(ctx context.Context, appID, userID, convID string, req NotifyStatusRequest) (NotifyStatusResult, error) {
	if err := s.store.SetNotifyStatus(ctx, appID, userID, convID, req.Status, s.cfg.Now()); err != nil {
		return NotifyStatusResult{}, fmt.Errorf("im: set notification status: %w", err)
	}
	c, err := s.store.Conversation(ctx, appID, userID, convID)
	switch {
	case errors.Is(err, ErrNotFound):
		c = Conversation{ConvID: convID, ConvType: req.ConvType, PeerID: req.ConversationID}
	case err != nil:
		// Stored: the event goes without the last message rather than not
		// at all.
		s.log.Warn("reading a conversation for conversationChanged failed", "app", appID, "user", userID, "err", err)
		c = Conversation{ConvID: convID, ConvType: req.ConvType, PeerID: req.ConversationID}
	}
	c.NotifyStatus = req.Status
	s.router.GroupEvent(appID, userID, ConversationChanged{UserID: userID, Conversation: c})
	return NotifyStatusResult{ConversationID: req.ConversationID, ConvType: req.ConvType, Status: req.Status}, nil
}

// mentionHash adds m's mention list to its content hash; a message
// without one hashes as before mentions existed.
func mentionHash(field func([]byte), m *Message) {
	if len(m.MentionedUsers) == 0 && !m.MentionAll {
		return
	}
	field([]byte("mentions"))
	field([]byte(strconv.FormatBool(m.MentionAll)))
	for _, u := range m.MentionedUsers {
		field([]byte(u))
	}
}
