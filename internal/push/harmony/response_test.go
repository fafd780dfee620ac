package harmony

import (
	"net/http"
	"testing"
	"time"

	"github.com/heraldim/herald/internal/push"
)

// TestTranslate covers the answers the emulator does not play (a 401
// without a body, 502, a partial success not naming our token, a code
// given as a number) besides the table's rows.
func TestTranslate(t *testing.T) {
	now := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	const tok = "MAMzLgOurToken"
	cases := []struct {
		name   string
		status int
		body   string
		retry  string
		want   push.Outcome
		after  time.Duration
	}{
		{"success", 200, `{"code":"80000000","msg":"Success","requestId":"1"}`, "", push.Delivered, 0},
		{"numeric code", 200, `{"code":80000000,"msg":"Success"}`, "", push.Delivered, 0},
		{"partial, ours fine", 200, `{"code":"80100000","msg":"{\"success\":1,\"failure\":1,\"illegalTokens\":{\"tokenFormatError\":[\"other\"]}}"}`, "", push.Delivered, 0},
		{"partial, ours malformed", 200, `{"code":"80100000","msg":"{\"success\":1,\"failure\":1,\"illegalTokens\":{\"tokenFormatError\":[\"` + tok + `\"]}}"}`, "", push.DropDevice, 0},
		{"all invalid", 400, `{"code":"80300007","msg":"All the tokens are invalid"}`, "", push.DropDevice, 0},
		{"no push-type right", 400, `{"code":"80300007","msg":"{\"failure\":1,\"illegalTokens\":{\"noPushTypeRight\":[\"` + tok + `\"]}}"}`, "", push.Rejected, 0},
		{"penalty", 400, `{"code":"80300007","msg":"{\"failure\":1,\"illegalTokens\":{\"disableSendHuaweiMsgBecauseOfPenalty\":[\"` + tok + `\"]}}"}`, "", push.Rejected, 0},
		{"auth", 401, `{"code":"80200001","msg":"Oauth authentication error"}`, "", push.AuthFailed, 0},
		{"token expired", 401, `{"code":"80200003"}`, "", push.AuthFailed, 0},
		{"jwt expired", 401, `{"code":"80200005","msg":"Jwt token expired"}`, "", push.AuthFailed, 0},
		{"401 without a body", 401, ``, "", push.AuthFailed, 0},
		{"flow control", 503, `<html>busy</html>`, "12", push.Retry, 12 * time.Second},
		{"internal", 500, `{"code":"81000001"}`, "", push.Retry, 0},
		{"bad gateway", 502, ``, "", push.Retry, 0},
		{"too large", 400, `{"code":"80300008"}`, "", push.Rejected, 0},
		{"structure", 400, `{"code":"80100003","msg":"Illegal payload"}`, "", push.Rejected, 0},
		{"unknown code", 200, `{"code":"89999999"}`, "", push.Rejected, 0},
		{"404", 404, `not found`, "", push.Rejected, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := http.Header{}
			if c.retry != "" {
				h.Set("Retry-After", c.retry)
			}
			res := translate(c.status, h, []byte(c.body), tok, now)
			if res.Outcome != c.want || res.RetryAfter != c.after || res.Status != c.status {
				t.Fatalf("%+v, want %s after %s", res, c.want, c.after)
			}
			if c.want == push.Delivered && res.Reason != "" {
				t.Fatalf("a delivered push has reason %q", res.Reason)
			}
			if c.want != push.Delivered && res.Reason == "" {
				t.Fatal("no reason for the trace")
			}
		})
	}
}
