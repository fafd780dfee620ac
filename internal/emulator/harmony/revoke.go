package harmony

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
)

// # POST /v1/{clientId}/messages:revoke
//
// Push Kit's message revoke ("消息撤回", developer.huawei.com
// harmonyos-references/push-msg-revoke; guide harmonyOS-guides/
// push-revoke-alert "撤回通知消息"): "撤回消息接口使用v1版本URL,并且路径参数
// 使用clientId", headers Authorization (the same service-account JWT as
// messages:send) and push-type (0 notification, 2 text-to-speech), body
// {"notifyId": Integer, "token": [String]} both required, at most 1000
// tokens, at most 4096 bytes less the tokens (80300008). Answer
// {"code","msg","requestId"}, 80000000 on success; a missing push-type is
// answered 80100003 "Illegal payload, The header does not contain valid
// push-type" (the page's failure example).
//
// Checks, in this order: the client ID (one of ClientID's; another path is
// refused as a JWT of no project of it, 401 80200001), the JWT as for
// send with the client's project, push-type (0; 2 is Huawei's but not
// modelled: 80100001), the body (80100003 for unknown fields, a missing
// or non-integer notifyId, a missing token array; 80300010 for 0 or over
// MaxTokens tokens; 80300008), then the tokens exactly as send classifies
// them (80300007 when none is valid, 80100000 with the reasons when some
// are not: UNCONFIRMED, the revoke page lists no token codes of its own).
// A notifyId no shown notification of the token carries is accepted
// (80000000): Push Kit revokes messages not yet delivered too, so it
// cannot know one is gone (the page documents no error for it).
//
// An accepted revoke removes, from the tray of each valid token, the
// notifications (push-type 0) shown so far with that notifyId ("已在终端
// 展示但用户还未点击的消息"); a later message with the notifyId shows again.

// revokeBody is the revoke request.
type revokeBody struct {
	NotifyID *int64   `json:"notifyId"` // an Integer: "7" and 7.5 are refused
	Token    []string `json:"token"`
}

// revocation is one accepted revoke for a token: the notifyId, and how many
// deliveries the token had then (those before it lose their notification).
type revocation struct {
	notifyID int
	before   int
}

// ClientID returns the client ID of projectID's app (one app a project in
// the emulator), making one on first use: the path parameter of
// messages:revoke.
func (e *Emulator) ClientID(projectID string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	for c, p := range e.clients {
		if p == projectID {
			return c
		}
	}
	c := strconv.FormatInt(1e17+randomNumber(9e17), 10)
	e.clients[c] = projectID
	return c
}

func (e *Emulator) handleRevoke(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	now := e.now()
	e.mu.Lock()
	e.stats.RevokeRequests++
	project := e.clients[r.PathValue("clientId")]
	e.mu.Unlock()

	if f := e.checkJWT(r.Header.Get("Authorization"), project, now); f != nil {
		e.mu.Lock()
		e.stats.AuthRefusals++
		e.mu.Unlock()
		writeCode(w, http.StatusUnauthorized, f.code, f.msg, 0)
		return
	}
	switch pt := r.Header.Get("push-type"); pt {
	case pushTypeAlert:
	case "2":
		writeCode(w, http.StatusBadRequest, codeParam, "Check Parameter Error: push-type 2 (text-to-speech) is not modelled by the emulator", 0)
		return
	default:
		writeCode(w, http.StatusBadRequest, codeStructure, "Illegal payload, The header does not contain valid push-type", 0)
		return
	}

	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequestBytes))
	if err != nil {
		writeCode(w, http.StatusBadRequest, codeStructure, "Illegal message structure: body unreadable or too large", 0)
		return
	}
	var b revokeBody
	if err := strictDecode(raw, &b); err != nil {
		writeCode(w, http.StatusBadRequest, codeStructure, "Illegal message structure: "+err.Error(), 0)
		return
	}
	switch {
	case b.NotifyID == nil || *b.NotifyID < 0 || *b.NotifyID > 1<<31-1:
		writeCode(w, http.StatusBadRequest, codeStructure, "Illegal payload, notifyId is required and must be an Integer", 0)
		return
	case b.Token == nil:
		writeCode(w, http.StatusBadRequest, codeStructure, "Illegal payload, token is required", 0)
		return
	case len(b.Token) == 0 || len(b.Token) > e.cfg.MaxTokens:
		writeCode(w, http.StatusBadRequest, codeTooManyTokens, "The number of tokens must be 1 to "+strconv.Itoa(e.cfg.MaxTokens), 0)
		return
	}
	var outer struct {
		Token json.RawMessage `json:"token"`
	}
	_ = json.Unmarshal(raw, &outer)
	if size := len(raw) - len(outer.Token); size > e.cfg.MaxBodyBytes {
		writeCode(w, http.StatusBadRequest, codeBodyTooLarge, "The message body size exceeds the default value (4096 bytes, push tokens excluded)", 0)
		return
	}

	e.mu.Lock()
	good, illegal, unknown := e.classify(b.Token, project, pushTypeAlert, "")
	for _, t := range good {
		e.revokes[t] = append(e.revokes[t], revocation{notifyID: int(*b.NotifyID), before: e.log.Len(t)})
	}
	if len(good) > 0 {
		e.stats.Revoked++
		e.log.Wake()
	}
	e.mu.Unlock()
	answerTokens(w, len(b.Token), good, illegal, unknown)
}
