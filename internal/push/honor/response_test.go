package honor

import (
	"net/http"
	"testing"
	"time"

	"github.com/heraldim/herald/internal/push"
)

// TestTranslate: answers the emulator never gives are translated as the
// package comment's table says.
func TestTranslate(t *testing.T) {
	p, err := New(Config{AppID: appID, ClientID: clientID, ClientSecret: secret})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 10, 15, 30, 0, 0, time.UTC)
	for _, c := range []struct {
		status int
		body   string
		want   push.Outcome
	}{
		{200, `{"code":200,"message":"success","data":{"sendResult":true,"requestId":"r1","failTokens":[],"expireTokens":[]}}`, push.Delivered},
		{200, `{"code":"200","data":{"sendResult":true,"requestId":"r1"}}`, push.Delivered},
		{200, `{"code":200,"data":{"sendResult":false,"failTokens":["tok"]}}`, push.DropDevice},
		{200, `{"code":200,"data":{"sendResult":false}}`, push.Retry},
		{200, `{"code":200,"data":{"sendResult":true,"requestId":"r1","expireTokens":["other"]}}`, push.Delivered},
		{400, `{"code":80300007,"message":"all the tokens are invalid"}`, push.DropDevice},
		{401, `{"code":80200003}`, push.AuthFailed},
		{401, ``, push.AuthFailed},
		{400, `{"code":80300008}`, push.Rejected},
		{400, `{"code":80300016}`, push.QuotaExhausted},
		{500, `{"code":81000001}`, push.Retry},
		{502, `<html>bad gateway</html>`, push.Retry},
		{503, `{"code":80300008}`, push.Retry},
		{404, `not found`, push.Rejected},
	} {
		res := p.translate(c.status, http.Header{}, []byte(c.body), "tok", now)
		if res.Outcome != c.want || res.Status != c.status {
			t.Errorf("%d %s: %+v, want %s", c.status, c.body, res, c.want)
		}
		if c.want == push.Delivered && (res.VendorID != "r1" || res.Reason != "") {
			t.Errorf("%s: delivered without requestId or with a reason: %+v", c.body, res)
		}
	}
}
