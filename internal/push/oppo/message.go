package oppo

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/heraldim/herald/internal/push"
)

// wireMessage is the unicast "message" JSON string.
type wireMessage struct {
	TargetType   int              `json:"target_type"`
	TargetValue  string           `json:"target_value"`
	Notification wireNotification `json:"notification"`
}

// wireNotification holds the notification fields Herald sets, in OPPO's
// snake_case (the parameter reference's spelling).
type wireNotification struct {
	Title                string `json:"title"`
	Content              string `json:"content"`
	ClickActionType      int    `json:"click_action_type"`
	ActionParameters     string `json:"action_parameters,omitempty"`
	ChannelID            string `json:"channel_id,omitempty"`
	Category             string `json:"category,omitempty"`
	NotifyLevel          int    `json:"notify_level,omitempty"`
	PrivateMsgTemplateID string `json:"private_msg_template_id,omitempty"`
	AppMessageID         string `json:"app_message_id,omitempty"`
	NotifyID             int    `json:"notify_id,omitempty"`
	OffLine              bool   `json:"off_line"`
	OffLineTTL           int64  `json:"off_line_ttl,omitempty"`
}

// targetRegistrationID is target_type 2: a registration ID.
const targetRegistrationID = 2

// buildMessage checks n and returns the unicast message JSON string.
func (p *Provider) buildMessage(n push.Notification, now time.Time) (string, error) {
	switch n.Kind {
	case push.KindAlert, "":
	case push.KindData, push.KindVoIP:
		return "", fmt.Errorf("oppo: kind %q: %w: %w", n.Kind, push.ErrInvalidNotification, errDataKind)
	default:
		return "", fmt.Errorf("oppo: unknown kind %q: %w", n.Kind, push.ErrInvalidNotification)
	}
	if n.Token == "" {
		return "", fmt.Errorf("oppo: empty registration ID: %w", push.ErrInvalidNotification)
	}
	if n.Title == "" || n.Content == "" {
		return "", fmt.Errorf("oppo: title and content are required: %w", push.ErrInvalidNotification)
	}
	if c := utf8.RuneCountInString(n.Title); c > MaxTitleRunes {
		return "", fmt.Errorf("oppo: title of %d characters (max %d): %w", c, MaxTitleRunes, push.ErrPayloadTooLarge)
	}
	if c := utf8.RuneCountInString(n.Content); c > MaxContentRunes {
		return "", fmt.Errorf("oppo: content of %d characters (max %d): %w", c, MaxContentRunes, push.ErrPayloadTooLarge)
	}
	var ttl int64
	if !n.Expiration.IsZero() {
		left := n.Expiration.Sub(now)
		if left < time.Second {
			return "", fmt.Errorf("oppo: expired %s ago: %w", -left.Round(time.Millisecond), push.ErrExpired)
		}
		ttl = int64(min(left, MaxOffLineTTL) / time.Second)
	}
	params, err := actionParameters(n)
	if err != nil {
		return "", err
	}
	ch := n.ChannelID
	if ch == "" {
		ch = p.channelID
	}
	m := wireMessage{
		TargetType:  targetRegistrationID,
		TargetValue: n.Token,
		Notification: wireNotification{
			Title:                n.Title,
			Content:              n.Content,
			ActionParameters:     params,
			ChannelID:            ch,
			Category:             p.category,
			NotifyLevel:          p.notifyLevel,
			PrivateMsgTemplateID: p.templateID,
			AppMessageID:         n.ID,
			NotifyID:             notifyID(n.CollapseID),
			OffLine:              true,
			OffLineTTL:           ttl,
		},
	}
	b, err := compactJSON(m)
	if err != nil {
		return "", fmt.Errorf("oppo: encoding the message: %w", err)
	}
	return string(b), nil
}

// notifyID is OPPO's notify_id for a collapse ID (a shown notification of
// the same notify_id is replaced); 0 (none sent) without one. A hash that
// comes out 0 becomes 1: 0 is "no notify_id" on the wire.
func notifyID(collapseID string) int {
	if collapseID == "" {
		return 0
	}
	return max(push.NumericCollapseID(collapseID), 1)
}

// actionParameters returns the action_parameters JSON object (as a
// string) with Payload, ID and Extra; "" when there is nothing to carry.
func actionParameters(n push.Notification) (string, error) {
	if n.Payload == "" && n.ID == "" && len(n.Extra) == 0 {
		return "", nil
	}
	m := make(map[string]string, len(n.Extra)+2)
	for k, v := range n.Extra {
		if k == "" || k == ParamPayload || k == ParamPushID {
			return "", fmt.Errorf("oppo: extra key %q is empty or Herald's: %w", k, push.ErrInvalidNotification)
		}
		m[k] = v
	}
	if n.Payload != "" {
		m[ParamPayload] = n.Payload
	}
	if n.ID != "" {
		m[ParamPushID] = n.ID
	}
	b, err := compactJSON(m)
	if err != nil {
		return "", fmt.Errorf("oppo: encoding action_parameters: %w", err)
	}
	if len(b) > MaxActionParametersBytes {
		return "", fmt.Errorf("oppo: action_parameters of %d bytes (max %d): %w", len(b), MaxActionParametersBytes, push.ErrPayloadTooLarge)
	}
	return string(b), nil
}

// compactJSON encodes v without HTML escaping (OPPO counts the bytes sent;
// "<" as \u003c would cost five more).
func compactJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}
