package harmony

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
)

// Business codes the emulator answers (Huawei's response page,
// push-scenariozed-api-response).
const (
	codeSuccess       = "80000000"
	codePartial       = "80100000"
	codeParam         = "80100001"
	codeStructure     = "80100003"
	codeAuth          = "80200001"
	codeJWTExpired    = "80200005"
	codeInvalidTokens = "80300007"
	codeBodyTooLarge  = "80300008"
	codeTooManyTokens = "80300010"
	codeInternal      = "81000001"
)

// The push-type header values the emulator models.
const (
	pushTypeAlert      = "0"
	pushTypeBackground = "6"
	pushTypeCall       = "10"
)

// Limits of the request fields (push-scenariozed-api-request-param).
const (
	maxTTL          = 1296000 // 15 days, seconds
	maxTestTokens   = 10
	maxBiTagBytes   = 64
	maxBadgeAdd     = 99
	maxBadgeSet     = 99
	maxCollapseKey  = 100
	maxAppMessageID = 64
)

// categories are notification.category's values. PLAY_VOICE is only for
// push-type 2 (text-to-speech), which the emulator does not model.
var categories = []string{"IM", "VOIP", "SUBSCRIPTION", "TRAVEL", "HEALTH", "WORK", "ACCOUNT", "EXPRESS",
	"FINANCE", "DEVICE_REMINDER", "MAIL", "CUSTOMER_SERVICE", "MISS_CALL", "MARKETING"}

// tokenPattern is what the emulator takes for a push token. Huawei's
// examples ("MAMzLg**********lPW", "IQAAAA**********4Tw") show base64url
// characters; the exact alphabet and length are UNCONFIRMED.
var tokenPattern = regexp.MustCompile(`^[A-Za-z0-9_\-+/=.]{32,256}$`)

// sendBody is the body of messages:send.
type sendBody struct {
	Payload     json.RawMessage `json:"payload"`
	Target      *Target         `json:"target"`
	PushOptions *PushOptions    `json:"pushOptions,omitempty"`
}

// Target is the body's target.
type Target struct {
	Token []string `json:"token"`
}

// PushOptions is the body's pushOptions.
type PushOptions struct {
	TestMessage bool   `json:"testMessage,omitempty"`
	TTL         *int   `json:"ttl,omitempty"`
	BiTag       string `json:"biTag,omitempty"`
	ReceiptID   string `json:"receiptId,omitempty"`
	CollapseKey *int   `json:"collapseKey,omitempty"`
}

// AlertPayload is the payload of push-type 0.
type AlertPayload struct {
	Notification *Notification `json:"notification"`
}

// DataPayload is the payload of push-type 6 (BackgroundPayload) and 10
// (VoIPCallPayload): extraData, a string handed to the app.
type DataPayload struct {
	ExtraData *string `json:"extraData"`
}

// Notification is payload.notification.
type Notification struct {
	Category       string       `json:"category"`
	Title          string       `json:"title"`
	Body           string       `json:"body"`
	Image          string       `json:"image,omitempty"`
	Style          int          `json:"style,omitempty"`
	BigTitle       string       `json:"bigTitle,omitempty"`
	BigBody        string       `json:"bigBody,omitempty"`
	InboxContent   []string     `json:"inboxContent,omitempty"`
	NotifyID       *int         `json:"notifyId,omitempty"`
	AppMessageID   string       `json:"appMessageId,omitempty"`
	ProfileID      string       `json:"profileId,omitempty"`
	ClickAction    *ClickAction `json:"clickAction"`
	Badge          *Badge       `json:"badge,omitempty"`
	Sound          string       `json:"sound,omitempty"`
	SoundDuration  int          `json:"soundDuration,omitempty"`
	ForegroundShow *bool        `json:"foregroundShow,omitempty"`
}

// ClickAction is notification.clickAction: 0 opens the app's home page,
// 1 a page of the app given by action or uri; data is handed to it.
type ClickAction struct {
	ActionType *int              `json:"actionType"`
	Action     string            `json:"action,omitempty"`
	URI        string            `json:"uri,omitempty"`
	Data       map[string]string `json:"data,omitempty"`
}

// Badge is notification.badge.
type Badge struct {
	AddNum *int `json:"addNum,omitempty"`
	SetNum *int `json:"setNum,omitempty"`
}

// refusal is an answer to send back.
type refusal struct {
	status    int
	code, msg string
}

func refuse(code, format string, args ...any) *refusal {
	return &refusal{status: http.StatusBadRequest, code: code, msg: fmt.Sprintf(format, args...)}
}

// parsed is a checked request.
type parsed struct {
	body         sendBody
	notification *Notification // push-type 0
	extraData    *string       // push-type 6, 10
}

// check reads raw for pushType; see the package comment for the rules.
func (e *Emulator) check(raw []byte, pushType string) (*parsed, *refusal) {
	var p parsed
	if err := strictDecode(raw, &p.body); err != nil {
		return nil, refuse(codeStructure, "Illegal message structure: %v", err)
	}
	if len(p.body.Payload) == 0 || string(p.body.Payload) == "null" {
		return nil, refuse(codeStructure, "Illegal payload: payload is required")
	}
	switch pushType {
	case pushTypeAlert:
		var a AlertPayload
		if err := strictDecode(p.body.Payload, &a); err != nil {
			return nil, refuse(codeStructure, "Illegal payload for push-type 0: %v", err)
		}
		if a.Notification == nil {
			return nil, refuse(codeStructure, "Illegal payload, notification is required for push-type 0")
		}
		if r := checkNotification(a.Notification); r != nil {
			return nil, r
		}
		p.notification = a.Notification
	case pushTypeBackground, pushTypeCall:
		var d DataPayload
		if err := strictDecode(p.body.Payload, &d); err != nil {
			return nil, refuse(codeStructure, "Illegal payload for push-type %s: %v", pushType, err)
		}
		if d.ExtraData == nil {
			return nil, refuse(codeStructure, "Illegal payload, extraData is required for push-type %s", pushType)
		}
		p.extraData = d.ExtraData
	}
	if p.body.Target == nil || len(p.body.Target.Token) == 0 {
		return nil, refuse(codeTooManyTokens, "The number of tokens in the message body exceeds the default value: target.token needs 1 to %d tokens", e.cfg.MaxTokens)
	}
	if n := len(p.body.Target.Token); n > e.cfg.MaxTokens {
		return nil, refuse(codeTooManyTokens, "The number of tokens in the message body exceeds the default value: %d, at most %d", n, e.cfg.MaxTokens)
	}
	if o := p.body.PushOptions; o != nil {
		switch {
		case o.TestMessage && len(p.body.Target.Token) > maxTestTokens:
			return nil, refuse(codeParam, "Check Parameter Error: a test message carries at most %d tokens", maxTestTokens)
		case o.TTL != nil && (*o.TTL < 1 || *o.TTL > maxTTL):
			return nil, refuse(codeParam, "Check Parameter Error: ttl must be 1 to %d seconds", maxTTL)
		case o.CollapseKey != nil && (*o.CollapseKey < -1 || *o.CollapseKey > maxCollapseKey):
			return nil, refuse(codeParam, "Check Parameter Error: collapseKey must be -1 to %d", maxCollapseKey)
		case len(o.BiTag) > maxBiTagBytes:
			return nil, refuse(codeParam, "Check Parameter Error: biTag is at most %d bytes", maxBiTagBytes)
		}
	}
	if size := bodyWithoutTokens(raw); size > e.cfg.MaxBodyBytes {
		return nil, refuse(codeBodyTooLarge, "The message body size exceeds the default value (4096 bytes, push tokens excluded): %d bytes", size)
	}
	return &p, nil
}

func checkNotification(n *Notification) *refusal {
	switch {
	case n.Category == "PLAY_VOICE":
		return refuse(codeStructure, "Illegal payload, category PLAY_VOICE is only for push-type 2")
	case !slices.Contains(categories, n.Category):
		return refuse(codeStructure, "Illegal payload, category %q is not a notification category", n.Category)
	case n.Title == "":
		return refuse(codeStructure, "Illegal payload, notification title is required")
	case n.Body == "":
		return refuse(codeStructure, "Illegal payload, notification body is required")
	case n.ClickAction == nil || n.ClickAction.ActionType == nil:
		return refuse(codeStructure, "Illegal payload, clickAction.actionType is required")
	case *n.ClickAction.ActionType != 0 && *n.ClickAction.ActionType != 1:
		return refuse(codeStructure, "Illegal payload, clickAction.actionType must be 0 or 1")
	case *n.ClickAction.ActionType == 1 && n.ClickAction.Action == "" && n.ClickAction.URI == "":
		return refuse(codeStructure, "Illegal payload, clickAction.actionType 1 needs action or uri")
	case n.Style != 0 && n.Style != 3:
		return refuse(codeStructure, "Illegal payload, style must be 0 or 3")
	case n.Style == 3 && len(n.InboxContent) == 0:
		return refuse(codeStructure, "Illegal payload, style 3 needs inboxContent")
	case len(n.AppMessageID) > maxAppMessageID:
		return refuse(codeStructure, "Illegal payload, appMessageId is at most %d characters", maxAppMessageID)
	}
	if b := n.Badge; b != nil {
		if b.AddNum != nil && (*b.AddNum < 1 || *b.AddNum > maxBadgeAdd) {
			return refuse(codeStructure, "Illegal payload, badge addNum value ranges from 1 to %d", maxBadgeAdd)
		}
		if b.SetNum != nil && (*b.SetNum < 0 || *b.SetNum > maxBadgeSet) {
			return refuse(codeStructure, "Illegal payload, badge setNum value ranges from 0 to %d", maxBadgeSet)
		}
	}
	return nil
}

// bodyWithoutTokens is the request's size less its target.token array:
// the 4096-byte limit excludes the push tokens.
func bodyWithoutTokens(raw []byte) int {
	var outer struct {
		Target map[string]json.RawMessage `json:"target"`
	}
	if json.Unmarshal(raw, &outer) != nil {
		return len(raw)
	}
	return len(raw) - len(outer.Target["token"])
}
