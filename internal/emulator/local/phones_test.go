package local

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/heraldim/herald/internal/emulator/control"
	"github.com/heraldim/herald/internal/push"
)

// phonesRig is the emulators with the phones API, and providers that push
// through the vendors' real APIs.
type phonesRig struct {
	t      *testing.T
	m      Manifest
	set    *push.ProviderSet
	client *http.Client
	sent   map[string]int // pushes sent per phone: the next seq
}

func newPhonesRig(t *testing.T) *phonesRig {
	t.Helper()
	dir := t.TempDir()
	emus, err := Start(Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emus.Close)
	m, err := LoadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	if m.Phones.URL != emus.Manifest.Phones.URL || !strings.HasPrefix(m.Phones.URL, "http://127.0.0.1:") {
		t.Fatalf("phones URL %q on disk, %q in memory", m.Phones.URL, emus.Manifest.Phones.URL)
	}
	provs, err := m.Providers()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(provs.Close)
	set := push.NewProviderSet()
	provs.Install(set, "app1")
	client := &http.Client{Transport: &http.Transport{}}
	t.Cleanup(client.CloseIdleConnections)
	return &phonesRig{t: t, m: m, set: set, client: client, sent: map[string]int{}}
}

// do calls the phones API; body is JSON-encoded unless it is a string.
func (r *phonesRig) do(method, path string, body any) (int, http.Header, []byte) {
	r.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			r.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, r.m.Phones.URL+path, rd)
	if err != nil {
		r.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := r.client.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		r.t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, raw
}

// call is do expecting status want, decoding the answer into out (when
// not nil).
func (r *phonesRig) call(method, path string, body any, want int, out any) {
	r.t.Helper()
	status, _, raw := r.do(method, path, body)
	if status != want {
		r.t.Fatalf("%s %s: %d %s, want %d", method, path, status, raw, want)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			r.t.Fatalf("%s %s: %v in %s", method, path, err, raw)
		}
	}
}

func (r *phonesRig) create(body map[string]any) PhoneInfo {
	r.t.Helper()
	var info PhoneInfo
	r.call(http.MethodPost, "/phones", body, http.StatusCreated, &info)
	return info
}

func (r *phonesRig) setState(id string, s push.AppState) {
	r.t.Helper()
	var out map[string]string
	r.call(http.MethodPut, "/phones/"+id+"/state", map[string]string{"state": string(s)}, http.StatusOK, &out)
	if out["state"] != string(s) {
		r.t.Fatalf("PUT state %s: %v", s, out)
	}
}

// events long-polls the phone's events after after.
func (r *phonesRig) events(id string, after int, wait time.Duration) control.Page[Event] {
	r.t.Helper()
	var page control.Page[Event]
	r.call(http.MethodGet, fmt.Sprintf("/phones/%s/events?after=%d&wait=%s", id, after, wait), nil, http.StatusOK, &page)
	return page
}

// send pushes one notification of kind to the phone through its vendor's
// provider and returns its seq at the emulator.
func (r *phonesRig) send(ctx context.Context, ph PhoneInfo, kind push.Kind, extra map[string]string) int {
	r.t.Helper()
	return r.sendNote(ctx, ph, push.Notification{Kind: kind, Extra: extra})
}

// sendNote is send of n, with the phone's token, a push ID, title "T",
// content "C" and payload "P" filled in.
func (r *phonesRig) sendNote(ctx context.Context, ph PhoneInfo, n push.Notification) int {
	r.t.Helper()
	env := push.Environment(ph.Environment)
	p, err := r.set.Provider(ctx, "app1", push.Vendor(ph.Vendor), env)
	if err != nil {
		r.t.Fatal(err)
	}
	r.sent[ph.PhoneID]++
	seq := r.sent[ph.PhoneID]
	n.ID, n.Token, n.Environment, n.Priority, n.Topic = fmt.Sprintf("6e1c4a52-3c39-4bd4-9a2b-%012d", seq), ph.Token,
		env, priority(n.Kind), ph.BundleID
	n.Title, n.Content, n.Payload = "T", "C", "P"
	res, err := p.Send(ctx, n)
	if err != nil || res.Outcome != push.Delivered {
		r.t.Fatalf("send %s %s: %+v %v", ph.Vendor, n.Kind, res, err)
	}
	return seq
}

// pushAndCollect sends a push of kind, then an alert (every vendor reacts
// to one in every state), and returns the phone's events for the first
// once the alert's first event is in: the watch handles a token's
// deliveries in order, so every event of the first push is in by then.
// after is the phone's event cursor.
func (r *phonesRig) pushAndCollect(ctx context.Context, ph PhoneInfo, after *int, kind push.Kind, extra map[string]string) []Event {
	r.t.Helper()
	seq := r.send(ctx, ph, kind, extra)
	marker := r.send(ctx, ph, push.KindAlert, nil)
	var got []Event
	deadline := time.Now().Add(10 * time.Second)
	for {
		page := r.events(ph.PhoneID, *after, 5*time.Second)
		*after = page.Next
		done := false
		for _, e := range page.Deliveries {
			switch e.Seq {
			case seq:
				got = append(got, e)
			case marker:
				done = true
			}
		}
		if done {
			return got
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("%s: no event of push %d (events so far %+v)", ph.PhoneID, marker, got)
		}
	}
}

func names(evs []Event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.Event)
	}
	return out
}

// TestPhonesReactions: a phone of each vendor, in each app state in turn
// (the first given at POST, the others by PUT), reacts to an alert push
// and (where the vendor has them) a data push delivered through the
// vendor's real API as the seed's callback table says, and its events
// carry the push's fields and custom data.
func TestPhonesReactions(t *testing.T) {
	r := newPhonesRig(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	const shown, arrived, through = EventNotificationDisplayed, EventNotificationArrived, EventThroughMessageReceived
	type want struct{ alert, data []string }
	fg, bg, killed := push.StateForeground, push.StateBackground, push.StateKilled
	// data: nil for a vendor without data pushes (OPPO and vivo refuse
	// them); an empty list is a data push that reaches no callback.
	none := []string{}
	for _, tc := range []struct {
		vendor string
		perms  []string
		debug  bool
		states map[push.AppState]want
	}{
		{"apns", nil, true, map[push.AppState]want{
			fg: {[]string{arrived}, none}, bg: {[]string{shown, arrived}, none}, killed: {[]string{shown, arrived}, none}}},
		{"fcm", nil, false, map[push.AppState]want{
			fg: {[]string{through}, []string{through}}, bg: {[]string{shown, through}, []string{through}},
			killed: {[]string{shown}, none}}},
		{"huawei", nil, false, map[push.AppState]want{
			fg: {[]string{shown}, none}, bg: {[]string{shown}, none}, killed: {[]string{shown}, none}}},
		{"huawei", []string{push.PermissionHuaweiHighPriorityPassThrough}, true, map[push.AppState]want{
			fg: {[]string{shown}, []string{through}}, bg: {[]string{shown}, []string{through}},
			killed: {[]string{shown}, []string{through}}}},
		{"xiaomi", nil, false, map[push.AppState]want{
			fg: {[]string{shown, arrived}, none}, bg: {[]string{shown, arrived}, none}, killed: {[]string{shown}, none}}},
		{"oppo", nil, true, map[push.AppState]want{
			fg: {[]string{shown}, nil}, bg: {[]string{shown}, nil}, killed: {[]string{shown}, nil}}},
		{"vivo", nil, false, map[push.AppState]want{
			fg: {[]string{shown}, nil}, bg: {[]string{shown}, nil}, killed: {[]string{shown}, nil}}},
		{"honor", nil, false, map[push.AppState]want{
			fg: {[]string{shown}, []string{through}}, bg: {[]string{shown}, []string{through}}, killed: {[]string{shown}, none}}},
	} {
		t.Run(fmt.Sprintf("%s%v", tc.vendor, tc.perms), func(t *testing.T) {
			r.t = t
			order := []push.AppState{bg, fg, killed, bg}
			body := map[string]any{"vendor": tc.vendor, "debug": tc.debug, "state": string(order[0])}
			if tc.perms != nil {
				body["permissions"] = tc.perms
			}
			ph := r.create(body)
			env, platform := "production", "android"
			if tc.debug {
				env = "development"
			}
			if tc.vendor == "apns" {
				platform = "ios"
			}
			if ph.PhoneID == "" || ph.Token == "" || ph.Vendor != tc.vendor || ph.Environment != env ||
				ph.Platform != platform || ph.BundleID != "im.herald.dev" || ph.State != "background" || ph.VoIPToken != "" {
				t.Fatalf("phone %+v", ph)
			}
			after := 0
			for i, st := range order {
				if i > 0 {
					r.setState(ph.PhoneID, st)
				}
				w := tc.states[st]
				extra := map[string]string{push.CallExtraKey: "call-7", push.TruncatedKey: "content", "k": "v"}
				got := r.pushAndCollect(ctx, ph, &after, push.KindAlert, extra)
				if !reflect.DeepEqual(names(got), w.alert) {
					t.Errorf("%s alert: %v, want %v", st, names(got), w.alert)
				}
				for _, e := range got {
					if e.Vendor != tc.vendor || e.Title != "T" || e.Content != "C" || e.Payload != "P" ||
						e.CallID != "call-7" || e.HeraldTruncated != "content" ||
						e.Extras["k"] != "v" || e.Extras["payload"] != "P" || e.Extras[push.CallExtraKey] != "call-7" {
						t.Errorf("%s alert event %+v", st, e)
					}
					if _, ok := e.Extras["channel_id"]; ok {
						t.Errorf("%s: the channel is not custom data: %+v", st, e)
					}
				}
				if w.data == nil {
					continue
				}
				got = r.pushAndCollect(ctx, ph, &after, push.KindData, map[string]string{"k": "v"})
				if !reflect.DeepEqual(names(got), w.data) && (len(got) != 0 || len(w.data) != 0) {
					t.Errorf("%s data: %v, want %v", st, names(got), w.data)
				}
				for _, e := range got {
					if e.Payload != "P" || e.Extras["k"] != "v" || e.CallID != "" || e.Kind == "notification" {
						t.Errorf("%s data event %+v", st, e)
					}
				}
			}
			var info PhoneInfo
			r.call(http.MethodGet, "/phones/"+ph.PhoneID, nil, http.StatusOK, &info)
			if info.State != string(order[len(order)-1]) || info.WatchError != "" || info.Token != ph.Token {
				t.Errorf("GET phone: %+v", info)
			}
		})
	}
}

// TestPhonesAPNsVoIP: an APNs phone created with voip has a PushKit token;
// a VoIP push reaches the app through PushKit in every app state (killed
// here), outside the SDK's callbacks: voipPushReceived with the call ID,
// and nothing displayed.
func TestPhonesAPNsVoIP(t *testing.T) {
	r := newPhonesRig(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ph := r.create(map[string]any{"vendor": "apns", "voip": true, "state": "killed"})
	if ph.VoIPToken == "" || ph.VoIPToken == ph.Token || ph.Environment != "production" {
		t.Fatalf("phone %+v", ph)
	}
	p, err := r.set.Provider(ctx, "app1", push.VendorAPNs, push.Production)
	if err != nil {
		t.Fatal(err)
	}
	res, err := p.Send(ctx, push.Notification{ID: "6e1c4a52-3c39-4bd4-9a2b-1f0c2d9a7b00", Token: ph.VoIPToken,
		Environment: push.Production, Kind: push.KindVoIP, Priority: push.PriorityHigh, Topic: ph.BundleID,
		Title: "T", Content: "C", Extra: map[string]string{push.CallExtraKey: "c1"}})
	if err != nil || res.Outcome != push.Delivered {
		t.Fatalf("send: %+v %v", res, err)
	}
	page := r.events(ph.PhoneID, 0, 10*time.Second)
	if len(page.Deliveries) != 1 {
		t.Fatalf("events %+v", page)
	}
	e := page.Deliveries[0]
	if e.Event != EventVoIPPushReceived || e.Kind != "voip" || e.CallID != "c1" || e.Seq != 1 || e.MessageID == "" {
		t.Errorf("event %+v", e)
	}
	// Nothing else came of it: the next event is the alert's.
	after := page.Next
	got := r.pushAndCollect(ctx, ph, &after, push.KindAlert, nil)
	if !reflect.DeepEqual(names(got), []string{EventNotificationDisplayed, EventNotificationArrived}) {
		t.Fatalf("alert: %v", names(got))
	}
	if page := r.events(ph.PhoneID, page.Next, 0); page.Deliveries[0].Kind != "alert" {
		t.Errorf("after the VoIP push: %+v", page.Deliveries)
	}
}

// TestPhonesClick: the user taps a displayed notification once; a push
// that was not displayed, an unknown seq and a bad body are refused and
// append nothing.
func TestPhonesClick(t *testing.T) {
	r := newPhonesRig(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ph := r.create(map[string]any{"vendor": "fcm"})
	after := 0
	shownEvs := r.pushAndCollect(ctx, ph, &after, push.KindAlert, map[string]string{push.CallExtraKey: "c9"})
	if len(shownEvs) == 0 || shownEvs[0].Event != EventNotificationDisplayed {
		t.Fatalf("events %+v", shownEvs)
	}
	dataEvs := r.pushAndCollect(ctx, ph, &after, push.KindData, nil)
	if len(dataEvs) != 1 || dataEvs[0].Event != EventThroughMessageReceived {
		t.Fatalf("data events %+v", dataEvs)
	}
	clicks := func() []Event {
		var out []Event
		for _, e := range r.events(ph.PhoneID, 0, 0).Deliveries {
			if e.Event == EventNotificationClicked {
				out = append(out, e)
			}
		}
		return out
	}

	for _, tc := range []struct {
		name string
		body any
		want int
	}{
		{"not displayed", map[string]int{"seq": dataEvs[0].Seq}, http.StatusNotFound},
		{"unknown seq", map[string]int{"seq": 99}, http.StatusNotFound},
		{"no seq", map[string]int{}, http.StatusBadRequest},
		{"negative seq", map[string]int{"seq": -1}, http.StatusBadRequest},
		{"unknown field", map[string]any{"seq": 1, "x": 1}, http.StatusBadRequest},
		{"not JSON", "seq=1", http.StatusBadRequest},
	} {
		status, _, raw := r.do(http.MethodPost, "/phones/"+ph.PhoneID+"/click", tc.body)
		var e map[string]string
		if status != tc.want || json.Unmarshal(raw, &e) != nil || e["error"] == "" {
			t.Errorf("%s: %d %s, want %d with an error", tc.name, status, raw, tc.want)
		}
	}
	if c := clicks(); len(c) != 0 {
		t.Fatalf("refused clicks appended %+v", c)
	}

	var clicked Event
	r.call(http.MethodPost, "/phones/"+ph.PhoneID+"/click", map[string]int{"seq": shownEvs[0].Seq}, http.StatusOK, &clicked)
	want := shownEvs[0]
	want.Event = EventNotificationClicked
	if !reflect.DeepEqual(clicked, want) || clicked.CallID != "c9" {
		t.Errorf("clicked %+v, want %+v", clicked, want)
	}
	if c := clicks(); len(c) != 1 || !reflect.DeepEqual(c[0], want) {
		t.Errorf("clicks in the events: %+v", c)
	}
	// A tapped notification leaves the tray.
	r.call(http.MethodPost, "/phones/"+ph.PhoneID+"/click", map[string]int{"seq": shownEvs[0].Seq}, http.StatusNotFound, nil)
}

// TestPhonesClickReplaced: a notification that a later one with the same
// collapse ID replaced in the vendor emulator's tray (a call's ring and its
// withdraw push) can no longer be tapped; the later one can, and so can
// one with another collapse ID.
func TestPhonesClickReplaced(t *testing.T) {
	r := newPhonesRig(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, vendor := range push.Vendors {
		t.Run(string(vendor), func(t *testing.T) {
			r.t = t
			ph := r.create(map[string]any{"vendor": string(vendor), "state": "killed"})
			ring := r.sendNote(ctx, ph, push.Notification{Kind: push.KindAlert, CollapseID: push.CallCollapseID("c1")})
			other := r.sendNote(ctx, ph, push.Notification{Kind: push.KindAlert, CollapseID: push.CallCollapseID("c2")})
			withdraw := r.sendNote(ctx, ph, push.Notification{Kind: push.KindAlert, CollapseID: push.CallCollapseID("c1")})
			after := 0
			r.pushAndCollect(ctx, ph, &after, push.KindAlert, nil) // all three are in
			click := "/phones/" + ph.PhoneID + "/click"
			r.call(http.MethodPost, click, map[string]int{"seq": ring}, http.StatusNotFound, nil)
			var e Event
			r.call(http.MethodPost, click, map[string]int{"seq": withdraw}, http.StatusOK, &e)
			if e.Event != EventNotificationClicked || e.Seq != withdraw || e.MessageID == "" {
				t.Errorf("clicked %+v", e)
			}
			r.call(http.MethodPost, click, map[string]int{"seq": other}, http.StatusOK, &e)
		})
	}
}

// TestPhonesEventsLongPoll: a long-poll waits for the next event, returns
// at once when there are some, and ends when the phone is deleted.
func TestPhonesEventsLongPoll(t *testing.T) {
	r := newPhonesRig(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ph := r.create(map[string]any{"vendor": "xiaomi", "state": "killed"})
	if status, _, raw := r.do(http.MethodGet, "/phones/"+ph.PhoneID+"/events", nil); status != http.StatusOK ||
		strings.TrimSpace(string(raw)) != `{"deliveries":[],"next":0}` {
		t.Fatalf("a new phone's events: %d %s", status, raw)
	}
	got := make(chan control.Page[Event], 1)
	go func() {
		var page control.Page[Event]
		// r.call may not t.Fatal off the test's goroutine: decode here.
		resp, err := r.client.Get(r.m.Phones.URL + "/phones/" + ph.PhoneID + "/events?wait=20s")
		if err == nil {
			_ = json.NewDecoder(resp.Body).Decode(&page)
			resp.Body.Close()
		}
		got <- page
	}()
	r.send(ctx, ph, push.KindAlert, nil)
	select {
	case page := <-got:
		if len(page.Deliveries) != 1 || page.Deliveries[0].Event != EventNotificationDisplayed || page.Next != 1 {
			t.Fatalf("long-poll: %+v", page)
		}
	case <-ctx.Done():
		t.Fatal("the long-poll did not return at the push")
	}
	if page := r.events(ph.PhoneID, 5, 0); len(page.Deliveries) != 0 || page.Next != 1 {
		t.Errorf("after past the end: %+v", page)
	}

	waiting := make(chan int, 1)
	go func() {
		resp, err := r.client.Get(r.m.Phones.URL + "/phones/" + ph.PhoneID + "/events?after=1&wait=50s")
		if err != nil {
			waiting <- 0
			return
		}
		resp.Body.Close()
		waiting <- resp.StatusCode
	}()
	r.call(http.MethodDelete, "/phones/"+ph.PhoneID, nil, http.StatusNoContent, nil)
	select {
	case status := <-waiting:
		// The long-poll either ended with the phone (200, empty) or
		// started after it was gone (404).
		if status != http.StatusOK && status != http.StatusNotFound {
			t.Errorf("long-poll at delete: %d", status)
		}
	case <-ctx.Done():
		t.Fatal("deleting the phone did not end its long-poll")
	}
}

// TestPhonesBadInput: bad bodies and parameters get a 400 with an error
// and create or change nothing; unknown phones are 404 everywhere; a
// deleted phone is forgotten.
func TestPhonesBadInput(t *testing.T) {
	r := newPhonesRig(t)
	for _, tc := range []struct {
		name string
		body any
	}{
		{"no body", nil},
		{"not JSON", "vendor=apns"},
		{"no vendor", map[string]any{}},
		{"unknown vendor", map[string]any{"vendor": "nokia"}},
		{"unknown state", map[string]any{"vendor": "apns", "state": "asleep"}},
		{"unknown permission", map[string]any{"vendor": "huawei", "permissions": []string{"root"}}},
		{"another vendor's permission", map[string]any{"vendor": "fcm", "permissions": []string{push.PermissionHuaweiHighPriorityPassThrough}}},
		{"voip on android", map[string]any{"vendor": "fcm", "voip": true}},
		{"unknown field", map[string]any{"vendor": "apns", "sandbox": true}},
		{"wrong type", map[string]any{"vendor": "apns", "debug": "yes"}},
	} {
		status, h, raw := r.do(http.MethodPost, "/phones", tc.body)
		var e map[string]string
		if status != http.StatusBadRequest || json.Unmarshal(raw, &e) != nil || e["error"] == "" ||
			h.Get("Access-Control-Allow-Origin") != "*" {
			t.Errorf("POST %s: %d %s %v", tc.name, status, raw, h)
		}
	}
	ph := r.create(map[string]any{"vendor": "vivo"})
	if ph.PhoneID != "phone-1" {
		t.Errorf("refused bodies made phones: the first is %q", ph.PhoneID)
	}
	id := "/phones/" + ph.PhoneID
	for _, tc := range []struct {
		name, method, path string
		body               any
	}{
		{"state unknown", http.MethodPut, id + "/state", map[string]string{"state": "asleep"}},
		{"state missing", http.MethodPut, id + "/state", map[string]string{}},
		{"state field", http.MethodPut, id + "/state", map[string]string{"state": "killed", "x": "y"}},
		{"state not JSON", http.MethodPut, id + "/state", "killed"},
		{"events after", http.MethodGet, id + "/events?after=-1", nil},
		{"events wait", http.MethodGet, id + "/events?wait=soon", nil},
	} {
		status, _, raw := r.do(tc.method, tc.path, tc.body)
		var e map[string]string
		if status != http.StatusBadRequest || json.Unmarshal(raw, &e) != nil || e["error"] == "" {
			t.Errorf("%s: %d %s", tc.name, status, raw)
		}
	}
	var info PhoneInfo
	r.call(http.MethodGet, id, nil, http.StatusOK, &info)
	if info.State != "background" {
		t.Errorf("refused PUTs changed the state: %+v", info)
	}

	r.call(http.MethodDelete, id, nil, http.StatusNoContent, nil)
	for _, path := range []string{id, "/phones/phone-99"} {
		for _, tc := range []struct {
			method, path string
			body         any
		}{
			{http.MethodGet, path, nil},
			{http.MethodDelete, path, nil},
			{http.MethodPut, path + "/state", map[string]string{"state": "killed"}},
			{http.MethodGet, path + "/events", nil},
			{http.MethodPost, path + "/click", map[string]int{"seq": 1}},
		} {
			status, _, raw := r.do(tc.method, tc.path, tc.body)
			var e map[string]string
			if status != http.StatusNotFound || json.Unmarshal(raw, &e) != nil || e["error"] == "" {
				t.Errorf("%s %s: %d %s, want 404", tc.method, tc.path, status, raw)
			}
		}
	}
	status, _, _ := r.do(http.MethodGet, "/nothing", nil)
	if status != http.StatusNotFound {
		t.Errorf("GET /nothing: %d", status)
	}
}

// TestPhonesCORS: every answer allows any origin, and preflights are
// answered, so that a page in a browser can use the API.
func TestPhonesCORS(t *testing.T) {
	r := newPhonesRig(t)
	ph := r.create(map[string]any{"vendor": "oppo"})
	for _, path := range []string{"/phones", "/phones/" + ph.PhoneID + "/state", "/phones/nope/click"} {
		req, err := http.NewRequest(http.MethodOptions, r.m.Phones.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Origin", "http://localhost:5173")
		req.Header.Set("Access-Control-Request-Method", http.MethodPut)
		req.Header.Set("Access-Control-Request-Headers", "content-type")
		req.Header.Set("Access-Control-Request-Private-Network", "true")
		resp, err := r.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		h := resp.Header
		if resp.StatusCode != http.StatusNoContent || h.Get("Access-Control-Allow-Origin") != "*" ||
			h.Get("Access-Control-Allow-Methods") != "GET, POST, PUT, DELETE" ||
			h.Get("Access-Control-Allow-Headers") != "Content-Type" ||
			h.Get("Access-Control-Allow-Private-Network") != "true" {
			t.Errorf("preflight %s: %d %v", path, resp.StatusCode, h)
		}
	}
	for _, tc := range []struct{ method, path string }{
		{http.MethodGet, "/phones/" + ph.PhoneID},
		{http.MethodGet, "/phones/" + ph.PhoneID + "/events"},
		{http.MethodGet, "/phones/nope"},
		{http.MethodPost, "/phones"},
	} {
		_, h, _ := r.do(tc.method, tc.path, nil)
		if h.Get("Access-Control-Allow-Origin") != "*" {
			t.Errorf("%s %s: no Access-Control-Allow-Origin: %v", tc.method, tc.path, h)
		}
	}
}

// TestPhonesClose: closing the emulators stops the phones' watches (goleak
// checks) and ends their long-polls.
func TestPhonesClose(t *testing.T) {
	dir := t.TempDir()
	emus, err := Start(Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	r := &phonesRig{t: t, m: emus.Manifest, client: &http.Client{Transport: &http.Transport{}}}
	defer r.client.CloseIdleConnections()
	ph := r.create(map[string]any{"vendor": "huawei"})
	polled := make(chan error, 1)
	go func() {
		resp, err := r.client.Get(r.m.Phones.URL + "/phones/" + ph.PhoneID + "/events?wait=50s")
		if err == nil {
			resp.Body.Close()
		}
		polled <- err
	}()
	start := time.Now()
	emus.Close()
	<-polled
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Close took %v", d)
	}
	emus.Close() // idempotent
}
