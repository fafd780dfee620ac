package server_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/heraldim/herald/internal/config"
	"github.com/heraldim/herald/internal/protocol"
	"github.com/heraldim/herald/internal/testkit"
	"github.com/heraldim/herald/internal/webhook"
)

// hookEvent is one request the receiver got.
type hookEvent struct {
	ID, Event, Signature string
	Body                 []byte
	Env                  struct {
		ID        string          `json:"id"`
		Event     string          `json:"event"`
		AppID     string          `json:"appID"`
		Timestamp int64           `json:"timestamp"`
		Data      json.RawMessage `json:"data"`
	}
}

// receiver is an app server's webhook endpoint: it records every event
// request on got and answers with the scripted statuses (then 200). With
// hold set, it blocks each request until release is closed or the request
// is cancelled. /moderate is the before-send hook, answering by the
// message's text.
type receiver struct {
	t   *testing.T
	srv *httptest.Server
	got chan hookEvent

	mu       sync.Mutex
	statuses []int
	hold     bool
	release  chan struct{}
	backlog  []hookEvent
	modCalls chan webhook.BeforeSendRequest
	secret   string
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{t: t, got: make(chan hookEvent, 256), release: make(chan struct{}), modCalls: make(chan webhook.BeforeSendRequest, 16)}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /events", r.events)
	mux.HandleFunc("POST /moderate", r.moderate)
	r.srv = httptest.NewServer(mux)
	t.Cleanup(func() {
		r.releaseAll()
		r.srv.Close()
	})
	return r
}

func (r *receiver) releaseAll() {
	r.mu.Lock()
	defer r.mu.Unlock()
	select {
	case <-r.release:
	default:
		close(r.release)
	}
}

func (r *receiver) script(hold bool, statuses ...int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.hold, r.statuses = hold, statuses
}

func (r *receiver) events(w http.ResponseWriter, req *http.Request) {
	b, _ := io.ReadAll(req.Body)
	e := hookEvent{ID: req.Header.Get(webhook.HeaderEventID), Event: req.Header.Get(webhook.HeaderEvent),
		Signature: req.Header.Get(webhook.HeaderSignature), Body: b}
	if err := json.Unmarshal(b, &e.Env); err != nil {
		r.t.Errorf("event body %s: %v", b, err)
	}
	r.mu.Lock()
	status := 200
	if len(r.statuses) > 0 {
		status, r.statuses = r.statuses[0], r.statuses[1:]
	}
	hold, release := r.hold, r.release
	r.mu.Unlock()
	r.got <- e
	if hold {
		select {
		case <-release:
		case <-req.Context().Done():
			return
		}
	}
	w.WriteHeader(status)
}

func (r *receiver) moderate(w http.ResponseWriter, req *http.Request) {
	b, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	secret := r.secret
	r.mu.Unlock()
	if err := webhook.Verify(secret, req.Header.Get(webhook.HeaderSignature), b, time.Now(), webhook.SignatureTolerance); err != nil {
		r.t.Errorf("before-send request not signed: %v", err)
	}
	var in webhook.BeforeSendRequest
	if err := json.Unmarshal(b, &in); err != nil {
		r.t.Errorf("before-send body %s: %v", b, err)
	}
	r.modCalls <- in
	var out any
	switch in.Message.Text {
	case "deny me":
		out = map[string]any{"action": "deny", "reason": "no such words here"}
	case "modify me":
		out = map[string]any{"action": "modify", "message": map[string]any{"text": "modified ***"}}
	case "modify badly":
		out = map[string]any{"action": "modify", "message": map[string]any{"text": ""}}
	case "slow":
		select {
		case <-r.release:
		case <-req.Context().Done():
			return
		}
		out = map[string]any{"action": "allow"}
	default:
		out = map[string]any{"action": "allow"}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

// next returns the next event matching ok (earlier non-matching ones are
// kept for later calls).
func (r *receiver) next(ok func(hookEvent) bool) hookEvent {
	r.t.Helper()
	for i, e := range r.backlog {
		if ok(e) {
			r.backlog = append(r.backlog[:i], r.backlog[i+1:]...)
			return e
		}
	}
	timeout := time.After(wait)
	for {
		select {
		case e := <-r.got:
			if ok(e) {
				return e
			}
			r.backlog = append(r.backlog, e)
		case <-timeout:
			r.t.Fatalf("no matching webhook event within %v; got %d others", wait, len(r.backlog))
		}
	}
}

func (r *receiver) event(name string) hookEvent {
	r.t.Helper()
	return r.next(func(e hookEvent) bool { return e.Event == name })
}

// verified checks e's signature with secret and decodes its data into v.
func verified(t *testing.T, secret string, e hookEvent, v any) {
	t.Helper()
	if err := webhook.Verify(secret, e.Signature, e.Body, time.Now(), webhook.SignatureTolerance); err != nil {
		t.Fatalf("%s %s: signature %q does not verify: %v", e.Event, e.ID, e.Signature, err)
	}
	if e.Env.ID != e.ID || e.Env.Event != e.Event || e.Env.Timestamp == 0 {
		t.Fatalf("envelope %s does not match headers id %s event %s", e.Body, e.ID, e.Event)
	}
	if v != nil {
		if err := json.Unmarshal(e.Env.Data, v); err != nil {
			t.Fatalf("%s data %s: %v", e.Event, e.Env.Data, err)
		}
	}
}

func fastRetries(c *config.Config) { c.WebhookRetryBase = 5 * time.Millisecond }

// configure sets the dev app's webhook to r and returns the secret.
func configure(t *testing.T, s *testkit.Server, r *receiver, body map[string]any) string {
	t.Helper()
	if _, ok := body["url"]; !ok {
		body["url"] = r.srv.URL + "/events"
	}
	b := mustAdmin(t, s, 200, "PUT", "/webhooks", body)
	secret, _ := b["secret"].(string)
	if secret == "" {
		t.Fatalf("PUT /webhooks answered %v without the generated secret", b)
	}
	r.mu.Lock()
	r.secret = secret
	r.mu.Unlock()
	return secret
}

var allEvents = []string{"message.sent", "user.login", "user.logout", "push.outcome", "call.ended"}

// TestWebhookEvents: every event type reaches the app's endpoint, signed
// with the secret shown once, with its documented data.
func TestWebhookEvents(t *testing.T) {
	s := testkit.Start(t, fastRetries)
	r := newReceiver(t)
	secret := configure(t, s, r, map[string]any{"events": allEvents})
	if b := mustAdmin(t, s, 200, "GET", "/webhooks", nil); b["secret"] != nil || b["secretHint"] != "…"+secret[len(secret)-4:] {
		t.Fatalf("GET shows %v: the secret must not be shown again", b)
	}

	// Login, as user.login.
	alice := s.LoginAs(t, "alice", "android", "pixel")
	alice.SyncDone(wait)
	var login struct{ UserID, Platform, DeviceID, SessionID, Reason string }
	verified(t, secret, r.event("user.login"), &login)
	if login.UserID != "alice" || login.Platform != "android" || login.DeviceID != "pixel" || login.SessionID == "" {
		t.Fatalf("user.login data %+v", login)
	}

	// A message, as message.sent.
	bob, _ := loginWithPush(t, s, "bob", "bb01")
	rep, perr := alice.SendText("bob", "l1", "hello bob")
	if perr != nil {
		t.Fatal(perr)
	}
	e := r.event("message.sent")
	var sent webhook.Message
	verified(t, secret, e, &sent)
	if want := rep.MessageID; e.Env.AppID != s.App.AppID || sent.Sender != "alice" || sent.Recipient != "bob" || sent.Text != "hello bob" ||
		sent.Seq != rep.ConversationSeq || sent.Type != protocol.MessageText || sent.LocalID != "l1" || formatInt(sent.ID) != want {
		t.Fatalf("message.sent %s, want message %s from alice to bob", e.Body, want)
	}

	// A call cancelled, as call.ended.
	c := invite(t, alice, protocol.CallInviteRequest{Invitees: []string{"bob"}, Timeout: 30})
	if err := alice.Call(protocol.TypeCallCancel, protocol.CallCancelRequest{CallID: c.CallID}, nil); err != nil {
		t.Fatal(err)
	}
	var ended struct {
		CallID, Reason string
		Users          []struct {
			UserID string
			State  int
		}
	}
	verified(t, secret, r.event("call.ended"), &ended)
	if ended.CallID != c.CallID || ended.Reason == "" || len(ended.Users) != 2 {
		t.Fatalf("call.ended data %+v, want call %s with 2 users", ended, c.CallID)
	}
	for _, u := range ended.Users {
		if u.UserID == "bob" && u.State != protocol.CallCancelled {
			t.Fatalf("bob's final state %d, want cancelled (%d)", u.State, protocol.CallCancelled)
		}
	}

	// Logout and kick, as user.logout with their reasons.
	if err := bob.Call(protocol.TypeLogout, struct{}{}, nil); err != nil {
		t.Fatal(err)
	}
	var out struct{ UserID, Reason string }
	verified(t, secret, r.next(func(e hookEvent) bool { return e.Event == "user.logout" && json.Valid(e.Env.Data) && has(e, "bob") }), &out)
	if out.Reason != "logout" {
		t.Fatalf("bob's logout reason %q", out.Reason)
	}
	alice2 := s.LoginAs(t, "alice", "android", "pixel2") // same platform: kicks the first
	alice2.SyncDone(wait)
	verified(t, secret, r.next(func(e hookEvent) bool { return e.Event == "user.logout" && has(e, "alice") }), &out)
	if out.Reason != "kicked" {
		t.Fatalf("alice's first session ended with %q, want kicked", out.Reason)
	}

	// An offline user's push, as push.outcome (no APNs credential: it
	// fails, with the reason).
	goOffline(t, s, "carol", protocol.PushRegistration{Vendor: "apns", Token: "cc01", Environment: "development", BundleID: "com.example.chat"})
	var pr protocol.SendReply
	if err := alice2.Call(protocol.TypeSend, protocol.SendRequest{ConversationID: "carol", LocalMessageID: "p1", Type: 1, Text: "hi",
		PushConfig: &protocol.PushConfig{Title: "Alice", Content: "hi"}}, &pr); err != nil {
		t.Fatal(err)
	}
	var po struct{ JobID, MessageID, UserID, PushID, Vendor, Outcome, Reason string }
	verified(t, secret, r.event("push.outcome"), &po)
	if po.MessageID != pr.MessageID || po.UserID != "carol" || po.Vendor != "apns" || po.Outcome == "" || po.Outcome == "pending" || po.Reason == "" {
		t.Fatalf("push.outcome %+v, want carol's push of message %s with its outcome and reason", po, pr.MessageID)
	}
	if n := s.Metric(t, "herald_webhook_pending"); n < 0 {
		t.Fatalf("pending gauge %v", n)
	}
}

func has(e hookEvent, user string) bool {
	var d struct{ UserID string }
	_ = json.Unmarshal(e.Env.Data, &d)
	return d.UserID == user
}

func formatInt(n int64) string { b, _ := json.Marshal(n); return string(b) }

// TestWebhookRetries: a receiver failing twice with 500 gets the event a
// third time, with the same event ID, and the listing shows it delivered
// after 3 attempts; one failing every time ends dead, kept and listed with
// its last error.
func TestWebhookRetries(t *testing.T) {
	s := testkit.Start(t, func(c *config.Config) { fastRetries(c); c.WebhookMaxAttempts = 3 })
	r := newReceiver(t)
	secret := configure(t, s, r, map[string]any{"events": []string{"message.sent"}})
	r.script(false, 500, 500)
	alice := s.LoginAs(t, "alice", "web", "w")
	alice.SyncDone(wait)
	if _, err := alice.SendText("bob", "r1", "retry me"); err != nil {
		t.Fatal(err)
	}
	first := r.event("message.sent")
	for range 2 {
		again := r.event("message.sent")
		verified(t, secret, again, nil)
		if again.ID != first.ID {
			t.Fatalf("retry has event ID %s, want %s", again.ID, first.ID)
		}
	}
	d := waitDelivery(t, s, first.ID, "delivered")
	if d["attempts"] != float64(3) || d["lastStatus"] != float64(200) {
		t.Fatalf("delivery %v, want delivered after 3 attempts", d)
	}

	r.script(false, 500, 500, 500)
	if _, err := alice.SendText("bob", "r2", "never delivered"); err != nil {
		t.Fatal(err)
	}
	dead := r.event("message.sent")
	d = waitDelivery(t, s, dead.ID, "dead")
	if d["attempts"] != float64(3) || d["lastStatus"] != float64(500) || d["lastError"] == "" {
		t.Fatalf("dead delivery %v, want 3 attempts, last 500", d)
	}
	b := mustAdmin(t, s, 200, "GET", "/webhooks/deliveries?status=dead", nil)
	if n := b["counts"].(map[string]any); n["dead"] != float64(1) || n["delivered"] != float64(1) {
		t.Fatalf("counts %v", n)
	}
}

// waitDelivery polls the admin listing until event id reaches status.
func waitDelivery(t *testing.T, s *testkit.Server, id, status string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		b := mustAdmin(t, s, 200, "GET", "/webhooks/deliveries", nil)
		ds, _ := b["deliveries"].([]any)
		for _, x := range ds {
			d := x.(map[string]any)
			if d["eventID"] == id && d["status"] == status {
				return d
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("event %s never %s: %v", id, status, b)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestWebhookSendDoesNotWait: with the receiver blocking every request,
// sends are still answered at once; and the pending event survives a
// restart (the stop cancels its delivery; the next start sends it again,
// same event ID).
func TestWebhookSendDoesNotWaitAndSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	s := testkit.Start(t, func(c *config.Config) { fastRetries(c); c.DataDir = dir })
	r := newReceiver(t)
	secret := configure(t, s, r, map[string]any{"events": []string{"message.sent"}})
	r.script(true)
	alice := s.LoginAs(t, "alice", "web", "w")
	alice.SyncDone(wait)
	if _, err := alice.SendText("bob", "s1", "one"); err != nil {
		t.Fatal(err)
	}
	held := r.event("message.sent") // the receiver holds this request now
	// The receiver is blocked: this send's reply cannot have waited for it.
	if _, err := alice.SendText("bob", "s2", "two"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-r.release:
		t.Fatal("released before the reply")
	default:
	}
	alice.Close()
	s.Stop(t)

	r.script(false)
	s2 := testkit.Start(t, func(c *config.Config) { fastRetries(c); c.DataDir = dir })
	_ = s2
	got := map[string]bool{}
	for len(got) < 2 {
		e := r.event("message.sent")
		verified(t, secret, e, nil)
		got[e.ID] = true
	}
	if !got[held.ID] {
		t.Fatalf("after the restart got %v, not the held event %s", got, held.ID)
	}
}

// TestBeforeSend: the hook denies (sender gets message_rejected, nothing
// stored), modifies (the modified body is stored and delivered), and on a
// timeout fails open or closed as configured. The server API is not
// moderated.
func TestBeforeSend(t *testing.T) {
	s := testkit.Start(t, fastRetries)
	r := newReceiver(t)
	configure(t, s, r, map[string]any{"url": "", "beforeSendURL": r.srv.URL + "/moderate", "beforeSendTimeoutMs": 200})
	alice := s.LoginAs(t, "alice", "web", "w")
	alice.SyncDone(wait)
	bob := s.LoginAs(t, "bob", "web", "w")
	bob.SyncDone(wait)

	if _, err := alice.SendText("bob", "d1", "deny me"); err == nil || err.Code != protocol.CodeMessageRejected || err.Message != "no such words here" {
		t.Fatalf("denied send answered %v, want message_rejected with the hook's reason", err)
	}
	if in := <-r.modCalls; in.From != "alice" || in.To != "bob" || in.AppID != s.App.AppID || in.Message.LocalMessageID != "d1" {
		t.Fatalf("hook got %+v", in)
	}
	rep, err := alice.SendText("bob", "m1", "modify me")
	if err != nil {
		t.Fatal(err)
	}
	<-r.modCalls
	m := bob.Message(wait)
	if m.Text != "modified ***" || m.MessageID != rep.MessageID || m.ConversationSeq != 1 {
		t.Fatalf("bob got %+v, want the modified text as the first stored message (the denied one was not stored)", m)
	}
	// A modification that is not a valid send is a failure: fail open
	// (the default) stores the original.
	if _, err := alice.SendText("bob", "m2", "modify badly"); err != nil {
		t.Fatal(err)
	}
	<-r.modCalls
	if m := bob.Message(wait); m.Text != "modify badly" {
		t.Fatalf("bob got %q", m.Text)
	}

	// A timeout, open: stored as sent.
	if _, err := alice.SendText("bob", "t1", "slow"); err != nil {
		t.Fatalf("fail-open send: %v", err)
	}
	<-r.modCalls
	if m := bob.Message(wait); m.Text != "slow" {
		t.Fatalf("bob got %q", m.Text)
	}
	// Closed: refused, nothing stored.
	mustAdmin(t, s, 200, "PUT", "/webhooks", map[string]any{"failureMode": "closed"})
	if _, err := alice.SendText("bob", "t2", "slow"); err == nil || err.Code != protocol.CodeMessageNotModerated {
		t.Fatalf("fail-closed send answered %v, want message_not_moderated", err)
	}
	<-r.modCalls
	rep, err = alice.SendText("bob", "ok", "fine")
	if err != nil {
		t.Fatal(err)
	}
	<-r.modCalls
	if m := bob.Message(wait); m.Text != "fine" || m.ConversationSeq != 4 {
		t.Fatalf("bob got %+v, want seq 4 (nothing stored for the refused send)", m)
	}
	_ = rep
}

// TestWebhookBadConfig: invalid configurations are refused with their
// documented codes and change nothing.
func TestWebhookBadConfig(t *testing.T) {
	s := testkit.Start(t, nil)
	r := newReceiver(t)
	if st, b := adminCall(t, s, "GET", "/webhooks", nil); st != 404 || b["code"] != float64(protocol.CodeNotFound) {
		t.Fatalf("GET without a webhook: %d %v", st, b)
	}
	if st, b := adminCall(t, s, "POST", "/webhooks/test", nil); st != 404 {
		t.Fatalf("test without a webhook: %d %v", st, b)
	}
	configure(t, s, r, map[string]any{"events": []string{"message.sent"}})
	before := mustAdmin(t, s, 200, "GET", "/webhooks", nil)
	for _, tc := range []struct {
		name string
		body map[string]any
		code protocol.Code
	}{
		{"scheme", map[string]any{"url": "ftp://example.com/x"}, protocol.CodeInvalidWebhookURL},
		{"relative", map[string]any{"url": "/hooks"}, protocol.CodeInvalidWebhookURL},
		{"before-send URL", map[string]any{"beforeSendURL": "mailto:x@example.com"}, protocol.CodeInvalidWebhookURL},
		{"event", map[string]any{"events": []string{"message.sent", "message.deleted"}}, protocol.CodeInvalidWebhookEvents},
		{"timeout", map[string]any{"beforeSendTimeoutMs": 20000}, protocol.CodeInvalidWebhookOption},
		{"negative timeout", map[string]any{"beforeSendTimeoutMs": -1}, protocol.CodeInvalidWebhookOption},
		{"failure mode", map[string]any{"failureMode": "maybe"}, protocol.CodeInvalidWebhookOption},
		{"short secret", map[string]any{"secret": "short"}, protocol.CodeInvalidWebhookOption},
		{"unknown field", map[string]any{"urll": "http://x"}, protocol.CodeInvalidArgument},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, b := adminCall(t, s, "PUT", "/webhooks", tc.body)
			if st != tc.code.HTTPStatus() || b["code"] != float64(tc.code) {
				t.Fatalf("PUT %v: %d %v, want %d", tc.body, st, b, tc.code)
			}
		})
	}
	after := mustAdmin(t, s, 200, "GET", "/webhooks", nil)
	if a, b := jsonString(before), jsonString(after); a != b {
		t.Fatalf("refused changes changed the config: %s -> %s", a, b)
	}
	if st, b := adminCall(t, s, "GET", "/webhooks/deliveries?status=lost", nil); st != 400 || b["code"] != float64(protocol.CodeInvalidArgument) {
		t.Fatalf("bad status filter: %d %v", st, b)
	}
	mustAdmin(t, s, 200, "PUT", "/webhooks", map[string]any{"enabled": false})
	if st, b := adminCall(t, s, "POST", "/webhooks/test", nil); st != 400 || b["code"] != float64(protocol.CodeWebhookNotEnabled) {
		t.Fatalf("test while disabled: %d %v", st, b)
	}
	mustAdmin(t, s, 200, "PUT", "/webhooks", map[string]any{"enabled": true})
	id := mustAdmin(t, s, 200, "POST", "/webhooks/test", nil)["eventID"]
	if e := r.event("webhook.test"); e.ID != id {
		t.Fatalf("test event %s, want %v", e.ID, id)
	}
	if st, _ := adminCall(t, s, "DELETE", "/webhooks", nil); st != 204 {
		t.Fatalf("DELETE: %d", st)
	}
	if st, _ := adminCall(t, s, "DELETE", "/webhooks", nil); st != 404 {
		t.Fatalf("second DELETE: %d", st)
	}
}

func jsonString(v any) string { b, _ := json.Marshal(v); return string(b) }

// TestWebhookOfflineByTimeout: a session that goes silent ends by the
// offline window, as user.logout with reason heartbeat_timeout.
func TestWebhookOfflineByTimeout(t *testing.T) {
	s, clk := testkit.StartFake(t, func(c *config.Config) {
		fastRetries(c)
		c.HeartbeatInterval = time.Second
		c.OfflineAfter = 2 * time.Second
	})
	r := newReceiver(t)
	secret := configure(t, s, r, map[string]any{"events": []string{"user.logout"}})
	c, freeze := testkit.DialFreezable(t, s.URL)
	if err := c.Login(s.App.AppID, "frozen", s.Token(t, "frozen", time.Hour), "android", "f"); err != nil {
		t.Fatal(err)
	}
	c.SyncDone(wait)
	freeze()
	waitClockUsers(t, clk)
	clk.Advance(2*time.Second + time.Second) // the offline window and a reaper tick
	var out struct{ UserID, DeviceID, Reason string }
	verified(t, secret, r.event("user.logout"), &out)
	if out.UserID != "frozen" || out.DeviceID != "f" || out.Reason != "heartbeat_timeout" {
		t.Fatalf("user.logout %+v, want frozen's heartbeat_timeout", out)
	}
}
