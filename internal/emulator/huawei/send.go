package huawei

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxRequestBytes bounds what the emulator reads of a request (1000
// tokens of 256 characters and a 4 KB body fit).
const maxRequestBytes = 1 << 20

// writeCode answers Push Kit's {"code","msg","requestId"}.
func writeCode(w http.ResponseWriter, status int, code, msg string, retryAfter time.Duration) {
	if retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((retryAfter+time.Second-1)/time.Second)))
	}
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"code": code, "msg": msg, "requestId": requestID()})
}

func requestID() string {
	return strconv.FormatInt(time.Now().UnixMilli(), 10) + randomDigits(10)
}

func randomDigits(n int) string {
	s := randomString(n)
	var b strings.Builder
	for i := range n {
		b.WriteByte('0' + s[i]%10)
	}
	return b.String()
}

// oauthErr answers the token endpoint's error shape. Status 400 and the
// sub_error numbers are UNCONFIRMED.
func oauthErr(w http.ResponseWriter, errCode, subError int, desc string) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(http.StatusBadRequest)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": errCode, "sub_error": subError, "error_description": desc})
}

func (e *Emulator) handleToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	refuse := func(errCode, sub int, desc string) {
		e.mu.Lock()
		e.stats.TokenRefusals++
		e.mu.Unlock()
		oauthErr(w, errCode, sub, desc)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		refuse(1101, 20001, "content type must be application/x-www-form-urlencoded")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 1<<16)
	if err := r.ParseForm(); err != nil {
		refuse(1101, 20001, "malformed form")
		return
	}
	if gt := r.PostForm.Get("grant_type"); gt != "client_credentials" {
		refuse(1102, 20002, "unsupported grant_type")
		return
	}
	id, secret := r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	e.mu.Lock()
	want, ok := e.apps[id]
	e.mu.Unlock()
	switch {
	case id == "" || !ok:
		refuse(1101, 12303, "invalid client_id")
		return
	case secret != want:
		refuse(1101, 12304, "invalid client_secret")
		return
	}
	tok := "DAEBA" + randomString(120)
	e.mu.Lock()
	e.accessTokens[tok] = issued{appID: id, expires: e.now().Add(e.cfg.AccessTokenLifetime)}
	e.stats.TokenGrants++
	e.mu.Unlock()
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"access_token": tok,
		"expires_in":   int(e.cfg.AccessTokenLifetime / time.Second),
		"token_type":   "Bearer",
	})
}

func (e *Emulator) handleSend(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	appID := r.PathValue("appId")
	e.mu.Lock()
	e.stats.SendRequests++
	e.mu.Unlock()

	// 1. The access token.
	auth := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(auth, "Bearer ")
	e.mu.Lock()
	is, known := e.accessTokens[tok]
	now := e.now()
	e.mu.Unlock()
	switch {
	case !ok || tok == "" || !known:
		writeCode(w, http.StatusUnauthorized, codeAuth, "Oauth authentication error", 0)
		return
	case !now.Before(is.expires):
		writeCode(w, http.StatusUnauthorized, codeAuthExpired, "Oauth Token expired", 0)
		return
	case is.appID != appID:
		writeCode(w, http.StatusUnauthorized, codeAuth, "Oauth authentication error: token of another app", 0)
		return
	}

	// 2. Global faults.
	e.mu.Lock()
	f := e.faults.Take("")
	e.mu.Unlock()
	if f != nil && e.play(w, r, f) {
		return
	}

	// 3. The body.
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequestBytes))
	if err != nil {
		writeCode(w, http.StatusBadRequest, codeStructure, "Message structure error: body unreadable or too large", 0)
		return
	}
	var body sendBody
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil || body.Message == nil {
		msg := "Message structure error"
		if err != nil {
			msg += ": " + err.Error()
		} else {
			msg += ": no message"
		}
		writeCode(w, http.StatusBadRequest, codeStructure, msg, 0)
		return
	}
	if ref := body.Message.check(e.cfg.MaxTokens); ref != nil {
		writeCode(w, ref.status, ref.code, ref.msg, 0)
		return
	}
	e.mu.Lock()
	classified := e.classified[appID]
	e.mu.Unlock()
	if ref := body.Message.checkClass(classified); ref != nil {
		writeCode(w, ref.status, ref.code, ref.msg, 0)
		return
	}
	if size := bodyWithoutTokens(raw); size > e.cfg.MaxBodyBytes {
		writeCode(w, http.StatusBadRequest, codeBodyTooLarge,
			fmt.Sprintf("The message body size exceeds the default value set by the system (4K): %d bytes", size), 0)
		return
	}
	if body.Message.Token == nil {
		// Topics and conditions are accepted and not recorded.
		e.mu.Lock()
		e.stats.Accepted++
		e.mu.Unlock()
		writeCode(w, http.StatusOK, codeSuccess, "Success", 0)
		return
	}

	// 4. Faults of the first token.
	e.mu.Lock()
	f = e.faults.Take(body.Message.Token[0])
	e.mu.Unlock()
	invalidFault := ""
	if f != nil {
		if f.Kind == FaultInvalidToken {
			invalidFault = body.Message.Token[0]
		} else if e.play(w, r, f) {
			return
		}
	}

	// 5. The tokens.
	var rawMsg struct {
		Message json.RawMessage `json:"message"`
	}
	_ = json.Unmarshal(raw, &rawMsg)
	e.mu.Lock()
	var good, bad []string
	for _, t := range body.Message.Token {
		d := e.devices[t]
		if t == invalidFault || !tokenPattern.MatchString(t) || d == nil || d.unregistered || d.appID != appID {
			bad = append(bad, t)
		} else {
			good = append(good, t)
		}
	}
	id := requestID()
	if len(good) > 0 && !body.ValidateOnly {
		for _, t := range good {
			e.log.Record(t, Delivery{RequestID: id, AppID: appID, Token: t, Message: *body.Message,
				Raw: rawMsg.Message, Received: now})
		}
	}
	if len(good) > 0 {
		e.stats.Accepted++
	}
	e.mu.Unlock()

	switch {
	case len(good) == 0:
		writeCode(w, http.StatusBadRequest, codeInvalidTokens, "Invalid Token", 0)
	case len(bad) > 0:
		detail, _ := json.Marshal(map[string]any{"success": len(good), "failure": len(bad), "illegal_tokens": bad})
		writeCode(w, http.StatusOK, codePartial, string(detail), 0)
	default:
		writeCode(w, http.StatusOK, codeSuccess, "Success", 0)
	}
}

// play waits the fault's delay and answers its error; it reports whether
// it answered (false: carry on).
func (e *Emulator) play(w http.ResponseWriter, r *http.Request, f *Fault) bool {
	if f.Delay > 0 {
		t := time.NewTimer(f.Delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
		case <-e.life.Done():
		}
	}
	switch f.Kind {
	case FaultAuthExpired:
		writeCode(w, http.StatusUnauthorized, codeAuthExpired, "Oauth Token expired", 0)
	case FaultFlowControl:
		// Huawei documents flow control as HTTP 503 without a business
		// code (UNCONFIRMED what the body holds): code is left empty
		// rather than guessed, so only the status can be relied on.
		writeCode(w, http.StatusServiceUnavailable, "", "flow control: send smoothly within the QPS quota", f.RetryAfter)
	case FaultDailyQuota:
		writeCode(w, http.StatusBadRequest, e.cfg.QuotaCode, "the daily quota of messages is used up", 0)
	case FaultServerError:
		writeCode(w, http.StatusInternalServerError, codeInternal, "System inner error", f.RetryAfter)
	default:
		return false
	}
	return true
}

// bodyWithoutTokens is the request's size less its message.token array.
func bodyWithoutTokens(raw []byte) int {
	var outer struct {
		Message map[string]json.RawMessage `json:"message"`
	}
	if json.Unmarshal(raw, &outer) != nil {
		return len(raw)
	}
	return len(raw) - len(outer.Message["token"])
}
