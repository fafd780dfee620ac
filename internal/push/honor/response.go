package honor

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/heraldim/herald/internal/push"
)

// Codes of Honor Push that the translation names. Only codeSuccess is
// confirmed by the material found; the others are the Push Kit codes
// Honor's server inherited (UNCONFIRMED, docs/vendors-honor.md).
const (
	codeSuccess       = 200
	codeAuthError     = 80200001
	codeTokenExpired  = 80200003
	codeAllInvalid    = 80300007
	codeInternalError = 81000001
)

// answer is Honor Push's reply to sendMessage.
type answer struct {
	Code    json.RawMessage `json:"code"` // a number; a string is tolerated
	Message string          `json:"message"`
	Data    *struct {
		SendResult   bool     `json:"sendResult"`
		RequestID    string   `json:"requestId"`
		FailTokens   []string `json:"failTokens"`
		ExpireTokens []string `json:"expireTokens"`
	} `json:"data"`
}

// code is the answer's code, 0 when it has none.
func (a *answer) code() int {
	c, err := strconv.Atoi(strings.Trim(string(a.Code), `"`))
	if err != nil {
		return 0
	}
	return c
}

// translate turns Honor's answer into a Result; see the table in the
// package comment.
func (p *Provider) translate(status int, header http.Header, body []byte, token string, now time.Time) push.Result {
	res := push.Result{Status: status}
	var a answer
	_ = json.Unmarshal(body, &a) // a body that is not Honor's leaves a empty
	code := a.code()
	if a.Data != nil {
		res.VendorID = a.Data.RequestID
	}
	res.Reason = reason(status, code, a.Message)
	wait := push.ParseRetryAfter(header.Get("Retry-After"), now)

	if status == http.StatusServiceUnavailable {
		res.Outcome, res.RetryAfter = push.Retry, wait
		return res
	}
	switch {
	case code == codeSuccess:
		switch {
		case a.Data != nil && (slices.Contains(a.Data.ExpireTokens, token) || slices.Contains(a.Data.FailTokens, token)):
			res.Outcome = push.DropDevice
			res.Reason = clip(res.Reason + " (token listed as failed or expired)")
		case a.Data != nil && !a.Data.SendResult:
			// Nothing was sent, and our token is not said to be bad.
			res.Outcome, res.RetryAfter = push.Retry, wait
			res.Reason = clip(res.Reason + " (sendResult false)")
		default:
			res.Outcome = push.Delivered
			res.Reason = ""
		}
	case code == codeAllInvalid:
		res.Outcome = push.DropDevice
	case code == codeAuthError, code == codeTokenExpired:
		res.Outcome = push.AuthFailed
	case code == codeInternalError:
		res.Outcome, res.RetryAfter = push.Retry, wait
	case p.quota[code]:
		res.Outcome, res.Until = push.QuotaExhausted, nextChinaMidnight(now)
	case code != 0:
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

// reason is the trace's line: the code (or HTTP status) and Honor's
// message.
func reason(status, code int, msg string) string {
	r := fmt.Sprintf("HTTP %d", status)
	if code != 0 {
		r = strconv.Itoa(code)
	}
	if m := strings.TrimSpace(msg); m != "" {
		r += ": " + m
	}
	return clip(r)
}
