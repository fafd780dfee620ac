package honor

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// Message is the body of sendMessage as Honor's 下行消息 page describes
// it; unknown fields are refused.
type Message struct {
	Data         *string        `json:"data,omitempty"`
	Notification *Notification  `json:"notification,omitempty"`
	Android      *AndroidConfig `json:"android,omitempty"`
	Token        []string       `json:"token"`
}

// Notification is the top-level notification block.
type Notification struct {
	Title string `json:"title,omitempty"`
	Body  string `json:"body,omitempty"`
	Image string `json:"image,omitempty"`
}

// AndroidConfig is the android block.
type AndroidConfig struct {
	TTL            *string              `json:"ttl,omitempty"`
	BiTag          string               `json:"biTag,omitempty"`
	Data           *string              `json:"data,omitempty"`
	Notification   *AndroidNotification `json:"notification,omitempty"`
	TargetUserType *int                 `json:"targetUserType,omitempty"`
}

// AndroidNotification is android.notification.
type AndroidNotification struct {
	Title       string       `json:"title,omitempty"`
	Body        string       `json:"body,omitempty"`
	ClickAction *ClickAction `json:"clickAction,omitempty"`
	Image       string       `json:"image,omitempty"`
	Style       *int         `json:"style,omitempty"`
	BigTitle    string       `json:"bigTitle,omitempty"`
	BigBody     string       `json:"bigBody,omitempty"`
	Importance  string       `json:"importance,omitempty"`
	When        string       `json:"when,omitempty"`
	Buttons     []Button     `json:"buttons,omitempty"`
	Badge       *Badge       `json:"badge,omitempty"`
	NotifyID    *int         `json:"notifyId,omitempty"`
	Tag         string       `json:"tag,omitempty"`
	Group       string       `json:"group,omitempty"`
}

// ClickAction is what a tap on the notification does.
type ClickAction struct {
	Type   int    `json:"type"`
	Intent string `json:"intent,omitempty"`
	URL    string `json:"url,omitempty"`
	Action string `json:"action,omitempty"`
}

// Button is a notification action button.
type Button struct {
	Name       string `json:"name"`
	ActionType int    `json:"actionType"`
	IntentType int    `json:"intentType,omitempty"`
	Intent     string `json:"intent,omitempty"`
	Data       string `json:"data,omitempty"`
}

// Badge sets or adds to the app icon's badge.
type Badge struct {
	AddNum     *int   `json:"addNum,omitempty"`
	SetNum     *int   `json:"setNum,omitempty"`
	BadgeClass string `json:"badgeClass"`
}

// Codes the emulator answers (see the package comment).
const (
	codeSuccess       = 200
	codeParam         = 80100001
	codeStructure     = 80100003
	codeAuth          = 80200001
	codeAuthExpired   = 80200003
	codeAllInvalid    = 80300007
	codeBodyTooLarge  = 80300008
	codeTooManyTokens = 80300010
	codeInternal      = 81000001
)

// Honor's limits on fields (UNCONFIRMED but the button count and name,
// which the field descriptions give).
const (
	maxTTLSeconds  = 1296000 // 15 days
	maxButtons     = 3
	maxButtonName  = 40
	maxButtonData  = 1024
	maxBadgeNumber = 99
)

var (
	ttlPattern = regexp.MustCompile(`^\d+(\.\d{1,9})?s$`)
	// tokenPattern is the form of the tokens the emulator issues:
	// RegisterDevice's "BAEAAAAAB" prefix and base64url characters.
	tokenPattern = regexp.MustCompile(`^[A-Za-z0-9_\-.:]{32,256}$`)
)

type refusal struct {
	status int
	code   int
	msg    string
}

func bad(code int, format string, args ...any) *refusal {
	return &refusal{status: http.StatusBadRequest, code: code, msg: fmt.Sprintf(format, args...)}
}

// check refuses what Honor refuses in a message (step 4 of the package
// comment, but the size).
func (m *Message) check(maxTokens int) *refusal {
	if len(m.Token) == 0 {
		return bad(codeTooManyTokens, "the number of tokens is not within 1 to %d", maxTokens)
	}
	if len(m.Token) > maxTokens {
		return bad(codeTooManyTokens, "the number of tokens %d exceeds %d", len(m.Token), maxTokens)
	}
	a := m.Android
	var an *AndroidNotification
	if a != nil {
		an = a.Notification
		if a.TTL != nil {
			if !ttlPattern.MatchString(*a.TTL) {
				return bad(codeParam, "android.ttl %q is not a number of seconds such as \"86400s\"", *a.TTL)
			}
			secs, _ := strconv.ParseFloat(strings.TrimSuffix(*a.TTL, "s"), 64)
			if secs > maxTTLSeconds {
				return bad(codeParam, "android.ttl %q exceeds %ds (15 days)", *a.TTL, maxTTLSeconds)
			}
		}
		if t := a.TargetUserType; t != nil && *t != 0 && *t != 1 {
			return bad(codeParam, "android.targetUserType must be 0 (normal) or 1 (test)")
		}
	}
	notif := m.Notification != nil || an != nil
	if !notif && m.Data == nil && (a == nil || a.Data == nil) {
		return bad(codeStructure, "a message needs data or a notification")
	}
	if !notif {
		return nil
	}
	// "通知栏消息支持JSON格式字符串": a notification message's data is JSON.
	for _, d := range []*string{m.Data, dataOf(a)} {
		if d != nil && !json.Valid([]byte(*d)) {
			return bad(codeParam, "the data of a notification message must be a JSON string")
		}
	}
	title, body := "", ""
	if n := m.Notification; n != nil {
		title, body = n.Title, n.Body
		if n.Image != "" && !httpsURL(n.Image) {
			return bad(codeParam, "notification.image must be an https URL")
		}
	}
	if an == nil {
		return bad(codeParam, "a notification message needs android.notification.clickAction")
	}
	if an.Title != "" {
		title = an.Title
	}
	if an.Body != "" {
		body = an.Body
	}
	if title == "" || body == "" {
		return bad(codeParam, "a notification message needs a title and a body")
	}
	if an.Image != "" && !httpsURL(an.Image) {
		return bad(codeParam, "android.notification.image must be an https URL")
	}
	ca := an.ClickAction
	switch {
	case ca == nil:
		return bad(codeParam, "android.notification.clickAction is required for a notification message")
	case ca.Type == 1 && ca.Intent == "" && ca.Action == "":
		return bad(codeParam, "clickAction type 1 needs intent or action")
	case ca.Type == 2 && !httpsURL(ca.URL):
		return bad(codeParam, "clickAction type 2 needs an https url")
	case ca.Type < 1 || ca.Type > 3:
		return bad(codeParam, "clickAction.type %d: want 1, 2 or 3", ca.Type)
	}
	if s := an.Style; s != nil {
		switch {
		case *s != 0 && *s != 1:
			return bad(codeParam, "android.notification.style %d: want 0 or 1", *s)
		case *s == 1 && (an.BigTitle == "" || an.BigBody == ""):
			return bad(codeParam, "style 1 (big text) needs bigTitle and bigBody")
		}
	}
	if an.Importance != "" && an.Importance != "LOW" && an.Importance != "NORMAL" {
		return bad(codeParam, "android.notification.importance %q: want LOW or NORMAL", an.Importance)
	}
	if len(an.Buttons) > maxButtons {
		return bad(codeParam, "at most %d buttons", maxButtons)
	}
	for _, b := range an.Buttons {
		if b.Name == "" || len([]rune(b.Name)) > maxButtonName || b.ActionType < 0 || b.ActionType > 2 || len(b.Data) > maxButtonData {
			return bad(codeParam, "button %q: a name of 1 to %d characters, actionType 0..2, data up to %d", b.Name, maxButtonName, maxButtonData)
		}
	}
	if b := an.Badge; b != nil {
		switch {
		case b.BadgeClass == "":
			return bad(codeParam, "badge.badgeClass (the launcher Activity) is required")
		case b.AddNum != nil && (*b.AddNum < 1 || *b.AddNum > maxBadgeNumber):
			return bad(codeParam, "badge.addNum must be 1..%d", maxBadgeNumber)
		case b.SetNum != nil && (*b.SetNum < 0 || *b.SetNum > maxBadgeNumber):
			return bad(codeParam, "badge.setNum must be 0..%d", maxBadgeNumber)
		}
	}
	return nil
}

func dataOf(a *AndroidConfig) *string {
	if a == nil {
		return nil
	}
	return a.Data
}

func httpsURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && u.Scheme == "https" && u.Host != ""
}
