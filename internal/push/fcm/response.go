package fcm

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/heraldim/herald/internal/push"
)

// Types of the entries of error.details that the translation reads.
const (
	fcmErrorType   = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
	badRequestType = "type.googleapis.com/google.rpc.BadRequest"
)

// googleError is Google's error envelope for REST APIs.
type googleError struct {
	Error struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Status  string `json:"status"`
		Details []struct {
			Type            string `json:"@type"`
			ErrorCode       string `json:"errorCode"`
			FieldViolations []struct {
				Field       string `json:"field"`
				Description string `json:"description"`
			} `json:"fieldViolations"`
		} `json:"details"`
	} `json:"error"`
}

// errorCode returns the FcmError detail's errorCode, "" without one.
func (g *googleError) errorCode() string {
	for _, d := range g.Error.Details {
		if d.Type == fcmErrorType && d.ErrorCode != "" {
			return d.ErrorCode
		}
	}
	return ""
}

// concernsToken tells whether a 400 INVALID_ARGUMENT is about the
// registration token (see note 1 of the package comment).
func (g *googleError) concernsToken() bool {
	otherField := false
	for _, d := range g.Error.Details {
		if d.Type != badRequestType {
			continue
		}
		for _, v := range d.FieldViolations {
			switch v.Field {
			case "message.token":
				return true
			case "":
			default:
				otherField = true
			}
		}
	}
	return !otherField && strings.Contains(strings.ToLower(g.Error.Message), "registration token")
}

// translate turns FCM's answer to a send into a Result; see the table in
// the package comment.
func translate(status int, header http.Header, body []byte, now time.Time) push.Result {
	res := push.Result{Status: status}
	if status == http.StatusOK {
		var ok struct {
			Name string `json:"name"`
		}
		_ = json.Unmarshal(body, &ok) // accepted either way; the name is for the trace
		res.Outcome, res.VendorID = push.Delivered, ok.Name
		return res
	}

	var g googleError
	_ = json.Unmarshal(body, &g) // a body that is not Google's envelope leaves g empty
	code := g.errorCode()
	res.Reason = reason(status, code, &g)
	wait := retryAfter(header, now)

	switch code {
	case "UNREGISTERED", "SENDER_ID_MISMATCH":
		res.Outcome = push.DropDevice
		return res
	case "INVALID_ARGUMENT":
		res.Outcome = push.Rejected
		if g.concernsToken() {
			res.Outcome = push.DropDevice
		}
		return res
	case "THIRD_PARTY_AUTH_ERROR", "APNS_AUTH_ERROR":
		res.Outcome = push.Rejected
		return res
	case "QUOTA_EXCEEDED":
		res.Outcome, res.RetryAfter = push.Retry, quotaWait(wait)
		return res
	case "INTERNAL", "UNAVAILABLE":
		res.Outcome, res.RetryAfter = push.Retry, wait
		return res
	}

	switch {
	case status == http.StatusBadRequest:
		res.Outcome = push.Rejected
		if g.concernsToken() {
			res.Outcome = push.DropDevice
		}
	case status == http.StatusUnauthorized, status == http.StatusForbidden:
		res.Outcome = push.AuthFailed
	case status == http.StatusTooManyRequests:
		res.Outcome, res.RetryAfter = push.Retry, quotaWait(wait)
	case status >= 500:
		res.Outcome, res.RetryAfter = push.Retry, wait
	default:
		res.Outcome = push.Rejected
	}
	return res
}

func quotaWait(d time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return quotaRetryAfter
}

// reason is the trace's line for an error answer: FCM's code, or the
// canonical status, or the HTTP status, then Google's message.
func reason(status int, code string, g *googleError) string {
	r := code
	if r == "" {
		r = g.Error.Status
	}
	if r == "" {
		r = fmt.Sprintf("HTTP %d", status)
	}
	if m := strings.TrimSpace(g.Error.Message); m != "" {
		r += ": " + m
	}
	return clip(r)
}

// clip keeps a vendor's text to a size fit for a trace.
func clip(s string) string {
	const limit = 300
	if len(s) <= limit {
		return s
	}
	return s[:limit] + "…"
}

// retryAfter reads Retry-After, in seconds or as an HTTP date; zero when
// absent, unreadable or past.
func retryAfter(h http.Header, now time.Time) time.Duration {
	return push.ParseRetryAfter(h.Get("Retry-After"), now)
}
