package xiaomi

import (
	"net/http"
	"testing"
	"time"

	"github.com/heraldim/herald/internal/push"
)

func TestTranslate(t *testing.T) {
	now := time.Date(2026, 3, 1, 17, 0, 0, 0, time.UTC) // 01:00 on 2 March in UTC+8
	tests := []struct {
		name   string
		status int
		body   string
		want   push.Outcome
	}{
		{"ok", 200, `{"result":"ok","code":0,"data":{"id":"scm01"}}`, push.Delivered},
		{"ok other bad", 200, `{"result":"ok","code":0,"data":{"id":"scm01","bad_regids":"x,y"}}`, push.Delivered},
		{"ok ours bad", 200, `{"result":"ok","code":0,"data":{"id":"scm01","bad_regids":"x,tok"}}`, push.DropDevice},
		{"20301", 200, `{"result":"error","code":20301}`, push.DropDevice},
		{"21301", 200, `{"result":"error","code":21301}`, push.AuthFailed},
		{"-1", 200, `{"result":"error","code":-1}`, push.Retry},
		{"1", 200, `{"result":"error","code":1}`, push.Retry},
		{"10002", 200, `{"result":"error","code":10002}`, push.Retry},
		{"10027", 200, `{"result":"error","code":10027}`, push.Retry},
		{"10034", 200, `{"result":"error","code":10034}`, push.QuotaExhausted},
		{"22022", 200, `{"result":"error","code":22022}`, push.Rejected},
		{"27001", 200, `{"result":"error","code":27001}`, push.Rejected},
		{"21305", 200, `{"result":"error","code":21305}`, push.Rejected},
		{"not json", 200, `<html>`, push.Retry},
		{"503", 503, ``, push.Retry},
		{"404", 404, ``, push.Rejected},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := translate(tt.status, http.Header{}, []byte(tt.body), "tok", now)
			if res.Outcome != tt.want {
				t.Fatalf("outcome %v (%+v), want %v", res.Outcome, res, tt.want)
			}
			if tt.want == push.QuotaExhausted {
				want := time.Date(2026, 3, 2, 16, 0, 0, 0, time.UTC)
				if !res.Until.Equal(want) {
					t.Errorf("Until %v, want %v", res.Until, want)
				}
			}
		})
	}
}

func TestNotifyIDAndCut(t *testing.T) {
	a, b := notifyID("conv-1"), notifyID("conv-1")
	if notifyID("42") != 42 || a != b || a < 0 || notifyID("-3") < 0 || notifyID("99999999999") < 0 {
		t.Error("notifyID")
	}
	if got := cut("abcdef", 5); got != "abc…" {
		t.Errorf("cut %q", got)
	}
	if got := cut("abcd", 5); got != "abcd" {
		t.Errorf("cut %q", got)
	}
}
