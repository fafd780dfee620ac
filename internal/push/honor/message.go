package honor

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/heraldim/herald/internal/push"
)

// sendRequest is the body of sendMessage (Honor's 下行消息 request:
// data, notification, android, token; no message wrapper).
type sendRequest struct {
	Data    string       `json:"data,omitempty"`
	Android *wireAndroid `json:"android,omitempty"`
	Token   []string     `json:"token"`
}

type wireAndroid struct {
	TTL          string            `json:"ttl,omitempty"`
	Notification *wireNotification `json:"notification,omitempty"`
}

type wireNotification struct {
	Title       string          `json:"title"`
	Body        string          `json:"body"`
	ClickAction wireClickAction `json:"clickAction"`
	Importance  string          `json:"importance,omitempty"`
	Tag         string          `json:"tag,omitempty"`
	NotifyID    *int            `json:"notifyId,omitempty"`
	Badge       *wireBadge      `json:"badge,omitempty"`
}

type wireClickAction struct {
	Type int `json:"type"`
}

type wireBadge struct {
	SetNum     int    `json:"setNum"`
	BadgeClass string `json:"badgeClass"`
}

const (
	// clickOpenApp is clickAction.type 3: open the app.
	clickOpenApp = 3
	// importanceIM is 服务与通讯类 (service and communication), the class
	// of IM messages; LOW is 资讯营销类 (news and marketing).
	importanceIM = "NORMAL"
)

// buildBody turns n into the request body, checking what Honor would
// refuse (or deliver too late) before anything is sent.
func (p *Provider) buildBody(n push.Notification, now time.Time) ([]byte, error) {
	if n.Token == "" {
		return nil, fmt.Errorf("honor: empty token: %w", push.ErrInvalidNotification)
	}
	android := &wireAndroid{}
	if !n.Expiration.IsZero() {
		left := n.Expiration.Sub(now)
		if left < time.Second {
			return nil, fmt.Errorf("honor: expired at %s: %w", n.Expiration.UTC().Format(time.RFC3339), push.ErrExpired)
		}
		left = min(left, MaxTTL)
		android.TTL = strconv.FormatInt(int64(left/time.Second), 10) + "s"
	}
	data := map[string]string{}
	for k, v := range n.Extra {
		switch k {
		case DataKeyPayload, DataKeyPushID, DataKeyTitle, DataKeyContent:
			return nil, fmt.Errorf("honor: extra key %q is Herald's: %w", k, push.ErrInvalidNotification)
		}
		data[k] = v
	}
	if n.Payload != "" {
		data[DataKeyPayload] = n.Payload
	}
	if n.ID != "" {
		data[DataKeyPushID] = n.ID
	}

	switch n.Kind {
	case push.KindAlert, push.KindVoIP, "":
		// Honor has no call class: a call rings as an IM notification.
		if n.Title == "" && n.Content == "" {
			return nil, fmt.Errorf("honor: alert without title or content: %w", push.ErrInvalidNotification)
		}
		nt := &wireNotification{
			Title:       n.Title,
			Body:        n.Content,
			ClickAction: wireClickAction{Type: clickOpenApp},
			Importance:  importanceIM,
			Tag:         n.CollapseID,
		}
		if n.CollapseID != "" {
			id := push.NumericCollapseID(n.CollapseID)
			nt.NotifyID = &id
		}
		if n.Badge != nil && p.badgeClass != "" {
			nt.Badge = &wireBadge{SetNum: min(max(*n.Badge, 0), 99), BadgeClass: p.badgeClass}
		}
		android.Notification = nt
	case push.KindData:
		if n.Title != "" {
			data[DataKeyTitle] = n.Title
		}
		if n.Content != "" {
			data[DataKeyContent] = n.Content
		}
	default:
		return nil, fmt.Errorf("honor: kind %q: %w", n.Kind, push.ErrInvalidNotification)
	}

	req := sendRequest{Token: []string{}}
	if android.TTL != "" || android.Notification != nil {
		req.Android = android
	}
	if len(data) > 0 {
		b, err := json.Marshal(data)
		if err != nil {
			return nil, fmt.Errorf("honor: data: %w", err)
		}
		req.Data = string(b)
	}
	// The limit excludes the tokens: measure with an empty list.
	sized, err := encodeJSON(req)
	if err != nil {
		return nil, err
	}
	if len(sized) > MaxBodyBytes {
		return nil, fmt.Errorf("honor: %d bytes without tokens, limit %d: %w", len(sized), MaxBodyBytes, push.ErrPayloadTooLarge)
	}
	req.Token = []string{n.Token}
	return encodeJSON(req)
}

// encodeJSON is json.Marshal without HTML escaping ("<" as \u003c would
// cost five more bytes of the limit).
func encodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("honor: encoding: %w", err)
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}
