package fcm

import (
	"net/http"
	"testing"
	"time"

	"github.com/heraldim/herald/internal/push"
)

// TestTranslate covers answers the emulator does not give: shapes seen in
// FCM's documentation, issue threads and firebase-admin-go's fixtures.
func TestTranslate(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	fcmErr := func(code string) string {
		return `{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"` + code + `"}`
	}
	cases := []struct {
		name       string
		status     int
		header     http.Header
		body       string
		outcome    push.Outcome
		retryAfter time.Duration
		vendorID   string
	}{
		{"accepted", 200, nil, `{"name":"projects/p/messages/0:1500415314455276%31bd1c9631bd1c96"}`,
			push.Delivered, 0, "projects/p/messages/0:1500415314455276%31bd1c9631bd1c96"},
		{"accepted, odd body", 200, nil, `ok`, push.Delivered, 0, ""},
		{"unregistered", 404, nil,
			`{"error":{"code":404,"message":"Requested entity was not found.","status":"NOT_FOUND","details":[` + fcmErr("UNREGISTERED") + `]}}`,
			push.DropDevice, 0, ""},
		{"unregistered with firebase-admin-go's fixture status", 400, nil,
			`{"error":{"status":"INVALID_ARGUMENT","message":"test error","details":[` + fcmErr("UNREGISTERED") + `]}}`,
			push.DropDevice, 0, ""},
		{"invalid registration token", 400, nil,
			`{"error":{"code":400,"message":"The registration token is not a valid FCM registration token","status":"INVALID_ARGUMENT","details":[` + fcmErr("INVALID_ARGUMENT") + `]}}`,
			push.DropDevice, 0, ""},
		{"token field violation", 400, nil,
			`{"error":{"code":400,"message":"Invalid value","status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.rpc.BadRequest","fieldViolations":[{"field":"message.token","description":"bad"}]}]}}`,
			push.DropDevice, 0, ""},
		{"data value not a string", 400, nil,
			`{"error":{"code":400,"message":"Invalid value at 'message.data[0].value' (TYPE_STRING), 12","status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.rpc.BadRequest","fieldViolations":[{"field":"message.data[0].value","description":"Invalid value at 'message.data[0].value' (TYPE_STRING), 12"}]}]}}`,
			push.Rejected, 0, ""},
		{"APNs configuration (ApnsError detail)", 400, nil,
			`{"error":{"code":400,"message":"Request contains an invalid argument.","status":"INVALID_ARGUMENT","details":[` + fcmErr("INVALID_ARGUMENT") + `,{"@type":"type.googleapis.com/google.firebase.fcm.v1.ApnsError","statusCode":400,"reason":"DeviceTokenNotForTopic"}]}}`,
			push.Rejected, 0, ""},
		{"sender id mismatch", 403, nil,
			`{"error":{"code":403,"message":"SenderId mismatch","status":"PERMISSION_DENIED","details":[` + fcmErr("SENDER_ID_MISMATCH") + `]}}`,
			push.DropDevice, 0, ""},
		{"access token expired", 401, nil,
			`{"error":{"code":401,"message":"Request had invalid authentication credentials.","status":"UNAUTHENTICATED"}}`,
			push.AuthFailed, 0, ""},
		{"APNs credential in Firebase", 401, nil,
			`{"error":{"code":401,"message":"Auth error from APNS or Web Push Service","status":"UNAUTHENTICATED","details":[` + fcmErr("THIRD_PARTY_AUTH_ERROR") + `]}}`,
			push.Rejected, 0, ""},
		{"legacy APNS_AUTH_ERROR", 401, nil,
			`{"error":{"code":401,"status":"UNAUTHENTICATED","details":[` + fcmErr("APNS_AUTH_ERROR") + `]}}`,
			push.Rejected, 0, ""},
		{"permission denied", 403, nil,
			`{"error":{"code":403,"message":"Permission 'cloudmessaging.messages.create' denied","status":"PERMISSION_DENIED"}}`,
			push.AuthFailed, 0, ""},
		{"quota, seconds", 429, http.Header{"Retry-After": {"120"}},
			`{"error":{"code":429,"status":"RESOURCE_EXHAUSTED","details":[` + fcmErr("QUOTA_EXCEEDED") + `]}}`,
			push.Retry, 2 * time.Minute, ""},
		{"quota, HTTP date", 429, http.Header{"Retry-After": {now.Add(90 * time.Second).Format(http.TimeFormat)}},
			`{"error":{"code":429,"status":"RESOURCE_EXHAUSTED","details":[` + fcmErr("QUOTA_EXCEEDED") + `]}}`,
			push.Retry, 90 * time.Second, ""},
		{"quota, no header", 429, nil, `{"error":{"code":429,"status":"RESOURCE_EXHAUSTED"}}`,
			push.Retry, time.Minute, ""},
		{"internal", 500, nil,
			`{"error":{"code":500,"status":"INTERNAL","details":[` + fcmErr("INTERNAL") + `]}}`,
			push.Retry, 0, ""},
		{"unavailable", 503, http.Header{"Retry-After": {"5"}},
			`{"error":{"code":503,"status":"UNAVAILABLE","details":[` + fcmErr("UNAVAILABLE") + `]}}`,
			push.Retry, 5 * time.Second, ""},
		{"bad gateway, HTML", 502, nil, `<html>502</html>`, push.Retry, 0, ""},
		{"unknown project", 404, nil,
			`{"error":{"code":404,"message":"Requested entity was not found.","status":"NOT_FOUND"}}`,
			push.Rejected, 0, ""},
		{"payload too large", 413, nil, ``, push.Rejected, 0, ""},
		{"unspecified error code", 400, nil,
			`{"error":{"code":400,"message":"?","status":"INVALID_ARGUMENT","details":[` + fcmErr("UNSPECIFIED_ERROR") + `]}}`,
			push.Rejected, 0, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := c.header
			if h == nil {
				h = http.Header{}
			}
			res := translate(c.status, h, []byte(c.body), now)
			if res.Outcome != c.outcome || res.RetryAfter != c.retryAfter || res.VendorID != c.vendorID || res.Status != c.status {
				t.Errorf("translate = %+v, want %v retry %v id %q", res, c.outcome, c.retryAfter, c.vendorID)
			}
			if c.outcome != push.Delivered && res.Reason == "" {
				t.Error("no reason")
			}
		})
	}
}
