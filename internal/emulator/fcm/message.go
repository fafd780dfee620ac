package fcm

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Message is a message as the emulator decoded it. Field names are the
// REST API's; enumerations are upper-cased. Treat it as read-only.
type Message struct {
	Token     string
	Topic     string
	Condition string
	// Data is the top-level data map.
	Data         map[string]string
	Notification *Notification
	Android      *AndroidConfig
	// APNs, Webpush and FCMOptions are kept as sent; the emulator plays an
	// Android device and checks them only for being objects.
	APNs       json.RawMessage
	Webpush    json.RawMessage
	FCMOptions json.RawMessage
}

// Notification is the cross-platform notification block.
type Notification struct {
	Title string
	Body  string
	Image string
}

// AndroidConfig is the "android" block.
type AndroidConfig struct {
	CollapseKey           string
	Priority              string // "NORMAL", "HIGH" or "" when absent
	TTL                   string // as sent, e.g. "3600s"
	RestrictedPackageName string
	Data                  map[string]string
	Notification          *AndroidNotification
	DirectBootOK          bool
}

// AndroidNotification is android.notification. Fields holds every field
// that was sent, by its snake_case name, as sent.
type AndroidNotification struct {
	Title             string
	Body              string
	ChannelID         string
	Sound             string
	Tag               string
	ClickAction       string
	Icon              string
	Color             string
	Image             string
	NotificationCount *int
	Fields            map[string]json.RawMessage
}

// TTL returns android.ttl as a duration and whether there was one.
func (m *Message) TTL() (time.Duration, bool) {
	if m.Android == nil || m.Android.TTL == "" {
		return 0, false
	}
	d, _ := parseDuration(m.Android.TTL) // checked when the message was accepted
	return d, true
}

// sendRequest is a decoded messages:send body.
type sendRequest struct {
	validateOnly bool
	message      Message
	raw          json.RawMessage // the "message" object as sent
}

// member is one field of a JSON object, in the order sent.
type member struct {
	key string
	raw json.RawMessage
}

// parseObject decodes a JSON object keeping its members' order, which
// Google's error texts refer to (message.data[0].value). A later duplicate
// key wins, as the send method's reference page says.
func parseObject(raw json.RawMessage) ([]member, bool) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, false
	}
	var ms []member
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, false
		}
		key, ok := t.(string)
		if !ok {
			return nil, false
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, false
		}
		ms = append(ms, member{key, v})
	}
	if t, err := dec.Token(); err != nil || t != json.Delim('}') {
		return nil, false
	}
	return ms, true
}

// snake turns a lowerCamelCase field name into the proto name; Google's
// JSON parser accepts both.
func snake(s string) string {
	var b strings.Builder
	for _, r := range s {
		if unicode.IsUpper(r) {
			b.WriteByte('_')
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

// decoder walks a request, stopping at the first error in Google's words.
type decoder struct{ err *apiError }

func (d *decoder) fail(e *apiError) {
	if d.err == nil {
		d.err = e
	}
}

func unknownField(name, at string) *apiError {
	desc := fmt.Sprintf("Invalid JSON payload received. Unknown name %q at '%s': Cannot find field.", name, at)
	if at == "" {
		desc = fmt.Sprintf("Invalid JSON payload received. Unknown name %q: Cannot find field.", name)
	}
	return errField(at, desc)
}

func invalidValue(path, typ string, raw json.RawMessage) *apiError {
	return errField(path, fmt.Sprintf("Invalid value at '%s' (%s), %s", path, typ, compact(raw)))
}

func compact(raw json.RawMessage) string {
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return string(raw)
	}
	return b.String()
}

// fields decodes an object at path whose members must all be in known
// (snake_case names); it returns them by snake_case name.
func (d *decoder) fields(path, typ string, raw json.RawMessage, known map[string]bool) map[string]json.RawMessage {
	ms, ok := parseObject(raw)
	if !ok {
		d.fail(invalidValue(path, typ, raw))
		return nil
	}
	out := make(map[string]json.RawMessage, len(ms))
	for _, m := range ms {
		name := snake(m.key)
		if !known[name] {
			d.fail(unknownField(m.key, path))
			return nil
		}
		if isNull(m.raw) {
			continue // null is the field's default in proto JSON
		}
		out[name] = m.raw
	}
	return out
}

func (d *decoder) str(path string, raw json.RawMessage) string {
	if raw == nil {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		d.fail(invalidValue(path, "TYPE_STRING", raw))
	}
	return s
}

func (d *decoder) boolean(path string, raw json.RawMessage) bool {
	if raw == nil {
		return false
	}
	var v bool
	if json.Unmarshal(raw, &v) != nil {
		d.fail(invalidValue(path, "TYPE_BOOL", raw))
	}
	return v
}

// int32 accepts a JSON number or a numeric string, like proto JSON.
func (d *decoder) int32(path string, raw json.RawMessage) *int {
	if raw == nil {
		return nil
	}
	s := strings.Trim(string(bytes.TrimSpace(raw)), `"`)
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil {
		d.fail(invalidValue(path, "TYPE_INT32", raw))
		return nil
	}
	v := int(n)
	return &v
}

// stringMap decodes a map<string,string>; a value of another type is the
// error of the first example on FCM's error-code page.
func (d *decoder) stringMap(path string, raw json.RawMessage) map[string]string {
	if raw == nil {
		return nil
	}
	ms, ok := parseObject(raw)
	if !ok {
		d.fail(invalidValue(path, "TYPE_MESSAGE", raw))
		return nil
	}
	out := make(map[string]string, len(ms))
	for i, m := range ms {
		var s string
		if json.Unmarshal(m.raw, &s) != nil {
			d.fail(invalidValue(fmt.Sprintf("%s[%d].value", path, i), "TYPE_STRING", m.raw))
			return nil
		}
		out[m.key] = s
	}
	return out
}

func (d *decoder) object(path, typ string, raw json.RawMessage) json.RawMessage {
	if raw == nil {
		return nil
	}
	if _, ok := parseObject(raw); !ok {
		d.fail(invalidValue(path, typ, raw))
		return nil
	}
	return raw
}

// enum checks an enumeration given by name (any case, as vendors.md §2
// notes for priority) or by number.
func (d *decoder) enum(path, typ string, raw json.RawMessage, values []string) string {
	if raw == nil {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		for _, v := range values {
			if strings.EqualFold(s, v) {
				return v
			}
		}
	} else {
		var n int
		if json.Unmarshal(raw, &n) == nil && n >= 0 && n < len(values) {
			return values[n]
		}
	}
	d.fail(invalidValue(path, typ, raw))
	return ""
}

func set(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

// The fields of each object of the v1 Message, by proto name.
var (
	requestFields = set("validate_only", "message")
	messageFields = set("name", "data", "notification", "android", "webpush", "apns",
		"fcm_options", "token", "topic", "condition", "fid")
	notificationFields = set("title", "body", "image")
	androidFields      = set("collapse_key", "priority", "ttl", "restricted_package_name",
		"data", "notification", "fcm_options", "direct_boot_ok", "bandwidth_constrained_ok",
		"restricted_satellite_ok")
	androidNotificationFields = set("title", "body", "icon", "color", "sound", "tag",
		"click_action", "body_loc_key", "body_loc_args", "title_loc_key", "title_loc_args",
		"channel_id", "ticker", "sticky", "event_time", "local_only", "notification_priority",
		"default_sound", "default_vibrate_timings", "default_light_settings", "vibrate_timings",
		"visibility", "notification_count", "light_settings", "image", "bypass_proxy_notification",
		"proxy")
	androidFCMOptionsFields = set("analytics_label")
)

// Android enumerations, in proto order (so that numbers index them).
var (
	androidPriorities    = []string{"NORMAL", "HIGH"}
	notificationPriority = []string{"PRIORITY_UNSPECIFIED", "PRIORITY_MIN", "PRIORITY_LOW",
		"PRIORITY_DEFAULT", "PRIORITY_HIGH", "PRIORITY_MAX"}
	visibilities = []string{"VISIBILITY_UNSPECIFIED", "PRIVATE", "PUBLIC", "SECRET"}
	proxies      = []string{"PROXY_UNSPECIFIED", "ALLOW", "DENY", "IF_PRIORITY_LOWERED"}
)

// durationRE is protobuf's JSON Duration for non-negative values, as
// vendors.md §2 gives it for android.ttl.
var durationRE = regexp.MustCompile(`^\d+(\.\d{1,9})?s$`)

const maxTTLSeconds = 2419200 // 28 days

// parseDuration reads a Duration string; ok is false when it does not
// have the format.
func parseDuration(s string) (time.Duration, bool) {
	if !durationRE.MatchString(s) {
		return 0, false
	}
	f, err := strconv.ParseFloat(strings.TrimSuffix(s, "s"), 64)
	if err != nil || f > maxTTLSeconds*2 {
		return time.Duration(maxTTLSeconds*2) * time.Second, true // out of range either way
	}
	return time.Duration(f * float64(time.Second)), true
}

var colorRE = regexp.MustCompile(`^#[0-9a-fA-F]{6}([0-9a-fA-F]{2})?$`)

// topicRE is FCM's topic name alphabet.
var topicRE = regexp.MustCompile(`^[a-zA-Z0-9\-_.~%]{1,900}$`)

// decodeRequest decodes and checks a messages:send body (checks 4 of the
// package comment, but the size: see checkSize).
func decodeRequest(body []byte) (*sendRequest, *apiError) {
	if !json.Valid(body) {
		return nil, errField("", "Invalid JSON payload received. Unexpected token.")
	}
	if _, ok := parseObject(body); !ok {
		return nil, errField("", "Invalid JSON payload received. Expected an object.")
	}
	d := &decoder{}
	top := d.fields("", "", body, requestFields)
	if d.err != nil {
		return nil, d.err
	}
	req := &sendRequest{validateOnly: d.boolean("validate_only", top["validate_only"])}
	raw, ok := top["message"]
	if !ok {
		return nil, errField("message", "Request contains an invalid argument: message is required.")
	}
	req.raw = raw
	m := &req.message
	mf := d.fields("message", "type.googleapis.com/google.firebase.fcm.v1.Message", raw, messageFields)
	if d.err != nil {
		return nil, d.err
	}

	// Exactly one target: a oneof in the proto.
	var targets []string
	for _, t := range []string{"token", "topic", "condition", "fid"} {
		if _, ok := mf[t]; ok {
			targets = append(targets, t)
		}
	}
	switch len(targets) {
	case 0:
		return nil, errField("message", "Recipient of the message is not set.")
	case 1:
	default:
		return nil, errField("message", fmt.Sprintf("Invalid value at 'message' (oneof), oneof field 'target' is already set. Cannot set '%s'", targets[1]))
	}
	m.Token = d.str("message.token", mf["token"])
	m.Topic = d.str("message.topic", mf["topic"])
	m.Condition = d.str("message.condition", mf["condition"])
	fid := d.str("message.fid", mf["fid"])
	_ = d.str("message.name", mf["name"]) // output only; ignored like FCM
	if d.err != nil {
		return nil, d.err
	}
	switch targets[0] {
	case "token":
		if m.Token == "" {
			return nil, errField("message.token", "Recipient of the message is not set.")
		}
	case "topic":
		if !topicRE.MatchString(strings.TrimPrefix(m.Topic, "/topics/")) {
			return nil, errField("message.topic", "Invalid topic name: "+m.Topic)
		}
	case "condition":
		if strings.TrimSpace(m.Condition) == "" {
			return nil, errField("message.condition", "Recipient of the message is not set.")
		}
	case "fid":
		return nil, errField("message.fid", "The emulator does not support Firebase Installation ID targets ("+fid+").")
	}

	m.Data = d.stringMap("message.data", mf["data"])
	if nf, ok := mf["notification"]; ok {
		f := d.fields("message.notification", "type.googleapis.com/google.firebase.fcm.v1.Notification", nf, notificationFields)
		if d.err == nil {
			m.Notification = &Notification{
				Title: d.str("message.notification.title", f["title"]),
				Body:  d.str("message.notification.body", f["body"]),
				Image: d.str("message.notification.image", f["image"]),
			}
		}
	}
	if af, ok := mf["android"]; ok && d.err == nil {
		m.Android = d.android(af)
	}
	m.APNs = d.object("message.apns", "type.googleapis.com/google.firebase.fcm.v1.ApnsConfig", mf["apns"])
	m.Webpush = d.object("message.webpush", "type.googleapis.com/google.firebase.fcm.v1.WebpushConfig", mf["webpush"])
	m.FCMOptions = d.object("message.fcm_options", "type.googleapis.com/google.firebase.fcm.v1.FcmOptions", mf["fcm_options"])
	if d.err != nil {
		return nil, d.err
	}
	for _, data := range []struct {
		path string
		m    map[string]string
	}{{"message.data", m.Data}, {"message.android.data", androidData(m.Android)}} {
		for k := range data.m {
			if e := checkDataKey(data.path, k); e != nil {
				return nil, e
			}
		}
	}
	return req, nil
}

func androidData(a *AndroidConfig) map[string]string {
	if a == nil {
		return nil
	}
	return a.Data
}

// checkDataKey refuses the keys FCM keeps for itself: "from", "gcm" and
// any key prefixed with "google" (error-code page). The text is
// UNCONFIRMED.
func checkDataKey(path, k string) *apiError {
	if k == "from" || k == "gcm" || strings.HasPrefix(k, "google") {
		return errField(path, fmt.Sprintf("Invalid data key %q: the key is reserved by FCM.", k))
	}
	return nil
}

func (d *decoder) android(raw json.RawMessage) *AndroidConfig {
	const p = "message.android"
	f := d.fields(p, "type.googleapis.com/google.firebase.fcm.v1.AndroidConfig", raw, androidFields)
	if d.err != nil {
		return nil
	}
	a := &AndroidConfig{
		CollapseKey:           d.str(p+".collapse_key", f["collapse_key"]),
		Priority:              d.enum(p+".priority", "type.googleapis.com/google.firebase.fcm.v1.AndroidMessagePriority", f["priority"], androidPriorities),
		TTL:                   d.str(p+".ttl", f["ttl"]),
		RestrictedPackageName: d.str(p+".restricted_package_name", f["restricted_package_name"]),
		Data:                  d.stringMap(p+".data", f["data"]),
		DirectBootOK:          d.boolean(p+".direct_boot_ok", f["direct_boot_ok"]),
	}
	d.boolean(p+".bandwidth_constrained_ok", f["bandwidth_constrained_ok"])
	d.boolean(p+".restricted_satellite_ok", f["restricted_satellite_ok"])
	if o, ok := f["fcm_options"]; ok {
		d.fields(p+".fcm_options", "type.googleapis.com/google.firebase.fcm.v1.AndroidFcmOptions", o, androidFCMOptionsFields)
	}
	if d.err != nil {
		return nil
	}
	if a.TTL != "" {
		ttl, ok := parseDuration(a.TTL)
		switch {
		case !ok:
			d.fail(invalidValue(p+".ttl", "type.googleapis.com/google.protobuf.Duration", f["ttl"]))
		case ttl > maxTTLSeconds*time.Second:
			// The range is documented; the text is UNCONFIRMED.
			d.fail(errField(p+".ttl", "The value of ttl must be between 0 and 2419200 seconds (28 days): "+a.TTL))
		}
	}
	if n, ok := f["notification"]; ok && d.err == nil {
		a.Notification = d.androidNotification(n)
	}
	return a
}

func (d *decoder) androidNotification(raw json.RawMessage) *AndroidNotification {
	const p = "message.android.notification"
	f := d.fields(p, "type.googleapis.com/google.firebase.fcm.v1.AndroidNotification", raw, androidNotificationFields)
	if d.err != nil {
		return nil
	}
	n := &AndroidNotification{
		Title:             d.str(p+".title", f["title"]),
		Body:              d.str(p+".body", f["body"]),
		ChannelID:         d.str(p+".channel_id", f["channel_id"]),
		Sound:             d.str(p+".sound", f["sound"]),
		Tag:               d.str(p+".tag", f["tag"]),
		ClickAction:       d.str(p+".click_action", f["click_action"]),
		Icon:              d.str(p+".icon", f["icon"]),
		Color:             d.str(p+".color", f["color"]),
		Image:             d.str(p+".image", f["image"]),
		NotificationCount: d.int32(p+".notification_count", f["notification_count"]),
		Fields:            f,
	}
	for _, s := range []string{"body_loc_key", "title_loc_key", "ticker", "event_time"} {
		d.str(p+"."+s, f[s])
	}
	for _, b := range []string{"sticky", "local_only", "default_sound", "default_vibrate_timings",
		"default_light_settings", "bypass_proxy_notification"} {
		d.boolean(p+"."+b, f[b])
	}
	d.enum(p+".notification_priority", "type.googleapis.com/google.firebase.fcm.v1.AndroidNotification.NotificationPriority", f["notification_priority"], notificationPriority)
	d.enum(p+".visibility", "type.googleapis.com/google.firebase.fcm.v1.AndroidNotification.Visibility", f["visibility"], visibilities)
	d.enum(p+".proxy", "type.googleapis.com/google.firebase.fcm.v1.AndroidNotification.Proxy", f["proxy"], proxies)
	if n.Color != "" && !colorRE.MatchString(n.Color) {
		d.fail(errField(p+".color", "Invalid color: "+n.Color+" (want #rrggbb)"))
	}
	if n.NotificationCount != nil && *n.NotificationCount < 0 {
		d.fail(errField(p+".notification_count", "notification_count must not be negative"))
	}
	if d.err != nil {
		return nil
	}
	return n
}

// messageSize is what the emulator counts against MaxMessageBytes: the
// bytes of the keys and values of both data maps, and of the titles and
// bodies of both notification blocks. FCM's page says the limit "includes
// both the keys and the values" without a finer rule: what FCM counts
// exactly is UNCONFIRMED.
func messageSize(m *Message) int {
	n := 0
	for k, v := range m.Data {
		n += len(k) + len(v)
	}
	if m.Notification != nil {
		n += len(m.Notification.Title) + len(m.Notification.Body)
	}
	if a := m.Android; a != nil {
		for k, v := range a.Data {
			n += len(k) + len(v)
		}
		if a.Notification != nil {
			n += len(a.Notification.Title) + len(a.Notification.Body)
		}
	}
	return n
}
