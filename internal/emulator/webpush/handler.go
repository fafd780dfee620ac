package webpush

import (
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// refuse answers a refused push: status and a text saying why.
func refuse(w http.ResponseWriter, status int, format string, args ...any) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = fmt.Fprintf(w, format, args...)
}

func (e *Emulator) handlePush(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		refuse(w, http.StatusMethodNotAllowed, "POST a push message")
		return
	}
	id := r.PathValue("id")
	body, err := io.ReadAll(io.LimitReader(r.Body, int64(e.cfg.MaxPayload)+1))
	if err != nil {
		refuse(w, http.StatusBadRequest, "reading the body: %v", err)
		return
	}
	e.mu.Lock()
	e.stats.Requests++
	f := e.takeFault(id)
	s := e.subs[id]
	var key []byte
	gone := false
	if s != nil {
		key, gone = s.key, s.gone
	}
	e.mu.Unlock()
	switch {
	case f != nil:
		if f.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(f.RetryAfter))
		}
		refuse(w, f.Status, "fault")
		return
	case s == nil:
		refuse(w, http.StatusNotFound, "no such subscription")
		return
	case gone:
		refuse(w, http.StatusGone, "the subscription has expired or was unsubscribed")
		return
	}
	if status, why := e.checkVAPID(r.Header.Get("Authorization"), key); status != 0 {
		if status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", "vapid")
		}
		refuse(w, status, "%s", why)
		return
	}
	ttl, err := parseTTL(r.Header.Values("TTL"))
	if err != nil {
		refuse(w, http.StatusBadRequest, "TTL: %v", err)
		return
	}
	urgency := r.Header.Get("Urgency")
	switch urgency {
	case "", "very-low", "low", "normal", "high":
	default:
		refuse(w, http.StatusBadRequest, "Urgency %q: want very-low, low, normal or high", urgency)
		return
	}
	topic := r.Header.Get("Topic")
	if _, present := r.Header["Topic"]; present && !validTopic(topic) {
		refuse(w, http.StatusBadRequest, "Topic must be 1 to 32 characters of the base64url alphabet")
		return
	}
	if ce := r.Header.Get("Content-Encoding"); ce != "aes128gcm" {
		refuse(w, http.StatusBadRequest, "Content-Encoding %q: want aes128gcm", ce)
		return
	}
	if len(body) > e.cfg.MaxPayload {
		refuse(w, http.StatusRequestEntityTooLarge, "the body is over %d bytes", e.cfg.MaxPayload)
		return
	}
	if err := checkRecord(body); err != nil {
		refuse(w, http.StatusBadRequest, "aes128gcm body: %v", err)
		return
	}
	m := &Message{ID: randomID(), TTL: ttl, Urgency: urgency, Topic: topic, Received: e.now(), Body: body}
	e.mu.Lock()
	if topic != "" {
		kept := s.pending[:0]
		for _, old := range s.pending {
			if old.Topic == topic {
				e.stats.Replaced++
				continue
			}
			kept = append(kept, old)
		}
		s.pending = kept
	}
	s.pending = append(s.pending, m)
	if e.connected(s) {
		e.deliver(s)
	}
	e.stats.Accepted++
	e.signal()
	e.mu.Unlock()
	w.Header().Set("Location", e.URL()+"/message/"+m.ID)
	w.Header().Set("TTL", strconv.Itoa(ttl))
	w.WriteHeader(http.StatusCreated)
}

// parseTTL reads the TTL header: exactly one non-negative integer.
func parseTTL(vals []string) (int, error) {
	if len(vals) != 1 {
		return 0, errors.New("exactly one TTL header is required (RFC 8030 §5.2)")
	}
	v := strings.TrimSpace(vals[0])
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil || n < 0 || strings.HasPrefix(v, "+") {
		return 0, fmt.Errorf("%q is not a non-negative number of seconds", vals[0])
	}
	return int(n), nil
}

func validTopic(t string) bool {
	if t == "" || len(t) > 32 {
		return false
	}
	for _, c := range t {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// checkRecord checks the framing of a single-record aes128gcm body (RFC
// 8188 §2): salt(16) rs(4) idlen(1) keyid(idlen), then the record, which
// must fit in rs and hold at least a padding delimiter and the tag.
func checkRecord(b []byte) error {
	const minHeader = 16 + 4 + 1
	if len(b) < minHeader {
		return errors.New("shorter than its header")
	}
	rs := binary.BigEndian.Uint32(b[16:20])
	idlen := int(b[20])
	if rs < 18 {
		return fmt.Errorf("rs %d under 18", rs)
	}
	if idlen != 65 {
		return fmt.Errorf("keyid of %d bytes: Web Push puts the server's 65-byte public key there (RFC 8291 §4)", idlen)
	}
	if len(b) < minHeader+idlen {
		return errors.New("shorter than its keyid")
	}
	if _, err := ecdh.P256().NewPublicKey(b[minHeader : minHeader+idlen]); err != nil {
		return errors.New("keyid is not a P-256 point")
	}
	record := len(b) - minHeader - idlen
	if record < 17 {
		return errors.New("the record is shorter than a tag and a delimiter")
	}
	if uint32(record) > rs {
		return fmt.Errorf("a record of %d bytes over rs %d: Web Push allows one record", record, rs)
	}
	return nil
}

// checkVAPID checks an Authorization header against the subscription's
// key (steps 3 to 5 of the package comment): 0 when it passes, else the
// status to answer and why.
func (e *Emulator) checkVAPID(h string, subKey []byte) (int, string) {
	scheme, params, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "vapid") {
		return http.StatusUnauthorized, "Authorization: the vapid scheme is required (RFC 8292 §3)"
	}
	var t, k string
	for _, p := range strings.Split(params, ",") {
		name, val, _ := strings.Cut(strings.TrimSpace(p), "=")
		switch strings.ToLower(name) {
		case "t":
			t = val
		case "k":
			k = val
		}
	}
	if t == "" || k == "" {
		return http.StatusUnauthorized, "Authorization: vapid needs t and k"
	}
	key, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(k, "="))
	if err != nil || len(key) != 65 {
		return http.StatusUnauthorized, "k is not a base64url P-256 public key"
	}
	if string(key) != string(subKey) {
		return http.StatusForbidden, "k is not the key this subscription was made with (RFC 8292 §4)"
	}
	parts := strings.Split(t, ".")
	if len(parts) != 3 {
		return http.StatusForbidden, "t is not a JWS compact serialization"
	}
	var header struct {
		Alg string `json:"alg"`
		Typ string `json:"typ"`
	}
	if err := decodePart(parts[0], &header); err != nil || header.Alg != "ES256" || (header.Typ != "" && header.Typ != "JWT") {
		return http.StatusForbidden, "JWT header: want alg ES256"
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || len(sig) != 64 {
		return http.StatusForbidden, "JWT signature: want 64 bytes of r||s"
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), key)
	if err != nil {
		return http.StatusUnauthorized, "k is not a P-256 public key"
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if !ecdsa.Verify(pub, digest[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
		return http.StatusForbidden, "JWT signature does not verify with k"
	}
	var claims struct {
		Aud any    `json:"aud"`
		Exp any    `json:"exp"`
		Sub string `json:"sub"`
	}
	if err := decodePart(parts[1], &claims); err != nil {
		return http.StatusForbidden, "JWT claims unreadable"
	}
	if aud, _ := claims.Aud.(string); aud != e.URL() {
		return http.StatusForbidden, fmt.Sprintf("JWT aud %v: want this push service's origin %s", claims.Aud, e.URL())
	}
	expF, ok := claims.Exp.(float64)
	if !ok {
		return http.StatusForbidden, "JWT exp is required (RFC 8292 §2)"
	}
	exp := time.Unix(int64(expF), 0)
	now := e.now()
	if !exp.After(now) {
		return http.StatusForbidden, "JWT expired"
	}
	if exp.Sub(now) > MaxJWTLifetime {
		return http.StatusForbidden, "JWT exp more than 24 hours ahead (RFC 8292 §2)"
	}
	if !validSubject(claims.Sub) {
		return http.StatusForbidden, "JWT sub must be a mailto: or https: URI (RFC 8292 §2.1)"
	}
	return 0, ""
}

func decodePart(s string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

func validSubject(s string) bool {
	u, err := url.Parse(s)
	if err != nil {
		return false
	}
	return u.Scheme == "mailto" && strings.Contains(u.Opaque, "@") || u.Scheme == "https" && u.Host != ""
}
