package harmony

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"time"
)

// maxRequestBytes bounds what the emulator reads of a request (1000
// tokens of 256 characters and a 4 KB body fit).
const maxRequestBytes = 1 << 20

// Reasons of illegalTokens (Huawei's 80100000 section).
const (
	reasonFormat     = "tokenFormatError"
	reasonNoRight    = "noRight"
	reasonNoPushType = "noPushTypeRight"
)

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
	return strconv.FormatInt(time.Now().UnixMilli(), 10) + strconv.FormatInt(randomNumber(1e9), 10)
}

func (e *Emulator) handleSend(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	project := r.PathValue("projectId")
	now := e.now()
	e.mu.Lock()
	e.stats.SendRequests++
	e.mu.Unlock()

	// 1. The JWT.
	if f := e.checkJWT(r.Header.Get("Authorization"), project, now); f != nil {
		e.mu.Lock()
		e.stats.AuthRefusals++
		e.mu.Unlock()
		writeCode(w, http.StatusUnauthorized, f.code, f.msg, 0)
		return
	}

	// 2. push-type.
	pushType := r.Header.Get("push-type")
	switch pushType {
	case pushTypeAlert, pushTypeBackground, pushTypeCall:
	case "1", "2", "7":
		writeCode(w, http.StatusBadRequest, codeParam, "Check Parameter Error: push-type "+pushType+" (widget, text-to-speech, live view) is not modelled by the emulator", 0)
		return
	case "":
		writeCode(w, http.StatusBadRequest, codeParam, "Check Parameter Error: the push-type header is required", 0)
		return
	default:
		writeCode(w, http.StatusBadRequest, codeParam, "Check Parameter Error: push-type "+strconv.Quote(pushType)+" is not 0, 1, 2, 6, 7 or 10", 0)
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
		writeCode(w, http.StatusBadRequest, codeStructure, "Illegal message structure: body unreadable or too large", 0)
		return
	}
	p, ref := e.check(raw, pushType)
	if ref != nil {
		writeCode(w, ref.status, ref.code, ref.msg, 0)
		return
	}
	tokens := p.body.Target.Token

	// 5. Faults of the first token.
	e.mu.Lock()
	f = e.faults.Take(tokens[0])
	e.mu.Unlock()
	invalidFault := ""
	if f != nil {
		if f.Kind == FaultInvalidToken {
			invalidFault = tokens[0]
		} else if e.play(w, r, f) {
			return
		}
	}

	// 6. The tokens.
	e.mu.Lock()
	category := ""
	if p.notification != nil {
		category = p.notification.Category
		if !e.classified[project] {
			category = "MARKETING"
		}
	}
	good, illegal, unknown := e.classify(tokens, project, pushType, invalidFault)
	id := requestID()
	for _, t := range good {
		e.log.Record(t, Delivery{RequestID: id, ProjectID: project, Token: t, PushType: pushType,
			Notification: p.notification, Category: category, ExtraData: p.extraData,
			Options: p.body.PushOptions, Raw: append(json.RawMessage(nil), raw...), Received: now})
	}
	if len(good) > 0 {
		e.stats.Accepted++
	}
	e.mu.Unlock()

	answerTokens(w, len(tokens), good, illegal, unknown)
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
	case FaultJWTExpired:
		writeCode(w, http.StatusUnauthorized, codeJWTExpired, "Jwt token expired", 0)
	case FaultFlowControl:
		// Huawei documents flow control as HTTP 503 (its body is
		// UNCONFIRMED): no business code is guessed.
		writeCode(w, http.StatusServiceUnavailable, "", "flow control: spread the sending out", f.RetryAfter)
	case FaultServerError:
		writeCode(w, http.StatusInternalServerError, codeInternal, "System inner error", f.RetryAfter)
	default:
		return false
	}
	return true
}

// classify sorts a request's tokens: the valid ones, the refused ones by
// illegalTokens reason, and how many are merely unknown (uninstalled, never
// registered, or invalidFault). Called with e.mu held.
func (e *Emulator) classify(tokens []string, project, pushType, invalidFault string) (good []string, illegal map[string][]string, unknown int) {
	callRight := e.callRight[project]
	illegal = map[string][]string{}
	for _, t := range tokens {
		d := e.devices[t]
		switch {
		case !tokenPattern.MatchString(t):
			illegal[reasonFormat] = append(illegal[reasonFormat], t)
		case t == invalidFault || d == nil || d.uninstalled:
			unknown++
		case d.projectID != project:
			illegal[reasonNoRight] = append(illegal[reasonNoRight], t)
		case pushType == pushTypeCall && !callRight:
			illegal[reasonNoPushType] = append(illegal[reasonNoPushType], t)
		default:
			good = append(good, t)
		}
	}
	return good, illegal, unknown
}

// answerTokens answers a request of n tokens by what classify made of
// them: 80000000, 80100000 or 80300007 with the reasons.
func answerTokens(w http.ResponseWriter, n int, good []string, illegal map[string][]string, unknown int) {
	failure := n - len(good)
	msg := "All the tokens are invalid"
	if len(illegal) > 0 {
		detail := map[string]any{"failure": failure, "illegalTokens": illegal}
		if len(good) > 0 {
			detail["success"] = len(good)
		}
		b, _ := json.Marshal(detail)
		msg = string(b)
	} else if len(good) > 0 && unknown > 0 {
		b, _ := json.Marshal(map[string]any{"success": len(good), "failure": failure})
		msg = string(b)
	}
	switch {
	case len(good) == 0:
		writeCode(w, http.StatusBadRequest, codeInvalidTokens, msg, 0)
	case failure > 0:
		writeCode(w, http.StatusOK, codePartial, msg, 0)
	default:
		writeCode(w, http.StatusOK, codeSuccess, "Success", 0)
	}
}
