package xiaomi

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/url"
	"time"
)

// device is an app install registered with the emulator.
type device struct {
	regID        string
	packageName  string
	unregistered bool
}

// Delivery is one message accepted for one regId.
type Delivery struct {
	// MsgID is the message ID the sender was given (data.id).
	MsgID       string
	RegID       string
	PackageName string
	// PassThrough is true for pass-through (透传) messages.
	PassThrough bool
	Title       string
	Description string
	Payload     string
	// NotifyType, NotifyID and TTLMillis are the form's values ("" when
	// absent).
	NotifyType string
	NotifyID   string
	TTLMillis  string
	// ChannelID is extra.channel_id.
	ChannelID string
	// Extra holds the extra.* fields, without the prefix (channel_id
	// included).
	Extra map[string]string
	// Form is the whole request's parameters as received.
	Form url.Values
	// Received is when the emulator accepted the message.
	Received time.Time
}

// RegisterDevice plays the MiPush SDK's registration in an app: it returns
// a new regId for packageName, shaped like MiPush's (base64, 88 chars;
// the real format is UNCONFIRMED).
func (e *Emulator) RegisterDevice(packageName string) string {
	b := make([]byte, 64)
	_, _ = rand.Read(b)
	id := base64.StdEncoding.EncodeToString(b)
	e.mu.Lock()
	defer e.mu.Unlock()
	e.devices[id] = &device{regID: id, packageName: packageName}
	return id
}

// Unregister plays the app's uninstall: sends to regID list it in
// data.bad_regids from now on.
func (e *Emulator) Unregister(regID string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if d := e.devices[regID]; d != nil {
		d.unregistered = true
	}
}

// knownDevice tells whether regID was registered (even if since
// unregistered).
func (e *Emulator) knownDevice(regID string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.devices[regID] != nil
}

// Deliveries returns every message accepted for regID, oldest first.
func (e *Emulator) Deliveries(regID string) []Delivery {
	return e.log.Deliveries(regID)
}

// Next returns regID's oldest record that Next has not returned yet,
// waiting for one until ctx ends or the emulator shuts down (ErrClosed).
func (e *Emulator) Next(ctx context.Context, regID string) (Delivery, error) {
	return e.log.Next(ctx, regID)
}

// FaultKind is a failure the emulator plays on demand.
type FaultKind string

// The faults.
const (
	// FaultSlow only delays the answer by Fault.Delay.
	FaultSlow FaultKind = "slow"
	// FaultInvalidRegID lists the regId in data.bad_regids (or answers
	// 20301 when it was the only target). Only for a regId's fault.
	FaultInvalidRegID FaultKind = "invalid_regid"
	// FaultAuth answers 21301, authentication failed.
	FaultAuth FaultKind = "auth"
	// FaultTooFrequent answers 10027, API called too frequently.
	FaultTooFrequent FaultKind = "too_frequent"
	// FaultDailyQuota answers 10034, too many messages today.
	FaultDailyQuota FaultKind = "daily_quota"
	// FaultServerError answers 1, internal error.
	FaultServerError FaultKind = "server_error"
)

// Fault is a failure to play on sends, for a regId or for all of them.
type Fault struct {
	Kind FaultKind
	// Delay holds the answer back this long (any kind).
	Delay time.Duration
	// Times is how many sends the fault applies to; 0: until cleared.
	Times int
}

// SetFault plays f on sends to regID, or on every send when regID is ""
// (checked right after authentication). It replaces regID's previous
// fault.
func (e *Emulator) SetFault(regID string, f Fault) error {
	switch f.Kind {
	case FaultSlow, FaultAuth, FaultTooFrequent, FaultDailyQuota, FaultServerError:
	case FaultInvalidRegID:
		if regID == "" {
			return fmt.Errorf("xiaomi emulator: fault %q needs a regid", f.Kind)
		}
	default:
		return fmt.Errorf("xiaomi emulator: unknown fault kind %q", f.Kind)
	}
	if f.Times < 0 || f.Delay < 0 {
		return fmt.Errorf("xiaomi emulator: negative fault parameter")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.faults.Set(regID, f, f.Times)
	return nil
}

// ClearFaults removes every fault.
func (e *Emulator) ClearFaults() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.faults.Clear()
}

// takeFault returns the fault for key and counts one use of it.
func (e *Emulator) takeFault(key string) *Fault {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.faults.Take(key)
}
