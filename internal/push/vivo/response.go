package vivo

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/heraldim/herald/internal/push"
)

// chinaTime is UTC+8 without daylight saving: the zone of vivo's days.
var chinaTime = time.FixedZone("UTC+8", 8*60*60)

type sendAnswer struct {
	Result      *int            `json:"result"`
	Desc        string          `json:"desc"`
	TaskID      json.RawMessage `json:"taskId"`
	InvalidUser *struct {
		Status int    `json:"status"`
		UserID string `json:"userid"`
	} `json:"invalidUser"`
}

// nextChinaMidnight is the next 00:00 in UTC+8 after now.
func nextChinaMidnight(now time.Time) time.Time {
	c := now.In(chinaTime)
	return time.Date(c.Year(), c.Month(), c.Day()+1, 0, 0, 0, 0, chinaTime)
}

// untilChinaSeven is how long from now to the next 07:00 in UTC+8.
func untilChinaSeven(now time.Time) time.Duration {
	c := now.In(chinaTime)
	t := time.Date(c.Year(), c.Month(), c.Day(), 7, 0, 0, 0, chinaTime)
	if !t.After(c) {
		t = t.AddDate(0, 0, 1)
	}
	return t.Sub(c)
}

// translate turns /message/send's answer into a Result (see the package
// comment's table).
func (p *Provider) translate(status int, header http.Header, raw []byte, regID string) push.Result {
	if status >= 500 {
		return push.Result{Outcome: push.Retry, Status: status,
			Reason:     "HTTP " + strconv.Itoa(status) + ": " + snippet(raw),
			RetryAfter: push.ParseRetryAfter(header.Get("Retry-After"), p.now())}
	}
	if status != http.StatusOK {
		return push.Result{Outcome: push.Rejected, Status: status, Reason: "HTTP " + strconv.Itoa(status) + ": " + snippet(raw)}
	}
	var a sendAnswer
	if err := json.Unmarshal(raw, &a); err != nil || a.Result == nil {
		return push.Result{Outcome: push.Retry, Status: status, Reason: "unreadable answer: " + snippet(raw)}
	}
	code := *a.Result
	r := push.Result{Status: status, Reason: fmt.Sprintf("%d %s", code, a.Desc)}
	invalidUser := a.InvalidUser != nil && (a.InvalidUser.UserID == "" || a.InvalidUser.UserID == regID)
	switch {
	case code == CodeOK:
		r.Outcome = push.Delivered
		r.VendorID = strings.Trim(string(a.TaskID), `"`)
	case invalidUser && a.InvalidUser.Status == 4:
		r.Outcome = push.Rejected // not a test device: a pushMode configuration matter
		r.Reason += " (invalidUser status 4: not a test device)"
	case invalidUser && a.InvalidUser.Status >= 1 && a.InvalidUser.Status <= 3:
		r.Outcome = push.DropDevice
		r.Reason += fmt.Sprintf(" (invalidUser status %d)", a.InvalidUser.Status)
	case code == CodeInvalidRegID:
		r.Outcome = push.DropDevice
	case p.authFail[code]:
		r.Outcome = push.AuthFailed
	case code == CodeTotalExceeded, code == CodeSystemExceeded, code == CodeListExceeded, code == CodeBroadcastLimit:
		r.Outcome = push.QuotaExhausted
		r.Until = nextChinaMidnight(p.now())
	case code == CodeOutsideHours:
		r.Outcome = push.Retry
		r.RetryAfter = untilChinaSeven(p.now())
	case p.retry[code]:
		r.Outcome = push.Retry
	default:
		r.Outcome = push.Rejected
	}
	return r
}

// snippet is the start of an answer body, for a Reason.
func snippet(raw []byte) string {
	s := strings.TrimSpace(string(raw))
	if len(s) > 128 {
		s = strings.ToValidUTF8(s[:128], "") + "…"
	}
	return s
}
