package push

import (
	"context"
	"time"
)

// DeviceEventKind says how a device's binding changed.
type DeviceEventKind string

// The device event kinds.
const (
	// DeviceBound: the device was bound to ToUser while bound to nobody.
	DeviceBound DeviceEventKind = "bound"
	// DeviceRebound: the device moved from FromUser to ToUser (a login
	// with its vendor token, or the admin API's bind).
	DeviceRebound DeviceEventKind = "rebound"
	// DeviceUnbound: FromUser's binding was removed (logout, admin unbind).
	DeviceUnbound DeviceEventKind = "unbound"
	// DeviceRemoved: the device was deleted while bound to FromUser (or to
	// nobody); Reason says why.
	DeviceRemoved DeviceEventKind = "removed"
)

// DeviceEvent is one change of a device's binding, recorded by the store
// in the change's transaction for the delivery trace.
type DeviceEvent struct {
	AppID    string
	PushID   string
	At       time.Time
	Kind     DeviceEventKind
	FromUser string // "" when the device was bound to nobody
	ToUser   string // "" when it is bound to nobody after
	Reason   string
}

// DeviceEventLog is the optional store capability that reads a device's
// binding history, newest first, at most limit events. Without it the
// trace shows no binding changes.
type DeviceEventLog interface {
	DeviceEvents(ctx context.Context, appID, pushID string, limit int) ([]DeviceEvent, error)
}
