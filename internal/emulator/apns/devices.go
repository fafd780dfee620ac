package apns

import (
	"crypto/rand"
	"encoding/hex"
	"strings"
	"time"
)

// device is a simulated phone's registration of one app.
type device struct {
	bundle       string
	env          Environment
	voip         bool
	unregistered time.Time // zero while registered
	// badge is the number on the app's icon (nil: none shown yet).
	badge *int
}

// topic is the apns-topic the device's token belongs to.
func (d *device) topic() string {
	if d.voip {
		return d.bundle + ".voip"
	}
	return d.bundle
}

// DeviceInfo describes a registered device token.
type DeviceInfo struct {
	BundleID    string      // the app the token was issued to
	Environment Environment // where the token is valid
	// VoIP is true for a PushKit token (topic BundleID + ".voip"), which is
	// distinct from the same app's regular token.
	VoIP bool
	// Unregistered is when the token was unregistered; zero while it is
	// registered.
	Unregistered time.Time
	// Badge is the number the app's icon shows, as the last delivered
	// notification with aps.badge set it (0 removes it); nil before any.
	Badge *int
}

// RegisterDevice registers an app on a simulated device, as iOS does when
// the app asks for remote notifications (voip false) or registers with
// PushKit (voip true), and returns the new device token: 32 random bytes,
// 64 lowercase hex digits, valid only in env and only for bundleID's topic
// (bundleID + ".voip" for VoIP).
func (e *Emulator) RegisterDevice(bundleID string, env Environment, voip bool) string {
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	token := hex.EncodeToString(raw[:])
	e.mu.Lock()
	e.devices[token] = &device{bundle: bundleID, env: env, voip: voip}
	e.mu.Unlock()
	return token
}

// Unregister marks token unregistered now (the app was deleted or push
// was turned off): APNs answers 410 Unregistered with this time as the
// timestamp from then on. It reports whether the token was known.
func (e *Emulator) Unregister(token string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	d := e.devices[strings.ToLower(token)]
	if d == nil {
		return false
	}
	if d.unregistered.IsZero() {
		d.unregistered = e.now()
	}
	return true
}

// Device describes a registered token.
func (e *Emulator) Device(token string) (DeviceInfo, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	d := e.devices[strings.ToLower(token)]
	if d == nil {
		return DeviceInfo{}, false
	}
	info := DeviceInfo{BundleID: d.bundle, Environment: d.env, VoIP: d.voip, Unregistered: d.unregistered}
	if d.badge != nil {
		b := *d.badge
		info.Badge = &b
	}
	return info, true
}

// showBadge sets the icon badge of key's device from delivered d, as iOS
// does: aps.badge is "the number to display in a badge on your app's
// icon. Specify 0 to remove the current badge, if any" (Apple, "Generating
// a remote notification", payload key reference). Without the key the
// badge stays as it was. Called with e.mu held.
func (e *Emulator) showBadge(key string, d Delivery) {
	dev := e.devices[key]
	if dev == nil {
		return
	}
	n, ok := d.Aps()["badge"].(float64)
	if !ok || n < 0 || n != float64(int(n)) {
		return
	}
	b := int(n)
	dev.badge = &b
}

// FaultKind is a failure the emulator injects.
type FaultKind int

// The faults.
const (
	// FaultSlow only delays the answer by Fault.Delay.
	FaultSlow FaultKind = iota + 1
	// FaultThrottled answers 429 TooManyRequests (APNs: too many requests
	// to the same device token), with Retry-After when Fault.RetryAfter is
	// set (APNs does not document that it sends one).
	FaultThrottled
	// FaultInternalError answers 500 InternalServerError.
	FaultInternalError
	// FaultUnavailable answers 503 ServiceUnavailable.
	FaultUnavailable
	// FaultShutdown answers 503 Shutdown (the server is going away).
	FaultShutdown
	// FaultUnregistered answers 410 Unregistered with the current time as
	// timestamp, without changing the device's state (Unregister does).
	FaultUnregistered
)

// Fault is an injected failure.
type Fault struct {
	Kind FaultKind // what happens
	// RetryAfter, when positive, is sent as a Retry-After header (whole
	// seconds, rounded up) with 429 and 5xx faults.
	RetryAfter time.Duration
	// Delay holds the answer back this long, for any kind (a slow APNs).
	Delay time.Duration
	// Times is how many requests the fault affects before it clears
	// itself; zero: until ClearFault.
	Times int
}

// InjectFault makes requests to token fail with f, replacing its previous
// fault; token "" sets the global fault, which applies to every token
// without one of its own. 500/503 faults answer before the credential is
// checked (a failing server checks nothing); 429 and 410 faults answer
// after the request was found valid.
func (e *Emulator) InjectFault(token string, f Fault) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.faults[strings.ToLower(token)] = &f
}

// ClearFault removes token's fault ("" for the global one).
func (e *Emulator) ClearFault(token string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.faults, strings.ToLower(token))
}

// faultFor returns the fault that applies to token, if any of the kinds
// given, and counts its use.
func (e *Emulator) faultFor(token string, kinds ...FaultKind) (Fault, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	key := strings.ToLower(token)
	f := e.faults[key]
	if f == nil {
		key = ""
		f = e.faults[""]
	}
	if f == nil {
		return Fault{}, false
	}
	for _, k := range kinds {
		if f.Kind == k {
			got := *f
			if f.Times > 0 {
				f.Times--
				if f.Times == 0 {
					delete(e.faults, key)
				}
			}
			return got, true
		}
	}
	return Fault{}, false
}

// delayFor returns the delay token's fault asks for (without counting a
// use: the fault's own kind is counted when it answers; a FaultSlow is
// counted here).
func (e *Emulator) delayFor(token string) time.Duration {
	e.mu.Lock()
	f := e.faults[strings.ToLower(token)]
	if f == nil {
		f = e.faults[""]
	}
	var d time.Duration
	slow := false
	if f != nil {
		d, slow = f.Delay, f.Kind == FaultSlow
	}
	e.mu.Unlock()
	if slow {
		e.faultFor(token, FaultSlow)
	}
	return d
}
