package admin

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/heraldim/herald/internal/im"
	"github.com/heraldim/herald/internal/protocol"
)

// Messages is what the server API's message endpoints need of the
// messaging core (im.Service).
type Messages interface {
	// SendAs sends a message as a user or the system; done is called once
	// the message is committed (see im.Service.SendAs).
	SendAs(ctx context.Context, from im.Sender, req *im.Outgoing, opts im.SendOptions, done func(im.SendResult, error)) error
	// Import stores another system's history (see im.Service.Import).
	Import(ctx context.Context, appID string, msgs []im.ImportMessage) ([]im.ImportResult, error)
}

// maxBatchUsers bounds the recipients of one batch send: each is its own
// message, committed in the same group commits as the others.
const maxBatchUsers = 100

// messageRoutes are the server API's message endpoints: send as a user or
// the system, send to many users, import history (revoking one: revoke.go).
func (h *Handler) messageRoutes() []route {
	const p = "/v1/apps/{appID}/messages"
	return []route{
		{"POST", p, h.sendMessage, []any{messageSendRequest{}}, protocol.SendReply{}},
		{"POST", p + "/batch", h.sendBatch, []any{messageBatchRequest{}}, messageResults{}},
		{"POST", p + "/import", h.importMessages, []any{messageImportRequest{}}, messageResults{}},
	}
}

// messageSender names who sends: a user (fromUserID) or, with system, the
// system (protocol.SystemUserID).
type messageSender struct {
	FromUserID string `json:"fromUserID,omitempty"`
	System     bool   `json:"system,omitempty"`
}

func (ms messageSender) check() error {
	switch {
	case ms.System && ms.FromUserID != "":
		return protocol.Errorf(protocol.CodeInvalidArgument, "give fromUserID or system, not both")
	case !ms.System && ms.FromUserID == "":
		return protocol.Errorf(protocol.CodeInvalidArgument, "give fromUserID, or system: true to send as the system")
	}
	return nil
}

// messageSendRequest is a send: the WebSocket send's fields, the sender,
// and whether the sender's own live sessions get the message.
type messageSendRequest struct {
	messageSender
	protocol.SendRequest
	// SyncToSender false keeps the message from the sender's live
	// sessions (default true).
	SyncToSender *bool `json:"syncToSender,omitempty"`
}

// messageBatchRequest sends one message to each of ToUserIDs (peer
// conversations). Recipient u's message has the local ID
// LocalMessageID + ":" + u.
type messageBatchRequest struct {
	messageSender
	ToUserIDs       []string             `json:"toUserIDs"`
	LocalMessageID  string               `json:"localMessageID"`
	Type            int                  `json:"type"`
	Text            string               `json:"text,omitempty"`
	Data            []byte               `json:"data,omitempty"`
	SubType         int                  `json:"subType,omitempty"`
	SearchedContent string               `json:"searchedContent,omitempty"`
	ExtendedData    string               `json:"extendedData,omitempty"`
	Priority        int                  `json:"priority,omitempty"`
	PushConfig      *protocol.PushConfig `json:"pushConfig,omitempty"`
	SyncToSender    *bool                `json:"syncToSender,omitempty"`
}

// maxBatchLocalID bounds a batch's localMessageID, so that each
// recipient's (batchLocalID) fits protocol.MaxLocalIDLen.
const maxBatchLocalID = 32

// batchLocalID is recipient u's local ID in a batch with local ID base:
// base:u, or when that is too long base: and as much of u's SHA-256 (hex)
// as fits. A retry of the batch gives every recipient the same one.
func batchLocalID(base, u string) string {
	if id := base + ":" + u; len(id) <= protocol.MaxLocalIDLen {
		return id
	}
	sum := sha256.Sum256([]byte(u))
	return (base + ":" + hex.EncodeToString(sum[:]))[:protocol.MaxLocalIDLen]
}

// messageImportRequest is a page of another system's history.
type messageImportRequest struct {
	Messages []importedMessage `json:"messages"`
}

// importedMessage is one message of it: the send fields, the original
// sender and the original time (Unix milliseconds).
type importedMessage struct {
	messageSender
	protocol.SendRequest
	Timestamp int64 `json:"timestamp"`
}

// messageResult is one message's outcome in a batch or an import: the
// stored message, or the error that refused it.
type messageResult struct {
	ToUserID        string          `json:"toUserID,omitempty"`
	MessageID       string          `json:"messageID,omitempty"`
	ConversationSeq int64           `json:"conversationSeq,omitempty"`
	Timestamp       int64           `json:"timestamp,omitempty"`
	Duplicate       bool            `json:"duplicate,omitempty"`
	Error           *protocol.Error `json:"error,omitempty"`
}

// messageResults answers a batch or an import, one result per message in
// the request's order.
type messageResults struct {
	Results []messageResult `json:"results"`
	// Stored counts the messages stored by this request; Duplicates those
	// stored before (retries); Failed the refused ones.
	Stored     int `json:"stored"`
	Duplicates int `json:"duplicates"`
	Failed     int `json:"failed"`
}

func (rs *messageResults) add(r messageResult) {
	switch {
	case r.Error != nil:
		rs.Failed++
	case r.Duplicate:
		rs.Duplicates++
	default:
		rs.Stored++
	}
	rs.Results = append(rs.Results, r)
}

func (h *Handler) messages() (Messages, error) {
	if h.d.Messages == nil {
		return nil, protocol.Errorf(protocol.CodeUnavailable, "messaging is not running")
	}
	return h.d.Messages, nil
}

// sent is a send's outcome as its done callback gives it.
type sent struct {
	res im.SendResult
	err error
}

// sendOne submits one message and returns a channel that gets its outcome.
func sendOne(ctx context.Context, svc Messages, from im.Sender, req *protocol.SendRequest, opts im.SendOptions) (<-chan sent, error) {
	ch := make(chan sent, 1)
	o := im.OutgoingFrom(req)
	err := svc.SendAs(ctx, from, &o, opts, func(r im.SendResult, err error) { ch <- sent{r, err} })
	if err != nil {
		return nil, err
	}
	return ch, nil
}

// wait waits for a send's outcome. The message is durable once it comes:
// a client that gives up before may retry with the same localMessageID.
func wait(ctx context.Context, ch <-chan sent) (sent, error) {
	select {
	case s := <-ch:
		return s, nil
	case <-ctx.Done():
		return sent{}, fmt.Errorf("admin: waiting for the commit: %w", ctx.Err())
	}
}

func messageReply(r im.SendResult) protocol.SendReply {
	return protocol.SendReply{
		MessageID:       strconv.FormatInt(r.Msg.ID, 10),
		ConversationSeq: r.Msg.Seq,
		Timestamp:       r.Msg.CreatedAt.UnixMilli(),
		Duplicate:       r.Duplicate,
	}
}

// sendMessage sends one message as a user or the system, to a user or a
// group, and answers once it is committed.
func (h *Handler) sendMessage(w http.ResponseWriter, r *http.Request, app im.App) error {
	svc, err := h.messages()
	if err != nil {
		return err
	}
	var req messageSendRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	if err := req.messageSender.check(); err != nil {
		return err
	}
	opts := im.SendOptions{System: req.System, NoSenderSessions: req.SyncToSender != nil && !*req.SyncToSender}
	ch, err := sendOne(r.Context(), svc, im.Sender{AppID: app.ID, UserID: req.FromUserID}, &req.SendRequest, opts)
	if err != nil {
		return err
	}
	s, err := wait(r.Context(), ch)
	if err != nil {
		return err
	}
	if s.err != nil {
		return s.err
	}
	writeJSON(w, http.StatusOK, messageReply(s.res))
	return nil
}

// sendBatch sends one message to each of up to maxBatchUsers users, each
// its own message in its own peer conversation. A body that cannot be
// sent to anyone fails the request; a recipient that cannot get it has
// its error in its result.
func (h *Handler) sendBatch(w http.ResponseWriter, r *http.Request, app im.App) error {
	svc, err := h.messages()
	if err != nil {
		return err
	}
	var req messageBatchRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	if err := req.messageSender.check(); err != nil {
		return err
	}
	if len(req.ToUserIDs) == 0 || len(req.ToUserIDs) > maxBatchUsers {
		return protocol.Errorf(protocol.CodeInvalidArgument, "toUserIDs must name 1 to %d users", maxBatchUsers)
	}
	if req.Type == protocol.MessageCommand {
		return protocol.Errorf(protocol.CodeInvalidMessageType, "a batch sends stored messages: not commands")
	}
	users := dedupe(req.ToUserIDs)
	if len(users) != len(req.ToUserIDs) {
		return protocol.Errorf(protocol.CodeInvalidArgument, "toUserIDs names a user twice")
	}
	body := protocol.SendRequest{
		ConversationType: protocol.ConversationPeer, LocalMessageID: req.LocalMessageID,
		Type: req.Type, Text: req.Text, Data: req.Data, SubType: req.SubType, SearchedContent: req.SearchedContent,
		ExtendedData: req.ExtendedData, Priority: req.Priority, PushConfig: req.PushConfig,
	}
	// The body is judged once, for a stand-in recipient: a bad body is
	// the request's error, and nothing is sent.
	probe := body
	probe.ConversationID = "x"
	if perr := protocol.ValidateSend(&probe); perr != nil {
		return perr
	}
	if len(req.LocalMessageID) > maxBatchLocalID {
		return protocol.Errorf(protocol.CodeInvalidArgument, "a batch's localMessageID is at most %d characters", maxBatchLocalID)
	}
	opts := im.SendOptions{System: req.System, NoSenderSessions: req.SyncToSender != nil && !*req.SyncToSender}
	from := im.Sender{AppID: app.ID, UserID: req.FromUserID}
	results := make([]messageResult, len(users))
	waits := make([]<-chan sent, len(users))
	for i, u := range users {
		results[i].ToUserID = u
		one := body
		one.ConversationID = u
		one.LocalMessageID = batchLocalID(req.LocalMessageID, u)
		ch, err := sendOne(r.Context(), svc, from, &one, opts)
		if err != nil {
			var pe *protocol.Error
			if !errors.As(err, &pe) {
				return err
			}
			results[i].Error = pe
			continue
		}
		waits[i] = ch
	}
	var out messageResults
	for i, ch := range waits {
		if ch != nil {
			s, err := wait(r.Context(), ch)
			if err != nil {
				return err
			}
			if s.err != nil {
				results[i].Error = protocol.AsError(s.err)
			} else {
				rep := messageReply(s.res)
				results[i].MessageID, results[i].ConversationSeq = rep.MessageID, rep.ConversationSeq
				results[i].Timestamp, results[i].Duplicate = rep.Timestamp, rep.Duplicate
			}
		}
		out.add(results[i])
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// importMessages stores a page of another system's history: in the order
// given, with the original senders and times, without push, live delivery
// or unread counts.
func (h *Handler) importMessages(w http.ResponseWriter, r *http.Request, app im.App) error {
	svc, err := h.messages()
	if err != nil {
		return err
	}
	var req messageImportRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	if len(req.Messages) == 0 || len(req.Messages) > im.MaxImportBatch {
		return protocol.Errorf(protocol.CodeInvalidArgument, "messages must hold 1 to %d messages", im.MaxImportBatch)
	}
	in := make([]im.ImportMessage, len(req.Messages))
	pre := make([]*protocol.Error, len(req.Messages))
	for i, m := range req.Messages {
		if err := m.messageSender.check(); err != nil {
			pre[i] = protocol.AsError(err)
		}
		in[i] = im.ImportMessage{Sender: m.FromUserID, System: m.System, Request: im.OutgoingFrom(&m.SendRequest)}
		if m.Timestamp > 0 {
			in[i].At = time.UnixMilli(m.Timestamp)
		}
	}
	// A message refused here goes to the store as nothing: drop it from
	// what Import sees, keeping the others' order.
	var send []im.ImportMessage
	var idx []int
	for i := range in {
		if pre[i] == nil {
			send = append(send, in[i])
			idx = append(idx, i)
		}
	}
	res := make([]im.ImportResult, len(in))
	for i, pe := range pre {
		if pe != nil {
			res[i].Err = pe
		}
	}
	if len(send) > 0 {
		got, err := svc.Import(r.Context(), app.ID, send)
		if err != nil {
			return err
		}
		for j, g := range got {
			res[idx[j]] = g
		}
	}
	out := messageResults{Results: make([]messageResult, 0, len(res))}
	for _, g := range res {
		var mr messageResult
		if g.Err != nil {
			mr.Error = protocol.AsError(g.Err)
		} else {
			mr.MessageID = strconv.FormatInt(g.Msg.ID, 10)
			mr.ConversationSeq, mr.Timestamp, mr.Duplicate = g.Msg.Seq, g.Msg.CreatedAt.UnixMilli(), g.Duplicate
		}
		out.add(mr)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
