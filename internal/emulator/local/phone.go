package local

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/heraldim/herald/internal/push"
)

// Event names a Device reports: the system showing a notification, and the
// push SDK's callbacks (the seed's ZPNsEventHandler).
const (
	EventNotificationDisplayed  = "notificationDisplayed"
	EventNotificationArrived    = "notificationArrived"
	EventThroughMessageReceived = "throughMessageReceived"
	// EventNotificationClicked is the user tapping a notification the
	// system showed (the phones API's click; herald device never taps).
	EventNotificationClicked = "notificationClicked"
	// EventVoIPPushReceived is PushKit handing the app a VoIP push (iOS's
	// didReceiveIncomingPush, which must report the call to CallKit), in
	// every app state: outside the push SDK's callbacks.
	EventVoIPPushReceived = "voipPushReceived"
)

// Event is one thing a simulated device did with a push.
type Event struct {
	Event   string `json:"event"`
	Vendor  string `json:"vendor"`
	Title   string `json:"title,omitempty"`
	Content string `json:"content,omitempty"`
	Payload string `json:"payload,omitempty"`
	// Kind is APNs' push type (alert, background, voip); for FCM and
	// Huawei "notification" or "data"; for Xiaomi "notification" or
	// "passThrough"; OPPO and vivo send only "notification".
	Kind string `json:"kind"`
	// Seq is the delivery's number at the emulator, per token.
	Seq int `json:"seq"`
	// CallID is the call ID of a call push's custom data
	// (push.CallExtraKey), when it has one.
	CallID string `json:"callID,omitempty"`
	// HeraldTruncated is what the server cut to fit the vendor's limits
	// (push.TruncatedKey: "title", "content", "payload", comma-separated),
	// when it cut something.
	HeraldTruncated string `json:"heraldTruncated,omitempty"`
	// MessageID is the vendor's ID of the message as the emulator has it
	// (APNs apns-id, FCM message name, Huawei requestId, Xiaomi msgID, OPPO
	// messageId, vivo taskId).
	MessageID string `json:"messageID,omitempty"`
	// Extras is every custom-data key/value the push handed the app, as
	// the vendor's SDK does (APNs: the payload's top-level keys but aps;
	// FCM, Huawei: the data object; Xiaomi: extra.* but channel_id; OPPO:
	// action_parameters; vivo: clientCustomMap; HarmonyOS: clickAction.data
	// or extraData; Honor: data; Web Push: the message's extras), payload, callID and
	// heraldTruncated included, and push_id (the push job's ID, which receipts name).
	// A value that is not a JSON string is given as its JSON text.
	Extras map[string]string `json:"extras,omitempty"`
}

// event is what a device does with r: name.
func (r Received) event(name string, v push.Vendor) Event {
	return Event{Event: name, Vendor: string(v), Title: r.Title, Content: r.Content, Payload: r.Payload,
		Kind: r.Kind, Seq: r.Seq, MessageID: r.MessageID, CallID: r.Extras[push.CallExtraKey], HeraldTruncated: r.Extras[push.TruncatedKey],
		Extras: r.Extras}
}

// Received is a push as the device got it, vendor-neutral.
type Received struct {
	// Alert is set when the push asks the system to show something (APNs
	// alert push with an alert; FCM and Huawei message with a notification
	// block; Xiaomi notification message; every OPPO and vivo push).
	Alert   bool
	Kind    string
	Title   string
	Content string
	Payload string
	Seq     int
	// MessageID is the vendor's ID of the message (Event.MessageID).
	MessageID string
	// Extras is the push's custom data (Event.Extras); nil when it has
	// none.
	Extras map[string]string
}

// Reactions returns what a device of vendor v in an app with capability c
// does with r, in order: the system shows it (when it is an alert and the
// vendor shows alerts in that state), notificationArrived (for an alert,
// where the vendor raises it), throughMessageReceived (where the vendor
// raises it: FCM hands every message to the app's onMessageReceived, the
// other vendors only pass-through messages, and Huawei only with its
// permission, which granted lists). VoIP pushes reach the app through
// PushKit, outside these callbacks, whatever the app state: they yield
// voipPushReceived only.
func Reactions(v push.Vendor, c push.Capability, r Received, granted map[string]bool) []string {
	if v == push.VendorAPNs && r.Kind == "voip" {
		return []string{EventVoIPPushReceived}
	}
	var out []string
	if r.Alert && c.Displayed {
		out = append(out, EventNotificationDisplayed)
	}
	if r.Alert && c.NotificationArrived {
		out = append(out, EventNotificationArrived)
	}
	if c.ThroughMessageReceived && (v == push.VendorFCM || !r.Alert) &&
		(c.ThroughMessageNeedsPermission == "" || granted[c.ThroughMessageNeedsPermission]) {
		out = append(out, EventThroughMessageReceived)
	}
	return out
}

// Device is an app on a simulated phone, registered with an emulator's
// control API.
type Device struct {
	Vendor      push.Vendor
	Environment push.Environment
	BundleID    string
	Token       string
	// VoIPToken is the PushKit token (APNs with VoIP only).
	VoIPToken string
	// Permissions are the vendor permissions the app was granted.
	Permissions map[string]bool

	control string
	client  *http.Client
	browser *Browser // webpush: the simulated browser
}

// RegisterDevice registers an app with the emulator of vendor in m, as the
// phone's push SDK does at registerPush: debug selects the development
// environment (APNs sandbox; for the other vendors only the PushID's
// environment), voip also registers a PushKit token (APNs only). client
// nil: http.DefaultClient.
func RegisterDevice(ctx context.Context, m Manifest, vendor push.Vendor, debug, voip bool, client *http.Client) (*Device, error) {
	if client == nil {
		client = http.DefaultClient
	}
	env := push.Production
	if debug {
		env = push.Development
	}
	if voip && vendor != push.VendorAPNs {
		return nil, errors.New("local: VoIP pushes are APNs only")
	}
	d := &Device{Vendor: vendor, Environment: env, client: client}
	var body map[string]any
	switch vendor {
	case push.VendorAPNs:
		d.control, d.BundleID = m.APNs.ControlURL, m.APNs.BundleID
		body = map[string]any{"bundleID": d.BundleID, "environment": env}
	case push.VendorFCM:
		d.control, d.BundleID = m.FCM.ControlURL, m.FCM.PackageName
		body = map[string]any{"projectID": m.FCM.ProjectID, "packageName": d.BundleID}
	case push.VendorHuawei:
		d.control, d.BundleID = m.Huawei.ControlURL, m.Huawei.PackageName
		body = map[string]any{"appID": m.Huawei.AppID}
	case push.VendorXiaomi:
		d.control, d.BundleID = m.Xiaomi.ControlURL, m.Xiaomi.PackageName
		body = map[string]any{"packageName": d.BundleID}
	case push.VendorOPPO:
		d.control, d.BundleID = m.OPPO.ControlURL, m.OPPO.PackageName
		body = map[string]any{"app": m.OPPO.AppKey}
	case push.VendorVivo:
		d.control, d.BundleID = m.Vivo.ControlURL, m.Vivo.PackageName
		body = map[string]any{"appId": m.Vivo.AppID}
	case push.VendorHarmony:
		d.control, d.BundleID = m.Harmony.ControlURL, m.Harmony.PackageName
		body = map[string]any{"projectID": m.Harmony.ProjectID}
	case push.VendorHonor:
		d.control, d.BundleID, body = honorDevice(m)
	case push.VendorWebPush:
		d.control, d.BundleID = m.WebPush.ControlURL, m.APNs.BundleID // the app's ID; a page would give its origin
		if err := d.registerBrowser(ctx, m); err != nil {
			return nil, err
		}
		return d, nil
	default:
		return nil, fmt.Errorf("local: no emulator for vendor %q (apns, fcm, huawei, xiaomi, oppo, vivo, harmony, honor or webpush)", vendor)
	}
	if d.control == "" {
		return nil, fmt.Errorf("local: the manifest has no control URL for %s", vendor)
	}
	var err error
	if d.Token, err = d.register(ctx, body); err != nil {
		return nil, err
	}
	if voip {
		if d.VoIPToken, err = d.register(ctx, map[string]any{"bundleID": d.BundleID, "environment": env, "voip": true}); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// register registers a token; the control APIs name it token (APNs, FCM,
// Huawei, OPPO), regid (Xiaomi) or regId (vivo).
func (d *Device) register(ctx context.Context, body map[string]any) (string, error) {
	b, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.control+"/devices", bytes.NewReader(b))
	if err != nil {
		return "", fmt.Errorf("local: register: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	var out map[string]string
	if err := d.do(req, http.StatusCreated, &out); err != nil {
		return "", fmt.Errorf("local: register with the %s emulator: %w", d.Vendor, err)
	}
	for _, k := range []string{"token", "regid", "regId"} {
		if out[k] != "" {
			return out[k], nil
		}
	}
	return "", fmt.Errorf("local: the %s emulator registered no token", d.Vendor)
}

func (d *Device) do(req *http.Request, want int, out any) error {
	resp, err := d.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != want {
		return &controlError{status: resp.StatusCode, body: string(bytes.TrimSpace(raw))}
	}
	return json.Unmarshal(raw, out)
}

type controlError struct {
	status int
	body   string
}

func (e *controlError) Error() string {
	return fmt.Sprintf("control API answered %d %s", e.status, e.body)
}

// pollWait is how long one deliveries long-poll waits.
const pollWait = 25 * time.Second

// Watch long-polls the emulator for pushes delivered to the device's tokens
// since the device registered and calls emit with what the device does with
// each, per push's capability table, until ctx ends (then it returns nil).
// state is asked for the app state at each push the device receives, so a
// caller that changes what it returns changes the reactions to the pushes
// received from then on; a state unknown to the capability table ends
// Watch with an error. emit is called from one goroutine per token. A
// control API that is gone for good (the device unknown) is an error; a
// passing network failure is retried.
func (d *Device) Watch(ctx context.Context, state func() push.AppState, emit func(Event)) error {
	if _, err := push.CapabilityOf(d.Vendor, state()); err != nil {
		return err
	}
	react := func(r Received) error {
		c, err := push.CapabilityOf(d.Vendor, state())
		if err != nil {
			return err
		}
		for _, ev := range Reactions(d.Vendor, c, r, d.Permissions) {
			emit(r.event(ev, d.Vendor))
		}
		return nil
	}
	if d.browser != nil {
		return d.watchBrowser(ctx, react)
	}
	tokens := []string{d.Token}
	if d.VoIPToken != "" {
		tokens = append(tokens, d.VoIPToken)
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(tokens))
	for _, tok := range tokens {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- d.watch(ctx, tok, react)
		}()
	}
	wg.Wait()
	close(errs)
	return errors.Join(collect(errs)...)
}

func collect(errs chan error) []error {
	var out []error
	for err := range errs {
		if err != nil {
			out = append(out, err)
		}
	}
	return out
}

func (d *Device) watch(ctx context.Context, token string, got func(Received) error) error {
	after := 0
	for ctx.Err() == nil {
		u := fmt.Sprintf("%s/devices/%s/deliveries?after=%d&wait=%s", d.control, url.PathEscape(token), after, pollWait)
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return err
		}
		var page struct {
			Deliveries []json.RawMessage `json:"deliveries"`
			Next       int               `json:"next"`
		}
		if err := d.do(req, http.StatusOK, &page); err != nil {
			var ce *controlError
			if errors.As(err, &ce) && ce.status == http.StatusNotFound {
				return fmt.Errorf("local: the %s emulator no longer knows this device (restarted?)", d.Vendor)
			}
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
			continue
		}
		for _, raw := range page.Deliveries {
			r, ok, err := decode(d.Vendor, raw)
			if err != nil {
				return err
			}
			if ok {
				if err := got(r); err != nil {
					return err
				}
			}
		}
		after = page.Next
	}
	return nil
}

// decode reads one control API delivery; ok is false for a record the
// device never got (FCM: dropped).
func decode(v push.Vendor, raw json.RawMessage) (Received, bool, error) {
	switch v {
	case push.VendorAPNs:
		// The payload's top-level keys but aps are the app's custom data
		// (userInfo).
		var d struct {
			Seq      int                        `json:"seq"`
			APNSID   string                     `json:"apnsID"`
			PushType string                     `json:"pushType"`
			Payload  map[string]json.RawMessage `json:"payload"`
		}
		if err := json.Unmarshal(raw, &d); err != nil {
			return Received{}, false, fmt.Errorf("local: apns delivery: %w", err)
		}
		var aps struct {
			Alert json.RawMessage `json:"alert"`
		}
		if a, ok := d.Payload["aps"]; ok {
			if err := json.Unmarshal(a, &aps); err != nil {
				return Received{}, false, fmt.Errorf("local: apns delivery: aps: %w", err)
			}
		}
		r := Received{Kind: d.PushType, Seq: d.Seq, MessageID: d.APNSID}
		for k, v := range d.Payload {
			if k == "aps" {
				continue
			}
			if r.Extras == nil {
				r.Extras = make(map[string]string, len(d.Payload))
			}
			var str string
			if json.Unmarshal(v, &str) == nil {
				r.Extras[k] = str
			} else {
				r.Extras[k] = string(v)
			}
		}
		r.Payload = r.Extras["payload"]
		var alert struct{ Title, Body string }
		var body string
		switch {
		case len(aps.Alert) == 0 || string(aps.Alert) == "null":
		case json.Unmarshal(aps.Alert, &body) == nil:
			r.Content, r.Alert = body, true
		case json.Unmarshal(aps.Alert, &alert) == nil:
			r.Title, r.Content, r.Alert = alert.Title, alert.Body, true
		}
		r.Alert = r.Alert && d.PushType == "alert"
		return r, true, nil
	case push.VendorFCM:
		type note struct {
			Title string `json:"title"`
			Body  string `json:"body"`
		}
		var d struct {
			Seq     int    `json:"seq"`
			Name    string `json:"name"`
			Dropped bool   `json:"dropped"`
			Message struct {
				Notification *note             `json:"notification"`
				Data         map[string]string `json:"data"`
				Android      *struct {
					Notification *note `json:"notification"`
				} `json:"android"`
			} `json:"message"`
		}
		if err := json.Unmarshal(raw, &d); err != nil {
			return Received{}, false, fmt.Errorf("local: fcm delivery: %w", err)
		}
		if d.Dropped {
			return Received{}, false, nil
		}
		// A data message carries title and content in data (as Huawei's
		// does); a notification block's replace them.
		r := Received{Kind: "data", Title: d.Message.Data["title"], Content: d.Message.Data["content"],
			Payload: d.Message.Data["payload"], Seq: d.Seq, MessageID: d.Name, Extras: extras(d.Message.Data)}
		// android.notification's fields override notification's on Android.
		notes := []*note{d.Message.Notification}
		if d.Message.Android != nil {
			notes = append(notes, d.Message.Android.Notification)
		}
		for _, n := range notes {
			if n == nil {
				continue
			}
			r.Alert, r.Kind = true, "notification"
			if n.Title != "" {
				r.Title = n.Title
			}
			if n.Body != "" {
				r.Content = n.Body
			}
		}
		return r, true, nil
	case push.VendorHuawei, push.VendorXiaomi, push.VendorOPPO, push.VendorVivo, push.VendorHonor:
		return decodeAndroid(v, raw)
	case push.VendorHarmony:
		return decodeHarmony(raw)
	}
	return Received{}, false, fmt.Errorf("local: no decoder for %s", v)
}

// decodeAndroid reads a delivery of the Huawei, Xiaomi, OPPO, vivo or
// Honor control API.
func decodeAndroid(v push.Vendor, raw json.RawMessage) (Received, bool, error) {
	switch v {
	case push.VendorHuawei, push.VendorHonor:
		// message.data is a string holding a JSON object: payload, and
		// title and content for a data message. Honor's control API
		// reports its body (data, notification, android.notification: the
		// fields of Push Kit's message Honor's API kept) in the same shape.
		type note struct {
			Title string `json:"title"`
			Body  string `json:"body"`
		}
		var d struct {
			Seq         int    `json:"seq"`
			RequestID   string `json:"requestId"`
			PassThrough bool   `json:"passThrough"`
			Message     struct {
				Data         string `json:"data"`
				Notification *note  `json:"notification"`
				Android      *struct {
					Notification *note `json:"notification"`
				} `json:"android"`
			} `json:"message"`
		}
		if err := json.Unmarshal(raw, &d); err != nil {
			return Received{}, false, fmt.Errorf("local: %s delivery: %w", v, err)
		}
		var data map[string]string
		if d.Message.Data != "" {
			_ = json.Unmarshal([]byte(d.Message.Data), &data) // data need not be JSON
		}
		r := Received{Kind: "data", Title: data["title"], Content: data["content"], Payload: data["payload"], Seq: d.Seq,
			MessageID: d.RequestID, Extras: extras(data)}
		if !d.PassThrough {
			r.Alert, r.Kind, r.Title, r.Content = true, "notification", "", ""
			notes := []*note{d.Message.Notification}
			if d.Message.Android != nil {
				notes = append(notes, d.Message.Android.Notification)
			}
			for _, n := range notes {
				if n == nil {
					continue
				}
				if n.Title != "" {
					r.Title = n.Title
				}
				if n.Body != "" {
					r.Content = n.Body
				}
			}
		}
		return r, true, nil
	case push.VendorXiaomi:
		var d struct {
			Seq         int               `json:"seq"`
			MsgID       string            `json:"msgID"`
			PassThrough bool              `json:"passThrough"`
			Title       string            `json:"title"`
			Description string            `json:"description"`
			Payload     string            `json:"payload"`
			Extra       map[string]string `json:"extra"`
		}
		if err := json.Unmarshal(raw, &d); err != nil {
			return Received{}, false, fmt.Errorf("local: xiaomi delivery: %w", err)
		}
		// The SDK hands payload and the extra.* fields but the channel's.
		custom := make(map[string]string, len(d.Extra)+1)
		for k, v := range d.Extra {
			if k != "channel_id" {
				custom[k] = v
			}
		}
		if d.Payload != "" {
			custom["payload"] = d.Payload
		}
		r := Received{Alert: !d.PassThrough, Kind: "notification", Title: d.Title, Content: d.Description,
			Payload: d.Payload, Seq: d.Seq, MessageID: d.MsgID, Extras: extras(custom)}
		if d.PassThrough {
			r.Kind = "passThrough"
		}
		return r, true, nil
	case push.VendorOPPO:
		// action_parameters is a string holding a JSON object with payload.
		var d struct {
			Seq          int    `json:"seq"`
			MessageID    string `json:"messageId"`
			Notification struct {
				Title            string `json:"title"`
				Content          string `json:"content"`
				ActionParameters string `json:"action_parameters"`
			} `json:"notification"`
		}
		if err := json.Unmarshal(raw, &d); err != nil {
			return Received{}, false, fmt.Errorf("local: oppo delivery: %w", err)
		}
		var params map[string]string
		if d.Notification.ActionParameters != "" {
			_ = json.Unmarshal([]byte(d.Notification.ActionParameters), &params)
		}
		return Received{Alert: true, Kind: "notification", Title: d.Notification.Title,
			Content: d.Notification.Content, Payload: params["payload"], Seq: d.Seq, MessageID: d.MessageID,
			Extras: extras(params)}, true, nil
	default: // vivo
		var d struct {
			Seq     int    `json:"seq"`
			TaskID  string `json:"taskId"`
			Message struct {
				Title           string            `json:"title"`
				Content         string            `json:"content"`
				ClientCustomMap map[string]string `json:"clientCustomMap"`
			} `json:"message"`
		}
		if err := json.Unmarshal(raw, &d); err != nil {
			return Received{}, false, fmt.Errorf("local: vivo delivery: %w", err)
		}
		return Received{Alert: true, Kind: "notification", Title: d.Message.Title, Content: d.Message.Content,
			Payload: d.Message.ClientCustomMap["payload"], Seq: d.Seq, MessageID: d.TaskID, Extras: extras(d.Message.ClientCustomMap)}, true, nil
	}
}

// extras is m as Received.Extras: nil when empty.
func extras(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return m
}
