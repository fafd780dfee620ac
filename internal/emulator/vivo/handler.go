package vivo

import (
	"bytes"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"time"
	"unicode"
	"unicode/utf8"
)

// maxBody bounds a request body; vivo's are a few KiB at most.
const maxBody = 64 << 10

// chinaTime is UTC+8 without daylight saving: vivo's days and hours.
var chinaTime = time.FixedZone("UTC+8", 8*60*60)

// regIDPattern is what the emulator accepts as a regId (vendors.md §6.5;
// the v2- form is UNCONFIRMED but observed in clients).
var regIDPattern = regexp.MustCompile(`^(\d{23}|v2-[A-Za-z0-9_\-]{20,})$`)

// Categories per classification (1 system, 0 operation).
var categories = map[int]map[string]bool{
	1: {"IM": true, "ACCOUNT": true, "TODO": true, "DEVICE_REMINDER": true, "ORDER": true, "SUBSCRIPTION": true},
	0: {"NEWS": true, "CONTENT": true, "MARKETING": true, "SOCIAL": true},
}

// answer is vivo's JSON answer.
type answer struct {
	Result      int          `json:"result"`
	Desc        string       `json:"desc"`
	TaskID      string       `json:"taskId,omitempty"`
	AuthToken   string       `json:"authToken,omitempty"`
	InvalidUser *InvalidUser `json:"invalidUser,omitempty"`
}

// InvalidUser is vivo's report of a regId it will not deliver to.
type InvalidUser struct {
	// Status: 1 no such user, 2 uninstalled or notifications off, 3
	// offline for 90 days, 4 not a test device.
	Status int    `json:"status"`
	UserID string `json:"userid"`
}

func writeAnswer(w http.ResponseWriter, a answer) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(http.StatusOK)
	_ = json.NewEncoder(w).Encode(a)
}

// writeServerError is vivo's documented HTTP 500 answer.
func writeServerError(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/plain;charset=UTF-8")
	w.WriteHeader(http.StatusInternalServerError)
	_, _ = io.WriteString(w, "Internet server error!")
}

// readObject reads a JSON object body into its fields.
func readObject(w http.ResponseWriter, r *http.Request) (map[string]json.RawMessage, error) {
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		return nil, fmt.Errorf("body: %v", err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return nil, fmt.Errorf("body is not a JSON object")
	}
	return m, nil
}

func isNull(raw json.RawMessage) bool { return raw == nil || string(raw) == "null" }

// strField reads a string field; absent or null is "".
func strField(m map[string]json.RawMessage, name string) (string, error) {
	raw := m[name]
	if isNull(raw) {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("%s is not a string", name)
	}
	return s, nil
}

// intField reads an integer field (a JSON number, or with quoted a string
// of digits as Java's JSON mappers accept); ok is false when absent.
func intField(m map[string]json.RawMessage, name string, quoted bool) (n int64, ok bool, err error) {
	raw := m[name]
	if isNull(raw) {
		return 0, false, nil
	}
	s := string(bytes.TrimSpace(raw))
	if quoted && len(s) > 1 && s[0] == '"' {
		if err := json.Unmarshal(raw, &s); err != nil {
			return 0, false, fmt.Errorf("%s is not an integer", name)
		}
	}
	n, err = strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("%s is not an integer", name)
	}
	return n, true, nil
}

// ---- /message/auth ----

func (e *Emulator) handleAuth(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	a := e.auth(w, r)
	e.mu.Lock()
	if a.Result == CodeOK {
		e.stats.Auths++
	} else {
		e.stats.AuthRefusals++
	}
	e.mu.Unlock()
	writeAnswer(w, a)
}

func (e *Emulator) auth(w http.ResponseWriter, r *http.Request) answer {
	m, err := readObject(w, r)
	if err != nil {
		return answer{Result: CodeAuthParams, Desc: "参数不合法: " + err.Error()}
	}
	id, okID, err1 := intField(m, "appId", true)
	key, err2 := strField(m, "appKey")
	ts, okTS, err3 := intField(m, "timestamp", false)
	sign, err4 := strField(m, "sign")
	for _, err := range []error{err1, err2, err3, err4} {
		if err != nil {
			return answer{Result: CodeAuthParams, Desc: err.Error()}
		}
	}
	if !okID || key == "" || !okTS || sign == "" {
		return answer{Result: CodeAuthParams, Desc: "appId, appKey, timestamp and sign are required"}
	}
	appID := strconv.FormatInt(id, 10)
	now := e.now()
	e.mu.Lock()
	defer e.mu.Unlock()
	a := e.apps[appID]
	if a == nil {
		return answer{Result: CodeAuthParams, Desc: "appId不存在"}
	}
	if key != a.Key {
		return answer{Result: CodeAuthParams, Desc: "appKey不合法"} // code UNCONFIRMED
	}
	if d := now.Sub(time.UnixMilli(ts)); d > e.cfg.ClockSkew || d < -e.cfg.ClockSkew {
		return answer{Result: CodeTimestamp, Desc: "timestamp不合法"}
	}
	sum := md5.Sum([]byte(appID + a.Key + strconv.FormatInt(ts, 10) + a.Secret))
	if sign != hex.EncodeToString(sum[:]) {
		return answer{Result: CodeSignWrong, Desc: "sign不合法"}
	}
	if e.cfg.AuthRate > 0 {
		if sec := now.Unix(); sec != a.authSec {
			a.authSec, a.authCount = sec, 0
		}
		if a.authCount >= e.cfg.AuthRate {
			return answer{Result: CodeAuthTooOften, Desc: "鉴权调用过于频繁"}
		}
		a.authCount++
	}
	tok := randomHex(20)
	e.tokens[tok] = &authToken{appID: appID, expires: now.Add(e.cfg.TokenLifetime)}
	return answer{Result: CodeOK, Desc: "请求成功", AuthToken: tok}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// ---- /message/send ----

// Message is a /message/send body as the emulator decoded it. Absent
// integers are zero except where noted.
type Message struct {
	AppID           string // "" when absent
	RegID           string
	NotifyType      int
	Title           string
	Content         string
	TimeToLive      int // seconds; 0 when absent (vivo's default: one day)
	SkipType        int
	SkipContent     string
	NetworkType     int // -1 when absent
	Classification  int
	Category        string
	ClientCustomMap map[string]string
	Extra           map[string]string
	RequestID       string
	PushMode        int
	// NotifyID is notifyId, 0 when absent: a shown notification of the
	// same notifyId is replaced (field UNCONFIRMED from vivo's documents;
	// checked as a non-negative integer).
	NotifyID int
}

var knownSendFields = map[string]bool{
	"appId": true, "regId": true, "alias": true, "notifyType": true, "title": true, "content": true,
	"timeToLive": true, "skipType": true, "skipContent": true, "networkType": true, "classification": true,
	"category": true, "clientCustomMap": true, "extra": true, "requestId": true, "pushMode": true,
	// Seen in newer clients (UNCONFIRMED); accepted, not checked.
	"notifyId": true, "foregroundShow": true, "profileId": true, "sendOnline": true,
}

// textUnits counts as vivo does: a CJK character two units ("20 Chinese
// or 40 English characters"), a character outside the BMP (an emoji, half
// a flag, a skin tone) two as well, since vivo's servers count Java chars
// (UTF-16 code units); anything else one.
func textUnits(s string) int {
	n := 0
	for _, r := range s {
		n++
		if r > 0xFFFF || unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul) ||
			(r >= 0x3000 && r <= 0x303F) || (r >= 0xFF00 && r <= 0xFFEF) {
			n++
		}
	}
	return n
}

func stringMap(m map[string]json.RawMessage, name string) (map[string]string, error) {
	raw := m[name]
	if isNull(raw) {
		return nil, nil
	}
	var out map[string]string
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("%s is not an object of strings", name)
	}
	return out, nil
}

// parseMessage decodes and checks a send body; the error names the field.
func (e *Emulator) parseMessage(m map[string]json.RawMessage) (*Message, error) {
	for k := range m {
		if !knownSendFields[k] {
			return nil, fmt.Errorf("unknown field %s", k)
		}
	}
	msg := &Message{NetworkType: -1}
	var err error
	ints := []struct {
		name   string
		dst    *int
		quoted bool
	}{
		{"notifyType", &msg.NotifyType, false}, {"timeToLive", &msg.TimeToLive, false},
		{"skipType", &msg.SkipType, false}, {"networkType", &msg.NetworkType, true},
		{"classification", &msg.Classification, false}, {"pushMode", &msg.PushMode, false},
		{"notifyId", &msg.NotifyID, false},
	}
	for _, f := range ints {
		n, ok, err := intField(m, f.name, f.quoted)
		if err != nil {
			return nil, err
		}
		if ok {
			*f.dst = int(n)
		}
	}
	if id, ok, err := intField(m, "appId", true); err != nil {
		return nil, err
	} else if ok {
		msg.AppID = strconv.FormatInt(id, 10)
	}
	strs := []struct {
		name string
		dst  *string
	}{
		{"regId", &msg.RegID}, {"title", &msg.Title}, {"content", &msg.Content},
		{"skipContent", &msg.SkipContent}, {"category", &msg.Category}, {"requestId", &msg.RequestID},
	}
	for _, f := range strs {
		if *f.dst, err = strField(m, f.name); err != nil {
			return nil, err
		}
	}
	if _, err := strField(m, "alias"); err != nil {
		return nil, err
	}
	if msg.ClientCustomMap, err = stringMap(m, "clientCustomMap"); err != nil {
		return nil, err
	}
	if msg.Extra, err = stringMap(m, "extra"); err != nil {
		return nil, err
	}
	_, hasTTL := m["timeToLive"]
	switch {
	case msg.NotifyID < 0:
		return nil, fmt.Errorf("notifyId must be a non-negative integer")
	case msg.RequestID == "":
		return nil, fmt.Errorf("requestId is required")
	case utf8.RuneCountInString(msg.RequestID) > 64:
		return nil, fmt.Errorf("requestId is longer than 64 characters")
	case e.cfg.RequireAppID && msg.AppID == "":
		return nil, fmt.Errorf("appId is required")
	case msg.RegID == "":
		return nil, fmt.Errorf("regId is required (alias targets are not emulated)")
	case msg.NotifyType < 1 || msg.NotifyType > 4:
		return nil, fmt.Errorf("notifyType must be 1 to 4")
	case msg.Title == "":
		return nil, fmt.Errorf("title is required")
	case textUnits(msg.Title) > 40:
		return nil, fmt.Errorf("title is over 20 CJK / 40 other characters")
	case msg.Content == "":
		return nil, fmt.Errorf("content is required")
	case textUnits(msg.Content) > 100:
		return nil, fmt.Errorf("content is over 50 CJK / 100 other characters")
	case msg.SkipType < 1 || msg.SkipType > 4:
		return nil, fmt.Errorf("skipType must be 1 to 4")
	case msg.SkipType != 1 && msg.SkipContent == "":
		return nil, fmt.Errorf("skipContent is required for skipType %d", msg.SkipType)
	case msg.SkipType == 2 && utf8.RuneCountInString(msg.SkipContent) > 1000:
		return nil, fmt.Errorf("skipContent is over 1000 characters")
	case utf8.RuneCountInString(msg.SkipContent) > 1024:
		return nil, fmt.Errorf("skipContent is over 1024 characters")
	case hasTTL && !isNull(m["timeToLive"]) && (msg.TimeToLive < 60 || msg.TimeToLive > 604800):
		return nil, fmt.Errorf("timeToLive must be 60 to 604800 seconds")
	case msg.NetworkType != -1 && msg.NetworkType != 1:
		return nil, fmt.Errorf("networkType must be -1 or 1")
	case msg.Classification != 0 && msg.Classification != 1:
		return nil, fmt.Errorf("classification must be 0 or 1")
	case e.cfg.RequireCategory && msg.Category == "":
		return nil, fmt.Errorf("category is required")
	case msg.Category != "" && !categories[msg.Classification][msg.Category]:
		return nil, fmt.Errorf("category %q is not one of classification %d", msg.Category, msg.Classification)
	case len(msg.ClientCustomMap) > 10:
		return nil, fmt.Errorf("clientCustomMap has over 10 pairs")
	case msg.PushMode != 0 && msg.PushMode != 1:
		return nil, fmt.Errorf("pushMode must be 0 or 1")
	}
	chars := 0
	for k, v := range msg.ClientCustomMap {
		chars += utf8.RuneCountInString(k) + utf8.RuneCountInString(v)
	}
	if chars > 1024 {
		return nil, fmt.Errorf("clientCustomMap is over 1024 characters")
	}
	if cb, ok := msg.Extra["callback"]; ok && (cb == "" || utf8.RuneCountInString(cb) > 128) {
		return nil, fmt.Errorf("extra.callback must be 1 to 128 characters")
	}
	if utf8.RuneCountInString(msg.Extra["callback.param"]) > 64 {
		return nil, fmt.Errorf("extra.callback.param is over 64 characters")
	}
	return msg, nil
}

func (e *Emulator) handleSend(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	e.mu.Lock()
	e.stats.Sends++
	e.mu.Unlock()
	// A global fault of the front end (slow, server error, auth) plays
	// before anything is read; a business one once the regId is known.
	global := e.takeFault("")
	if global != nil && global.front() {
		if e.playFault(w, r, global, "") {
			return
		}
		global = nil
	}
	appID, ok := e.tokenApp(r.Header.Get("authToken"))
	if !ok {
		writeAnswer(w, answer{Result: e.cfg.AuthFailureCode, Desc: "权限认证失败"})
		return
	}
	m, err := readObject(w, r)
	if err != nil {
		writeAnswer(w, answer{Result: e.cfg.FieldErrorCode, Desc: err.Error()})
		return
	}
	msg, err := e.parseMessage(m)
	if err != nil {
		writeAnswer(w, answer{Result: e.cfg.FieldErrorCode, Desc: err.Error() + " (不合法)"})
		return
	}
	if msg.AppID != "" && msg.AppID != appID {
		writeAnswer(w, answer{Result: CodeAppIDMismatch, Desc: "appId与鉴权信息不一致"})
		return
	}
	e.mu.Lock()
	a := e.apps[appID]
	if prev, dup := a.requests[msg.RequestID]; dup {
		e.stats.Duplicates++
		if e.cfg.DuplicateCode != 0 {
			prev = answer{Result: e.cfg.DuplicateCode, Desc: "requestId重复"}
		} else {
			e.stats.Accepted++
		}
		e.mu.Unlock()
		writeAnswer(w, prev)
		return
	}
	e.mu.Unlock()
	if global != nil && e.playFault(w, r, global, msg.RegID) {
		return
	}
	f := e.takeFault(msg.RegID)
	if f == nil && global != nil && global.Kind == FaultLostAnswer {
		f = global
	}
	if f != nil && f.Kind != FaultLostAnswer && e.playFault(w, r, f, msg.RegID) {
		return
	}
	raw, _ := json.Marshal(m)
	e.mu.Lock()
	ans := e.judge(a, msg, raw)
	e.mu.Unlock()
	if f != nil && f.Kind == FaultLostAnswer {
		select {
		case <-r.Context().Done():
		case <-e.life.Done():
		}
		return
	}
	writeAnswer(w, ans)
}

// tokenApp returns the app of a valid authToken.
func (e *Emulator) tokenApp(tok string) (string, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	t := e.tokens[tok]
	if tok == "" || t == nil {
		return "", false
	}
	if !e.now().Before(t.expires) {
		delete(e.tokens, tok)
		return "", false
	}
	return t.appID, e.apps[t.appID] != nil
}

// judge decides on a well-formed send: target, hours, quota; an accepted
// one is recorded. Called with e.mu held.
func (e *Emulator) judge(a *app, msg *Message, raw json.RawMessage) answer {
	d := e.devices[msg.RegID]
	switch {
	case !regIDPattern.MatchString(msg.RegID) || d == nil || d.appID != a.ID:
		return answer{Result: CodeInvalidRegID, Desc: "regId不合法", InvalidUser: &InvalidUser{Status: 1, UserID: msg.RegID}}
	case d.uninstalled:
		return answer{Result: CodeInvalidRegID, Desc: "regId不合法", InvalidUser: &InvalidUser{Status: 2, UserID: msg.RegID}}
	case msg.PushMode == 1 && !d.test:
		return answer{Result: CodeInvalidRegID, Desc: "regId不合法", InvalidUser: &InvalidUser{Status: 4, UserID: msg.RegID}}
	}
	now := e.now()
	local := now.In(chinaTime)
	if msg.Classification == 0 && !e.cfg.AnyHour && (local.Hour() < 7 || local.Hour() >= 23) {
		return answer{Result: CodeOutsideHours, Desc: "运营消息仅允许在7:00-23:00发送"}
	}
	if day := local.Format(time.DateOnly); day != a.day {
		a.day, a.sent = day, [2]int{}
	}
	quota, code := e.cfg.OperationQuota, CodeTotalExceeded
	if msg.Classification == 1 {
		quota, code = e.cfg.SystemQuota, CodeSystemExceeded
	}
	if quota > 0 && a.sent[msg.Classification] >= quota {
		return answer{Result: code, Desc: "发送总量超出限制"}
	}
	a.sent[msg.Classification]++
	e.taskSeq++
	ans := answer{Result: CodeOK, Desc: "请求成功", TaskID: strconv.Itoa(121397328 + e.taskSeq)}
	a.requests[msg.RequestID] = ans
	e.stats.Accepted++
	e.log.Record(msg.RegID, Delivery{AppID: a.ID, RegID: msg.RegID, TaskID: ans.TaskID, RequestID: msg.RequestID,
		Message: *msg, Raw: raw, Received: now})
	return ans
}
