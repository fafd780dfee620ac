package vivo

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// device is an app install registered with the emulator.
type device struct {
	regID       string
	appID       string
	uninstalled bool
	test        bool // registered as a test device in the console
}

// Delivery is one accepted push.
type Delivery struct {
	AppID     string
	RegID     string
	TaskID    string
	RequestID string
	Message   Message
	// Raw is the body as sent.
	Raw      json.RawMessage
	Received time.Time
}

const regIDChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// RegisterDevice plays the vivo SDK's first registration of appID's app on
// a phone: it returns a new regId in the newer "v2-" form (54 characters,
// as observed in clients).
func (e *Emulator) RegisterDevice(appID string) string {
	b := make([]byte, 51)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = regIDChars[int(b[i])%len(regIDChars)]
	}
	id := "v2-" + string(b)
	e.mu.Lock()
	defer e.mu.Unlock()
	e.devices[id] = &device{regID: id, appID: appID}
	return id
}

// Unregister plays the app's uninstall: sends to regID get 10302 with
// invalidUser status 2 from now on.
func (e *Emulator) Unregister(regID string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if d := e.devices[regID]; d != nil {
		d.uninstalled = true
	}
}

// SetTestDevice marks regID as one of the console's test devices, which
// alone receive pushMode 1 pushes. An unknown regId is an error.
func (e *Emulator) SetTestDevice(regID string, test bool) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	d := e.devices[regID]
	if d == nil {
		return fmt.Errorf("vivo emulator: unknown regId %.12s…", regID)
	}
	d.test = test
	return nil
}

func (e *Emulator) knownDevice(regID string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.devices[regID] != nil
}

// Deliveries returns regID's accepted pushes, oldest first.
func (e *Emulator) Deliveries(regID string) []Delivery {
	return e.log.Deliveries(regID)
}

// Next returns regID's oldest push that Next has not returned yet, waiting
// for one until ctx ends or the emulator shuts down (ErrClosed).
func (e *Emulator) Next(ctx context.Context, regID string) (Delivery, error) {
	return e.log.Next(ctx, regID)
}

// FaultKind is what a Fault answers.
type FaultKind string

// The fault kinds.
const (
	FaultSlow         FaultKind = ""              // answer normally after Delay
	FaultInvalidRegID FaultKind = "invalid_regid" // 10302 with invalidUser{Status}
	FaultAuth         FaultKind = "auth"          // Config.AuthFailureCode
	FaultQuota        FaultKind = "quota"         // 10070, daily total exceeded
	FaultServerError  FaultKind = "server_error"  // HTTP 500 "Internet server error!"
	FaultCode         FaultKind = "code"          // result Code, e.g. 10040
	// FaultLostAnswer judges the send as usual (an accepted one is
	// delivered and its requestId remembered) but writes no answer until
	// the client gives up: vivo's answer lost on the way back. A retry
	// with the same requestId is then answered as the first, not
	// delivered again.
	FaultLostAnswer FaultKind = "lost_answer"
)

// Fault is a failure to play on sends, for a regId or for all of them.
type Fault struct {
	Kind FaultKind
	// Code is the result of FaultCode.
	Code int
	// Status is FaultInvalidRegID's invalidUser.status. Zero: 1.
	Status int
	// Delay holds the answer back this long (a slow vivo).
	Delay time.Duration
	// Times is how many sends the fault applies to; 0: until cleared.
	Times int
}

// SetFault plays f on sends to regID, or on every send when regID is "".
// A global slow, server-error or auth fault plays before the authToken is
// checked, as vivo's front end would; the other global faults, and every
// regId's fault, once the body is checked, so that an invalid-regId fault
// names the body's regId. It replaces the regId's previous fault.
func (e *Emulator) SetFault(regID string, f Fault) error {
	switch f.Kind {
	case FaultSlow, FaultInvalidRegID, FaultAuth, FaultQuota, FaultServerError, FaultLostAnswer:
	case FaultCode:
		if f.Code == 0 {
			return errors.New("vivo emulator: a code fault needs a non-zero code")
		}
	default:
		return fmt.Errorf("vivo emulator: unknown fault kind %q", f.Kind)
	}
	if f.Status == 0 {
		f.Status = 1
	}
	if f.Times < 0 || f.Delay < 0 || f.Status < 1 || f.Status > 4 {
		return errors.New("vivo emulator: fault parameter out of range")
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

// front reports whether a global f plays before the body is read.
func (f *Fault) front() bool {
	return f.Kind == FaultSlow || f.Kind == FaultServerError || f.Kind == FaultAuth
}

// takeFault returns the fault for key and counts one use of it.
func (e *Emulator) takeFault(key string) *Fault {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.faults.Take(key)
}

// playFault waits the fault's delay and writes its answer; false means
// carry on (a slow fault). A client that gives up or a shutdown ends the
// wait.
func (e *Emulator) playFault(w http.ResponseWriter, r *http.Request, f *Fault, regID string) bool {
	if f.Delay > 0 {
		t := time.NewTimer(f.Delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
		case <-e.life.Done():
		}
	}
	switch f.Kind {
	case FaultInvalidRegID:
		writeAnswer(w, answer{Result: CodeInvalidRegID, Desc: "regId不合法", InvalidUser: &InvalidUser{Status: f.Status, UserID: regID}})
	case FaultAuth:
		writeAnswer(w, answer{Result: e.cfg.AuthFailureCode, Desc: "权限认证失败"})
	case FaultQuota:
		writeAnswer(w, answer{Result: CodeTotalExceeded, Desc: "发送总量超出限制"})
	case FaultServerError:
		writeServerError(w)
	case FaultCode:
		writeAnswer(w, answer{Result: f.Code, Desc: "emulated fault"})
	default:
		return false
	}
	return true
}
