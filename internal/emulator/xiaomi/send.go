package xiaomi

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// MiPush's codes the emulator answers (vendors.md §4.4).
const (
	codeOK             = 0
	codeInternal       = 1
	codeParam          = 10008 // parameter error (UNCONFIRMED as the code for a bad body)
	codeIllegalValue   = 10017 // illegal parameter value (UNCONFIRMED per field)
	codeTooFrequent    = 10027
	codeDailyQuota     = 10034
	codeNoValidTarget  = 20301 // UNCONFIRMED: "send failed", no valid target
	codeAuthFailed     = 21301 // UNCONFIRMED as the code for a wrong secret
	codeMissing        = 21305
	codeBadPackage     = 22022
	codeChannel        = 27001
	codeContentTooLong = 65009
)

// maxFormBytes bounds a request body.
const maxFormBytes = 1 << 20

// apiError is a MiPush error answer.
type apiError struct {
	code        int
	reason      string
	description string
}

func failure(code int, reason, description string) *apiError {
	return &apiError{code: code, reason: reason, description: description}
}

func traceID() string {
	b := make([]byte, 10)
	_, _ = rand.Read(b)
	return "Xlm" + hex.EncodeToString(b)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(http.StatusOK)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, e *apiError) {
	writeJSON(w, map[string]any{"result": "error", "code": e.code, "reason": e.reason,
		"description": e.description, "trace_id": traceID()})
}

// authenticate returns the app whose secret the Authorization header
// carries.
func (e *Emulator) authenticate(r *http.Request) (*app, *apiError) {
	h := r.Header.Get("Authorization")
	secret, ok := strings.CutPrefix(h, "key=")
	if !ok || secret == "" {
		return nil, failure(codeAuthFailed, "Authorization header must be key=<AppSecret>", "认证失败")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	a := e.apps[secret]
	if a == nil {
		return nil, failure(codeAuthFailed, "Invalid application secret", "认证失败")
	}
	return a, nil
}

// play waits a fault's delay and returns its error, if any (nil for
// FaultSlow and FaultInvalidRegID). A sender that went away during the
// delay (its connection closed: a node killed mid-send) gets an error
// nobody reads, and its push is not accepted: the emulator plays a vendor
// that had not taken the push yet, so a takeover's resend is the push's
// only delivery.
func (e *Emulator) play(r *http.Request, f *Fault) *apiError {
	if f.Delay > 0 {
		t := time.NewTimer(f.Delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return failure(codeInternal, "Sender went away", "内部错误")
		case <-e.life.Done():
		}
	}
	switch f.Kind {
	case FaultAuth:
		return failure(codeAuthFailed, "Invalid application secret", "认证失败")
	case FaultTooFrequent:
		return failure(codeTooFrequent, "The API is called too frequently", "调用接口过于频繁")
	case FaultDailyQuota:
		return failure(codeDailyQuota, "Too many messages sent today", "当天发送消息数超过限制")
	case FaultServerError:
		return failure(codeInternal, "Internal error", "内部错误")
	}
	return nil
}

// parseForm reads the parameters from the query and a form body.
func parseForm(r *http.Request) (url.Values, *apiError) {
	if r.ContentLength != 0 {
		ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if err != nil || ct != "application/x-www-form-urlencoded" {
			return nil, failure(codeParam, "Content-Type must be application/x-www-form-urlencoded", "参数错误")
		}
	}
	r.Body = http.MaxBytesReader(nil, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		return nil, failure(codeParam, "Malformed form body", "参数错误")
	}
	return r.Form, nil
}

func (e *Emulator) handleSend(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	a, aerr := e.authenticate(r)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	if f := e.takeFault(""); f != nil {
		if aerr := e.play(r, f); aerr != nil {
			writeError(w, aerr)
			return
		}
	}
	form, aerr := parseForm(r)
	if aerr == nil {
		aerr = e.checkMessage(a, form)
	}
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	var targets, bad []string
	pkgs := strings.Split(form.Get("restricted_package_name"), ",")
	for id := range strings.SplitSeq(form.Get("registration_id"), ",") {
		id = strings.TrimSpace(id)
		if id == "" {
			continue
		}
		if f := e.takeFault(id); f != nil {
			if aerr := e.play(r, f); aerr != nil {
				writeError(w, aerr)
				return
			}
			if f.Kind == FaultInvalidRegID {
				bad = append(bad, id)
				continue
			}
		}
		if e.validTarget(id, pkgs) {
			targets = append(targets, id)
		} else {
			bad = append(bad, id)
		}
	}
	if len(targets) == 0 {
		writeError(w, failure(codeNoValidTarget, "No valid targets", "发送消息失败"))
		return
	}
	msgID := e.accept(targets, form)
	data := map[string]any{"id": msgID}
	if len(bad) > 0 {
		data["bad_regids"] = strings.Join(bad, ",")
	}
	writeJSON(w, map[string]any{"result": "ok", "code": codeOK, "data": data, "description": "成功",
		"info": "Received push messages for " + strconv.Itoa(len(targets)) + " REGID", "trace_id": traceID()})
}

// validTarget tells whether regID is registered, still installed, for one
// of pkgs.
func (e *Emulator) validTarget(regID string, pkgs []string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	d := e.devices[regID]
	if d == nil || d.unregistered {
		return false
	}
	for _, p := range pkgs {
		if strings.TrimSpace(p) == d.packageName {
			return true
		}
	}
	return false
}

// checkMessage checks the parameters of a send (steps 4 to 7 of the
// package comment).
func (e *Emulator) checkMessage(a *app, f url.Values) *apiError {
	pkgs := f.Get("restricted_package_name")
	if strings.TrimSpace(pkgs) == "" {
		return failure(codeMissing, "Must input restricted_package_name", "缺少必要的参数")
	}
	for p := range strings.SplitSeq(pkgs, ",") {
		if strings.TrimSpace(p) != a.packageName {
			return failure(codeBadPackage, "Illegal package name: "+p, "包名非法")
		}
	}
	if strings.Trim(f.Get("registration_id"), ", ") == "" {
		return failure(codeMissing, "Must input one of: regid/topic/alias/userAccount/miid/geoId/groupId/region", "缺少必要的参数")
	}
	pass := f.Get("pass_through")
	if pass != "" && pass != "0" && pass != "1" {
		return failure(codeIllegalValue, "pass_through must be 0 or 1", "参数值非法")
	}
	if pass != "1" {
		for _, c := range []struct {
			name  string
			limit int
		}{{"title", e.cfg.MaxTitleRunes}, {"description", e.cfg.MaxDescriptionRunes}} {
			v := f.Get(c.name)
			if strings.TrimSpace(v) == "" {
				return failure(codeMissing, "Must input "+c.name+" for a notification message", "缺少必要的参数")
			}
			if utf8.RuneCountInString(v) >= c.limit {
				return failure(codeIllegalValue, c.name+" must be shorter than "+strconv.Itoa(c.limit)+" characters", "参数值非法")
			}
		}
	}
	if v := f.Get("notify_type"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || (n != -1 && (n < 1 || n > 7)) {
			return failure(codeIllegalValue, "notify_type must be -1 or a combination of 1, 2 and 4", "参数值非法")
		}
	}
	if v := f.Get("notify_id"); v != "" {
		if n, err := strconv.ParseInt(v, 10, 32); err != nil || n < 0 {
			return failure(codeIllegalValue, "notify_id must be a non-negative integer", "参数值非法")
		}
	}
	if v := f.Get("time_to_live"); v != "" {
		if n, err := strconv.ParseInt(v, 10, 64); err != nil || n < 0 || n > MaxTTLMillis {
			return failure(codeIllegalValue, "time_to_live must be 0.."+strconv.Itoa(MaxTTLMillis)+" milliseconds", "参数值非法")
		}
	}
	if len(f.Get("payload")) > e.cfg.MaxPayloadBytes {
		return failure(codeContentTooLong, "payload is too long", "消息内容太长")
	}
	if c := f.Get("extra.channel_id"); c != "" && len(a.channels) > 0 && !a.channels[c] {
		return failure(codeChannel, "channel_id "+c+" is not registered for the app", "通道信息不匹配")
	}
	return nil
}

// accept records the message for each target and returns its ID.
func (e *Emulator) accept(targets []string, f url.Values) string {
	extra := make(map[string]string)
	for k, v := range f {
		if name, ok := strings.CutPrefix(k, "extra."); ok && len(v) > 0 {
			extra[name] = v[0]
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.seq++
	id := "scm01" + strconv.Itoa(e.seq) + traceID()[3:15]
	now := e.now()
	for _, t := range targets {
		e.log.Record(t, Delivery{
			MsgID: id, RegID: t, PackageName: e.devices[t].packageName,
			PassThrough: f.Get("pass_through") == "1",
			Title:       f.Get("title"), Description: f.Get("description"), Payload: f.Get("payload"),
			NotifyType: f.Get("notify_type"), NotifyID: f.Get("notify_id"), TTLMillis: f.Get("time_to_live"),
			ChannelID: f.Get("extra.channel_id"), Extra: extra, Form: f, Received: now,
		})
	}
	return id
}

// handleStats answers the statistics query with empty statistics after
// checking its parameters.
func (e *Emulator) handleStats(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	a, aerr := e.authenticate(r)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	q := r.URL.Query()
	if p := q.Get("restricted_package_name"); p != "" && p != a.packageName {
		writeError(w, failure(codeBadPackage, "Illegal package name: "+p, "包名非法"))
		return
	}
	for _, k := range []string{"start_date", "end_date"} {
		v := q.Get(k)
		if v == "" {
			writeError(w, failure(codeMissing, "Must input "+k, "缺少必要的参数"))
			return
		}
		if _, err := time.Parse("20060102", v); err != nil {
			writeError(w, failure(codeIllegalValue, k+" must be yyyyMMdd", "参数值非法"))
			return
		}
	}
	writeJSON(w, map[string]any{"result": "ok", "code": codeOK, "data": map[string]any{"data": []any{}},
		"description": "成功", "trace_id": traceID()})
}
