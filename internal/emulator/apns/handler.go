package apns

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxBodyRead bounds how much of a body is read: far above any APNs limit,
// so an oversized body is still seen as oversized (413), but a runaway
// client cannot fill memory.
const maxBodyRead = 1 << 20

// handle answers one request on env's listener. The order of the checks is
// the package documentation's.
func (e *Emulator) handle(env Environment, w http.ResponseWriter, r *http.Request) {
	now := e.now()
	rec := Request{Time: now, Environment: env, Method: r.Method, Path: r.URL.Path}
	// APNs echoes a valid apns-id and makes one up otherwise.
	rec.APNSID = newUUID()
	if ids := r.Header.Values("apns-id"); len(ids) == 1 && isCanonicalUUID(ids[0]) {
		rec.APNSID = ids[0]
	}
	fail := func(status int, reason string) {
		e.answer(w, &rec, status, reason, time.Time{})
	}

	if r.Method != http.MethodPost {
		fail(http.StatusMethodNotAllowed, "MethodNotAllowed")
		return
	}
	token, ok := strings.CutPrefix(r.URL.Path, "/3/device/")
	switch {
	case !ok && r.URL.Path == "/3/device":
		fail(http.StatusBadRequest, "MissingDeviceToken")
		return
	case !ok || strings.Contains(token, "/"):
		fail(http.StatusNotFound, "BadPath")
		return
	case token == "":
		fail(http.StatusBadRequest, "MissingDeviceToken")
		return
	}
	rec.Token = token

	for name, vals := range r.Header {
		lname := strings.ToLower(name)
		if (strings.HasPrefix(lname, "apns-") || lname == "authorization") && len(vals) > 1 {
			fail(http.StatusBadRequest, "DuplicateHeaders")
			return
		}
	}

	body, err := io.ReadAll(io.LimitReader(r.Body, maxBodyRead+1))
	if err != nil {
		return // the client went away mid-body: nobody to answer
	}

	if !e.park(r) {
		return // closed while held
	}
	if d := e.delayFor(token); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		case <-e.done:
			t.Stop()
			return
		}
		now = e.now()
		rec.Time = now
	}

	if f, ok := e.faultFor(token, FaultInternalError, FaultUnavailable, FaultShutdown); ok {
		setRetryAfter(w, f.RetryAfter)
		switch f.Kind {
		case FaultInternalError:
			fail(http.StatusInternalServerError, "InternalServerError")
		case FaultUnavailable:
			fail(http.StatusServiceUnavailable, "ServiceUnavailable")
		default:
			fail(http.StatusServiceUnavailable, "Shutdown")
		}
		return
	}

	var peer []byte
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		peer = r.TLS.PeerCertificates[0].Raw
	}
	authz := r.Header.Get("Authorization")
	if scheme, tok, ok := strings.Cut(authz, " "); ok && strings.EqualFold(scheme, "bearer") {
		rec.ProviderToken = tok
	}
	cred, status, reason := e.authenticate(env, authz, peer, now)
	if cred == nil {
		fail(status, reason)
		return
	}
	rec.TeamID, rec.KeyID = cred.teamID, cred.keyID

	pushType := r.Header.Get("apns-push-type")
	if pushType == "" {
		if !e.cfg.AllowMissingPushType {
			fail(http.StatusBadRequest, "InvalidPushType")
			return
		}
		pushType = "alert"
	}
	if _, known := topicSuffix[pushType]; !known {
		fail(http.StatusBadRequest, "InvalidPushType")
		return
	}

	topic := r.Header.Get("apns-topic")
	if topic == "" {
		// Only a single-topic certificate implies the topic.
		if cred.cert == nil || cred.cert.single == "" {
			fail(http.StatusBadRequest, "MissingTopic")
			return
		}
		topic = cred.cert.single
	}
	if !isBundleLike(topic) {
		fail(http.StatusBadRequest, "BadTopic")
		return
	}
	if !e.topicAllowed(cred, topic) {
		fail(http.StatusBadRequest, "TopicDisallowed")
		return
	}
	if pushType != "mdm" {
		want := ""
		if topicSuffix[pushType] != "" {
			want = pushType
		}
		if _, got := splitTopic(topic); got != want {
			// A voip push needs the .voip topic and the .voip topic takes
			// only voip pushes (likewise for the other suffixes). Apple
			// does not document the reason for this mismatch.
			fail(http.StatusBadRequest, "InvalidPushType")
			return
		}
	}

	priority := 10 // APNs' default
	if v := r.Header.Get("apns-priority"); v != "" {
		switch v {
		case "10", "5", "1":
			priority, _ = strconv.Atoi(v)
		default:
			fail(http.StatusBadRequest, "BadPriority")
			return
		}
	}
	if pushType == "background" && priority != 5 {
		fail(http.StatusBadRequest, "BadPriority") // Apple: background pushes must use 5
		return
	}

	var expiration time.Time
	hasExpiration := false
	if v, present := header1(r.Header, "apns-expiration"); present {
		secs, ok := parseEpoch(v)
		if !ok {
			fail(http.StatusBadRequest, "BadExpirationDate")
			return
		}
		expiration, hasExpiration = time.Unix(secs, 0), true
	}
	if len(r.Header.Get("apns-collapse-id")) > 64 {
		fail(http.StatusBadRequest, "BadCollapseId")
		return
	}
	if v, present := header1(r.Header, "apns-id"); present && !isCanonicalUUID(v) {
		fail(http.StatusBadRequest, "BadMessageId")
		return
	}

	if !isHexEven(token) {
		fail(http.StatusBadRequest, "BadDeviceToken")
		return
	}

	limit := e.cfg.MaxPayload
	if pushType == "voip" {
		limit = e.cfg.MaxVoIPPayload
	}
	if len(body) == 0 {
		fail(http.StatusBadRequest, "PayloadEmpty")
		return
	}
	if len(body) > limit {
		fail(http.StatusRequestEntityTooLarge, "PayloadTooLarge")
		return
	}
	var payload map[string]any
	if json.Unmarshal(body, &payload) != nil || payload == nil {
		// Apple documents no reason for a body that is not a JSON object;
		// this one is the emulator's.
		fail(http.StatusBadRequest, "BadPayload")
		return
	}
	aps, ok := payload["aps"].(map[string]any)
	if !ok {
		fail(http.StatusBadRequest, "BadPayload")
		return
	}
	if b, has := aps["badge"]; has {
		// aps.badge is a number, the icon's count (0 removes it): Apple,
		// "Generating a remote notification", payload key reference.
		if n, isNum := b.(float64); !isNum || n < 0 || n != float64(int64(n)) {
			fail(http.StatusBadRequest, "BadPayload")
			return
		}
	}

	e.mu.Lock()
	dev := e.devices[strings.ToLower(token)]
	var devTopic string
	var gone time.Time
	if dev != nil {
		devTopic, gone = dev.topic(), dev.unregistered
	}
	e.mu.Unlock()
	switch {
	case dev == nil || dev.env != env:
		// Unknown here: never issued, or issued by the other environment.
		fail(http.StatusBadRequest, "BadDeviceToken")
		return
	case devTopic != topic:
		fail(http.StatusBadRequest, "DeviceTokenNotForTopic")
		return
	case !gone.IsZero():
		e.answer(w, &rec, http.StatusGone, "Unregistered", gone)
		return
	}

	if f, ok := e.faultFor(token, FaultThrottled, FaultUnregistered); ok {
		if f.Kind == FaultUnregistered {
			e.answer(w, &rec, http.StatusGone, "Unregistered", now)
			return
		}
		setRetryAfter(w, f.RetryAfter)
		fail(http.StatusTooManyRequests, "TooManyRequests")
		return
	}

	hdr := r.Header.Clone()
	hdr.Del("Authorization")
	d := Delivery{
		Token:       token,
		Environment: env,
		Received:    now,
		Topic:       topic,
		PushType:    pushType,
		Priority:    priority,
		APNSID:      rec.APNSID,
		CollapseID:  r.Header.Get("apns-collapse-id"),
		Header:      hdr,
		Payload:     payload,
		Body:        body,
		TeamID:      cred.teamID,
	}
	if hasExpiration {
		d.Expiration = expiration
		// 0 means "try once now": the emulated device is online, so it
		// is delivered. A past date means APNs accepts and discards it.
		if expiration.Unix() != 0 && expiration.Unix() < now.Unix() {
			d.Dropped, d.DropReason = true, "expired"
		}
	}
	e.record(d)
	e.holdAnswer(r, token)
	if env == Development {
		// Apple adds it in the development environment only, for the Push
		// Notifications Console's delivery log.
		w.Header().Set("apns-unique-id", newUUID())
	}
	e.answer(w, &rec, http.StatusOK, "", time.Time{})
}

// answer writes APNs' answer and logs the request. Errors carry
// {"reason": ...}; a 410 also "timestamp", in milliseconds since the epoch
// (the last time the token was confirmed invalid).
func (e *Emulator) answer(w http.ResponseWriter, rec *Request, status int, reason string, gone time.Time) {
	rec.Status, rec.Reason = status, reason
	e.logRequest(*rec)
	w.Header().Set("apns-id", rec.APNSID)
	if status == http.StatusOK {
		w.WriteHeader(status)
		return
	}
	body := map[string]any{"reason": reason}
	if status == http.StatusGone {
		body["timestamp"] = gone.UnixMilli()
	}
	b, _ := json.Marshal(body)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}

func setRetryAfter(w http.ResponseWriter, d time.Duration) {
	if d <= 0 {
		return
	}
	secs := int64((d + time.Second - 1) / time.Second)
	w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
}

// header1 returns a header's only value and whether it is present (even
// empty).
func header1(h http.Header, name string) (string, bool) {
	v, ok := h[http.CanonicalHeaderKey(name)]
	if !ok || len(v) == 0 {
		return "", false
	}
	return v[0], true
}

// parseEpoch reads apns-expiration: decimal digits only (no sign, no
// fraction), at most 19 of them.
func parseEpoch(v string) (int64, bool) {
	if v == "" || len(v) > 19 {
		return 0, false
	}
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	return n, err == nil
}

// isCanonicalUUID reports whether s is 8-4-4-4-12 lowercase hex, the form
// Apple calls canonical for apns-id.
func isCanonicalUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		c := s[i]
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if c != '-' {
				return false
			}
			continue
		}
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// isHexEven reports whether s is an even number of hex digits (either
// case): the device token syntax APNs accepts. Length is not fixed: Apple
// says tokens may grow.
func isHexEven(s string) bool {
	if len(s)%2 != 0 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// isBundleLike reports whether s could be a topic: a reverse-DNS-ish run of
// letters, digits, '.', '-' and '_' (MDM topics use a UID with dots).
func isBundleLike(s string) bool {
	if s == "" || strings.HasPrefix(s, ".") || strings.HasSuffix(s, ".") || strings.Contains(s, "..") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '.' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// newUUID returns a random (version 4) UUID in canonical form.
func newUUID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
