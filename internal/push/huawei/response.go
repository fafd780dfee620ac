package huawei

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/heraldim/herald/internal/push"
)

// Business codes of Push Kit that the translation names.
const (
	codeSuccess       = "80000000"
	codePartial       = "80100000"
	codeTopicTasks    = "80100017"
	codeAuthError     = "80200001"
	codeTokenExpired  = "80200003"
	codeAllInvalid    = "80300007"
	codeOAuthService  = "80600003"
	codeInternalError = "81000001"
)

// answer is Push Kit's reply to messages:send.
type answer struct {
	Code      json.RawMessage `json:"code"` // a string; a number is tolerated
	Msg       string          `json:"msg"`
	RequestID string          `json:"requestId"`
}

func (a *answer) code() string { return strings.Trim(string(a.Code), `"`) }

// partial is the JSON held in msg of a 80100000 answer. Huawei's v1 pages
// spell the list illegal_tokens; its HarmonyOS FAQ shows illegalTokens as
// an object of reason → tokens: both are read.
type partial struct {
	Success       int             `json:"success"`
	Failure       int             `json:"failure"`
	IllegalTokens json.RawMessage `json:"illegal_tokens"`
	IllegalCamel  json.RawMessage `json:"illegalTokens"`
}

// lists reports whether token is among the illegal tokens.
func (pt *partial) lists(token string) bool {
	for _, raw := range []json.RawMessage{pt.IllegalTokens, pt.IllegalCamel} {
		if len(raw) == 0 {
			continue
		}
		var list []string
		if json.Unmarshal(raw, &list) == nil {
			for _, t := range list {
				if t == token {
					return true
				}
			}
			continue
		}
		var byReason map[string][]string
		if json.Unmarshal(raw, &byReason) == nil {
			for _, ts := range byReason {
				for _, t := range ts {
					if t == token {
						return true
					}
				}
			}
		}
	}
	return false
}

// translate turns Push Kit's answer into a Result; see the table in the
// package comment.
func (p *Provider) translate(status int, header http.Header, body []byte, token string, now time.Time) push.Result {
	res := push.Result{Status: status}
	var a answer
	_ = json.Unmarshal(body, &a) // a body that is not Huawei's leaves a empty
	code := a.code()
	res.VendorID = a.RequestID
	res.Reason = reason(status, code, a.Msg)
	wait := push.ParseRetryAfter(header.Get("Retry-After"), now)

	if status == http.StatusServiceUnavailable {
		res.Outcome, res.RetryAfter = push.Retry, wait
		return res
	}
	switch {
	case code == codeSuccess:
		res.Outcome = push.Delivered
		res.Reason = ""
	case code == codePartial:
		var pt partial
		_ = json.Unmarshal([]byte(a.Msg), &pt)
		res.Outcome = push.Delivered
		if pt.lists(token) {
			res.Outcome = push.DropDevice
		} else {
			res.Reason = ""
		}
	case code == codeAllInvalid:
		res.Outcome = push.DropDevice
	case code == codeAuthError, code == codeTokenExpired:
		res.Outcome = push.AuthFailed
	case code == codeInternalError, code == codeOAuthService, code == codeTopicTasks:
		res.Outcome, res.RetryAfter = push.Retry, wait
	case p.quota[code]:
		res.Outcome, res.Until = push.QuotaExhausted, nextChinaMidnight(now)
	case code != "":
		res.Outcome = push.Rejected
	case status == http.StatusUnauthorized:
		res.Outcome = push.AuthFailed
	case status >= 500 || status == http.StatusTooManyRequests:
		res.Outcome, res.RetryAfter = push.Retry, wait
	default:
		res.Outcome = push.Rejected
	}
	return res
}

// nextChinaMidnight is the next 00:00 in UTC+8 after now.
func nextChinaMidnight(now time.Time) time.Time {
	t := now.In(chinaTime)
	return time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, chinaTime)
}

// reason is the trace's line: the code (or HTTP status) and Huawei's msg.
func reason(status int, code, msg string) string {
	r := code
	if r == "" {
		r = fmt.Sprintf("HTTP %d", status)
	}
	if m := strings.TrimSpace(msg); m != "" {
		r += ": " + m
	}
	return clip(r)
}
