package honor

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// device is an app instance registered with the emulator.
type device struct {
	appID        string
	unregistered bool
}

// Delivery is one accepted message for one device.
type Delivery struct {
	// RequestID is the data.requestId the sender was answered.
	RequestID string
	AppID     string
	Token     string
	// Message is the decoded body.
	Message Message
	// Raw is the body as sent.
	Raw json.RawMessage
	// Received is when the emulator accepted the message.
	Received time.Time
}

// Pass reports whether the delivery is a pass-through (透传) message:
// data and no notification.
func (d Delivery) Pass() bool {
	return d.Message.Notification == nil && (d.Message.Android == nil || d.Message.Android.Notification == nil)
}

// RegisterDevice plays the Honor push SDK's getPushToken on a phone: it
// returns a new token of appID (which need not be registered yet). The
// tokens' form is UNCONFIRMED: "BAEAAAAAB" and 90 characters of
// [A-Za-z0-9_-].
func (e *Emulator) RegisterDevice(appID string) string {
	tok := "BAEAAAAAB" + randomString(90)
	e.mu.Lock()
	defer e.mu.Unlock()
	e.devices[tok] = &device{appID: appID}
	return tok
}

// Unregister plays the app's uninstall: the token is expired from now on
// (data.expireTokens).
func (e *Emulator) Unregister(token string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if d := e.devices[token]; d != nil {
		d.unregistered = true
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

// FaultKind names a failure the emulator plays.
type FaultKind string

// The faults.
const (
	// FaultInvalidToken answers the token as expired (data.expireTokens).
	FaultInvalidToken FaultKind = "invalid_token"
	// FaultAuthExpired answers 80200003 (HTTP 401).
	FaultAuthExpired FaultKind = "auth_expired"
	// FaultFlowControl answers HTTP 503 with Retry-After when set.
	FaultFlowControl FaultKind = "flow_control"
	// FaultDailyQuota answers Config.QuotaCode (UNCONFIRMED code).
	FaultDailyQuota FaultKind = "daily_quota"
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
// It replaces the token's previous fault.
func (e *Emulator) SetFault(token string, f Fault) error {
	switch f.Kind {
	case FaultInvalidToken, FaultAuthExpired, FaultFlowControl, FaultDailyQuota, FaultServerError, FaultSlow:
	default:
		return fmt.Errorf("honor emulator: unknown fault kind %q", f.Kind)
	}
	if f.Kind == FaultInvalidToken && token == "" {
		return errors.New("honor emulator: invalid_token needs a token")
	}
	if f.Times < 0 || f.Delay < 0 || f.RetryAfter < 0 {
		return errors.New("honor emulator: negative fault parameter")
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
