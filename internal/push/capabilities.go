package push

import "fmt"

// AppState is the state of the receiving app on the device when a push
// arrives.
type AppState string

// The app states of the seed's callback table.
const (
	// StateForeground: the app is on screen.
	StateForeground AppState = "foreground"
	// StateBackground: the app runs (or is frozen) in the background.
	StateBackground AppState = "background"
	// StateKilled: the app was killed by the system or the user.
	StateKilled AppState = "killed"
)

// AppStates lists the states in a stable order.
var AppStates = []AppState{StateForeground, StateBackground, StateKilled}

// Vendors lists the vendors in a stable order.
var Vendors = []Vendor{VendorAPNs, VendorFCM, VendorHuawei, VendorXiaomi, VendorOPPO, VendorVivo,
	VendorHarmony, VendorHonor, VendorWebPush}

// Capability says what a device of one vendor does with a notification
// push (one with a title and content) in one app state: whether the system
// shows it and which of the push SDK's callbacks fire. registered is not in
// it: every vendor supports it.
type Capability struct {
	// Displayed: the phone's system shows the notification. Not in the
	// seed's table; from the vendors' behaviour: iOS shows an alert in the
	// foreground only when the app asks for it (iOSNotificationArrivedConfig),
	// and FCM hands a notification message to the app instead of showing it
	// while the app is in the foreground.
	Displayed bool
	// NotificationArrived: the SDK raises notificationArrived (the vendor's
	// "notification shown" callback).
	NotificationArrived bool
	// ThroughMessageReceived: the SDK raises throughMessageReceived (the
	// vendor's pass-through message callback).
	ThroughMessageReceived bool
	// ThroughMessageNeedsPermission, when not empty, is a vendor permission
	// the app must have been granted for ThroughMessageReceived to hold
	// (Huawei's high-priority pass-through messages).
	ThroughMessageNeedsPermission string
}

// PermissionHuaweiHighPriorityPassThrough is Huawei's special permission
// for high-priority pass-through ("data") messages, applied for in
// AppGallery Connect.
const PermissionHuaweiHighPriorityPassThrough = "huawei-high-priority-pass-through"

// capabilities is the seed's callback table ("各移动设备厂商对
// ZPNsEventHandler 类的回调支持情况"), with the system display added:
//
//	notificationArrived:    Apple yes; Xiaomi only in foreground or
//	                        background; Huawei, OPPO, vivo, Google no.
//	throughMessageReceived: Huawei yes, with the high-priority pass-through
//	                        permission; Google only in foreground or
//	                        background; Apple, Xiaomi, OPPO, vivo no.
var capabilities = map[Vendor]map[AppState]Capability{
	VendorAPNs: {
		StateForeground: {Displayed: false, NotificationArrived: true},
		StateBackground: {Displayed: true, NotificationArrived: true},
		StateKilled:     {Displayed: true, NotificationArrived: true},
	},
	VendorFCM: {
		StateForeground: {Displayed: false, ThroughMessageReceived: true},
		StateBackground: {Displayed: true, ThroughMessageReceived: true},
		StateKilled:     {Displayed: true},
	},
	VendorHuawei: {
		StateForeground: {Displayed: true, ThroughMessageReceived: true, ThroughMessageNeedsPermission: PermissionHuaweiHighPriorityPassThrough},
		StateBackground: {Displayed: true, ThroughMessageReceived: true, ThroughMessageNeedsPermission: PermissionHuaweiHighPriorityPassThrough},
		StateKilled:     {Displayed: true, ThroughMessageReceived: true, ThroughMessageNeedsPermission: PermissionHuaweiHighPriorityPassThrough},
	},
	VendorXiaomi: {
		StateForeground: {Displayed: true, NotificationArrived: true},
		StateBackground: {Displayed: true, NotificationArrived: true},
		StateKilled:     {Displayed: true},
	},
	VendorOPPO: {
		StateForeground: {Displayed: true},
		StateBackground: {Displayed: true},
		StateKilled:     {Displayed: true},
	},
	VendorVivo: {
		StateForeground: {Displayed: true},
		StateBackground: {Displayed: true},
		StateKilled:     {Displayed: true},
	},
	VendorHarmony: harmonyCapabilities,
	// Honor is not in the seed's table. From Honor's push SDK: the system
	// shows notification messages in every state and tells the app
	// nothing of their arrival; pass-through (透传) messages reach
	// HonorMessageService.onMessageReceived while the app's process runs,
	// not once it was killed (docs/vendors-honor.md).
	VendorHonor: {
		StateForeground: {Displayed: true, ThroughMessageReceived: true},
		StateBackground: {Displayed: true, ThroughMessageReceived: true},
		StateKilled:     {Displayed: true},
	},
	// Web Push (not in the seed's table): the service worker must show
	// every push (pushManager.subscribe's userVisibleOnly: true) and
	// raises notificationArrived to the pages of the site that are open;
	// "killed" is no page open, where only the service worker runs.
	VendorWebPush: {
		StateForeground: {Displayed: true, NotificationArrived: true},
		StateBackground: {Displayed: true, NotificationArrived: true},
		StateKilled:     {Displayed: true},
	},
}

// CapabilityOf returns what a device of vendor v does in app state s. It
// fails for an unknown vendor or state.
func CapabilityOf(v Vendor, s AppState) (Capability, error) {
	byState, ok := capabilities[v]
	if !ok {
		return Capability{}, fmt.Errorf("push: unknown vendor %q", v)
	}
	c, ok := byState[s]
	if !ok {
		return Capability{}, fmt.Errorf("push: unknown app state %q (want foreground, background or killed)", s)
	}
	return c, nil
}

// PassThrough reports whether a vendor can hand a data (pass-through)
// push to the app: the vendors whose SDK raises throughMessageReceived in
// some app state (Google, Huawei), and Apple, whose background pushes wake
// the app. Xiaomi's API accepts pass-through messages but the push SDK
// raises no callback for them (the seed's table), so they reach nothing.
func PassThrough(v Vendor) bool {
	if v == VendorAPNs {
		return true
	}
	for _, c := range capabilities[v] {
		if c.ThroughMessageReceived {
			return true
		}
	}
	return false
}

// ParseAppState checks an app state's name.
func ParseAppState(s string) (AppState, error) {
	for _, st := range AppStates {
		if string(st) == s {
			return st, nil
		}
	}
	return "", fmt.Errorf("push: unknown app state %q (want foreground, background or killed)", s)
}
