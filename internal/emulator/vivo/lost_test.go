package vivo

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"
	"time"
)

// TestLostAnswer: a send under a lost_answer fault is accepted and
// delivered but never answered; the client's retry with the same requestId
// gets the first answer and no second delivery (vivo's idempotency).
func TestLostAnswer(t *testing.T) {
	e, c := start(t, Config{})
	tok := token(t, e, c)
	reg := e.RegisterDevice(appID)
	if err := e.SetFault(reg, Fault{Kind: FaultLostAnswer, Times: 1}); err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(baseSend(reg, "job-1"))
	req, _ := http.NewRequest(http.MethodPost, e.URL()+"/message/send", bytes.NewReader(raw))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("authToken", tok)
	// The client's own timeout is how it gives up; the test asserts no time.
	if resp, err := (&http.Client{Timeout: 200 * time.Millisecond}).Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("a lost answer came: %d", resp.StatusCode)
	}
	if n := len(e.Deliveries(reg)); n != 1 {
		t.Fatalf("%d deliveries of the unanswered send, want 1", n)
	}
	again := post(t, nil, e.URL()+"/message/send", tok, baseSend(reg, "job-1"))
	if again.Result != 0 || again.TaskID != e.Deliveries(reg)[0].TaskID {
		t.Fatalf("retry answered %+v", again)
	}
	if n := len(e.Deliveries(reg)); n != 1 {
		t.Fatalf("%d deliveries after the retry, want 1", n)
	}
	if s := e.Stats(); s.Duplicates != 1 {
		t.Fatalf("stats %+v", s)
	}
	if err := e.SetFault("", Fault{Kind: "melted"}); err == nil {
		t.Fatal("unknown fault kind accepted")
	}
}
