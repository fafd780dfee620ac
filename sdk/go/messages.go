package herald

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/heraldim/herald/internal/protocol"
)

// SendMessage sends msg to a conversation: for a peer conversation,
// toConversationID is the receiving user's ID. It returns once the server
// stored the message (command messages: once it accepted it), with the
// server's fields filled in: MessageID, ConversationSeq, Timestamp,
// SenderUserID, and Priority (zero becomes medium).
//
// When msg has no LocalMessageID, SendMessage generates one. The message is
// returned with it even on error, so that a caller unsure whether the
// message was stored (ErrDisconnected, a timeout) can send it again: the
// server stores a message once per sender and LocalMessageID.
//
// A send over the server's message rate is refused with CodeRateLimited
// before anything is stored, with the time after which one send will pass.
// SendMessage waits that long (not its reconnect backoff) and sends the
// same LocalMessageID again, as often as the wait still ends within
// RequestTimeout of the call and before ctx's deadline; then it returns the
// *Error, whose RetryAfter tells when to try again.
func (c *Client) SendMessage(ctx context.Context, msg Message, toConversationID string, convType ConversationType, cfg MessageSendConfig) (Message, error) {
	if msg.LocalMessageID == "" {
		msg.LocalMessageID = newLocalID()
	}
	msg.ConversationID, msg.ConversationType = toConversationID, convType
	msg.Priority = cfg.Priority
	if msg.Priority == 0 {
		msg.Priority = MessagePriorityMedium
	}
	req := protocol.SendRequest{
		ConversationID:   toConversationID,
		ConversationType: int(convType),
		LocalMessageID:   msg.LocalMessageID,
		Type:             int(msg.Type),
		Text:             msg.Text,
		Data:             msg.Data,
		SubType:          msg.SubType,
		SearchedContent:  msg.SearchedContent,
		ExtendedData:     msg.ExtendedData,
		Priority:         int(cfg.Priority),
		MentionedUserIDs: msg.MentionedUserIDs,
		IsMentionAll:     msg.IsMentionAll,
	}
	if pc := cfg.PushConfig; pc != nil {
		req.PushConfig = &protocol.PushConfig{Title: pc.Title, Content: pc.Content, Payload: pc.Payload, ResourcesID: pc.ResourcesID,
			EnableBadge: pc.EnableBadge, BadgeIncrement: pc.BadgeIncrement}
	}
	k := convKey{toConversationID, convType}
	deadline := time.Now().Add(c.cfg.RequestTimeout)
	var f protocol.Frame
	for {
		s, userID, err := c.current()
		if err != nil {
			return msg, fmt.Errorf("herald: send message: %w", err)
		}
		msg.SenderUserID = userID
		f, err = s.request(ctx, protocol.TypeSend, req, func(f protocol.Frame) {
			if f.Error != nil {
				return
			}
			var r protocol.SendReply
			if json.Unmarshal(f.Data, &r) == nil && r.ConversationSeq > 0 {
				c.ownSent(k, r.ConversationSeq)
			}
		})
		if err == nil {
			break
		}
		wait := sendRetryWait(ctx, err, deadline)
		if wait <= 0 {
			return msg, fmt.Errorf("herald: send message: %w", err)
		}
		c.log.Info("herald: send over the rate limit; sending again after the server's retryAfter",
			"localMessageID", msg.LocalMessageID, "retryAfter", wait)
		if !sleepCtx(ctx.Done(), wait) {
			return msg, fmt.Errorf("herald: send message: %w", err)
		}
		c.log.Debug("herald: sending again after the rate limit", "localMessageID", msg.LocalMessageID)
	}
	var r protocol.SendReply
	if err := json.Unmarshal(f.Data, &r); err != nil {
		return msg, fmt.Errorf("herald: send message: reply: %w", err)
	}
	msg.MessageID = r.MessageID
	msg.ConversationSeq = r.ConversationSeq
	msg.Timestamp = fromMillis(r.Timestamp)
	return msg, nil
}

// sendRetryWait returns how long to wait before sending again a send that
// failed with err: the server's retryAfter of a CodeRateLimited refusal
// (nothing was stored), when waiting it ends before deadline and ctx's
// deadline; 0 when the send is not to be repeated.
func sendRetryWait(ctx context.Context, err error, deadline time.Time) time.Duration {
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeRateLimited || e.RetryAfter <= 0 {
		return 0
	}
	end := time.Now().Add(e.RetryAfter)
	if d, ok := ctx.Deadline(); ok && end.After(d) {
		return 0
	}
	if end.After(deadline) {
		return 0
	}
	return e.RetryAfter
}

// QueryHistoryMessage returns a page of a conversation's stored messages,
// newest first. Pass the page's last (oldest) message as
// config.NextMessage to get the page before it; a page shorter than
// config.Count is the last one. With config.Reverse it pages forward from
// the first message instead, oldest first: pass the page's last (newest)
// message as config.NextMessage to get the page after it. A group member
// sees only the messages sent after it joined, in both directions.
func (c *Client) QueryHistoryMessage(ctx context.Context, conversationID string, convType ConversationType, config HistoryQueryConfig) ([]Message, error) {
	req := protocol.HistoryRequest{ConversationID: conversationID, ConversationType: int(convType), Count: config.Count}
	if config.Reverse {
		var after int64
		if config.NextMessage != nil {
			after = config.NextMessage.ConversationSeq
		}
		req.AfterSeq = &after
	} else if config.NextMessage != nil {
		if config.NextMessage.ConversationSeq <= 1 {
			return nil, nil // nothing precedes the first message
		}
		req.BeforeSeq = config.NextMessage.ConversationSeq
	}
	var r protocol.HistoryReply
	if err := c.call(ctx, protocol.TypeHistory, req, &r); err != nil {
		return nil, fmt.Errorf("herald: query history: %w", err)
	}
	out := make([]Message, len(r.Messages))
	for i, m := range r.Messages {
		out[i] = messageFromWire(m)
	}
	return out, nil
}

// QueryConversationList returns a page of the user's conversations, most
// recently active first. Pass the page's last conversation as
// config.NextConversation to get the next page; a page shorter than
// config.Count is the last one.
func (c *Client) QueryConversationList(ctx context.Context, config ConversationQueryConfig) ([]Conversation, error) {
	req := protocol.ConversationListRequest{Count: config.Count}
	if config.NextConversation != nil {
		req.Before = protocol.OrderKey(config.NextConversation.OrderKey)
	}
	var r protocol.ConversationListReply
	if err := c.call(ctx, protocol.TypeConversationList, req, &r); err != nil {
		return nil, fmt.Errorf("herald: query conversation list: %w", err)
	}
	out := make([]Conversation, len(r.Conversations))
	for i, cv := range r.Conversations {
		out[i] = conversationFromWire(cv)
	}
	return out, nil
}

// ClearConversationUnreadMessageCount marks every message of a conversation
// read.
func (c *Client) ClearConversationUnreadMessageCount(ctx context.Context, conversationID string, convType ConversationType) error {
	req := protocol.MarkReadRequest{ConversationID: conversationID, ConversationType: int(convType)}
	var r protocol.MarkReadReply
	if err := c.call(ctx, protocol.TypeMarkRead, req, &r); err != nil {
		return fmt.Errorf("herald: clear unread count: %w", err)
	}
	return nil
}

// RenewToken replaces the login's token with a fresher one for the same
// user, typically on EventHandler.TokenWillExpire. While the Client is
// reconnecting the token is kept for the next attempt.
func (c *Client) RenewToken(ctx context.Context, token string) error {
	if token == "" {
		return &Error{Code: CodeTokenInvalid, Message: "token is empty"}
	}
	s, _, err := c.current()
	if errors.Is(err, ErrDisconnected) {
		c.mu.Lock()
		c.token = token
		c.mu.Unlock()
		return nil
	}
	if err != nil {
		return fmt.Errorf("herald: renew token: %w", err)
	}
	if _, err := s.request(ctx, protocol.TypeRenewToken, protocol.RenewTokenRequest{Token: token}, nil); err != nil {
		return fmt.Errorf("herald: renew token: %w", err)
	}
	c.mu.Lock()
	c.token = token
	c.mu.Unlock()
	return nil
}

// call sends a request on the current session and decodes its reply into
// reply (nil: the reply's payload is ignored).
func (c *Client) call(ctx context.Context, typ string, req, reply any) error {
	s, _, err := c.current()
	if err != nil {
		return err
	}
	f, err := s.request(ctx, typ, req, nil)
	if err != nil {
		return err
	}
	if reply == nil || len(f.Data) == 0 {
		return nil
	}
	if err := json.Unmarshal(f.Data, reply); err != nil {
		return fmt.Errorf("reply: %w", err)
	}
	return nil
}

// newLocalID returns a random local message ID (32 hex characters).
func newLocalID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
