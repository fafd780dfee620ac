package honor

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
// tokens and a 4 KB body fit).
const maxRequestBytes = 1 << 20

// sendData is the data object of an answer.
type sendData struct {
	SendResult   bool     `json:"sendResult"`
	RequestID    string   `json:"requestId"`
	FailTokens   []string `json:"failTokens"`
	ExpireTokens []string `json:"expireTokens"`
}

// writeAnswer answers Honor's {"code","message","data"}.
func writeAnswer(w http.ResponseWriter, status, code int, msg string, data *sendData, retryAfter time.Duration) {
	if retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((retryAfter+time.Second-1)/time.Second)))
	}
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	body := map[string]any{"code": code, "message": msg}
	if data != nil {
		body["data"] = data
	}
	_ = json.NewEncoder(w).Encode(body)
}

func requestID() string {
	return strconv.FormatInt(time.Now().UnixMilli(), 10) + randomString(12)
}

// oauthErr answers an OAuth 2.0 error.
func oauthErr(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
}

func (e *Emulator) handleToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	refuse := func(status int, code, desc string) {
		e.mu.Lock()
		e.stats.TokenRefusals++
		e.mu.Unlock()
		oauthErr(w, status, code, desc)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		refuse(http.StatusBadRequest, "invalid_request", "content type must be application/x-www-form-urlencoded")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 1<<16)
	if err := r.ParseForm(); err != nil {
		refuse(http.StatusBadRequest, "invalid_request", "malformed form")
		return
	}
	if gt := r.PostForm.Get("grant_type"); gt != "client_credentials" {
		refuse(http.StatusBadRequest, "unsupported_grant_type", "Unsupported grant_type")
		return
	}
	id, secret := r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	e.mu.Lock()
	app, ok := e.clients[id]
	e.mu.Unlock()
	if id == "" || !ok || secret != app.ClientSecret {
		refuse(http.StatusUnauthorized, "invalid_client", "Invalid client or Invalid client credentials")
		return
	}
	tok := "CgB6e3x9" + randomString(120)
	e.mu.Lock()
	e.accessTokens[tok] = issued{clientID: id, expires: e.now().Add(e.cfg.AccessTokenLifetime)}
	e.stats.TokenGrants++
	e.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
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
	app, appKnown := e.apps[appID]
	tok, bearer := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	is, known := e.accessTokens[tok]
	now := e.now()
	e.mu.Unlock()

	// 1. The access token.
	switch {
	case !bearer || tok == "" || !known:
		writeAnswer(w, http.StatusUnauthorized, codeAuth, "Oauth authentication error", nil, 0)
		return
	case !now.Before(is.expires):
		writeAnswer(w, http.StatusUnauthorized, codeAuthExpired, "Oauth Token expired", nil, 0)
		return
	case !appKnown || is.clientID != app.ClientID:
		writeAnswer(w, http.StatusUnauthorized, codeAuth, "Oauth authentication error: the access token is not of this app", nil, 0)
		return
	}

	// 2. The headers.
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		writeAnswer(w, http.StatusBadRequest, codeParam, "Content-Type must be application/json", nil, 0)
		return
	}
	if ts := r.Header.Get("timestamp"); len(ts) != 13 || strings.Trim(ts, "0123456789") != "" {
		writeAnswer(w, http.StatusBadRequest, codeParam, "the timestamp header must be the Unix time in milliseconds", nil, 0)
		return
	}

	// 3. Global faults.
	e.mu.Lock()
	f := e.faults.Take("")
	e.mu.Unlock()
	if f != nil && e.play(w, r, f) {
		return
	}

	// 4. The body.
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequestBytes))
	if err != nil {
		writeAnswer(w, http.StatusBadRequest, codeStructure, "Message structure error: body unreadable or too large", nil, 0)
		return
	}
	var msg Message
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&msg); err != nil {
		writeAnswer(w, http.StatusBadRequest, codeStructure, "Message structure error: "+err.Error(), nil, 0)
		return
	}
	if ref := msg.check(e.cfg.MaxTokens); ref != nil {
		writeAnswer(w, ref.status, ref.code, ref.msg, nil, 0)
		return
	}
	if size := bodyWithoutTokens(raw); size > e.cfg.MaxBodyBytes {
		writeAnswer(w, http.StatusBadRequest, codeBodyTooLarge,
			fmt.Sprintf("The message body size exceeds the default value (%d bytes): %d bytes", e.cfg.MaxBodyBytes, size), nil, 0)
		return
	}

	// 5. Faults of the first token.
	e.mu.Lock()
	f = e.faults.Take(msg.Token[0])
	e.mu.Unlock()
	invalidFault := ""
	if f != nil {
		if f.Kind == FaultInvalidToken {
			invalidFault = msg.Token[0]
		} else if e.play(w, r, f) {
			return
		}
	}

	// 6. The tokens.
	data := &sendData{RequestID: requestID(), FailTokens: []string{}, ExpireTokens: []string{}}
	wellFormed := 0
	var good []string
	e.mu.Lock()
	for _, t := range msg.Token {
		if !tokenPattern.MatchString(t) {
			data.FailTokens = append(data.FailTokens, t)
			continue
		}
		wellFormed++
		d := e.devices[t]
		switch {
		case d == nil || d.appID != appID:
			data.FailTokens = append(data.FailTokens, t)
		case d.unregistered || t == invalidFault:
			data.ExpireTokens = append(data.ExpireTokens, t)
		default:
			good = append(good, t)
		}
	}
	for _, t := range good {
		e.log.Record(t, Delivery{RequestID: data.RequestID, AppID: appID, Token: t, Message: msg, Raw: raw, Received: now})
	}
	if len(good) > 0 {
		e.stats.Accepted++
	}
	e.mu.Unlock()
	if wellFormed == 0 {
		writeAnswer(w, http.StatusBadRequest, codeAllInvalid, "all the tokens are invalid", nil, 0)
		return
	}
	data.SendResult = len(good) > 0
	writeAnswer(w, http.StatusOK, codeSuccess, "success", data, 0)
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
		writeAnswer(w, http.StatusUnauthorized, codeAuthExpired, "Oauth Token expired", nil, 0)
	case FaultFlowControl:
		// Flow control is an HTTP 503; what its body holds is UNCONFIRMED:
		// no code is given, so only the status can be relied on.
		if f.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int((f.RetryAfter+time.Second-1)/time.Second)))
		}
		http.Error(w, "flow control", http.StatusServiceUnavailable)
	case FaultDailyQuota:
		writeAnswer(w, http.StatusBadRequest, e.cfg.QuotaCode, "the daily quota of messages is used up", nil, 0)
	case FaultServerError:
		writeAnswer(w, http.StatusInternalServerError, codeInternal, "System inner error", nil, f.RetryAfter)
	default:
		return false
	}
	return true
}

// bodyWithoutTokens is the request's size less its token array.
func bodyWithoutTokens(raw []byte) int {
	var outer map[string]json.RawMessage
	if json.Unmarshal(raw, &outer) != nil {
		return len(raw)
	}
	return len(raw) - len(outer["token"])
}
