// Package push holds the vendor-neutral side of offline push: what one
// notification to one device says, and what a vendor's answer means. Each
// vendor package (push/apns, push/fcm, ...) turns a
// Notification into its vendor's request and the vendor's answer into a
// Result, so that the dispatcher decides on neutral outcomes only.
package push

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Vendor names a push service.
type Vendor string

// The supported vendors.
const (
	VendorAPNs   Vendor = "apns"
	VendorFCM    Vendor = "fcm"
	VendorHuawei Vendor = "huawei"
	VendorXiaomi Vendor = "xiaomi"
	VendorOPPO   Vendor = "oppo"
	VendorVivo   Vendor = "vivo"
	// VendorHarmony is HarmonyOS NEXT (5 and later) Push Kit, REST API v3
	// (internal/push/harmony); Huawei's v1 API (VendorHuawei) reaches
	// only Android and HarmonyOS 4 and earlier.
	VendorHarmony Vendor = "harmony"
	VendorHonor   Vendor = "honor"
	// VendorWebPush is browsers' Web Push (RFC 8030, 8291, 8292); its
	// device token is a WebSubscription.
	VendorWebPush Vendor = "webpush"
)

// Environment is where a device's token is valid. Only APNs distinguishes
// them on the wire (sandbox and production hosts); for the others it keeps
// debug builds' devices apart from release builds'.
type Environment string

// The environments.
const (
	Production  Environment = "production"
	Development Environment = "development"
)

// Kind says how a notification is presented.
type Kind string

// The kinds of notification.
const (
	// KindAlert is shown to the user by the phone's system.
	KindAlert Kind = "alert"
	// KindData is handed to the app without being shown (APNs background
	// push, FCM/Huawei data message, Xiaomi pass-through).
	KindData Kind = "data"
	// KindVoIP wakes the app for an incoming call (APNs PushKit; Huawei data
	// message of the VoIP category).
	KindVoIP Kind = "voip"
)

// Priority is the delivery urgency.
type Priority string

// The priorities.
const (
	PriorityHigh   Priority = "high"   // deliver now, wake the device (APNs 10, FCM HIGH)
	PriorityNormal Priority = "normal" // may be delayed to save power (APNs 5, FCM NORMAL)
)

// Notification is one push to one device, vendor-neutral.
type Notification struct {
	// ID identifies this push: the push job's ID (APNs apns-id when it is a
	// UUID; the idempotency key where a vendor has one).
	ID string
	// Token is the device's vendor token (for KindVoIP on APNs: the VoIP
	// token).
	Token       string
	Environment Environment
	Kind        Kind
	Priority    Priority
	// Topic is the app's bundle ID (iOS) or package name (Android); APNs
	// VoIP pushes go to Topic + ".voip".
	Topic string

	Title   string
	Content string
	// Payload is handed to the app as custom data (never shown).
	Payload string
	// Badge sets the app icon's badge when not nil.
	Badge *int
	// Sound is the iOS sound name ("default" when empty for alerts).
	Sound string
	// Category is the iOS notification category.
	Category string
	// ChannelID is the Android notification channel.
	ChannelID string
	// CollapseID lets a newer push replace an older one: not yet
	// delivered (the vendor keeps the newest) or already shown (the phone
	// replaces the notification). Each vendor maps it to its replace key:
	// APNs apns-collapse-id, FCM collapse_key and notification tag, Huawei
	// tag and notify_id, Xiaomi, OPPO and vivo their integer notify id
	// (NumericCollapseID), HarmonyOS notifyId, Honor notifyId and tag,
	// Web Push Topic and tag. At most 64 bytes (APNs' limit).
	CollapseID string
	// Expiration is when the push becomes worthless: the vendor must not
	// deliver it later (APNs apns-expiration, FCM ttl, ...). Zero: the
	// vendor's default storage time.
	Expiration time.Time
	// Extra holds further custom key/values for the app.
	Extra map[string]string
}

// CallCollapseID is the replace key (Notification.CollapseID) of every
// push of call callID: its ring and the push that withdraws it (cancel,
// answer elsewhere, timeout) share it, so that the withdraw replaces the
// ring in the vendor's storage and in the phone's tray. It is stable and
// at most 64 bytes: "call-" and the call ID, or a hash of a longer ID.
func CallCollapseID(callID string) string {
	const prefix = "call-"
	if len(prefix)+len(callID) <= 64 {
		return prefix + callID
	}
	sum := sha256.Sum256([]byte(callID))
	return prefix + hex.EncodeToString(sum[:20])
}

// NumericCollapseID is the integer form of a collapse ID for the vendors
// whose replace key is a notification ID (Huawei notify_id, Xiaomi
// notify_id, OPPO notify_id, vivo notifyId): the ID itself when it is a
// non-negative int32, else a 31-bit FNV-1a hash of it. The same collapse
// ID always gives the same number.
func NumericCollapseID(s string) int {
	if v, err := strconv.ParseInt(s, 10, 32); err == nil && v >= 0 {
		return int(v)
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(s))
	return int(h.Sum32() & 0x7fffffff)
}

// Outcome is what the dispatcher should do after a vendor answered.
type Outcome int

// The outcomes.
const (
	// Delivered: the vendor accepted the push.
	Delivered Outcome = iota + 1
	// Retry: a passing fault (throttling, server error, network): try again
	// after Result.RetryAfter (or the dispatcher's backoff when zero).
	Retry
	// DropDevice: the token is unregistered or invalid: remove the device,
	// never retry.
	DropDevice
	// AuthFailed: the vendor refused the credential (expired provider token,
	// revoked key). Refresh the credential and retry once; if it fails again
	// the credential is failing.
	AuthFailed
	// QuotaExhausted: the vendor's quota is used up until Result.Until.
	QuotaExhausted
	// Rejected: the request itself is wrong (bad topic, payload too large,
	// missing field): never retried as is; a configuration alert.
	Rejected
	// Deferred: the vendor refuses the credential for a while, whatever
	// the push (APNs 429 TooManyProviderTokenUpdates, or 403
	// ExpiredProviderToken before the provider made a new token). Every
	// push of the app through this vendor and environment waits until
	// Result.Until (zero: retry at once with the refreshed credential);
	// it is never counted as one of the job's attempts.
	Deferred
)

var outcomeNames = map[Outcome]string{
	Delivered: "delivered", Retry: "retry", DropDevice: "drop_device",
	AuthFailed: "auth_failed", QuotaExhausted: "quota_exhausted", Rejected: "rejected",
	Deferred: "deferred",
}

// String returns the outcome's metric label.
func (o Outcome) String() string {
	if n, ok := outcomeNames[o]; ok {
		return n
	}
	return fmt.Sprintf("outcome(%d)", int(o))
}

// Result is a vendor's answer to one push, translated.
type Result struct {
	Outcome Outcome
	// Status is the HTTP status of the vendor's answer (0 if none came).
	Status int
	// Reason is the vendor's own reason or code, for the delivery trace.
	Reason string
	// VendorID is the vendor's ID of the accepted push (apns-id, FCM message
	// name), when it gives one.
	VendorID string
	// RetryAfter is how long the vendor asked to wait (Retry-After), for
	// Retry.
	RetryAfter time.Duration
	// Until is when a QuotaExhausted quota resets, or when a Deferred
	// credential can work again.
	Until time.Time
}

// Errors a provider returns before or instead of talking to its vendor.
var (
	// ErrPayloadTooLarge: the encoded push exceeds the vendor's limit; it was
	// not sent.
	ErrPayloadTooLarge = errors.New("push: payload too large")
	// ErrExpired: the notification's expiration has passed; it was not sent.
	ErrExpired = errors.New("push: notification expired")
	// ErrInvalidNotification: a required field is missing or invalid for
	// this vendor (e.g. an empty token or topic); it was not sent.
	ErrInvalidNotification = errors.New("push: invalid notification")
	// ErrCredential: the credential cannot be used (key does not parse,
	// certificate expired, service account without a private key).
	ErrCredential = errors.New("push: invalid credential")
)

// Provider sends pushes through one vendor with one credential. Send makes
// one attempt: retries, backoff and device removal are the dispatcher's.
// It returns an error (wrapping one of the errors above, or a network
// error) only when it got no answer to translate; a vendor's refusal is a
// Result. Implementations are safe for concurrent use and reuse their
// connections.
type Provider interface {
	Send(ctx context.Context, n Notification) (Result, error)
}

// Checker is implemented by providers that can prove their credential with
// a real authentication round trip without sending a push.
type Checker interface {
	Check(ctx context.Context) error
}

// ParseRetryAfter reads a Retry-After header value: delay seconds or an
// HTTP date (RFC 9110 §10.2.3). Zero when empty, unreadable or past.
func ParseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
