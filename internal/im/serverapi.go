package im

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/heraldim/herald/internal/protocol"
	"github.com/heraldim/herald/internal/route"
)

// SendOptions are the choices of a send by the app's server (SendAs).
type SendOptions struct {
	// System sends as the system (protocol.SystemUserID) instead of
	// Sender.UserID: a group send needs no membership, and clients see
	// the message with system: true.
	System bool
	// NoSenderSessions keeps the message from the sender's live sessions
	// (the server API's syncToSender off). It is still part of the
	// conversation: a device of the sender that syncs or reads history
	// gets it.
	NoSenderSessions bool
}

// SendAs sends a message for the app's server: as from.UserID, which need
// never have logged in, or as the system. It is Send with what the
// WebSocket does not allow: no session (origin is route.NoSession, so every live
// session of the participants gets the message), a system sender, and
// opts. Validation is Send's; a user's group send needs membership, a
// system one only a live group. done is called as for Send.
func (s *Service) SendAs(ctx context.Context, from Sender, req *Outgoing, opts SendOptions, done func(SendResult, error)) error {
	if err := req.Validate(); err != nil {
		return err
	}
	if opts.System {
		from.UserID = protocol.SystemUserID
	} else if err := checkSender(from.UserID); err != nil {
		return err
	}
	convID, err := s.serverConv(ctx, from, req, opts.System)
	if err != nil {
		return err
	}
	return s.submit(ctx, from, req, convID, route.NoSession, opts, done)
}

// checkSender refuses a user ID the server API cannot send as.
func checkSender(userID string) error {
	switch {
	case userID == protocol.SystemUserID:
		return protocol.Errorf(protocol.CodeReservedUserID, "send as the system with \"system\": true, not as %s", protocol.SystemUserID)
	case !protocol.ValidUserID(userID):
		return protocol.Errorf(protocol.CodeInvalidUserID, "fromUserID is not a valid user ID")
	}
	return nil
}

// serverConv returns the conversation key of a server API message from
// from: a group must exist and live, and (but for the system) have the
// sender as a member.
func (s *Service) serverConv(ctx context.Context, from Sender, req *Outgoing, system bool) (string, error) {
	if req.ConvType == protocol.ConversationGroup {
		if system {
			sn, err := s.group(ctx, from.AppID, req.ConversationID)
			if err != nil {
				return "", err
			}
			if !sn.group.DismissedAt.IsZero() {
				return "", protocol.Errorf(protocol.CodeGroupDismissed, "")
			}
		} else if _, _, err := s.memberOf(ctx, from.AppID, from.UserID, req.ConversationID); err != nil {
			return "", err
		}
		return GroupConvID(req.ConversationID), nil
	}
	if req.ConversationID == from.UserID {
		return "", protocol.Errorf(protocol.CodeInvalidConversation, "cannot send a message to yourself")
	}
	return PeerConvID(from.UserID, req.ConversationID), nil
}

// routed returns the members a group message is routed to: all of them,
// or all but its sender for a message kept from the sender's sessions.
func routed(recips []Recipient, m *Message) []Recipient {
	if !m.SkipSender {
		return recips
	}
	out := make([]Recipient, 0, len(recips))
	for _, r := range recips {
		if r.UserID != m.Sender {
			out = append(out, r)
		}
	}
	return out
}

// routePeer hands a peer message to its participants' live sessions but
// origin: the recipient's only when it is kept from the sender's.
func (s *Service) routePeer(m *Message, origin route.SessionID) {
	if m.SkipSender {
		s.router.RouteGroup(m, []Recipient{{UserID: m.Recipient}}, origin)
		return
	}
	s.router.Route(m, origin)
}

// MaxImportBatch is the most messages one Import takes: they are written
// in one transaction, which holds the store's one writer.
const MaxImportBatch = 500

// importFuture is how far ahead of the server's clock an imported
// timestamp may be (clock skew between the systems).
const importFuture = time.Minute

// ImportMessage is one message of another system's history.
type ImportMessage struct {
	// Sender is the original sender's user ID; ignored with System.
	Sender string
	System bool
	// Request is the message as a send would carry it. A push config and
	// the command type are refused: history is neither pushed nor routed.
	Request Outgoing
	// At is the original send time, kept as the message's timestamp.
	At time.Time
}

// ImportResult is the outcome of one imported message: Err is set (a
// *protocol.Error) when it was refused, Msg otherwise.
type ImportResult struct {
	Msg       *Message
	Duplicate bool
	Err       error
}

// Import stores history from another system, in the order given (each
// message after the ones before it in its conversation: seq order is the
// truth, original timestamps are kept as they are). Imported messages are
// never pushed, never routed to live sessions and not counted unread (a
// group member that had read everything still has); they are in history
// and conversation lists, and devices that did not acknowledge them get
// them at their next sync, as offline messages. A message whose
// localMessageID its sender stored before is a duplicate (or a conflict)
// and is not stored again. Refused messages get their error in their
// result and do not stop the others; a store failure fails the whole call
// and stores nothing.
func (s *Service) Import(ctx context.Context, appID string, msgs []ImportMessage) ([]ImportResult, error) {
	if len(msgs) == 0 || len(msgs) > MaxImportBatch {
		return nil, protocol.Errorf(protocol.CodeInvalidArgument, "give 1 to %d messages", MaxImportBatch)
	}
	res := make([]ImportResult, len(msgs))
	var batch []*Message
	var at []int // index in msgs of each message of batch
	latest := s.cfg.Now().Add(importFuture)
	for i := range msgs {
		m, err := s.importMessage(ctx, appID, &msgs[i], latest)
		if err != nil {
			if protocol.AsError(err).Code == protocol.CodeInternal {
				return nil, err
			}
			res[i].Err = err
			continue
		}
		batch = append(batch, m)
		at = append(at, i)
	}
	if len(batch) == 0 {
		return res, nil
	}
	var (
		out []AppendResult
		err error
	)
	for attempt := 0; ; attempt++ {
		out, err = s.store.AppendMessages(ctx, batch)
		if err == nil || !errors.Is(err, ErrBusy) || attempt == 3 || ctx.Err() != nil {
			break
		}
		time.Sleep(time.Duration(attempt+1) * 20 * time.Millisecond)
	}
	if err != nil {
		return nil, fmt.Errorf("im: import: %w", err)
	}
	for j, r := range out {
		m, i := batch[j], at[j]
		switch {
		case r.Conflict:
			res[i].Err = protocol.Errorf(protocol.CodeLocalIDConflict, "")
		case r.Duplicate:
			m.ID, m.Seq, m.CreatedAt = r.ID, r.Seq, r.CreatedAt
			s.metrics.duplicates.Inc()
			res[i] = ImportResult{Msg: m, Duplicate: true}
		default:
			m.Seq = r.Seq
			s.known.note(convRef{m.AppID, m.ConvID}, r.Seq)
			s.metrics.messages.Inc()
			res[i] = ImportResult{Msg: m}
		}
	}
	return res, nil
}

// importMessage validates one imported message and builds it. Its errors
// are *protocol.Error but for store failures.
func (s *Service) importMessage(ctx context.Context, appID string, in *ImportMessage, latest time.Time) (*Message, error) {
	req := &in.Request
	if err := req.Validate(); err != nil {
		return nil, err
	}
	switch {
	case req.Type == protocol.MessageCommand:
		return nil, protocol.Errorf(protocol.CodeInvalidMessageType, "command messages are never stored: they cannot be imported")
	case req.PushConfig != nil:
		return nil, protocol.Errorf(protocol.CodeInvalidPushConfig, "imported messages are never pushed: give no pushConfig")
	case in.At.IsZero() || in.At.UnixMilli() <= 0:
		return nil, protocol.Errorf(protocol.CodeInvalidTimestamp, "timestamp (Unix milliseconds of the original send) is required")
	case in.At.After(latest):
		return nil, protocol.Errorf(protocol.CodeInvalidTimestamp, "timestamp is in the future")
	}
	from := Sender{AppID: appID, UserID: in.Sender}
	if in.System {
		from.UserID = protocol.SystemUserID
	} else if err := checkSender(in.Sender); err != nil {
		return nil, err
	}
	var convID string
	if req.ConvType == protocol.ConversationGroup {
		// Former members' history is history too: no membership asked.
		sn, err := s.group(ctx, appID, req.ConversationID)
		if err != nil {
			return nil, err
		}
		if !sn.group.DismissedAt.IsZero() {
			return nil, protocol.Errorf(protocol.CodeGroupDismissed, "")
		}
		convID = GroupConvID(req.ConversationID)
	} else {
		c, err := s.serverConv(ctx, from, req, in.System)
		if err != nil {
			return nil, err
		}
		convID = c
	}
	m := newMessage(appID, convID, from.UserID, req)
	m.Quiet = true
	m.ContentHash = contentHash(m)
	m.ID, _ = s.ids.Next()
	m.CreatedAt = in.At.Truncate(time.Millisecond)
	return m, nil
}
