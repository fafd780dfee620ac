// Package webpush sends pushes to browsers: Web Push as RFC 8030 (the
// protocol), RFC 8291 (message encryption) and RFC 8292 (VAPID) define it,
// with nothing but the standard library and golang-jwt: the module proxy
// serves no well-kept Go Web Push library in this project's package list,
// and crypto/ecdh, crypto/hkdf and AES-GCM do the encryption in a page.
//
// # Credential
//
// An app's credential is a VAPID key pair (RFC 8292 §3: ECDSA P-256) and
// a subject, a mailto: or https: URI where the push service can reach
// the app's operator. The public key is the applicationServerKey a page
// passes to pushManager.subscribe; a browser's subscription is bound to
// it, so replacing the key orphans every subscription.
//
// # What a notification becomes
//
// The device token is the browser's subscription (push.WebSubscription).
// One POST to its endpoint (RFC 8030 §5) with:
//
//	Authorization     vapid t=<JWT>, k=<public key> (RFC 8292 §3); the JWT
//	                  is ES256 with aud = the endpoint's origin, exp 12 h
//	                  ahead (at most 24 h, §2), sub = the subject; one per
//	                  origin is cached and reused until an hour before exp
//	TTL               seconds until Expiration, rounded down (RFC 8030
//	                  §5.2; required); DefaultTTL for a zero Expiration
//	Urgency           high for PriorityHigh, normal otherwise (§5.3)
//	Topic             for a CollapseID (§5.4): the ID itself when it is at
//	                  most 32 characters of base64url, else the first 32
//	                  characters of the base64url SHA-256 of it; a newer
//	                  push with the same Topic replaces one still pending
//	Content-Encoding  aes128gcm, Content-Type application/octet-stream
//	body              the message JSON below, encrypted for the
//	                  subscription's p256dh key and auth secret (RFC 8291)
//	                  in one record of at most 4096 bytes
//
// The message JSON, which Herald's service worker (sdk/ts) reads:
//
//	{"id": ID, "title": Title, "content": Content, "payload": Payload,
//	 "tag": CollapseID, "badge": Badge, "extras": Extra + {"push_id": ID}}
//
// (empty fields omitted). extras is the custom data the service worker
// hands the pages (ZPNsMessage.extras), as the other vendors' data
// objects: it holds ID under push.ReceiptExtraKey, which receipts name,
// so Extra may not use that key (push.ErrInvalidNotification). The
// service worker shows title and content with tag as the notification's
// tag, so a newer notification with the same CollapseID (a message's
// withdraw, a call's cancel) replaces the one shown. Web Push has no
// badge of its own: badge is for the service worker's
// navigator.setAppBadge (the W3C Badging API), where the browser has it.
//
// Web Push carries what the service worker must show: KindData and
// KindVoIP are refused with push.ErrInvalidNotification before anything is
// sent (pushManager.subscribe's userVisibleOnly: true promises a
// notification for every push). Environment, Sound, Category and
// ChannelID mean nothing to browsers and are ignored.
//
// Limits checked before sending: the message JSON at most MaxPlaintext
// (3993) bytes, else push.ErrPayloadTooLarge (Fit cuts a notification to
// it first). An unreadable token is push.ErrInvalidNotification, a past
// Expiration push.ErrExpired.
//
// # How the push service's answer is translated
//
//	answer                                 outcome
//	201 Created (200, 202 too)             Delivered, VendorID = Location
//	404 Not Found, 410 Gone                DropDevice: the subscription expired or
//	                                         the user unsubscribed (RFC 8030 §6.2, §7.3)
//	401, 403                               AuthFailed: VAPID refused (RFC 8292 §4);
//	                                         the cached JWT is dropped
//	413 Payload Too Large                  Rejected (RFC 8030 §7.2)
//	429 Too Many Requests                  Retry after Retry-After (RFC 8030 §8.4)
//	5xx                                    Retry (Retry-After honoured)
//	other                                  Rejected
//	no answer (network, timeout, cancel)   error, no Result
//
// Sources: RFC 8030 "Generic Event Delivery Using HTTP Push", RFC 8291
// "Message Encryption for Web Push", RFC 8292 "Voluntary Application
// Server Identification (VAPID) for Web Push" (rfc-editor.org), the W3C
// Push API for the subscription's JSON.
package webpush

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/heraldim/herald/internal/push"
)

// Defaults and limits.
const (
	// DefaultTTL is how long a push service keeps a push without an
	// Expiration: 4 weeks, the longest the major push services keep one.
	DefaultTTL = 28 * 24 * time.Hour
	// DefaultTimeout bounds one POST: 15 s, as for the other vendors.
	DefaultTimeout = 15 * time.Second
	// JWTLifetime is the VAPID JWT's exp from its signing: 12 h, half of
	// RFC 8292 §2's 24 h limit, so that a clock off by hours still passes.
	JWTLifetime = 12 * time.Hour
	// jwtMargin is how long before exp a cached JWT is replaced.
	jwtMargin = time.Hour
	// MaxTopicLen is RFC 8030 §5.4's limit on Topic.
	MaxTopicLen = 32
)

// Config configures a Provider.
type Config struct {
	// PrivateKey is the VAPID private key: the 32-byte P-256 scalar, in
	// base64url (the web-push libraries' "privateKey"). Required.
	PrivateKey string
	// Subject is the JWT's sub: a mailto: or https: URI (RFC 8292 §2.1).
	// Required.
	Subject string
	// HTTPClient carries the pushes. Zero: a client of the Provider's own
	// (TLS 1.2+, RootCAs), whose idle connections Close releases.
	HTTPClient *http.Client
	// RootCAs is the trust for the Provider's own client. Zero: the
	// system roots (the push services' certificates are public).
	RootCAs *x509.CertPool
	// Timeout bounds one POST. Zero: DefaultTimeout.
	Timeout time.Duration
	// Now is the clock for TTLs and JWTs. Zero: time.Now.
	Now func() time.Time
}

// Provider sends pushes to browsers for one app's VAPID key. It is safe
// for concurrent use.
type Provider struct {
	cfg       Config
	key       *ecdsa.PrivateKey
	publicKey string // base64url, uncompressed
	client    *http.Client
	ownClient bool
	now       func() time.Time

	mu   sync.Mutex
	jwts map[string]cachedJWT // by audience (the endpoint's origin)
}

type cachedJWT struct {
	token string
	exp   time.Time
}

var (
	_ push.Provider = (*Provider)(nil)
	_ push.Fitter   = (*Provider)(nil)
)

func credentialError(format string, args ...any) error {
	return fmt.Errorf("webpush: credential: %s: %w", fmt.Sprintf(format, args...), push.ErrCredential)
}

// GenerateKey makes a VAPID key pair: the private key as Config.PrivateKey
// takes it and the public key (base64url, uncompressed point) browsers take
// as applicationServerKey.
func GenerateKey() (privateKey, publicKey string, err error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", fmt.Errorf("webpush: generating a VAPID key: %w", err)
	}
	raw, err := k.Bytes()
	if err != nil {
		return "", "", fmt.Errorf("webpush: generating a VAPID key: %w", err)
	}
	pub, err := k.PublicKey.Bytes()
	if err != nil {
		return "", "", fmt.Errorf("webpush: generating a VAPID key: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(raw), base64.RawURLEncoding.EncodeToString(pub), nil
}

// PublicKeyOf returns the public key (base64url, uncompressed) of a
// private key as Config.PrivateKey takes it. Errors wrap
// push.ErrCredential and never contain the key.
func PublicKeyOf(privateKey string) (string, error) {
	k, err := parsePrivateKey(privateKey)
	if err != nil {
		return "", err
	}
	pub, err := k.PublicKey.Bytes()
	if err != nil {
		return "", credentialError("privateKey has no public key")
	}
	return base64.RawURLEncoding.EncodeToString(pub), nil
}

func parsePrivateKey(s string) (*ecdsa.PrivateKey, error) {
	if strings.TrimSpace(s) == "" {
		return nil, credentialError("privateKey is missing")
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(strings.TrimSpace(s), "="))
	if err != nil || len(raw) != 32 {
		return nil, credentialError("privateKey must be a 32-byte P-256 private key in base64url")
	}
	k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), raw)
	if err != nil {
		return nil, credentialError("privateKey is not a P-256 private key")
	}
	return k, nil
}

// ValidSubject reports whether s is a VAPID subject: a mailto: URI with an
// address or an absolute https: URL (RFC 8292 §2.1), at most 1024 bytes.
func ValidSubject(s string) bool {
	if len(s) > 1024 {
		return false
	}
	u, err := url.Parse(s)
	if err != nil {
		return false
	}
	switch u.Scheme {
	case "mailto":
		return strings.Contains(u.Opaque, "@")
	case "https":
		return u.Host != ""
	}
	return false
}

// New checks cfg and returns a Provider. A missing or malformed key or
// subject is an error wrapping push.ErrCredential whose text never
// contains the key. New makes no network call and starts no goroutine.
func New(cfg Config) (*Provider, error) {
	k, err := parsePrivateKey(cfg.PrivateKey)
	if err != nil {
		return nil, err
	}
	if !ValidSubject(cfg.Subject) {
		return nil, credentialError("subject must be a mailto: address or an https: URL")
	}
	pub, err := k.PublicKey.Bytes()
	if err != nil {
		return nil, credentialError("privateKey has no public key")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	p := &Provider{cfg: cfg, key: k, publicKey: base64.RawURLEncoding.EncodeToString(pub),
		client: cfg.HTTPClient, now: cfg.Now, jwts: map[string]cachedJWT{}}
	if p.client == nil {
		p.client = push.HTTPClient(cfg.RootCAs)
		p.ownClient = true
	}
	if p.now == nil {
		p.now = time.Now
	}
	return p, nil
}

// PublicKey is the VAPID public key: the applicationServerKey of the app's
// pages (base64url of the uncompressed point).
func (p *Provider) PublicKey() string { return p.publicKey }

// Close releases the idle connections of the Provider's own client. The
// Provider stays usable.
func (p *Provider) Close() {
	if p.ownClient {
		p.client.CloseIdleConnections()
	}
}

// message is the push's plaintext (see the package comment).
type message struct {
	ID      string            `json:"id,omitempty"`
	Title   string            `json:"title,omitempty"`
	Content string            `json:"content,omitempty"`
	Payload string            `json:"payload,omitempty"`
	Tag     string            `json:"tag,omitempty"`
	Badge   *int              `json:"badge,omitempty"`
	Extras  map[string]string `json:"extras,omitempty"`
}

// plaintext checks n and returns its message JSON.
func plaintext(n push.Notification) ([]byte, error) {
	if n.Kind != push.KindAlert && n.Kind != "" {
		return nil, fmt.Errorf("webpush: %s pushes: browsers show every push: %w", n.Kind, push.ErrInvalidNotification)
	}
	var extras map[string]string
	if len(n.Extra) > 0 || n.ID != "" {
		extras = make(map[string]string, len(n.Extra)+1)
		for k, v := range n.Extra {
			if k == push.ReceiptExtraKey {
				return nil, fmt.Errorf("webpush: extra key %q is Herald's: %w", k, push.ErrInvalidNotification)
			}
			extras[k] = v
		}
		if n.ID != "" {
			extras[push.ReceiptExtraKey] = n.ID
		}
	}
	b, err := json.Marshal(message{ID: n.ID, Title: n.Title, Content: n.Content, Payload: n.Payload,
		Tag: n.CollapseID, Badge: n.Badge, Extras: extras})
	if err != nil {
		return nil, fmt.Errorf("webpush: encoding: %w", err)
	}
	if len(b) > MaxPlaintext {
		return nil, fmt.Errorf("webpush: message of %d bytes over %d: %w", len(b), MaxPlaintext, push.ErrPayloadTooLarge)
	}
	return b, nil
}

// Fit cuts n to MaxPlaintext bytes of message JSON. See push.FitTo.
func (p *Provider) Fit(n push.Notification) (push.Notification, []string) {
	return push.FitTo(n, push.Limits{
		Vendor: push.VendorWebPush,
		Fits: func(m push.Notification) bool {
			_, err := plaintext(m)
			return !errors.Is(err, push.ErrPayloadTooLarge)
		},
		MaxBytes: MaxPlaintext,
		Overhead: 160,
	})
}

// Topic is the Topic header of a collapse ID: the ID when it is at most
// 32 base64url characters, else 32 characters of the base64url SHA-256
// of it.
func Topic(collapseID string) string {
	if len(collapseID) <= MaxTopicLen && isBase64URL(collapseID) {
		return collapseID
	}
	sum := sha256.Sum256([]byte(collapseID))
	return base64.RawURLEncoding.EncodeToString(sum[:])[:MaxTopicLen]
}

func isBase64URL(s string) bool {
	for _, r := range s {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return s != ""
}

// Send makes one attempt to deliver n to the browser of its subscription;
// see the package comment.
func (p *Provider) Send(ctx context.Context, n push.Notification) (push.Result, error) {
	sub, err := push.ParseWebSubscription(n.Token)
	if err != nil {
		return push.Result{}, fmt.Errorf("webpush: token: %v: %w", err, push.ErrInvalidNotification)
	}
	now := p.now()
	ttl := DefaultTTL
	if !n.Expiration.IsZero() {
		if ttl = n.Expiration.Sub(now); ttl < time.Second {
			return push.Result{}, fmt.Errorf("webpush: %w", push.ErrExpired)
		}
	}
	plain, err := plaintext(n)
	if err != nil {
		return push.Result{}, err
	}
	body, err := Encrypt(plain, sub.P256DH, sub.Auth)
	if err != nil {
		return push.Result{}, fmt.Errorf("webpush: encrypting: %w", err)
	}
	u, _ := url.Parse(sub.Endpoint) // ParseWebSubscription parsed it
	aud := u.Scheme + "://" + u.Host
	tok, err := p.vapidJWT(aud, now)
	if err != nil {
		return push.Result{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, sub.Endpoint, bytes.NewReader(body))
	if err != nil {
		return push.Result{}, fmt.Errorf("webpush: request: %w", err)
	}
	req.Header.Set("Authorization", "vapid t="+tok+", k="+p.publicKey)
	req.Header.Set("TTL", strconv.FormatInt(int64(ttl/time.Second), 10))
	req.Header.Set("Content-Encoding", "aes128gcm")
	req.Header.Set("Content-Type", "application/octet-stream")
	urgency := "normal"
	if n.Priority == push.PriorityHigh {
		urgency = "high"
	}
	req.Header.Set("Urgency", urgency)
	if n.CollapseID != "" {
		req.Header.Set("Topic", Topic(n.CollapseID))
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return push.Result{}, fmt.Errorf("webpush: send: %w", err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	r := p.translate(resp, raw)
	if r.Outcome == push.AuthFailed {
		p.mu.Lock()
		delete(p.jwts, aud)
		p.mu.Unlock()
	}
	return r, nil
}

// vapidJWT returns the VAPID JWT for aud, cached until jwtMargin before
// its exp.
func (p *Provider) vapidJWT(aud string, now time.Time) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c, ok := p.jwts[aud]; ok && now.Add(jwtMargin).Before(c.exp) {
		return c.token, nil
	}
	exp := now.Add(JWTLifetime)
	t := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{"aud": aud, "exp": exp.Unix(), "sub": p.cfg.Subject})
	s, err := t.SignedString(p.key)
	if err != nil {
		return "", fmt.Errorf("webpush: signing the VAPID JWT: %w", err)
	}
	p.jwts[aud] = cachedJWT{token: s, exp: time.Unix(exp.Unix(), 0)}
	return s, nil
}

// translate turns the push service's answer into a Result (see the
// package comment's table).
func (p *Provider) translate(resp *http.Response, raw []byte) push.Result {
	st := resp.StatusCode
	r := push.Result{Status: st, Reason: "HTTP " + strconv.Itoa(st)}
	if s := snippet(raw); s != "" {
		r.Reason += ": " + s
	}
	switch {
	case st == http.StatusCreated || st == http.StatusOK || st == http.StatusAccepted:
		r.Outcome, r.VendorID = push.Delivered, resp.Header.Get("Location")
	case st == http.StatusNotFound || st == http.StatusGone:
		r.Outcome = push.DropDevice
	case st == http.StatusUnauthorized || st == http.StatusForbidden:
		r.Outcome = push.AuthFailed
	case st == http.StatusTooManyRequests || st >= 500:
		r.Outcome = push.Retry
		r.RetryAfter = push.ParseRetryAfter(resp.Header.Get("Retry-After"), p.now())
	default: // 400, 413 and the rest
		r.Outcome = push.Rejected
	}
	return r
}

// snippet is the start of an answer body, for a Reason.
func snippet(raw []byte) string {
	s := strings.TrimSpace(string(raw))
	if len(s) > 128 {
		s = strings.ToValidUTF8(s[:128], "") + "…"
	}
	return s
}
