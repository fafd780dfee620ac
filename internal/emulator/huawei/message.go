package huawei

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// sendBody is the body of messages:send as the emulator reads it.
type sendBody struct {
	ValidateOnly bool            `json:"validate_only"`
	Message      *Message        `json:"message"`
	Review       json.RawMessage `json:"review"`
}

// Message is Push Kit's "message" object, every field with Huawei's type.
type Message struct {
	Data         *string         `json:"data,omitempty"`
	Notification *Notification   `json:"notification,omitempty"`
	Android      *Android        `json:"android,omitempty"`
	APNs         json.RawMessage `json:"apns,omitempty"`
	WebPush      json.RawMessage `json:"webpush,omitempty"`
	Token        []string        `json:"token,omitempty"`
	Topic        *string         `json:"topic,omitempty"`
	Condition    *string         `json:"condition,omitempty"`
}

// Notification is message.notification.
type Notification struct {
	Title string `json:"title,omitempty"`
	Body  string `json:"body,omitempty"`
	Image string `json:"image,omitempty"`
}

// Android is message.android.
type Android struct {
	CollapseKey    *int                 `json:"collapse_key,omitempty"`
	Urgency        string               `json:"urgency,omitempty"`
	Category       string               `json:"category,omitempty"`
	TTL            string               `json:"ttl,omitempty"`
	BiTag          string               `json:"bi_tag,omitempty"`
	ReceiptID      string               `json:"receipt_id,omitempty"`
	FastAppTarget  int                  `json:"fast_app_target,omitempty"`
	TargetUserType int                  `json:"target_user_type,omitempty"`
	Data           *string              `json:"data,omitempty"`
	Notification   *AndroidNotification `json:"notification,omitempty"`
}

// AndroidNotification is message.android.notification.
type AndroidNotification struct {
	Title             string          `json:"title,omitempty"`
	Body              string          `json:"body,omitempty"`
	Icon              string          `json:"icon,omitempty"`
	Color             string          `json:"color,omitempty"`
	Sound             string          `json:"sound,omitempty"`
	DefaultSound      *bool           `json:"default_sound,omitempty"`
	Tag               string          `json:"tag,omitempty"`
	ClickAction       *ClickAction    `json:"click_action,omitempty"`
	BodyLocKey        string          `json:"body_loc_key,omitempty"`
	BodyLocArgs       []string        `json:"body_loc_args,omitempty"`
	TitleLocKey       string          `json:"title_loc_key,omitempty"`
	TitleLocArgs      []string        `json:"title_loc_args,omitempty"`
	MultiLangKey      json.RawMessage `json:"multi_lang_key,omitempty"`
	ChannelID         string          `json:"channel_id,omitempty"`
	NotifySummary     string          `json:"notify_summary,omitempty"`
	Image             string          `json:"image,omitempty"`
	Style             *int            `json:"style,omitempty"`
	BigTitle          string          `json:"big_title,omitempty"`
	BigBody           string          `json:"big_body,omitempty"`
	AutoClear         int             `json:"auto_clear,omitempty"`
	NotifyID          *int            `json:"notify_id,omitempty"`
	Group             string          `json:"group,omitempty"`
	Badge             *Badge          `json:"badge,omitempty"`
	Ticker            string          `json:"ticker,omitempty"`
	When              string          `json:"when,omitempty"`
	Importance        string          `json:"importance,omitempty"`
	UseDefaultVibrate bool            `json:"use_default_vibrate,omitempty"`
	UseDefaultLight   bool            `json:"use_default_light,omitempty"`
	VibrateConfig     []string        `json:"vibrate_config,omitempty"`
	Visibility        string          `json:"visibility,omitempty"`
	LightSettings     json.RawMessage `json:"light_settings,omitempty"`
	ForegroundShow    *bool           `json:"foreground_show,omitempty"`
	InboxContent      []string        `json:"inbox_content,omitempty"`
	Buttons           json.RawMessage `json:"buttons,omitempty"`
	ProfileID         string          `json:"profile_id,omitempty"`
}

// ClickAction is android.notification.click_action.
type ClickAction struct {
	Type         int    `json:"type"`
	Intent       string `json:"intent,omitempty"`
	Action       string `json:"action,omitempty"`
	URL          string `json:"url,omitempty"`
	RichResource string `json:"rich_resource,omitempty"`
}

// Badge is android.notification.badge.
type Badge struct {
	AddNum *int   `json:"add_num,omitempty"`
	SetNum *int   `json:"set_num,omitempty"`
	Class  string `json:"class,omitempty"`
}

// Business codes the emulator answers.
const (
	codeSuccess     = "80000000"
	codePartial     = "80100000"
	codeParam       = "80100001"
	codeStructure   = "80100003"
	codeTTLPast     = "80100004"
	codeCollapseKey = "80100013"
	// codeNoHighPermission: no permission for a high-priority message or
	// a self-classified category.
	codeNoHighPermission = "80300011"
	codeAuth             = "80200001"
	codeAuthExpired      = "80200003"
	codeInvalidTokens    = "80300007"
	codeBodyTooLarge     = "80300008"
	codeTooManyTokens    = "80300010"
	codeInternal         = "81000001"
	maxTTLSeconds        = 1296000
)

// ttlPattern is the format of android.ttl.
var ttlPattern = regexp.MustCompile(`^\d+(\.\d{1,9})?[sS]?$`)

// tokenPattern is what the emulator takes for a well-formed token
// (UNCONFIRMED bounds: Huawei says tokens have no fixed length).
var tokenPattern = regexp.MustCompile(`^[A-Za-z0-9_\-+/=.]{32,256}$`)

var categories = map[string]bool{
	"IM": true, "VOIP": true, "SUBSCRIPTION": true, "TRAVEL": true, "HEALTH": true, "WORK": true,
	"ACCOUNT": true, "EXPRESS": true, "FINANCE": true, "DEVICE_REMINDER": true, "MAIL": true,
	"PLAY_VOICE": true, "MARKETING": true,
}

// refusal is a business-code answer to a send.
type refusal struct {
	status int
	code   string
	msg    string
}

func badParam(format string, args ...any) *refusal {
	return &refusal{status: 400, code: codeParam, msg: fmt.Sprintf(format, args...)}
}

// checkClass applies the classification rules: a category or urgency
// HIGH needs the self-classification entitlement (80300011), and
// PLAY_VOICE is for data messages only.
func (m *Message) checkClass(classified bool) *refusal {
	a := m.Android
	if a == nil {
		return nil
	}
	if !classified && (a.Category != "" || a.Urgency == "HIGH") {
		return &refusal{status: 400, code: codeNoHighPermission,
			msg: "The app has no permission to send this category or high-priority message"}
	}
	if a.Category == "PLAY_VOICE" && (m.Notification != nil || a.Notification != nil) {
		return badParam("category PLAY_VOICE is for data messages only")
	}
	return nil
}

// check applies the message rules of the package comment, except size.
func (m *Message) check(maxTokens int) *refusal {
	targets := 0
	if m.Token != nil {
		targets++
	}
	if m.Topic != nil {
		targets++
	}
	if m.Condition != nil {
		targets++
	}
	if targets != 1 {
		return badParam("exactly one of token, topic, condition must be set")
	}
	if m.Token != nil && len(m.Token) == 0 {
		return badParam("token must hold 1 to %d tokens", maxTokens)
	}
	if len(m.Token) > maxTokens {
		return &refusal{status: 400, code: codeTooManyTokens, msg: "Tokens exceed the default value"}
	}
	a := m.Android
	isNotification := m.Notification != nil || (a != nil && a.Notification != nil)
	if !isNotification && m.Data == nil && (a == nil || a.Data == nil) {
		return &refusal{status: 400, code: codeStructure, msg: "Message structure error: neither notification nor data"}
	}
	if a == nil {
		if isNotification {
			return badParam("android.notification is required for a notification message")
		}
		return nil
	}
	if a.CollapseKey != nil && (*a.CollapseKey < -1 || *a.CollapseKey > 100) {
		return &refusal{status: 400, code: codeCollapseKey, msg: "Collapse_key is illegal, please check"}
	}
	switch a.Urgency {
	case "", "HIGH", "NORMAL":
	default:
		return badParam("urgency %q: want HIGH or NORMAL", a.Urgency)
	}
	if a.Category != "" && !categories[a.Category] {
		return badParam("category %q is not a Push Kit category", a.Category)
	}
	if a.TTL != "" {
		if !ttlPattern.MatchString(a.TTL) {
			return badParam("ttl %q: want seconds such as \"86400s\"", a.TTL)
		}
		secs, _ := strconv.ParseFloat(strings.TrimRight(a.TTL, "sS"), 64)
		if secs > maxTTLSeconds {
			return badParam("ttl %q is over 1296000s (15 days)", a.TTL)
		}
	}
	if a.FastAppTarget != 0 && a.FastAppTarget != 1 && a.FastAppTarget != 2 {
		return badParam("fast_app_target must be 1 or 2")
	}
	if a.TargetUserType != 0 && a.TargetUserType != 1 {
		return badParam("target_user_type must be 0 or 1")
	}
	if isNotification {
		return checkNotification(m.Notification, a.Notification)
	}
	return nil
}

func checkNotification(common *Notification, n *AndroidNotification) *refusal {
	if n == nil {
		return badParam("android.notification is required for a notification message")
	}
	title, body := n.Title, n.Body
	if common != nil {
		title = cmp(title, common.Title)
		body = cmp(body, common.Body)
	}
	if title == "" || body == "" {
		return badParam("a notification message needs a title and a body")
	}
	ca := n.ClickAction
	if ca == nil {
		return badParam("android.notification.click_action is required")
	}
	switch ca.Type {
	case 1:
		if ca.Intent == "" && ca.Action == "" {
			return badParam("click_action type 1 needs intent or action")
		}
	case 2:
		if !strings.HasPrefix(ca.URL, "https://") {
			return badParam("click_action type 2 needs an https url")
		}
	case 3:
	default:
		return badParam("click_action.type %d: want 1, 2 or 3", ca.Type)
	}
	switch n.Importance {
	case "", "LOW", "NORMAL", "HIGH":
	default:
		return badParam("importance %q: want LOW, NORMAL or HIGH", n.Importance)
	}
	if b := n.Badge; b != nil {
		// class is mandatory: Huawei's launcher only badges the app whose
		// entry Activity it names.
		if strings.TrimSpace(b.Class) == "" {
			return badParam("badge.class is required: the app's launcher Activity, e.g. com.example.MainActivity")
		}
		if b.AddNum != nil && (*b.AddNum < 1 || *b.AddNum > 99) {
			return badParam("badge.add_num must be 1..99")
		}
		if b.SetNum != nil && (*b.SetNum < 0 || *b.SetNum > 99) {
			return badParam("badge.set_num must be 0..99")
		}
	}
	if n.Style != nil {
		switch *n.Style {
		case 0:
		case 1:
			if n.BigTitle == "" || n.BigBody == "" {
				return badParam("style 1 needs big_title and big_body")
			}
		case 3:
			if len(n.InboxContent) == 0 {
				return badParam("style 3 needs inbox_content")
			}
		default:
			return badParam("style %d: want 0, 1 or 3", *n.Style)
		}
	}
	switch n.Visibility {
	case "", "VISIBILITY_UNSPECIFIED", "PUBLIC", "SECRET", "PRIVATE":
	default:
		return badParam("visibility %q is not a Push Kit visibility", n.Visibility)
	}
	return nil
}

// cmp returns the first non-empty string.
func cmp(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
