package xiaomi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/heraldim/herald/internal/push"
)

// answer is MiPush's JSON answer to every API call.
type answer struct {
	Result      string `json:"result"`
	Code        *int   `json:"code"`
	Reason      string `json:"reason"`
	Description string `json:"description"`
	TraceID     string `json:"trace_id"`
	Data        struct {
		ID        string `json:"id"`
		BadRegIDs string `json:"bad_regids"`
	} `json:"data"`
}

// MiPush's codes that the translation tells apart (vendors.md §4.4).
const (
	codeOK             = 0
	codeNoValidTarget  = 20301 // UNCONFIRMED: "send failed", all targets invalid
	codeAuthFailed     = 21301
	codeTokenAuth      = 21302
	codeTooFrequent    = 10027
	codeInvalidTooOft  = 10030
	codeDailyQuota     = 10034
	codeUnknown        = -1
	codeInternal       = 1
	codeBusy1          = 10001
	codeBusy2          = 10002
	codeBusy3          = 10003
	codeRemote1        = 20607
	codeRemote2        = 26003
	codeRemote3        = 65029
	maxReasonTraceSize = 300
)

// translate turns MiPush's answer into a Result; see the table in the
// package comment. token is the regId sent to ("" for Check).
func translate(status int, header http.Header, body []byte, token string, now time.Time) push.Result {
	res := push.Result{Status: status}
	wait := push.ParseRetryAfter(header.Get("Retry-After"), now)
	if status != http.StatusOK {
		res.Reason = fmt.Sprintf("HTTP %d", status)
		if status == http.StatusTooManyRequests || status >= 500 {
			res.Outcome, res.RetryAfter = push.Retry, wait
		} else {
			res.Outcome = push.Rejected
		}
		return res
	}
	var a answer
	if err := json.Unmarshal(body, &a); err != nil || a.Code == nil {
		res.Outcome, res.RetryAfter, res.Reason = push.Retry, wait, "unreadable answer"
		return res
	}
	code := *a.Code
	res.Reason = reason(code, &a)
	switch code {
	case codeOK:
		res.VendorID = a.Data.ID
		res.Outcome = push.Delivered
		if token != "" && listed(a.Data.BadRegIDs, token) {
			res.Outcome = push.DropDevice
		}
	case codeNoValidTarget:
		res.Outcome = push.DropDevice
	case codeAuthFailed, codeTokenAuth:
		res.Outcome = push.AuthFailed
	case codeUnknown, codeInternal, codeBusy1, codeBusy2, codeBusy3, codeRemote1, codeRemote2, codeRemote3,
		codeTooFrequent, codeInvalidTooOft:
		res.Outcome, res.RetryAfter = push.Retry, wait
	case codeDailyQuota:
		res.Outcome, res.Until = push.QuotaExhausted, nextChinaMidnight(now)
	default:
		res.Outcome = push.Rejected
	}
	return res
}

// listed tells whether token is in a comma-separated list.
func listed(list, token string) bool {
	for r := range strings.SplitSeq(list, ",") {
		if strings.TrimSpace(r) == token {
			return true
		}
	}
	return false
}

// nextChinaMidnight is the next 00:00 UTC+8 after now.
func nextChinaMidnight(now time.Time) time.Time {
	c := now.In(chinaTime)
	return time.Date(c.Year(), c.Month(), c.Day()+1, 0, 0, 0, 0, chinaTime)
}

// reason is the trace's line for an answer: the code and Xiaomi's texts.
func reason(code int, a *answer) string {
	r := fmt.Sprintf("code %d", code)
	for _, s := range []string{a.Reason, a.Description} {
		if s = strings.TrimSpace(s); s != "" {
			r += ": " + s
		}
	}
	if len(r) > maxReasonTraceSize {
		r = strings.ToValidUTF8(r[:maxReasonTraceSize], "") + "…"
	}
	return r
}
