package oppo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	mathrand "math/rand/v2"
	"net/http"
	"regexp"
	"strconv"
	"time"
)

// App is an application registered with OPPO PUSH.
type App struct {
	// AppID is shown in message IDs. Zero: a number is made up.
	AppID string
	// AppKey and MasterSecret are the credentials for /server/v1/auth.
	AppKey       string
	MasterSecret string
	// PackageName is the Android package; RegisterDevice accepts it in
	// place of the app key.
	PackageName string
	// Channels are the notification channel IDs the app declared; when
	// not empty, a channel_id that is not one of them is refused (67). An
	// absent channel_id (OPPO's default public channel) is always
	// accepted.
	Channels []string
}

// regIDPattern is the registration ID format: [<brand>_][<region>_]<32
// hex> (forms other than CN UNCONFIRMED).
var regIDPattern = regexp.MustCompile(`^([A-Z]+_)?([A-Z]{2}_)?[0-9a-f]{32}$`)

// device is an app instance registered with the emulator.
type device struct {
	regID        string
	appKey       string
	unregistered bool
}

// Delivery is one accepted unicast message.
type Delivery struct {
	// MessageID is the messageId the sender was given.
	MessageID string
	AppKey    string
	RegID     string
	// Notification is the decoded notification object.
	Notification Notification
	// Raw is the "message" JSON string as sent.
	Raw json.RawMessage
	// Received is when the emulator accepted the message.
	Received time.Time
}

// Notification is the notification object of an accepted message, as
// the emulator read it.
type Notification struct {
	Title                string `json:"title"`
	SubTitle             string `json:"sub_title,omitempty"`
	Content              string `json:"content"`
	ClickActionType      int    `json:"click_action_type"`
	ClickActionActivity  string `json:"click_action_activity,omitempty"`
	ClickActionURL       string `json:"click_action_url,omitempty"`
	ActionParameters     string `json:"action_parameters,omitempty"`
	ChannelID            string `json:"channel_id,omitempty"`
	Category             string `json:"category,omitempty"`
	NotifyLevel          int    `json:"notify_level,omitempty"`
	PrivateMsgTemplateID string `json:"private_msg_template_id,omitempty"`
	AppMessageID         string `json:"app_message_id,omitempty"`
	NotifyID             int    `json:"notify_id,omitempty"`
	// OffLine is off_line, true when absent (OPPO's default).
	OffLine bool `json:"off_line"`
	// OffLineTTL is off_line_ttl in seconds, 0 when absent.
	OffLineTTL int `json:"off_line_ttl,omitempty"`
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// AddApp registers app. AppKey and MasterSecret are required; an app key
// already registered is replaced.
func (e *Emulator) AddApp(app App) error {
	if app.AppKey == "" || app.MasterSecret == "" {
		return errors.New("oppo emulator: app key and master secret are required")
	}
	if app.AppID == "" {
		app.AppID = strconv.Itoa(30000000 + mathrand.IntN(1000000))
	}
	app.Channels = append([]string(nil), app.Channels...)
	e.mu.Lock()
	defer e.mu.Unlock()
	e.apps[app.AppKey] = &app
	return nil
}

// CreateApp registers an app for packageName with fresh random
// credentials and returns it.
func (e *Emulator) CreateApp(packageName string, channels ...string) App {
	app := App{AppKey: randomHex(16), MasterSecret: randomHex(16), PackageName: packageName, Channels: channels}
	_ = e.AddApp(app)
	e.mu.Lock()
	defer e.mu.Unlock()
	return *e.apps[app.AppKey]
}

// RegisterDevice plays the OPPO push SDK's register() on a phone: it
// returns a new registration ID ("CN_" + 32 hex) for the app named by its
// app key or package name.
func (e *Emulator) RegisterDevice(app string) (string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	a := e.apps[app]
	if a == nil {
		for _, x := range e.apps {
			if x.PackageName != "" && x.PackageName == app {
				a = x
				break
			}
		}
	}
	if a == nil {
		return "", fmt.Errorf("oppo emulator: no app with key or package %q", app)
	}
	id := "CN_" + randomHex(16)
	e.devices[id] = &device{regID: id, appKey: a.AppKey}
	return id, nil
}

// Unregister plays the app's uninstall: unicasts to regID answer 10000
// from now on.
func (e *Emulator) Unregister(regID string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if d := e.devices[regID]; d != nil {
		d.unregistered = true
	}
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

// Fault is a failure to play on unicasts, for a registration ID or for
// all of them.
type Fault struct {
	// Code is the OPPO code answered: 10000 (invalid registration ID), 11
	// (invalid auth token), -1 (unavailable), -2 (flow control), 13 (call
	// limited), 33 (daily limit), 55 (frequency limit); 0 answers normally
	// after Delay.
	Code int
	// HTTPStatus, when 500 or 503, answers that HTTP status with an HTML
	// body instead of a code (a broken front end).
	HTTPStatus int
	// Delay holds the answer back this long (a slow OPPO).
	Delay time.Duration
	// Times is how many unicasts the fault applies to; 0: until cleared.
	Times int
}

// faultCodes are the codes SetFault plays.
var faultCodes = map[int]string{
	0:                  "",
	codeInvalidRegID:   "Invalid Registration_id",
	codeInvalidToken:   "Invalid AuthToken",
	codeUnavailable:    "Service Currently Unavailable",
	codeFlowControl:    "Service in Flow Control",
	codeCallLimited:    "App Call Limited",
	codeDailyLimit:     "Exceed Daily Message Limit",
	codeFrequencyLimit: "App Call Frequency Limited",
}

// SetFault plays f on unicasts to regID, or on every unicast when regID
// is "" (checked right after the auth token). It replaces regID's previous
// fault.
func (e *Emulator) SetFault(regID string, f Fault) error {
	if _, ok := faultCodes[f.Code]; !ok {
		return fmt.Errorf("oppo emulator: fault code %d: want 0, 10000, 11, -1, -2, 13, 33 or 55", f.Code)
	}
	switch f.HTTPStatus {
	case 0, http.StatusInternalServerError, http.StatusServiceUnavailable:
	default:
		return fmt.Errorf("oppo emulator: fault HTTP status %d: want 0, 500 or 503", f.HTTPStatus)
	}
	if f.Times < 0 || f.Delay < 0 {
		return errors.New("oppo emulator: negative fault parameter")
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

// playFault waits the fault's delay and answers its failure; false means
// carry on.
func (e *Emulator) playFault(w http.ResponseWriter, r *http.Request, f *Fault) bool {
	if f.Delay > 0 {
		t := time.NewTimer(f.Delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
		case <-e.life.Done():
		}
	}
	if f.HTTPStatus != 0 {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(f.HTTPStatus)
		_, _ = fmt.Fprintf(w, "<html><body><h1>%d %s</h1></body></html>", f.HTTPStatus, http.StatusText(f.HTTPStatus))
		return true
	}
	if f.Code != 0 {
		writeAnswer(w, f.Code, faultCodes[f.Code], nil)
		return true
	}
	return false
}
