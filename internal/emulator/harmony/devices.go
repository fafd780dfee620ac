package harmony

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/heraldim/herald/internal/emulator/tray"
)

// device is an app instance registered with the emulator.
type device struct {
	projectID   string
	uninstalled bool
}

// Delivery is one accepted message for one device.
type Delivery struct {
	// RequestID is the requestId the sender was answered.
	RequestID string
	ProjectID string
	Token     string
	// PushType is the push-type header: "0", "6" or "10".
	PushType string
	// Notification is payload.notification of push-type 0 (nil otherwise).
	Notification *Notification
	// Category is the notification's category as Push Kit treats it:
	// MARKETING without the self-classification entitlement.
	Category string
	// ExtraData is payload.extraData of push-type 6 and 10.
	ExtraData *string
	Options   *PushOptions
	// Raw is the request body as sent.
	Raw      json.RawMessage
	Received time.Time
}

// RegisterDevice plays pushService.getToken() on a HarmonyOS phone: it
// returns a new push token of an app of projectID. Tokens look like
// Huawei's examples ("MAMzLg...", base64url characters); the length is
// UNCONFIRMED.
func (e *Emulator) RegisterDevice(projectID string) string {
	tok := "MAMzLg" + randomString(120)
	e.mu.Lock()
	defer e.mu.Unlock()
	e.devices[tok] = &device{projectID: projectID}
	return tok
}

// Uninstall plays the app's removal (or pushService.deleteToken()): the
// token is invalid from now on.
func (e *Emulator) Uninstall(token string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if d := e.devices[token]; d != nil {
		d.uninstalled = true
	}
}

func (e *Emulator) knownDevice(token string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.devices[token] != nil
}

// Deliveries returns the messages accepted for token, oldest first.
func (e *Emulator) Deliveries(token string) []Delivery { return e.log.Deliveries(token) }

// Next returns token's oldest delivery Next has not returned yet, waiting
// until ctx ends or the emulator shuts down (ErrClosed).
func (e *Emulator) Next(ctx context.Context, token string) (Delivery, error) {
	return e.log.Next(ctx, token)
}

// TrayItem is one notification shown in the simulated phone's
// notification centre.
type TrayItem struct {
	// NotifyID is notification.notifyId (nil when absent or -1: Push Kit
	// picks a fresh one).
	NotifyID *int
	Category string
	Title    string
	Body     string
	// Data is clickAction.data, handed to the app when the user taps.
	Data      map[string]string
	RequestID string
}

// Tray returns what the phone holding token shows, oldest first: every
// notification message (push-type 0); one with the notifyId of a shown
// one replaces it ("不同的通知消息可以拥有相同的notifyId，实现新消息覆盖旧消息功能"),
// and an accepted revoke of a notifyId (revoke.go) removes the ones shown
// before it. Background and call messages go to the app and show nothing.
func (e *Emulator) Tray(token string) []TrayItem {
	e.mu.Lock()
	ds := e.log.Snapshot(token)
	rs := append([]revocation(nil), e.revokes[token]...)
	e.mu.Unlock()
	var shown []TrayItem
	revoke := func(i int) {
		for len(rs) > 0 && rs[0].before <= i {
			id := rs[0].notifyID
			shown = slices.DeleteFunc(shown, func(it TrayItem) bool { return it.NotifyID != nil && *it.NotifyID == id })
			rs = rs[1:]
		}
	}
	for i, d := range ds {
		revoke(i)
		n := d.Notification
		if n == nil {
			continue
		}
		item := TrayItem{Category: d.Category, Title: n.Title, Body: n.Body, RequestID: d.RequestID}
		if n.ClickAction != nil {
			item.Data = n.ClickAction.Data
		}
		if n.NotifyID != nil && *n.NotifyID >= 0 {
			id := *n.NotifyID
			item.NotifyID = &id
		}
		shown = tray.Show(shown, item, func(old TrayItem) bool {
			return item.NotifyID != nil && old.NotifyID != nil && *item.NotifyID == *old.NotifyID
		})
	}
	revoke(len(ds))
	return shown
}

// FaultKind names a failure the emulator plays.
type FaultKind string

// The faults.
const (
	// FaultInvalidToken answers the token as invalid (80300007 alone,
	// 80100000 among valid tokens).
	FaultInvalidToken FaultKind = "invalid_token"
	// FaultJWTExpired answers 80200005 (HTTP 401).
	FaultJWTExpired FaultKind = "jwt_expired"
	// FaultFlowControl answers HTTP 503 with Retry-After when set.
	FaultFlowControl FaultKind = "flow_control"
	// FaultServerError answers 81000001 (HTTP 500).
	FaultServerError FaultKind = "server_error"
	// FaultSlow only delays the answer by Delay.
	FaultSlow FaultKind = "slow"
)

// Fault is a failure to play on sends, for a token or for all of them.
type Fault struct {
	Kind FaultKind
	// RetryAfter, when positive, is sent as Retry-After (whole seconds,
	// rounded up) with flow control and server errors.
	RetryAfter time.Duration
	// Delay holds the answer back this long (any kind).
	Delay time.Duration
	// Times is how many sends the fault applies to; 0: until cleared.
	Times int
}

// SetFault plays f on sends to token, or on every send when token is "".
func (e *Emulator) SetFault(token string, f Fault) error {
	switch f.Kind {
	case FaultInvalidToken, FaultJWTExpired, FaultFlowControl, FaultServerError, FaultSlow:
	default:
		return fmt.Errorf("harmony emulator: unknown fault kind %q", f.Kind)
	}
	if f.Kind == FaultInvalidToken && token == "" {
		return errors.New("harmony emulator: invalid_token needs a token")
	}
	if f.Times < 0 || f.Delay < 0 || f.RetryAfter < 0 {
		return errors.New("harmony emulator: negative fault parameter")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.faults.Set(token, f, f.Times)
	return nil
}

// ClearFaults removes every fault.
func (e *Emulator) ClearFaults() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.faults.Clear()
}

func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)[:n]
}

// Badge returns the number the app icon of the phone holding token shows,
// and whether any notification set one: each notification message's
// notification.badge, in order, sets it to setNum or raises it by addNum;
// "setNum优先级高于addNum" (HarmonyOS SDK, "多样化消息通知样式", the Push
// Kit guide push-send-alert, section 通知角标).
func (e *Emulator) Badge(token string) (int, bool) {
	n, set := 0, false
	for _, d := range e.Deliveries(token) {
		if d.Notification == nil || d.Notification.Badge == nil {
			continue
		}
		switch b := d.Notification.Badge; {
		case b.SetNum != nil:
			n, set = *b.SetNum, true
		case b.AddNum != nil:
			n, set = n+*b.AddNum, true
		}
	}
	return n, set
}
