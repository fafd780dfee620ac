package local

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sync"

	"github.com/heraldim/herald/internal/emulator/tray"
)

// Browser is a simulated browser's push side for one site: the
// subscription it made with the Web Push emulator (through its control
// API), the subscription's private ECDH key and auth secret, which only
// the browser holds, and its notification tray. It decrypts each push
// (RFC 8291) and shows it as the site's service worker does
// (registration.showNotification with the message's title, content and
// tag: a notification with the tag of one shown replaces it; a message
// with a badge sets the app's badge, navigator.setAppBadge). Its methods
// are safe for concurrent use.
type Browser struct {
	// ID and Endpoint are the subscription's.
	ID       string
	Endpoint string

	control string
	client  *http.Client
	key     *ecdh.PrivateKey
	auth    []byte

	mu    sync.Mutex
	tray  []WebNotification
	badge *int
}

// WebNotification is a push as the browser decrypted and showed it: the
// message JSON of Herald's service worker.
type WebNotification struct {
	// Seq is the push's number at the push service, per subscription.
	Seq int `json:"seq"`
	// MessageID is the push service's ID of the push (its Location).
	MessageID string            `json:"messageID"`
	ID        string            `json:"id,omitempty"`
	Title     string            `json:"title,omitempty"`
	Content   string            `json:"content,omitempty"`
	Payload   string            `json:"payload,omitempty"`
	Tag       string            `json:"tag,omitempty"`
	Badge     *int              `json:"badge,omitempty"`
	Extras    map[string]string `json:"extras,omitempty"`
	// Topic and Urgency are the push's headers as the push service got
	// them.
	Topic   string `json:"topic,omitempty"`
	Urgency string `json:"urgency,omitempty"`
}

// SubscribeBrowser plays pushManager.subscribe({userVisibleOnly: true,
// applicationServerKey}) in a browser whose push service is the Web Push
// emulator with control API controlURL: it makes the subscription's ECDH
// key pair and auth secret and has the push service make the
// subscription. client nil: http.DefaultClient.
func SubscribeBrowser(ctx context.Context, controlURL, applicationServerKey string, client *http.Client) (*Browser, error) {
	if client == nil {
		client = http.DefaultClient
	}
	key, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("local: browser key: %w", err)
	}
	auth := make([]byte, 16)
	if _, err := rand.Read(auth); err != nil {
		return nil, fmt.Errorf("local: browser auth secret: %w", err)
	}
	b := &Browser{control: controlURL, client: client, key: key, auth: auth}
	body, _ := json.Marshal(map[string]string{"applicationServerKey": applicationServerKey})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, controlURL+"/subscriptions", bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("local: subscribe: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	var out struct {
		ID       string `json:"id"`
		Endpoint string `json:"endpoint"`
	}
	d := &Device{client: client}
	if err := d.do(req, http.StatusCreated, &out); err != nil {
		return nil, fmt.Errorf("local: subscribe with the webpush emulator: %w", err)
	}
	b.ID, b.Endpoint = out.ID, out.Endpoint
	return b, nil
}

// Token is the subscription's JSON as PushSubscription.toJSON() gives it:
// the page's device token for vendor webpush.
func (b *Browser) Token() string {
	t, _ := json.Marshal(map[string]any{"endpoint": b.Endpoint, "expirationTime": nil, "keys": map[string]string{
		"p256dh": base64.RawURLEncoding.EncodeToString(b.key.PublicKey().Bytes()),
		"auth":   base64.RawURLEncoding.EncodeToString(b.auth)}})
	return string(t)
}

// Unsubscribe ends the subscription at the push service (the page's
// subscription.unsubscribe(), or the user revoking the permission).
func (b *Browser) Unsubscribe(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, b.control+"/subscriptions/"+url.PathEscape(b.ID), nil)
	if err != nil {
		return fmt.Errorf("local: unsubscribe: %w", err)
	}
	resp, err := b.client.Do(req)
	if err != nil {
		return fmt.Errorf("local: unsubscribe: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("local: unsubscribe: control API answered %d", resp.StatusCode)
	}
	return nil
}

// Tray returns the notifications shown, oldest first.
func (b *Browser) Tray() []WebNotification {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.tray)
}

// Badge returns the app badge the service worker set (the last shown
// message's badge, as navigator.setAppBadge of the W3C Badging API sets
// it), and whether one was set.
func (b *Browser) Badge() (int, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.badge == nil {
		return 0, false
	}
	return *b.badge, true
}

// Receive connects the browser to the push service and waits up to
// pollWait for pushes after the first after: each is decrypted and
// shown. It returns them and the count to pass as the next call's after.
// A push that does not decrypt is an error (the sender's encryption is
// wrong).
func (b *Browser) Receive(ctx context.Context, after int) ([]WebNotification, int, error) {
	u := fmt.Sprintf("%s/subscriptions/%s/deliveries?after=%d&wait=%s", b.control, url.PathEscape(b.ID), after, pollWait)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, after, err
	}
	var page struct {
		Deliveries []struct {
			Seq     int    `json:"seq"`
			ID      string `json:"id"`
			Urgency string `json:"urgency"`
			Topic   string `json:"topic"`
			Body    string `json:"body"`
		} `json:"deliveries"`
		Next int `json:"next"`
	}
	d := &Device{client: b.client}
	if err := d.do(req, http.StatusOK, &page); err != nil {
		return nil, after, fmt.Errorf("local: browser: %w", err)
	}
	var out []WebNotification
	for _, m := range page.Deliveries {
		body, err := base64.RawURLEncoding.DecodeString(m.Body)
		if err != nil {
			return out, after, fmt.Errorf("local: browser: push %d: body: %w", m.Seq, err)
		}
		plain, err := b.decrypt(body)
		if err != nil {
			return out, after, fmt.Errorf("local: browser: push %d: %w", m.Seq, err)
		}
		n := WebNotification{Seq: m.Seq, MessageID: m.ID, Topic: m.Topic, Urgency: m.Urgency}
		if err := json.Unmarshal(plain, &n); err != nil {
			return out, after, fmt.Errorf("local: browser: push %d is not the service worker's JSON: %w", m.Seq, err)
		}
		n.Seq, n.MessageID = m.Seq, m.ID
		b.mu.Lock()
		b.tray = tray.Show(b.tray, n, func(old WebNotification) bool { return n.Tag != "" && old.Tag == n.Tag })
		if n.Badge != nil {
			v := *n.Badge
			b.badge = &v
		}
		b.mu.Unlock()
		out = append(out, n)
		after = m.Seq
	}
	return out, max(after, page.Next), nil
}

// decrypt opens an aes128gcm body of one record as the browser does (RFC
// 8188 §2, RFC 8291 §3.4): the server's public key is the header's keyid,
// and the keys are derived from ECDH(our key, theirs) and our auth
// secret.
func (b *Browser) decrypt(body []byte) ([]byte, error) {
	if len(body) < 21 {
		return nil, errors.New("aes128gcm: no header")
	}
	salt, idlen := body[:16], int(body[20])
	rs := binary.BigEndian.Uint32(body[16:20])
	if len(body) < 21+idlen {
		return nil, errors.New("aes128gcm: short keyid")
	}
	server, err := ecdh.P256().NewPublicKey(body[21 : 21+idlen])
	if err != nil {
		return nil, fmt.Errorf("aes128gcm: keyid: %w", err)
	}
	record := body[21+idlen:]
	if uint32(len(record)) > rs {
		return nil, errors.New("aes128gcm: more than one record")
	}
	shared, err := b.key.ECDH(server)
	if err != nil {
		return nil, fmt.Errorf("ECDH: %w", err)
	}
	ua := b.key.PublicKey().Bytes()
	prkKey, err := hkdf.Extract(sha256.New, shared, b.auth)
	if err != nil {
		return nil, err
	}
	info := append(append([]byte("WebPush: info\x00"), ua...), server.Bytes()...)
	ikm, err := hkdf.Expand(sha256.New, prkKey, string(info), 32)
	if err != nil {
		return nil, err
	}
	prk, err := hkdf.Extract(sha256.New, ikm, salt)
	if err != nil {
		return nil, err
	}
	cek, err := hkdf.Expand(sha256.New, prk, "Content-Encoding: aes128gcm\x00", 16)
	if err != nil {
		return nil, err
	}
	nonce, err := hkdf.Expand(sha256.New, prk, "Content-Encoding: nonce\x00", 12)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(cek)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	plain, err := gcm.Open(nil, nonce, record, nil)
	if err != nil {
		return nil, fmt.Errorf("aes128gcm: the record does not decrypt with this subscription's keys: %w", err)
	}
	// Padding: zeros after the delimiter, which is 2 in the last record.
	i := len(plain) - 1
	for i >= 0 && plain[i] == 0 {
		i--
	}
	if i < 0 || plain[i] != 2 {
		return nil, errors.New("aes128gcm: the record has no last-record delimiter")
	}
	return plain[:i], nil
}
