package harmony

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/heraldim/herald/internal/push"
)

// push-type header values (push-scenariozed-api-request-struct).
const (
	pushTypeAlert      = "0"  // notification message
	pushTypeBackground = "6"  // background message
	pushTypeCall       = "10" // in-app call message
)

// clickOpenHome is clickAction.actionType 0: open the app's home page.
const clickOpenHome = 0

type sendRequest struct {
	Payload     any          `json:"payload"`
	Target      *wireTarget  `json:"target,omitempty"`
	PushOptions *wireOptions `json:"pushOptions,omitempty"`
}

type wireTarget struct {
	Token []string `json:"token"`
}

type wireOptions struct {
	TestMessage bool  `json:"testMessage,omitempty"`
	TTL         int64 `json:"ttl,omitempty"`
}

type alertPayload struct {
	Notification wireNotification `json:"notification"`
}

type wireNotification struct {
	Category    string          `json:"category"`
	Title       string          `json:"title"`
	Body        string          `json:"body"`
	ClickAction wireClickAction `json:"clickAction"`
	NotifyID    *int            `json:"notifyId,omitempty"`
	Badge       *wireBadge      `json:"badge,omitempty"`
}

type wireClickAction struct {
	ActionType int               `json:"actionType"`
	Data       map[string]string `json:"data,omitempty"`
}

type wireBadge struct {
	SetNum int `json:"setNum"`
}

type dataPayload struct {
	ExtraData string `json:"extraData"`
}

// buildBody turns n into the push-type and the request body, checking
// what Push Kit would refuse (or deliver too late) before anything is sent.
func (p *Provider) buildBody(n push.Notification, now time.Time) (string, []byte, error) {
	if n.Token == "" {
		return "", nil, fmt.Errorf("harmony: empty token: %w", push.ErrInvalidNotification)
	}
	opts := &wireOptions{TestMessage: n.Environment == push.Development}
	if !n.Expiration.IsZero() {
		left := n.Expiration.Sub(now)
		if left < time.Second {
			return "", nil, fmt.Errorf("harmony: expired at %s: %w", n.Expiration.UTC().Format(time.RFC3339), push.ErrExpired)
		}
		opts.TTL = int64(min(left, MaxTTL) / time.Second)
	}
	data := map[string]string{}
	for k, v := range n.Extra {
		switch k {
		case DataKeyPayload, DataKeyPushID, DataKeyTitle, DataKeyContent:
			return "", nil, fmt.Errorf("harmony: extra key %q is Herald's: %w", k, push.ErrInvalidNotification)
		}
		data[k] = v
	}
	if n.Payload != "" {
		data[DataKeyPayload] = n.Payload
	}
	if n.ID != "" {
		data[DataKeyPushID] = n.ID
	}

	kind, category := n.Kind, p.category
	if kind == push.KindVoIP && !p.callRight {
		// push-type 10 needs the in-app call entitlement: without it a
		// call rings as a VOIP notification, or goes as a background
		// message when there is nothing to show.
		kind, category = push.KindAlert, "VOIP"
		if n.Title == "" || n.Content == "" {
			kind = push.KindData
		}
	}
	var pushType string
	var payload any
	switch kind {
	case push.KindAlert, "":
		if n.Title == "" || n.Content == "" {
			return "", nil, fmt.Errorf("harmony: an alert needs a title and content (Push Kit requires both): %w", push.ErrInvalidNotification)
		}
		nt := wireNotification{Category: category, Title: n.Title, Body: n.Content,
			ClickAction: wireClickAction{ActionType: clickOpenHome}}
		if len(data) > 0 {
			nt.ClickAction.Data = data
		}
		if n.CollapseID != "" {
			id := push.NumericCollapseID(n.CollapseID)
			nt.NotifyID = &id
		}
		if n.Badge != nil {
			nt.Badge = &wireBadge{SetNum: min(max(*n.Badge, 0), 99)}
		}
		pushType, payload = pushTypeAlert, alertPayload{Notification: nt}
	case push.KindData, push.KindVoIP:
		if n.Title != "" {
			data[DataKeyTitle] = n.Title
		}
		if n.Content != "" {
			data[DataKeyContent] = n.Content
		}
		b, err := json.Marshal(data)
		if err != nil {
			return "", nil, fmt.Errorf("harmony: extraData: %w", err)
		}
		pushType = pushTypeBackground
		if kind == push.KindVoIP {
			pushType = pushTypeCall
		}
		payload = dataPayload{ExtraData: string(b)}
	default:
		return "", nil, fmt.Errorf("harmony: kind %q: %w", n.Kind, push.ErrInvalidNotification)
	}
	if opts.TTL == 0 && !opts.TestMessage {
		opts = nil
	}
	// The limit excludes the push tokens: measure with an empty list.
	req := sendRequest{Payload: payload, Target: &wireTarget{Token: []string{}}, PushOptions: opts}
	sized, err := encodeJSON(req)
	if err != nil {
		return "", nil, err
	}
	if len(sized) > MaxBodyBytes {
		return "", nil, fmt.Errorf("harmony: %d bytes without the token, limit %d: %w", len(sized), MaxBodyBytes, push.ErrPayloadTooLarge)
	}
	req.Target = &wireTarget{Token: []string{n.Token}}
	body, err := encodeJSON(req)
	return pushType, body, err
}

// encodeJSON is json.Marshal without HTML escaping (Push Kit counts bytes;
// "<" as \u003c would cost five more).
func encodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("harmony: encoding: %w", err)
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}
