package harmony

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/heraldim/herald/internal/push"
)

// Business codes of Push Kit that the translation names
// (push-scenariozed-api-response).
const (
	codeSuccess       = "80000000"
	codePartial       = "80100000"
	codeAuthError     = "80200001"
	codeTokenExpired  = "80200003"
	codeJWTExpired    = "80200005"
	codeAllInvalid    = "80300007"
	codeInternalError = "81000001"
)

// configReasons are the illegalTokens reasons that say the app's
// configuration (entitlements, project, region, penalty) is wrong rather
// than the token dead: the device is kept and the push Rejected.
var configReasons = map[string]bool{
	"noPushTypeRight":                        true,
	"noRight":                                true,
	"atomicUnableSendUnsubscribedMsg":        true,
	"countryNotSupport":                      true,
	"tokenPlatformNotSupport":                true,
	"disableSendHuaweiMsgBecauseOfPenalty":   true,
	"differentImgVerifyPolicy":               true,
	"appinfoError":                           true,
	"noRightToSendThisLiveNotificationEvent": true,
}

type answer struct {
	Code      json.RawMessage `json:"code"` // a string; a number is tolerated
	Msg       string          `json:"msg"`
	RequestID string          `json:"requestId"`
}

func (a *answer) code() string { return strings.Trim(string(a.Code), `"`) }

// detail is the JSON held in msg of 80100000 and 80300007 answers:
// illegalTokens maps a reason to its tokens.
type detail struct {
	Success       int                 `json:"success"`
	Failure       int                 `json:"failure"`
	IllegalTokens map[string][]string `json:"illegalTokens"`
}

// reasonOf returns the reason msg lists token under: "" when msg holds
// no reason map or does not name the token.
func reasonOf(msg, token string) string {
	var d detail
	if json.Unmarshal([]byte(msg), &d) != nil {
		return ""
	}
	for reason, tokens := range d.IllegalTokens {
		for _, t := range tokens {
			if t == token {
				return reason
			}
		}
	}
	return ""
}

// translate turns Push Kit's answer into a Result; see the table in the
// package comment.
func translate(status int, header http.Header, body []byte, token string, now time.Time) push.Result {
	res := push.Result{Status: status}
	var a answer
	_ = json.Unmarshal(body, &a) // a body that is not Push Kit's leaves a empty
	code := a.code()
	res.VendorID = a.RequestID
	res.Reason = reason(status, code, a.Msg)
	wait := push.ParseRetryAfter(header.Get("Retry-After"), now)

	if status == http.StatusServiceUnavailable {
		res.Outcome, res.RetryAfter = push.Retry, wait
		return res
	}
	switch code {
	case codeSuccess:
		res.Outcome, res.Reason = push.Delivered, ""
		return res
	case codePartial, codeAllInvalid:
		why := reasonOf(a.Msg, token)
		switch {
		case configReasons[why]:
			res.Outcome = push.Rejected
		case why != "":
			res.Outcome = push.DropDevice
		case code == codeAllInvalid:
			// "All the tokens are invalid" (and a reason map that does
			// not name ours: ours is among the invalid all the same).
			res.Outcome = push.DropDevice
		default:
			res.Outcome, res.Reason = push.Delivered, ""
		}
		return res
	case codeAuthError, codeTokenExpired, codeJWTExpired:
		res.Outcome = push.AuthFailed
		return res
	case codeInternalError:
		res.Outcome, res.RetryAfter = push.Retry, wait
		return res
	}
	switch {
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

// reason is the trace's line: the code (or HTTP status) and Push Kit's msg.
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
