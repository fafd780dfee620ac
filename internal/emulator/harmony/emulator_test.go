package harmony

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// The tests sign their JWTs here with crypto/rsa, not with the provider's
// code: the emulator is judged by Huawei's description alone.

const project = "101653523863785276"

type fixture struct {
	e      *Emulator
	sa     ServiceAccountFile
	key    *rsa.PrivateKey
	now    time.Time
	client *http.Client
}

func setup(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{now: time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)}
	e, err := New(Config{Now: func() time.Time { return f.now }})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Shutdown(context.Background()) })
	f.e = e
	raw, err := e.NewServiceAccount(project)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &f.sa); err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode([]byte(f.sa.PrivateKey))
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	f.key = k.(*rsa.PrivateKey)
	f.client = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: e.CertPool()}}}
	return f
}

// jwt signs header and claims with key (PS256 unless the header says
// otherwise: the signature is always PSS; a wrong alg is caught first).
func signJWT(t *testing.T, key *rsa.PrivateKey, header, claims map[string]any) string {
	t.Helper()
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	input := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c)
	sum := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPSS(rand.Reader, key, crypto.SHA256, sum[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func (f *fixture) header() map[string]any {
	return map[string]any{"kid": f.sa.KeyID, "typ": "JWT", "alg": "PS256"}
}

func (f *fixture) claims() map[string]any {
	return map[string]any{"iss": f.sa.SubAccount, "aud": Audience, "iat": f.now.Unix(), "exp": f.now.Add(time.Hour).Unix()}
}

func (f *fixture) goodJWT(t *testing.T) string { return signJWT(t, f.key, f.header(), f.claims()) }

type answerBody struct {
	Code      string `json:"code"`
	Msg       string `json:"msg"`
	RequestID string `json:"requestId"`
}

func (f *fixture) send(t *testing.T, proj, auth, pushType string, body any) (int, answerBody, http.Header) {
	t.Helper()
	var raw []byte
	switch b := body.(type) {
	case string:
		raw = []byte(b)
	default:
		raw, _ = json.Marshal(b)
	}
	req, _ := http.NewRequest(http.MethodPost, f.e.URL()+"/v3/"+proj+"/messages:send", bytes.NewReader(raw))
	req.Header.Set("Content-Type", "application/json")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if pushType != "" {
		req.Header.Set("push-type", pushType)
	}
	resp, err := f.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a answerBody
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		t.Fatalf("answer is not JSON: %v", err)
	}
	return resp.StatusCode, a, resp.Header
}

func alert(tokens ...string) map[string]any {
	return map[string]any{
		"payload": map[string]any{"notification": map[string]any{
			"category": "IM", "title": "Alice", "body": "hi", "clickAction": map[string]any{"actionType": 0},
		}},
		"target": map[string]any{"token": tokens},
	}
}

func TestAcceptsAlertAndShowsIt(t *testing.T) {
	f := setup(t)
	tok := f.e.RegisterDevice(project)
	st, a, _ := f.send(t, project, "Bearer "+f.goodJWT(t), "0", alert(tok))
	if st != 200 || a.Code != codeSuccess || a.RequestID == "" {
		t.Fatalf("send: %d %+v", st, a)
	}
	tray := f.e.Tray(tok)
	if len(tray) != 1 || tray[0].Title != "Alice" || tray[0].Body != "hi" {
		t.Fatalf("tray %+v", tray)
	}
	// Without the self-classification entitlement Push Kit treats the
	// notification as MARKETING.
	if tray[0].Category != "MARKETING" {
		t.Fatalf("category without entitlement = %q", tray[0].Category)
	}
	f.e.SetSelfClassified(project, true)
	if st, a, _ := f.send(t, project, "Bearer "+f.goodJWT(t), "0", alert(tok)); st != 200 || a.Code != codeSuccess {
		t.Fatalf("second send: %d %+v", st, a)
	}
	if tray := f.e.Tray(tok); len(tray) != 2 || tray[1].Category != "IM" {
		t.Fatalf("tray with entitlement %+v", tray)
	}
	if s := f.e.Stats(); s.SendRequests != 2 || s.Accepted != 2 {
		t.Fatalf("stats %+v", s)
	}
}

// TestRefusesBadJWTs: each flaw of the JWT is answered as Push Kit
// answers it, and nothing is delivered.
func TestRefusesBadJWTs(t *testing.T) {
	f := setup(t)
	tok := f.e.RegisterDevice(project)
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	with := func(k string, v any) map[string]any {
		c := f.claims()
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	hdr := func(k string, v any) map[string]any {
		h := f.header()
		h[k] = v
		return h
	}
	cases := []struct {
		name, auth, proj, code string
	}{
		{"no header", "", project, codeAuth},
		{"not bearer", "Basic abc", project, codeAuth},
		{"not a JWT", "Bearer abc.def", project, codeAuth},
		{"RS256", "Bearer " + signJWT(t, f.key, hdr("alg", "RS256"), f.claims()), project, codeAuth},
		{"typ", "Bearer " + signJWT(t, f.key, hdr("typ", "JWS"), f.claims()), project, codeAuth},
		{"unknown kid", "Bearer " + signJWT(t, f.key, hdr("kid", "nope"), f.claims()), project, codeAuth},
		{"other key", "Bearer " + signJWT(t, other, f.header(), f.claims()), project, codeAuth},
		{"wrong iss", "Bearer " + signJWT(t, f.key, f.header(), with("iss", "42")), project, codeAuth},
		{"no iss", "Bearer " + signJWT(t, f.key, f.header(), with("iss", nil)), project, codeAuth},
		{"wrong aud", "Bearer " + signJWT(t, f.key, f.header(), with("aud", "https://push-api.cloud.huawei.com")), project, codeAuth},
		{"iat in the future", "Bearer " + signJWT(t, f.key, f.header(), with("iat", f.now.Add(10*time.Minute).Unix())), project, codeAuth},
		{"too long", "Bearer " + signJWT(t, f.key, f.header(), with("exp", f.now.Add(2*time.Hour).Unix())), project, codeAuth},
		{"expired", "Bearer " + signJWT(t, f.key, f.header(), map[string]any{"iss": f.sa.SubAccount, "aud": Audience,
			"iat": f.now.Add(-2 * time.Hour).Unix(), "exp": f.now.Add(-time.Hour).Unix()}), project, codeJWTExpired},
		{"other project", "Bearer " + f.goodJWT(t), "999", codeAuth},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st, a, _ := f.send(t, c.proj, c.auth, "0", alert(tok))
			if st != http.StatusUnauthorized || a.Code != c.code {
				t.Fatalf("%d %+v, want 401 %s", st, a, c.code)
			}
		})
	}
	if n := len(f.e.Deliveries(tok)); n != 0 {
		t.Fatalf("%d deliveries after refused JWTs", n)
	}
	f.e.RevokeServiceAccount(f.sa.KeyID)
	if st, a, _ := f.send(t, project, "Bearer "+f.goodJWT(t), "0", alert(tok)); st != 401 || a.Code != codeAuth {
		t.Fatalf("revoked key: %d %+v", st, a)
	}
}

// TestRefusesBadBodies: push-type and body rules, each with its code.
func TestRefusesBadBodies(t *testing.T) {
	f := setup(t)
	tok := f.e.RegisterDevice(project)
	notif := func(mod func(n map[string]any)) map[string]any {
		n := map[string]any{"category": "IM", "title": "t", "body": "b", "clickAction": map[string]any{"actionType": 0}}
		mod(n)
		return map[string]any{"payload": map[string]any{"notification": n}, "target": map[string]any{"token": []string{tok}}}
	}
	withOpts := func(o map[string]any, tokens ...string) map[string]any {
		b := alert(tokens...)
		b["pushOptions"] = o
		return b
	}
	many := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = tok
		}
		return out
	}
	big := strings.Repeat("x", 4100)
	cases := []struct {
		name, pushType string
		body           any
		status         int
		code           string
	}{
		{"no push-type", "", alert(tok), 400, codeParam},
		{"push-type 3", "3", alert(tok), 400, codeParam},
		{"push-type 1 not modelled", "1", alert(tok), 400, codeParam},
		{"not JSON", "0", "{", 400, codeStructure},
		{"unknown field", "0", map[string]any{"payload": map[string]any{"notification": map[string]any{}}, "target": map[string]any{"token": []string{tok}}, "message": 1}, 400, codeStructure},
		{"no payload", "0", map[string]any{"target": map[string]any{"token": []string{tok}}}, 400, codeStructure},
		{"alert with extraData", "0", map[string]any{"payload": map[string]any{"extraData": "x"}, "target": map[string]any{"token": []string{tok}}}, 400, codeStructure},
		{"background with notification", "6", alert(tok), 400, codeStructure},
		{"call without extraData", "10", map[string]any{"payload": map[string]any{}, "target": map[string]any{"token": []string{tok}}}, 400, codeStructure},
		{"bad category", "0", notif(func(n map[string]any) { n["category"] = "CHAT" }), 400, codeStructure},
		{"no category", "0", notif(func(n map[string]any) { delete(n, "category") }), 400, codeStructure},
		{"PLAY_VOICE on an alert", "0", notif(func(n map[string]any) { n["category"] = "PLAY_VOICE" }), 400, codeStructure},
		{"no title", "0", notif(func(n map[string]any) { delete(n, "title") }), 400, codeStructure},
		{"no body", "0", notif(func(n map[string]any) { n["body"] = "" }), 400, codeStructure},
		{"no clickAction", "0", notif(func(n map[string]any) { delete(n, "clickAction") }), 400, codeStructure},
		{"actionType 2", "0", notif(func(n map[string]any) { n["clickAction"] = map[string]any{"actionType": 2} }), 400, codeStructure},
		{"actionType 1 without target", "0", notif(func(n map[string]any) { n["clickAction"] = map[string]any{"actionType": 1} }), 400, codeStructure},
		{"badge addNum 0", "0", notif(func(n map[string]any) { n["badge"] = map[string]any{"addNum": 0} }), 400, codeStructure},
		{"badge setNum 100", "0", notif(func(n map[string]any) { n["badge"] = map[string]any{"setNum": 100} }), 400, codeStructure},
		{"title not a string", "0", notif(func(n map[string]any) { n["title"] = 5 }), 400, codeStructure},
		{"ttl 0", "0", withOpts(map[string]any{"ttl": 0}, tok), 400, codeParam},
		{"ttl over 15 days", "0", withOpts(map[string]any{"ttl": 1296001}, tok), 400, codeParam},
		{"collapseKey 101", "0", withOpts(map[string]any{"collapseKey": 101}, tok), 400, codeParam},
		{"test message to 11 tokens", "0", withOpts(map[string]any{"testMessage": true}, many(11)...), 400, codeParam},
		{"no tokens", "0", alert(), 400, codeTooManyTokens},
		{"1001 tokens", "0", alert(many(1001)...), 400, codeTooManyTokens},
		{"body over 4096", "0", notif(func(n map[string]any) { n["body"] = big }), 400, codeBodyTooLarge},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st, a, _ := f.send(t, project, "Bearer "+f.goodJWT(t), c.pushType, c.body)
			if st != c.status || a.Code != c.code {
				t.Fatalf("%d %+v, want %d %s", st, a, c.status, c.code)
			}
		})
	}
	if n := len(f.e.Deliveries(tok)); n != 0 {
		t.Fatalf("%d deliveries after refused bodies", n)
	}
	// The 4096 bytes exclude the tokens: 1000 long tokens pass.
	if st, a, _ := f.send(t, project, "Bearer "+f.goodJWT(t), "0", alert(many(1000)...)); st != 200 || a.Code != codeSuccess {
		t.Fatalf("1000 tokens: %d %+v", st, a)
	}
}

// TestTokens: invalid tokens and their reasons, partial success, and the
// in-app call entitlement.
func TestTokens(t *testing.T) {
	f := setup(t)
	good := f.e.RegisterDevice(project)
	gone := f.e.RegisterDevice(project)
	f.e.Uninstall(gone)
	foreign := f.e.RegisterDevice("another-project")
	jwt := "Bearer " + f.goodJWT(t)
	var d struct {
		Success       int                 `json:"success"`
		Failure       int                 `json:"failure"`
		IllegalTokens map[string][]string `json:"illegalTokens"`
	}

	if st, a, _ := f.send(t, project, jwt, "0", alert(gone)); st != 400 || a.Code != codeInvalidTokens || a.Msg != "All the tokens are invalid" {
		t.Fatalf("uninstalled: %d %+v", st, a)
	}
	if st, a, _ := f.send(t, project, jwt, "0", alert("short")); st != 400 || a.Code != codeInvalidTokens ||
		json.Unmarshal([]byte(a.Msg), &d) != nil || len(d.IllegalTokens[reasonFormat]) != 1 {
		t.Fatalf("malformed: %d %+v", st, a)
	}
	if st, a, _ := f.send(t, project, jwt, "0", alert(foreign)); st != 400 || a.Code != codeInvalidTokens ||
		json.Unmarshal([]byte(a.Msg), &d) != nil || d.IllegalTokens[reasonNoRight][0] != foreign {
		t.Fatalf("other project's token: %d %+v", st, a)
	}
	st, a, _ := f.send(t, project, jwt, "0", alert(good, gone))
	d = struct {
		Success       int                 `json:"success"`
		Failure       int                 `json:"failure"`
		IllegalTokens map[string][]string `json:"illegalTokens"`
	}{}
	if st != 200 || a.Code != codePartial || json.Unmarshal([]byte(a.Msg), &d) != nil || d.Success != 1 || d.Failure != 1 {
		t.Fatalf("partial: %d %+v", st, a)
	}
	if n := len(f.e.Deliveries(good)); n != 1 {
		t.Fatalf("good token got %d deliveries", n)
	}

	call := map[string]any{"payload": map[string]any{"extraData": `{"callID":"c1"}`}, "target": map[string]any{"token": []string{good}}}
	if st, a, _ := f.send(t, project, jwt, "10", call); st != 400 || a.Code != codeInvalidTokens ||
		json.Unmarshal([]byte(a.Msg), &d) != nil || len(d.IllegalTokens[reasonNoPushType]) != 1 {
		t.Fatalf("call without the entitlement: %d %+v", st, a)
	}
	f.e.SetCallRight(project, true)
	if st, a, _ := f.send(t, project, jwt, "10", call); st != 200 || a.Code != codeSuccess {
		t.Fatalf("call with the entitlement: %d %+v", st, a)
	}
	bg := map[string]any{"payload": map[string]any{"extraData": "sync"}, "target": map[string]any{"token": []string{good}}}
	if st, a, _ := f.send(t, project, jwt, "6", bg); st != 200 || a.Code != codeSuccess {
		t.Fatalf("background: %d %+v", st, a)
	}
	ds := f.e.Deliveries(good)
	if len(ds) != 3 || ds[1].PushType != "10" || *ds[1].ExtraData != `{"callID":"c1"}` || ds[2].PushType != "6" {
		t.Fatalf("deliveries %+v", ds)
	}
	if tray := f.e.Tray(good); len(tray) != 1 {
		t.Fatalf("background and call messages shown: %+v", tray)
	}
}

func TestFaults(t *testing.T) {
	f := setup(t)
	tok := f.e.RegisterDevice(project)
	jwt := "Bearer " + f.goodJWT(t)
	cases := []struct {
		fault  Fault
		token  string
		status int
		code   string
	}{
		{Fault{Kind: FaultJWTExpired, Times: 1}, "", 401, codeJWTExpired},
		{Fault{Kind: FaultFlowControl, Times: 1, RetryAfter: 3 * time.Second}, "", 503, ""},
		{Fault{Kind: FaultServerError, Times: 1}, tok, 500, codeInternal},
		{Fault{Kind: FaultInvalidToken, Times: 1}, tok, 400, codeInvalidTokens},
	}
	for _, c := range cases {
		if err := f.e.SetFault(c.token, c.fault); err != nil {
			t.Fatal(err)
		}
		st, a, h := f.send(t, project, jwt, "0", alert(tok))
		if st != c.status || a.Code != c.code {
			t.Fatalf("%s: %d %+v", c.fault.Kind, st, a)
		}
		if c.fault.RetryAfter > 0 && h.Get("Retry-After") != "3" {
			t.Fatalf("%s: Retry-After %q", c.fault.Kind, h.Get("Retry-After"))
		}
	}
	if st, a, _ := f.send(t, project, jwt, "0", alert(tok)); st != 200 || a.Code != codeSuccess {
		t.Fatalf("after the faults: %d %+v", st, a)
	}
	if err := f.e.SetFault("", Fault{Kind: FaultInvalidToken}); err == nil {
		t.Fatal("invalid_token without a token accepted")
	}
	if err := f.e.SetFault("", Fault{Kind: "nope"}); err == nil {
		t.Fatal("unknown fault accepted")
	}
}

// TestTrayReplacesByNotifyID: a notification with a shown one's notifyId
// replaces it.
func TestTrayReplacesByNotifyID(t *testing.T) {
	f := setup(t)
	tok := f.e.RegisterDevice(project)
	jwt := "Bearer " + f.goodJWT(t)
	for i, id := range []int{7, 8, 7} {
		b := alert(tok)
		n := b["payload"].(map[string]any)["notification"].(map[string]any)
		n["notifyId"], n["title"] = id, fmt.Sprint("t", i)
		if st, a, _ := f.send(t, project, jwt, "0", b); st != 200 {
			t.Fatalf("send %d: %d %+v", i, st, a)
		}
	}
	tray := f.e.Tray(tok)
	if len(tray) != 2 || tray[0].Title != "t1" || tray[1].Title != "t2" {
		t.Fatalf("tray %+v", tray)
	}
}

func TestControlAPI(t *testing.T) {
	f := setup(t)
	ctl := httptest.NewServer(f.e.ControlHandler())
	defer ctl.Close()
	resp, err := http.Post(ctl.URL+"/devices", "application/json", strings.NewReader(`{"projectID":"`+project+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	var reg struct{ Token string }
	_ = json.NewDecoder(resp.Body).Decode(&reg)
	resp.Body.Close()
	if resp.StatusCode != 201 || reg.Token == "" {
		t.Fatalf("register: %d %+v", resp.StatusCode, reg)
	}
	done := make(chan ControlDeliveries, 1)
	go func() {
		r, err := http.Get(ctl.URL + "/devices/" + reg.Token + "/deliveries?after=0&wait=5s")
		if err != nil {
			done <- ControlDeliveries{}
			return
		}
		defer r.Body.Close()
		var page ControlDeliveries
		_ = json.NewDecoder(r.Body).Decode(&page)
		done <- page
	}()
	if st, a, _ := f.send(t, project, "Bearer "+f.goodJWT(t), "0", alert(reg.Token)); st != 200 {
		t.Fatalf("send: %d %+v", st, a)
	}
	page := <-done
	if len(page.Deliveries) != 1 || page.Deliveries[0].PushType != "0" || page.Next != 1 {
		t.Fatalf("deliveries %+v", page)
	}
	req, _ := http.NewRequest(http.MethodDelete, ctl.URL+"/devices/"+reg.Token, nil)
	if r, err := http.DefaultClient.Do(req); err != nil || r.StatusCode != 204 {
		t.Fatalf("uninstall: %v %v", r, err)
	}
	if st, a, _ := f.send(t, project, "Bearer "+f.goodJWT(t), "0", alert(reg.Token)); st != 400 || a.Code != codeInvalidTokens {
		t.Fatalf("after uninstall: %d %+v", st, a)
	}
}

// TestBadgeOnTheIcon: the icon's badge follows each notification's
// badge: setNum sets it, addNum adds to it, setNum wins over addNum; a
// notification without a badge leaves it, and a phone never given one
// has none.
func TestBadgeOnTheIcon(t *testing.T) {
	f := setup(t)
	tok := f.e.RegisterDevice(project)
	jwt := "Bearer " + f.goodJWT(t)
	if _, set := f.e.Badge(tok); set {
		t.Fatal("a badge before any push")
	}
	for i, c := range []struct {
		badge map[string]any
		want  int
	}{
		{map[string]any{"setNum": 4}, 4},
		{map[string]any{"addNum": 2}, 6},
		{nil, 6},
		{map[string]any{"addNum": 1, "setNum": 1}, 1},
		{map[string]any{"setNum": 0}, 0},
	} {
		b := alert(tok)
		if c.badge != nil {
			b["payload"].(map[string]any)["notification"].(map[string]any)["badge"] = c.badge
		}
		if st, a, _ := f.send(t, project, jwt, "0", b); st != 200 {
			t.Fatalf("send %d: %d %+v", i, st, a)
		}
		if n, set := f.e.Badge(tok); !set || n != c.want {
			t.Fatalf("after push %d (badge %v): %d (set %v), want %d", i, c.badge, n, set, c.want)
		}
	}
}
