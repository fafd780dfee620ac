package fcm

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/heraldim/herald/internal/push"
)

// The request body of messages:send, as much of FCM's Message as Herald
// uses. Field names are the REST API's snake_case ones.
type sendRequest struct {
	ValidateOnly bool        `json:"validate_only,omitempty"`
	Message      wireMessage `json:"message"`
}

type wireMessage struct {
	Token        string            `json:"token,omitempty"`
	Topic        string            `json:"topic,omitempty"`
	Data         map[string]string `json:"data,omitempty"`
	Notification *wireNotification `json:"notification,omitempty"`
	Android      *wireAndroid      `json:"android,omitempty"`
}

type wireNotification struct {
	Title string `json:"title,omitempty"`
	Body  string `json:"body,omitempty"`
}

type wireAndroid struct {
	CollapseKey           string                   `json:"collapse_key,omitempty"`
	Priority              string                   `json:"priority,omitempty"`
	TTL                   string                   `json:"ttl,omitempty"`
	RestrictedPackageName string                   `json:"restricted_package_name,omitempty"`
	Notification          *wireAndroidNotification `json:"notification,omitempty"`
}

type wireAndroidNotification struct {
	ChannelID         string `json:"channel_id,omitempty"`
	Tag               string `json:"tag,omitempty"`
	Sound             string `json:"sound,omitempty"`
	NotificationCount *int   `json:"notification_count,omitempty"`
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("fcm: %s: %w", fmt.Sprintf(format, args...), push.ErrInvalidNotification)
}

// buildBody turns n into the messages:send body as of now, or says why it
// cannot be sent. See the package comment for the mapping.
func buildBody(n push.Notification, now time.Time) ([]byte, error) {
	if n.Token == "" {
		return nil, invalid("empty device token")
	}
	var m wireMessage
	m.Token = n.Token
	android := &wireAndroid{CollapseKey: n.CollapseID, RestrictedPackageName: n.Topic}

	switch n.Priority {
	case push.PriorityHigh:
		android.Priority = "HIGH"
	case push.PriorityNormal:
		android.Priority = "NORMAL"
	case "":
		android.Priority = "NORMAL"
		if n.Kind == push.KindAlert {
			android.Priority = "HIGH"
		}
	default:
		return nil, invalid("unknown priority %q", n.Priority)
	}

	if !n.Expiration.IsZero() {
		left := n.Expiration.Sub(now)
		if left <= 0 {
			return nil, fmt.Errorf("fcm: expired %s ago: %w", -left, push.ErrExpired)
		}
		// Whole seconds, rounded down: FCM must never hold it past
		// Expiration.
		android.TTL = strconv.FormatInt(int64(min(left, MaxTTL)/time.Second), 10) + "s"
	}

	data := make(map[string]string, len(n.Extra)+4)
	for k, v := range n.Extra {
		if err := checkDataKey(k); err != nil {
			return nil, err
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
	case push.KindAlert:
		if n.Title == "" && n.Content == "" {
			return nil, invalid("alert without title or content")
		}
		m.Notification = &wireNotification{Title: n.Title, Body: n.Content}
		sound := n.Sound
		if sound == "" {
			sound = "default"
		}
		android.Notification = &wireAndroidNotification{
			ChannelID:         n.ChannelID,
			Tag:               n.CollapseID,
			Sound:             sound,
			NotificationCount: n.Badge,
		}
	case push.KindData, push.KindVoIP:
		if n.Kind == push.KindVoIP {
			android.Priority = "HIGH"
		}
		if n.Title != "" {
			data[DataKeyTitle] = n.Title
		}
		if n.Content != "" {
			data[DataKeyContent] = n.Content
		}
	default:
		return nil, invalid("unknown kind %q", n.Kind)
	}
	if len(data) > 0 {
		m.Data = data
	}
	m.Android = android

	body, err := encodeJSON(sendRequest{Message: m})
	if err != nil {
		return nil, fmt.Errorf("fcm: encoding the message: %w", err)
	}
	if len(body) > MaxBodyBytes {
		return nil, fmt.Errorf("fcm: request body is %d bytes, over FCM's %d: %w",
			len(body), MaxBodyBytes, push.ErrPayloadTooLarge)
	}
	return body, nil
}

// checkDataKey refuses an Extra key that FCM reserves (its error-code page
// names "from", "gcm" and anything prefixed with "google"; the legacy API
// also reserved "message_type"; "collapse_key" would be silently
// overwritten) or that Herald fills itself.
func checkDataKey(k string) error {
	if k == "" {
		return invalid("empty data key in Extra")
	}
	lower := strings.ToLower(k)
	switch {
	case lower == "from", lower == "message_type", lower == "collapse_key",
		strings.HasPrefix(lower, "google"), strings.HasPrefix(lower, "gcm"):
		return invalid("data key %q is reserved by FCM", k)
	case k == DataKeyPayload, k == DataKeyPushID, k == DataKeyTitle, k == DataKeyContent:
		return invalid("data key %q is Herald's", k)
	}
	return nil
}

// encodeJSON is compact JSON without HTML escaping, which would turn each
// of <, > and & into six bytes of a body that has a size limit.
func encodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
