package oppo

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// OPPO's public return codes that the emulator answers.
const (
	codeSuccess          = 0
	codeUnavailable      = -1
	codeFlowControl      = -2
	codeInvalidToken     = 11
	codeMethodNotAllowed = 12
	codeCallLimited      = 13
	codeInvalidAppKey    = 14
	codeMissingAppKey    = 15
	codeInvalidSign      = 16
	codeMissingSign      = 17
	codeMissingTimestamp = 18
	codeInvalidTimestamp = 19
	codeMethodNotExist   = 20
	codeMissingToken     = 29
	codeDailyLimit       = 33
	codeMissingArgument  = 40
	codeInvalidArgument  = 41
	codeFrequencyLimit   = 55
	codeCategoryError    = 67
	codeInvalidRegID     = 10000
)

const (
	maxFormBytes            = 64 << 10
	maxTitleRunes           = 50
	maxSubTitleRunes        = 10
	maxContentRunes         = 200
	maxClickTargetRunes     = 500
	maxActionParameterBytes = 4096
)

// authToken is an issued auth_token.
type authToken struct {
	appKey  string
	expires time.Time
}

// envelope is OPPO's answer.
type envelope struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Data    any    `json:"data,omitempty"`
}

func writeAnswer(w http.ResponseWriter, code int, message string, data any) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(http.StatusOK)
	_ = json.NewEncoder(w).Encode(envelope{Code: code, Message: message, Data: data})
}

// readForm checks method and encoding and parses the form; false when it
// answered.
func readForm(w http.ResponseWriter, r *http.Request) bool {
	if r.Method != http.MethodPost {
		writeAnswer(w, codeMethodNotAllowed, "Http Action Not Allowed", nil)
		return false
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		writeAnswer(w, codeInvalidArgument, "Invalid Argument: body must be application/x-www-form-urlencoded", nil)
		return false
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		writeAnswer(w, codeInvalidArgument, "Invalid Argument: form: "+err.Error(), nil)
		return false
	}
	return true
}

func (e *Emulator) refuseAuth(w http.ResponseWriter, code int, msg string) {
	e.mu.Lock()
	e.stats.AuthRefusals++
	e.mu.Unlock()
	writeAnswer(w, code, msg, nil)
}

func (e *Emulator) handleAuth(w http.ResponseWriter, r *http.Request) {
	if !readForm(w, r) {
		return
	}
	appKey, ts, sign := r.PostForm.Get("app_key"), r.PostForm.Get("timestamp"), r.PostForm.Get("sign")
	switch {
	case appKey == "":
		e.refuseAuth(w, codeMissingAppKey, "Missing App Key")
		return
	case sign == "":
		e.refuseAuth(w, codeMissingSign, "Missing Signature")
		return
	case ts == "":
		e.refuseAuth(w, codeMissingTimestamp, "Missing Timestamp")
		return
	}
	e.mu.Lock()
	app := e.apps[appKey]
	e.mu.Unlock()
	if app == nil {
		e.refuseAuth(w, codeInvalidAppKey, "Invalid App Key")
		return
	}
	ms, err := strconv.ParseInt(ts, 10, 64)
	now := e.now()
	if err != nil || ms <= 0 {
		e.refuseAuth(w, codeInvalidTimestamp, "Invalid Timestamp")
		return
	}
	if d := now.Sub(time.UnixMilli(ms)); d > e.cfg.TimestampWindow || d < -e.cfg.TimestampWindow {
		e.refuseAuth(w, codeInvalidTimestamp, "Invalid Timestamp")
		return
	}
	sum := sha256.Sum256([]byte(appKey + ts + app.MasterSecret))
	want := hex.EncodeToString(sum[:])
	if subtle.ConstantTimeCompare([]byte(sign), []byte(want)) != 1 {
		e.refuseAuth(w, codeInvalidSign, "Invalid Signature")
		return
	}
	tok := randomHex(20)
	e.mu.Lock()
	for k, t := range e.tokens { // forget expired tokens: the map stays small
		if !now.Before(t.expires) {
			delete(e.tokens, k)
		}
	}
	e.tokens[tok] = &authToken{appKey: appKey, expires: now.Add(e.cfg.AuthTokenLifetime)}
	e.stats.AuthGrants++
	e.mu.Unlock()
	writeAnswer(w, codeSuccess, "Success", map[string]any{"auth_token": tok, "create_time": now.UnixMilli()})
}

func (e *Emulator) handleUnicast(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	e.stats.SendRequests++
	e.mu.Unlock()
	if !readForm(w, r) {
		return
	}
	tok := r.PostForm.Get("auth_token")
	if tok == "" {
		tok = r.Header.Get("auth_token")
	}
	if tok == "" {
		writeAnswer(w, codeMissingToken, "Missing AuthToken", nil)
		return
	}
	e.mu.Lock()
	at := e.tokens[tok]
	var app *App
	if at != nil && e.now().Before(at.expires) {
		app = e.apps[at.appKey]
	}
	e.mu.Unlock()
	if app == nil {
		writeAnswer(w, codeInvalidToken, "Invalid AuthToken", nil)
		return
	}
	if f := e.takeFault(""); f != nil && e.playFault(w, r, f) {
		return
	}
	raw := r.PostForm.Get("message")
	if raw == "" {
		writeAnswer(w, codeMissingArgument, "Missing Required Argument: message", nil)
		return
	}
	regID, n, code, msg := e.checkMessage(app, raw)
	if code != codeSuccess {
		writeAnswer(w, code, msg, nil)
		return
	}
	if f := e.takeFault(regID); f != nil && e.playFault(w, r, f) {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	d := e.devices[regID]
	if !regIDPattern.MatchString(regID) || d == nil || d.unregistered || d.appKey != app.AppKey {
		writeAnswer(w, codeInvalidRegID, "Invalid Registration_id", nil)
		return
	}
	if !slices.Contains(app.Channels, n.ChannelID) && !e.countPublic(app.AppKey) {
		writeAnswer(w, codeDailyLimit, "The daily message quota of public messages is exceeded", nil)
		return
	}
	id := app.AppID + "-1-1-" + randomHex(12)
	e.stats.Accepted++
	e.log.Record(regID, Delivery{MessageID: id, AppKey: app.AppKey, RegID: regID, Notification: n,
		Raw: json.RawMessage(raw), Received: e.now()})
	writeAnswer(w, codeSuccess, "Success", map[string]string{"messageId": id})
}

// notificationKeys are the notification keys OPPO documents (snake_case).
var notificationKeys = map[string]bool{
	"title": true, "sub_title": true, "content": true, "style": true, "app_message_id": true,
	"click_action_type": true, "click_action_activity": true, "click_action_url": true,
	"action_parameters": true, "show_time_type": true, "show_start_time": true, "show_end_time": true,
	"off_line": true, "off_line_ttl": true, "push_time_type": true, "push_start_time": true,
	"time_zone": true, "fix_speed": true, "fix_speed_rate": true, "network_type": true,
	"call_back_url": true, "call_back_parameter": true, "channel_id": true, "notify_id": true,
	"show_ttl": true, "small_picture_id": true, "big_picture_id": true, "category": true,
	"notify_level": true, "private_msg_template_id": true, "private_title_parameters": true,
	"private_content_parameters": true, "badge_operation_type": true,
}

// fields reads typed values out of a JSON object, remembering the first
// problem.
type fields struct {
	m   map[string]json.RawMessage
	err string
}

func (f *fields) fail(format string, args ...any) {
	if f.err == "" {
		f.err = fmt.Sprintf(format, args...)
	}
}

func (f *fields) str(key string) (string, bool) {
	raw, ok := f.m[key]
	if !ok || string(raw) == "null" {
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		f.fail("%s must be a string", key)
		return "", false
	}
	return s, true
}

func (f *fields) integer(key string) (int64, bool) {
	raw, ok := f.m[key]
	if !ok || string(raw) == "null" {
		return 0, false
	}
	var n int64
	if json.Unmarshal(raw, &n) != nil {
		f.fail("%s must be an integer", key)
		return 0, false
	}
	return n, true
}

func (f *fields) boolean(key string) (bool, bool) {
	raw, ok := f.m[key]
	if !ok || string(raw) == "null" {
		return false, false
	}
	var b bool
	if json.Unmarshal(raw, &b) != nil {
		f.fail("%s must be a boolean", key)
		return false, false
	}
	return b, true
}

func object(raw []byte) (map[string]json.RawMessage, bool) {
	var m map[string]json.RawMessage
	if !bytes.HasPrefix(bytes.TrimSpace(raw), []byte("{")) || json.Unmarshal(raw, &m) != nil {
		return nil, false
	}
	return m, true
}

// checkMessage validates the message JSON string for app; a code other
// than codeSuccess and its message say what is wrong.
func (e *Emulator) checkMessage(app *App, raw string) (string, Notification, int, string) {
	var n Notification
	top, ok := object([]byte(raw))
	if !ok {
		return "", n, codeInvalidArgument, "Invalid Argument: message must be a JSON object string"
	}
	mf := &fields{m: top}
	tt, ok := mf.integer("target_type")
	if !ok && mf.err == "" {
		return "", n, codeMissingArgument, "Missing Required Argument: target_type"
	}
	if mf.err == "" && tt != 2 {
		mf.fail("target_type %d: the emulator knows 2 (registration_id) only", tt)
	}
	regID, ok := mf.str("target_value")
	if mf.err == "" && (!ok || regID == "") {
		return "", n, codeMissingArgument, "Missing Required Argument: target_value"
	}
	mf.boolean("verify_registration_id")
	if mf.err != "" {
		return "", n, codeInvalidArgument, "Invalid Argument: " + mf.err
	}
	nraw, ok := top["notification"]
	if !ok {
		return "", n, codeMissingArgument, "Missing Required Argument: notification"
	}
	nm, ok := object(nraw)
	if !ok {
		return "", n, codeInvalidArgument, "Invalid Argument: notification must be an object"
	}
	for k := range nm {
		if !notificationKeys[k] {
			return "", n, codeInvalidArgument, "Invalid Argument: unknown notification field " + k
		}
	}
	f := &fields{m: nm}
	var hasTitle, hasContent bool
	n.Title, hasTitle = f.str("title")
	n.Content, hasContent = f.str("content")
	n.SubTitle, _ = f.str("sub_title")
	if f.err == "" && (!hasTitle || n.Title == "" || !hasContent || n.Content == "") {
		return "", n, codeMissingArgument, "Missing Required Argument: title and content"
	}
	if c := utf8.RuneCountInString(n.Title); c > maxTitleRunes {
		f.fail("title of %d characters exceeds %d", c, maxTitleRunes)
	}
	if c := utf8.RuneCountInString(n.SubTitle); c > maxSubTitleRunes {
		f.fail("sub_title of %d characters exceeds %d", c, maxSubTitleRunes)
	}
	if c := utf8.RuneCountInString(n.Content); c > maxContentRunes {
		f.fail("content of %d characters exceeds %d", c, maxContentRunes)
	}
	cat, _ := f.integer("click_action_type")
	n.ClickActionType = int(cat)
	n.ClickActionActivity, _ = f.str("click_action_activity")
	n.ClickActionURL, _ = f.str("click_action_url")
	switch cat {
	case 0:
	case 1, 4:
		if n.ClickActionActivity == "" {
			f.fail("click_action_type %d needs click_action_activity", cat)
		}
	case 2, 5:
		if n.ClickActionURL == "" {
			f.fail("click_action_type %d needs click_action_url", cat)
		}
	default:
		f.fail("click_action_type %d is not one of 0, 1, 2, 4, 5", cat)
	}
	if utf8.RuneCountInString(n.ClickActionActivity) > maxClickTargetRunes || utf8.RuneCountInString(n.ClickActionURL) > maxClickTargetRunes {
		f.fail("click_action_activity or click_action_url exceeds %d characters", maxClickTargetRunes)
	}
	if ap, ok := f.str("action_parameters"); ok {
		n.ActionParameters = ap
		if len(ap) > maxActionParameterBytes {
			f.fail("action_parameters of %d bytes exceeds %d", len(ap), maxActionParameterBytes)
		} else if _, ok := object([]byte(ap)); !ok {
			f.fail("action_parameters must be a JSON object string")
		}
	}
	n.OffLine = true
	if b, ok := f.boolean("off_line"); ok {
		n.OffLine = b
	}
	if ttl, ok := f.integer("off_line_ttl"); ok {
		if ttl < int64(e.cfg.MinOffLineTTL) || ttl > MaxOffLineTTL {
			f.fail("off_line_ttl %d outside %d..%d", ttl, e.cfg.MinOffLineTTL, MaxOffLineTTL)
		}
		n.OffLineTTL = int(ttl)
	}
	n.AppMessageID, _ = f.str("app_message_id")
	n.PrivateMsgTemplateID, _ = f.str("private_msg_template_id")
	nid, _ := f.integer("notify_id")
	n.NotifyID = int(nid)
	n.ChannelID, _ = f.str("channel_id")
	n.Category, _ = f.str("category")
	level, hasLevel := f.integer("notify_level")
	n.NotifyLevel = int(level)
	if f.err != "" {
		return "", n, codeInvalidArgument, "Invalid Argument: " + f.err
	}
	if n.ChannelID != "" && len(app.Channels) > 0 && !slices.Contains(app.Channels, n.ChannelID) {
		return "", n, codeCategoryError, "channel_id " + n.ChannelID + " is not declared by the app"
	}
	if n.Category != "" && !e.categories[n.Category] {
		return "", n, codeCategoryError, "category " + n.Category + " is invalid"
	}
	if hasLevel && level != 1 && level != 2 && level != 16 {
		return "", n, codeCategoryError, fmt.Sprintf("notify_level %d is invalid", level)
	}
	return regID, n, codeSuccess, ""
}

// countPublic counts one accepted public (公信) message of the app for
// today (the emulator's clock, China time, where OPPO's days begin) and
// reports whether it is within Config.PublicDailyLimit. Messages on one of
// the app's registered private (私信) channels are never counted. The
// caller holds e.mu.
func (e *Emulator) countPublic(appKey string) bool {
	if e.cfg.PublicDailyLimit <= 0 {
		return true
	}
	day := e.now().In(chinaTime).Format(time.DateOnly)
	if e.publicDay != day {
		e.publicDay, e.publicSent = day, map[string]int{}
	}
	if e.publicSent[appKey] >= e.cfg.PublicDailyLimit {
		return false
	}
	e.publicSent[appKey]++
	return true
}

// chinaTime is UTC+8: OPPO's daily quotas reset at its midnight.
var chinaTime = time.FixedZone("UTC+8", 8*60*60)
