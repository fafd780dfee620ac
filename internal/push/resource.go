package push

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// ErrInvalidResource: a resource's options are misconfigured. It is
// returned when the resource is created, never when a push uses it.
var ErrInvalidResource = errors.New("push: invalid resource")

// ResourceSpec is what a push resource says: per-vendor delivery options
// that a push config names by its resourcesID. Its JSON is one object with
// a key per vendor ("apns", "fcm", "huawei", "xiaomi", "oppo", "vivo",
// "honor")
// beside the vendor-neutral options ("badge").
type ResourceSpec struct {
	APNs   *APNsOptions    `json:"apns,omitempty"`
	FCM    *FCMOptions     `json:"fcm,omitempty"`
	Huawei *AndroidOptions `json:"huawei,omitempty"`
	Xiaomi *AndroidOptions `json:"xiaomi,omitempty"`
	OPPO   *AndroidOptions `json:"oppo,omitempty"`
	Vivo   *AndroidOptions `json:"vivo,omitempty"`
	Honor  *AndroidOptions `json:"honor,omitempty"`
	// Badge sets the app icon's badge to the recipient's unread count
	// across conversations, read when the push is sent. Huawei badges
	// only with the app's launcher Activity (its credential's badge
	// class): the admin API refuses a badge resource while the app's
	// Huawei credential has none.
	Badge bool `json:"badge"`
}

// APNsOptions are a resource's options for iOS devices.
type APNsOptions struct {
	// Sound is a sound file of the app bundle ("call.caf") or "default".
	Sound string `json:"sound,omitempty"`
	// Category is the notification category the app registered (its
	// actions).
	Category string `json:"category,omitempty"`
	// PushType is "alert" (the default), "background" (content-available,
	// never shown) or "voip" (PushKit, sent to the device's VoIP token).
	PushType string `json:"pushType,omitempty"`
}

// FCMOptions are a resource's options for Android devices reached through
// FCM.
type FCMOptions struct {
	// ChannelID is the Android notification channel the app created.
	ChannelID string `json:"channelID,omitempty"`
	// Priority is "high" or "normal"; empty: Herald's default (high for
	// notifications).
	Priority string `json:"priority,omitempty"`
	// Kind is "notification" (shown by the system, the default) or "data"
	// (handed to the app).
	Kind string `json:"kind,omitempty"`
}

// AndroidOptions are a resource's options for Huawei, Xiaomi, OPPO, vivo
// and Honor devices. The message class that keeps IM pushes out of the vendors'
// marketing quotas is mostly set on the credential (OPPO category and
// notify level, vivo classification and category, Huawei
// self-classification); a resource picks the channel.
type AndroidOptions struct {
	// ChannelID is the Android notification channel the app created (for
	// Xiaomi and OPPO, the private-message channel registered with the
	// vendor). vivo and Honor have no channels.
	ChannelID string `json:"channelID,omitempty"`
	// Kind is "notification" (the default) or "data" (pass-through; only
	// where the vendor hands data to the app: Huawei, Honor).
	Kind string `json:"kind,omitempty"`
}

// Resource is a stored resource of an app.
type Resource struct {
	AppID     string
	ID        string
	Spec      ResourceSpec
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Resource option limits.
const (
	// MaxResourceOptionLen bounds sounds, categories and channel IDs: no
	// real one is longer, and each travels in every push.
	MaxResourceOptionLen = 64
)

// ParseResourceSpec decodes and checks a resource's JSON. Every error wraps
// ErrInvalidResource and says which key is wrong.
func ParseResourceSpec(b []byte) (ResourceSpec, error) {
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(b, &keys); err != nil || keys == nil {
		return ResourceSpec{}, fmt.Errorf("%w: not a JSON object", ErrInvalidResource)
	}
	names := make([]string, 0, len(keys))
	for k := range keys {
		names = append(names, k)
	}
	sort.Strings(names)
	var spec ResourceSpec
	for _, k := range names {
		raw := keys[k]
		var err error
		switch {
		case k == "apns":
			spec.APNs = &APNsOptions{}
			err = strictJSON(raw, spec.APNs)
		case k == "fcm":
			spec.FCM = &FCMOptions{}
			err = strictJSON(raw, spec.FCM)
		case k == "huawei":
			spec.Huawei = &AndroidOptions{}
			err = strictJSON(raw, spec.Huawei)
		case k == "xiaomi":
			spec.Xiaomi = &AndroidOptions{}
			err = strictJSON(raw, spec.Xiaomi)
		case k == "oppo":
			spec.OPPO = &AndroidOptions{}
			err = strictJSON(raw, spec.OPPO)
		case k == "vivo":
			spec.Vivo = &AndroidOptions{}
			err = strictJSON(raw, spec.Vivo)
		case k == "honor":
			spec.Honor = &AndroidOptions{}
			err = strictJSON(raw, spec.Honor)
		case k == "badge":
			err = json.Unmarshal(raw, &spec.Badge)
		default:
			return ResourceSpec{}, fmt.Errorf("%w: unknown key %q (want apns, fcm, huawei, xiaomi, oppo, vivo, honor, badge)", ErrInvalidResource, k)
		}
		if err != nil {
			return ResourceSpec{}, fmt.Errorf("%w: %s: %v", ErrInvalidResource, k, err)
		}
	}
	if err := spec.Validate(); err != nil {
		return ResourceSpec{}, err
	}
	return spec, nil
}

// strictJSON decodes one object into v, refusing unknown fields.
func strictJSON(raw json.RawMessage, v any) error {
	if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return errors.New("must be an object")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return fmt.Errorf("field %q must be %s", te.Field, te.Type)
		}
		return errors.New(strings.TrimPrefix(err.Error(), "json: "))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("data after the object")
	}
	return nil
}

// Validate checks every option; the error wraps ErrInvalidResource.
func (s ResourceSpec) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalidResource}, args...)...)
	}
	if a := s.APNs; a != nil {
		if !printableOption(a.Sound) {
			return bad("apns.sound must be up to %d printable ASCII characters without '/'", MaxResourceOptionLen)
		}
		if !printableOption(a.Category) {
			return bad("apns.category must be up to %d printable ASCII characters without '/'", MaxResourceOptionLen)
		}
		switch a.PushType {
		case "", "alert", "background", "voip":
		default:
			return bad("apns.pushType %q: want alert, background or voip", a.PushType)
		}
	}
	if f := s.FCM; f != nil {
		if !ValidChannelID(f.ChannelID) {
			return bad("fcm.channelID must be up to %d characters of A-Z a-z 0-9 _ - .", MaxResourceOptionLen)
		}
		switch f.Priority {
		case "", "high", "normal":
		default:
			return bad("fcm.priority %q: want high or normal", f.Priority)
		}
		switch f.Kind {
		case "", "notification", "data":
		case "voip":
			return bad("fcm.kind voip: VoIP pushes exist on APNs only (an Android call invitation is a high-priority data message)")
		default:
			return bad("fcm.kind %q: want notification or data", f.Kind)
		}
	}
	for v, o := range s.android() {
		if o == nil {
			continue
		}
		if !ValidChannelID(o.ChannelID) {
			return bad("%s.channelID must be up to %d characters of A-Z a-z 0-9 _ - .", v, MaxResourceOptionLen)
		}
		if v == VendorVivo && o.ChannelID != "" {
			return bad("vivo.channelID: vivo has no notification channels (its classification and category are set on the credential)")
		}
		if v == VendorHonor && o.ChannelID != "" {
			return bad("honor.channelID: Honor's API takes no notification channel (its class is importance, set by Herald)")
		}
		switch o.Kind {
		case "", "notification":
		case "data":
			if !PassThrough(v) {
				return bad("%s.kind data: %s has no pass-through messages the app receives", v, v)
			}
		default:
			return bad("%s.kind %q: want notification or data", v, o.Kind)
		}
	}
	return nil
}

// android returns the Android vendors' options by vendor.
func (s ResourceSpec) android() map[Vendor]*AndroidOptions {
	return map[Vendor]*AndroidOptions{VendorHuawei: s.Huawei, VendorXiaomi: s.Xiaomi, VendorOPPO: s.OPPO, VendorVivo: s.Vivo,
		VendorHonor: s.Honor}
}

func printableOption(s string) bool {
	if len(s) > MaxResourceOptionLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '/' || c == '\\' {
			return false
		}
	}
	return true
}

// ValidChannelID reports whether s can be an Android notification channel
// ID as Herald sends it: up to MaxResourceOptionLen characters of A-Z a-z
// 0-9 _ - . (empty is valid: no channel).
func ValidChannelID(s string) bool {
	if len(s) > MaxResourceOptionLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// ResourceLookup is the dispatcher's optional store capability that finds
// a resource by ID; ErrNotFound when the app has none by that ID. Without
// it, resourcesIDs are ignored.
type ResourceLookup interface {
	Resource(ctx context.Context, appID, id string) (Resource, error)
}

// UnreadCounter is the dispatcher's optional store capability that sums a
// user's unread counts across conversations, leaving out those the user
// set to do-not-disturb (the badge). Without it, no badge is set.
type UnreadCounter interface {
	UnreadTotal(ctx context.Context, appID, userID string) (int64, error)
}

// BadgeCounter is the dispatcher's optional store capability behind a
// push config's EnableBadge: UnreadTotal without message messageID when
// that message is counted there (0: none to leave out). Without it, a push
// config's badge is not set.
type BadgeCounter interface {
	UnreadExcept(ctx context.Context, appID, userID string, messageID int64) (int64, error)
}

// Targets names the recipients of a push sent without a message (the
// admin API's send): exactly one of UserIDs and PushIDs is set.
type Targets struct {
	UserIDs []string
	PushIDs []string
}

// BadgeOf is the badge of a push whose config has EnableBadge (ZIM's
// enableBadge and badgeIncrement): what the recipient's conversations say
// without this push's message — others, the unread messages across its
// conversations not set to do-not-disturb, read when the push is sent —
// raised by the push's badgeIncrement, as ZIM's badge is the one the app
// reported raised by the increment. So with the usual increment 1 the
// badge counts this message among the unread ones, and with 0 it stays
// what the conversations say without it.
func BadgeOf(others int64, increment int) int {
	return int(min(others+int64(max(increment, 0)), 1<<31-1))
}
