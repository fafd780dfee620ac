package huawei

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/heraldim/herald/internal/push"
)

// sendRequest is the body of messages:send.
type sendRequest struct {
	ValidateOnly bool        `json:"validate_only"`
	Message      wireMessage `json:"message"`
}

type wireMessage struct {
	Data    string       `json:"data,omitempty"`
	Android *wireAndroid `json:"android,omitempty"`
	Token   []string     `json:"token"`
}

type wireAndroid struct {
	Urgency      string            `json:"urgency,omitempty"`
	Category     string            `json:"category,omitempty"`
	TTL          string            `json:"ttl,omitempty"`
	Notification *wireNotification `json:"notification,omitempty"`
}

type wireNotification struct {
	Title       string          `json:"title"`
	Body        string          `json:"body"`
	ClickAction wireClickAction `json:"click_action"`
	ChannelID   string          `json:"channel_id,omitempty"`
	Importance  string          `json:"importance,omitempty"`
	Tag         string          `json:"tag,omitempty"`
	NotifyID    *int            `json:"notify_id,omitempty"`
	Badge       *wireBadge      `json:"badge,omitempty"`
}

type wireClickAction struct {
	Type int `json:"type"`
}

type wireBadge struct {
	SetNum int    `json:"set_num"`
	Class  string `json:"class,omitempty"`
}

// clickOpenApp is click_action.type 3: open the app's launcher page.
const clickOpenApp = 3

// buildBody turns n into the request body, checking what Huawei would
// refuse (or deliver too late) before anything is sent.
func (p *Provider) buildBody(n push.Notification, now time.Time) ([]byte, error) {
	if n.Token == "" {
		return nil, fmt.Errorf("huawei: empty token: %w", push.ErrInvalidNotification)
	}
	android := &wireAndroid{}
	if !n.Expiration.IsZero() {
		left := n.Expiration.Sub(now)
		if left < time.Second {
			return nil, fmt.Errorf("huawei: expired at %s: %w", n.Expiration.UTC().Format(time.RFC3339), push.ErrExpired)
		}
		left = min(left, MaxTTL)
		android.TTL = strconv.FormatInt(int64(left/time.Second), 10) + "s"
	}
	data := map[string]string{}
	for k, v := range n.Extra {
		switch k {
		case DataKeyPayload, DataKeyPushID, DataKeyTitle, DataKeyContent:
			return nil, fmt.Errorf("huawei: extra key %q is Herald's: %w", k, push.ErrInvalidNotification)
		}
		data[k] = v
	}
	if n.Payload != "" {
		data[DataKeyPayload] = n.Payload
	}
	if n.ID != "" {
		data[DataKeyPushID] = n.ID
	}

	kind := n.Kind
	if kind == push.KindVoIP && !p.classified {
		// A VOIP data message (urgency HIGH) needs the self-classification
		// entitlement (80300011 otherwise): without it a call rings as a
		// notification of the service and communication class, or as a
		// normal data message when it has nothing to show.
		kind = push.KindAlert
		if n.Title == "" && n.Content == "" {
			kind = push.KindData
		}
	}
	switch kind {
	case push.KindAlert, "":
		if n.Title == "" && n.Content == "" {
			return nil, fmt.Errorf("huawei: alert without title or content: %w", push.ErrInvalidNotification)
		}
		nt := &wireNotification{
			Title:       n.Title,
			Body:        n.Content,
			ClickAction: wireClickAction{Type: clickOpenApp},
			ChannelID:   n.ChannelID,
			Importance:  "NORMAL",
			Tag:         n.CollapseID,
		}
		if n.CollapseID != "" {
			id := push.NumericCollapseID(n.CollapseID)
			nt.NotifyID = &id
		}
		// Huawei refuses a badge without its class (80100001): without
		// Config.BadgeClass none is sent (the admin API requires the class
		// before a resource can ask for a badge).
		if n.Badge != nil && p.badgeClass != "" {
			nt.Badge = &wireBadge{SetNum: min(max(*n.Badge, 0), 99), Class: p.badgeClass}
		}
		android.Notification = nt
		if p.classified {
			android.Category = "IM"
		}
	case push.KindData, push.KindVoIP:
		if n.Title != "" {
			data[DataKeyTitle] = n.Title
		}
		if n.Content != "" {
			data[DataKeyContent] = n.Content
		}
		android.Urgency = "NORMAL"
		if kind == push.KindVoIP || (n.Priority == push.PriorityHigh && p.classified) {
			android.Urgency = "HIGH"
		}
		if p.classified {
			android.Category = "IM"
			if kind == push.KindVoIP {
				android.Category = "VOIP"
			}
		}
	default:
		return nil, fmt.Errorf("huawei: kind %q: %w", n.Kind, push.ErrInvalidNotification)
	}

	msg := wireMessage{Android: android, Token: []string{}}
	if len(data) > 0 {
		b, err := json.Marshal(data)
		if err != nil {
			return nil, fmt.Errorf("huawei: data: %w", err)
		}
		msg.Data = string(b)
	}
	// The limit excludes the tokens: measure with an empty list.
	sized, err := encodeJSON(sendRequest{Message: msg})
	if err != nil {
		return nil, err
	}
	if len(sized) > MaxBodyBytes {
		return nil, fmt.Errorf("huawei: %d bytes without tokens, limit %d: %w", len(sized), MaxBodyBytes, push.ErrPayloadTooLarge)
	}
	msg.Token = []string{n.Token}
	return encodeJSON(sendRequest{Message: msg})
}

// encodeJSON is json.Marshal without HTML escaping (Huawei counts bytes;
// "<" as \u003c would cost five more).
func encodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("huawei: encoding: %w", err)
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}
