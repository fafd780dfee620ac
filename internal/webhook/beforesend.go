package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/heraldim/herald/internal/im"
	"github.com/heraldim/herald/internal/protocol"
)

// BeforeSendRequest is the body the before-send hook receives.
type BeforeSendRequest struct {
	AppID            string            `json:"appID"`
	From             string            `json:"from"`
	To               string            `json:"to"`
	ConversationType int               `json:"conversationType"`
	Message          BeforeSendMessage `json:"message"`
}

// BeforeSendMessage is the message as the client sent it.
type BeforeSendMessage struct {
	LocalMessageID  string `json:"localMessageID,omitempty"`
	Type            int    `json:"type"`
	SubType         int    `json:"subType"`
	Text            string `json:"text,omitempty"`
	Data            []byte `json:"data,omitempty"`
	SearchedContent string `json:"searchedContent,omitempty"`
	ExtendedData    string `json:"extendedData,omitempty"`
	Priority        int    `json:"priority,omitempty"`
}

// BeforeSendReply is the hook's answer. Action is "allow", "deny" or
// "modify"; Message (for modify) replaces the fields it has; Reason (for
// deny) is told to the sender.
type BeforeSendReply struct {
	Action  string        `json:"action"`
	Message *ModifiedBody `json:"message,omitempty"`
	Reason  string        `json:"reason,omitempty"`
	Code    int           `json:"code,omitempty"`
}

// ModifiedBody holds the fields a modify answer replaces; absent ones stay.
type ModifiedBody struct {
	Text            *string `json:"text,omitempty"`
	Data            []byte  `json:"data,omitempty"`
	SubType         *int    `json:"subType,omitempty"`
	SearchedContent *string `json:"searchedContent,omitempty"`
	ExtendedData    *string `json:"extendedData,omitempty"`
}

// maxReason bounds the deny reason passed to the sender.
const maxReason = 200

// BeforeSend runs the app's before-send hook, if it has one, on a client's
// message from the user from: nil to store req (possibly modified in
// place), or a *protocol.Error to refuse it (message_rejected when the
// hook denied, message_not_moderated when it failed and the app fails
// closed). A failure is a timeout, a transport error, a non-2xx status,
// an answer that is not of the documented shape, or a modification that
// does not validate as a send.
func (s *Service) BeforeSend(ctx context.Context, appID, from string, req *im.Outgoing) error {
	c, ok := s.config(appID)
	if !ok || c.BeforeSendURL == "" || !c.Enabled {
		return nil
	}
	reply, err := s.callBeforeSend(ctx, c, from, req)
	if err == nil {
		switch reply.Action {
		case "allow":
			s.metrics.beforeSend.WithLabelValues("allow").Inc()
			return nil
		case "deny":
			s.metrics.beforeSend.WithLabelValues("deny").Inc()
			reason := reply.Reason
			if len(reason) > maxReason {
				reason = reason[:maxReason]
			}
			if reply.Code != 0 {
				reason = fmt.Sprintf("rejected (%d): %s", reply.Code, reason)
			}
			if reason == "" {
				return protocol.Errorf(protocol.CodeMessageRejected, "")
			}
			return protocol.Errorf(protocol.CodeMessageRejected, "%s", reason)
		case "modify":
			m := *req
			if b := reply.Message; b != nil {
				if b.Text != nil {
					m.Text = *b.Text
				}
				if b.Data != nil {
					m.Data = b.Data
				}
				if b.SubType != nil {
					m.SubType = *b.SubType
				}
				if b.SearchedContent != nil {
					m.SearchedContent = *b.SearchedContent
				}
				if b.ExtendedData != nil {
					m.ExtendedData = *b.ExtendedData
				}
			}
			if perr := m.Validate(); perr != nil {
				err = fmt.Errorf("modified message invalid: %s", perr.Message)
				break
			}
			s.metrics.beforeSend.WithLabelValues("modify").Inc()
			*req = m
			return nil
		default:
			err = fmt.Errorf("unknown action %q", reply.Action)
		}
	}
	if c.FailOpen {
		s.metrics.beforeSend.WithLabelValues("fail_open").Inc()
		s.log.Warn("before-send hook failed; message stored unmoderated (fail open)", "app", appID, "err", err)
		return nil
	}
	s.metrics.beforeSend.WithLabelValues("fail_closed").Inc()
	s.log.Warn("before-send hook failed; message refused (fail closed)", "app", appID, "err", err)
	return protocol.Errorf(protocol.CodeMessageNotModerated, "")
}

func (s *Service) callBeforeSend(ctx context.Context, c Config, from string, req *im.Outgoing) (BeforeSendReply, error) {
	var reply BeforeSendReply
	b, err := json.Marshal(BeforeSendRequest{AppID: c.AppID, From: from, To: req.ConversationID, ConversationType: req.ConvType,
		Message: BeforeSendMessage{LocalMessageID: req.LocalID, Type: req.Type, SubType: req.SubType, Text: req.Text, Data: req.Data,
			SearchedContent: req.SearchedContent, ExtendedData: req.ExtendedData, Priority: req.Priority}})
	if err != nil {
		return reply, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.BeforeSendTimeout)
	defer cancel()
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, c.BeforeSendURL, bytes.NewReader(b))
	if err != nil {
		return reply, err
	}
	hreq.Header.Set("Content-Type", "application/json")
	hreq.Header.Set("User-Agent", "Herald-Webhook/1")
	hreq.Header.Set(HeaderEvent, "message.before_send")
	hreq.Header.Set(HeaderSignature, Sign(c.Secret, s.opt.Now(), b))
	resp, err := s.client.Do(hreq)
	if err != nil {
		return reply, err
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return reply, errors.New("HTTP " + strconv.Itoa(resp.StatusCode))
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, protocol.MaxFrameBytes)).Decode(&reply); err != nil {
		return reply, fmt.Errorf("answer is not JSON of the documented shape: %w", err)
	}
	return reply, nil
}
