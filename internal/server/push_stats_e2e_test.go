package server_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	apnsemu "github.com/heraldim/herald/internal/emulator/apns"
	"github.com/heraldim/herald/internal/protocol"
	"github.com/heraldim/herald/internal/testkit"
)

// postReceipt posts a receipt to POST /v1/push/receipts with the given
// Authorization header and raw body.
func postReceipt(t *testing.T, s *testkit.Server, auth, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.HTTP+"/v1/push/receipts", bytes.NewReader([]byte(body)))
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

// apnsTotal is the apns totals of the statistics of the hour around now.
func apnsTotal(t *testing.T, s *testkit.Server) map[string]any {
	t.Helper()
	b := mustAdmin(t, s, 200, "GET", "/push/stats?vendor=apns", nil)
	totals, _ := b["totals"].([]any)
	if len(totals) == 0 {
		return map[string]any{}
	}
	return totals[0].(map[string]any)
}

// TestPushStatsAdminSendAndBadInput: the admin API's pushes without a
// message (their own planning path) count as planned, sent and accepted
// for their vendor; a receipt over HTTP with a bad token, body or push,
// and a statistics query out of its rules, get their documented codes and
// change no count.
func TestPushStatsAdminSendAndBadInput(t *testing.T) {
	s := testkit.Start(t, nil)
	em := startAPNs(t, s)
	for _, u := range []string{"carl", "dora"} {
		tok := em.RegisterDevice(bundle, apnsemu.Production, false)
		goOffline(t, s, u, protocol.PushRegistration{Vendor: "apns", Token: tok, Environment: "production", BundleID: bundle})
	}
	mustAdmin(t, s, 200, "POST", "/push/send", map[string]any{"userIDs": []string{"carl", "dora"}, "title": "T", "content": "C"})
	want := map[string]float64{"planned": 2, "sent": 2, "accepted": 2, "failed": 0, "arrived": 0, "clicked": 0}
	same := func(got map[string]any) bool {
		for k, v := range want {
			if got[k] != v {
				return false
			}
		}
		return true
	}
	for deadline := time.Now().Add(wait); !same(apnsTotal(t, s)); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("apns totals %v, want %v", apnsTotal(t, s), want)
		}
	}
	tok := "Bearer " + s.Token(t, "carl", time.Hour)
	for _, c := range []struct {
		name, auth, body string
		code             protocol.Code
	}{
		{"no token", "", `{"userID":"carl","kind":"notificationClicked","pushJobID":"x"}`, protocol.CodeTokenInvalid},
		{"not a token", "Bearer nope", `{"userID":"carl","kind":"notificationClicked","pushJobID":"x"}`, protocol.CodeTokenInvalid},
		{"not JSON", tok, `{`, protocol.CodeInvalidArgument},
		{"an unknown field", tok, `{"userID":"carl","kind":"notificationClicked","pushJobID":"x","extra":1}`, protocol.CodeInvalidArgument},
		{"two objects", tok, `{"userID":"carl"} {}`, protocol.CodeInvalidArgument},
		{"another user", tok, `{"userID":"dora","kind":"notificationClicked","pushJobID":"x"}`, protocol.CodeTokenInvalid},
		{"a bad kind", tok, `{"userID":"carl","kind":"opened","pushJobID":"00000000-0000-4000-8000-000000000001"}`, protocol.CodeInvalidReceipt},
		{"a bad push ID", tok, `{"userID":"carl","kind":"notificationClicked","pushJobID":"1"}`, protocol.CodeInvalidReceipt},
		{"no such push", tok, `{"userID":"carl","kind":"notificationClicked","pushJobID":"00000000-0000-4000-8000-00000fffffff"}`, protocol.CodePushNotFound},
	} {
		st, b := postReceipt(t, s, c.auth, c.body)
		if st != c.code.HTTPStatus() || b["code"] != float64(c.code) {
			t.Errorf("%s: %d %v, want %d %d", c.name, st, b, c.code.HTTPStatus(), c.code)
		}
	}
	if got := apnsTotal(t, s); !same(got) {
		t.Errorf("after refused receipts: %v, want %v", got, want)
	}

	for _, q := range []url.Values{
		{"bucket": {"week"}},
		{"from": {"yesterday"}},
		{"to": {"2026-13-01T00:00:00Z"}},
		{"from": {"2026-01-02T00:00:00Z"}, "to": {"2026-01-01T00:00:00Z"}},
		{"from": {"2026-01-01T00:00:00Z"}, "to": {"2026-03-01T00:00:00Z"}}, // 1,416 hours
		{"vendor": {"nokia"}},
	} {
		wantAdminCode(t, s, protocol.CodeInvalidStatsQuery, "GET", "/push/stats?"+q.Encode(), nil)
	}
	// Days: two months fit.
	b := mustAdmin(t, s, 200, "GET", "/push/stats?bucket=day&from=2026-01-01T00:00:00Z&to=2026-03-01T00:00:00Z", nil)
	if b["bucket"] != "day" || b["from"] != "2026-01-01T00:00:00Z" || b["to"] != "2026-03-01T00:00:00Z" {
		t.Errorf("day window: %v", b)
	}
}
