package apns

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/heraldim/herald/internal/push"
)

// maxCollapseID is APNs' limit on apns-collapse-id (400 BadCollapseId
// above it).
const maxCollapseID = 64

// minTokenHex is the shortest device token accepted: today's tokens are 32
// bytes, 64 hex digits. Apple warns they may grow, so there is no upper
// bound.
const minTokenHex = 64

// The APNs push types this provider sends (apns-push-type).
const (
	pushTypeAlert      = "alert"
	pushTypeBackground = "background"
	pushTypeVoIP       = "voip"
)

// voipTopicSuffix turns a bundle ID into its PushKit VoIP topic.
const voipTopicSuffix = ".voip"

// buildRequest turns n into an APNs request: headers and JSON body. It
// checks what would make APNs refuse the request or deliver it uselessly,
// so that such pushes never leave the process.
//
// Header choices:
//
//	apns-push-type   alert (KindAlert), background (KindData), voip (KindVoIP)
//	apns-topic       n.Topic; n.Topic + ".voip" for VoIP
//	apns-priority    10 for PriorityHigh (and unset) alert and VoIP; 5 for
//	                 PriorityNormal; always 5 for background (APNs refuses 10)
//	apns-expiration  n.Expiration in epoch seconds, rounded up so that APNs
//	                 never drops a push a fraction of a second early. Unset
//	                 when n.Expiration is zero, so APNs applies its default
//	                 storage (push.Notification's contract: "Zero: the
//	                 vendor's default storage time"); 0 meant "deliver now
//	                 or never", which would lose every alert to a phone in a
//	                 tunnel. Exception: a VoIP push without an expiration
//	                 gets 0, because a call ringing minutes late is worse
//	                 than none.
//	apns-collapse-id n.CollapseID (at most 64 bytes)
//	apns-id          n.ID when it is a UUID (lowercased to APNs' canonical
//	                 form); otherwise APNs makes one up and returns it
//
// Body: {"aps":{...}, "payload": n.Payload, <n.Extra...>}. aps holds
// alert{title, body}, badge, sound ("default" unless n.Sound) and category
// for alerts; only content-available:1 for background pushes (Apple: a
// background notification's aps has no alert, sound or badge); alert,
// badge, sound and category when given for VoIP (PushKit hands the whole
// dictionary to the app, which reports the call to CallKit).
func buildRequest(n push.Notification, now time.Time, maxPayload, maxVoIPPayload int) (*request, error) {
	if n.Token == "" {
		return nil, fmt.Errorf("apns: %w: empty device token", push.ErrInvalidNotification)
	}
	if !isHexToken(n.Token) {
		return nil, fmt.Errorf("apns: %w: device token is not hex of at least %d digits", push.ErrInvalidNotification, minTokenHex)
	}
	if n.Topic == "" {
		return nil, fmt.Errorf("apns: %w: empty topic (bundle ID)", push.ErrInvalidNotification)
	}
	if !isTopic(n.Topic) {
		return nil, fmt.Errorf("apns: %w: topic %q is not a bundle ID", push.ErrInvalidNotification, n.Topic)
	}
	if n.Environment != push.Production && n.Environment != push.Development {
		return nil, fmt.Errorf("apns: %w: environment %q: want %q or %q", push.ErrInvalidNotification, n.Environment, push.Production, push.Development)
	}
	if len(n.CollapseID) > maxCollapseID {
		return nil, fmt.Errorf("apns: %w: collapse ID is %d bytes; APNs allows %d", push.ErrInvalidNotification, len(n.CollapseID), maxCollapseID)
	}
	for k := range n.Extra {
		if k == "aps" || k == PayloadKey || k == PushIDKey {
			return nil, fmt.Errorf("apns: %w: extra key %q is reserved", push.ErrInvalidNotification, k)
		}
	}
	if !n.Expiration.IsZero() && !now.Before(n.Expiration) {
		return nil, fmt.Errorf("apns: %w: expired at %s", push.ErrExpired, n.Expiration.UTC().Format(time.RFC3339))
	}

	// Keys are written in canonical form (http.Header.Set would
	// canonicalize each, allocating a new string for each lowercase key).
	h := make(http.Header, 8)
	kind := n.Kind
	if kind == "" {
		kind = push.KindAlert
	}
	high := true
	switch n.Priority {
	case "", push.PriorityHigh:
	case push.PriorityNormal:
		high = false
	default:
		return nil, fmt.Errorf("apns: %w: priority %q", push.ErrInvalidNotification, n.Priority)
	}
	priority := "10"
	if !high {
		priority = "5"
	}
	limit := maxPayload
	aps := map[string]any{}
	switch kind {
	case push.KindAlert:
		h["Apns-Push-Type"] = []string{pushTypeAlert}
		h["Apns-Topic"] = []string{n.Topic}
		addAlert(aps, n, "default")
	case push.KindData:
		h["Apns-Push-Type"] = []string{pushTypeBackground}
		h["Apns-Topic"] = []string{n.Topic}
		priority = "5" // APNs: background pushes must use priority 5
		aps["content-available"] = 1
	case push.KindVoIP:
		h["Apns-Push-Type"] = []string{pushTypeVoIP}
		h["Apns-Topic"] = []string{n.Topic + voipTopicSuffix}
		limit = maxVoIPPayload
		addAlert(aps, n, "")
	default:
		return nil, fmt.Errorf("apns: %w: kind %q", push.ErrInvalidNotification, n.Kind)
	}
	h["Apns-Priority"] = []string{priority}
	switch {
	case !n.Expiration.IsZero():
		h["Apns-Expiration"] = []string{strconv.FormatInt(ceilUnix(n.Expiration), 10)}
	case kind == push.KindVoIP:
		h["Apns-Expiration"] = []string{"0"}
	}
	if n.CollapseID != "" {
		h["Apns-Collapse-Id"] = []string{n.CollapseID}
	}
	if isUUID(n.ID) {
		h["Apns-Id"] = []string{strings.ToLower(n.ID)}
	}
	h["Content-Type"] = []string{"application/json"}

	payload := make(map[string]any, len(n.Extra)+2)
	for k, v := range n.Extra {
		payload[k] = v
	}
	payload["aps"] = aps
	if n.Payload != "" {
		payload[PayloadKey] = n.Payload
	}
	if n.ID != "" {
		payload[PushIDKey] = n.ID
	}
	body, err := json.Marshal(payload)
	if err != nil {
		return nil, fmt.Errorf("apns: %w: encoding payload: %v", push.ErrInvalidNotification, err)
	}
	if len(body) > limit {
		return nil, fmt.Errorf("apns: %w: %d bytes; the %s limit is %d", push.ErrPayloadTooLarge, len(body), h.Get("apns-push-type"), limit)
	}
	return &request{token: n.Token, header: h, body: body}, nil
}

// addAlert fills the user-visible keys of aps. defaultSound is used when n
// names no sound ("" for none).
func addAlert(aps map[string]any, n push.Notification, defaultSound string) {
	alert := map[string]string{}
	if n.Title != "" {
		alert["title"] = n.Title
	}
	if n.Content != "" {
		alert["body"] = n.Content
	}
	if len(alert) > 0 {
		aps["alert"] = alert
	}
	if n.Badge != nil {
		aps["badge"] = *n.Badge
	}
	if s := orString(n.Sound, defaultSound); s != "" {
		aps["sound"] = s
	}
	if n.Category != "" {
		aps["category"] = n.Category
	}
}

// ceilUnix returns t in epoch seconds, rounded up.
func ceilUnix(t time.Time) int64 {
	s := t.Unix()
	if t.Nanosecond() > 0 {
		s++
	}
	return s
}

// isHexToken reports whether s looks like an APNs device token: an even
// number (bytes) of hex digits, at least minTokenHex.
func isHexToken(s string) bool {
	if len(s) < minTokenHex || len(s)%2 != 0 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isHexDigit(s[i]) {
			return false
		}
	}
	return true
}

func isHexDigit(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// isUUID reports whether s is a UUID in the 8-4-4-4-12 form, in either
// case.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch i {
		case 8, 13, 18, 23:
			if s[i] != '-' {
				return false
			}
		default:
			if !isHexDigit(s[i]) {
				return false
			}
		}
	}
	return true
}

// isTopic reports whether s can be a bundle ID: letters, digits, '.', '-'.
// The check keeps header-breaking input (spaces, control characters) from
// reaching APNs; whether the app exists is APNs' to say.
func isTopic(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || c == '.' || c == '-') {
			return false
		}
	}
	return s != ""
}
